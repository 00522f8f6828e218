"""Local layer-2 checks without SNMP: DHCP on the segment, LLDP-MED voice policy, own link.

- ``lan.dhcp`` (required when the profile has ``lan.dhcp``): every OFFER heard must carry a
  private (RFC 1918) address when ``private_addresses``, a DNS server (option 6) when
  ``dns_required``, and none of ``forbidden_options`` (VSE NET: "DHCP server with private IP
  addresses, DNS server, and without DHCP options", REQUIREMENTS.md §2). No OFFER within the
  wait is a FAIL: the requirement is that a DHCP server serves the phones' segment, and
  silence for the wait (6 s, two DISCOVERs) means it does not, unless this machine holds a
  DHCP lease on that interface (then NOT_MEASURED: a server exists, its offer came late).
  A probe that could not run (no raw sockets) gives SKIPPED with the privilege to grant,
  never PASS.
- ``lan.dhcp_servers`` (informative): more than one server answering one DISCOVER is a
  rogue or forgotten DHCP server: phones then get a random gateway/DNS.
- ``lan.med_voice_policy`` (informative): the LLDP-MED voice network policy the switch port
  announces (TIA-1057), compared with the profile's voice DSCP.
- ``lan.link`` (informative): this machine's own NIC speed/duplex against the profile's port
  minimum; one port, so it hints at, but does not prove, the phones' ports (``lan.speed``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from netcheck import ids
from netcheck.evaluate._core import REMEDIES, Base, base, check, failed, msg, remedy, source
from netcheck.profile import Profile
from netcheck.result import Bound, Check, ErrorKind, Item, Measurement, Msg, Op, Param, Qty, Site, Status

REMEDIES.update(
    {
        "raw_capture": "Run netcheck as root/Administrator (Linux: or grant CAP_NET_RAW; Windows: "
        "install Npcap) so that DHCP and LLDP can be probed on the local segment.",
        "dhcp_missing": "No DHCP server answered on {interface}: enable a DHCP server (or "
        "relay) for the phones' network/VLAN.",
        "dhcp_fix": "Reconfigure DHCP server {servers}: {problems}.",
        "dhcp_rogue": "Only one DHCP server may answer on the phones' segment: find and disable "
        "{extra} (or enable DHCP snooping on the switches).",
        "lldp_med": "Configure an LLDP-MED voice network policy (voice VLAN, priority 5, DSCP "
        "{dscp}) on the phone ports so phones learn the voice VLAN and marking automatically.",
        "link_speed": "Connect at >= {minimum} Mbit/s full duplex (cable Cat5e or better, "
        "auto-negotiation on both ends).",
    }
)

RFC1918 = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_NO_CAPTURE = (ErrorKind.PERMISSION, ErrorKind.UNSUPPORTED)


def checks(profile: Profile, by_id: dict[str, Measurement], site: Site) -> Iterator[Check]:
    lan = profile.lan
    if not lan:
        return
    src = source(profile, lan.source)
    dhcp_runs = [m for key, m in sorted(by_id.items()) if m.probe == "dhcp"]
    if lan.dhcp:
        yield _dhcp(profile, dhcp_runs, src)
        yield from _rogue(dhcp_runs, src)
    if (lldp := by_id.get(ids.LLDP)) is not None:
        yield _voice_policy(profile, lldp, src)
    if (link := by_id.get(ids.LINK)) is not None and lan.port_speed_min_mbps:
        yield _link(profile, link, src)


def _base(cid: str, title_key: str, required: bool, src: str | None, evidence: list[str],
          **params: Param) -> Base:
    b = base(cid, title_key, required=required, group="lan", source=src, **params)
    b["evidence"] = evidence
    return b


def _unmeasured(b: Base, runs: list[Measurement]) -> Check:
    """SKIPPED (with the privilege to grant) when capture is not allowed, else NOT_MEASURED."""
    errors = [m.error for m in runs if m.error]
    if not runs:
        return check(b, Status.NOT_MEASURED, "reason.dhcp_not_planned")
    why: list[Item] = [msg("reason.error", kind=msg(f"error.{e.kind.value}"), detail=e.detail) for e in errors]
    if all(e.kind in _NO_CAPTURE for e in errors):
        return check(b, Status.SKIPPED, "reason.why", fix=remedy("raw_capture"), why=why)
    return check(b, Status.NOT_MEASURED, "reason.why", why=why)


def _dhcp(profile: Profile, runs: list[Measurement], src: str | None) -> Check:
    rules = profile.lan.dhcp  # type: ignore[union-attr]
    assert rules is not None
    b = _base("lan.dhcp", "title.lan.dhcp", True, src, [m.id for m in runs])
    ok_runs = [m for m in runs if m.ok]
    if not ok_runs:
        return _unmeasured(b, runs)
    offers = [o for m in ok_runs for o in _offers(m)]
    b["method"] = "dhcp-discover"
    if not offers:
        return _no_offer(b, ok_runs)
    problems: list[Item] = [
        p
        for o in offers
        for p in _offer_problems(o, rules.private_addresses, rules.dns_required, rules.forbidden_options)
    ]
    servers = sorted({str(o.get("server_id")) for o in offers})
    if problems:
        return failed(b, True, "reason.dhcp_problems",
                      remedy("dhcp_fix", servers=", ".join(servers), problems=problems), measured=servers,
                      problems=problems)
    forbidden = ", ".join(map(str, sorted(rules.forbidden_options)))
    summary: list[Item] = [msg("dhcp.offer", server=str(o.get("server_id")), address=str(o.get("yiaddr")),
                                dns=", ".join(o.get("dns") or [])) for o in offers]
    key = "reason.dhcp_ok" if forbidden else "reason.dhcp_ok_no_rules"
    return check(b, Status.PASS, key, measured=servers, offers=summary, forbidden=forbidden)


def _no_offer(b: Base, runs: list[Measurement]) -> Check:
    """No OFFER within the wait. If this machine holds a DHCP lease on that interface for an
    address it still has, a DHCP server serves this LAN (it answered too late, e.g. after
    dnsmasq's 3 s ping check): the offer could not be judged, which is NOT_MEASURED, never
    "no DHCP server". Without a lease it is a FAIL; where leases cannot be read, it says so."""
    where: list[Item] = [msg("dhcp.where", interface=m.target, wait=Qty(_float(m.values.get("wait_s")), "s"))
                         for m in runs]
    leased = [(m, lease) for m in runs if isinstance(lease := m.values.get("lease"), dict)]
    if leased:
        m, lease = leased[0]
        return check(b, Status.NOT_MEASURED, "reason.dhcp_no_offer_lease", where=where, interface=m.target,
                     address=str(lease.get("address")), server=str(lease.get("server") or "?"),
                     source=str(lease.get("source")), fix=remedy("dhcp_late", interface=m.target))
    unknown = [m.target for m in runs if m.values.get("lease_known") is False]
    notes = (msg("note.dhcp_lease_unknown", interface=", ".join(unknown)),) if unknown else ()
    fix = remedy("dhcp_missing", interface=", ".join(m.target for m in runs))
    if notes:
        return check(b, Status.FAIL, "reason.dhcp_no_offer", fix=fix, measured=0, where=where, notes=notes)
    return failed(b, True, "reason.dhcp_no_offer", fix, measured=0, where=where)


def _float(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _offers(m: Measurement) -> list[dict[str, Any]]:
    raw = m.values.get("offers")
    return [o for o in raw if isinstance(o, dict)] if isinstance(raw, list) else []


def _offer_problems(offer: dict[str, Any], private: bool, dns: bool, forbidden: list[int]) -> list[Msg]:
    server, addr = str(offer.get("server_id")), str(offer.get("yiaddr"))
    out = []
    if private and not any(ipaddress.ip_address(addr) in net for net in RFC1918):
        out.append(msg("dhcp.not_private", server=server, address=addr))
    if dns and not offer.get("dns"):
        out.append(msg("dhcp.no_dns", server=server))
    bad = sorted(set(forbidden) & set(offer.get("options") or []))
    if bad:
        out.append(msg("dhcp.forbidden", server=server, options=", ".join(map(str, bad))))
    return out


def _rogue(runs: list[Measurement], src: str | None) -> Iterator[Check]:
    for m in runs:
        servers = [str(s) for s in m.values.get("servers") or []] if m.ok else []  # type: ignore[union-attr]
        if not servers:
            continue
        tag = m.id.partition(":")[2]  # "" for the untagged run, "vlan100" for the voice VLAN
        cid = f"lan.dhcp_servers.{tag}" if tag else "lan.dhcp_servers"
        b = _base(cid, "title.lan.dhcp_servers", False, src, [m.id], interface=m.target)
        b["method"] = m.method
        if len(servers) == 1:
            yield check(b, Status.PASS, "reason.dhcp_one_server", measured=servers, server=servers[0])
            continue
        yield failed(b, False, "reason.dhcp_rogue", remedy("dhcp_rogue", extra=", ".join(servers[1:])),
                     measured=servers, n=len(servers), servers=", ".join(servers))


def _voice_policy(profile: Profile, m: Measurement, src: str | None) -> Check:
    b = _base("lan.med_voice_policy", "title.lan.med_voice_policy", False, src, [m.id])
    b["method"] = m.method
    want_dscp = profile.qos.voice_dscp if profile.qos and profile.qos.voice_dscp is not None else 46
    if not m.ok:
        return _unmeasured(b, [m])
    policy = m.values.get("med_voice_policy")
    who = msg("lldp.who", switch=str(m.values.get("system_name") or "switch"), port=str(m.values.get("port_id") or "?"))
    if not isinstance(policy, dict):
        heard = ", ".join(m.values.get("protocols") or []) or msg("lldp.nothing")  # type: ignore[arg-type]
        return failed(b, False, "reason.lldp_none", remedy("lldp_med", dscp=want_dscp), interface=m.target,
                      wait=Qty(_float(m.values.get("wait_s")), "s"), heard=heard)
    params: dict[str, Param] = dict(
        who=who, vlan=str(policy["vlan"]), tagging=msg("lldp.tagged" if policy["tagged"] else "lldp.untagged"),
        priority=str(policy["priority"]), dscp=str(policy["dscp"]))
    if policy.get("unknown") or policy["dscp"] != want_dscp:
        return failed(b, False, "reason.lldp_wrong", remedy("lldp_med", dscp=want_dscp), measured=policy,
                      want=want_dscp, params=params)
    return check(b, Status.PASS, "reason.lldp_ok", measured=policy, params=params)


def _link(profile: Profile, m: Measurement, src: str | None) -> Check:
    lan = profile.lan
    assert lan is not None and lan.port_speed_min_mbps is not None
    minimum = lan.port_speed_min_mbps
    b = _base("lan.link", "title.lan.link", False, src, [m.id], minimum=Qty(minimum, "Mbit/s"))
    b.update(method=m.method, unit="Mbit/s", bound=Bound(op=Op.GE, value=minimum, unit="Mbit/s"))
    speed, duplex = m.values.get("speed_mbps"), m.values.get("duplex")
    if not m.ok or not isinstance(speed, int):
        note: Param = msg("reason.error", kind=msg(f"error.{m.error.kind.value}"), detail=m.error.detail) \
            if m.error else msg("link.no_speed")
        return check(b, Status.NOT_MEASURED, "reason.link_unknown", interface=m.target, note=note)
    mtu = m.values.get("mtu")
    params: dict[str, Param] = dict(interface=m.target, speed=Qty(speed, "Mbit/s"),
                                    duplex=msg(f"duplex.{duplex or 'unknown'}"),
                                    mtu=mtu if isinstance(mtu, int) else "?")
    if speed < minimum or (lan.full_duplex and duplex == "half"):
        return failed(b, False, "reason.link_slow", remedy("link_speed", minimum=minimum), measured=speed,
                      params=params)
    return check(b, Status.PASS, "reason.link", measured=speed, params=params)
