"""LAN requirements judged from the SNMP switch audit (probe ``snmp_switch``).

Per audited switch: ``lan.poe@SW`` (every phone port powered, class within the profile's
PoE standard), ``lan.speed@SW`` (phone ports, else all up access ports, at least the
profile's speed and full duplex; speed judged before duplex), ``lan.voice_vlan@SW``
(variant 1: dedicated voice port; variant 2: data VLAN untagged + voice VLAN tagged), and
``lan.pse_budget`` over all switches (class-0 phones each PSE group still admits, counted
per group, never pooled, against the phones still to come, ``--extensions N``).
Without ``--switch`` the requirements stay NOT_MEASURED. A field the switch does not
expose is NOT_MEASURED, never PASS (REQUIREMENTS.md, "What follows").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from netcheck.evaluate._core import EN, REMEDIES, Base, base, check, failed, msg, remedy, source
from netcheck.profile import Profile
from netcheck.result import Bound, Check, Item, Measurement, Msg, Op, Param, Qty, Site, Status

REMEDIES.update(
    {
        "lan_audit_missing": "Give the access switches to audit: --switch HOST with "
        "--snmp-community-file FILE (or SNMPv3 options); the audit needs read-only SNMP.",
        "lan_snmp_failed": "Check that SNMP is enabled on {switch}, that this host is allowed by its "
        "ACL and that the community / SNMPv3 credentials are right ({why}).",
        "lan_poe": "Enable PoE ({standard}) on {ports} or give those phones power supplies; replace "
        "a faulty port or cable; a phone needing more than {standard} delivers needs a PoE+ port.",
        "lan_speed": "Set {ports} to auto-negotiation (100/1000BaseT, full duplex) and check the "
        "cabling (Cat5e or better) where the link came up slower or half duplex.",
        "lan_voice_vlan": "Configure the voice VLAN on {ports}: data VLAN untagged (native) plus the "
        "voice VLAN tagged (variant 2), or a port used by the phone alone (variant 1).",
        "lan_pse_budget": "Free PSE power is {free_w} W in all but {need_w} W are needed for {phones} more "
        "phones, counted per PSE (stack member): add a PoE power supply/switch or power some phones locally.",
    }
)

#: Power a PSE must reserve per class (IEEE 802.3af/at, PSE output): class 0 and 3
#: 15.4 W, class 1 4.0 W, class 2 7.0 W, class 4 (802.3at) 30 W.
CLASS_POWER_W = {0: 15.4, 1: 4.0, 2: 7.0, 3: 15.4, 4: 30.0}
MAX_CLASS = {"802.3af": 3, "802.3at": 4, "802.3bt": 8}


def checks(profile: Profile, by_id: dict[str, Measurement], site: Site) -> Iterator[Check]:
    lan = profile.lan
    if not lan:
        return
    switches = [m for m in by_id.values() if m.probe == "snmp_switch"]
    items = _requirements(profile)
    if not switches:
        for cid, title_key, params in items:
            b = base(cid, title_key, required=True, group="lan", source=source(profile, lan.source))
            b["params"].update(params)
            yield check(b, Status.NOT_MEASURED, "reason.lan_no_switch", fix=remedy("lan_audit_missing"))
        return
    for m in switches:
        yield from _switch_checks(profile, m, items)
    if lan.poe:
        yield _pse_budget(profile, switches, site.extensions)


def _requirements(profile: Profile) -> list[tuple[str, str, dict[str, Param]]]:
    """(check id, title key, title params) of each LAN requirement the profile states."""
    lan = profile.lan
    assert lan is not None
    out: list[tuple[str, str, dict[str, Param]]] = []
    if lan.poe:
        out.append(("lan.poe", "title.lan.poe", {"poe": lan.poe}))
    if lan.port_speed_min_mbps:
        key = "title.lan.speed_full" if lan.full_duplex else "title.lan.speed"
        out.append(("lan.speed", key, {"speed": Qty(lan.port_speed_min_mbps, "Mbit/s")}))
    if lan.voice_vlan_variants:
        variants = "/".join(map(str, lan.voice_vlan_variants))
        out.append(("lan.voice_vlan", "title.lan.voice_vlan", {"variants": variants}))
    return out


def _switch_checks(profile: Profile, m: Measurement, items: list[tuple[str, str, dict[str, Param]]]) -> Iterator[Check]:
    judges = {"lan.poe": _poe, "lan.speed": _speed, "lan.voice_vlan": _voice_vlan}
    name = _switch_name(m)
    for cid, title_key, params in items:
        b = base(f"{cid}@{m.target}", title_key, required=True, group="lan",
                 source=source(profile, profile.lan.source if profile.lan else None), switch=name)
        b["params"].update(params)
        b.update(evidence=[m.id], method=m.method, title_key=f"{title_key}.on")
        if m.error is not None:
            fix = remedy("lan_snmp_failed", switch=m.target, why=msg(f"error.{m.error.kind.value}"))
            yield check(b, Status.NOT_MEASURED, "reason.error", fix=fix, kind=msg(f"error.{m.error.kind.value}"),
                        detail=m.error.detail)
        else:
            yield judges[cid](profile, b, m.values)


def _list(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _switch_name(m: Measurement) -> str:
    switch = m.values.get("switch")
    return str(switch.get("name") or m.target) if isinstance(switch, dict) else m.target


def _phone_ports(values: dict[str, Any]) -> list[dict[str, Any]]:
    wanted = {p["if_index"] for p in values.get("phones") or [] if p.get("if_index") is not None}
    return [p for p in values.get("ports") or [] if p["if_index"] in wanted]


def _not_measured(b: Base, key: str, params: dict[str, Param] | None = None) -> Check:
    return check(b, Status.NOT_MEASURED, key, params=params)


def _poe(profile: Profile, b: Base, values: dict[str, Any]) -> Check:
    standard = profile.lan.poe if profile.lan and profile.lan.poe else "802.3af"
    ports = _phone_ports(values)
    if not ports:
        return _not_measured(b, "reason.lan_no_phone")
    bad, unknown, idle = _poe_findings(ports, MAX_CLASS.get(standard, 3))
    if bad:
        return failed({**b, "measured_key": "measured.findings"}, True, "reason.lan_poe_bad",
                      remedy("lan_poe", standard=standard, ports=_names(bad)),
                      findings=[f for _n, f in bad], measured=[EN.msg(f) for _n, f in bad])
    if unknown or idle:
        return _poe_unknown(b, unknown, idle, values)
    return check(b, Status.PASS, "reason.lan_poe_ok", measured=len(ports), n=len(ports), standard=standard)


def _poe_unknown(b: Base, missing: list[str], idle: list[str], values: dict[str, Any]) -> Check:
    """Why PoE is not confirmed: no PoE data for the port (reason), PoE on but no power
    drawn (a phone on a local supply cannot tell whether the port could power it), rows
    that matched no interface, PoE columns the agent stopped answering (notes)."""
    notes: list[Msg] = []
    if missing and idle:
        notes.append(msg("lan.poe_idle", ports=", ".join(idle)))
    unmapped = values.get("poe_unmapped") or {}
    if unmapped:
        rows = ", ".join(f"{table} ({n})" for table, n in sorted(unmapped.items()))
        notes.append(msg("lan.poe_unmapped", tables=rows))
    cut = sorted(c for c in values.get("incomplete") or {} if c.startswith(_POE_COLUMN_PREFIXES))
    if cut:
        notes.append(msg("lan.poe_cut", columns=", ".join(cut)))
    key, ports = ("reason.lan_poe_unknown", missing) if missing else ("reason.lan_poe_idle", idle)
    return check(b, Status.NOT_MEASURED, key, notes=tuple(notes), ports=", ".join(ports))


_POE_COLUMN_PREFIXES = ("peth", "cpeExt", "rl", "hpicf", "arubaWiredPoe", "hwPoe", "tpPoe", "mtxrPOE", "netonix")


def _poe_findings(
    ports: list[dict[str, Any]], max_class: int
) -> tuple[list[tuple[str, Msg]], list[str], list[str]]:
    """Bad: PoE disabled, a fault, or a class above the standard's. Unknown: no PoE data
    for the port. Idle: PoE on but no power flowing."""
    bad: list[tuple[str, Msg]] = []
    unknown: list[str] = []
    idle: list[str] = []
    for p in ports:
        poe = p.get("poe") or {}
        powered = poe.get("detection") == "deliveringPower" or (poe.get("power_mw") or 0) > 0
        cls = poe.get("power_class")
        name = str(p["name"])
        if poe.get("admin_enabled") is False:
            bad.append((name, msg("lan.poe_disabled", port=name)))
        elif poe.get("detection") in ("fault", "otherFault"):
            bad.append((name, msg("lan.poe_fault", port=name, detection=str(poe["detection"]))))
        elif cls is not None and cls > max_class:
            bad.append((name, msg("lan.poe_class", port=name, cls=int(cls), max=max_class)))
        elif not powered:
            (idle if poe else unknown).append(name)
    return bad, unknown, idle


def _names(findings: list[tuple[str, Msg]]) -> str:
    return ", ".join(name for name, _f in findings)


def _speed(profile: Profile, b: Base, values: dict[str, Any]) -> Check:
    """Speed is judged first: a port up below the minimum FAILs whether or not its
    duplex is known; only a port fast enough but of unknown duplex stays unmeasured.
    Access ports: the phones' ports, else every up port that is no uplink and (on a
    Q-BRIDGE switch) a bridge port."""
    lan = profile.lan
    assert lan is not None and lan.port_speed_min_mbps
    if not (values.get("exposed") or {}).get("ports", True):
        return _not_measured(b, "reason.lan_no_interfaces")
    ports = _phone_ports(values) or [
        p
        for p in values.get("ports") or []
        if p.get("oper_status") == "up" and not _is_uplink(p) and p.get("bridge_port") is not False
    ]
    if not ports:
        return _not_measured(b, "reason.lan_no_port_up")
    bad: list[tuple[str, Msg]] = []
    unknown: list[str] = []
    for p in ports:
        speed, duplex = p.get("speed_mbps"), p.get("duplex")
        name = str(p["name"])
        if speed is not None and (speed < lan.port_speed_min_mbps or (lan.full_duplex and duplex == "half")):
            bad.append((name, msg("lan.port_speed", port=name, speed=Qty(float(speed), "Mbit/s"),
                                  duplex=msg(f"duplex.{duplex or 'unknown'}"))))
        elif speed is None or (lan.full_duplex and duplex in (None, "unknown")):
            unknown.append(name)
    b = {**b, "limit_key": "limit.speed_full" if lan.full_duplex else "bound.ge", "unit": "Mbit/s",
         "bound": Bound(op=Op.GE, value=lan.port_speed_min_mbps, unit="Mbit/s")}
    limit: dict[str, Param] = {"value": Qty(lan.port_speed_min_mbps, "Mbit/s")}
    if bad:
        return failed({**b, "measured_key": "measured.findings"}, True, "reason.lan_speed_bad",
                      remedy("lan_speed", ports=_names(bad)), findings=[f for _n, f in bad], params=limit,
                      measured=[EN.msg(f) for _n, f in bad])
    if unknown:
        return _not_measured(b, "reason.lan_speed_unknown", {"ports": ", ".join(unknown), **limit})
    return check(b, Status.PASS, "reason.lan_speed_ok", measured=len(ports), n=len(ports), params=limit)


def _is_uplink(port: dict[str, Any]) -> bool:
    from netcheck.wire.lan_model import ACCESS_PORT_MAX_MACS

    return len(port.get("macs") or []) > ACCESS_PORT_MAX_MACS


def _voice_vlan(profile: Profile, b: Base, values: dict[str, Any]) -> Check:
    variants = set(profile.lan.voice_vlan_variants if profile.lan else [])
    phones = values.get("phones") or []
    ports = _phone_ports(values)
    if not ports:
        return _not_measured(b, "reason.lan_no_phone")
    bad: list[tuple[str, Msg]] = []
    unknown: list[str] = []
    shared = _vlans_with_other_devices(values)
    for p in ports:
        verdict = _port_variant(p, phones, shared)
        name = str(p["name"])
        if verdict is None:
            unknown.append(name)
        elif not verdict & variants:
            bad.append((name, msg("lan.port_vlans", port=name, untagged=str(p.get("untagged_vlans")),
                                  tagged=str(p.get("tagged_vlans")))))
    if bad:
        return failed({**b, "measured_key": "measured.findings"}, True, "reason.lan_vlan_bad",
                      remedy("lan_voice_vlan", ports=_names(bad)),
                      findings=[f for _n, f in bad], measured=[EN.msg(f) for _n, f in bad])
    if unknown:
        return _not_measured(b, "reason.lan_vlan_unknown", {"ports": ", ".join(unknown)})
    return check(b, Status.PASS, "reason.lan_vlan_ok", measured=len(ports), n=len(ports),
                 variants="/".join(map(str, sorted(variants))))


def _vlans_with_other_devices(values: dict[str, Any]) -> set[Any]:
    """VLANs in which a non-phone MAC was learned on an access port (FDB VLAN, else the
    port's PVID)."""
    phone_macs = {p["mac"] for p in values.get("phones") or [] if p.get("mac")}
    out = set()
    for port in values.get("ports") or []:
        if _is_uplink(port):
            continue
        for m in port.get("macs") or []:
            if m["mac"] not in phone_macs:
                out.add(m.get("vlan") if m.get("vlan") is not None else port.get("pvid"))
    return out


def _port_variant(port: dict[str, Any], phones: list[dict[str, Any]], shared: set[Any]) -> set[int] | None:
    """Which variants the port satisfies; ``None`` when its VLANs are not known.
    Variant 2: an untagged (native) data VLAN plus a tagged voice VLAN (from Q-BRIDGE, the
    Cisco voice VLAN, or the phone's LLDP-MED policy). Variant 1: a port of the phone
    alone (no tagged VLAN, only phone MACs) whose VLAN carries no other device."""
    untagged, tagged = port.get("untagged_vlans"), port.get("tagged_vlans")
    med = [n.get("med_voice_policy") for n in port.get("neighbours") or []]
    voice_tagged = bool(port.get("voice_vlan")) or any(m and m.get("tagged") for m in med)
    if untagged is None and tagged is None and not voice_tagged:
        return None
    out = set()
    if (untagged or port.get("pvid")) and (tagged or voice_tagged):
        out.add(2)
    phone_macs = {p["mac"] for p in phones if p.get("mac")}
    macs = {m["mac"] for m in port.get("macs") or []}
    if not tagged and not voice_tagged and macs and macs <= phone_macs and port.get("pvid") not in shared:
        out.add(1)
    return out


def _pse_budget(profile: Profile, switches: list[Measurement], extensions: int | None) -> Check:
    """Budget per PSE group (stack member, slot), never pooled: a phone draws from the
    member it is plugged into, so the capacity is the sum over groups of the class-0
    phones (15.4 W, IEEE 802.3af PSE output) each group still admits, by the vendor's
    admission figure where the switch gives it (see :mod:`netcheck.wire.lan_poe`)."""
    b = base("lan.pse_budget", "title.lan.pse_budget", required=True, group="lan",
             source=source(profile, profile.lan.source if profile.lan else None))
    b.update(evidence=[m.id for m in switches], unit="phones")
    pses: list[tuple[Measurement, dict[str, Any]]] = [
        (m, p) for m in switches if m.ok for p in _list(m.values.get("pse")) if p.get("free_w") is not None
    ]
    if not pses:
        return _not_measured(b, "reason.lan_no_pse")
    per_phone = CLASS_POWER_W[0]
    capacity = sum(_phones_fit(_free(p), per_phone) for _m, p in pses)
    found = sum(len(_list(m.values.get("phones"))) for m in switches if m.ok)
    more = max(0, (extensions or 0) - found)
    detail: list[Item] = [
        msg("lan.pse_group", switch=_switch_name(m), group=str(p.get("label") or p["group"]),
            free=Qty(_free(p), "W"), basis=msg(f"pse_basis.{p.get('basis_key') or 'drawn'}"),
            phones=_phones_fit(_free(p), per_phone))
        for m, p in pses
    ]
    b["bound"] = Bound(op=Op.GE, value=more, unit="phones")
    params: dict[str, Param] = dict(capacity=capacity, detail=detail, found=found)
    params["more"] = msg("lan.pse_more", more=more, extensions=extensions or 0) if more else ""
    if capacity < more or any(_free(p) < 0 for _m, p in pses):
        free = sum(_free(p) for _m, p in pses)
        fix = remedy("lan_pse_budget", free_w=round(free, 1), need_w=round(more * per_phone, 1), phones=more)
        return failed(b, True, "reason.lan_pse", fix, measured=capacity, params=params)
    if extensions is None:
        return check(b, Status.WARN, "reason.lan_pse", measured=capacity, notes=(msg("note.pass_extensions"),),
                     params=params)
    return check(b, Status.PASS, "reason.lan_pse", measured=capacity, params=params)


def _free(pse: dict[str, Any]) -> float:
    """Watts a PSE group still admits; none when it is off or faulty (pethMainPseOperStatus)."""
    free = float(pse["free_w"])
    return min(free, 0.0) if pse.get("oper_status") in ("off", "faulty") else free


def _phones_fit(free_w: float, per_phone_w: float) -> int:
    return max(0, int(free_w // per_phone_w))
