"""Judge: measurements + profile limits -> checks -> verdict. Pure functions, no I/O.

Rules (ARCHITECTURE.md, Contracts):
- a check whose measurement is missing or failed is NOT_MEASURED, never PASS;
- an optional requirement that is not met is a WARN (it informs), a required one a FAIL;
- verdict: any FAIL -> NO-GO; else GO only if every required check is PASS or WARN;
  else INCOMPLETE. So a required check that could not be measured can never give GO.
Every FAIL carries a remediation from :data:`REMEDIES`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from netcheck.profile import Limit, PathLimits, Profile, Role
from netcheck.result import Check, ErrorKind, Measurement, Remedy, Status, Value, Verdict

#: Remediation catalogue (English); reports translate by key. Params in braces.
REMEDIES: dict[str, str] = {
    "dns_fail": "Make {host} resolvable from this site: check the DNS servers handed out by DHCP "
    "and that outbound DNS (UDP/TCP 53) is allowed.",
    "tcp_blocked": "Allow outbound TCP {port} to {host} ({purpose}) on the firewall/proxy; "
    "found: {found}.",
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
    "path_unreachable": "{target} did not answer: make sure the firewall allows ICMP echo to it, "
    "or measure with a netcheck responder at the far end.",
    "icmp_permission": "Grant raw-socket rights (run as root/Administrator or CAP_NET_RAW) so "
    "that ICMP can be measured.",
}


@dataclass(frozen=True)
class Metric:
    """How a profile metric is read off a measurement: value key, unit, remedy key."""

    key: str
    unit: str
    remedy: str
    label: str


_PATH_METRICS: Mapping[str, Metric] = {
    "one_way_delay_ms": Metric("one_way_delay_ms", "ms", "delay", "one-way delay"),
    "rtt_ms": Metric("rtt_median_ms", "ms", "delay", "round-trip time (median)"),
    "jitter_ms": Metric("jitter_ms", "ms", "jitter", "jitter"),
    "loss_pct": Metric("loss_pct", "%", "loss", "packet loss"),
    "burst_loss_pct": Metric("burst_loss_pct", "%", "loss", "burst loss"),
    "reorder_pct": Metric("reorder_pct", "%", "loss", "reordering"),
    "mos": Metric("mos", "", "mos", "MOS (E-model)"),
}


def remedy(key: str, **params: Value) -> Remedy:
    return Remedy(key=key, text=REMEDIES[key].format(**params), params=dict(params))


def evaluate(profile: Profile, measurements: list[Measurement], *, extensions: int | None = None) -> list[Check]:
    """All checks of the profile, in report order."""
    by_id = {m.id: m for m in measurements}
    checks: list[Check] = []
    checks += _dns_checks(profile, by_id)
    checks += _path_checks(profile, by_id)
    checks += _port_checks(profile, by_id)
    checks += _pending_checks(profile, extensions)
    return checks


def verdict(checks: list[Check]) -> Verdict:
    if any(c.status is Status.FAIL for c in checks):
        return Verdict.NO_GO
    required = [c for c in checks if c.required]
    if all(c.status in (Status.PASS, Status.WARN) for c in required):
        return Verdict.GO
    return Verdict.INCOMPLETE


def summary(checks: list[Check]) -> dict[str, int]:
    return {s.value: sum(1 for c in checks if c.status is s) for s in Status}


# --------------------------------------------------------------------------- DNS


def _dns_checks(profile: Profile, by_id: dict[str, Measurement]) -> Iterator[Check]:
    for name, target in profile.targets.items():
        m = by_id.get(f"dns:{name}")
        if m is None:
            continue
        base = dict(id=f"dns.{name}", title=f"DNS resolves {target.host}", required=target.required,
                    evidence=[m.id], method=m.method, group="dns", source=target.source)
        if m.ok:
            addrs = m.values.get("addresses")
            yield Check(**base, status=Status.PASS, measured=addrs,
                        reason=f"{target.host} resolves to {', '.join(map(str, addrs or []))} "
                        f"in {m.values.get('resolve_ms')} ms")
        else:
            yield _failed(base, target.required, m.error.detail if m.error else "no answer",
                          remedy("dns_fail", host=target.host))


# --------------------------------------------------------------------------- path quality


def _path_checks(profile: Profile, by_id: dict[str, Measurement]) -> Iterator[Check]:
    groups = (("end_to_end", "end to end"), ("handover", "handover point"))
    for group_key, label in groups:
        limits: PathLimits | None = getattr(profile.limits, group_key)
        if limits is None:
            continue
        for name, target in profile.targets_with_role(Role.HANDOVER):
            m = by_id.get(f"icmp:{name}")
            where = f"{name} ({target.host})" if target.host else name
            yield from _limit_checks(group_key, label, limits, m, where, "path", profile)
    if profile.limits.layer2:
        m = by_id.get("icmp:gateway")
        where = m.target if m else "default gateway"
        yield from _limit_checks("layer2", "LAN", profile.limits.layer2, m, where, "lan", profile)


def _limit_checks(group: str, label: str, limits: PathLimits, m: Measurement | None, where: str,
                  remedy_prefix: str, profile: Profile) -> Iterator[Check]:
    for metric_name, metric in _PATH_METRICS.items():
        limit: Limit | None = getattr(limits, metric_name)
        if limit is None:
            continue
        unit = metric.unit
        base = dict(
            id=f"{group}.{metric_name}@{where.split(' ')[0]}",
            title=f"{label}: {metric.label} to {where}",
            required=limits.required, limit=limit.describe(unit), unit=unit or None,
            source=_source(profile, limit.source or limits.source), group=group,
        )
        value, note = _metric_value(metric_name, metric, limits, m)
        if m is not None:
            base["evidence"] = [m.id]
            base["method"] = m.method
        if value is None:
            yield _not_measured(base, note, m)
            continue
        yield _judge(base, limit, float(value), metric, where, note,
                     remedy(f"{_remedy_group(remedy_prefix, metric.remedy)}", target=where))


def _remedy_group(prefix: str, kind: str) -> str:
    key = f"{prefix}_{kind}"
    return key if key in REMEDIES else f"path_{kind}"


def _metric_value(name: str, metric: Metric, limits: PathLimits, m: Measurement | None) -> tuple[Value, str]:
    """The measured value for a metric, and a note on how it was obtained."""
    if m is None or not m.ok:
        return None, ""
    if name == "loss_pct" and limits.loss_window_s and m.values.get("loss_worst_window_pct") is not None:
        return m.values["loss_worst_window_pct"], f"worst {limits.loss_window_s:g} s window"
    if name == "one_way_delay_ms" and m.probe == "icmp":
        return m.values.get(metric.key), "estimated as RTT/2 (ICMP)"
    if name == "mos" and m.values.get("mos") is None:
        return None, "MOS needs the E-model stream measurement"
    return m.values.get(metric.key), ""


def _judge(base: dict, limit: Limit, value: float, metric: Metric, where: str, note: str,
           fix: Remedy) -> Check:
    unit = f" {metric.unit}" if metric.unit else ""
    suffix = f" ({note})" if note else ""
    text = f"{metric.label} {value:g}{unit}{suffix}, limit {limit.describe(metric.unit)}"
    if not limit.passes(value):
        return _failed(base, base["required"], text, fix, measured=value)
    status = Status.WARN if limit.near(value) else Status.PASS
    extra = " (close to the limit)" if status is Status.WARN else ""
    return Check(**base, status=status, measured=value, reason=text + extra)


# --------------------------------------------------------------------------- ports


def _port_checks(profile: Profile, by_id: dict[str, Measurement]) -> Iterator[Check]:
    for i, rule in enumerate(profile.ports):
        host = profile.resolve_destination(rule.destination)
        for transport in rule.transports:
            base = dict(
                id=f"port.{transport}.{rule.port}@{rule.destination}",
                title=f"{rule.protocol} {transport.upper()} {rule.port} to {host or rule.destination} ({rule.purpose})",
                required=rule.required, group="ports", source=_source(profile, rule.source),
            )
            if not host:
                yield Check(**base, status=Status.SKIPPED,
                            reason=f"no host for target {rule.destination!r}; pass --target {rule.destination}=HOST")
            elif transport == "udp":
                yield Check(**base, status=Status.NOT_MEASURED,
                            reason="UDP egress can only be proven with a netcheck responder at the far end "
                            "(a silent UDP port looks the same open or blocked); not measured in this run")
            else:
                yield _tcp_check(base, rule.required, by_id.get(f"tcp:{i}"), host, str(rule.port), rule.purpose)


def _tcp_check(base: dict, required: bool, m: Measurement | None, host: str, port: str, purpose: str) -> Check:
    if m is None or not m.ok:
        return _not_measured(base, "", m)
    base = {**base, "evidence": [m.id], "method": m.method}
    counts = m.values.get("counts") or {}
    assert isinstance(counts, dict)
    total = int(m.values.get("ports_total") or 0)
    if counts.get("open", 0) == total and total:
        rtt = m.values.get("connect_median_ms")
        return Check(**base, status=Status.PASS, measured="open",
                     reason=f"TCP {port} to {host}: open (connect {rtt} ms)")
    found = "; ".join(f"{state} {','.join(m.values[state])}" for state in counts if state != "open")  # type: ignore[arg-type]
    return _failed(base, required, f"TCP {port} to {host}: {found}",
                   remedy("tcp_blocked", port=port, host=host, purpose=purpose, found=found), measured=found)


# --------------------------------------------------------------------------- not yet measurable


def _pending_checks(profile: Profile, extensions: int | None) -> Iterator[Check]:
    """Requirements of the profile that this build cannot measure yet: stated, never passed."""
    lan = profile.lan
    if lan:
        src = _source(profile, lan.source)
        items = [
            ("lan.poe", f"PoE ({lan.poe}) on every phone port", lan.poe),
            ("lan.speed", f"access ports >= {lan.port_speed_min_mbps} Mbit/s" + (" full duplex" if lan.full_duplex else ""), lan.port_speed_min_mbps),
            ("lan.voice_vlan", "voice VLAN (variant " + "/".join(map(str, lan.voice_vlan_variants)) + ")", lan.voice_vlan_variants),
            ("lan.dhcp", "DHCP: private addresses, DNS, no provisioning options", lan.dhcp),
            ("lan.exposure", "phones not reachable from the internet", lan.no_admin_exposure),
        ]
        for cid, title, present in items:
            if present:
                yield Check(id=cid, title=title, status=Status.NOT_MEASURED, required=True, group="lan", source=src,
                            reason="needs the LAN audit (SNMP/LLDP/DHCP probes), not run")
    if profile.sip and not profile.sip.alg_allowed:
        yield Check(id="sip.alg", title="no SIP ALG on the path", status=Status.NOT_MEASURED, required=True,
                    group="firewall", source=_source(profile, profile.sip.source),
                    reason="SIP ALG detection needs a netcheck responder; not run")
    if profile.qos and (profile.qos.priority_required or profile.qos.voice_dscp is not None):
        yield Check(id="qos.priority", title="voice prioritised over other traffic", status=Status.NOT_MEASURED,
                    required=profile.qos.priority_required, group="capacity", source=_source(profile, profile.qos.source),
                    reason="the QoS test (call under load) needs a netcheck responder; not run")
    yield from _bandwidth_check(profile, extensions)
    if profile.availability_pct is not None:
        yield Check(id="availability", title=f"availability of the handover point >= {profile.availability_pct:g} %",
                    status=Status.SKIPPED, required=False, group="general", limit=f">= {profile.availability_pct:g} %",
                    reason="judged by the scheduled agent over weeks, not by a one-shot run")


def _bandwidth_check(profile: Profile, extensions: int | None) -> Iterator[Check]:
    bw = profile.bandwidth
    if not bw or (bw.per_extension_up_kbps is None and bw.per_extension_down_kbps is None):
        return
    base = dict(id="bandwidth.per_extension", group="capacity", required=True, unit="kbit/s",
                source=_source(profile, bw.source))
    up, down = bw.per_extension_up_kbps or 0, bw.per_extension_down_kbps or 0
    if extensions is None:
        yield Check(**base, title=f"free bandwidth {up:g}/{down:g} kbit/s per extension", status=Status.SKIPPED,
                    reason="number of extensions unknown; pass --extensions N")
        return
    yield Check(**base, title=f"free bandwidth for {extensions} extensions", status=Status.NOT_MEASURED,
                limit=f">= {extensions * up:g} up / {extensions * down:g} down kbit/s",
                reason=f"needs {extensions * up:g} kbit/s up and {extensions * down:g} kbit/s down; "
                "capacity is measured against a netcheck responder, not run")


# --------------------------------------------------------------------------- helpers


def _failed(base: dict, required: bool, reason: str, fix: Remedy, measured: Value = None) -> Check:
    """A requirement not met: FAIL when required, WARN when the profile marks it optional."""
    status = Status.FAIL if required else Status.WARN
    text = reason if required else f"{reason} (optional requirement)"
    return Check(**base, status=status, reason=text, remediation=fix, measured=measured)


def _not_measured(base: dict, note: str, m: Measurement | None) -> Check:
    if m is None:
        why = note or "no measurement was planned for it"
    elif m.error is not None:
        why = f"{m.error.kind.value}: {m.error.detail}"
        if m.error.kind is ErrorKind.PERMISSION:
            return Check(**base, status=Status.NOT_MEASURED, reason=why, remediation=remedy("icmp_permission"))
        if m.error.kind in (ErrorKind.TIMEOUT, ErrorKind.UNREACHABLE):
            target = base["title"].split(" to ", 1)[-1]
            return Check(**base, status=Status.NOT_MEASURED, reason=why,
                         remediation=remedy("path_unreachable", target=target))
    else:
        why = note or "the measurement has no value for it"
    return Check(**base, status=Status.NOT_MEASURED, reason=why)


def _source(profile: Profile, key: str | None) -> str | None:
    return profile.sources.get(key) if key else None
