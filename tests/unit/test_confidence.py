"""Confidence with a reason (issue 14; ARCHITECTURE.md "every check states its method and
confidence with the reason"): the stream names why it is low (kept in the measurement's
values), each check is shown with the confidence of the weakest measurement it was judged
on, and a verdict resting on low-confidence required checks says so in its headline, in
every report language."""

from __future__ import annotations

from netcheck import evaluate
from netcheck import profile as prof
from netcheck.i18n import Catalogue
from netcheck.probes import stream
from netcheck.probes._common import Why
from netcheck.reports import text, view
from netcheck.result import SCHEMA_VERSION, Environment, Measurement, ProfileRef, RunResult, Site


def test_stream_confidence_names_the_late_sender() -> None:
    level, why = stream._confidence({"send_error_p99_ms": 1.63, "one_way_delay_estimated": True}, None)
    assert level == "low" and why is not None
    assert why.values()["confidence_reason"] == "sender up to 1.6 ms late (p99): repeat on an idle machine"
    assert stream._confidence({"send_error_p99_ms": 0.2, "one_way_delay_estimated": True}, None)[0] == "medium"
    assert stream._confidence({"send_error_p99_ms": 0.2, "one_way_delay_estimated": False}, None) == ("high", None)


def _stimme_result(confidence: str, reason: str | None) -> RunResult:
    m = Measurement(id="stream:platform", probe="stream", target="t", method="stamp",
                    started_utc="2026-01-01T00:00:00Z", duration_s=30.0, confidence=confidence,
                    values={"one_way_delay_ms": 10.0, "jitter_ms": 1.0, "loss_pct": 0.0, "received": 1500,
                            **(Why("sender_late", {"late": 1.6}).values() if reason else {})})
    p = prof.load("stimme")
    checks = evaluate.evaluate(p, [m])
    env = Environment(netcheck_version="0", python="3", os="linux", hostname="h",
                      started_utc="2026-01-01T00:00:00.000Z", finished_utc="2026-01-01T00:00:31.000Z",
                      duration_s=31.0)
    return RunResult(schema_version=SCHEMA_VERSION, verdict=evaluate.verdict(checks),
                     profile=ProfileRef(id=p.id, name=p.name, path=p.path), site=Site(), environment=env,
                     measurements=[m], checks=checks, summary=evaluate.summary(checks))


def test_checks_carry_their_evidence_confidence_and_the_headline_says_so() -> None:
    why = "sender up to 1.6 ms late (p99): repeat on an idle machine"
    result = _stimme_result("low", why)
    jitter = next(c for c in result.checks if c.id == "end_to_end.jitter_ms@platform")
    weakest = view.weakest(jitter, {m.id: m for m in result.measurements})
    assert weakest is not None and weakest.confidence == "low"
    assert weakest.values["confidence_reason"] == why  # in the document, beside the level
    en = view.build(result, "en")
    assert "Low confidence: end to end: one-way delay to platform (46.189.64.189)" in en.verdict_text  # titles, not ids
    assert why in en.verdict_text and "end_to_end." not in en.verdict_text
    assert any(line.startswith("Low confidence:") for line in text.lines(result, "en"))
    de = view.build(result, "de").verdict_text
    assert "Geringe Aussagekraft" in de and "Sender bis zu 1,6 ms verspätet (p99)" in de
    row = next(r for _, rows in en.groups for r in rows if r.id == "end_to_end.jitter_ms@platform")
    assert row.confidence == f"low ({why})"


def test_a_confident_run_has_no_note() -> None:
    result = _stimme_result("high", None)
    assert view.confidence_note(result, Catalogue("en")) == ""
