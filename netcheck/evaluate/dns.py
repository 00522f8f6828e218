"""DNS checks: every target host name resolves."""

from __future__ import annotations

from collections.abc import Iterator

from netcheck.evaluate._core import REMEDIES, Base, failed, remedy
from netcheck.profile import Profile
from netcheck.result import Check, Measurement, Site, Status

REMEDIES["dns_fail"] = (
    "Make {host} resolvable from this site: check the DNS servers handed out by DHCP and that "
    "outbound DNS (UDP/TCP 53) is allowed."
)


def checks(profile: Profile, by_id: dict[str, Measurement], site: Site) -> Iterator[Check]:
    for name, target in profile.targets.items():
        m = by_id.get(f"dns:{name}")
        if m is None:
            continue
        base: Base = dict(id=f"dns.{name}", title=f"DNS resolves {target.host}", required=target.required,
                    evidence=[m.id], method=m.method, group="dns", source=profile.sources.get(target.source or ""))
        if m.ok:
            addrs = [str(a) for a in m.values.get("addresses") or []]  # type: ignore[union-attr]
            yield Check(**base, status=Status.PASS, measured=addrs,
                        reason=f"{target.host} resolves to {', '.join(addrs)} in {m.values.get('resolve_ms')} ms")
        else:
            detail = m.error.detail if m.error else "no answer"
            yield failed(base, target.required, detail, remedy("dns_fail", host=target.host))
