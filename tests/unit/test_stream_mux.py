"""The shared call engine (netcheck.probes._stream_mux) on loopback sockets with real timing:
calls that overlap share one thread, their slots are staggered half an interval apart,
one call's cancel does not stop another, and the engine closes a call's socket."""

from __future__ import annotations

import socket
import sys
import threading
import time

import pytest

from netcheck import platform as plat
from netcheck.probes import _stream_mux
from netcheck.probes._stream_engine import Schedule, Session

INTERVAL_NS = 20_000_000


class Probe(Session):
    """Sends its index; records every datagram that comes back (the echo below)."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock)
        self.sent_at: list[int] = []
        self.got = 0

    def packet(self, index: int, send_mono_ns: int) -> bytes:
        self.sent_at.append(send_mono_ns)
        return index.to_bytes(4, "big")

    def receive(self, data: bytes, rx_mono_ns: int, rx_real_ns: int) -> None:
        self.got += 1


@pytest.fixture
def echo() -> tuple[str, int]:
    """A UDP echo on 127.0.0.1 in a thread of its own, bounded to 20 s."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind(("127.0.0.1", 0))
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        end = time.monotonic() + 20
        while not stop.is_set() and time.monotonic() < end:
            try:
                data, peer = srv.recvfrom(64)
            except TimeoutError:
                continue
            srv.sendto(data, peer)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()
    stop.set()
    t.join(1)
    srv.close()


def call(echo: tuple[str, int]) -> Probe:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sock.connect(echo)
    return Probe(sock)


def engines() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "netcheck-call-engine"]


def phase_gap_ms(a: _stream_mux.CallHandle, b: _stream_mux.CallHandle) -> float:
    """Distance of b's slots from a's, folded into one interval (ms)."""
    return ((b.report.started_mono_ns - a.report.started_mono_ns) % INTERVAL_NS) / 1e6


def test_two_calls_share_one_thread_half_an_interval_apart(echo: tuple[str, int]) -> None:
    a, b = call(echo), call(echo)
    sch = Schedule(count=25, interval_ns=INTERVAL_NS, drain_ns=200_000_000)
    stop = plat.mono_ns() + 5_000_000_000
    ha = _stream_mux.submit(a, sch, stop)
    time.sleep(0.1)  # b joins a running call: the engine is already sending a's packets
    hb = _stream_mux.submit(b, sch, stop)
    assert len(engines()) == 1
    ra, rb = ha.future.result(5), hb.future.result(5)
    assert len(ra.send_error_ns) == len(rb.send_error_ns) == 25
    assert a.got == 25 and b.got == 25  # every echo came back to its own call
    # the slot of b sits in the middle of a's interval, as far as possible from a's
    assert phase_gap_ms(ha, hb) == pytest.approx(10.0, abs=0.01)
    # and each packet left at its own slot: the send time minus the send error is the slot
    slots = [t - e for t, e in zip(b.sent_at, rb.send_error_ns, strict=True)]
    assert [s_ - hb.report.started_mono_ns for s_ in slots] == [k * INTERVAL_NS for k in range(25)]
    assert not ra.stopped_early and not rb.stopped_early
    assert a.sock.fileno() == -1 and b.sock.fileno() == -1  # the engine closed both sockets
    deadline = time.monotonic() + 2
    while engines() and time.monotonic() < deadline:  # the thread ends with its last call
        time.sleep(0.01)
    assert not engines()


def test_one_call_cancelled_the_other_runs_on(echo: tuple[str, int]) -> None:
    a, b = call(echo), call(echo)
    sch = Schedule(count=30, interval_ns=INTERVAL_NS, drain_ns=200_000_000)
    stop = plat.mono_ns() + 5_000_000_000
    ha, hb = _stream_mux.submit(a, sch, stop), _stream_mux.submit(b, sch, stop)
    time.sleep(0.2)
    ha.cancel.set()
    ra, rb = ha.future.result(5), hb.future.result(5)
    assert ra.stopped_early and 5 <= len(ra.send_error_ns) < 30
    assert not rb.stopped_early and len(rb.send_error_ns) == 30


def test_a_call_stops_at_its_own_stop_time(echo: tuple[str, int]) -> None:
    a = call(echo)
    sch = Schedule(count=100, interval_ns=INTERVAL_NS)
    h = _stream_mux.submit(a, sch, plat.mono_ns() + 300_000_000)
    t0 = time.monotonic()
    report = h.future.result(5)
    assert report.stopped_early and len(report.send_error_ns) < 16
    assert time.monotonic() - t0 < 1.0  # not its 2 s of packets plus the 1 s drain


def test_an_ending_engine_leaves_a_newer_engines_switch_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    """An engine that ends while a newer one (started once it had closed: e.g. the ICMP
    fall-back after a silent STUN attempt) runs must not give the process its 5 ms switch
    interval back under the newer engine's calls; the last engine to end does."""
    from netcheck.probes._stream_engine import ClockMap

    old, new = _stream_mux.CallEngine(ClockMap()), _stream_mux.CallEngine(ClockMap())
    try:
        monkeypatch.setattr(_stream_mux, "_engine", new)
        old.serve()  # no calls: it closes at once
        assert sys.getswitchinterval() == _stream_mux.SWITCH_S  # the newer engine's, kept
        new.serve()  # the process's engine ends: the process's own interval is back
        assert sys.getswitchinterval() == _stream_mux._PROCESS_SWITCH_S
    finally:
        sys.setswitchinterval(_stream_mux._PROCESS_SWITCH_S)
