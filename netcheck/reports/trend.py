"""Trend report and history table of the agent's stored runs (``netcheck history``).

Renders :class:`netcheck.trends.Trend` (computed there, never here) as text, Markdown,
self-contained HTML (the single-result report's palette, inline SVG, no script) or PDF
(the HTML typeset by :func:`netcheck.reports.pdf.render_html`, which fetches nothing).
Times are shown in this machine's local time, as the per-hour profile is.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the history table needs neither: ``netcheck history`` stays light
    from netcheck.store import RunRow
    from netcheck.trends import Trend

HISTORY_COLUMNS = ("run", "started", "kind", "result", "delay_ms", "jitter_ms", "loss_pct", "mos",
                   "handover_up", "failed_checks")


def _t(ts: float, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return dt.datetime.fromtimestamp(ts).strftime(fmt)


def _n(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _pct(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.1f} %"


def history_cells(rows: Sequence[RunRow]) -> list[tuple[Any, ...]]:
    """Store rows as :meth:`netcheck.store.Store.history_cells` returns them from SQL (a
    test holds the two equal): (id, started_ts, kind, result, delay_ms, jitter_ms,
    loss_pct, mos, handover up as yes/NO/-, failed check ids or the error)."""
    return [(r.id, r.started_ts, r.kind, r.verdict or r.outcome, r.delay_ms, r.jitter_ms, r.loss_pct, r.mos,
             "-" if r.handover_up is None else ("yes" if r.handover_up else "NO"),
             " ".join(r.failed_checks) or (r.error or "")) for r in rows]


def history_table(cells: Sequence[tuple[Any, ...]]) -> str:
    """One line per run, aligned; the failed check ids (or the error) last. One pass: cells
    formatted inline, widths per column, one format string (a year is 35,040 lines)."""
    if not cells:
        return "no runs stored in this period\n"
    stamp, local = time.strftime, time.localtime
    lines = [list(HISTORY_COLUMNS)]
    lines += [[str(i), stamp("%Y-%m-%d %H:%M:%S", local(ts)), kind, res,
               "-" if d is None else f"{d:.2f}", "-" if j is None else f"{j:.2f}",
               "-" if lo is None else f"{lo:.2f}", "-" if m is None else f"{m:.2f}", up, tail]
              for i, ts, kind, res, d, j, lo, m, up, tail in cells]
    widths = [max(map(len, col)) for col in list(zip(*lines, strict=True))[:9]]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths) + "  {}"
    return "\n".join(fmt.format(*fields).rstrip() for fields in lines) + "\n"


def history_csv(rows: Sequence[RunRow]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*HISTORY_COLUMNS, "started_ts", "duration_s", "outcome", "error"])
    for r, c in zip(rows, history_cells(rows), strict=True):
        w.writerow([c[0], dt.datetime.fromtimestamp(r.started_ts, dt.UTC).isoformat(), c[2], c[3],
                    *(_n(x) for x in c[4:8]), c[8], c[9], r.started_ts, r.duration_s, r.outcome, r.error or ""])
    return buf.getvalue()


# --------------------------------------------------------------------------- trend


def render(trend: Trend, fmt: str) -> bytes:
    if fmt == "text":
        return _lines(trend, md=False).encode()
    if fmt == "markdown":
        return _lines(trend, md=True).encode()
    if fmt == "html":
        return html(trend).encode()
    if fmt == "pdf":
        from netcheck.reports.pdf import render_html

        return render_html(html(trend))
    raise ValueError(f"unknown trend format {fmt!r}")


def _summary(t: Trend) -> list[tuple[str, str]]:
    a = t.availability
    avail = "-" if a.pct is None else f"{a.pct:.3f} % ({a.up}/{a.samples} runs answered)"
    if a.promise_pct is not None and a.pct is not None:
        avail += (f"; promise {a.promise_pct:g} %/year: "
                  f"{'met' if a.meets else 'NOT met'} (resolution {a.resolution_pct:g} %)")
    interval = "-" if t.median_interval_s is None else f"{t.median_interval_s / 60:.1f} min"
    busy = "-" if t.busy_hour is None else f"{t.busy_hour:02d}:00-{(t.busy_hour + 1) % 24:02d}:00"
    return [
        ("Period", f"{_t(t.since_ts)} to {_t(t.until_ts)}"),
        ("Profile", ", ".join(t.profiles) or "-"),
        ("Runs", f"{t.runs} ({', '.join(f'{k} {v}' for k, v in sorted(t.outcomes.items()))}); "
                 f"median interval {interval}"),
        ("Verdicts", ", ".join(f"{k} {v}" for k, v in sorted(t.verdicts.items())) or "-"),
        ("Busy hour", busy),
        ("Handover availability", avail),
    ]


def _hour_rows(t: Trend) -> list[list[str]]:
    return [[f"{h.hour:02d}:00", str(h.runs), _pct(h.nogo_share), _n(h.jitter_p50_ms),
             _n(h.jitter_p95_ms), _n(h.delay_p95_ms), _n(h.loss_max_pct), _n(h.mos_min)]
            for h in t.hours if h.runs]


HOUR_HEAD = ["hour", "runs", "NO-GO", "jitter p50 ms", "jitter p95 ms", "delay p95 ms",
             "loss max %", "MOS min"]
WINDOW_HEAD = ["window", "runs", "NO-GO", "jitter max ms", "loss max %", "MOS min", "failed checks"]
CHECK_HEAD = ["check", "runs", "failed", "share failed", "warn", "not measured"]


def _window_rows(t: Trend) -> list[list[str]]:
    return [[f"{_t(w.start_ts)}-{_t(w.end_ts, '%H:%M')}", str(w.runs), str(w.nogo),
             _n(w.jitter_max_ms), _n(w.loss_max_pct), _n(w.mos_min),
             ", ".join(f"{c} ({n})" for c, n in w.failed_checks[:3])] for w in t.worst_windows]


def _check_rows(t: Trend) -> list[list[str]]:
    return [[c.check_id, str(c.runs), str(c.fail), _pct(c.fail_share), str(c.warn),
             str(c.not_measured)] for c in t.checks]


def _lines(t: Trend, md: bool) -> str:
    out = ["# netcheck trend report" if md else "netcheck trend report", ""]
    out += [f"- **{k}**: {v}" if md else f"{k + ':':<24}{v}" for k, v in _summary(t)]
    for title, head, rows in (("Per hour of day (local time)", HOUR_HEAD, _hour_rows(t)),
                              ("Worst windows", WINDOW_HEAD, _window_rows(t)),
                              ("Share of runs in which each check failed", CHECK_HEAD,
                               _check_rows(t))):
        out += ["", f"## {title}" if md else title, ""]
        out += _md_table(head, rows) if md else _text_table(head, rows)
    if t.notes:
        out += ["", "## Agent notes" if md else "Agent notes", ""]
        out += [f"- {n}" for n in t.notes[-20:]]
    return "\n".join(out) + "\n"


def _md_table(head: list[str], rows: list[list[str]]) -> list[str]:
    if not rows:
        return ["(none)"]
    esc = [[c.replace("|", "\\|") for c in r] for r in rows]
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + [
        "| " + " | ".join(r) + " |" for r in esc]


def _text_table(head: list[str], rows: list[list[str]]) -> list[str]:
    if not rows:
        return ["  (none)"]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in [head, *rows]]


# --------------------------------------------------------------------------- html

_CSS = """
:root { --ink:#1d2330; --muted:#5b6270; --line:#dde1e6; --bg:#f6f7f9;
        --go:#1a7f37; --nogo:#c62828; --inc:#b26a00; --info:#1f5fbf; }
body { margin:0; color:var(--ink); line-height:1.45; font-size:15px;
       font-family: system-ui, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif; }
main { max-width: 980px; margin: 0 auto; padding: 24px 20px 40px; }
h1 { font-size: 1.6em; margin: 0 0 12px; }
h2 { font-size: 1.25em; margin: 30px 0 10px; padding-bottom: 4px;
     border-bottom: 2px solid var(--line); }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; }
dt { color: var(--muted); } dd { margin: 0; font-weight: 600; }
table { border-collapse: collapse; width: 100%; font-size: .9em; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); }
th { background: var(--bg); }
.bad { color: var(--nogo); font-weight: 700; } .good { color: var(--go); font-weight: 700; }
@page { size: A4; margin: 16mm 14mm; }
"""


def html(t: Trend) -> str:
    a = t.availability
    parts = ["<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
             f"<title>netcheck trend {escape(_t(t.since_ts))}</title><style>{_CSS}</style>",
             "</head><body><main><h1>netcheck trend report</h1><dl>"]
    for k, v in _summary(t):
        cls = ""
        if k == "Handover availability" and a.meets is not None:
            cls = " class=\"good\"" if a.meets else " class=\"bad\""
        parts.append(f"<dt>{escape(k)}</dt><dd{cls}>{escape(v)}</dd>")
    parts.append("</dl><h2>Per hour of day (local time)</h2>")
    parts.append(hour_chart(t))
    for title, head, rows in (("", HOUR_HEAD, _hour_rows(t)),
                              ("Worst windows", WINDOW_HEAD, _window_rows(t)),
                              ("Share of runs in which each check failed", CHECK_HEAD,
                               _check_rows(t))):
        if title:
            parts.append(f"<h2>{escape(title)}</h2>")
        parts.append(_html_table(head, rows))
    if t.notes:
        parts.append("<h2>Agent notes</h2><ul>")
        parts += [f"<li>{escape(n)}</li>" for n in t.notes[-20:]]
        parts.append("</ul>")
    return "".join(parts) + "</main></body></html>\n"


def _html_table(head: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return "<p>(none)</p>"
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def hour_chart(t: Trend) -> str:
    """24 bars of p95 jitter per hour of day; the busy hour in red."""
    from netcheck.reports.svg import AMBER, BLUE, MUTED, RED, esc, nice_ticks

    values = [h.jitter_p95_ms for h in t.hours]
    ticks = nice_ticks(max([v for v in values if v is not None] + [1.0]) * 1.1)
    w, h, left, base, top = 720, 220, 48, 190, 14
    slot = (w - left - 10) / 24
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" '
             f'role="img" aria-label="p95 jitter per hour of day" font-size="11">']
    for tick in ticks:
        y = base - (base - top) * tick / ticks[-1]
        parts.append(f'<line x1="{left}" x2="{w - 10}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="#dde1e6"/><text x="{left - 4}" y="{y + 4:.1f}" '
                     f'text-anchor="end" fill="{MUTED}">{esc(f"{tick:g}")}</text>')
    for hour, value in enumerate(values):
        x = left + hour * slot
        parts.append(f'<text x="{x + slot / 2:.1f}" y="{base + 14}" text-anchor="middle" '
                     f'fill="{MUTED}">{hour:02d}</text>')
        if value is None:
            continue
        bar_h = (base - top) * value / ticks[-1]
        nogo = t.hours[hour].nogo_share or 0.0
        colour = RED if hour == t.busy_hour else AMBER if nogo > 0 else BLUE
        parts.append(f'<rect x="{x + slot * 0.15:.1f}" y="{base - bar_h:.1f}" '
                     f'width="{slot * 0.7:.1f}" height="{bar_h:.1f}" fill="{colour}"/>')
    parts.append(f'<text x="{left}" y="{h - 2}" fill="{MUTED}">p95 jitter (ms) per hour; '
                 f'red: busy hour, amber: hours with NO-GO runs</text></svg>')
    return "".join(parts)
