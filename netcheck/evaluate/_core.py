"""Shared pieces of the judges: the remediation catalogue and the check builders.

Check text is typed (schema 2): a check names catalogue keys (``title.*``, ``reason.*``,
``measured.*``, ``limit.*``, ``note.*`` in ``netcheck/i18n/<lang>.json``) and typed params
(:class:`~netcheck.result.Qty` for numbers with units, ``int`` for ports/ids/counts,
:class:`~netcheck.result.Role` for target names, ``str`` for verbatim host names and
network text, :class:`~netcheck.result.Msg` for nested phrases). Reports translate by key;
the English text stored next to the keys is rendered here, once, from the same catalogue.
See /work/notes/CHECK_KEYS.md (and tests/unit/test_check_keys.py) for adding a check.

Each area module builds its checks with :func:`check`, :func:`failed`,
:func:`not_measured` and :func:`judge`, so that the rules "optional and not met -> WARN"
and "no data -> NOT_MEASURED" live in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netcheck.i18n import Catalogue
from netcheck.profile import Limit, Profile
from netcheck.result import Bound, Check, ErrorKind, Measurement, Msg, Op, Param, Qty, Remedy, Role, Status, Value

__all__ = [
    "REMEDIES",
    "Base",
    "Qty",
    "Role",
    "base",
    "bound_msg",
    "bound_of",
    "check",
    "failed",
    "judge",
    "msg",
    "not_measured",
    "remedy",
    "source",
]

#: Remediation catalogue (English), filled by the area modules; the text a remedy prints
#: comes from the catalogue's ``remedy.<key>`` when it has one (reports translate by key).
REMEDIES: dict[str, str] = {
    "icmp_permission": "Grant raw-socket rights (run as root/Administrator or CAP_NET_RAW) so "
    "that ICMP can be measured.",
    "path_unreachable": "{target} did not answer: make sure the firewall allows ICMP echo to it, "
    "or measure with a netcheck responder at the far end.",
}

#: The English catalogue, for the text stored in the document next to the keys.
EN = Catalogue("en")

Base = dict[str, Any]
_OP = {"max": Op.LE, "below": Op.LT, "min": Op.GE, "above": Op.GT}
_OP_KEY = {Op.LE: "le", Op.LT: "lt", Op.GE: "ge", Op.GT: "gt", Op.EQ: "eq"}


def msg(key: str, **params: Param) -> Msg:
    """A catalogue phrase with its params (a param of another phrase, or a note)."""
    return Msg(key=key, params=params)


def base(cid: str, title_key: str, *, required: bool, group: str, source: str | None = None,
         **params: Param) -> Base:
    """The fields every outcome of one check shares: id, title key + its params, area."""
    return dict(id=cid, title_key=title_key, required=required, group=group, source=source, params=params)


def remedy(key: str, **params: Param | float) -> Remedy:
    """A fix from the catalogue (``remedy.<key>``; English fallback :data:`REMEDIES`)."""
    shown = {k: EN.param(v) for k, v in params.items()}
    template = EN.t(f"remedy.{key}") if EN.has(f"remedy.{key}") else REMEDIES[key]
    return Remedy(key=key, text=template.format(**shown), params=dict(params))


def bound_of(limit: Limit, unit: str) -> Bound:
    """A profile limit as data."""
    op, value = limit.comparator
    return Bound(op=_OP[op], value=value, unit=unit)


def bound_msg(b: Bound) -> Msg:
    """``Bound(<=, 150, ms)`` as a phrase: "≤ 150 ms" (the number in the report's format)."""
    return msg(f"bound.{_OP_KEY[b.op]}", value=Qty(b.value, b.unit))


def check(b: Base, status: Status, reason_key: str, *, measured: Value = None, fix: Remedy | None = None,
          notes: tuple[Msg, ...] = (), params: Mapping[str, Param] | None = None, **kw: Param) -> Check:
    """One outcome of a check: ``b`` (from :func:`base`) plus status, reason key and params.

    Optional fields may be in ``b``: ``evidence``, ``method``, ``unit``, ``bound``,
    ``limit_key`` (a limit that is not one number), ``measured_key`` (a measured value
    that is a phrase, e.g. "3 of 5 ports open")."""
    fields = dict(b)
    title_key: str = fields.pop("title_key")
    all_params: dict[str, Param] = {**fields.pop("params", {}), **(params or {}), **kw}
    bound: Bound | None = fields.get("bound")
    limit_key = fields.get("limit_key", "")
    limit = EN.msg(limit_key, all_params) if limit_key else (EN.msg(bound_msg(bound)) if bound else None)
    measured_key = fields.get("measured_key", "")
    if measured_key and measured is None:
        measured = EN.msg(measured_key, all_params)
    reason = EN.msg(reason_key, all_params) + "".join(f" ({EN.msg(n)})" for n in notes)
    return Check(**fields, title=EN.msg(title_key, all_params), title_key=title_key, status=status,
                 reason=reason, reason_key=reason_key, params=all_params, notes=list(notes),
                 measured=measured, limit=limit, remediation=fix)


def failed(b: Base, required: bool, reason_key: str, fix: Remedy, measured: Value = None,
           params: Mapping[str, Param] | None = None, notes: tuple[Msg, ...] = (), **kw: Param) -> Check:
    """A requirement not met: FAIL when required, WARN when the profile marks it optional."""
    status = Status.FAIL if required else Status.WARN
    notes = notes if required else (*notes, msg("note.optional"))
    return check(b, status, reason_key, measured=measured, fix=fix, notes=notes, params=params, **kw)


def not_measured(b: Base, m: Measurement | None, note: Msg | None = None) -> Check:
    """No value: say why (and what to grant or open, when the error tells us).

    ``note`` explains a missing measurement or value; the probe's own error wins."""
    if m is None or m.error is None:
        default = "reason.not_planned" if m is None else "reason.no_value"
        why = note or msg(default)
        return check(b, Status.NOT_MEASURED, "reason.why", why=why)
    kind = m.error.kind
    params: dict[str, Param] = dict(kind=msg(f"error.{m.error.kind.value}"), detail=m.error.detail)
    if kind is ErrorKind.PERMISSION:
        return check(b, Status.NOT_MEASURED, "reason.error", fix=remedy("icmp_permission"), params=params)
    if kind in (ErrorKind.TIMEOUT, ErrorKind.UNREACHABLE):
        target = b["params"].get("target") or b["params"].get("host") or m.target
        return check(b, Status.NOT_MEASURED, "reason.error", fix=remedy("path_unreachable", target=target),
                     params=params)
    return check(b, Status.NOT_MEASURED, "reason.error", params=params)


def judge(b: Base, limit: Limit, value: float, metric: Msg, unit: str, note: Msg | None, fix: Remedy) -> Check:
    """PASS / WARN (near the limit or optional) / FAIL for one numeric value.

    The reason is "<metric> <value> (<note>), limit <bound>"; ``b`` gets the bound."""
    bound = bound_of(limit, unit)
    b = {**b, "bound": bound}
    params: dict[str, Param] = dict(metric=metric, value=Qty(value, unit), limit=bound_msg(bound))
    key = "reason.judge_note" if note else "reason.judge"
    if note:
        params["note"] = note
    if not limit.passes(value):
        return failed(b, b["required"], key, fix, measured=value, params=params)
    if limit.near(value):
        return check(b, Status.WARN, key, measured=value, notes=(msg("note.near"),), params=params)
    return check(b, Status.PASS, key, measured=value, params=params)


def source(profile: Profile, key: str | None) -> str | None:
    return profile.sources.get(key) if key else None
