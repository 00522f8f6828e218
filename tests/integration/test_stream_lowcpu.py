"""The low-CPU send schedule (issue 22, item 5) against a real ``netcheck responder`` on
loopback: the send error it states is the lateness the wire shows, and it loses nothing.

The independent clock is the reflector's: its T2 is the kernel's receive stamp
(``SO_TIMESTAMPNS``) of each request, so ``T2 - slot`` is how late the packet really left
(plus the loopback delay, microseconds). A thread that holds the GIL in C-level chunks of a
few milliseconds makes the sender late on purpose; a schedule that hid its lateness (a send
error taken from the slot instead of the send) would fail here.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from netcheck.probes import _stream_mux, stream
from netcheck.probes._common import Context
from netcheck.probes._stream_engine import Schedule
from netcheck.probes._stream_sessions import StampCall
from netcheck.responder import server as resp

INTERVAL_NS = 20_000_000
COUNT = 150
#: T1 is read on CLOCK_MONOTONIC and mapped to CLOCK_REALTIME with an offset re-sampled
#: every second (ClockMap): the mapping is good to about a microsecond; 0.05 ms is ample.
MAPPING_NS = 50_000
#: stamping a packet and handing it to the kernel are a few Python lines apart; a packet
#: whose thread lost the CPU in between left later than its stamp says (host noise)
STAMP_TO_WIRE_NS = 500_000


@pytest.fixture
def reflector() -> Iterator[resp.Responder]:
    with resp.running(resp.Config(bind="127.0.0.1", port=0)) as server:
        yield server


def _hog(stop: threading.Event, start_s: float, seconds: float) -> None:
    """Hold the GIL in C-level chunks (``sum`` over a range never yields it) for a while."""
    time.sleep(start_s)
    end = time.monotonic() + seconds
    while time.monotonic() < end and not stop.is_set():
        sum(range(150_000))


def test_low_cpu_send_error_is_what_the_wire_shows(reflector: resp.Responder) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sock.connect(reflector.address)
    clock = _stream_mux.shared_clock()  # the call engine's, as a STAMP call of the probe uses
    call = StampCall(sock, count=COUNT, size=172, clock=clock)
    stop = threading.Event()
    hog = threading.Thread(target=_hog, args=(stop, 1.0, 1.0), daemon=True)
    hog.start()
    try:  # the probe's own path: the process's call engine
        handle = _stream_mux.submit(call, Schedule(count=COUNT, interval_ns=INTERVAL_NS, low_cpu=True,
                                                   drain_ns=500_000_000), time.monotonic_ns() + 10_000_000_000)
        report = handle.future.result(timeout=20)
    finally:
        stop.set()
        hog.join(5)
        sock.close()
    assert report.low_cpu and len(report.send_error_ns) == COUNT
    # nothing lost on loopback: every request answered once
    assert sorted(r.sender_seq for r in call.replies) == list(range(COUNT))
    t0_real = clock.to_real(report.started_mono_ns)
    wire = {r.sender_seq: r.t2_ns - (t0_real + r.sender_seq * INTERVAL_NS) for r in call.replies}
    stated = report.send_error_ns  # one session: send order is sequence order
    # the hog made the sender late, and that shows on the wire...
    assert max(wire.values()) > 2_000_000, sorted(wire.values())[-5:]
    # ...and in the stated error: never later than the wire shows, and within the
    # stamp-to-wire gap of it for nearly every packet
    assert all(stated[k] <= wire[k] + MAPPING_NS for k in range(COUNT)), \
        [(k, stated[k], wire[k]) for k in range(COUNT) if stated[k] > wire[k] + MAPPING_NS]
    close = sum(abs(wire[k] - stated[k]) <= STAMP_TO_WIRE_NS for k in range(COUNT))
    assert close >= 0.95 * COUNT, close
    late = [k for k in range(COUNT) if wire[k] > 2_000_000]
    assert all(stated[k] > 2_000_000 - STAMP_TO_WIRE_NS for k in late)
    # on schedule, the low-CPU schedule never sends early (a slot is a lower bound)
    assert min(stated) >= 0


def test_low_cpu_call_states_its_schedule_and_send_error(reflector: resp.Responder) -> None:
    host, port = reflector.address
    spec = stream.Spec(id="stream:lo", host=host, port=port, duration_s=2.0, low_cpu=True)
    m = asyncio.run(stream.run(spec, Context(deadline=time.monotonic() + 20)))
    v = m.values
    assert m.ok and v["send_schedule"] == "low-cpu"
    assert v["sent"] == v["received"] == 100 and v["loss_pct"] == 0.0
    p99 = v["send_error_p99_ms"]
    assert isinstance(p99, float)
    # the measured p99 is named in the confidence reason: medium on this schedule, low when
    # the sender was more than 1 ms late (a busy machine)
    if p99 > stream.SEND_ERROR_LOW_MS:
        assert (m.confidence, v["confidence_reason_key"]) == ("low", "sender_late")
    else:
        assert (m.confidence, v["confidence_reason_key"]) == ("medium", "low_cpu_schedule")
        assert v["confidence_reason_ms"] == {"late": round(p99, 3)}
        assert "low-CPU schedule" in str(v["confidence_reason"])
    default = asyncio.run(stream.run(stream.Spec(id="stream:lo", host=host, port=port, duration_s=1.0),
                                     Context(deadline=time.monotonic() + 20)))
    assert default.values["send_schedule"] == "default"

