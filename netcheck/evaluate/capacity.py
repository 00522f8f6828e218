"""Capacity and QoS checks: free bandwidth per extension (up and down) and voice priority.

- ``bandwidth.per_extension``: the requirement per direction (:func:`netcheck.bandwidth.requirement`
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

from netcheck import bandwidth
from netcheck.evaluate._core import REMEDIES, Base, failed, not_measured, remedy, source
from netcheck.profile import PathLimits, Profile
from netcheck.result import Check, Measurement, Site, Status, Value

REMEDIES.update({
    "bandwidth_upgrade": "Free bandwidth is short of the requirement ({need}): upgrade the internet "
    "line, or reserve that bandwidth for voice on the router and move bulk traffic (backups, "
    "updates) out of business hours.",
    "qos_priority": "Configure voice priority on the router: put DSCP EF (46) traffic in a strict "
    "priority queue on the uplink and shape the uplink slightly below the line rate so the queue "
    "forms in the router, not in the modem. {figures}",
})

CAPACITY_ID = "capacity"
QOS_ID = "qos"


def checks(profile: Profile, by_id: dict[str, Measurement], site: Site) -> Iterator[Check]:
    yield from _qos(profile, by_id.get(QOS_ID))
    yield from _bandwidth(profile, by_id.get(CAPACITY_ID), site)


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
    base: Base = dict(id="bandwidth.per_extension", group="capacity", required=stated,
                      unit="kbit/s", source=source(profile, bw.source))
    if site.extensions is None:
        one = bandwidth.requirement(1, per_extension_up_kbps=bw.per_extension_up_kbps,
                                    per_extension_down_kbps=bw.per_extension_down_kbps,
                                    codec=profile.stream.codec, interval_ms=profile.stream.packet_interval_ms)
        yield Check(**base, title=f"free bandwidth {one.up_kbps:g}/{one.down_kbps:g} kbit/s per extension",
                    status=Status.SKIPPED, reason="number of extensions unknown; pass --extensions N")
        return
    need = site_requirement(profile, site, m)
    assert need is not None
    base.update(title=f"free bandwidth for {site.extensions} extensions",
                limit=f">= {need.up_kbps:g} up / {need.down_kbps:g} down kbit/s")
    if m is None:
        yield Check(**base, status=Status.NOT_MEASURED,
                    reason=f"needs {need.up_kbps:g} kbit/s up and {need.down_kbps:g} kbit/s down "
                    f"({'; '.join(need.basis)}); capacity is measured against a netcheck responder "
                    "(--responder), not run")
        return
    base.update(evidence=[m.id], method=m.method)
    if not m.ok:
        yield not_measured(base, "", m)
        return
    yield _judge_bandwidth(base, need, m)


def _direction(m: Measurement, tag: str, need_kbps: float) -> tuple[str, str]:
    """("pass"|"fail"|"open", text) for one direction."""
    v = m.values
    have = _num(v.get(f"capacity_{tag}_kbps"))
    calls = v.get(f"calls_{tag}_max")
    text = f"{tag} {have:g} kbit/s ({calls} calls) for {need_kbps:g} needed"
    if have >= need_kbps:
        return "pass", text
    if v.get(f"calls_{tag}_bound") == "exact":
        failed_at = v.get(f"calls_{tag}_failed_at")
        return "fail", f"{text}; limits left at {failed_at} calls"
    why = "up failed first" if tag == "down" and v.get("calls_up_bound") == "exact" else "time ran out"
    return "open", f"{text}; not proven ({why})"


def _num(value: Value) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _judge_bandwidth(base: Base, need: bandwidth.Requirement, m: Measurement) -> Check:
    up = _direction(m, "up", need.up_kbps)
    down = _direction(m, "down", need.down_kbps)
    per_call = m.values.get("call_kbps")
    reason = (f"carried within limits: {up[1]}, {down[1]} (per call {per_call} kbit/s incl. "
              f"RTP/UDP/IP headers; {'; '.join(need.basis)})")
    measured: Value = min(_num(m.values.get("capacity_up_kbps")), _num(m.values.get("capacity_down_kbps")))
    states = {up[0], down[0]}
    if "fail" in states:
        fix = remedy("bandwidth_upgrade", need=f"{need.up_kbps:g} kbit/s up / {need.down_kbps:g} kbit/s down")
        return failed(base, bool(base["required"]), reason, fix, measured=measured)
    if "open" in states:
        return Check(**base, status=Status.NOT_MEASURED, measured=measured, reason=reason)
    return Check(**base, status=Status.PASS, measured=measured, reason=reason)


# --------------------------------------------------------------------------------------
# QoS: voice priority under load
# --------------------------------------------------------------------------------------


def _path_limits(profile: Profile) -> PathLimits | None:
    return profile.limits.handover or profile.limits.end_to_end


def _qos(profile: Profile, m: Measurement | None) -> Iterator[Check]:
    qos = profile.qos
    if not qos or not (qos.priority_required or qos.voice_dscp is not None):
        return
    base: Base = dict(id="qos.priority", title="voice prioritised over other traffic",
                                   required=qos.priority_required, group="capacity",
                                   source=source(profile, qos.source))
    if m is None:
        yield Check(**base, status=Status.NOT_MEASURED,
                    reason="the QoS test (call under load) needs a netcheck responder (--responder); not run")
        return
    base.update(evidence=[m.id], method=m.method)
    if not m.ok:
        yield not_measured(base, "", m)
        return
    v = m.values
    if not v.get("saturated"):
        yield Check(**base, status=Status.NOT_MEASURED,
                    reason=f"bulk load up to {v.get('bulk_kbps')} kbit/s did not congest the uplink "
                    "(the best-effort canary kept its quality): prioritisation is not proven")
        return
    problems = _voice_problems(v, _path_limits(profile))
    figures = _figures(v)
    if problems:
        fix = remedy("qos_priority", figures=figures)
        yield failed(base, bool(base["required"]), f"voice suffers under load: {', '.join(problems)}; {figures}",
                     fix, measured=v.get("load_voice_loss_pct"))
        return
    yield Check(**base, status=Status.PASS, measured=v.get("load_voice_loss_pct"), unit="%",
                reason=f"voice (DSCP EF) kept its quality while bulk congested the uplink; {figures}")


def _voice_problems(v: dict[str, Value], lim: PathLimits | None) -> list[str]:
    """Which of the profile's limits the loaded voice call broke, and whether it was
    served ahead of the best-effort canary."""
    out: list[str] = []
    checks = (("loss_pct", "load_voice_loss_pct", "loss", "%"), ("jitter_ms", "load_voice_jitter_ms", "jitter", "ms"),
              ("mos", "load_voice_mos", "MOS", ""))
    for attr, key, label, unit in checks:
        limit = getattr(lim, attr, None) if lim else None
        value = v.get(key)
        if limit is not None and isinstance(value, int | float) and not limit.passes(float(value)):
            out.append(f"{label} {value:g}{(' ' + unit) if unit else ''} (limit {limit.describe(unit)})")
    delay_limit = lim.one_way_delay_ms if lim else None
    rtt = v.get("load_voice_rtt_ms")
    if delay_limit is not None and isinstance(rtt, int | float) and not delay_limit.passes(rtt / 2):
        out.append(f"one-way delay {rtt / 2:g} ms (RTT/2; limit {delay_limit.describe('ms')})")
    if v.get("voice_served_first") is False:
        out.append(f"voice queued like bulk (+{v.get('voice_delay_increase_ms')} ms vs best effort "
                   f"+{v.get('canary_delay_increase_ms')} ms)")
    return out


def _figures(v: dict[str, Value]) -> str:
    def fig(prefix: str) -> str:
        return (f"loss {v.get(prefix + '_voice_loss_pct')} %, jitter {v.get(prefix + '_voice_jitter_ms')} ms, "
                f"RTT {v.get(prefix + '_voice_rtt_ms')} ms, MOS {v.get(prefix + '_voice_mos')}")

    return f"without load: {fig('base')}; with {v.get('bulk_kbps')} kbit/s bulk: {fig('load')}"
