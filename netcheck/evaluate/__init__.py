"""Judge: measurements + profile limits -> checks -> verdict. Pure functions, no I/O.

Rules (ARCHITECTURE.md, Contracts):
- a check whose measurement is missing or failed is NOT_MEASURED, never PASS;
- an optional requirement that is not met is a WARN (it informs), a required one a FAIL;
- verdict: any FAIL -> NO-GO; else GO only if every required check is PASS or WARN;
  else INCOMPLETE. So a required check that could not be measured can never give GO.

One module per area builds that area's checks (``checks(profile, by_id, site)``); this
list is their order in the report. Every FAIL carries a remediation from ``REMEDIES``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import msgspec

from netcheck.evaluate import (
    capacity,
    dns,
    faultloc,
    field,
    firewall,
    lan,
    lan_local,
    local_link,
    path,
    pending,
    ports,
    udp,
)
from netcheck.evaluate._core import REMEDIES, remedy
from netcheck.profile import Profile
from netcheck.result import CONFIDENCE_RANK, Check, Measurement, Scope, Site, Verdict, summary_of, verdict_of

__all__ = ["AREAS", "REMEDIES", "evaluate", "remedy", "scope", "summary", "verdict"]

Area = Callable[[Profile, dict[str, Measurement], Site], Iterable[Check]]
AREAS: tuple[Area, ...] = (dns.checks, path.checks, faultloc.checks, ports.checks, firewall.checks, udp.checks,
                           lan.checks, lan_local.checks, local_link.checks, capacity.checks, pending.checks)


def evaluate(profile: Profile, measurements: list[Measurement], site: Site | None = None) -> list[Check]:
    """All checks of the profile, in report order."""
    by_id = {m.id: m for m in measurements}
    site = site or Site()
    return [_confidence(check, by_id) for area in AREAS for check in area(profile, by_id, site)]


def _confidence(check: Check, by_id: dict[str, Measurement]) -> Check:
    """Fill ``confidence`` from the evidence when the area did not set its own."""
    if isinstance(check.confidence, str):
        return check
    levels = [by_id[e].confidence for e in check.evidence if e in by_id]
    if not levels:
        return check
    weakest = min(levels, key=CONFIDENCE_RANK.__getitem__)
    return msgspec.structs.replace(check, confidence=weakest)


def scope(profile: Profile, measurements: list[Measurement], checks: list[Check],
          responder: bool) -> Scope:
    """What the run proved with which methods, and what it could not prove (field mode)."""
    return field.scope(profile, {m.id: m for m in measurements}, checks, responder)


def verdict(checks: list[Check]) -> Verdict:
    """The run's verdict (the rule is :func:`netcheck.result.verdict_of`, shared with the
    renderers, which refuse a document whose stored verdict disagrees with its checks)."""
    return verdict_of(checks)


def summary(checks: list[Check]) -> dict[str, int]:
    return summary_of(checks)
