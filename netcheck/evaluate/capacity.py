"""Capacity and QoS checks: free bandwidth per extension (up and down) and voice priority.

- ``bandwidth.per_extension``: the requirement per direction (:func:`netcheck.analysis.bandwidth.requirement`
  from ``--extensions``, the package mix and the concurrency ratio, as the run recorded it) against what the
  call-load ramp (probe ``capacity``) carried within the limits. Both directions must
  hold; one that failed is a FAIL, one that was not proven (no responder, time ran out,
  down capped by a weaker up) is NOT_MEASURED.
- ``qos.priority``: the QoS probe's voice call under bulk load. PASS only when the line was
  shown to be congested (the best-effort canary suffered) and voice stayed within the
  profile's limits and was served first; without congestion nothing is proven.
"""

from __future__ import annotations

from collections.abc import Iterator

from netcheck import ids
from netcheck.analysis import bandwidth
from netcheck.evaluate._core import (
    REMEDIES,
    Base,
    base,
    bound_msg,
    bound_of,
    check,
    failed,
    msg,
    not_measured,
    remedy,
    source,
)
from netcheck.profile import PathLimits, Profile
from netcheck.result import Check, Item, Measurement, Msg, Param, Qty, Site, Status, Value

REMEDIES.update({
    "bandwidth_upgrade": "Free bandwidth is short of the requirement ({need}): upgrade the internet "
    "line, or reserve that bandwidth for voice on the router and move bulk traffic (backups, "
    "updates) out of business hours.",
    "qos_priority": "Configure voice priority on the router: put DSCP EF (46) traffic in a strict "
    "priority queue on the uplink and shape the uplink slightly below the line rate so the queue "
    "forms in the router, not in the modem. {figures}",
})


def checks(profile: Profile, by_id: dict[str, Measurement], site: Site) -> Iterator[Check]:
    yield from _qos(profile, by_id.get(ids.QOS))
    yield from _bandwidth(profile, by_id.get(ids.CAPACITY), site)


# --------------------------------------------------------------------------------------
# Bandwidth per extension
# --------------------------------------------------------------------------------------


def site_requirement(profile: Profile, site: Site, m: Measurement | None) -> bandwidth.Requirement | None:
    """What the site needs each way: as the capacity run recorded it (it knew the package
    mix and concurrency ratio), else from the profile and ``site.extensions`` alone."""
    bw = profile.bandwidth
    if bw is None or site.extensions is None:
        return None
    v = m.values if m is not None else {}
    up, down = v.get("required_up_kbps"), v.get("required_down_kbps")
    if isinstance(up, int | float) and isinstance(down, int | float):
        basis = tuple(str(b) for b in v.get("requirement_basis") or ())  # type: ignore[union-attr]
        per_call = _num(v.get("call_kbps"))
        return bandwidth.Requirement(float(up), float(down), site.extensions, per_call, basis)
    return bandwidth.requirement(
        site.extensions, per_extension_up_kbps=bw.per_extension_up_kbps,
        per_extension_down_kbps=bw.per_extension_down_kbps,
        codec=profile.stream.codec, interval_ms=profile.stream.packet_interval_ms)


def _bandwidth(profile: Profile, m: Measurement | None, site: Site) -> Iterator[Check]:
    bw = profile.bandwidth
    if bw is None:
        return
    # required where the provider states free bandwidth per extension (VSE NET); a profile
    # that only names package media rates (stimme) is sized and measured, but informs
    stated = bw.per_extension_up_kbps is not None or bw.per_extension_down_kbps is not None
    src = source(profile, bw.source)
    if site.extensions is None:
        one = bandwidth.requirement(1, per_extension_up_kbps=bw.per_extension_up_kbps,
                                    per_extension_down_kbps=bw.per_extension_down_kbps,
                                    codec=profile.stream.codec, interval_ms=profile.stream.packet_interval_ms)
        b = base("bandwidth.per_extension", "title.bandwidth.per_extension", required=stated, group="capacity",
                 source=src, up=Qty(one.up_kbps, "kbit/s"), down=Qty(one.down_kbps, "kbit/s"))
        yield check({**b, "unit": "kbit/s"}, Status.SKIPPED, "reason.extensions_unknown")
        return
    need = site_requirement(profile, site, m)
    assert need is not None
    b = base("bandwidth.per_extension", "title.bandwidth.extensions", required=stated, group="capacity",
             source=src, n=site.extensions, up=Qty(need.up_kbps, "kbit/s"), down=Qty(need.down_kbps, "kbit/s"),
             basis=_basis(need))
    b.update(unit="kbit/s", limit_key="limit.bandwidth")
    if m is None:
        yield check(b, Status.NOT_MEASURED, "reason.bandwidth_needs_responder")
        return
    b.update(evidence=[m.id], method=m.method)
    if not m.ok:
        yield not_measured(b, m)
        return
    yield _judge_bandwidth(b, need, m)


def _basis(need: bandwidth.Requirement) -> Msg:
    """How the requirement was sized, typed (the probe's English ``requirement_basis`` lines
    stay in the measurement for the appendix)."""
    return msg("capacity.basis", calls=need.voice_calls, per_call=Qty(need.per_call_kbps, "kbit/s"))


def _direction(m: Measurement, tag: str, need_kbps: float) -> tuple[str, Msg]:
    """("pass"|"fail"|"quality"|"open"|"field", phrase) for one direction; "quality": not even
    the first step stayed within the call-quality limits, so no bandwidth figure exists;
    "field": a direction no field method loads (STUN answers are small)."""
    v = m.values
    if v.get(f"calls_{tag}_bound") == "not_measured":  # field mode: STUN answers load nothing down
        return "field", msg("capacity.direction_not_measured", direction=msg(f"direction.{tag}"),
                           need=Qty(need_kbps, "kbit/s"), method=msg(f"method.{m.method}"))
    have = _num(v.get(f"capacity_{tag}_kbps"))
    calls = v.get(f"calls_{tag}_max")
    text: dict[str, Param] = dict(direction=msg(f"direction.{tag}"), have=Qty(have, "kbit/s"),
                                  calls=calls if isinstance(calls, int) else 0, need=Qty(need_kbps, "kbit/s"))
    if have >= need_kbps:
        return "pass", msg("capacity.direction", **text)
    first = first_step(m)
    if calls == 0 and first is not None and first.get(f"problems_{tag}"):
        return "quality", _first_step_figures(first, tag)
    if v.get(f"calls_{tag}_bound") == "exact":
        failed_at = v.get(f"calls_{tag}_failed_at")
        return "fail", msg("capacity.direction_failed", failed_at=failed_at if isinstance(failed_at, int) else 0,
                           **text)
    why = "up_first" if tag == "down" and v.get("calls_up_bound") == "exact" else "time"
    return "open", msg("capacity.direction_open", why=msg(f"capacity.open_{why}"), **text)


def first_step(m: Measurement) -> dict[str, Value] | None:
    """The ramp's first step (``capacity.Step.as_value``), None without steps."""
    steps = m.values.get("steps")
    if not isinstance(steps, list) or not steps or not isinstance(steps[0], dict):
        return None
    return steps[0]


def _first_step_figures(step: dict[str, Value], tag: str) -> Msg:
    """What the first step measured in direction ``tag``: loss, jitter (the whole-call
    statistic of its worst call), MOS."""
    calls = step.get("calls")
    return msg("capacity.first_step", direction=msg(f"direction.{tag}"), calls=calls if isinstance(calls, int) else 0,
               loss=Qty(_num(step.get(f"loss_{tag}_pct")), "%"), jitter=Qty(_num(step.get(f"jitter_{tag}_ms")), "ms"),
               mos=Qty(_num(step.get(f"mos_{tag}")), ""))


def _num(value: Value) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _judge_bandwidth(b: Base, need: bandwidth.Requirement, m: Measurement) -> Check:
    up = _direction(m, "up", need.up_kbps)
    down = _direction(m, "down", need.down_kbps)
    per_call = m.values.get("call_kbps")
    params: dict[str, Param] = dict(up_text=up[1], down_text=down[1],
                                    per_call=Qty(_num(per_call), "kbit/s"))
    known = [_num(x) for t in ("up", "down") if isinstance(x := m.values.get(f"capacity_{t}_kbps"), int | float)]
    measured: Value = min(known, default=None)
    # "field": a direction no field method can load (STUN answers are small); the run's scope
    # lists it as not proven without a responder, and the check stands on the other direction
    states = {up[0], down[0]} - {"field"}
    if "quality" in states:
        first: list[Item] = [text for state, text in (up, down) if state == "quality"]
        fix = remedy("capacity_quality", figures=first)
        return failed(b, bool(b["required"]), "reason.bandwidth_quality_first", fix, measured=measured,
                      params={**params, "first": first})
    if "fail" in states:
        fix = remedy("bandwidth_upgrade", need=msg("capacity.need_both", up=Qty(need.up_kbps, "kbit/s"),
                                                   down=Qty(need.down_kbps, "kbit/s")))
        return failed(b, bool(b["required"]), "reason.bandwidth", fix, measured=measured, params=params)
    status = Status.NOT_MEASURED if "open" in states else Status.PASS
    return check(b, status, "reason.bandwidth", measured=measured, params=params)


# --------------------------------------------------------------------------------------
# QoS: voice priority under load
# --------------------------------------------------------------------------------------


def _path_limits(profile: Profile) -> PathLimits | None:
    return profile.limits.handover or profile.limits.end_to_end


def _qos(profile: Profile, m: Measurement | None) -> Iterator[Check]:
    qos = profile.qos
    if not qos or not (qos.priority_required or qos.voice_dscp is not None):
        return
    b = base("qos.priority", "title.qos.priority", required=qos.priority_required, group="capacity",
             source=source(profile, qos.source))
    if m is None:
        yield check(b, Status.NOT_MEASURED, "reason.qos_needs_responder")
        return
    b.update(evidence=[m.id], method=m.method)
    if not m.ok:
        yield not_measured(b, m)
        return
    v = m.values
    if not v.get("saturated"):
        yield check(b, Status.NOT_MEASURED, "reason.qos_not_congested", bulk=Qty(_num(v.get("bulk_kbps")), "kbit/s"))
        return
    problems = _voice_problems(v, _path_limits(profile))
    figures = _figures(v)
    if problems:
        fix = remedy("qos_priority", figures=figures)
        yield failed(b, bool(b["required"]), "reason.qos_suffers", fix, measured=v.get("load_voice_loss_pct"),
                     problems=problems, figures=figures)
        return
    yield check({**b, "unit": "%"}, Status.PASS, "reason.qos_kept", measured=v.get("load_voice_loss_pct"),
                figures=figures)


def _voice_problems(v: dict[str, Value], lim: PathLimits | None) -> list[Item]:
    """Which of the profile's limits the loaded voice call broke, and whether it was
    served ahead of the best-effort canary."""
    out: list[Item] = []
    checks = (("loss_pct", "load_voice_loss_pct", "%"), ("jitter_ms", "load_voice_jitter_ms", "ms"),
              ("mos", "load_voice_mos", ""))
    for attr, key, unit in checks:
        limit = getattr(lim, attr, None) if lim else None
        value = v.get(key)
        if limit is not None and isinstance(value, int | float) and not limit.passes(float(value)):
            out.append(msg("qos.problem", metric=msg(f"metric.{attr}"), value=Qty(float(value), unit),
                           limit=bound_msg(bound_of(limit, unit))))
    delay_limit = lim.one_way_delay_ms if lim else None
    rtt = v.get("load_voice_rtt_ms")
    if delay_limit is not None and isinstance(rtt, int | float) and not delay_limit.passes(rtt / 2):
        out.append(msg("qos.problem_delay", value=Qty(rtt / 2, "ms"), limit=bound_msg(bound_of(delay_limit, "ms"))))
    if v.get("voice_served_first") is False:
        out.append(msg("qos.queued_like_bulk", voice=Qty(_num(v.get("voice_delay_increase_ms")), "ms"),
                       canary=Qty(_num(v.get("canary_delay_increase_ms")), "ms")))
    return out


def _figures(v: dict[str, Value]) -> Msg:
    def fig(prefix: str) -> Msg:
        def q(key: str, unit: str) -> Param:
            value = v.get(f"{prefix}_voice_{key}")
            return Qty(float(value), unit) if isinstance(value, int | float) else "?"

        return msg("qos.figures", loss=q("loss_pct", "%"), jitter=q("jitter_ms", "ms"), rtt=q("rtt_ms", "ms"),
                   mos=q("mos", ""))

    return msg("qos.with_without", base=fig("base"), load=fig("load"), bulk=Qty(_num(v.get("bulk_kbps")), "kbit/s"))
