"""Requirements a one-shot run cannot judge: stated as SKIPPED with the reason, never passed.

Today: the platform's availability (e.g. 99.9 %), which only the scheduled agent's history
over weeks can show (``netcheck history --report``). Every other area has its own module."""

from __future__ import annotations

from collections.abc import Iterator

from netcheck.evaluate._core import base, check
from netcheck.profile import Profile
from netcheck.result import Bound, Check, Measurement, Op, Qty, Site, Status


def checks(profile: Profile, by_id: dict[str, Measurement], site: Site) -> Iterator[Check]:
    if profile.availability_pct is not None:
        b = base("availability", "title.availability", required=False, group="general",
                 pct=Qty(profile.availability_pct, "%"))
        b["bound"] = Bound(op=Op.GE, value=profile.availability_pct, unit="%")
        yield check(b, Status.SKIPPED, "reason.availability")
