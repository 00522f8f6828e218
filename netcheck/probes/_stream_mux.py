"""One call engine for every call of the process: calls that run at the same time share one
sender thread.

Why (issue 22): the handover call and the gateway call measure different paths and
contend for nothing outside this machine, so they can run at the same time; but two
sender threads would each busy-wait for their slots and take the GIL from each other (up
to the 5 ms switch interval), which is send-time error. One thread that owns every call's
schedule has no such contention: it sends whatever is due next, and :meth:`CallEngine.add`
places a new call's slots in the middle of the largest gap between the slots already taken
(two 50 pps calls: 10 ms apart), so two calls never want the CPU at the same moment. The
same loop carries hundreds of calls (bench/RESULTS.md, "Stream capacity").

Calls come and go while the engine runs (a silent STUN attempt ends after 2 s and its ICMP
fall-back starts; the gateway call may start later than the handover call): each is
submitted with :func:`submit` and gets a :class:`CallHandle` (its own ``cancel`` event and
a future of its :class:`~netcheck.probes._stream_engine.EngineReport`). The thread starts
with the first call and ends when the last one is done. Waiting (the adaptive spin, or
the low-CPU schedule when the call's ``Schedule.low_cpu`` asks for it), polling, sending
and receiving are :class:`~netcheck.probes._stream_engine.Engine`'s own (same kernel
receive timestamps, same clock map), so a call alone in this engine is timed exactly as
before.

The engine owns a submitted call's socket: it closes it when the call is done, so a
socket is never closed while the selector still watches it.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import selectors
import sys
import threading
from dataclasses import dataclass, field

from netcheck import platform as plat
from netcheck.probes._stream_engine import ClockMap, Engine, EngineReport, Schedule, Session

__all__ = ["CallEngine", "CallHandle", "submit"]

_IDLE_POLL_S = 0.05
_BASE = Schedule(count=0, interval_ns=20_000_000)


@dataclass(eq=False)
class CallHandle:
    """A submitted call: set ``cancel`` to end it early; ``future`` gives its report."""

    session: Session
    schedule: Schedule
    stop_at: int
    cancel: threading.Event = field(default_factory=threading.Event)
    future: concurrent.futures.Future[EngineReport] = field(default_factory=concurrent.futures.Future)
    report: EngineReport = field(default_factory=EngineReport)
    sent: int = 0
    drain_end: int | None = None  # set once the last packet is sent (or the call is stopped)

    def due(self) -> int:
        return self.report.started_mono_ns + self.sent * self.schedule.interval_ns


#: GIL switch interval while calls run (CPython's default is 5 ms).
SWITCH_S = 0.0005
#: The process's own switch interval, restored when the last engine ends.
_PROCESS_SWITCH_S = sys.getswitchinterval()


class CallEngine(Engine):
    """The shared loop (one thread); use :func:`submit`, not this class directly."""

    def __init__(self, clock: ClockMap) -> None:
        super().__init__([], _BASE, clock)
        self._calls: list[CallHandle] = []
        self._inbox: list[CallHandle] = []
        self._lock = threading.Lock()
        self.closed = False

    def offer(self, call: CallHandle) -> bool:
        """Queue a call; False when this engine has already wound down (start a new one)."""
        with self._lock:
            if self.closed:
                return False
            self._inbox.append(call)
            return True

    def serve(self) -> None:
        """The thread's body: run calls until none is left, then close.

        While calls run, the interpreter hands the GIL over every :data:`SWITCH_S` instead of
        every 5 ms: a Python thread beside the engine (the per-hop trace, the LAN listeners'
        packet parsing, the event loop) holds it at most that long at a time. The process's
        interval comes back when this engine ends, unless a newer engine (started once this
        one had closed) is the process's engine by then: it still needs the short one."""
        sys.setswitchinterval(SWITCH_S)
        try:
            while self._admit():
                self._step()
        except BaseException as exc:  # a bug must not leave a probe waiting forever
            for call in self._calls:
                self._finish(call, exc)
            raise
        finally:
            with _lock:
                if _engine is self or _engine is None:
                    sys.setswitchinterval(_PROCESS_SWITCH_S)
            self._sel.close()

    def _admit(self) -> bool:
        """Take queued calls in; False (and closed) when there is nothing left to run."""
        with self._lock:
            fresh, self._inbox = self._inbox, []
            if not fresh and not self._calls:
                self.closed = True
                return False
        for call in fresh:
            if not call.future.set_running_or_notify_cancel():  # cancelled before it started
                call.session.sock.close()
                continue
            call.report.started_mono_ns = self._start_slot(call.schedule.interval_ns,
                                                           plat.mono_ns() + call.schedule.lead_ns)
            call.report.low_cpu = call.schedule.low_cpu
            # a session timed on reading (no kernel stamps) keeps the low-CPU wait in the selector
            self._select_first = self._select_first or not call.session.kernel_ts
            self._sel.register(call.session.sock, selectors.EVENT_READ, call.session)
            self._spin_cap = max(self._spin_cap, call.schedule.spin_ns, call.schedule.interval_ns // 2)
            self._calls.append(call)
        return True

    def _start_slot(self, interval: int, earliest: int) -> int:
        """The first slot at or after ``earliest`` whose phase is farthest from the phases
        of the calls on the same interval (the middle of the largest gap)."""
        phases = sorted({c.report.started_mono_ns % interval for c in self._calls
                         if c.drain_end is None and c.schedule.interval_ns == interval})
        if not phases:
            return earliest
        gaps = [((phases[(i + 1) % len(phases)] - p) % interval or interval, p) for i, p in enumerate(phases)]
        width, start = max(gaps)
        phase = (start + width // 2) % interval
        return earliest + (phase - earliest) % interval

    def _step(self) -> None:
        """Send the next due packet, or, with nothing to send, poll until a call ends."""
        now = plat.mono_ns()
        for call in list(self._calls):
            if call.drain_end is None and (call.cancel.is_set() or call.sent >= call.schedule.count
                                           or call.due() >= call.stop_at):
                self._end_sending(call, now)
            if call.drain_end is not None and (now >= call.drain_end or call.cancel.is_set()
                                               or call.session.complete()):
                self._finish(call, None)
        sending = [c for c in self._calls if c.drain_end is None]
        if not sending:
            ends = [c.drain_end for c in self._calls if c.drain_end is not None]
            self._poll(max(0.0, min((min(ends, default=now) - now) / 1e9, _IDLE_POLL_S)))
            return
        call = min(sending, key=CallHandle.due)
        self._send_due(call.session, call.sent, call.due(), call.schedule.low_cpu, call.report)
        call.sent += 1

    def _end_sending(self, call: CallHandle, now: int) -> None:
        call.report.stopped_early = call.sent < call.schedule.count
        last = call.report.last_send_mono_ns or now
        call.drain_end = min(call.stop_at, last + call.schedule.drain_ns)

    def _finish(self, call: CallHandle, exc: BaseException | None) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._sel.unregister(call.session.sock)
        call.session.sock.close()
        if call in self._calls:
            self._calls.remove(call)
        if exc is None:
            call.future.set_result(call.report)
        else:
            call.future.set_exception(exc)


_lock = threading.Lock()
_engine: CallEngine | None = None
_clock: ClockMap | None = None


def shared_clock() -> ClockMap:
    """The clock map of the call engine (its thread re-samples it): a session that stamps
    send times (STAMP) must use this one. Sampled afresh when no engine is running, so an
    idle process never carries an old offset into its next calls."""
    global _clock
    with _lock:
        if _clock is None or _engine is None or _engine.closed:
            _clock = ClockMap()
        return _clock


def submit(session: Session, schedule: Schedule, stop_at_mono_ns: int) -> CallHandle:
    """Run ``session`` on ``schedule`` in the process's call engine (started if idle)."""
    global _engine
    call = CallHandle(session, schedule, stop_at_mono_ns)
    with _lock:
        if _engine is None or not _engine.offer(call):
            _engine = CallEngine(_clock or ClockMap())
            _engine.offer(call)
            threading.Thread(target=_engine.serve, name="netcheck-call-engine", daemon=True).start()
    return call
