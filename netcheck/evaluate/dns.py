"""DNS checks: every target host name resolves."""

from __future__ import annotations

from collections.abc import Iterator

from netcheck import ids
from netcheck.evaluate._core import REMEDIES, base, check, failed, msg, not_measured, remedy
from netcheck.profile import Profile
from netcheck.result import Check, ErrorKind, Measurement, Qty, Site, Status

REMEDIES["dns_fail"] = (
    "Make {host} resolvable from this site: check the DNS servers handed out by DHCP and that "
    "outbound DNS (UDP/TCP 53) is allowed."
)


def checks(profile: Profile, by_id: dict[str, Measurement], site: Site) -> Iterator[Check]:
    for name, target in profile.targets.items():
        m = by_id.get(ids.dns(name))
        if m is None:
            continue
        host = target.host or name
        b = base(f"dns.{name}", "title.dns", required=target.required, group="dns",
                 source=profile.sources.get(target.source or ""), host=host)
        b.update(evidence=[m.id], method=m.method)
        if m.ok:
            addrs = [str(a) for a in m.values.get("addresses") or []]  # type: ignore[union-attr]
            ms = m.values.get("resolve_ms")
            yield check(b, Status.PASS, "reason.dns_ok", measured=addrs, addresses=", ".join(addrs),
                        ms=Qty(float(ms), "ms") if isinstance(ms, int | float) else "?")
        elif m.error is not None and m.error.kind is ErrorKind.INTERNAL:
            yield not_measured(b, m)  # a probe bug or a run stopped before it: not a DNS answer
        else:
            detail = m.error.detail if m.error else "no answer"
            kind = msg(f"error.{m.error.kind.value}") if m.error else msg("measured.no_answer")
            yield failed(b, target.required, "reason.dns_fail", remedy("dns_fail", host=host), kind=kind,
                         detail=detail)
