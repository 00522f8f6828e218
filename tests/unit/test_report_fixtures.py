"""Report fixtures cannot go stale: the typed documents report tests render are made by
today's plan and evaluator (tests/docgen.py, in memory), and the schema-1 documents agents
stored before typed check text (tests/data/results/v1/) still parse with today's schema.

Provenance of tests/data/results/v1/ (recorded with this repository's own pipeline, schema 1):
- go.json: ``netcheck run --profile demo`` (loopback peers), customer "Müller & Söhne GmbH".
- no-go.json: ``netcheck run --profile stimme`` with every target overridden to 127.0.0.1
  (nothing listens: TCP rows refused -> FAIL; UDP rows NOT_MEASURED).
- incomplete.json: a managed-com-business copy with demo peers on 127.0.0.1 (LAN audit,
  SIP ALG, QoS, bandwidth not measured -> INCOMPLETE).
- no-go-lab.json: the same profile run inside the namespace lab (tests/netlab) over the
  impairment bridge "delay=40ms jitter=12ms loss=3%" seed 7: RTT, loss per 10 s window
  and LAN limits fail.
- malicious.json: no-go-lab.json with hostile strings put into customer, site, technician,
  a check title/reason/remedy, a measurement target/value and an snmp_switch measurement
  (sysDescr, switch name, phone model) plus a ``community`` value that must never print.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from netcheck.result import SCHEMA_VERSION, Verdict, from_json
from tests import docgen

V1 = Path(__file__).resolve().parents[1] / "data" / "results" / "v1"
EXPECTED_V1 = {
    "go": Verdict.GO,
    "no-go": Verdict.NO_GO,
    "incomplete": Verdict.INCOMPLETE,
    "no-go-lab": Verdict.NO_GO,
    "malicious": Verdict.NO_GO,
}
VERDICTS = {"go": Verdict.GO, "no-go": Verdict.NO_GO, "incomplete": Verdict.INCOMPLETE}


@pytest.mark.parametrize("name", sorted(EXPECTED_V1))
def test_stored_schema_1_document_parses_with_current_schema(name: str) -> None:
    result = from_json((V1 / f"{name}.json").read_bytes())
    assert result.schema_version == 1 and result.verdict is EXPECTED_V1[name]
    assert result.checks and result.measurements
    assert not any(c.typed for c in result.checks)  # reports fall back to the stored English


@pytest.mark.parametrize("kind", docgen.KINDS)
def test_every_shipped_profile_has_its_typical_verdict(kind: str) -> None:
    for pid in docgen.shipped_ids():
        doc = docgen.document(pid, kind)
        assert doc.schema_version == SCHEMA_VERSION and doc.verdict is VERDICTS[kind], pid
        assert all(c.typed for c in doc.checks)
