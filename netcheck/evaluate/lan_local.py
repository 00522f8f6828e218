"""Local layer-2 checks without SNMP: DHCP on the segment, LLDP-MED voice policy, own link.

- ``lan.dhcp`` (required when the profile has ``lan.dhcp``): every OFFER heard must carry a
  private (RFC 1918) address when ``private_addresses``, a DNS server (option 6) when
  ``dns_required``, and none of ``forbidden_options`` (VSE NET: "DHCP server with private IP
  addresses, DNS server, and without DHCP options", REQUIREMENTS.md §2). No OFFER within the
  wait is a FAIL: the requirement is that a DHCP server serves the phones' segment, and
  silence for 3 s (two DISCOVERs) means it does not. A probe that could not run (no raw
  sockets) gives SKIPPED with the privilege to grant, never PASS.
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

from netcheck.evaluate._core import REMEDIES, failed, remedy, source
from netcheck.profile import Profile
from netcheck.result import Check, ErrorKind, Measurement, Site, Status

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
    if "lldp" in by_id:
        yield _voice_policy(profile, by_id["lldp"], src)
    if "link" in by_id and lan.port_speed_min_mbps:
        yield _link(profile, by_id["link"], src)


def _base(
    cid: str, title: str, required: bool, src: str | None, evidence: list[str]
) -> dict[str, Any]:
    return dict(id=cid, title=title, required=required, group="lan", source=src, evidence=evidence)


def _unmeasured(base: dict[str, Any], runs: list[Measurement]) -> Check:
    """SKIPPED (with the privilege to grant) when capture is not allowed, else NOT_MEASURED."""
    errors = [m.error for m in runs if m.error]
    if not runs:
        return Check(**base, status=Status.NOT_MEASURED, reason="no DHCP probe was planned")
    why = "; ".join(f"{e.kind.value}: {e.detail}" for e in errors)
    if all(e.kind in _NO_CAPTURE for e in errors):
        return Check(**base, status=Status.SKIPPED, reason=why, remediation=remedy("raw_capture"))
    return Check(**base, status=Status.NOT_MEASURED, reason=why)


def _dhcp(profile: Profile, runs: list[Measurement], src: str | None) -> Check:
    rules = profile.lan.dhcp  # type: ignore[union-attr]
    assert rules is not None
    title = "DHCP: private addresses, DNS, no provisioning options"
    base = _base("lan.dhcp", title, True, src, [m.id for m in runs])
    ok_runs = [m for m in runs if m.ok]
    if not ok_runs:
        return _unmeasured(base, runs)
    offers = [o for m in ok_runs for o in _offers(m)]
    base["method"] = "dhcp-discover"
    if not offers:
        where = ", ".join(f"{m.target} ({m.values.get('wait_s')} s)" for m in ok_runs)
        return failed(
            base,
            True,
            f"no DHCP OFFER within the wait on {where}",
            remedy("dhcp_missing", interface=", ".join(m.target for m in ok_runs)),
            measured=0,
        )
    problems = [
        p
        for o in offers
        for p in _offer_problems(
            o, rules.private_addresses, rules.dns_required, rules.forbidden_options
        )
    ]
    servers = sorted({str(o.get("server_id")) for o in offers})
    if problems:
        text = "; ".join(problems)
        return failed(
            base,
            True,
            text,
            remedy("dhcp_fix", servers=", ".join(servers), problems=text),
            measured=servers,
        )
    forbidden = ", ".join(map(str, sorted(rules.forbidden_options))) or "none"
    summary = "; ".join(
        f"{o.get('server_id')} offers {o.get('yiaddr')}, DNS {', '.join(o.get('dns') or [])}"
        for o in offers
    )
    return Check(
        **base,
        status=Status.PASS,
        measured=servers,
        reason=f"{summary}; none of the forbidden options ({forbidden}) set",
    )


def _offers(m: Measurement) -> list[dict[str, Any]]:
    raw = m.values.get("offers")
    return [o for o in raw if isinstance(o, dict)] if isinstance(raw, list) else []


def _offer_problems(
    offer: dict[str, Any], private: bool, dns: bool, forbidden: list[int]
) -> list[str]:
    server, addr = offer.get("server_id"), str(offer.get("yiaddr"))
    out = []
    if private and not any(ipaddress.ip_address(addr) in net for net in RFC1918):
        out.append(f"server {server} offers {addr}, not a private (RFC 1918) address")
    if dns and not offer.get("dns"):
        out.append(f"server {server} sends no DNS server (option 6)")
    bad = sorted(set(forbidden) & set(offer.get("options") or []))
    if bad:
        out.append(f"server {server} sets forbidden option(s) {', '.join(map(str, bad))}")
    return out


def _rogue(runs: list[Measurement], src: str | None) -> Iterator[Check]:
    for m in runs:
        servers = [str(s) for s in m.values.get("servers") or []] if m.ok else []  # type: ignore[union-attr]
        if not servers:
            continue
        tag = m.id.partition(":")[2]  # "" for the untagged run, "vlan100" for the voice VLAN
        cid = f"lan.dhcp_servers.{tag}" if tag else "lan.dhcp_servers"
        base = _base(cid, f"one DHCP server on {m.target}", False, src, [m.id])
        base["method"] = m.method
        if len(servers) == 1:
            yield Check(
                **base,
                status=Status.PASS,
                measured=servers,
                reason=f"exactly one DHCP server answered: {servers[0]}",
            )
            continue
        text = (
            f"{len(servers)} DHCP servers answered on {m.target}: {', '.join(servers)} (rogue DHCP)"
        )
        yield failed(
            base, False, text, remedy("dhcp_rogue", extra=", ".join(servers[1:])), measured=servers
        )


def _voice_policy(profile: Profile, m: Measurement, src: str | None) -> Check:
    base = _base(
        "lan.med_voice_policy", "switch announces an LLDP-MED voice policy", False, src, [m.id]
    )
    base["method"] = m.method
    want_dscp = profile.qos.voice_dscp if profile.qos and profile.qos.voice_dscp is not None else 46
    if not m.ok:
        return _unmeasured(base, [m])
    policy = m.values.get("med_voice_policy")
    who = f"{m.values.get('system_name') or 'switch'} port {m.values.get('port_id') or '?'}"
    if not isinstance(policy, dict):
        heard = ", ".join(m.values.get("protocols") or []) or "no LLDP/CDP frame"  # type: ignore[arg-type]
        wait = m.values.get("wait_s")
        text = f"no LLDP-MED voice policy heard on {m.target} within {wait} s ({heard})"
        return failed(base, False, text, remedy("lldp_med", dscp=want_dscp))
    vlan = f"VLAN {policy['vlan']} {'tagged' if policy['tagged'] else 'untagged'}"
    text = f"{who} announces voice {vlan}, priority {policy['priority']}, DSCP {policy['dscp']}"
    if policy.get("unknown") or policy["dscp"] != want_dscp:
        return failed(
            base,
            False,
            f"{text}; expected DSCP {want_dscp}",
            remedy("lldp_med", dscp=want_dscp),
            measured=policy,
        )
    return Check(**base, status=Status.PASS, measured=policy, reason=text)


def _link(profile: Profile, m: Measurement, src: str | None) -> Check:
    lan = profile.lan
    assert lan is not None and lan.port_speed_min_mbps is not None
    minimum = lan.port_speed_min_mbps
    base = _base("lan.link", f"this machine's link >= {minimum} Mbit/s", False, src, [m.id])
    base.update(method=m.method, unit="Mbit/s", limit=f">= {minimum}")
    speed, duplex = m.values.get("speed_mbps"), m.values.get("duplex")
    if not m.ok or not isinstance(speed, int):
        note = m.error.detail if m.error else "the driver reports no link speed"
        return Check(**base, status=Status.NOT_MEASURED, reason=f"{m.target}: {note}")
    text = f"{m.target}: {speed} Mbit/s, {duplex or 'unknown'} duplex, MTU {m.values.get('mtu')}"
    if speed < minimum or (lan.full_duplex and duplex == "half"):
        return failed(
            base,
            False,
            f"{text}; limit >= {minimum} Mbit/s full duplex",
            remedy("link_speed", minimum=minimum),
            measured=speed,
        )
    return Check(**base, status=Status.PASS, measured=speed, reason=text)
