"""Requirements this build cannot measure yet: stated as NOT_MEASURED, never passed.

Each area's real checks replaced their entries here when their probes landed (QoS under
load and capacity: evaluate/capacity.py; lan.exposure: evaluate/udp.py)."""

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
