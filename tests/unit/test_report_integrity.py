"""SHA-256 of the result document in every report, and `verify` (FIPS 180-4 digests)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from netcheck.reports import html, integrity, markdown
from netcheck.result import from_json

RESULTS = Path(__file__).resolve().parents[1] / "data" / "results" / "v1"


@pytest.mark.parametrize("name", ["go", "no-go", "incomplete", "no-go-lab"])
def test_digest_equals_sha256sum_of_the_file_netcheck_wrote(name: str) -> None:
    raw = (RESULTS / f"{name}.json").read_bytes()
    assert integrity.digest(from_json(raw)) == hashlib.sha256(raw).hexdigest()


def test_verify_matches_the_right_pair_and_rejects_a_tampered_result() -> None:
    raw = (RESULTS / "no-go-lab.json").read_bytes()
    page = html.render(from_json(raw), "de")
    assert integrity.verify(raw, page).ok
    doc = json.loads(raw)
    doc["checks"][0]["status"] = "PASS"  # someone "fixes" a failing check
    tampered = json.dumps(doc, indent=2).encode()
    outcome = integrity.verify(tampered, page)
    assert not outcome.ok and outcome.message.startswith("mismatch")


def test_reformatted_result_still_matches_by_content() -> None:
    raw = (RESULTS / "go.json").read_bytes()
    page = markdown.render(from_json(raw), "en")
    compact = json.dumps(json.loads(raw), separators=(",", ":")).encode()
    outcome = integrity.verify(compact, page)
    assert outcome.ok and "re-formatted" in outcome.message


def test_a_file_that_is_no_report_states_no_digest() -> None:
    raw = (RESULTS / "go.json").read_bytes()
    outcome = integrity.verify(raw, b"just some text")
    assert not outcome.ok and "states no result digest" in outcome.message
