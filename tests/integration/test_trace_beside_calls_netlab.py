"""The per-hop trace beside the calls and the LAN listeners (issue 22): run together by the
real runner, as a run plans them, through a clean multi-hop path (tests/netlab/multihop.py:
lan -> site router -> isp1 -> isp2 -> provider; the routers' ICMP rate limiting off), the
trace must blame nothing.

Truth: the path is clean (the impairment bridge forwards every packet, its log shows no
drop), so every hop answers every probe and no segment may pass the evaluator's own
thresholds (netcheck/evaluate/faultloc.py: LAN jitter 2 ms, 1 % loss). The trace times its
probes in a Python thread; beside two 50 pps calls on the call engine and the LLDP/DHCP
listeners (scapy parses every frame of both calls in Python), with CPython's 5 ms GIL
switch interval 2 of 6 such runs showed 3.4-8 ms of hop jitter and a false "LAN" finding
(0 of 4 with the engine's 0.5 ms, ``_stream_mux.SWITCH_S``). The run is repeated so that a
regression shows with high probability, not by luck.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator

import pytest

from netcheck import schedule
from netcheck.evaluate import faultloc
from netcheck.plan.runs import ICMP_TIME_EXCEEDED, ProbeRun
from netcheck.probes import dhcp, lldp, path_hops, stream
from netcheck.result import Measurement
from netcheck.run import runner
from tests.netlab.fixtures import require_netlab
from tests.netlab.multihop import MultiHopLab, multihop_lab
from tests.netlab.netns import run_in_netns
from tests.netlab.truth import DELIVERED

pytestmark = pytest.mark.netlab

ROUNDS = 12
CALL_S = 14.0
REPEAT = 3  # at the 5 ms interval a run blamed the LAN 1 time in 3: 3 clean runs by luck ~ 30 %
#: half the evaluator's LAN jitter threshold (VSE NET's 2 ms layer-2 limit): a clean path
#: measured 0.03-0.47 ms per hop with the fix, 3.4-8.1 ms in the runs that went wrong without it
HOP_JITTER_MAX_MS = faultloc.JITTER_MS["lan"] / 2


@pytest.fixture(scope="module")
def lab() -> Iterator[MultiHopLab]:
    require_netlab()
    with multihop_lab("lan", "") as lab:
        yield lab


def _runs(lab: MultiHopLab) -> list[ProbeRun]:
    trace = path_hops.Spec(id="path_hops:sbc", host=lab.target, rounds=ROUNDS, mode="raw", max_hops=8)
    calls = [stream.Spec(id=f"stream:{name}", host=host, method="icmp", duration_s=CALL_S)
             for name, host in (("sbc", lab.target), ("gateway", lab.addr("rtr")))]
    return [*(ProbeRun(s.id, "stream", s, CALL_S + 10.0, s.id, kind="call") for s in calls),
            ProbeRun("lldp", "lldp", lldp.Spec(interface="eth0", wait_s=CALL_S), CALL_S + 3.0, "lldp",
                     kind="passive"),
            ProbeRun("dhcp", "dhcp", dhcp.Spec(interface="eth0", wait_s=6.0), 9.0, "dhcp", kind="passive"),
            ProbeRun(trace.id, "path_hops", trace, 2 * (ROUNDS * trace.interval_s + trace.wait_s) + 10.0,
                     trace.id, contends=ICMP_TIME_EXCEEDED, kind="paced")]


def _together(lab: MultiHopLab) -> tuple[list[Measurement], float]:
    runs = _runs(lab)
    assert not any(schedule.conflict(a, b) for a in runs for b in runs if a is not b)
    started: list[float] = []

    def listen(event: runner.Event) -> None:
        if event.kind == "start":
            started.append(asyncio.get_running_loop().time())

    caps = {"raw_icmp": True, "raw_packet": True}
    out = run_in_netns(lab.ns["lan"], asyncio.run, runner.run_all(runs, caps, listen))
    return out, max(started) - min(started)


def test_trace_beside_calls_and_listeners_blames_nothing_on_a_clean_path(lab: MultiHopLab) -> None:
    for _ in range(REPEAT):
        (call_sbc, call_gw, _lldp, _dhcp, trace), spread = _together(lab)
        assert spread < 1.0  # all five really ran together
        assert sys.getswitchinterval() == pytest.approx(0.005)  # restored once the calls ended
        assert not [r for r in lab.truth_records() if r["decision"] not in DELIVERED]  # nothing dropped
        for call in (call_sbc, call_gw):
            assert call.ok and call.values["loss_rt_pct"] == 0.0, call.error
        assert trace.ok and trace.values["reached"] is True and trace.values["hop_count"] == 4, trace.error
        hops = trace.values["hops"]
        for h in hops:  # type: ignore[union-attr]
            assert h["received"] == h["sent"] == ROUNDS, h  # every probe answered
            assert float(h["jitter_ms"]) < HOP_JITTER_MAX_MS, hops
        assert faultloc.findings(trace.values["segments"]) == []  # type: ignore[arg-type]
