"""Plain-text report for the terminal and for logs: verdict first, then findings.

Built from the same report view as HTML/PDF/Markdown, so ``--lang de`` works here too;
in English it prints the result document's own sentences.
"""

from __future__ import annotations

from netcheck.i18n import Catalogue
from netcheck.reports import integrity, view
from netcheck.reports.options import RenderOptions
from netcheck.reports.view import Row
from netcheck.result import RunResult, Scope
from netcheck.textsafe import visible

MARK = {"PASS": "PASS", "WARN": "WARN", "FAIL": "FAIL", "NOT_MEASURED": "N/M ", "SKIPPED": "SKIP"}


def render(result: RunResult, lang: str = "en", options: RenderOptions | None = None) -> bytes:
    """The report; each line passes :func:`netcheck.textsafe.visible`, so a network or
    user string with ESC or a newline in it is shown escaped, never obeyed."""
    return "\n".join(visible(line) for line in lines(result, lang, options)).encode() + b"\n"


def lines(result: RunResult, lang: str = "en", options: RenderOptions | None = None) -> list[str]:
    r = view.build(result, lang, options, "text")
    t = r.t.t
    tested, duration = t("field.tested"), t("field.duration")
    facts = "   ".join(f"{label}: {value}" for label, value in r.facts[:4] if label not in (tested, duration))
    out = [
        f"netcheck {r.version} — {result.profile.name} ({result.profile.id})",
        facts,
        f"{t('field.tested')}: {r.t.datetime(result.environment.started_utc)}   "
        f"{t('field.duration')}: {r.t.duration(result.environment.duration_s)}",
        "",
        f"{t('field.verdict').upper()}: {r.verdict_word}   "
        + "  ".join(f"{word}={n}" for _, word, n in r.summary),
        *([note] if (note := view.confidence_note(result, r.t)) else []),
        "",
    ]
    if r.findings:
        out.append(f"{t('section.findings')}:")
        for f in r.findings:
            out.append(f"  - {f.title}: {f.reason}")
            if f.fix:
                out.append(f"    {t('label.fix')}: {f.fix}")
        out.append("")
    out.append(f"{t('section.requirements')}:")
    out += [_row(row, t("label.optional")) for _, rows in r.groups for row in rows]
    out += _scope(result, r.t)
    out += ["", f"sha256:{r.sha256}", f"{integrity.SPEC_MARKER}{r.spec}"]
    return out


def _scope(result: RunResult, cat: Catalogue) -> list[str]:
    """Field mode (no responder): what this run could not prove (result.scope)."""
    scope = result.scope
    if not isinstance(scope, Scope) or scope.mode != "field" or not scope.not_proven:
        return []
    return ["", f"{cat.t('section.not_proven')}:", *(f"  - {cat.msg(i.key, i.params)}" for i in scope.not_proven)]


def _row(row: Row, optional: str) -> str:
    req = "" if row.required else f" ({optional})"
    return f"  [{MARK.get(row.status, row.status)}] {row.title}{req}: {row.reason}"
