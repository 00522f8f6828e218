"""What the technician's terminal shows during and after a run (issue 18, item 8).

During the run, :func:`outcome` gives one line per finished probe that says what it found
(a refused port is not "ok"); after the run, :func:`closing` repeats the verdict as the
very last line — above 16+ lines on an 80x25 console it would scroll away — preceded, for
an INCOMPLETE or NO-GO run, by the open points or blocking findings with their remedies
(as the HTML report lists them). Strings come from the catalogue; numbers are formatted
for the language; text from the network is shown escaped by the caller's sanitiser.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from netcheck.i18n import Catalogue
from netcheck.reports import view
from netcheck.reports.options import RenderOptions
from netcheck.result import Measurement, RunResult, Value

_MAX_ITEMS = 8


def outcome(m: Measurement, lang: str = "en") -> str:
    """"failed: timeout (no reply within 2 s)" or what the probe measured, in one line."""
    cat = Catalogue(lang)
    if m.error is not None:
        return cat.t("term.failed", kind=cat.t(f"error.{m.error.kind.value}"), detail=m.error.detail)
    summary = _SUMMARIES.get(m.probe)
    text = summary(m.values, cat) if summary else ""
    return text or cat.t("term.done")


def _num(values: dict[str, Value], key: str) -> float | None:
    v = values.get(key)
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _qty(cat: Catalogue, values: dict[str, Value], key: str, unit: str) -> str:
    v = _num(values, key)
    return cat.param_qty(v, unit) if v is not None else cat.t("field.none")


def _call(values: dict[str, Value], cat: Catalogue) -> str:
    return cat.t("term.call", rtt=_qty(cat, values, "rtt_median_ms", "ms"), jitter=_qty(cat, values, "jitter_ms", "ms"),
                 loss=_qty(cat, values, "loss_pct", "%"))


def _ports(values: dict[str, Value], cat: Catalogue) -> str:
    counts = values.get("counts")
    if not isinstance(counts, dict) or not counts:
        return ""
    return ", ".join(f"{cat.t(f'state.{state}') if cat.has(f'state.{state}') else state} {n}"
                     for state, n in counts.items())


def _dns(values: dict[str, Value], cat: Catalogue) -> str:
    addresses = values.get("addresses")
    return ", ".join(map(str, addresses[:3])) if isinstance(addresses, list) else ""


def _stun(values: dict[str, Value], cat: Catalogue) -> str:
    if values.get("lifetime_min_s") is not None:
        return cat.t("term.lifetime", lo=_qty(cat, values, "lifetime_min_s", "s"))
    if not values.get("reachable"):
        return cat.t("measured.no_answer")
    return cat.t("term.stun", rtt=_qty(cat, values, "rtt_ms", "ms"), address=str(values.get("mapped_address")))


def _path(values: dict[str, Value], cat: Catalogue) -> str:
    hops = values.get("hop_count")
    key = "term.path_reached" if values.get("reached") else "term.path_not_reached"
    return cat.t(key, hops=hops) if isinstance(hops, int) else ""


def _link(values: dict[str, Value], cat: Catalogue) -> str:
    kind = cat.t("measured.link_wifi" if values.get("type") == "wifi" else "measured.link_wired")
    duplex = values.get("duplex")
    return f"{kind}, {cat.t(f'duplex.{duplex}')}" if duplex in ("full", "half") else kind


_SUMMARIES: dict[str, Callable[[dict[str, Value], Catalogue], str]] = {
    "stream": _call, "icmp": _call, "tcp_ports": _ports, "udp_ports": _ports, "dns": _dns, "stun": _stun,
    "path_hops": _path, "local_link": _link,
}


def overall(bound_s: float, total: int, done: int, elapsed_s: float, lang: str = "en") -> str:
    """"7/12 probes · at most 41 s left": ``bound_s`` is the runner's schedule replayed with
    each run's timeout as its duration (:func:`netcheck.schedule.bound`), so the time left is
    an upper bound too."""
    cat = Catalogue(lang)
    left = max(0, round(bound_s - elapsed_s))
    return cat.t("term.overall", done=done, total=total, left=cat.param_qty(float(left), "s"))


def closing(result: RunResult, lang: str = "en") -> list[str]:
    """The run's last lines: open points / blocking findings with remedies, then the verdict."""
    r = view.build(result, lang, RenderOptions(appendix=False), "text")
    t = r.t.t
    out: list[str] = []
    items = r.findings if r.findings else r.open_items
    if items:
        out.append(t("section.findings") + ":" if r.findings else t("section.open") + ":")
        by_fix: dict[str | None, list[str]] = {}  # one remedy often covers several points
        for row in items[:_MAX_ITEMS]:
            by_fix.setdefault(row.fix, []).append(row.title)
        for fix, titles in by_fix.items():
            out += [f"  - {title}" for title in titles]
            if fix:
                out.append(f"    {t('label.fix')}: {fix}")
        if len(items) > _MAX_ITEMS:
            out.append("  " + t("term.more", n=len(items) - _MAX_ITEMS))
    counts = "  ".join(f"{word}={n}" for _, word, n in r.summary)
    out.append(f"{t('field.verdict').upper()}: {r.verdict_word}   {counts}")
    return out


# ------------------------------------------------------------------ during the run

#: What a finished probe line is marked with: measured and fine, found something to look
#: at (a refused or blocked port, a server that did not answer), or failed to measure.
MARKS = {"ok": "✓", "problem": "!", "failed": "✗"}
#: Port states that are an answer to look at, not "ok" (tcp_ports / udp_ports ``counts``).
_PORT_FINE = ("open",)
#: Probes whose run title names a target role after the colon of the run id (``stream:platform``).
_ROLE_PROBES = ("stream", "path_hops")


def state(m: Measurement) -> str:
    """"ok", "problem" or "failed" for a finished probe's line. Judging against the
    profile's limits is the evaluator's job (after the run); this only says whether the
    probe met a refusal, a block or silence, so a refused port is never shown as ok."""
    if m.error is not None:
        return "failed"
    counts = m.values.get("counts")
    if m.probe in ("tcp_ports", "udp_ports") and isinstance(counts, dict) \
            and any(n for s, n in counts.items() if s not in _PORT_FINE):
        return "problem"
    if m.probe == "stun" and not m.values.get("reachable") and m.values.get("lifetime_min_s") is None:
        return "problem"
    if m.probe == "stream" and m.values.get("received") == 0:
        return "problem"
    return "ok"


def run_label(run: Any, lang: str = "en") -> str:
    """A probe run's name in the language: ``term.run.<probe>`` with the target's role and
    host where the catalogue has one (the plan's run title is English), else the title
    (protocol, port and host: "TCP 5060 sip.example.net")."""
    cat = Catalogue(lang)
    key = f"term.run.{run.probe}"
    if not cat.has(key):
        return str(run.title)
    host = str(getattr(run.spec, "host", "") or "")
    role = str(run.id).split(":", 1)[1] if run.probe in _ROLE_PROBES and ":" in str(run.id) else ""
    return cat.t(key, target=cat.target(role) if role else host, host=host).replace(" ()", "")


def line(run: Any, m: Measurement, lang: str = "en") -> str:
    """One finished probe: mark, name, what it found ("! TCP 5060 x: refused 1")."""
    return f"{MARKS[state(m)]} {run_label(run, lang)}: {outcome(m, lang)}"


def live_line(snapshot: Any, lang: str = "en") -> str:
    """A running call's figures so far (:class:`netcheck.probes._stream_live.LiveCall`)."""
    cat = Catalogue(lang)

    def ms(v: float | None) -> str:
        return cat.param_qty(v, "ms") if v is not None else cat.t("field.none")

    return cat.t("term.live", elapsed=cat.param_qty(float(round(snapshot.elapsed_s)), "s"),
                 duration=cat.param_qty(float(snapshot.duration_s), "s"), sent=snapshot.sent,
                 received=snapshot.received, lost=snapshot.lost, loss=cat.param_qty(snapshot.loss_pct, "%"),
                 rtt=ms(snapshot.rtt_ms), jitter=ms(snapshot.jitter_ms))


def rendering(lang: str = "en") -> str:
    return Catalogue(lang).t("term.rendering")
