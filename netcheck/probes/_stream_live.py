"""Live figures of a running call for the technician's screen (issue 18, item 8).

Why here and not in the scheduler: the 50 pps sender thread (:mod:`._stream_engine`) must
never wait for a screen. Nothing is added to its loop: :class:`LiveCounter` runs on the
asyncio loop (the probe's :func:`sample` task, once a second) and only *reads* what the
engine's sessions already record — the send stamp of every packet (``t1_mono_ns``) and the
arrival of every answer (``replies`` / ``t4_mono_ns``). Those are lists the sender thread
only appends to or fills in; reading an element or a length is atomic under the GIL, and
each read covers only the packets since the last one (a cursor), so a snapshot costs
microseconds and no system call.

The figures are provisional and labelled so: the round trip of the last second's answers
(median), the RFC 3550 interarrival-jitter estimator (section 6.4.1, J += (|D| - J) / 16)
run over consecutive round trips, and the packets without an answer ``grace_s`` after they
were sent. The result document's figures come from the full analysis after the call
(:mod:`._stream_analysis`), never from these.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from netcheck import platform as plat

#: An answer later than this is counted lost on screen (the engine itself waits as long
#: after the last packet: ``Schedule.drain_ns``).
GRACE_S = 1.0
#: Seconds between two snapshots: the screen is updated at most once a second.
EVERY_S = 1.0


@dataclass(frozen=True)
class LiveCall:
    """A running call so far: packets sent, answered and given up on (no answer within
    ``GRACE_S``), the median round trip of the last second's answers and the running
    RFC 3550 jitter, both in ms (None before the first answer)."""

    elapsed_s: float
    duration_s: float
    sent: int
    received: int
    lost: int
    rtt_ms: float | None
    jitter_ms: float | None

    @property
    def loss_pct(self) -> float:
        """Lost among the packets whose answer is no longer awaited."""
        judged = self.received + self.lost
        return 100.0 * self.lost / judged if judged else 0.0


class LiveCounter:
    """Reads one session's own records; call :meth:`snapshot` from the loop, not the sender."""

    def __init__(self, session: Any, duration_s: float, grace_s: float = GRACE_S) -> None:
        self.session = session
        self.duration_s = duration_s
        self.grace_ns = int(grace_s * 1e9)
        self.started_ns = plat.mono_ns()
        self._sent = 0  # packets whose send stamp has been seen (sent in order)
        self._next = 0  # first packet neither answered nor given up yet
        self._replies = 0  # STAMP: replies read so far
        self._stamp_rtt: dict[int, float] = {}  # STAMP: seq -> round trip, until scanned
        self.received = self.lost = 0
        self._jitter: float | None = None
        self._last_rtt: float | None = None

    def snapshot(self, now_ns: int | None = None) -> LiveCall:
        now = plat.mono_ns() if now_ns is None else now_ns
        t1: list[int | None] = self.session.t1_mono_ns
        while self._sent < len(t1) and t1[self._sent] is not None:
            self._sent += 1
        self._read_stamp_replies(t1)
        fresh: list[float] = []
        while self._next < self._sent:
            rtt = self._rtt(self._next, t1)
            sent_at = t1[self._next]
            if rtt is None and sent_at is not None and now - sent_at < self.grace_ns:
                break  # still awaited: so is every later packet
            if rtt is None:
                self.lost += 1
            else:
                self.received += 1
                fresh.append(rtt)
                self._jitter_step(rtt)
            self._next += 1
        return LiveCall(elapsed_s=(now - self.started_ns) / 1e9, duration_s=self.duration_s, sent=self._sent,
                        received=self.received, lost=self.lost,
                        rtt_ms=statistics.median(fresh) if fresh else self._last_rtt, jitter_ms=self._jitter)

    def _read_stamp_replies(self, t1: list[int | None]) -> None:
        """STAMP answers are a list of replies (RFC 8762): round trip = (T4 - T1) - (T3 - T2),
        the reflector's own time taken out."""
        replies = getattr(self.session, "replies", None)
        if replies is None:
            return
        end = len(replies)
        for r in replies[self._replies:end]:
            sent_at = t1[r.sender_seq] if r.sender_seq < len(t1) else None
            if sent_at is not None and r.sender_seq >= self._next and r.sender_seq not in self._stamp_rtt:
                self._stamp_rtt[r.sender_seq] = ((r.t4_mono_ns - sent_at) - (r.t3_ns - r.t2_ns)) / 1e6
        self._replies = end

    def _rtt(self, index: int, t1: list[int | None]) -> float | None:
        if hasattr(self.session, "replies"):
            return self._stamp_rtt.pop(index, None)
        arrivals: list[int] = self.session.t4_mono_ns[index]
        sent_at = t1[index]
        return (arrivals[0] - sent_at) / 1e6 if arrivals and sent_at is not None else None

    def _jitter_step(self, rtt: float) -> None:
        """RFC 3550 section 6.4.1 estimator over consecutive round trips."""
        if self._last_rtt is not None:
            j = self._jitter or 0.0  # J starts at 0 (RFC 3550 A.8)
            self._jitter = j + (abs(rtt - self._last_rtt) - j) / 16.0
        self._last_rtt = rtt


async def sample(counter: LiveCounter, report: Callable[[LiveCall], None], every_s: float = EVERY_S) -> None:
    """Hand a snapshot to ``report`` every ``every_s`` until cancelled (on the loop)."""
    while True:
        await asyncio.sleep(every_s)
        report(counter.snapshot())
