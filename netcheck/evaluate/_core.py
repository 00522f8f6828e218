"""Shared pieces of the judges: the remediation catalogue and the check builders.

Each area module (dns, path, ports, ...) registers its remedies in :data:`REMEDIES` and
builds its checks with :func:`failed`, :func:`not_measured` and :func:`judge`, so that the
rules "optional and not met -> WARN" and "no data -> NOT_MEASURED" live in one place.
"""

from __future__ import annotations

from typing import Any

from netcheck.profile import Limit, Profile
from netcheck.result import Check, ErrorKind, Measurement, Remedy, Status, Value

#: Remediation catalogue (English), filled by the area modules; reports translate by key.
REMEDIES: dict[str, str] = {
    "icmp_permission": "Grant raw-socket rights (run as root/Administrator or CAP_NET_RAW) so "
    "that ICMP can be measured.",
    "path_unreachable": "{target} did not answer: make sure the firewall allows ICMP echo to it, "
    "or measure with a netcheck responder at the far end.",
}

Base = dict[str, Any]


def remedy(key: str, **params: Value) -> Remedy:
    return Remedy(key=key, text=REMEDIES[key].format(**params), params=dict(params))


def failed(base: Base, required: bool, reason: str, fix: Remedy, measured: Value = None) -> Check:
    """A requirement not met: FAIL when required, WARN when the profile marks it optional."""
    status = Status.FAIL if required else Status.WARN
    text = reason if required else f"{reason} (optional requirement)"
    return Check(**base, status=status, reason=text, remediation=fix, measured=measured)


def not_measured(base: Base, note: str, m: Measurement | None) -> Check:
    """No value: say why (and what to grant or open, when the error tells us)."""
    if m is None:
        why = note or "no measurement was planned for it"
    elif m.error is not None:
        why = f"{m.error.kind.value}: {m.error.detail}"
        if m.error.kind is ErrorKind.PERMISSION:
            return Check(**base, status=Status.NOT_MEASURED, reason=why, remediation=remedy("icmp_permission"))
        if m.error.kind in (ErrorKind.TIMEOUT, ErrorKind.UNREACHABLE):
            target = base["title"].split(" to ", 1)[-1]
            return Check(**base, status=Status.NOT_MEASURED, reason=why,
                         remediation=remedy("path_unreachable", target=target))
    else:
        why = note or "the measurement has no value for it"
    return Check(**base, status=Status.NOT_MEASURED, reason=why)


def judge(base: Base, limit: Limit, value: float, label: str, unit: str, note: str, fix: Remedy) -> Check:
    """PASS / WARN (near the limit or optional) / FAIL for one numeric value."""
    shown = f" {unit}" if unit else ""
    suffix = f" ({note})" if note else ""
    text = f"{label} {value:g}{shown}{suffix}, limit {limit.describe(unit)}"
    if not limit.passes(value):
        return failed(base, base["required"], text, fix, measured=value)
    status = Status.WARN if limit.near(value) else Status.PASS
    extra = " (close to the limit)" if status is Status.WARN else ""
    return Check(**base, status=status, measured=value, reason=text + extra)


def source(profile: Profile, key: str | None) -> str | None:
    return profile.sources.get(key) if key else None
