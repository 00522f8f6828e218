"""HTML report: one self-contained file (inline CSS and SVG; no script, font, image or
stylesheet is loaded from anywhere), readable on a phone, printable on A4.

The same HTML feeds the PDF (:mod:`netcheck.reports.pdf`): its ``@page`` rules (A4, running
header with customer and date, page numbers, result SHA-256 in the footer) are CSS Paged
Media that WeasyPrint implements and browsers ignore.

Safety: Jinja2 autoescape is on, so every string from the result document — including
what came from the network (SNMP sysDescr, LLDP names, DHCP options, SIP headers) — is
text, never markup. The only unescaped insertions are the chart SVGs from
:mod:`netcheck.reports.svg` and the path diagrams from :mod:`netcheck.reports.pathdiagram`,
which escape their own text. Customer names never enter the
CSS: the page header is a running element, not a CSS string.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from netcheck.reports import integrity, pathdiagram, view
from netcheck.reports.options import RenderOptions
from netcheck.result import RunResult


@functools.cache
def _environment() -> object:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("netcheck.reports", "templates"),
        autoescape=True,
        trim_blocks=False,
        lstrip_blocks=False,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["css_string"] = css_string
    return env


def css_string(text: str) -> Any:
    """A CSS string literal (for catalogue words in ``@page`` content, never user data):
    backslash, quotes, angle brackets and newlines become CSS hex escapes, so the result
    is safe inside ``<style>`` and is marked safe for Jinja."""
    from markupsafe import Markup

    body = re.sub(r'[\\"\'<>&\n\r]', lambda m: f"\\{ord(m.group()):x} ", str(text))
    return Markup(f'"{body}"')


def render(result: RunResult, lang: str = "en", options: RenderOptions | None = None) -> bytes:
    return render_text(result, lang, options).encode("utf-8")


def render_text(result: RunResult, lang: str = "en", options: RenderOptions | None = None, fmt: str = "html") -> str:
    from markupsafe import Markup

    report = view.build(result, lang, options, fmt)
    charts = [{"title": c.title, "svg": Markup(c.svg), "caption": c.caption} for c in report.charts]
    paths = [{"title": d.title, "svg": Markup(d.svg), "caption": d.caption, "check_id": d.check_id,
              "fault": d.fault} for d in pathdiagram.diagrams(result, report.t)]
    template = _environment().get_template("report.html.j2")  # type: ignore[attr-defined]
    text: str = template.render(
        r=report,
        t=report.t.t,
        charts=charts,
        # with the finding it explains (a segment at fault); the others in the appendix
        path_by_check=(in_findings := {d["check_id"]: d for d in paths if d["fault"] and d["check_id"]}),
        path_diagrams=[d for d in paths if d["check_id"] not in in_findings] if report.appendix else [],
        keyword=f"{integrity.keyword(report.sha256)} {integrity.SPEC_MARKER}{report.spec}",
        page_label=report.t.t("label.page"),
    )
    return text
