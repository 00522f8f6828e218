"""The capacity ramp's search (geometric, then bisection, per direction) on a seeded link
model, and the capacity/QoS checks on measurements with known values."""

from __future__ import annotations

import math

from netcheck import evaluate
from netcheck import profile as prof
from netcheck.probes.capacity import Direction, Limits, Ramp, Step
from netcheck.result import Measurement, Site, Status


def _dir(loss: float) -> Direction:
    return Direction(
        sent=100,
        lost=round(loss),
        late=0,
        loss_pct=loss,
        jitter_ms=0.1,
        jitter_max_ms=0.1,
        jitter_mean_ms=0.1,
        queue_growth_ms=0.0,
        delay_median_ms=1.0,
        mos=4.3,
    )


def _step(n: int, up_cap: int, down_cap: int) -> Step:
    """A link that carries ``up_cap`` calls up and ``down_cap`` down (loss beyond)."""
    up_loss = 0.0 if n <= up_cap else 100.0 * (n - up_cap) / n
    arriving = min(n, up_cap)  # the reflector returns only what came up
    down_loss = 0.0 if arriving <= down_cap else 100.0 * (arriving - down_cap) / arriving
    up, down = _dir(up_loss), _dir(down_loss)
    lim = Limits()
    return Step(n, 1.0, up, down, 1.0, 0.1, tuple(up.problems(lim)), tuple(down.problems(lim)))


def _search(up_cap: int, down_cap: int, target: int, start: int = 2) -> Ramp:
    ramp = Ramp(target=target, start=start)
    for _ in range(40):  # bounded: the ramp must finish well before
        n = ramp.next_calls()
        if n is None:
            return ramp
        ramp.record(_step(n, up_cap, down_cap))
    raise AssertionError("ramp did not finish")


def test_ramp_finds_the_limit_within_5_percent() -> None:
    for cap in (11, 23, 46, 70):
        ramp = _search(cap, cap, target=100)
        assert ramp.up.hi is not None and cap - max(1, math.floor(cap * 0.05)) <= ramp.up.lo <= cap
        assert len(ramp.steps) <= 12
        assert max(s.calls for s in ramp.steps) <= 2 * cap + 2  # never far beyond the limit


def test_ramp_stops_at_the_target() -> None:
    ramp = _search(500, 500, target=40)
    assert [s.calls for s in ramp.steps] == [2, 4, 8, 16, 32, 40]
    assert ramp.up.lo == ramp.down.lo == 40


def test_down_slower_than_up_is_measured_both_ways() -> None:
    ramp = _search(up_cap=46, down_cap=11, target=100)
    assert ramp.down.lo == 11 and ramp.down.hi == 12
    assert 44 <= ramp.up.lo <= 46


def test_down_capped_by_a_slower_up_is_a_lower_bound() -> None:
    ramp = _search(up_cap=11, down_cap=46, target=100)
    assert ramp.up.lo == 11 and ramp.down.capped and ramp.down.lo == 11


def _m(mid: str, probe: str, values: dict[str, object]) -> Measurement:
    return Measurement(
        id=mid,
        probe=probe,
        target="198.18.0.2",
        method="stamp-load",
        started_utc="2026-01-01T00:00:00Z",
        duration_s=1.0,
        values=values,
    )  # type: ignore[arg-type]


def _cap_values(
    up: int, down: int, bound_up: str = "exact", bound_down: str = "exact"
) -> dict[str, object]:
    return {
        "call_kbps": 80.0,
        "required_up_kbps": 2500.0,
        "required_down_kbps": 2500.0,
        "requirement_basis": ["25 extensions x 100/100 kbit/s (profile)"],
        "calls_up_max": up,
        "capacity_up_kbps": up * 80.0,
        "calls_up_bound": bound_up,
        "calls_up_failed_at": up + 1,
        "calls_down_max": down,
        "capacity_down_kbps": down * 80.0,
        "calls_down_bound": bound_down,
        "calls_down_failed_at": None,
    }


def _check(
    cid: str, *ms: Measurement, site: Site | None = None, name: str = "managed-com-business"
):  # type: ignore[no-untyped-def]
    p = prof.load(name)
    return next(
        c for c in evaluate.evaluate(p, list(ms), site or Site(extensions=25)) if c.id == cid
    )


def test_bandwidth_pass_fail_and_open() -> None:
    ok = _check(
        "bandwidth.per_extension",
        _m("capacity", "capacity", _cap_values(40, 40, "at_least", "at_least")),
    )
    assert ok.status is Status.PASS and ok.measured == 3200.0
    short = _check(
        "bandwidth.per_extension",
        _m("capacity", "capacity", _cap_values(23, 23, "exact", "at_least")),
    )
    assert short.status is Status.FAIL and short.remediation is not None
    assert (
        short.remediation.key == "bandwidth_upgrade" and "2,500 kbit/s up" in short.remediation.text
    )
    assert "up 1,840 kbit/s (23 calls) for 2,500 kbit/s needed" in short.reason
    open_ = _check(
        "bandwidth.per_extension",
        _m("capacity", "capacity", _cap_values(40, 23, "at_least", "at_least")),
    )
    assert open_.status is Status.NOT_MEASURED  # down not proven (time ran out): never PASS


def test_bandwidth_without_responder_is_not_measured() -> None:
    c = _check("bandwidth.per_extension")
    assert c.status is Status.NOT_MEASURED and c.limit == "≥ 2,500 kbit/s up / 2,500 kbit/s down"
    stimme = _check("bandwidth.per_extension", site=Site(extensions=10), name="stimme")
    assert stimme.status is Status.NOT_MEASURED and stimme.limit == "≥ 800 kbit/s up / 800 kbit/s down"
    assert not stimme.required  # stimme names package rates, not a free-bandwidth prerequisite


def _qos_values(served_first: bool, loss: float, saturated: bool = True) -> dict[str, object]:
    return {
        "saturated": saturated,
        "bulk_kbps": 2000,
        "voice_served_first": served_first,
        "voice_delay_increase_ms": 0.1 if served_first else 131.2,
        "canary_delay_increase_ms": 120.5,
        "base_voice_loss_pct": 0.0,
        "base_voice_jitter_ms": 0.01,
        "base_voice_rtt_ms": 0.2,
        "base_voice_mos": 4.36,
        "load_voice_loss_pct": loss,
        "load_voice_jitter_ms": 2.5,
        "load_voice_rtt_ms": 131.4,
        "load_voice_mos": 4.36 if loss == 0 else 1.2,
    }


def test_qos_priority() -> None:
    good = _check("qos.priority", _m("qos", "qos", _qos_values(True, 0.0)))
    assert good.status is Status.PASS
    bad = _check("qos.priority", _m("qos", "qos", _qos_values(False, 76.8)))
    assert bad.status is Status.FAIL and bad.remediation and bad.remediation.key == "qos_priority"
    assert "loss 76.8 %" in bad.reason and "without load: loss 0 %" in bad.reason
    idle = _check("qos.priority", _m("qos", "qos", _qos_values(True, 0.0, saturated=False)))
    assert idle.status is Status.NOT_MEASURED and "did not congest" in idle.reason
    none = _check("qos.priority")
    assert none.status is Status.NOT_MEASURED and "--responder" in none.reason


def test_first_step_failing_on_quality_points_at_quality_not_the_line() -> None:
    """The ramp's first step (2 calls) already broke the jitter limit (stimme/VSE NET 20 ms):
    no bandwidth was carried within the limits, so "upgrade the line" would be wrong; the
    check says the quality fails first and points at the path findings."""
    lim = Limits(max_jitter_ms=20.0)
    jittery = Direction(sent=300, lost=0, late=0, loss_pct=0.0, jitter_ms=27.7, jitter_max_ms=31.0,
                        jitter_mean_ms=27.7, queue_growth_ms=0.0, delay_median_ms=5.0, mos=4.1)
    step = Step(calls=2, seconds=3.0, up=jittery, down=_dir(0.0), rtt_median_ms=10.0, send_error_p99_ms=0.1,
                problems_up=tuple(jittery.problems(lim)), problems_down=())
    values = {**_cap_values(0, 40, "exact", "at_least"), "steps": [step.as_value()]}
    check = _check("bandwidth.per_extension", _m("capacity", "capacity", values))
    assert check.status is Status.FAIL and check.remediation is not None
    assert check.remediation.key == "capacity_quality"
    assert "up: first step of 2 calls: loss 0 %, jitter 27.7 ms" in check.remediation.text
    assert "quality fails first" in check.reason and "upgrade" not in check.reason
