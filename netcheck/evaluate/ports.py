"""Firewall-egress checks: one per port-table row and transport."""

from __future__ import annotations

from collections.abc import Iterator

from netcheck import ids
from netcheck.evaluate import field, udp
from netcheck.evaluate._core import REMEDIES, Base, base, check, failed, msg, not_measured, remedy, source
from netcheck.profile import Profile
from netcheck.result import Check, Item, Measurement, Param, Qty, Site, Status

REMEDIES["tcp_blocked"] = (
    "Allow outbound TCP {port} to {host} ({purpose}) on the firewall/proxy; found: {found}."
)


def checks(profile: Profile, by_id: dict[str, Measurement], site: Site) -> Iterator[Check]:
    for i, rule in enumerate(profile.ports):
        host = profile.resolve_destination(rule.destination)
        port: Param = rule.port if isinstance(rule.port, int) else str(rule.port)
        for transport in rule.transports:
            b = base(f"port.{transport}.{rule.port}@{rule.destination}", "title.port", required=rule.required,
                     group="ports", source=source(profile, rule.source), protocol=rule.protocol,
                     transport=transport.upper(), port=port, host=host or rule.destination, purpose=rule.purpose)
            b["limit_key"] = "limit.open"
            if not host:
                yield check(b, Status.SKIPPED, "reason.no_host", target=rule.destination)
            elif transport == "udp":
                yield _udp_check(b, i, rule.required, by_id, host, _addresses(by_id, rule.destination),
                                 rule.range, str(rule.port), rule.purpose)
            else:
                m = by_id.get(ids.tcp(i))
                credit = None if m is not None and m.ok else field.credited_row(
                    b, host, _addresses(by_id, rule.destination), *rule.range, "tcp", by_id)
                yield credit or _tcp_check(b, rule.required, m, host, port, rule.purpose)


def _udp_check(b: Base, i: int, required: bool, by_id: dict[str, Measurement], host: str,
               addresses: list[str], span: tuple[int, int], port: str, purpose: str) -> Check:
    """Best evidence first: the responder's sweep of every port (``udp:<i>``); a server's
    answer on the port (STUN, SIP); the sampled TTL site-egress test; else NOT_MEASURED."""
    m = by_id.get(ids.udp(i))
    if m is None:
        found = (field.credited_row(b, host, addresses, *span, "udp", by_id)
                 or field.egress_row(b, i, required, host, port, purpose, by_id))
        if found is not None:
            return found
    return udp.udp_row(b, required, m, host, port, purpose)


def _addresses(by_id: dict[str, Measurement], target: str) -> list[str]:
    """The addresses DNS gave for a target name (credited answers carry addresses)."""
    m = by_id.get(ids.dns(target))
    found = m.values.get("addresses") if m is not None and m.ok else None
    return [str(a) for a in found] if isinstance(found, list) else []


def _tcp_check(b: Base, required: bool, m: Measurement | None, host: str, port: Param, purpose: str) -> Check:
    if m is None or not m.ok:
        return not_measured(b, m)
    b = {**b, "evidence": [m.id], "method": m.method}
    counts = m.values.get("counts") or {}
    assert isinstance(counts, dict)
    total = int(m.values.get("ports_total") or 0)  # type: ignore[arg-type]
    if total and counts.get("open", 0) == total:
        rtt = m.values.get("connect_median_ms")
        return check({**b, "measured_key": "state.open"}, Status.PASS, "reason.tcp_open",
                     ms=Qty(float(rtt), "ms") if isinstance(rtt, int | float) else "?")
    found: list[Item] = [msg("state_ports", state=msg(f"state.{state}"), ports=",".join(m.values[state]))  # type: ignore[arg-type]
                          for state in counts if state != "open"]
    return failed({**b, "measured_key": "measured.found"}, required, "reason.tcp_fail",
                  remedy("tcp_blocked", port=port, host=host, purpose=purpose, found=found), found=found)
