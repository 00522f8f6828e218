"""The call generator (netcheck.probes._callgen) against a real ``netcheck responder`` on
loopback: 100 concurrent 50 pps calls for 2 s, per-call sockets and one shared socket (RFC
8972 SSIDs), both answered in full and numbered per session by the stateful reflector
(RFC 8762 4.2); the records feed the stream analysis unchanged; authenticated mode too.

Loopback drops nothing by itself, so any missing reply here is the generator's or the
responder's fault. The responder's per-source rate limit is raised to 100,000 pps (the
default 1000 pps would drop 80 % of 5000 pps: the limiter, not the generator).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from netcheck.probes import _stream_analysis as an
from netcheck.probes._callgen import SocketMode, run_calls
from netcheck.responder import server as resp
from netcheck.wire.stamp import ns_from_ntp

KEY = b"callgen test key"
CALLS, SECONDS, PACKETS = 100, 2.0, 100  # 2 s at 50 pps


@pytest.fixture
def reflector() -> Iterator[resp.Responder]:
    cfg = resp.Config(bind="127.0.0.1", port=0, rate_pps=100_000, burst=100_000)
    with resp.running(cfg) as server:
        yield server


@pytest.mark.parametrize("sockets", ["per_call", "shared"])
def test_100_concurrent_calls_without_loss(reflector: resp.Responder, sockets: SocketMode) -> None:
    run = run_calls("127.0.0.1", reflector.address[1], CALLS, duration_s=SECONDS, sockets=sockets,
                    drain_s=1.0)
    assert run.sockets == sockets
    assert run.sent == run.answered == CALLS * PACKETS
    assert len(run.send_error_ns) == CALLS * PACKETS
    assert min(run.send_error_ns) >= 0  # never sent before its slot
    ssids = [c.ssid for c in run.calls]
    assert ssids == (list(range(1, CALLS + 1)) if sockets == "shared" else [0] * CALLS)
    assert reflector.counters.rate_limited == 0
    for call in run.calls:
        assert call.malformed == call.refused == 0
        # one stateful reflector session per call: its own numbers 0..99 (RFC 8762 4.2)
        assert sorted(r.reflector_seq for r in call.replies) == list(range(PACKETS))
        assert sorted(r.sender_seq for r in call.replies) == list(range(PACKETS))


def test_slots_interleave_evenly_over_the_interval(reflector: resp.Responder) -> None:
    """Call i sends at t0 + k * 20 ms + i * 20 ms / N: the first packets of 10 calls are
    2 ms apart (each T1 is the real send time, at or after its slot)."""
    run = run_calls("127.0.0.1", reflector.address[1], 10, duration_s=0.1, drain_s=0.3)
    firsts = [c.t1_mono_ns[0] for c in run.calls]
    assert all(t is not None for t in firsts)
    t0 = run.started_mono_ns
    for i, t in enumerate(firsts):
        assert t is not None and t - (t0 + i * 2_000_000) == run.send_error_ns[i] >= 0


def test_records_feed_the_stream_analysis(reflector: resp.Responder) -> None:
    run = run_calls("127.0.0.1", reflector.address[1], 5, duration_s=1.0, drain_s=0.5)
    cfg = an.StreamConfig("G.711", 20.0, 60.0, 10.0, None)
    for call in run.calls:
        t1_real = [ns_from_ntp(t) for t in call.t1_wire]
        rt, fwd, bwd = an.stamp_records(call.t1_mono_ns, t1_real, call.replies)
        stats = an.summarize(rt, cfg)
        assert (stats.sent, stats.received, stats.loss_pct) == (50, 50, 0.0)
        assert stats.delay_ms is not None and 0.0 < stats.delay_ms.median < 50.0  # loopback
        assert len(fwd) == len(bwd) == 50
        assert call.kernel_ts  # SO_TIMESTAMPNS on Linux


def test_authenticated_calls_and_a_wrong_key() -> None:
    cfg = resp.Config(bind="127.0.0.1", port=0, key=KEY, rate_pps=100_000, burst=100_000)
    with resp.running(cfg) as server:
        port = server.address[1]
        good = run_calls("127.0.0.1", port, 4, duration_s=0.4, key=KEY, drain_s=0.5)
        bad = run_calls("127.0.0.1", port, 2, duration_s=0.2, key=b"wrong", drain_s=0.3)
    assert good.sent == good.answered == 4 * 20
    assert all(c.size == 172 for c in good.calls)  # G.711 RTP size >= the 112-octet base
    assert bad.answered == 0  # the reflector drops requests whose HMAC fails (RFC 8762 4.4)
