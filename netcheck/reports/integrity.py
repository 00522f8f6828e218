"""Tie a report to the result document it was rendered from (SHA-256, FIPS 180-4).

Every report carries the SHA-256 of the result document in its footer, as
``sha256:<64 hex>``. The digest is taken over :func:`netcheck.result.to_json` of the
document — exactly the bytes ``netcheck run`` writes to RESULT.json, so ``sha256sum
RESULT.json`` shows the same value. :func:`verify` reads the digest back from a report
(HTML/Markdown/text: the text itself; PDF: the document's Keywords metadata, which
WeasyPrint writes from ``<meta name="keywords">``, possibly inside a compressed object
stream) and compares it with the file's own digest. A result that was only re-indented
still matches through its canonical form, which :func:`verify` says.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass

from netcheck.result import RunResult, from_json, to_json

MARKER = "sha256:"
#: Prefix of the render-options token (:func:`netcheck.reports.options.spec`) in a report.
SPEC_MARKER = "netcheck-render:"
_SPEC = re.compile(rb"netcheck-render:([A-Za-z0-9_-]+)")
_DIGEST = re.compile(rb"netcheck-result-sha256[:=]\s*([0-9a-f]{64})|sha256:([0-9a-f]{64})")
_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.DOTALL)


def digest(result: RunResult) -> str:
    return hashlib.sha256(to_json(result)).hexdigest()


def keyword(sha: str) -> str:
    """The PDF keyword that carries the digest (searchable, machine-readable)."""
    return f"netcheck-result-sha256:{sha}"


@dataclass(frozen=True)
class Verification:
    ok: bool
    report_sha256: str | None
    result_sha256: str
    canonical_sha256: str | None
    message: str


def digests_in(report: bytes) -> set[str]:
    """Every result digest a report states (text and, for PDF, decompressed streams)."""
    found = {(a or b).decode() for a, b in _DIGEST.findall(report)}
    if report.startswith(b"%PDF"):
        for raw in _STREAM.findall(report):
            try:
                text = zlib.decompress(raw)
            except zlib.error:
                continue
            found |= {(a or b).decode() for a, b in _DIGEST.findall(text)}
    return found


def specs_in(report: bytes) -> set[str]:
    """Every render-options token a report states (PDF: also in decompressed streams)."""
    found = {m.decode() for m in _SPEC.findall(report)}
    if report.startswith(b"%PDF"):
        for raw in _STREAM.findall(report):
            try:
                found |= {m.decode() for m in _SPEC.findall(zlib.decompress(raw))}
            except zlib.error:
                continue
    return found


def verify(result_bytes: bytes, report: bytes) -> Verification:
    """Does ``report`` state the digest of ``result_bytes``?"""
    file_sha = hashlib.sha256(result_bytes).hexdigest()
    try:
        canonical: str | None = digest(from_json(result_bytes))
    except Exception:  # not a result document at all: only the file digest can match
        canonical = None
    stated = digests_in(report)
    shown = next(iter(sorted(stated)), None)
    if not stated:
        return Verification(
            False,
            None,
            file_sha,
            canonical,
            "mismatch: the report states no result digest (not a netcheck report?)",
        )
    if file_sha in stated:
        return Verification(
            True,
            file_sha,
            file_sha,
            canonical,
            f"match: report was rendered from this result (sha256 {file_sha})",
        )
    if canonical and canonical in stated:
        return Verification(
            True,
            canonical,
            file_sha,
            canonical,
            f"match: same result content, file re-formatted (sha256 {canonical})",
        )
    return Verification(
        False,
        shown,
        file_sha,
        canonical,
        f"mismatch: report states sha256 {shown}, result file is {file_sha}",
    )
