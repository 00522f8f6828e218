"""Markdown report, for tickets and e-mail: verdict, blocking findings with fixes, open
items, the requirements table per area, and the result's SHA-256.

Strings from the document — some from the network (device names, SIP headers) — are
data: :func:`esc` backslash-escapes Markdown syntax and ``<``/``>`` (CommonMark), so they
cannot open links, images, tables or inline HTML in a ticket system.
"""

from __future__ import annotations

import re

from netcheck.reports import integrity, view
from netcheck.reports.options import RenderOptions
from netcheck.reports.view import Report, Row
from netcheck.result import RunResult
from netcheck.textsafe import visible

_SPECIAL = re.compile(r"([\\`*_\[\]|#!<>])")


def render(result: RunResult, lang: str = "en", options: RenderOptions | None = None) -> bytes:
    r = view.build(result, lang, options, "markdown")
    out = _cover(r) + _page_one(r) + _findings(r) + _requirements(r) + _footer(r)
    return ("\n".join(visible(line) for line in out) + "\n").encode()


def esc(text: str) -> str:
    """Neutralise Markdown and inline HTML in a data string (one line): CommonMark
    backslash escapes (so ``\\<script>`` is literal text, not a tag), no line breaks, and
    other control characters (terminal escapes) shown as ``\\x1b`` (netcheck.textsafe)."""
    text = _SPECIAL.sub(r"\\\1", str(text))
    return visible(text.replace("\r", " ").replace("\n", " "))


def _cover(r: Report) -> list[str]:
    t = r.t.t
    out = [
        f"# {esc(t('doc.heading'))}: **{esc(r.verdict_word)}**",
        "",
        f"> **{esc(r.verdict_word)}** \u2013 {esc(r.verdict_text)}",
        "",
    ]
    out += [
        f"| {esc(t('field.summary'))} | "
        + ", ".join(f"{esc(word)}: {n}" for _, word, n in r.summary)
        + " |",
        "|---|---|",
    ]
    out += [f"| {esc(label)} | {esc(value)} |" for label, value in r.facts]
    if r.sources:
        out.append(
            f"| {esc(t('field.sources'))} | "
            + "<br>".join(esc(text) for _, text in r.sources)
            + " |"
        )
    return [*out, ""]


def _page_one(r: Report) -> list[str]:
    """The numbers that matter against their limits, and the scope of the test."""
    t = r.t.t
    out: list[str] = []
    if r.key_figures:
        head = ("col.metric", "col.target", "col.measured", "col.limit", "col.status")
        out += [f"## {esc(t('section.key_figures'))}", "", "| " + " | ".join(esc(t(h)) for h in head) + " |",
                "|---|---|---|---|---|"]
        out += ["| " + " | ".join(esc(x) for x in (f.label, f.target, f.measured, f.limit, f.status_word)) + " |"
                for f in r.key_figures]
        out.append("")
    if r.scope:
        out += [f"## {esc(t('section.scope'))}", "", f"**{esc(t('scope.measured'))}:** "
                + esc(", ".join(r.scope.measured) or t("field.none")) + "  ",
                f"**{esc(t('scope.not_measured'))}:** " + esc("; ".join(r.scope.not_measured)) + "  "]
        if r.scope.not_proven:
            out.append(f"**{esc(t('scope.not_proven'))}:** " + esc("; ".join(r.scope.not_proven)))
        out.append("")
    return out


def _findings(r: Report) -> list[str]:
    t = r.t.t
    out = [f"## {esc(t('section.findings'))}", ""]
    if not r.findings:
        out += [esc(t("section.findings_none")), ""]
    for i, f in enumerate(r.findings, 1):
        out.append(
            f"{i}. **{esc(f.title)}** \u2013 "
            f"{esc(t('label.measured_vs_limit', measured=f.measured, limit=f.limit))}  "
        )
        out.append(f"   {esc(f.reason)}  ")
        if f.fix:
            out.append(f"   **{esc(t('label.fix'))}:** {esc(f.fix)}")
    out.append("")
    for key, rows in (("section.open", r.open_items), ("section.warnings", r.warnings)):
        if rows:
            out += [f"## {esc(t(key))}", ""] + [_item(row, r) for row in rows] + [""]
    if r.capacity:
        out += [f"## {esc(t('section.capacity'))}", "", esc(" ".join(r.capacity)), ""]
    return out


def _item(row: Row, r: Report) -> str:
    fix = f" **{esc(r.t.t('label.fix'))}:** {esc(row.fix)}" if row.fix else ""
    return f"- **{esc(row.title)}**: {esc(row.reason)}{fix}"


def _requirements(r: Report) -> list[str]:
    t = r.t.t
    head = [
        "col.status",
        "col.requirement",
        "col.measured",
        "col.limit",
        "col.method",
        "col.confidence",
    ]
    out = [f"## {esc(t('section.requirements'))}", ""]
    for group, rows in r.groups:
        out += [
            f"### {esc(group)}",
            "",
            "| " + " | ".join(esc(t(k)) for k in head) + " |",
            "|---|---|---|---|---|---|",
        ]
        for row in rows:
            title = row.title + ("" if row.required else f" ({t('label.optional')})")
            cells = [
                f"**{row.status_word}**" if row.status == "FAIL" else row.status_word,
                title,
                row.measured,
                row.limit,
                row.method,
                row.confidence,
            ]
            out.append("| " + " | ".join(c if c.startswith("**") else esc(c) for c in cells) + " |")
        out.append("")
    return out


def _footer(r: Report) -> list[str]:
    t = r.t.t
    return [
        "---",
        "",
        f"{esc(t('label.sha256'))}: `sha256:{r.sha256}`  ",
        esc(t("label.generated_by", version=r.version)) + "  ",
        f"`{integrity.SPEC_MARKER}{r.spec}`",
    ]
