"""Requirements this build cannot measure yet: stated as NOT_MEASURED, never passed.

Each area's real checks replace its entry here when its probes land (QoS under load,
capacity); lan.exposure lives in evaluate/udp.py."""

from __future__ import annotations

from collections.abc import Iterator

from netcheck.evaluate._core import source
from netcheck.profile import Profile
from netcheck.result import Check, Measurement, Site, Status


def checks(profile: Profile, by_id: dict[str, Measurement], site: Site) -> Iterator[Check]:
    qos = profile.qos
    if qos and (qos.priority_required or qos.voice_dscp is not None):
        yield Check(id="qos.priority", title="voice prioritised over other traffic", status=Status.NOT_MEASURED,
                    required=qos.priority_required, group="capacity", source=source(profile, qos.source),
                    reason="the QoS test (call under load) needs a netcheck responder; not run")
    yield from _bandwidth(profile, site.extensions)
    if profile.availability_pct is not None:
        yield Check(id="availability", title=f"availability of the handover point >= {profile.availability_pct:g} %",
                    status=Status.SKIPPED, required=False, group="general", limit=f">= {profile.availability_pct:g} %",
                    reason="judged by the scheduled agent over weeks, not by a one-shot run")


def _bandwidth(profile: Profile, extensions: int | None) -> Iterator[Check]:
    bw = profile.bandwidth
    if not bw or (bw.per_extension_up_kbps is None and bw.per_extension_down_kbps is None):
        return
    base = dict(id="bandwidth.per_extension", group="capacity", required=True, unit="kbit/s",
                source=source(profile, bw.source))
    up, down = bw.per_extension_up_kbps or 0, bw.per_extension_down_kbps or 0
    if extensions is None:
        yield Check(**base, title=f"free bandwidth {up:g}/{down:g} kbit/s per extension", status=Status.SKIPPED,
                    reason="number of extensions unknown; pass --extensions N")
        return
    yield Check(**base, title=f"free bandwidth for {extensions} extensions", status=Status.NOT_MEASURED,
                limit=f">= {extensions * up:g} up / {extensions * down:g} down kbit/s",
                reason=f"needs {extensions * up:g} kbit/s up and {extensions * down:g} kbit/s down; "
                "capacity is measured against a netcheck responder, not run")
