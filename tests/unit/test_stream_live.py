"""The live figures of a running call (netcheck.probes._stream_live) on hand-made session
records whose right answer is known: counts, the grace before a packet counts as lost, the
STAMP reflector's own time taken out of the round trip (RFC 8762), and the RFC 3550
jitter estimator (section 6.4.1: J += (|D| - J) / 16, from J = 0)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from netcheck.probes._stream_live import LiveCounter

MS = 1_000_000
T0 = 10_000 * MS


@dataclass
class Echoes:
    """What IcmpCall / StunCall record: send stamps and the arrivals per packet."""

    count: int
    t1_mono_ns: list[int | None] = field(init=False)
    t4_mono_ns: list[list[int]] = field(init=False)

    def __post_init__(self) -> None:
        self.t1_mono_ns = [None] * self.count
        self.t4_mono_ns = [[] for _ in range(self.count)]


@dataclass
class Reply:
    sender_seq: int
    t2_ns: int
    t3_ns: int
    t4_mono_ns: int


@dataclass
class Stamp:
    count: int
    t1_mono_ns: list[int | None] = field(init=False)
    replies: list[Reply] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.t1_mono_ns = [None] * self.count


def _send(s: Echoes, upto: int, rtt_ms: float = 0.3, every_lost: int = 10) -> None:
    for i in range(upto):
        if s.t1_mono_ns[i] is None:
            s.t1_mono_ns[i] = T0 + i * 20 * MS
            if i % every_lost:
                s.t4_mono_ns[i].append(T0 + i * 20 * MS + int(rtt_ms * MS))


def test_counts_loss_only_after_the_grace_and_never_go_down() -> None:
    s = Echoes(200)
    live = LiveCounter(s, 4.0, grace_s=1.0)
    _send(s, 100)  # 2 s of a call; packet 99 left at T0 + 1980 ms
    first = live.snapshot(T0 + 1990 * MS)
    # packets 0..49 are older than 1 s: 5 of them unanswered (0, 10, ..., 40) are lost;
    # 50 is unanswered but only 990 ms old: still awaited, and so is everything after it
    assert (first.sent, first.received, first.lost) == (100, 45, 5)
    _send(s, 200)
    last = live.snapshot(T0 + 5000 * MS)
    assert (last.sent, last.received, last.lost) == (200, 180, 20) and last.loss_pct == pytest.approx(10.0)
    assert last.rtt_ms == pytest.approx(0.3) and last.jitter_ms == 0.0


def test_stamp_round_trip_leaves_out_the_reflector_time() -> None:
    s = Stamp(3)
    live = LiveCounter(s, 1.0)
    for i in range(3):
        s.t1_mono_ns[i] = T0 + i * 20 * MS
        # 0.5 ms on the clock of the sender, of which 0.1 ms inside the reflector (T3 - T2)
        s.replies.append(Reply(i, t2_ns=7 * MS, t3_ns=7 * MS + MS // 10, t4_mono_ns=T0 + i * 20 * MS + MS // 2))
    snap = live.snapshot(T0 + 100 * MS)
    assert (snap.received, snap.lost) == (3, 0) and snap.rtt_ms == pytest.approx(0.4)


def test_jitter_is_the_rfc3550_estimator_over_consecutive_round_trips() -> None:
    s = Echoes(40)
    live = LiveCounter(s, 1.0)
    for i in range(40):  # round trips alternate 1 ms and 3 ms: |D| = 2 ms every time
        s.t1_mono_ns[i] = T0 + i * 20 * MS
        s.t4_mono_ns[i].append(T0 + i * 20 * MS + (1 if i % 2 == 0 else 3) * MS)
    snap = live.snapshot(T0 + 2000 * MS)
    expected = 0.0
    for _ in range(39):
        expected += (2.0 - expected) / 16.0
    assert snap.jitter_ms == pytest.approx(expected) and 1.8 < expected < 2.0
