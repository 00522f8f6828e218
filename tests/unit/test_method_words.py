"""Every measurement method a probe can write has its words in both catalogues, so no report
shows a raw method name ("udp-ttl-raw") in German or English. Methods are found in the probes'
source (``method="..."`` and ``method = "..."``) and the dynamic families are spelled out from
the values their parts can take."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from netcheck import probes
from netcheck.i18n import Catalogue
from netcheck.probes.specs import SnmpVersion
from netcheck.probes.stream import METHOD_NAMES

PROBES = Path(probes.__file__).parent


def _literal_methods() -> set[str]:
    found = set()
    for file in PROBES.glob("*.py"):
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "method":
                value = node.value
            elif isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "method" for t in node.targets):
                value = node.value
            else:
                continue
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                found.add(value.value)
    return found


DYNAMIC = {
    *(f"stun-{t}" for t in ("udp", "tcp")),
    *(f"sip-{mode}-{t}" for mode in ("mirror", "options") for t in ("udp", "tcp")),
    *(f"snmpv{v.value}-getbulk" for v in SnmpVersion),
    *(f"{p}-ttl-{io}" for p in ("udp", "icmp") for io in ("raw", "recverr")),
    *METHOD_NAMES.values(), "stamp", "stamp-auth",
}


@pytest.mark.parametrize("lang", ["en", "de"])
def test_every_method_has_words(lang: str) -> None:
    cat = Catalogue(lang)
    methods = _literal_methods() | DYNAMIC
    assert len(methods) > 25  # the scan found the probes' methods
    assert sorted(m for m in methods if not cat.has(f"method.{m}")) == []
