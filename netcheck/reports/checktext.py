"""Check titles, reasons, measured values, limits and fixes in the report's language.

A schema-2 check names catalogue keys and typed params (see :class:`netcheck.result.Check`);
every language renders them the same way, by key — nothing is recognised in English text.
A schema-1 document (stored by an agent before keys existed) has only English sentences:
they are printed as stored, and :func:`is_legacy` lets the layout label them as such.
"""

from __future__ import annotations

from netcheck.i18n import Catalogue
from netcheck.result import Bound, Check, Remedy

_OP_KEY = {"<=": "le", "<": "lt", ">=": "ge", ">": "gt", "==": "eq"}


def is_legacy(check: Check) -> bool:
    """True for a check without catalogue keys (schema 1): its text is stored English."""
    return not check.typed


def _known(cat: Catalogue, key: str) -> bool:
    """A key this build's catalogues define (a document from a newer netcheck may name one
    they do not: then its stored English text is printed rather than the key)."""
    return cat.has(key) or Catalogue("en").has(key)


def title(check: Check, cat: Catalogue) -> str:
    return cat.msg(check.title_key, check.params) if check.typed and _known(cat, check.title_key) else check.title


def reason(check: Check, cat: Catalogue) -> str:
    if not check.typed or not _known(cat, check.reason_key):
        return check.reason
    return cat.msg(check.reason_key, check.params) + "".join(f" ({cat.msg(n)})" for n in check.notes)


def fix(remedy: Remedy | None, cat: Catalogue) -> str | None:
    """The remediation in the report's language (the stored English text when the
    catalogue has no entry for its key)."""
    if remedy is None:
        return None
    key = f"remedy.{remedy.key}"
    if not cat.has(key) and not Catalogue("en").has(key):
        return remedy.text
    return cat.t(key, **{k: cat.param(v) for k, v in remedy.params.items()})


def bound(b: Bound, cat: Catalogue) -> str:
    """``Bound(<=, 150, ms)`` -> "≤ 150 ms" in the language's number format."""
    return cat.t(f"bound.{_OP_KEY[b.op.value]}", value=cat.param_qty(b.value, b.unit))


def limit(check: Check, cat: Catalogue) -> str | None:
    """The requirement a check was judged against, or None when it states none."""
    if check.typed and check.limit_key and _known(cat, check.limit_key):
        return cat.msg(check.limit_key, check.params)
    if check.bound is not None:
        return bound(check.bound, cat)
    if check.limit:
        return cat.decimals_in(check.limit)
    return None


def measured(check: Check, cat: Catalogue) -> str | None:
    """The measured value when it is a phrase ("3/5 open"); None when it is a plain value."""
    if check.typed and check.measured_key and _known(cat, check.measured_key):
        return cat.msg(check.measured_key, check.params)
    return None
