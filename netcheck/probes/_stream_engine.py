"""Timing core of the stream probe: a monotonic-deadline packet scheduler in its own thread.

Why a thread of its own (ARCHITECTURE.md, "Timing-critical streams"): a 50 pps call sends a
packet every 20 ms and a jitter figure of 0.05 ms is only believable if each packet leaves
within a fraction of a millisecond of its slot. An asyncio loop shared with DNS, TCP scans
or SNMP walks cannot promise that, so the probe's ``run()`` hands this loop to a worker
thread (the stream probe's calls share one: :mod:`netcheck.probes._stream_mux`) and the
runner lets only other calls, listeners and paced probes run beside it (:mod:`netcheck.schedule`).

How the schedule is held: every packet has a deadline on CLOCK_MONOTONIC; the loop sleeps in
``select``/``epoll`` (draining replies meanwhile) until ``spin_ns`` before the deadline, then
busy-waits the last microseconds. The difference between the deadline and the moment the
send timestamp is taken is the *send-time error*, recorded per packet and reported, so a
late sender is visible instead of being mistaken for network jitter. Many calls can share
one loop (``run`` takes several sessions; their slots are staggered over one interval),
which is what the capacity benchmark measures.

Clocks: send times are ``plat.mono_ns()``. Receive times are kernel timestamps
(``SO_TIMESTAMPNS``, taken when the packet reached the socket; Linux only) where the OS
offers them, else ``plat.mono_ns()`` right after ``recvmsg`` returns. Kernel
timestamps are CLOCK_REALTIME; :class:`ClockMap` converts them with an offset
``realtime - monotonic`` sampled at the start and re-sampled every second (so an NTP slew
during a run moves the mapping by at most the slew of one second, microseconds). The same
offset turns monotonic send times into the wall-clock timestamps STAMP puts on the wire.
"""

from __future__ import annotations

import selectors
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from netcheck import platform as plat
from netcheck.platform import enable_rx_timestamps

__all__ = ["ClockMap", "Engine", "EngineReport", "Schedule", "Session"]

_RESAMPLE_NS: Final = 1_000_000_000
_POLL_EVERY_NS: Final = 1_000_000
_RX_BUF: Final = 2048

CLOCK_KERNEL: Final = "kernel SO_TIMESTAMPNS (CLOCK_REALTIME, mapped to CLOCK_MONOTONIC)"
CLOCK_MONOTONIC: Final = "user-space plat.mono_ns() after recvmsg"


class ClockMap:
    """Offset between CLOCK_REALTIME and CLOCK_MONOTONIC of this host, in ns.

    Sampled as ``realtime - midpoint(monotonic before, monotonic after)`` over the tightest
    of five reads, which bounds the sampling error by half that read's duration (~50 ns).
    Where the realtime clock is coarse (Windows before Python 3.13) the process-wide
    offset of :func:`netcheck.platform.real_ns` is used instead, so every timestamp of
    this process (sender and an in-process responder) rests on one offset.
    """

    def __init__(self) -> None:
        self.offset_ns = self.sample()

    @staticmethod
    def sample() -> int:
        if not plat.caps().fine_realtime:
            return plat.real_ns() - plat.mono_ns()
        best: tuple[int, int] | None = None
        for _ in range(5):
            before = plat.mono_ns()
            real = time.time_ns()
            after = plat.mono_ns()
            if best is None or after - before < best[0]:
                best = (after - before, real - (before + after) // 2)
        assert best is not None
        return best[1]

    def refresh(self) -> None:
        """Re-sample, where the realtime clock is fine enough: a coarse one (Windows before
        Python 3.13: 15.6 ms steps) would make the offset, and one-way delays, jump."""
        if plat.caps().fine_realtime:
            self.offset_ns = self.sample()

    def to_real(self, mono_ns: int) -> int:
        return mono_ns + self.offset_ns

    def to_mono(self, real_ns: int) -> int:
        return real_ns - self.offset_ns


class Session:
    """One emulated call on one socket. Subclasses build packets and record replies."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.kernel_ts = enable_rx_timestamps(sock)
        self.refused = 0
        self.send_errors: list[str] = []

    def packet(self, index: int, send_mono_ns: int) -> bytes:
        """The ``index``-th packet, stamped with its send time."""
        raise NotImplementedError

    def receive(self, data: bytes, rx_mono_ns: int, rx_real_ns: int) -> None:
        """Record one received datagram, its arrival on CLOCK_MONOTONIC and CLOCK_REALTIME
        (the kernel's own realtime stamp where there is one, so no mapping error)."""
        raise NotImplementedError

    def complete(self) -> bool:
        """True when nothing more is expected (every packet answered)."""
        return False


@dataclass
class EngineReport:
    """What the scheduler measured about itself: per-packet send-time error (ns, actual
    send timestamp minus deadline) and which receive clock each session used."""

    send_error_ns: list[int] = field(default_factory=list)
    started_mono_ns: int = 0
    last_send_mono_ns: int = 0
    stopped_early: bool = False
    low_cpu: bool = False  # sent on the low-CPU schedule (Schedule.low_cpu)


#: Low-CPU schedule: the most a send may busy-wait (see :meth:`Engine._wait_low_cpu`).
LOW_CPU_SPIN_NS: Final = 50_000
#: ``epoll``/``select`` time out in whole milliseconds (Python rounds the timeout up), so
#: the low-CPU schedule leaves the selector this long before a slot and sleeps the rest.
_SELECT_STEP_NS: Final = 2_000_000


@dataclass(frozen=True)
class Schedule:
    """``count`` packets per session every ``interval_ns``; ``spin_ns`` busy-wait tail;
    listen ``drain_ns`` after the last send for late replies. ``low_cpu``: the sleep-only
    schedule with a spin of at most :data:`LOW_CPU_SPIN_NS` (small boxes, the agent)."""

    count: int
    interval_ns: int
    spin_ns: int = 200_000
    drain_ns: int = 1_000_000_000
    lead_ns: int = 20_000_000
    low_cpu: bool = False


class Engine:
    """Run sessions on one schedule in the calling thread (call from a worker thread)."""

    def __init__(self, sessions: Sequence[Session], schedule: Schedule, clock: ClockMap) -> None:
        self.sessions = list(sessions)
        self.schedule = schedule
        self.clock = clock
        self.cancel = threading.Event()
        self._sel = plat.new_selector()
        self._last_poll = 0
        self._last_resample = 0
        self._spin = schedule.spin_ns
        self._oversleep = 0
        self._spin_cap = max(schedule.spin_ns, schedule.interval_ns // 2)
        self._comp = 0
        # without kernel receive stamps a reply is timed when it is read: keep reading in
        # the selector then, so the sleep never delays a receive time
        self._select_first = not all(s.kernel_ts for s in self.sessions)

    def run(self, stop_at_mono_ns: int) -> EngineReport:
        """Send every packet on time, receive replies, stop at ``stop_at_mono_ns``."""
        for s in self.sessions:
            self._sel.register(s.sock, selectors.EVENT_READ, s)
        try:
            return self._loop(stop_at_mono_ns)
        finally:
            self._sel.close()

    def _loop(self, stop_at: int) -> EngineReport:
        sch, n = self.schedule, len(self.sessions)
        offsets = [i * sch.interval_ns // max(n, 1) for i in range(n)]
        report = EngineReport(started_mono_ns=plat.mono_ns() + sch.lead_ns, low_cpu=sch.low_cpu)
        t0 = report.started_mono_ns
        for k in range(sch.count):
            for session, offset in zip(self.sessions, offsets, strict=True):
                due = t0 + k * sch.interval_ns + offset
                if due >= stop_at or self.cancel.is_set():
                    report.stopped_early = True
                    return self._drain_until(report, min(stop_at, due))
                self._send_due(session, k, due, sch.low_cpu, report)
        end = min(stop_at, report.last_send_mono_ns + sch.drain_ns)
        return self._drain_until(report, end)

    def _send_due(self, session: Session, index: int, due: int, low_cpu: bool, report: EngineReport) -> None:
        """Wait for ``due`` (the low-CPU or the adaptive schedule), send packet ``index`` and
        record its send error: the one send step of this loop and of the call engine's."""
        if low_cpu:
            self._wait_low_cpu(due)
        else:
            self._wait_until(due)
        now = plat.mono_ns()
        self._send(session, index, now)
        report.send_error_ns.append(now - due)
        report.last_send_mono_ns = now

    def _send(self, session: Session, index: int, now: int) -> None:
        try:
            session.sock.send(session.packet(index, now))
        except plat.PORT_UNREACHABLE:
            session.refused += 1
        except OSError as exc:  # ENOBUFS, unreachable: the packet is lost, say why once
            if len(session.send_errors) < 5:
                session.send_errors.append(f"{type(exc).__name__}: {exc}")

    def _wait_until(self, due: int) -> None:
        """Poll for replies until the spin margin before ``due``, then busy-wait
        (:meth:`_wait_low_cpu` on the low-CPU schedule).

        The margin adapts to how late this host wakes a sleeping thread: it is the largest
        recent oversleep (decaying by 5 % per wake-up), at least ``spin_ns`` and at most half
        an interval. On a quiet host that is ~0.2 ms of spinning per packet; on a VM whose
        timers overshoot by milliseconds the loop spins longer instead of sending late.
        """
        now = plat.mono_ns()
        if now - self._last_poll >= _POLL_EVERY_NS:
            self._poll(0.0)
        while (left := due - plat.mono_ns()) > self._spin:
            wake = plat.mono_ns() + left - self._spin
            self._poll((left - self._spin) / 1e9)
            over = plat.mono_ns() - wake
            self._oversleep = max(over, int(self._oversleep * 0.95))
            self._spin = min(max(self.schedule.spin_ns, self._oversleep), self._spin_cap)
        while plat.mono_ns() < due:
            pass

    def _wait_low_cpu(self, due: int) -> None:
        """Low-CPU schedule: sleep to the slot, spin at most :data:`LOW_CPU_SPIN_NS`.

        Replies are drained without waiting (``select`` with timeout 0) before each send;
        with kernel receive stamps (``SO_TIMESTAMPNS``) a reply read a slot later keeps its
        arrival time, so the thread need not wake for it. Without them it waits in the
        selector until :data:`_SELECT_STEP_NS` before the slot, as the default does.
        The sleep is ``time.sleep`` (``clock_nanosleep``: microsecond resolution) ended
        ``comp`` early, ``comp`` being the running mean of how late this host wakes a
        sleeper (exponential, alpha 1/8, at most the spin cap; IRTT's compensating timer
        works the same way), and the rest is spun. A wake-up later than that is sent
        late: the send-time error is measured per packet and reported, never hidden.
        """
        mono = plat.mono_ns
        self._poll(0.0)
        if self._select_first:
            while (left := due - mono()) > _SELECT_STEP_NS:
                self._poll((left - _SELECT_STEP_NS) / 1e9)
        start = mono()
        nap = due - start - self._comp
        if nap > 0:
            time.sleep(nap / 1e9)
            over = mono() - (start + nap)
            self._comp = min(LOW_CPU_SPIN_NS, max(0, self._comp + (over - self._comp) // 8))
        while mono() < due:
            pass

    def _poll(self, timeout_s: float) -> None:
        for key, _ in self._sel.select(timeout_s):
            self._drain(key.data)
        now = plat.mono_ns()
        self._last_poll = now
        if now - self._last_resample >= _RESAMPLE_NS:
            self.clock.refresh()
            self._last_resample = now

    def _drain(self, session: Session, limit: int = 64) -> None:
        sock = session.sock
        for _ in range(limit):
            try:
                data, real = plat.recv_stamped(sock, _RX_BUF)
            except (BlockingIOError, InterruptedError):
                return
            except plat.PORT_UNREACHABLE:
                session.refused += 1
                continue
            except OSError:
                return
            mono = plat.mono_ns()
            if real is None:
                session.receive(data, mono, self.clock.to_real(mono))
            else:
                session.receive(data, self.clock.to_mono(real), real)

    def _drain_until(self, report: EngineReport, end: int) -> EngineReport:
        while not self.cancel.is_set() and (left := end - plat.mono_ns()) > 0:
            if all(s.complete() for s in self.sessions):
                break
            self._poll(min(left / 1e9, 0.05))
        return report
