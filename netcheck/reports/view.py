"""The report's content, once, for every document format (HTML, PDF, Markdown, text).

:func:`build` reads a :class:`RunResult` and a language and returns a :class:`Report`:
translated, formatted strings and chart SVGs, in reading order — verdict, blocking
findings with their fixes, open items, requirements by area, charts, appendix. The
format modules only lay it out. Nothing is measured or judged again here (ARCHITECTURE.md:
"render from the document only"); a chart whose data is absent is simply not built.

Strings from the network (target names, SNMP sysDescr, LLDP names, DHCP options, SIP
headers) stay plain ``str`` here; the HTML template escapes them (Jinja2 autoescape), the
SVG builder escapes them (:func:`netcheck.reports.svg.esc`), Markdown neutralises them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from netcheck.i18n import Catalogue, parse_utc, zone_token
from netcheck.reports import checktext, integrity, svg
from netcheck.reports.options import Integrator, RenderOptions, spec
from netcheck.result import (
    CONFIDENCE_RANK,
    Check,
    Measurement,
    Msg,
    RunResult,
    Scope,
    Status,
    Value,
    summary_of,
    verdict_of,
)

#: Area order in the requirements table; unknown groups follow in document order.
GROUP_ORDER = (
    "dns",
    "end_to_end",
    "handover",
    "path",
    "layer2",
    "lan",
    "ports",
    "firewall",
    "capacity",
    "general",
)
#: Value keys never printed, in case a probe ever records one (credentials never appear).
SECRET_KEY = re.compile(
    r"community|password|passwd|secret|token|auth_?key|priv_?key|psk|"
    r"credential",
    re.IGNORECASE,
)
REDACTED = "[redacted]"
#: Value keys that describe this machine (left out with ``--private``).
PRIVATE_KEY = re.compile(r"mac|hostname|local_addr|source_addr|src_addr|interface_addr", re.IGNORECASE)
INVENTORY_COLUMNS = ("mac", "vendor", "model", "ip", "switch", "port", "vlan", "poe_class", "basis")


@dataclass(frozen=True)
class Row:
    """One requirement as the report shows it."""

    id: str
    status: str
    status_word: str
    title: str
    required: bool
    measured: str
    limit: str
    method: str
    confidence: str
    reason: str
    fix: str | None
    source: str | None
    confidence_low: bool = False  # anything but "high": the table says so (legend explains)


@dataclass(frozen=True)
class Chart:
    title: str
    svg: str
    caption: str = ""


@dataclass(frozen=True)
class RawMeasurement:
    id: str
    probe: str
    target: str
    method: str
    confidence: str
    started: str
    duration: str
    error: str | None
    values: list[tuple[str, str]]


@dataclass
class Report:
    """Everything a layout needs, already in the report's language."""

    lang: str
    t: Catalogue
    verdict: str
    verdict_word: str
    verdict_text: str
    facts: list[tuple[str, str]]
    summary: list[tuple[str, str, int]]
    findings: list[Row]
    open_items: list[Row]
    warnings: list[Row]
    groups: list[tuple[str, list[Row]]]
    charts: list[Chart]
    capacity: list[str]
    environment: list[tuple[str, str]]
    raw: list[RawMeasurement]
    inventory: tuple[list[str], list[list[str]]] | None
    sources: list[tuple[str, str]]
    sha256: str
    customer: str
    date: str
    version: str
    title: str = ""
    key_figures: list[Figure] = field(default_factory=list)
    blockers: list[Row] = field(default_factory=list)
    scope: ScopeView | None = None
    integrator: Integrator | None = None
    appendix: bool = True
    spec: str = ""
    tested: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Figure:
    """One number that matters on page 1: delay, jitter, loss or MOS towards a target."""

    label: str
    target: str
    measured: str
    limit: str
    status: str
    status_word: str


@dataclass(frozen=True)
class ScopeView:
    """What the run measured and what it did not (page 1)."""

    measured: list[str]
    not_measured: list[str]
    not_proven: list[str]


class TamperedError(ValueError):
    """The document contradicts itself (stored verdict or counts differ from its checks):
    it was edited after the run, and no report is rendered from it."""


def check_consistent(result: RunResult) -> None:
    """Refuse a document whose stored verdict or status counts disagree with its checks."""
    derived = verdict_of(result.checks)
    if result.verdict is not derived:
        counts = ", ".join(f"{k} {v}" for k, v in summary_of(result.checks).items() if v)
        raise TamperedError(f"the document says {result.verdict.value} but its checks give {derived.value} "
                            f"({counts}): it was changed after the run; no report rendered")
    if result.summary and result.summary != summary_of(result.checks):
        raise TamperedError("the document's status counts differ from its checks: it was changed after the run; "
                            "no report rendered")


def build(result: RunResult, lang: str = "en", options: RenderOptions | None = None, fmt: str = "html") -> Report:
    check_consistent(result)
    options = (options or RenderOptions()).with_format_default(fmt)
    cat = Catalogue(lang, options.timezone)
    when = parse_utc(result.environment.started_utc)
    options = replace(options, timezone=zone_token(cat.zone, when) if when else options.timezone)
    by_id = {m.id: m for m in result.measurements}
    hide = private_scrubber(result, cat) if options.private else None
    rows = [_scrub_row(_row(c, by_id, cat), hide) for c in result.checks]
    findings = [r for r in rows if r.status == Status.FAIL.value]
    open_items = [r for r in rows if r.status == Status.NOT_MEASURED.value and r.required]
    return Report(
        key_figures=key_figures(result, cat),
        blockers=findings or open_items,
        scope=scope(result, cat),
        integrator=options.integrator,
        appendix=bool(options.appendix),
        spec=spec(lang, fmt, options),
        tested=cat.datetime(result.environment.started_utc),
        lang=lang,
        t=cat,
        verdict=result.verdict.value,
        verdict_word=cat.t(f"verdict.{result.verdict.value}"),
        verdict_text=" ".join(filter(None, (
            cat.t(f"verdict_text.{result.verdict.value}")
            + ("" if all(c.typed for c in result.checks) else " " + cat.t("doc.legacy_text")),
            confidence_note(result, cat)))),
        facts=_facts(result, cat, options),
        summary=[
            (s.value, cat.t(f"status.{s.value}"), result.summary.get(s.value, 0))
            for s in Status
            if result.summary.get(s.value)
        ],
        findings=findings,
        open_items=open_items,
        warnings=[r for r in rows if r.status == Status.WARN.value],
        groups=_groups(result.checks, rows, cat),
        charts=charts(result, cat),
        capacity=capacity_statement(result, cat),
        environment=_environment(result, cat, options.private),
        raw=[_raw(m, cat, options.private, hide) for m in result.measurements] if options.appendix else [],
        inventory=_inventory(result.measurements),
        sources=sorted(result.profile.sources.items()),
        sha256=options.result_sha256 or integrity.digest(result),
        customer=result.site.customer or "",
        date=cat.date(result.environment.started_utc),
        version=result.environment.netcheck_version,
        title=cat.t("doc.title"),
    )


# ------------------------------------------------------------------ rows


def _row(c: Check, by_id: dict[str, Measurement], cat: Catalogue) -> Row:
    m = next((by_id[e] for e in c.evidence if e in by_id), None)
    method = c.method or (m.method if m else "")
    return Row(
        id=c.id,
        status=c.status.value,
        status_word=cat.t(f"status.{c.status.value}"),
        title=checktext.title(c, cat),
        required=c.required,
        measured=checktext.measured(c, cat) or measured(c, cat),
        limit=checktext.limit(c, cat) or cat.t("field.none"),
        method=_label(cat, "method", method) if method else cat.t("field.none"),
        confidence=_confidence(c, by_id, cat),
        reason=checktext.reason(c, cat),
        fix=checktext.fix(c.remediation, cat),
        source=c.source,
        confidence_low=(w := weakest(c, by_id)) is not None and w.confidence != "high",
    )


def weakest(c: Check, by_id: dict[str, Measurement]) -> Measurement | None:
    """The least confident measurement a check was judged on: the check is no surer."""
    evidence = [by_id[e] for e in c.evidence if e in by_id]
    return min(evidence, key=lambda m: CONFIDENCE_RANK[m.confidence], default=None)


def _reason_of(m: Measurement, cat: Catalogue) -> str | None:
    """Why the measurement is not more confident, in the report's language (the probe's
    catalogue key and ms params; the stored English text for documents without them)."""
    key, params = m.values.get("confidence_reason_key"), m.values.get("confidence_reason_ms")
    if isinstance(key, str) and cat.has(f"confidence_reason.{key}"):
        shown = {k: cat.param_qty(float(v), "ms") for k, v in (params or {}).items()  # type: ignore[union-attr]
                 if isinstance(v, int | float)}
        return cat.t(f"confidence_reason.{key}", **shown)
    why = m.values.get("confidence_reason")
    return why if isinstance(why, str) else None


def _confidence(c: Check, by_id: dict[str, Measurement], cat: Catalogue) -> str:
    """The check's confidence with the reason the probe gave, e.g. "low (sender up to 1.6 ms
    late (p99): repeat on an idle machine)"."""
    m = weakest(c, by_id)
    if m is None:
        return cat.t("field.none")
    word, why = _label(cat, "confidence", m.confidence), _reason_of(m, cat)
    return f"{word} ({why})" if why else word


def confidence_note(result: RunResult, cat: Catalogue) -> str:
    """The headline's warning when judged required checks rest on low-confidence data."""
    by_id = {m.id: m for m in result.measurements}
    low = [(c, m) for c in result.checks if c.required and c.status in (Status.PASS, Status.WARN, Status.FAIL)
           and (m := weakest(c, by_id)) is not None and m.confidence == "low"]
    if not low:
        return ""
    reasons = "; ".join(dict.fromkeys(r for _, m in low if (r := _reason_of(m, cat))))
    titles = ", ".join(dict.fromkeys(checktext.title(c, cat) for c, _ in low))  # titles, never internal ids
    return cat.t("verdict_note.low_confidence", checks=titles, reasons=reasons)


def measured(c: Check, cat: Catalogue) -> str:
    """The measured value with its unit, in the language's number format."""
    return value_text(c.measured, cat, c.unit)


def value_text(value: Value, cat: Catalogue, unit: str | None = None) -> str:
    if value is None:
        return cat.t("field.none")
    if isinstance(value, bool):
        return cat.t("label.yes" if value else "label.no")
    if isinstance(value, int | float):
        return cat.param_qty(float(value), unit or "") if isinstance(value, float) else \
            f"{value} {unit or ''}".strip()
    if isinstance(value, list):
        return ", ".join(value_text(v, cat) for v in value) or cat.t("field.none")
    if isinstance(value, dict):
        return ", ".join(f"{k}: {value_text(v, cat)}" for k, v in value.items())
    return str(value)


def _label(cat: Catalogue, kind: str, raw: str) -> str:
    key = f"{kind}.{raw}"
    return cat.t(key) if cat.has(key) else raw


def _groups(checks: list[Check], rows: list[Row], cat: Catalogue) -> list[tuple[str, list[Row]]]:
    grouped: dict[str, list[Row]] = {}
    for c, r in zip(checks, rows, strict=True):
        grouped.setdefault(c.group, []).append(r)
    order = [g for g in GROUP_ORDER if g in grouped] + [g for g in grouped if g not in GROUP_ORDER]
    return [(_label(cat, "group", g), grouped[g]) for g in order]


# ------------------------------------------------------------------ cover facts


def _facts(result: RunResult, cat: Catalogue, options: RenderOptions) -> list[tuple[str, str]]:
    s, env, none = result.site, result.environment, cat.t("field.none")
    facts = [
        (cat.t("field.customer"), s.customer or none),
        (cat.t("field.site"), s.site or none),
        (cat.t("field.technician"), s.technician or none),
        (cat.t("field.tested"), cat.datetime(env.started_utc)),
        (cat.t("field.duration"), cat.duration(env.duration_s)),
        (cat.t("field.profile"), f"{result.profile.name} ({result.profile.id})"),
    ]
    if s.extensions is not None:
        facts.insert(3, (cat.t("field.extensions"), str(s.extensions)))  # a count: never grouped
    facts.append((cat.t("field.version"), env.netcheck_version))
    return facts


def _environment(result: RunResult, cat: Catalogue, private: bool) -> list[tuple[str, str]]:
    """The test machine; ``private`` leaves out its host name, MACs and addresses (the
    customer's document does not need the technician's laptop)."""
    env, none = result.environment, cat.t("field.none")
    privileges = ", ".join(f"{k}: {cat.t('label.yes' if v else 'label.no')}" for k, v in env.privileges.items())
    rows = [
        (cat.t("env.os"), env.os),
        (cat.t("env.python"), env.python),
        (cat.t("env.started"), cat.datetime(env.started_utc)),
        (cat.t("env.finished"), cat.datetime(env.finished_utc)),
        (cat.t("field.duration"), cat.duration(env.duration_s)),
        (cat.t("env.gateway"), env.default_gateway or none),
        (cat.t("env.privileges"), privileges or none),
        (cat.t("env.result_schema"), str(result.schema_version)),
    ]
    if private:
        return [*rows, (cat.t("env.private"), cat.t("env.private_text"))]
    interfaces = "; ".join(
        f"{i.name} ({' '.join(i.addresses) or none}{', MAC ' + i.mac if i.mac else ''}, "
        f"MTU {i.mtu if i.mtu is not None else none})"
        for i in env.interfaces
        if i.is_up
    )
    return [(cat.t("env.hostname"), env.hostname), *rows, (cat.t("env.interfaces"), interfaces or none)]


# ------------------------------------------------------------------ page 1

#: (metric id part, catalogue label) of the numbers that matter, in page-1 order.
KEY_METRICS = ("one_way_delay_ms", "rtt_ms", "jitter_ms", "loss_pct", "mos")


def key_figures(result: RunResult, cat: Catalogue) -> list[Figure]:
    """Delay, jitter, loss and MOS against the limits, per internet path (end to end,
    handover); MOS is shown from the call even when the profile sets no MOS limit."""
    found: list[tuple[int, Check, str, str]] = []
    by_id = {m.id: m for m in result.measurements}
    for c in result.checks:
        group, _, rest = c.id.partition(".")
        metric = rest.split("@", 1)[0]
        if group in ("end_to_end", "handover") and metric in KEY_METRICS:
            found.append((KEY_METRICS.index(metric), c, group, metric))
    both = len({g for _, _, g, _ in found}) > 1  # a profile with both limits: say which one
    out = [(rank, _figure(c, cat, metric, group if both else None)) for rank, c, group, metric in found]
    if not any(m == "mos" for _, _, _, m in found):
        out += [(KEY_METRICS.index("mos"), f) for f in _mos_without_limit(result, by_id, cat)]
    return [f for _, f in sorted(out, key=lambda rf: (rf[0], rf[1].target))]


def _figure(c: Check, cat: Catalogue, metric: str, group: str | None) -> Figure:
    target = c.params.get("target")
    where = cat.param(target) if target is not None else c.id.split("@", 1)[-1]
    label = cat.t(f"metric.{metric}") + (f" · {cat.t(f'path.{group}')}" if group else "")
    return Figure(label, where, checktext.measured(c, cat) or measured(c, cat),
                  checktext.limit(c, cat) or cat.t("field.none"), c.status.value, cat.t(f"status.{c.status.value}"))


def _mos_without_limit(result: RunResult, by_id: dict[str, Measurement], cat: Catalogue) -> list[Figure]:
    """The call's MOS (ITU-T G.107 E-model, computed by the stream probe) as information."""
    out = []
    for m in result.measurements:
        mos = m.values.get("mos")
        if m.probe == "stream" and m.ok and isinstance(mos, int | float) and not m.id.endswith(":gateway"):
            judged = next((c for c in result.checks if m.id in c.evidence and "target" in c.params), None)
            where = cat.param(judged.params["target"]) if judged else chart_target(m, cat)
            out.append(Figure(cat.t("metric.mos"), where, cat.param_qty(float(mos), ""), cat.t("label.no_limit"),
                              "INFO", cat.t("status.INFO")))
    return out


def scope(result: RunResult, cat: Catalogue) -> ScopeView:
    """What was measured (areas with a judged check) and what was not: the LAN audit,
    Wi-Fi (netcheck measures the wired path), inbound reachability and QoS under load
    when their measurements are absent, plus what field mode could not prove without a
    responder (``result.scope.not_proven``)."""
    judged = {c.group for c in result.checks if c.status in (Status.PASS, Status.WARN, Status.FAIL)}
    measured = [_label(cat, "group", g) for g in GROUP_ORDER if g in judged]
    measured += [_label(cat, "group", g) for g in sorted(judged - set(GROUP_ORDER))]
    probes = {m.probe for m in result.measurements if m.ok}
    qos = next((m for m in result.measurements if m.probe == "qos" and m.ok), None)
    missing = [cat.t("scope.wifi")]
    if "snmp_switch" not in probes:
        missing.append(cat.t("scope.lan_audit"))
    if "exposure" not in probes:
        missing.append(cat.t("scope.inbound"))
    if qos is None or not qos.values.get("saturated"):
        missing.append(cat.t("scope.qos_load"))
    return ScopeView(measured, missing, _not_proven(result, cat))


def _not_proven(result: RunResult, cat: Catalogue) -> list[str]:
    """Field mode's list (``result.scope.not_proven``: items with key, params, English text)."""
    items = result.scope.not_proven if isinstance(result.scope, Scope) else []
    return [cat.t(i.key, **{k: cat.param(v) for k, v in i.params.items()}) if cat.has(i.key) else i.text
            for i in items]


# ------------------------------------------------------------------ appendix


def private_scrubber(result: RunResult, cat: Catalogue) -> Callable[[str], str]:
    """For ``--private``: a function that replaces this machine's host name, MACs and
    interface addresses (from ``environment``) wherever they appear in a text — a SIP Via
    header or a STUN answer may carry the laptop's own address."""
    env = result.environment
    tokens = {a.split("/", 1)[0] for i in env.interfaces for a in i.addresses}
    tokens |= {i.mac for i in env.interfaces if i.mac}
    if len(env.hostname) >= 3:
        tokens.add(env.hostname)
    tokens = {t for t in tokens if t and t not in ("127.0.0.1", "::1")}
    if not tokens:
        return lambda text: text
    pattern = re.compile(r"(?<![\w.])(" + "|".join(map(re.escape, sorted(tokens, key=len, reverse=True)))
                         + r")(?!\w|\.\d)", re.IGNORECASE)
    word = cat.t("env.this_machine")
    return lambda text: pattern.sub(word, text)


def _scrub_row(row: Row, hide: Callable[[str], str] | None) -> Row:
    if hide is None:
        return row
    return replace(row, title=hide(row.title), reason=hide(row.reason), measured=hide(row.measured),
                   fix=hide(row.fix) if row.fix else row.fix)


def _raw(m: Measurement, cat: Catalogue, private: bool = False,
         hide: Callable[[str], str] | None = None) -> RawMeasurement:
    values = [
        (k, REDACTED if SECRET_KEY.search(k) or (private and PRIVATE_KEY.search(k)) else _short(v, cat))
        for k, v in m.values.items()
    ]
    if hide is not None:
        values = [(k, hide(v)) for k, v in values]
    values += [(f"series.{k}", f"{len(v)} samples") for k, v in m.series.items()]
    error = f"{cat.t('error.' + m.error.kind.value)}: {m.error.detail}" if m.error else None
    return RawMeasurement(
        id=m.id,
        probe=m.probe,
        target=m.target,
        method=m.method,
        confidence=_label(cat, "confidence", m.confidence),
        started=m.started_utc,
        duration=cat.duration(m.duration_s),
        error=error,
        values=values,
    )


def _short(value: Value, cat: Catalogue, limit: int = 24) -> str:
    if isinstance(value, list) and len(value) > limit:
        return value_text(value[:limit], cat) + f", … ({len(value)})"
    if isinstance(value, dict):
        return ", ".join(
            f"{k}: {REDACTED if SECRET_KEY.search(str(k)) else _short(v, cat)}"
            for k, v in value.items()
        )
    return value_text(value, cat)


def _inventory(measurements: list[Measurement]) -> tuple[list[str], list[list[str]]] | None:
    """Phones found by the LAN audit (``snmp_switch`` ``values["phones"]``: objects with
    mac, vendor, model, ip, switch, port, vlan, poe_class, basis: lldp, cdp, lldp+cdp, oui or
    oui-candidate), one table for all switches."""
    phones = [
        p
        for m in measurements
        for p in (m.values.get("phones") or [])  # type: ignore[union-attr]
        if isinstance(p, dict)
    ]
    if not phones:
        return None
    cols = [c for c in INVENTORY_COLUMNS if any(p.get(c) not in (None, "") for p in phones)]
    return cols, [[str(p.get(c) if p.get(c) is not None else "") for c in cols] for p in phones]


# ------------------------------------------------------------------ charts


def charts(result: RunResult, cat: Catalogue) -> list[Chart]:
    """Every chart whose data is in the document, in reading order."""
    out: list[Chart] = []
    for m in result.measurements:
        out += _path_charts(m, result.checks, cat)
    ports = _ports_chart(result.checks, cat)
    if ports:
        out.append(ports)
    out += _poe_chart(result.measurements, cat)
    out += _capacity_chart(result.measurements, cat)
    return out


def _fmt(cat: Catalogue) -> svg.Fmt:
    return lambda v: cat.num(float(v))


def _check_for(checks: list[Check], m: Measurement, metric: str) -> Check | None:
    return next((c for c in checks if m.id in c.evidence and f".{metric}@" in c.id), None)


def _path_charts(m: Measurement, checks: list[Check], cat: Catalogue) -> list[Chart]:
    """Delay, jitter and loss of one call (probes ``stream``/``icmp``), titled with the
    target's role and address so that two paths to one address stay apart."""
    if m.probe not in PATH_CHART_PROBES or not m.ok:
        return []
    out = []
    target = chart_target(m, cat)
    samples = next((m.series[k] for k in ("rtt_ms", "delay_ms", "one_way_delay_ms") if m.series.get(k)), None)
    if samples:
        out.append(_delay_chart(m, samples, checks, target, cat))
    jitter = m.series.get("jitter_ms") or m.series.get("ipdv_ms")
    if jitter:
        interval = _interval(m, len(jitter))
        lim = _limit_of(_check_for(checks, m, "jitter_ms"), cat)
        title = cat.t("chart.jitter", target=target)
        chart = svg.time_series(jitter, interval, label=title, unit="ms", x_unit=cat.t("axis.seconds"),
                                fmt=_fmt(cat), limit=lim[0] if lim else None, limit_label=lim[1] if lim else "",
                                colour=svg.AMBER, off_scale=cat.t("chart.off_scale", limit=lim[1]) if lim else "")
        out.append(Chart(title, chart, cat.t("chart.jitter_caption", n=len(jitter))))
    loss = _loss_chart(m, checks, target, cat)
    if loss:
        out.append(loss)
    return out


#: Probes whose series are a call's packets over time (STUN's few samples are no chart).
PATH_CHART_PROBES = ("stream", "icmp")


def chart_target(m: Measurement, cat: Catalogue) -> str:
    """``stream:platform`` with address 46.189.64.189 -> "Plattform (46.189.64.189)"."""
    name = m.id.split(":", 1)[-1]
    address = m.values.get("address")
    shown = cat.target(name)
    return cat.t("where.named", name=shown, address=str(address)) if address else shown


def worst_window(m: Measurement, cat: Catalogue) -> tuple[float, float, str] | None:
    """The worst loss window of the call (``loss_worst_window_start_s``/``_end_s``, written
    by the stream probe) as a chart mark, when it lost anything."""
    start, end = m.values.get("loss_worst_window_start_s"), m.values.get("loss_worst_window_end_s")
    pct = m.values.get("loss_worst_window_pct")
    if not (isinstance(start, int | float) and isinstance(end, int | float) and isinstance(pct, int | float)):
        return None
    if pct <= 0:
        return None
    return float(start), float(end), cat.t("chart.worst_window", pct=cat.param_qty(float(pct), "%"))


def _interval(m: Measurement, n: int) -> float:
    """Seconds between samples: the stream's packet interval (``interval_ms``), else the
    run's duration spread over the samples."""
    given = m.values.get("interval_ms")
    if isinstance(given, int | float) and given > 0:
        return float(given) / 1000.0
    return m.duration_s / n if n and m.duration_s > 0 else 1.0


def _limit_of(check: Check | None, cat: Catalogue) -> tuple[float, str] | None:
    """The check's bound as (number, label) for a chart's limit line."""
    if check is None or check.bound is None:
        return None
    return check.bound.value, checktext.bound(check.bound, cat)


def _delay_chart(
    m: Measurement, samples: list[float | None], checks: list[Check], target: str, cat: Catalogue
) -> Chart:
    interval = _interval(m, len(samples))
    rtt_check = _check_for(checks, m, "rtt_ms") if "rtt_ms" in m.series else None
    lim = _limit_of(rtt_check, cat)
    got = sorted(v for v in samples if v is not None)
    median = got[len(got) // 2] if got else None
    title = cat.t("chart.delay", target=target)
    lost = sum(1 for v in samples if v is None)
    caption = cat.t(
        "chart.delay_caption",
        method=_label(cat, "method", m.method),
        n=len(samples),
        lost=lost,
        seconds=cat.param_qty(round(interval * len(samples), 1), "s"),
        median=cat.param_qty(_num(m.values, "rtt_median_ms") or median or 0.0, "ms"),
    )
    chart = svg.time_series(
        samples,
        interval,
        label=title,
        unit="ms",
        x_unit=cat.t("axis.seconds"),
        fmt=_fmt(cat),
        limit=lim[0] if lim else None,
        limit_label=lim[1] if lim else "",
        mark=worst_window(m, cat),
        off_scale=cat.t("chart.off_scale", limit=lim[1]) if lim else "",
    )
    return Chart(title, chart, caption)


def _loss_chart(m: Measurement, checks: list[Check], target: str, cat: Catalogue) -> Chart | None:
    windows = m.values.get("loss_windows_pct")
    window_s = m.values.get("loss_window_s")
    if not isinstance(windows, list) or not windows or not isinstance(window_s, int | float):
        return None
    numbers = [float(w) for w in windows if isinstance(w, int | float)]
    check = _check_for(checks, m, "loss_pct")
    bound = check.bound if check else None
    label_text = checktext.bound(bound, cat) if bound else ""
    parsed = (bound.value, bound.op) if bound else None

    def fails(v: float) -> bool:
        return bound is not None and not bound.op.holds(v, bound.value)

    title = cat.t("chart.loss", seconds=cat.param_qty(float(window_s), "s"), target=target)
    chart = svg.window_bars(
        numbers,
        float(window_s),
        label=title,
        unit="%",
        fmt=_fmt(cat),
        limit=parsed[0] if parsed else None,
        limit_label=label_text,
        fails=fails,
    )
    caption = cat.t("chart.loss_caption", limit=label_text) if parsed else ""
    worst = worst_window(m, cat)
    if worst:
        caption += " " + cat.t("chart.worst_caption", start=cat.param_qty(worst[0], "s"),
                               end=cat.param_qty(worst[1], "s"), what=worst[2])
    return Chart(title, chart, caption.strip())


_PORT_ID = re.compile(r"^port\.(?P<transport>tcp|udp)\.(?P<port>[^@]+)@(?P<dest>.+)$")


def _ports_chart(checks: list[Check], cat: Catalogue) -> Chart | None:
    """Port matrix from the firewall checks: destination x (transport, port range)."""
    rows: dict[str, list[svg.Cell]] = {}
    for c in checks:
        match = _PORT_ID.match(c.id)
        if not match:
            continue
        host = c.params.get("host")
        dest = host if isinstance(host, str) else match["dest"]
        state, text = _port_state(c, cat)
        rows.setdefault(dest, []).append(
            svg.Cell(f"{match['transport'].upper()} {match['port']}", state, text)
        )
    if not rows:
        return None
    legend = [
        ("open", cat.t("state.open")),
        ("blocked", cat.t("state.blocked")),
        ("not_measured", cat.t("state.not_measured")),
    ]
    title = cat.t("chart.ports")
    return Chart(
        title,
        svg.port_matrix(list(rows.items()), label=title, legend=legend),
        cat.t("chart.ports_caption"),
    )


def _port_state(c: Check, cat: Catalogue) -> tuple[str, str]:
    if c.status is Status.PASS:
        return "open", cat.t("state.open")
    if c.status in (Status.NOT_MEASURED, Status.SKIPPED):
        return "not_measured", cat.t(f"status.{c.status.value}").lower()
    found = c.params.get("found")
    first = found[0] if isinstance(found, list) and found else None
    state = first.params.get("state") if isinstance(first, Msg) else None
    return "blocked", cat.msg(state) if isinstance(state, Msg) else cat.t("state.blocked")


def _num(values: dict[str, Value], *keys: str) -> float | None:
    for key in keys:
        v = values.get(key)
        if isinstance(v, int | float) and not isinstance(v, bool):
            return float(v)
    return None


def _poe_chart(measurements: list[Measurement], cat: Catalogue) -> list[Chart]:
    """PoE budget per switch from ``snmp_switch`` measurements: watts drawn vs. the PSE
    budget (POWER-ETHERNET-MIB pethMainPseConsumptionPower / pethMainPsePower, RFC 3621),
    summed over a switch's PSE groups (``values["pse"]``)."""
    items = [item for m in measurements if m.probe == "snmp_switch" and m.ok
             for item in [_pse_total(m)] if item is not None]
    if not items:
        return []
    title = cat.t("chart.poe")
    chart = svg.hbars(items, label=title, unit="W", fmt=_fmt(cat),
                      used_word=cat.t("chart.used"), total_word=cat.t("chart.budget"))
    return [Chart(title, chart, cat.t("chart.poe_caption"))]


def _pse_total(m: Measurement) -> tuple[str, float, float] | None:
    groups = [g for g in m.values.get("pse") or [] if isinstance(g, dict)]  # type: ignore[union-attr]
    budget = [g["power_w"] for g in groups if isinstance(g.get("power_w"), int | float)]
    used = [g["consumption_w"] for g in groups if isinstance(g.get("consumption_w"), int | float)]
    if not budget or not used:
        return None
    switch = m.values.get("switch")
    name = switch.get("name") if isinstance(switch, dict) else None
    return str(name or m.target), float(sum(used)), float(sum(budget))


def _capacity(measurements: list[Measurement]) -> tuple[int, int | None, str] | None:
    """(calls carried within the limits both ways, calls the site needs, codec) from the
    call-load ramp (probe ``capacity``: ``calls_up_max``/``calls_down_max``, and
    ``required_*_kbps`` / ``call_kbps`` for the need)."""
    for m in measurements:
        if m.probe != "capacity" or not m.ok:
            continue
        up, down = _num(m.values, "calls_up_max"), _num(m.values, "calls_down_max")
        if up is None or down is None:
            continue
        per_call = _num(m.values, "call_kbps")
        need = [x for x in (_num(m.values, "required_up_kbps"), _num(m.values, "required_down_kbps")) if x]
        needed = math.ceil(max(need) / per_call - 1e-9) if need and per_call else None
        return int(min(up, down)), needed, str(m.values.get("codec") or "G.711")
    return None


def _capacity_chart(measurements: list[Measurement], cat: Catalogue) -> list[Chart]:
    cap = _capacity(measurements)
    if not cap or cap[1] is None:
        return []
    supported, needed, _codec = cap
    if needed is None:
        return []
    title = cat.t("chart.capacity")
    return [
        Chart(
            title,
            svg.hbars(
                [(cat.t("axis.calls"), needed, supported)],
                label=title,
                unit="",
                fmt=_fmt(cat),
                used_word=cat.t("chart.needed"),
                total_word=cat.t("chart.supported"),
            ),
        )
    ]


def capacity_statement(result: RunResult, cat: Catalogue) -> list[str]:
    """ "The measured path supports N concurrent G.711 calls; M extensions need K."
    Only when a capacity measurement is in the document."""
    cap = _capacity(result.measurements)
    if not cap:
        return []
    supported, needed, codec = cap
    out = [cat.t("capacity.statement", supported=str(supported), codec=codec)]
    if needed is not None and result.site.extensions is not None:
        out.append(cat.t("capacity.need", extensions=str(result.site.extensions), needed=str(needed)))
    return out
