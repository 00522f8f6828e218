"""The stored result documents still parse with today's schema (a schema change that
breaks old documents shows up here, not in a customer's report).

Provenance of tests/data/results/ (recorded with this repository's own pipeline):
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

from netcheck.result import Verdict, from_json

RESULTS = Path(__file__).resolve().parents[1] / "data" / "results"
EXPECTED = {
    "go": Verdict.GO,
    "no-go": Verdict.NO_GO,
    "incomplete": Verdict.INCOMPLETE,
    "no-go-lab": Verdict.NO_GO,
    "malicious": Verdict.NO_GO,
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_parses_with_current_schema(name: str) -> None:
    result = from_json((RESULTS / f"{name}.json").read_bytes())
    assert result.verdict is EXPECTED[name]
    assert result.checks and result.measurements


def test_every_fixture_is_listed() -> None:
    assert {p.stem for p in RESULTS.glob("*.json")} == set(EXPECTED)
