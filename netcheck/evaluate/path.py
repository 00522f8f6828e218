"""Path-quality checks: delay, jitter, loss (per window), MOS against the profile's limits.

Internet limits (``end_to_end``, ``handover``) are judged on the measurement towards each
handover target; LAN limits (``layer2``) on the measurement towards the gateway. Which
measurement stands for a path is chosen by :func:`path_measurement`: a stream (STAMP via a
responder) beats ICMP when both exist, because it measures what a call experiences.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from netcheck.analysis.stats import JITTER_STATISTIC
from netcheck.evaluate._core import REMEDIES, Base, base, bound_of, check, judge, msg, not_measured, remedy, source
from netcheck.profile import Limit, PathLimits, Profile, Role
from netcheck.result import PATH_PROBES, Check, Item, Measurement, Msg, Param, Qty, Site, Status, Value
from netcheck.result import Role as TargetName

REMEDIES.update({
    "path_delay": "Reduce delay to {target}: check the internet line's latency with the ISP, "
    "avoid VPN/proxy detours, and give voice priority on the router.",
    "path_jitter": "Reduce jitter to {target}: enable voice prioritisation (DSCP EF / strict "
    "priority queue) on the router and check for an overloaded uplink.",
    "path_loss": "Eliminate packet loss to {target}: check the line for errors and congestion "
    "(per-window loss shows bursts), duplex mismatches and Wi-Fi in the path.",
    "path_mos": "Call quality at {target} is too low: fix the delay, jitter and loss findings "
    "first; consider a more robust codec only afterwards.",
    "lan_delay": "LAN delay to {target} exceeds the layer-2 limit: check switch load, "
    "half-duplex ports and Wi-Fi hops between phone and gateway.",
    "lan_jitter": "LAN jitter to {target} exceeds the layer-2 limit: enable QoS on the access "
    "switches (voice VLAN with priority) and check for congested uplinks.",
    "lan_loss": "Frame loss to {target} in the LAN: check cabling (Cat5e or better), port "
    "errors and duplex settings on the switches.",
    "path_no_answer": "Nothing answered the call to {target} ({methods}): allow UDP 3478 to the "
    "provider's STUN server (or ICMP echo, or SIP to its SBC) through the site firewall, or "
    "measure with a netcheck responder at the far end.",
})


@dataclass(frozen=True)
class Metric:
    """How a profile metric is read off a measurement: value key, unit, remedy kind."""

    key: str
    unit: str
    remedy: str


METRICS: Mapping[str, Metric] = {
    "one_way_delay_ms": Metric("one_way_delay_ms", "ms", "delay"),
    "rtt_ms": Metric("rtt_median_ms", "ms", "delay"),
    "jitter_ms": Metric("jitter_ms", "ms", "jitter"),
    "loss_pct": Metric("loss_pct", "%", "loss"),
    "burst_loss_pct": Metric("burst_loss_pct", "%", "loss"),
    "reorder_pct": Metric("reorder_pct", "%", "loss"),
    "mos": Metric("mos", "", "mos"),
}



def path_measurement(by_id: dict[str, Measurement], key: str) -> Measurement | None:
    """The best successful measurement of path ``key`` (e.g. ``platform`` or ``gateway``),
    else the best failed one (so NOT_MEASURED can say why)."""
    found = [by_id[f"{p}:{key}"] for p in PATH_PROBES if f"{p}:{key}" in by_id]
    return next((m for m in found if m.ok), found[0] if found else None)


def checks(profile: Profile, by_id: dict[str, Measurement], site: Site) -> Iterator[Check]:
    for group_key in ("end_to_end", "handover"):
        limits: PathLimits | None = getattr(profile.limits, group_key)
        if limits is None:
            continue
        for name, target in profile.targets_with_role(Role.HANDOVER):
            where = _Where(name, target.host or "")
            yield from _limit_checks(group_key, limits, path_measurement(by_id, name), where, "path", profile)
    if profile.limits.layer2:
        m = path_measurement(by_id, "gateway")
        where = _Where("gateway", str(m.values.get("address") or m.target) if m else "")
        yield from _limit_checks("layer2", profile.limits.layer2, m, where, "lan", profile)


@dataclass(frozen=True)
class _Where:
    """The far end of a path: profile target name (translated as a role) and address."""

    name: str
    address: str

    def params(self) -> dict[str, Param]:
        target = msg("where.named", name=TargetName(self.name), address=self.address) if self.address \
            else msg("where.name", name=TargetName(self.name))
        return {"target": target}


def _limit_checks(group: str, limits: PathLimits, m: Measurement | None, where: _Where,
                  remedy_prefix: str, profile: Profile) -> Iterator[Check]:
    for metric_name, metric in METRICS.items():
        limit: Limit | None = getattr(limits, metric_name)
        if limit is None:
            continue
        b = base(f"{group}.{metric_name}@{where.name}", "title.path", required=limits.required, group=group,
                 source=source(profile, limit.source or limits.source), path=msg(f"path.{group}"),
                 metric=msg(f"metric.{metric_name}"), **where.params())
        b.update(unit=metric.unit or None, bound=bound_of(limit, metric.unit))
        if m is not None:
            b.update(evidence=[m.id], method=m.method)
        value, note = _metric_value(metric_name, metric, limits, m)
        if value is None:
            yield _no_answer(b, m, where) or not_measured(b, m, note)
            continue
        fix_key = f"{remedy_prefix}_{metric.remedy}"
        fix = remedy(fix_key if fix_key in REMEDIES else f"path_{metric.remedy}", **where.params())
        yield judge(b, limit, float(value), msg(f"metric.{metric_name}"), metric.unit, note, fix)  # type: ignore[arg-type]


def _no_answer(b: Base, m: Measurement | None, where: _Where) -> Check | None:
    """NOT_MEASURED naming every method the call tried (field mode's fall-back chain), so
    the remedy is not "open ICMP" when STUN or SIP could have carried the call."""
    tried = m.values.get("path_methods") if m is not None and not m.ok else None
    if not isinstance(tried, list) or len(tried) < 2:
        return None
    attempts = [t for t in tried if isinstance(t, dict)]
    methods: list[Item] = [msg(f"method.{t.get('method')}") for t in attempts]
    detail = "; ".join(f"{t.get('target')}: {t.get('why_not')}" for t in attempts)
    return check(b, Status.NOT_MEASURED, "reason.path_no_answer", methods=methods, detail=detail,
                 fix=remedy("path_no_answer", methods=methods, **where.params()))


def _metric_value(name: str, metric: Metric, limits: PathLimits, m: Measurement | None) -> tuple[Value, Msg | None]:
    """The measured value for a metric, and a note on how it was obtained."""
    if m is None or not m.ok:
        return None, None
    if name == "loss_pct" and m.values.get("loss_pct") is not None:
        return _loss_value(limits, m)
    if name == "jitter_ms" and m.values.get("jitter_ms") is not None:
        return m.values["jitter_ms"], _jitter_note(m)
    if name == "one_way_delay_ms" and m.probe == "icmp":
        return m.values.get(metric.key), msg("note.rtt_half")
    if name == "one_way_delay_ms" and m.values.get("one_way_delay_estimated"):
        return m.values.get(metric.key), msg("note.rtt_half_method", method=msg(f"method.{m.method}"),
                                             confidence=msg(f"confidence.{m.confidence}"))
    if name == "mos" and m.values.get("mos") is not None:
        return m.values["mos"], msg("note.emodel", codec=str(m.values.get("codec")), method=msg(f"method.{m.method}"))
    if m.values.get(metric.key) is None:
        return None, msg("reason.metric_not_measured", metric=msg(f"metric.{name}"), method=msg(f"method.{m.method}"))
    return m.values.get(metric.key), None


#: The directions a stream names (``_stream_analysis``): catalogue ``note.dir.<name>``.
DIRECTIONS = ("upstream", "downstream", "round_trip")


def _direction(value: Value) -> Msg | None:
    name = str(value).replace(" ", "_") if value else ""
    return msg(f"note.dir.{name}") if name in DIRECTIONS else None


def _joined(parts: list[Msg]) -> Msg | None:
    """Several notes as one: "a; b; c" (``note.pair`` nested)."""
    if not parts:
        return None
    out = parts[-1]
    for part in reversed(parts[:-1]):
        out = msg("note.pair", a=part, b=out)
    return out


def _num(value: Value) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _jitter_note(m: Measurement) -> Msg | None:
    """Which jitter statistic was judged (the probe names it; RFC 3550 section 6.4.1), with
    the running estimate's maximum and final value beside it."""
    v = m.values
    if v.get("jitter_statistic") == JITTER_STATISTIC:
        parts = [msg("note.jitter_p95")]
        direction = _direction(v.get("jitter_direction"))
        if direction is not None and v.get("jitter_direction") != "round trip":
            parts.append(direction)
        top, final = _num(v.get("jitter_max_ms")), _num(v.get("jitter_final_ms"))
        if top is not None and final is not None:
            parts.append(msg("note.jitter_max_final", max=Qty(top, "ms"), final=Qty(final, "ms")))
        return _joined(parts)
    if v.get("jitter_statistic"):
        return msg("note.jitter_mean_d")
    return None


def _loss_value(limits: PathLimits, m: Measurement) -> tuple[Value, Msg | None]:
    """Loss on the worst sliding window when the profile gives one ("in a 10 s interval"),
    else over the call; with where that window was, the jitter-buffer (late) loss beside the
    network loss, and the MOS when the profile has no MOS limit to show it."""
    v = m.values
    value: Value = v.get("loss_pct")
    parts: list[Msg] = []
    if limits.loss_window_s and v.get("loss_worst_window_pct") is not None:
        value = v["loss_worst_window_pct"]
        parts.append(msg("note.worst_window", seconds=Qty(limits.loss_window_s, "s")))
        start, end = _num(v.get("loss_worst_window_start_s")), _num(v.get("loss_worst_window_end_s"))
        if start is not None and end is not None:
            direction = _direction(v.get("loss_worst_window_direction"))
            at = dict(start=Qty(start, "s"), end=Qty(end, "s"))
            parts.append(msg("note.window_at_dir", dir=direction, **at) if direction else msg("note.window_at", **at))
    late = _num(v.get("late_pct"))
    if late is not None:
        buffer = _num(v.get("jitter_buffer_ms"))
        parts.append(msg("note.late", buffer=Qty(buffer, "ms"), pct=Qty(late, "%")) if buffer is not None
                     else msg("note.late_buffer", pct=Qty(late, "%")))
    mos = _num(v.get("mos"))
    if limits.mos is None and mos is not None:
        parts.append(msg("note.mos_info", mos=Qty(mos, "")))
    return value, _joined(parts)
