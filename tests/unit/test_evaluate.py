"""Evaluation and verdict rules (ARCHITECTURE.md, Contracts): NOT_MEASURED never passes, a
required unmeasured check means INCOMPLETE, any FAIL means NO-GO, every FAIL has a fix."""

from __future__ import annotations

import pytest

from netcheck import evaluate
from netcheck import profile as prof
from netcheck.result import Check, ErrorKind, Measurement, ProbeError, Site, Status, Verdict


def _m(id: str, probe: str, values: dict, error: ProbeError | None = None) -> Measurement:  # type: ignore[type-arg]
    return Measurement(id=id, probe=probe, target="t", method=probe, started_utc="2026-01-01T00:00:00Z",
                       duration_s=1.0, values=values, error=error)


def _c(status: Status, required: bool = True) -> Check:
    return Check(id=f"x.{status}", title="x", status=status, required=required, reason="r")


@pytest.mark.parametrize(("statuses", "expected"), [
    ([(Status.PASS, True)], Verdict.GO),
    ([(Status.PASS, True), (Status.WARN, True)], Verdict.GO),
    ([(Status.PASS, True), (Status.NOT_MEASURED, True)], Verdict.INCOMPLETE),
    ([(Status.PASS, True), (Status.SKIPPED, True)], Verdict.INCOMPLETE),
    ([(Status.PASS, True), (Status.NOT_MEASURED, False)], Verdict.GO),
    ([(Status.NOT_MEASURED, True), (Status.FAIL, True)], Verdict.NO_GO),
    ([(Status.PASS, True), (Status.FAIL, False)], Verdict.NO_GO),
    ([], Verdict.GO),
])
def test_verdict_rules(statuses: list[tuple[Status, bool]], expected: Verdict) -> None:
    assert evaluate.verdict([_c(s, r) for s, r in statuses]) is expected


def test_exit_codes() -> None:
    assert (Verdict.GO.exit_code, Verdict.NO_GO.exit_code, Verdict.INCOMPLETE.exit_code) == (0, 1, 3)


def _stimme_measurements(rtt_median: float, jitter: float, loss: float) -> list[Measurement]:
    icmp = _m("icmp:platform", "icmp", {"rtt_median_ms": rtt_median, "one_way_delay_ms": rtt_median / 2,
                                        "jitter_ms": jitter, "loss_pct": loss, "received": 10})
    tcp = [_m(f"tcp:{i}", "tcp_ports", {"open": ["1"], "counts": {"open": 1}, "ports_total": 1,
                                        "connect_median_ms": 1.0}) for i in range(12)]
    return [icmp, *tcp]


def test_stimme_path_limits_judged_with_the_providers_comparators() -> None:
    """stimme: delay <= 150 ms (one-way, here RTT/2 from ICMP), jitter <= 20 ms, loss < 1 %."""
    p = prof.load("stimme")
    checks = {c.id: c for c in evaluate.evaluate(p, _stimme_measurements(300.0, 20.0, 1.0))}
    assert checks["end_to_end.one_way_delay_ms@platform"].status is Status.PASS  # 150 <= 150
    assert checks["end_to_end.jitter_ms@platform"].status is Status.PASS  # 20 <= 20
    loss = checks["end_to_end.loss_pct@platform"]
    assert loss.status is Status.FAIL and loss.measured == 1.0  # 1 % is not below 1 %
    assert loss.remediation is not None and loss.remediation.key == "path_loss"
    assert "RTT/2" in checks["end_to_end.one_way_delay_ms@platform"].reason


def test_every_fail_has_a_remediation() -> None:
    p = prof.load("stimme")
    checks = evaluate.evaluate(p, _stimme_measurements(400.0, 50.0, 5.0))
    fails = [c for c in checks if c.status is Status.FAIL]
    assert len(fails) == 3
    assert all(c.remediation and c.remediation.text for c in fails)


def test_unmeasured_required_check_is_never_pass_and_blocks_go() -> None:
    """ICMP without permission: the path checks are NOT_MEASURED with the fix to grant."""
    p = prof.load("stimme")
    denied = _m("icmp:platform", "icmp", {}, ProbeError(kind=ErrorKind.PERMISSION, detail="no raw sockets"))
    ms = [denied, *_stimme_measurements(10, 1, 0)[1:]]
    checks = evaluate.evaluate(p, ms)
    path = [c for c in checks if c.group == "end_to_end"]
    assert {c.status for c in path} == {Status.NOT_MEASURED}
    assert all(c.remediation and c.remediation.key == "icmp_permission" for c in path)
    assert evaluate.verdict(checks) is Verdict.INCOMPLETE


def test_udp_ranges_are_not_measured_without_a_responder() -> None:
    p = prof.load("stimme")
    checks = {c.id: c for c in evaluate.evaluate(p, _stimme_measurements(10, 1, 0))}
    assert checks["port.udp.16384-32767@platform"].status is Status.NOT_MEASURED
    assert evaluate.verdict(list(checks.values())) is Verdict.INCOMPLETE


def test_optional_row_not_met_is_warn_and_host_missing_is_skipped() -> None:
    p = prof.load("stimme")
    checks = {c.id: c for c in evaluate.evaluate(p, _stimme_measurements(10, 1, 0))}
    assert checks["port.tcp.5061@sip_trunk"].status is Status.SKIPPED
    assert "--target sip_trunk=HOST" in checks["port.tcp.5061@sip_trunk"].reason


def test_blocked_tcp_port_fails_with_the_states_found() -> None:
    p = prof.load("stimme")
    ms = _stimme_measurements(10, 1, 0)
    ms[1] = _m("tcp:0", "tcp_ports", {"filtered": ["443"], "counts": {"filtered": 1}, "ports_total": 1})
    check = next(c for c in evaluate.evaluate(p, ms) if c.id == "port.tcp.443@platform")
    assert check.status is Status.FAIL
    assert check.remediation is not None
    assert "443" in check.remediation.text and "46.189.64.189" in check.remediation.text
    assert "filtered 443" in check.reason


def test_loss_is_judged_on_the_worst_window() -> None:
    """VSE NET: '< 1 % (in a 10 s burst interval)' — 0.4 % overall with one 2 % window fails."""
    p = prof.load("managed-com-business")
    m = _m("icmp:handover", "icmp", {"rtt_median_ms": 20.0, "jitter_ms": 1.0, "loss_pct": 0.4,
                                     "loss_worst_window_pct": 2.0, "received": 100})
    check = next(c for c in evaluate.evaluate(p, [m]) if c.id == "handover.loss_pct@handover")
    assert check.status is Status.FAIL and check.measured == 2.0
    assert "10 s window" in check.reason


def test_warn_margin_passes_with_warn() -> None:
    from netcheck.plan.core import with_targets

    p = with_targets(prof.load("generic-voip"), {"handover": "127.0.0.1"})
    m = _m("icmp:handover", "icmp", {"one_way_delay_ms": 120.0, "jitter_ms": 5.0, "loss_pct": 0.0,
                                     "loss_worst_window_pct": 0.0, "received": 10})
    checks = {c.id: c for c in evaluate.evaluate(p, [m])}
    delay = checks["end_to_end.one_way_delay_ms@handover"]
    assert delay.status is Status.WARN and "close to the limit" in delay.reason  # warn at 100 ms


def test_bandwidth_needs_extensions() -> None:
    p = prof.load("managed-com-business")
    skipped = next(c for c in evaluate.evaluate(p, []) if c.id == "bandwidth.per_extension")
    assert skipped.status is Status.SKIPPED and skipped.required
    needed = next(c for c in evaluate.evaluate(p, [], Site(extensions=25)) if c.id == "bandwidth.per_extension")
    assert needed.status is Status.NOT_MEASURED and needed.limit == "≥ 2,500 kbit/s up / 2,500 kbit/s down"
