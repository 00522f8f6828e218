"""Two calls at the same time in the one call engine (issue 22), through the lab's
impairment link, each against the link's ground truth of its own packets.

The runner gets two calls (kind "call") towards two ``netcheck responder`` processes in dc
(two ports, so the truth log tells the calls apart by port), runs them together as it runs
the handover and the gateway call, and each call must match the truth exactly as a call
alone must (test_stream_netlab.py, issue 4's targets via ``stream_lab``): loss per
direction equal to the link's drops packet for packet, delay within 0.5 ms, jitter within
10 % or 0.2 ms plus the host's own timing noise on that call. No tolerance is wider than
for a call alone.
"""

from __future__ import annotations

import time

import pytest

from netcheck.result import Measurement
from netcheck.run import runner
from tests.integration.stream_lab import (
    DELAY_ERROR_MS,
    call_runs,
    call_truth,
    host_noise_jitter_ms,
    jitter_tolerance_ms,
    start_responder,
)
from tests.netlab.lab import RoutedLab
from tests.netlab.netns import run_async_in_netns

pytestmark = pytest.mark.netlab

SPEC = "delay=20ms jitter=4ms dist=uniform loss=3%"
CALL_S = 4.0


def _calls(lab: RoutedLab, ports: list[int]) -> tuple[list[Measurement], list[tuple[float, float]]]:
    plan = call_runs(lab, ports, CALL_S)
    spans: dict[str, list[float]] = {}

    def listen(event: runner.Event) -> None:
        if event.kind in ("start", "done"):
            spans.setdefault(event.run.id, []).append(time.monotonic())

    out = run_async_in_netns(lab.ns.lan, lambda: runner.run_all(plan, {}, listen))
    return out, [(spans[r.id][0], spans[r.id][1]) for r in plan]


def test_two_concurrent_calls_each_match_the_link_truth(netlab_impaired) -> None:  # type: ignore[no-untyped-def]
    lab = netlab_impaired(SPEC, seed=22)
    ports = [start_responder(lab)[1], start_responder(lab)[1]]
    ms, spans = _calls(lab, ports)
    (a0, a1), (b0, b1) = spans
    assert a0 < b1 and b0 < a1 and abs(a0 - b0) < 0.5  # they ran at the same time
    for m, port in zip(ms, ports, strict=True):
        assert m.ok, m.error
        t = call_truth(lab, port)
        v = m.values
        assert v["sent"] == t.up.sent == round(CALL_S * 50)
        # loss per direction, packet for packet, from the stateful reflector's numbering
        assert v["sent_fwd"] - v["received_fwd"] == t.up.lost
        assert v["sent_bwd"] - v["received_bwd"] == t.down.lost
        assert t.up.lost + t.down.lost > 0  # the link did drop some of this call's packets
        for tag, link, link_ms in (("fwd", t.up, t.up_ms), ("bwd", t.down, t.down_ms)):
            assert link.owd_median_ms is not None and link.jitter_ms is not None
            assert link.jitter_p95_ms is not None
            assert abs(v[f"owd_{tag}_median_ms"] - link.owd_median_ms) <= DELAY_ERROR_MS, (tag, v, link)
            noise = host_noise_jitter_ms(m.series[f"owd_{tag}_ms"], link_ms)
            assert abs(v[f"jitter_{tag}_final_ms"] - link.jitter_ms) <= jitter_tolerance_ms(link.jitter_ms, noise), \
                (tag, link, noise)
            assert abs(v[f"jitter_{tag}_ms"] - link.jitter_p95_ms) <= \
                jitter_tolerance_ms(link.jitter_p95_ms, noise), (tag, link, noise)
