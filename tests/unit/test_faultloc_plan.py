"""The plan: a per-hop trace per handover target, the own-link probe always, latency under
load only with an iperf3 server (and then alone: it saturates the line)."""

from __future__ import annotations

from netcheck import profile as prof
from netcheck.plan import core as plan
from netcheck.profile import Role
from netcheck.result import Value


def test_hop_runs_follow_the_handover_targets() -> None:
    p = prof.load("managed-com-business")
    runs = {r.id: r for r in plan.build(p, plan.Options(gateway="192.168.10.1"))}
    handover = [name for name, t in p.targets_with_role(Role.HANDOVER) if t.host]
    assert handover and all(f"path_hops:{n}" in runs for n in handover)
    trace = runs[f"path_hops:{handover[0]}"]
    assert trace.spec.dscp == p.stream.dscp and trace.spec.gateway == "192.168.10.1"
    assert trace.timeout_s >= trace.spec.rounds * trace.spec.interval_s + trace.spec.wait_s
    assert "local_link" in runs and "bufferbloat" not in runs
    quick = {r.id: r for r in plan.build(p, plan.Options(quick=True))}
    assert quick[f"path_hops:{handover[0]}"].spec.rounds < trace.spec.rounds


def test_bufferbloat_only_with_iperf3_and_exclusive() -> None:
    p = prof.load("managed-com-business")
    run = {r.id: r for r in plan.build(p, plan.Options(iperf3="198.51.100.7:5209"))}["bufferbloat"]
    assert run.exclusive and (run.spec.load_host, run.spec.load_port) == ("198.51.100.7", 5209)
    assert run.timeout_s >= run.spec.idle_s + 2 * run.spec.load_s


def test_the_trace_never_outlasts_its_calls() -> None:
    """One probe per hop per second for as long as the call lasts: the demo's 5 s quick
    call gets a 5-round trace (not 10: that made the quick run 9 s), a 10 s call 10."""
    p = prof.load("demo")
    for quick, call_s in ((True, p.stream.quick_duration_s), (False, p.stream.duration_s)):
        runs = {r.id: r for r in plan.build(p, plan.Options(quick=quick))}
        trace, call = runs["path_hops:platform"].spec, runs["stream:platform"].spec
        assert call.duration_s == call_s and trace.rounds == int(call_s)
        assert (trace.rounds - 1) * trace.interval_s < call.duration_s


def test_a_short_trace_is_medium_confidence() -> None:
    """Fewer probes per hop than pathseg.FULL_ROUNDS tell only heavy loss from noise."""
    from netcheck.probes import path_hops

    def trace(reached: bool, *sent: int) -> dict[str, Value]:
        return {"reached": reached, "hops": [{"ttl": i + 1, "sent": n} for i, n in enumerate(sent)]}

    assert path_hops._confidence(trace(True, 10, 10)) == "high"
    assert path_hops._confidence(trace(True, 5, 5)) == "medium"
    assert path_hops._confidence(trace(True, 30, 4)) == "medium"  # a hop cut short by the deadline
    assert path_hops._confidence(trace(False, 30, 30)) == "medium"
