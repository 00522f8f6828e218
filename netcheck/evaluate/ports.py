"""Firewall-egress checks: one per port-table row and transport."""

from __future__ import annotations

from collections.abc import Iterator

from netcheck.evaluate import udp
from netcheck.evaluate._core import REMEDIES, Base, failed, not_measured, remedy, source
from netcheck.profile import Profile
from netcheck.result import Check, Measurement, Site, Status

REMEDIES["tcp_blocked"] = (
    "Allow outbound TCP {port} to {host} ({purpose}) on the firewall/proxy; found: {found}."
)


def checks(profile: Profile, by_id: dict[str, Measurement], site: Site) -> Iterator[Check]:
    for i, rule in enumerate(profile.ports):
        host = profile.resolve_destination(rule.destination)
        for transport in rule.transports:
            base: Base = dict(
                id=f"port.{transport}.{rule.port}@{rule.destination}",
                title=f"{rule.protocol} {transport.upper()} {rule.port} to {host or rule.destination} ({rule.purpose})",
                required=rule.required, group="ports", source=source(profile, rule.source),
            )
            if not host:
                yield Check(**base, status=Status.SKIPPED,
                            reason=f"no host for target {rule.destination!r}; pass --target {rule.destination}=HOST")
            elif transport == "udp":  # NOT_MEASURED with the reason unless udp:<i> was measured
                yield udp.udp_row(base, rule.required, by_id.get(f"udp:{i}"), host, str(rule.port), rule.purpose)
            else:
                yield _tcp_check(base, rule.required, by_id.get(f"tcp:{i}"), host, str(rule.port), rule.purpose)


def _tcp_check(base: Base, required: bool, m: Measurement | None, host: str, port: str, purpose: str) -> Check:
    if m is None or not m.ok:
        return not_measured(base, "", m)
    base = {**base, "evidence": [m.id], "method": m.method}
    counts = m.values.get("counts") or {}
    assert isinstance(counts, dict)
    total = int(m.values.get("ports_total") or 0)  # type: ignore[arg-type]
    if total and counts.get("open", 0) == total:
        rtt = m.values.get("connect_median_ms")
        return Check(**base, status=Status.PASS, measured="open",
                     reason=f"TCP {port} to {host}: open (connect {rtt} ms)")
    found = "; ".join(f"{state} {','.join(m.values[state])}" for state in counts if state != "open")  # type: ignore[arg-type]
    return failed(base, required, f"TCP {port} to {host}: {found}",
                  remedy("tcp_blocked", port=port, host=host, purpose=purpose, found=found), measured=found)
