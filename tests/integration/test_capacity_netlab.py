"""Capacity and QoS under load in the namespace lab, against the truth of the router's queue.

Truth: tbf on a Linux Ethernet (veth) device counts skb->len, the IP packet plus its
14-octet MAC header. A G.711 20 ms call is 160 + 12 RTP + 8 UDP + 20 IPv4 = 200 octets at
layer 3 (80 kbit/s, netcheck.analysis.bandwidth), 214 octets as tbf counts it: 214 x 8 x 50 =
85.6 kbit/s per direction. A 2000 kbit/s tbf therefore carries floor(2000 / 85.6) = 23
calls; the issue's tolerance is +-10 %.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from netcheck import evaluate
from netcheck import profile as prof
from netcheck.analysis import bandwidth
from netcheck.probes import capacity, qos
from netcheck.probes._common import Context
from netcheck.result import Measurement, Site, Status
from tests.integration._qos_lab import priority_uplink
from tests.integration.stream_lab import start_responder
from tests.netlab.lab import RoutedLab
from tests.netlab.netns import run_async_in_netns

pytestmark = [pytest.mark.netlab, pytest.mark.timeout(120)]

TBF_BURST = 3000  # two MTU-size frames: the shaper's bucket, not a second buffer
PER_CALL_TBF_KBPS = bandwidth.call_kbps("G.711", 20.0, l2_bytes=bandwidth.ETHERNET_HEADER)


def _run(lab: RoutedLab, probe: Any, spec: Any, budget: float) -> Measurement:
    return run_async_in_netns(
        lab.ns.lan, lambda: probe.run(spec, Context(deadline=time.monotonic() + budget))
    )


def test_capacity_matches_the_tbf_truth(netlab: RoutedLab) -> None:
    _, port = start_responder(netlab)
    netlab.rate_limit(2000, burst_bytes=TBF_BURST)
    truth = bandwidth.calls_in(2000, PER_CALL_TBF_KBPS)
    assert truth == 23
    spec = capacity.Spec(
        id="capacity",
        host=netlab.addr.dc,
        port=port,
        start_calls=4,
        max_calls=40,
        step_s=2.0,
        duration_s=35.0,
    )
    m = _run(netlab, capacity, spec, 40.0)
    assert m.ok, m.error
    v = m.values
    assert abs(int(v["calls_up_max"]) - truth) <= 0.1 * truth, v["steps"]  # type: ignore[arg-type]
    assert v["calls_up_bound"] == "exact" and v["calls_up_failed_at"] is not None
    # the reflector sent back what came up: down held at least as far as up did
    assert int(v["calls_down_max"]) >= int(v["calls_up_max"]) - 1  # type: ignore[arg-type]
    assert max(s["calls"] for s in v["steps"]) <= 2 * truth  # type: ignore[union-attr]
    assert v["call_kbps"] == 80.0


def _qos(lab: RoutedLab, prioritise: bool) -> Measurement:
    _, port = start_responder(lab)
    priority_uplink(lab, 2000, prioritise=prioritise)
    spec = qos.Spec(
        id="qos",
        host=lab.addr.dc,
        port=port,
        baseline_s=2.0,
        step_s=2.5,
        bulk_start_kbps=1000.0,
        bulk_max_kbps=4000.0,
        duration_s=25.0,
    )
    return _run(lab, qos, spec, 30.0)


def _judge(m: Measurement) -> Any:
    p = prof.load("managed-com-business")  # "VoIP prioritised over all other applications"
    return next(c for c in evaluate.evaluate(p, [m], Site()) if c.id == "qos.priority")


def test_qos_passes_with_an_ef_priority_queue(netlab: RoutedLab) -> None:
    m = _qos(netlab, prioritise=True)
    assert m.ok and m.values["saturated"] is True, m.values
    assert float(m.values["load_canary_loss_pct"]) > 1.0  # type: ignore[arg-type]  # best effort suffered
    check = _judge(m)
    assert check.status is Status.PASS, check.reason


def test_qos_fails_on_the_same_link_without_priority(netlab: RoutedLab) -> None:
    m = _qos(netlab, prioritise=False)
    assert m.ok and m.values["saturated"] is True, m.values
    check = _judge(m)
    assert check.status is Status.FAIL, check.reason
    assert "without load: loss" in check.reason and "kbit/s bulk: loss" in check.reason
    assert float(m.values["load_voice_loss_pct"]) > 1.0  # type: ignore[arg-type]  # figures with load
    assert check.remediation is not None and check.remediation.key == "qos_priority"
