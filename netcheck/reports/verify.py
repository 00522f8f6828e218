"""``netcheck report verify``: does a report say what its result document says?

The digest in the footer (:mod:`netcheck.reports.integrity`) only ties a report to a
result file; anyone can edit the report's text and keep the footer. So verification
renders the report again from the result — same format, language and options, read from
the render-options token the report carries (:mod:`netcheck.reports.options`) — and
compares the *text* of the two, line by line. Any edited verdict, number or finding shows
up as a named difference ("report: GO / result: NO-GO"). PDF text is extracted with
poppler's ``pdftotext`` (Debian poppler-utils), from both PDFs alike.

Not compared: the integrator's logo (only its digest is in the token) — the integrator
block's text is compared like everything else.
"""

from __future__ import annotations

import difflib
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from pathlib import Path

from netcheck.reports import get, integrity
from netcheck.reports.options import OptionsError, parse_spec
from netcheck.result import RunResult, from_json

_MAX_SHOWN = 8
_BLOCK = {"p", "div", "h1", "h2", "h3", "h4", "li", "tr", "dt", "dd", "figcaption", "section", "header",
          "footer", "br", "table", "thead", "tbody", "title", "td", "th"}


class VerifyError(ValueError):
    """Verification could not be carried out (not a report, no pdftotext, ...)."""


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str
    differences: list[str]


def verify(result_bytes: bytes, report: bytes) -> Outcome:
    """Digest first (is this the report of this result?), then content (was it edited?)."""
    digest = integrity.verify(result_bytes, report)
    if not digest.ok:
        return Outcome(False, digest.message, [])
    tokens = integrity.specs_in(report)
    if len(tokens) != 1:
        return Outcome(False, "mismatch: the report carries no single netcheck-render token (rendered by a "
                       "netcheck before 0.2, or edited): its content cannot be verified", [])
    try:
        lang, fmt, options = parse_spec(tokens.pop())
        result = from_json(result_bytes)
    except (OptionsError, ValueError) as exc:
        return Outcome(False, f"mismatch: {exc}", [])
    fmt = fmt or detect_format(report)
    expected = _render(result, fmt, lang, replace(options, result_sha256=digest.report_sha256))
    diffs = differences(text_of(report, fmt), text_of(expected, fmt))
    if diffs:
        shown = diffs[:_MAX_SHOWN] + ([f"... and {len(diffs) - _MAX_SHOWN} more"] if len(diffs) > _MAX_SHOWN else [])
        return Outcome(False, "mismatch: the report's content differs from the result:\n  " + "\n  ".join(shown),
                       diffs)
    return Outcome(True, f"{digest.message}; content matches the result ({fmt}, {lang})", [])


def detect_format(report: bytes) -> str:
    if report.startswith(b"%PDF"):
        return "pdf"
    head = report[:200].lstrip().lower()
    if head.startswith(b"<!doctype html") or head.startswith(b"<html"):
        return "html"
    return "markdown" if report.lstrip().startswith(b"#") else "text"


def _render(result: RunResult, fmt: str, lang: str, options: object) -> bytes:
    if fmt not in ("html", "pdf", "markdown", "text"):
        raise VerifyError(f"cannot verify a {fmt!r} report")
    data: bytes = get(fmt)(result, lang, options)
    return data


def text_of(report: bytes, fmt: str) -> list[str]:
    """The visible text of a report, one normalised line per block (no markup)."""
    if fmt == "pdf":
        text = _pdftotext(report)
    elif fmt == "html":
        parser = _Text()
        parser.feed(report.decode("utf-8", errors="replace"))
        text = parser.text()
    else:
        text = report.decode("utf-8", errors="replace")
    lines = (re.sub(r"\s+", " ", line).strip() for line in text.splitlines())
    return [line for line in lines if line]


def differences(report: list[str], expected: list[str]) -> list[str]:
    """Named differences: what the report says where the result gives something else."""
    out: list[str] = []
    matcher = difflib.SequenceMatcher(a=expected, b=report, autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            continue
        got, want = report[b0:b1], expected[a0:a1]
        for i in range(max(len(got), len(want))):
            g = got[i] if i < len(got) else "(missing)"
            w = want[i] if i < len(want) else "(nothing)"
            out.append(f"report: {g!r} / result gives: {w!r}")
    return out


def _pdftotext(pdf: bytes) -> str:
    tool = shutil.which("pdftotext")
    if tool is None:
        raise VerifyError("verifying a PDF needs pdftotext (Debian: apt install poppler-utils)")
    with tempfile.TemporaryDirectory(prefix="netcheck-verify-") as tmp:
        path = Path(tmp) / "report.pdf"
        path.write_bytes(pdf)
        done = subprocess.run([tool, "-enc", "UTF-8", str(path), "-"], capture_output=True, timeout=60, check=False)
    if done.returncode != 0:
        raise VerifyError(f"pdftotext could not read the PDF: {done.stderr.decode(errors='replace')[:200]}")
    return done.stdout.decode("utf-8", errors="replace")


class _Text(HTMLParser):
    """Text of an HTML report: block elements end a line; class attributes and the style
    sheet count too (an edit that turns a red band green is an edit)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK or tag == "style":
            self.parts.append("\n")
        classes = next((v for k, v in attrs if k == "class" and v), None)
        if classes:  # the verdict band's colour and a pill's status are classes: edits count
            self.parts.append(f"[{classes}] ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCK or tag == "style":
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def text(self) -> str:
        return "".join(self.parts)
