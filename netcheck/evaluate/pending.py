"""Requirements this build cannot measure yet: stated as NOT_MEASURED, never passed.

Each area's real checks replaced their entries here when their probes landed (QoS under
load and capacity: evaluate/capacity.py; lan.exposure: evaluate/udp.py)."""

from __future__ import annotations

from collections.abc import Iterator

from netcheck.profile import Profile
from netcheck.result import Check, Measurement, Site, Status


def checks(profile: Profile, by_id: dict[str, Measurement], site: Site) -> Iterator[Check]:
    if profile.availability_pct is not None:
        yield Check(id="availability", title=f"availability of the handover point >= {profile.availability_pct:g} %",
                    status=Status.SKIPPED, required=False, group="general", limit=f">= {profile.availability_pct:g} %",
                    reason="judged by the scheduled agent over weeks, not by a one-shot run")
