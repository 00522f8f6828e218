"""Check titles, reasons and fixes in the report's language.

The result document holds complete English sentences (``Check.title``, ``Check.reason``,
``Remedy.text``) plus the structure they were made from (check id and group, measured
value, limit, unit, ``Remedy.key`` and ``params``). English reports print the document's
own sentences. Other languages rebuild each sentence from a catalogue key: remedies from
``remedy.<key>`` and its params; titles and reasons by recognising the evaluator's English
patterns below. Whatever is not recognised stays in English — a report never invents a
translation and never fails on a sentence a colleague added yesterday.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from netcheck.reports.i18n import Catalogue
from netcheck.result import Check, Remedy, Value

Params = dict[str, Any]
Rule = tuple[re.Pattern[str], str, Callable[[Catalogue, Params, Check], Params] | None]

_PORT_ID = re.compile(r"^port\.(?P<transport>tcp|udp)\.(?P<port>[^@]+)@(?P<dest>.+)$")
_PATH_ID = re.compile(r"^(?P<group>end_to_end|handover|layer2)\.(?P<metric>\w+)@")


def title(check: Check, cat: Catalogue) -> str:
    if cat.lang == "en":
        return check.title
    return _apply(_TITLE_RULES, check.title, check, cat)


def reason(check: Check, cat: Catalogue) -> str:
    if cat.lang == "en":
        return check.reason
    return _apply(_REASON_RULES, check.reason, check, cat)


def fix(remedy: Remedy | None, cat: Catalogue) -> str | None:
    """The remediation in the report's language (English text from the document when the
    catalogue has no entry for its key)."""
    if remedy is None:
        return None
    key = f"remedy.{remedy.key}"
    if cat.lang == "en" or not cat.has(key):
        return remedy.text
    params = {k: _param(cat, k, v) for k, v in remedy.params.items()}
    text = cat.t(key, **params)
    return remedy.text if text == cat.t(key) and params else text


def states(text: str, cat: Catalogue) -> str:
    """``refused 443; filtered 8443`` -> ``abgewiesen 443; gefiltert 8443``."""

    def one(match: re.Match[str]) -> str:
        word = match.group(1)
        key = f"state.{word}"
        return (cat.t(key) if cat.has(key) else word) + match.group(2)

    return re.sub(
        r"\b(open|refused|filtered|reset|unreachable|blocked_locally|blocked)\b(\s|$)", one, text
    )


def _param(cat: Catalogue, key: str, value: Value) -> str:
    if key == "found" and isinstance(value, str):
        return states(value, cat)
    if isinstance(value, float | int) and not isinstance(value, bool):
        return cat.num(value)
    return "" if value is None else str(value)


def _apply(rules: list[Rule], text: str, check: Check, cat: Catalogue) -> str:
    for pattern, key, extra in rules:
        match = pattern.match(text)
        if match:
            params: Params = dict(match.groupdict())
            if extra:
                params.update(extra(cat, params, check))
            return cat.t(key, **params)
    return text


# ------------------------------------------------------------------ titles


def _path_title(cat: Catalogue, p: Params, check: Check) -> Params:
    m = _PATH_ID.match(check.id)
    if not m:
        return {"path": p["path"], "metric": p["metric"]}
    return {"path": cat.t(f"path.{m['group']}"), "metric": cat.t(f"metric.{m['metric']}")}


def _speed_title(cat: Catalogue, p: Params, check: Check) -> Params:
    return {"duplex": cat.t("title.lan.speed.duplex") if p.get("duplex") else ""}


_TITLE_RULES: list[Rule] = [
    (re.compile(r"^DNS resolves (?P<host>.+)$"), "title.dns", None),
    (
        re.compile(r"^(?P<path>end to end|handover point|LAN): (?P<metric>.+?) to (?P<where>.+)$"),
        "title.path",
        _path_title,
    ),
    (
        re.compile(
            r"^(?P<protocol>.+?) (?P<transport>TCP|UDP) (?P<port>\S+) to (?P<host>\S+) "
            r"\((?P<purpose>.*)\)$"
        ),
        "title.port",
        None,
    ),
    (re.compile(r"^PoE \((?P<poe>[^)]+)\) on every phone port$"), "title.lan.poe", None),
    (
        re.compile(r"^access ports >= (?P<speed>\d+) Mbit/s(?P<duplex> full duplex)?$"),
        "title.lan.speed",
        _speed_title,
    ),
    (re.compile(r"^voice VLAN \(variant (?P<variants>[^)]+)\)$"), "title.lan.voice_vlan", None),
    (
        re.compile(r"^DHCP: private addresses, DNS, no provisioning options$"),
        "title.lan.dhcp",
        None,
    ),
    (re.compile(r"^phones not reachable from the internet$"), "title.lan.exposure", None),
    (re.compile(r"^no SIP ALG on the path$"), "title.sip.alg", None),
    (re.compile(r"^voice prioritised over other traffic$"), "title.qos.priority", None),
    (re.compile(r"^free bandwidth for (?P<n>\d+) extensions$"), "title.bandwidth.extensions", None),
    (
        re.compile(r"^free bandwidth (?P<up>[\d.]+)/(?P<down>[\d.]+) kbit/s per extension$"),
        "title.bandwidth.per_extension",
        None,
    ),
    (
        re.compile(r"^availability of the handover point >= (?P<pct>[\d.]+) %$"),
        "title.availability",
        lambda cat, p, c: {"pct": cat.decimals_in(p["pct"])},
    ),
]


# ------------------------------------------------------------------ reasons


def _judge(cat: Catalogue, p: Params, check: Check) -> Params:
    m = _PATH_ID.match(check.id)
    metric = cat.t(f"metric.{m['metric']}") if m else p["label"]
    unit = f" {p['unit']}" if p.get("unit") else ""
    notes = [_note(cat, n) for n in (p.get("note"), p.get("near"), p.get("opt")) if n]
    value = cat.num(float(p["value"]))
    return {
        "metric": metric,
        "value": f"{value}{unit}",
        "limit": cat.decimals_in(p["limit"]),
        "note": "".join(f" ({n})" for n in notes),
    }


def _note(cat: Catalogue, note: str) -> str:
    note = note.strip()
    if note.startswith("(") and note.endswith(")"):
        note = note[1:-1]
    if note == "estimated as RTT/2 (ICMP)":
        return cat.t("note.rtt_half")
    if note == "close to the limit":
        return cat.t("note.near")
    if note == "optional requirement":
        return cat.t("note.optional")
    window = re.match(r"^worst ([\d.]+) s window$", note)
    if window:
        return cat.t("note.worst_window", seconds=cat.decimals_in(window[1]))
    return note


def _tcp_fail(cat: Catalogue, p: Params, check: Check) -> Params:
    found = states(p["found"], cat)
    return {"found": found + (f" ({cat.t('note.optional')})" if p.get("opt") else "")}


def _metric_nm(cat: Catalogue, p: Params, check: Check) -> Params:
    m = _PATH_ID.match(check.id)
    method = cat.t(f"method.{p['method']}") if cat.has(f"method.{p['method']}") else p["method"]
    return {"metric": cat.t(f"metric.{m['metric']}") if m else p["metric"], "method": method}


def _error(cat: Catalogue, p: Params, check: Check) -> Params:
    return {"kind": cat.t(f"error.{p['kind']}")}


def _numbers(*names: str) -> Callable[[Catalogue, Params, Check], Params]:
    def fill(cat: Catalogue, p: Params, check: Check) -> Params:
        return {n: cat.decimals_in(p[n]) for n in names if p.get(n) is not None}

    return fill


_NUM = r"-?\d+(?:\.\d+)?(?:e-?\d+)?"
_REASON_RULES: list[Rule] = [
    (
        re.compile(r"^(?P<host>\S+) resolves to (?P<addresses>.+) in (?P<ms>\S+) ms$"),
        "reason.dns_ok",
        _numbers("ms"),
    ),
    (
        re.compile(
            rf"^(?P<label>.+?) (?P<value>{_NUM})(?: (?P<unit>ms|%|kbit/s))?"
            r"(?P<note> \((?:estimated as RTT/2 \(ICMP\)|worst [\d.]+ s window)\))?, "
            r"limit (?P<limit>.+?)(?P<near> \(close to the limit\))?"
            r"(?P<opt> \(optional requirement\))?$"
        ),
        "reason.judge",
        _judge,
    ),
    (
        re.compile(r"^TCP (?P<port>\S+) to (?P<host>\S+): open \(connect (?P<ms>\S+) ms\)$"),
        "reason.tcp_open",
        _numbers("ms"),
    ),
    (
        re.compile(
            r"^TCP (?P<port>\S+) to (?P<host>\S+): (?P<found>.+?)"
            r"(?P<opt> \(optional requirement\))?$"
        ),
        "reason.tcp_fail",
        _tcp_fail,
    ),
    (
        re.compile(r"^UDP egress can only be proven with a netcheck responder"),
        "reason.udp_needs_responder",
        None,
    ),
    (
        re.compile(r"^needs the LAN audit \(SNMP/LLDP/DHCP probes\), not run$"),
        "reason.lan_audit",
        None,
    ),
    (
        re.compile(r"^SIP ALG detection needs a netcheck responder; not run$"),
        "reason.sip_alg",
        None,
    ),
    (
        re.compile(r"^the QoS test \(call under load\) needs a netcheck responder; not run$"),
        "reason.qos",
        None,
    ),
    (
        re.compile(
            r"^needs (?P<up>[\d.]+) kbit/s up and (?P<down>[\d.]+) kbit/s down; capacity is "
            r"measured against a netcheck responder, not run$"
        ),
        "reason.bandwidth",
        _numbers("up", "down"),
    ),
    (
        re.compile(r"^number of extensions unknown; pass --extensions N$"),
        "reason.extensions_unknown",
        None,
    ),
    (
        re.compile(r"^judged by the scheduled agent over weeks, not by a one-shot run$"),
        "reason.availability",
        None,
    ),
    (
        re.compile(r"^(?P<metric>.+) is not measured by (?P<method>\S+)$"),
        "reason.metric_not_measured",
        _metric_nm,
    ),
    (
        re.compile(r"^no host for target '(?P<target>[^']+)'; pass --target \S+=HOST$"),
        "reason.no_host",
        None,
    ),
    (
        re.compile(
            r"^(?P<kind>timeout|refused|reset|unreachable|dns|permission|unsupported|"
            r"malformed|no_target|internal): (?P<detail>.+)$"
        ),
        "reason.error",
        _error,
    ),
    (re.compile(r"^no measurement was planned for it$"), "reason.not_planned", None),
    (re.compile(r"^the measurement has no value for it$"), "reason.no_value", None),
]
