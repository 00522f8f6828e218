"""Trend report of the agent's stored runs (``netcheck history --report``, ``report trend``).

Renders :class:`netcheck.agent.trends.Trend` (computed there, never here) as text, Markdown,
self-contained HTML (the single-result report's palette, inline SVG, no script) or PDF
(the HTML typeset by :func:`netcheck.reports.pdf.render_html`, which fetches nothing).
Times are shown in this machine's local time, as the per-hour profile is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING

from netcheck.i18n import Catalogue
from netcheck.reports import checktext

if TYPE_CHECKING:
    from netcheck.agent.trends import Trend
    from netcheck.result import RunResult

# --------------------------------------------------------------------------- trend


@dataclass(frozen=True)
class Context:
    """What the trend report names besides the numbers: the site (from the latest stored
    result document) and check titles in the report's language (by check id)."""

    customer: str = ""
    site: str = ""
    titles: dict[str, str] = field(default_factory=dict)


def context_from(result: RunResult | None, lang: str) -> Context:
    """Site and translated check titles from a stored result document (the latest run)."""
    if result is None:
        return Context()
    cat = Catalogue(lang)
    titles = {c.id: checktext.title(c, cat) for c in result.checks}
    return Context(customer=result.site.customer or "", site=result.site.site or "", titles=titles)


def render(trend: Trend, fmt: str, lang: str = "en", context: Context | None = None) -> bytes:
    cat, ctx = Catalogue(lang), context or Context()
    if fmt == "text":
        return _lines(trend, cat, ctx, md=False).encode()
    if fmt == "markdown":
        return _lines(trend, cat, ctx, md=True).encode()
    if fmt == "html":
        return html(trend, cat, ctx).encode()
    if fmt == "pdf":
        from netcheck.reports.pdf import render_html

        return render_html(html(trend, cat, ctx))
    raise ValueError(f"unknown trend format {fmt!r}")


def _when(cat: Catalogue, ts: float) -> str:
    return cat.datetime(dt.datetime.fromtimestamp(ts, dt.UTC).isoformat())


def _q(cat: Catalogue, value: float | None, unit: str = "") -> str:
    return cat.t("field.none") if value is None else cat.param_qty(value, unit)


def _share(cat: Catalogue, share: float | None) -> str:
    return cat.t("field.none") if share is None else cat.param_qty(round(100 * share, 1), "%")


def _summary(t: Trend, cat: Catalogue, ctx: Context) -> list[tuple[str, str]]:
    a = t.availability
    none = cat.t("field.none")
    avail = none if a.pct is None else cat.t("trend.availability_value", pct=cat.param_qty(a.pct, "%"), up=a.up,
                                            samples=a.samples)
    if a.promise_pct is not None and a.pct is not None:
        avail += "; " + cat.t("trend.promise", promise=cat.param_qty(a.promise_pct, "%"),
                              met=cat.t("trend.met" if a.meets else "trend.not_met"),
                              resolution=cat.param_qty(a.resolution_pct or 0.0, "%"))
    interval = none if t.median_interval_s is None else cat.param_qty(round(t.median_interval_s / 60, 1), "min")
    busy = none if t.busy_hour is None else f"{t.busy_hour:02d}:00\u2013{(t.busy_hour + 1) % 24:02d}:00"
    outcomes = ", ".join(f"{cat.t('trend.outcome.' + k) if cat.has('trend.outcome.' + k) else k} {v}"
                         for k, v in sorted(t.outcomes.items()))
    rows = [
        (cat.t("field.customer"), ctx.customer or none),
        (cat.t("field.site"), ctx.site or none),
        (cat.t("trend.period"),
         cat.t("trend.period_value", since=_when(cat, t.since_ts), until=_when(cat, t.until_ts))),
        (cat.t("field.profile"), ", ".join(t.profiles) or none),
        (cat.t("trend.runs"), cat.t("trend.runs_value", runs=t.runs, outcomes=outcomes, interval=interval)),
        (cat.t("trend.verdicts"), ", ".join(f"{cat.t('verdict.' + k) if cat.has('verdict.' + k) else k} {v}"
                                            for k, v in sorted(t.verdicts.items())) or none),
        (cat.t("trend.busy_hour"), busy),
        (cat.t("trend.availability"), avail),
    ]
    return rows


def _hour_rows(t: Trend, cat: Catalogue) -> list[list[str]]:
    return [[f"{h.hour:02d}:00", str(h.runs), _share(cat, h.nogo_share), _q(cat, h.jitter_p50_ms),
             _q(cat, h.jitter_p95_ms), _q(cat, h.delay_p95_ms), _q(cat, h.loss_max_pct), _q(cat, h.mos_min),
             _fault(t.fault_hours.get(h.hour), cat)]
            for h in t.hours if h.runs]


def _fault(counts: dict[str, int] | None, cat: Catalogue) -> str:
    """The segment the per-hop traces blamed most in that hour: "ISP 3/4" (of traced runs)."""
    from netcheck.agent.trends import worst_segment

    if not counts:
        return cat.t("field.none")
    worst = worst_segment(counts)
    if worst is None:
        return cat.t("trend.fault_none", traced=sum(counts.values()))
    return f"{cat.t('faultloc.segment.' + worst[0])} {worst[1]}/{worst[2]}"


def _head(cat: Catalogue, key: str) -> list[str]:
    return cat.t(key).split("|")


def _window_rows(t: Trend, cat: Catalogue, ctx: Context) -> list[list[str]]:
    return [[f"{_when(cat, w.start_ts)}\u2013{dt.datetime.fromtimestamp(w.end_ts).astimezone(cat.zone):%H:%M}",
             str(w.runs), str(w.nogo), _q(cat, w.jitter_max_ms), _q(cat, w.loss_max_pct), _q(cat, w.mos_min),
             ", ".join(f"{ctx.titles.get(c, c)} ({n})" for c, n in w.failed_checks[:3])] for w in t.worst_windows]


def _check_rows(t: Trend, cat: Catalogue, ctx: Context) -> list[list[str]]:
    return [[ctx.titles.get(c.check_id) or c.title or c.check_id, str(c.runs), str(c.fail),
             _share(cat, c.fail_share), str(c.warn), str(c.not_measured)] for c in t.checks]


def _sections(t: Trend, cat: Catalogue, ctx: Context) -> list[tuple[str, list[str], list[list[str]]]]:
    return [(cat.t("trend.per_hour"), _head(cat, "trend.head.hour"), _hour_rows(t, cat)),
            (cat.t("trend.worst_windows"), _head(cat, "trend.head.window"), _window_rows(t, cat, ctx)),
            (cat.t("trend.check_shares"), _head(cat, "trend.head.check"), _check_rows(t, cat, ctx))]


def _lines(t: Trend, cat: Catalogue, ctx: Context, md: bool) -> str:
    title = cat.t("trend.title")
    out = [f"# {title}" if md else title, ""]
    out += [f"- **{k}**: {v}" if md else f"{k + ':':<24}{v}" for k, v in _summary(t, cat, ctx)]
    for section, head, rows in _sections(t, cat, ctx):
        out += ["", f"## {section}" if md else section, ""]
        out += _md_table(head, rows, cat) if md else _text_table(head, rows, cat)
    if t.notes:
        out += ["", f"## {cat.t('trend.notes')}" if md else cat.t("trend.notes"), ""]
        out += [f"- {n}" for n in t.notes[-20:]]
    return "\n".join(out) + "\n"


def _md_table(head: list[str], rows: list[list[str]], cat: Catalogue) -> list[str]:
    if not rows:
        return [f"({cat.t('trend.none')})"]
    esc = [[c.replace("|", "\\|") for c in r] for r in rows]
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + [
        "| " + " | ".join(r) + " |" for r in esc]


def _text_table(head: list[str], rows: list[list[str]], cat: Catalogue) -> list[str]:
    if not rows:
        return [f"  ({cat.t('trend.none')})"]
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
.running { display: none; }
@media print { body { font-size: 9.5pt; } table { font-size: 8pt; } main { padding: 0; max-width: none; }
  .running { display: block; position: running(header); font-size: 8pt; color: #5b6270; } }
"""


def _page_css(cat: Catalogue) -> str:
    """A4 pages with the running header (customer, site) and "Page n / N" (catalogue word,
    a CSS string built only from the catalogue, never from user data)."""
    from netcheck.reports.html import css_string

    return ("@page { size: A4; margin: 18mm 14mm 16mm 14mm; @top-left { content: element(header); width: 100%; } "
            f"@bottom-right {{ content: {css_string(cat.t('label.page'))} \" \" counter(page) \" / \" "
            "counter(pages); font-size: 8pt; color: #5b6270; } }")


def html(t: Trend, cat: Catalogue | None = None, ctx: Context | None = None) -> str:
    cat, ctx = cat or Catalogue("en"), ctx or Context()
    a = t.availability
    title = cat.t("trend.title")
    who = " · ".join(x for x in (ctx.customer, ctx.site) if x)
    parts = [f"<!doctype html><html lang=\"{cat.lang}\"><head><meta charset=\"utf-8\">",
             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
             f"<title>{escape(title)} {escape(_when(cat, t.since_ts))}</title>",
             f"<style>{_CSS}{_page_css(cat)}</style>",
             f"</head><body><div class=\"running\">{escape(who)}{' · ' if who else ''}{escape(title)}</div>",
             f"<main><h1>{escape(title)}</h1><dl>"]
    avail_label = cat.t("trend.availability")
    for k, v in _summary(t, cat, ctx):
        cls = ""
        if k == avail_label and a.meets is not None:
            cls = " class=\"good\"" if a.meets else " class=\"bad\""
        parts.append(f"<dt>{escape(k)}</dt><dd{cls}>{escape(v)}</dd>")
    sections = _sections(t, cat, ctx)
    parts.append(f"</dl><h2>{escape(sections[0][0])}</h2>")
    parts.append(hour_chart(t, cat))
    for i, (section, head, rows) in enumerate(sections):
        if i:
            parts.append(f"<h2>{escape(section)}</h2>")
        parts.append(_html_table(head, rows, cat))
    if t.notes:
        parts.append(f"<h2>{escape(cat.t('trend.notes'))}</h2><ul>")
        parts += [f"<li>{escape(n)}</li>" for n in t.notes[-20:]]
        parts.append("</ul>")
    return "".join(parts) + "</main></body></html>\n"


def _html_table(head: list[str], rows: list[list[str]], cat: Catalogue) -> str:
    if not rows:
        return f"<p>({escape(cat.t('trend.none'))})</p>"
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def hour_chart(t: Trend, cat: Catalogue | None = None) -> str:
    """24 bars of p95 jitter per hour of day; the busy hour in red."""
    from netcheck.reports.svg import AMBER, BLUE, MUTED, RED, esc, nice_ticks

    values = [h.jitter_p95_ms for h in t.hours]
    ticks = nice_ticks(max([v for v in values if v is not None] + [1.0]) * 1.1)
    w, h, left, base, top = 720, 220, 48, 190, 14
    slot = (w - left - 10) / 24
    cat = cat or Catalogue("en")
    caption = cat.t("trend.chart_caption")
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" '
             f'role="img" aria-label="{esc(caption)}" font-size="11">']
    for tick in ticks:
        y = base - (base - top) * tick / ticks[-1]
        parts.append(f'<line x1="{left}" x2="{w - 10}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="#dde1e6"/><text x="{left - 4}" y="{y + 4:.1f}" '
                     f'text-anchor="end" fill="{MUTED}">{esc(cat.param_qty(tick, ""))}</text>')
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
    parts.append(f'<text x="{left}" y="{h - 2}" fill="{MUTED}">{esc(caption)}</text></svg>')
    return "".join(parts)
