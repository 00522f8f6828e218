"""Every check the evaluator can emit has an English and a German title and reason.

Three nets, because no single one catches everything:
1. statically, every catalogue key written as a literal in netcheck/evaluate/*.py (the key
   argument of ``msg``/``base``/``check``/``failed``/``remedy``, ``"measured_key"``/
   ``"limit_key"`` entries) exists in both catalogues, and every ``Check(...)`` built there
   directly passes ``title_key`` and ``reason_key``;
2. the key families built with f-strings (``metric.{name}``, ``error.{kind}``, ...) are
   complete for every value the code can put in;
3. dynamically, every check of every shipped profile's typical GO / NO-GO / INCOMPLETE
   document (tests/docgen.py) uses only keys both catalogues define, and its German text
   holds no English sentence.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from netcheck import evaluate
from netcheck.evaluate import firewall, path
from netcheck.i18n import Catalogue, keys
from netcheck.probes import tcp_ports
from netcheck.result import Check, ErrorKind, Msg, Param
from tests import docgen

EVALUATE = Path(evaluate.__file__).parent
#: call name -> index of the positional argument that is a catalogue key (and its prefix)
KEY_ARG = {"msg": (0, ""), "base": (1, ""), "check": (2, ""), "failed": (2, ""), "remedy": (0, "remedy."),
           "_not_measured": (1, "")}
KEY_FIELDS = ("measured_key", "limit_key", "title_key", "reason_key")
#: Words no German sentence of ours contains (function words of English).
ENGLISH = re.compile(r"\b(the|and|is|are|not|with|from|of|to|for|was|were|no|none|only|needs|answered|"
                     r"open|blocked|limit|within|between|over|shorter|longer|found|run|measured)\b")


def _literal_keys() -> Iterator[tuple[str, str, int]]:
    for file in sorted(EVALUATE.glob("*.py")):
        tree = ast.parse(file.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
                if name in KEY_ARG:
                    index, prefix = KEY_ARG[name]
                    if len(node.args) > index and isinstance(node.args[index], ast.Constant):
                        yield prefix + str(node.args[index].value), file.name, node.lineno
                for kw in node.keywords:
                    if kw.arg in KEY_FIELDS and isinstance(kw.value, ast.Constant):
                        yield str(kw.value.value), file.name, node.lineno
            if isinstance(node, ast.Dict):
                for k, v in zip(node.keys, node.values, strict=True):
                    if isinstance(k, ast.Constant) and k.value in KEY_FIELDS and isinstance(v, ast.Constant):
                        yield str(v.value), file.name, node.lineno
            if isinstance(node, ast.IfExp):  # key = "reason.a" if x else "reason.b"
                for branch in (node.body, node.orelse):
                    if isinstance(branch, ast.Constant) and re.match(r"^(reason|title|limit|measured|bound)\.",
                                                                     str(branch.value)):
                        yield str(branch.value), file.name, node.lineno


def test_literal_keys_exist_in_both_catalogues() -> None:
    found = list(_literal_keys())
    assert len(found) > 100  # the collector sees the evaluator's keys
    for lang in ("en", "de"):
        have = keys(lang)
        missing = sorted({f"{key} ({file}:{line})" for key, file, line in found if key not in have})
        assert not missing, f"{lang}.json lacks: {missing}"


def test_checks_built_directly_carry_keys() -> None:
    """A ``Check(...)`` built outside the helpers must still name its keys."""
    for file in sorted(EVALUATE.glob("*.py")):
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Check":
                named = {kw.arg for kw in node.keywords}
                assert {"title_key", "reason_key"} <= named or None in named, f"{file.name}:{node.lineno}"


def test_every_remedy_has_both_languages() -> None:
    for lang in ("en", "de"):
        missing = sorted(k for k in evaluate.REMEDIES if f"remedy.{k}" not in keys(lang))
        assert not missing, f"{lang}.json lacks remedies {missing}"


def test_key_families_built_at_run_time_are_complete() -> None:
    """f-string keys: every value the code can fill in has an entry."""
    families = {
        "metric": list(path.METRICS),
        "error": [k.value for k in ErrorKind],
        "path": ["end_to_end", "handover", "layer2"],
        "state": [*tcp_ports.STATES, "closed"],  # tcp_ports, exposure (open/closed/filtered/unreachable)
        "nat": ["endpoint-independent", "address-dependent", "address-and-port-dependent"],
        "duplex": ["full", "half", "unknown"],
        "direction": ["up", "down"],
        "capacity": ["open_up_first", "open_time"],
        "confidence": ["high", "estimate", "medium", "low", "none"],
        "note.dir": list(path.DIRECTIONS),
        # probes' Why(key) (netcheck.probes._common): stream, capacity, icmp
        "confidence_reason": ["sender_late", "sender_late_step", "stopped_early", "owd_estimated",
                              "ramp_deadline", "icmp_rtt_half", "sip_series", "ttl_sampled", "low_cpu_schedule"],
        "sip.finding": list(firewall.SIP_FINDINGS),  # SIP ALG: what the path did
        "sip.leg": list(firewall.SIP_LEG_GAPS),
        "sip.options": list(firewall.SIP_OPTIONS_EVIDENCE),
        "faultloc.segment": ["lan", "site_edge", "isp", "provider"],
        "faultloc.party": ["lan", "site_edge", "isp", "provider"],
        "faultloc.item": ["loss_pct", "jitter_ms", "delay_ms"],
        "title.bufferbloat": ["up", "down"],
        "link.counter": ["rx_frame", "tx_colls", "tx_carrier"],
    }
    # evaluate/lan.py titles a switch's check f"{title_key}.on" (the switch named)
    families["title.lan"] = [f"{k}.on" for k in ("poe", "speed", "speed_full", "voice_vlan")]
    for lang in ("en", "de"):
        have = keys(lang)
        missing = [f"{fam}.{v}" for fam, values in families.items() for v in values if f"{fam}.{v}" not in have]
        assert not missing, f"{lang}.json lacks {missing}"


def _used_keys(value: Param | Msg) -> Iterator[str]:
    if isinstance(value, Msg):
        yield value.key
        for v in value.params.values():
            yield from _used_keys(v)
    elif isinstance(value, list):
        for v in value:
            yield from _used_keys(v)


def _check_keys(c: Check) -> Iterator[str]:
    yield from (k for k in (c.title_key, c.reason_key, c.measured_key, c.limit_key) if k)
    for n in c.notes:
        yield from _used_keys(n)
    for v in c.params.values():
        yield from _used_keys(v)
    if c.remediation is not None:
        yield f"remedy.{c.remediation.key}"
        for p in c.remediation.params.values():
            if isinstance(p, Msg | list):
                yield from _used_keys(p)


DOCS = docgen.all_documents()


@pytest.mark.parametrize("name", sorted(DOCS))
def test_generated_checks_are_translated(name: str) -> None:
    from netcheck.reports import checktext

    de = Catalogue("de")
    for c in DOCS[name].checks:
        assert c.typed, c.id
        for lang in ("en", "de"):
            missing = [k for k in _check_keys(c) if k not in keys(lang)]
            assert not missing, f"{c.id}: {lang}.json lacks {missing}"
        for text in (checktext.title(c, de), checktext.reason(c, de), checktext.fix(c.remediation, de) or "",
                     checktext.measured(c, de) or "", checktext.limit(c, de) or ""):
            assert not english_in(text), f"{c.id}: English in German text: {text!r}"


def unquoted(text: str) -> str:
    """``text`` without quoted system messages and provider text („…“), vendor commands
    (``"set dscp default"``) and command-line options (``--responder HOST``)."""
    return re.sub(r"„[^“]*“|\"[^\"]*\"|--[\w-]+(?: [A-Z]+)?", " ", text)


def english_in(text: str) -> list[str]:
    """English function words in a German text, outside quotes and options (:func:`unquoted`)."""
    return ENGLISH.findall(unquoted(text))
