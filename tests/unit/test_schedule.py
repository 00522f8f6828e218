"""The runner's schedule (netcheck.schedule) with real asyncio timing: what runs together,
what takes turns, and that a run's deadline starts at its turn.

Each fake probe sleeps for real and records when it started, ended and how much of its
deadline was left at its start, so overlap is read off the event loop's clock, not
assumed from the scheduler's own bookkeeping.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from netcheck import probes, schedule
from netcheck.plan.core import build
from netcheck.plan.runs import ICMP_TIME_EXCEEDED, ProbeRun
from netcheck.result import Measurement
from netcheck.run import runner

STEP_S = 0.2  # each fake probe's duration


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> dict[str, tuple[float, float, float]]:
    """run id -> (start, end, seconds of deadline left at start) on the loop's clock."""
    seen: dict[str, tuple[float, float, float]] = {}

    async def probe(spec: Any, ctx: Any) -> Measurement:
        loop = asyncio.get_running_loop()
        t0, left = loop.time(), ctx.remaining()
        await asyncio.sleep(STEP_S)
        seen[spec] = (t0, loop.time(), left)
        return Measurement(id=spec, probe="x", target="t", method="m", started_utc="", duration_s=STEP_S)

    monkeypatch.setattr(probes, "get", lambda name: probe)
    monkeypatch.setattr(probes, "prepare", lambda name, specs: asyncio.sleep(0))
    return seen


def run(plan: list[ProbeRun]) -> list[Measurement]:
    return asyncio.run(runner.run_all(plan, {}, lambda _e: None))


def overlap(a: tuple[float, float, float], b: tuple[float, float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def r(rid: str, kind: schedule.Kind = "active", **kw: Any) -> ProbeRun:
    return ProbeRun(rid, "x", rid, kw.pop("timeout_s", 1.0), rid, kind=kind, **kw)


def test_calls_run_together_with_listeners_and_paced_probes_beside_them(spans: dict[str, Any]) -> None:
    plan = [r("dns"), r("call:handover", "call"), r("lldp", "passive", timeout_s=2.0),
            r("call:gateway", "call"), r("trace", "paced", contends=ICMP_TIME_EXCEEDED),
            r("egress", "paced", contends=ICMP_TIME_EXCEEDED), r("sweep", exclusive=True)]
    out = run(plan)
    assert [m.id for m in out] == [p.id for p in plan] and all(m.error is None for m in out)
    s = spans
    # the two calls overlap each other and the listener and the first paced probe
    assert overlap(s["call:handover"], s["call:gateway"])
    assert overlap(s["call:handover"], s["lldp"]) and overlap(s["call:handover"], s["trace"])
    # the active probe never runs beside a call, and starts when the calls are done
    assert not overlap(s["dns"], s["call:handover"]) and not overlap(s["dns"], s["call:gateway"])
    assert s["dns"][0] >= max(s["call:handover"][1], s["call:gateway"][1])
    # runs of one contends tag take turns, with a gap for the routers' budget to refill;
    # the second one's deadline starts at its turn
    assert s["egress"][0] >= s["trace"][1] + schedule.TURN_GAP_S - 0.01
    assert s["egress"][2] == pytest.approx(1.0, abs=0.1)
    # the load test overlaps nothing and comes last
    assert all(not overlap(s["sweep"], s[k]) for k in s if k != "sweep")
    assert s["sweep"][0] >= max(v[1] for k, v in s.items() if k != "sweep")
    assert s["sweep"][2] == pytest.approx(1.0, abs=0.1)


def test_load_tests_take_turns_and_active_probes_share(spans: dict[str, Any]) -> None:
    plan = [r("capacity", exclusive=True), r("tcp"), r("qos", exclusive=True), r("tls")]
    run(plan)
    s = spans
    assert overlap(s["tcp"], s["tls"])
    assert not overlap(s["capacity"], s["qos"])
    assert s["capacity"][0] >= s["tcp"][1] and s["qos"][0] >= s["capacity"][1]  # plan order among loads


def test_a_later_run_never_overtakes_a_conflicting_earlier_one(spans: dict[str, Any]) -> None:
    """The egress test waits for the trace's turn; the load test, though it could start when
    the calls end, waits for the egress test (it conflicts with it and was planned ahead)."""
    plan = [r("call", "call"), r("trace", "paced", contends=ICMP_TIME_EXCEEDED),
            r("egress", "paced", contends=ICMP_TIME_EXCEEDED), r("sweep", exclusive=True)]
    run(plan)
    s = spans
    assert s["sweep"][0] >= s["egress"][1] >= s["trace"][1]


def test_bound_replays_the_schedule() -> None:
    plan = [r("call:a", "call", timeout_s=24.0), r("call:b", "call", timeout_s=18.0),
            r("lldp", "passive", timeout_s=38.0), r("tcp", timeout_s=10.0),
            r("sweep", exclusive=True, timeout_s=12.0)]
    # calls 0-24 beside lldp 0-38; tcp 24-34 beside lldp; sweep after lldp: 38-50
    assert schedule.bound(plan) == pytest.approx(50.0)
    # two turns on one outside resource: the gap between them counts, the last one holds nothing
    turns = [r("trace", "paced", contends=ICMP_TIME_EXCEEDED, timeout_s=5.0),
             r("egress", "paced", contends=ICMP_TIME_EXCEEDED, timeout_s=5.0)]
    assert schedule.bound(turns) == pytest.approx(10.0 + schedule.TURN_GAP_S)
    assert schedule.bound([]) == 0.0


def test_cancelled_run_stops_every_running_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C cancels the runner: no probe task is left running behind it."""
    started: list[asyncio.Task[Any]] = []

    async def probe(spec: Any, ctx: Any) -> Measurement:
        task = asyncio.current_task()
        assert task is not None
        started.append(task)
        await asyncio.sleep(30)
        raise AssertionError("not cancelled")

    monkeypatch.setattr(probes, "get", lambda name: probe)
    monkeypatch.setattr(probes, "prepare", lambda name, specs: asyncio.sleep(0))

    async def main() -> None:
        outer = asyncio.create_task(runner.run_all([r("a", "call"), r("b", "passive")], {}, lambda _e: None))
        await asyncio.sleep(0.1)
        outer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await outer
        assert len(started) == 2 and all(t.done() for t in started)

    asyncio.run(main())


def test_plan_kinds_of_the_shipped_profiles() -> None:
    """Calls are calls (not load tests), LAN listeners passive, the per-hop trace paced
    (one probe per hop per second, beside the calls: tests/integration/test_trace_beside_calls_netlab.py);
    the capacity ramp, QoS test and UDP sweep stay load tests."""
    from netcheck import profile
    from netcheck.plan.runs import Options

    p = profile.load("managed-com-business")
    p = profile_with_hosts(p)
    runs = {x.id: x for x in build(p, Options(gateway="192.0.2.1", responder="192.0.2.9", extensions=10,
                                              interface="eth0"))}
    assert runs["stream:handover"].kind == "call" and not runs["stream:handover"].exclusive
    assert runs["stream:gateway"].kind == "call"
    assert {runs[k].kind for k in ("lldp", "dhcp", "link")} == {"passive"}
    assert runs["path_hops:handover"].kind == "paced"
    # a STUN Binding and an OPTIONS, five datagrams in up to 5.5 s: beside the calls, not
    # ahead of the UDP sweep (it held the sweep back 5.5 s in the 60 s lab run)
    assert runs["sip_alg:options"].kind == "paced" and not runs["sip_alg:options"].contends
    assert all(runs[k].exclusive for k in ("capacity", "qos", "udp:0"))


def profile_with_hosts(p: Any) -> Any:
    from netcheck.plan.core import with_targets

    return with_targets(p, {"handover": "192.0.2.10"})


def test_a_search_the_profile_cannot_judge_is_not_planned_and_plan_says_so() -> None:
    """stimme names no SIP keep-alive or registration interval: the NAT binding-lifetime
    search (up to 3 minutes, its check SKIPPED) is not scheduled, and ``--plan`` says why."""
    from netcheck import profile
    from netcheck.run import inputs, preview

    p = profile.load("stimme")
    view = preview.plan_for(inputs.Request(profile=p))
    assert not [r for r in view.runs if r.id.startswith("stun:lifetime")]
    assert any(n.startswith("NAT UDP binding lifetime: not searched") for n in view.notes)
    assert view.total_s < 180.0  # the 3-minute search used to bound the run
