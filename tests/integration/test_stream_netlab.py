"""The stream probe through the lab's impairment link, against the link's ground truth.

Tolerances are issue 4's accuracy targets (``stream_lab``): delay error <= 0.5 ms, jitter
error <= 10 % or 0.2 ms, loss error <= 0.2 percentage points. Delay error compares
netcheck's median one-way delay with the link's median delay; the difference also holds
the path's own delay (veth, router, stacks), which must fit in the same 0.5 ms. The median,
not the mean: when the 2 cores are busy the sender can be descheduled between stamping a
packet and handing it to the kernel, which adds delay before the link sees the packet (seen:
a few packets +80 ms, moving the mean by 3.6 ms); that is the host's, not the path's. Streams are
4 s (200 packets) to keep CI short; loss is compared as counts where 0.2 pp of 200 packets
would be less than one packet. The jitter tolerance adds the jitter of the host's own timing
noise on that very call (measured minus truth, per packet; ``host_noise_jitter_ms``): on a
quiet machine it is ~0.001 ms, on a busy one it is what the host, not the link, added.
"""

from __future__ import annotations

import pytest

from netcheck.result import Measurement
from tests.integration.stream_lab import (
    DELAY_ERROR_MS,
    call,
    call_truth,
    host_noise_jitter_ms,
    jitter_tolerance_ms,
    start_responder,
)

pytestmark = pytest.mark.netlab

SETTINGS = {
    "delay 30 ms +- 5 ms": "delay=30ms jitter=5ms dist=uniform",
    "bursty loss 2 %": "delay=5ms ge=p:0.005,r:0.25",
    "reordering": "delay=25ms jitter=2ms reorder=3%",
    # replies lost too: the forward series must keep each request at its sequence number
    "jitter with loss both ways": "delay=20ms jitter=3ms dist=uniform loss=3%",
}


@pytest.mark.parametrize("spec", list(SETTINGS.values()), ids=list(SETTINGS))
def test_stream_matches_ground_truth(netlab_impaired, spec: str) -> None:  # type: ignore[no-untyped-def]
    _matches_ground_truth(netlab_impaired(spec, seed=11), spec)


def test_low_cpu_schedule_matches_ground_truth(netlab_impaired) -> None:  # type: ignore[no-untyped-def]
    """The low-CPU send schedule (issue 22): the same jitter and the same loss as the link's
    truth, within the same tolerances (the host-noise term of the jitter tolerance comes
    from this very call, so a late sender cannot hide), and it says so in its result."""
    spec = "delay=20ms jitter=4ms dist=uniform loss=3%"
    m = _matches_ground_truth(netlab_impaired(spec, seed=12), spec, low_cpu=True)
    assert m.values["send_schedule"] == "low-cpu"
    assert m.values["confidence_reason_key"] in ("low_cpu_schedule", "sender_late")
    assert m.values["loss_rt_pct"] > 0  # the lossy link did drop packets of this call


def _matches_ground_truth(lab, spec: str, **kw: object) -> Measurement:  # type: ignore[no-untyped-def]
    _, port = start_responder(lab)
    m = call(lab, port, 4.0, **kw)
    t = call_truth(lab, port)
    v = m.values
    assert m.ok, m.error
    assert v["clock_synchronized"] is True and v["rx_clock"].startswith("kernel")
    for tag, link, link_ms in (("fwd", t.up, t.up_ms), ("bwd", t.down, t.down_ms)):
        assert link.owd_median_ms is not None and link.jitter_ms is not None
        assert abs(v[f"owd_{tag}_median_ms"] - link.owd_median_ms) <= DELAY_ERROR_MS, (tag, v, link)
        noise = host_noise_jitter_ms(m.series[f"owd_{tag}_ms"], link_ms)
        # final value against the link's final value; the judged whole-call statistic (p95 of
        # the running estimate) against the link's: the per-packet bound holds for both
        assert abs(v[f"jitter_{tag}_final_ms"] - link.jitter_ms) <= jitter_tolerance_ms(link.jitter_ms, noise), \
            (tag, link, noise)
        assert link.jitter_p95_ms is not None
        assert abs(v[f"jitter_{tag}_ms"] - link.jitter_p95_ms) <= jitter_tolerance_ms(link.jitter_p95_ms, noise), \
            (tag, link, noise)
    # loss per direction, from the stateful reflector's numbering, equals the link's drops
    assert v["sent"] == t.up.sent
    assert v["sent_fwd"] - v["received_fwd"] == t.up.lost
    assert v["sent_bwd"] - v["received_bwd"] == t.down.lost
    assert v["loss_rt_pct"] == pytest.approx(100 * (t.up.lost + t.down.lost) / t.up.sent, abs=1e-3)
    if "reorder" in spec:
        assert v["reorder_fwd_pct"] > 0 and t.up.reordered > 0
    return m


def test_layer2_icmp_fallback_through_the_link(netlab_impaired) -> None:  # type: ignore[no-untyped-def]
    """ICMP-50pps to the router (the lan's gateway) across a 1 ms link: RTT ~ 2 ms."""
    import asyncio
    import time

    from netcheck.probes import stream
    from netcheck.probes._common import Context
    from tests.netlab.netns import run_in_netns

    lab = netlab_impaired("delay=1ms", seed=3)
    spec = stream.Spec(id="stream:gateway", host=lab.addr.router_lan, method="icmp", duration_s=2.0)
    m = run_in_netns(lab.ns.lan, lambda: asyncio.run(stream.run(spec, Context(deadline=time.monotonic() + 15))))
    from tests.netlab import truth

    pairs = [x for x in truth.icmp_echo_truth(lab.truth_records()).values() if x is not None]
    assert m.ok and m.method == "icmp-50pps" and m.values["received"] == 100
    link_rtt_ms = 1000 * sum(pairs) / len(pairs)
    assert abs(m.values["rtt_mean_ms"] - link_rtt_ms) <= 2 * DELAY_ERROR_MS  # round trip: two one-way errors
