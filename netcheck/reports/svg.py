"""Hand-written inline SVG charts for the HTML/PDF report: no JavaScript, no external files.

Why by hand: the report must be one self-contained file that WeasyPrint (its own SVG
renderer) and every browser draw the same way; chart libraries either pull remote JS
(pygal) or weigh ~80 MB (matplotlib). Every piece of text that enters a chart passes
:func:`esc`, because target names and labels may come from the network.

Each function takes plain numbers and already-translated labels and returns an ``<svg>``
string; callers decide whether a chart is shown (only when its data is in the document).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

Fmt = Callable[[float], str]

GREEN, RED, AMBER, GREY, BLUE, INK, MUTED = (
    "#1a7f37",
    "#c62828",
    "#b26a00",
    "#8a8f98",
    "#1f5fbf",
    "#1d2330",
    "#5b6270",
)
STATE_COLOURS = {"open": GREEN, "pass": GREEN, "not_measured": GREY, "skipped": GREY}
W, H = 720, 200
LEFT, RIGHT, TOP, BOTTOM = 56, 70, 26, 38


def esc(text: object) -> str:
    """Escape for SVG text and attribute values (quotes included)."""
    return escape(str(text), quote=True)


def _open(width: int, height: int, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{esc(label)}" class="chart" '
        f'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">'
    )


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """0 and round steps (1, 2, 5 x 10^n) up to at least ``top``."""
    if top <= 0 or not math.isfinite(top):
        top = 1.0
    raw = top / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    n = math.ceil(top / step - 1e-9)
    return [round(i * step, 10) for i in range(n + 1)]


@dataclass(frozen=True)
class Frame:
    """Plot area mapping data (x from 0..xmax, y from 0..ymax) to pixels."""

    xmax: float
    ymax: float
    width: int = W
    height: int = H

    def x(self, value: float) -> float:
        span = self.width - LEFT - RIGHT
        return round(LEFT + span * (value / self.xmax if self.xmax else 0), 1)

    def y(self, value: float) -> float:
        span = self.height - TOP - BOTTOM
        return round(self.height - BOTTOM - span * (value / self.ymax if self.ymax else 0), 1)


def _y_axis(frame: Frame, ticks: list[float], fmt: Fmt, unit: str) -> list[str]:
    out = []
    for tick in ticks:
        y = frame.y(tick)
        out.append(
            f'<line x1="{LEFT}" x2="{frame.width - RIGHT}" y1="{y}" y2="{y}" '
            f'stroke="#e3e6ea" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{LEFT - 6}" y="{y + 4}" text-anchor="end" fill="{MUTED}">'
            f"{esc(fmt(tick))}</text>"
        )
    out.append(f'<text x="{LEFT - 6}" y="12" text-anchor="end" fill="{MUTED}">{esc(unit)}</text>')
    return out


def _x_axis(frame: Frame, ticks: list[float], fmt: Fmt, unit: str) -> list[str]:
    base = frame.height - BOTTOM
    out = [
        f'<line x1="{LEFT}" x2="{frame.width - RIGHT}" y1="{base}" y2="{base}" stroke="{MUTED}"/>'
    ]
    for tick in ticks:
        if tick > frame.xmax + 1e-9:
            break
        x = frame.x(tick)
        out.append(
            f'<text x="{x}" y="{base + 16}" text-anchor="middle" fill="{MUTED}">'
            f"{esc(fmt(tick))}</text>"
        )
    out.append(
        f'<text x="{frame.width - RIGHT + 6}" y="{base + 4}" fill="{MUTED}">{esc(unit)}</text>'
    )
    return out


def _limit_line(frame: Frame, limit: float, label: str) -> str:
    y = frame.y(limit)
    return (
        f'<line x1="{LEFT}" x2="{frame.width - RIGHT}" y1="{y}" y2="{y}" stroke="{RED}" '
        f'stroke-width="1.5" stroke-dasharray="6 4"/>'
        f'<text x="{frame.width - RIGHT + 6}" y="{y + 4}" fill="{RED}">{esc(label)}</text>'
    )


def time_series(
    samples: Sequence[float | None],
    interval_s: float,
    *,
    label: str,
    unit: str,
    x_unit: str,
    fmt: Fmt,
    limit: float | None = None,
    limit_label: str = "",
    colour: str = BLUE,
    mark: tuple[float, float, str] | None = None,
    off_scale: str = "",
) -> str:
    """Samples over time; ``None`` (a lost packet) is a red tick on the time axis.

    The y scale fits the data (a 0.02 ms jitter series is not drawn on a 30 ms axis): the
    limit line is drawn when it lies within 3x the data's maximum, else it is named in the
    corner (``off_scale``, e.g. "limit ≤ 20 ms, above the scale"). ``mark`` shades a time
    span (start s, end s, label), e.g. the worst 10 s loss window."""
    values = [v for v in samples if v is not None]
    peak = max([*values, 0.0])
    show_limit = limit is not None and ((peak == 0 and limit <= 1.0) or limit <= 3 * peak)
    top = max(peak, limit if show_limit and limit is not None else 0.0) * 1.15 or 1.0
    yt = nice_ticks(top)
    frame = Frame(xmax=max(interval_s * max(len(samples) - 1, 1), 1e-9), ymax=yt[-1])
    parts = [
        _open(W, H, label),
        *_y_axis(frame, yt, fmt, unit),
        *_x_axis(frame, nice_ticks(frame.xmax, 6), fmt, x_unit),
    ]
    if mark is not None:
        parts.append(_band(frame, *mark))
    parts += _trace(samples, interval_s, frame, colour)
    base = frame.height - BOTTOM
    parts += [
        f'<rect x="{frame.x(i * interval_s) - 1}" y="{base - 8}" width="2.5" height="8" '
        f'fill="{RED}"/>'
        for i, v in enumerate(samples)
        if v is None
    ]
    if limit is not None and show_limit:
        parts.append(_limit_line(frame, limit, limit_label))
    elif limit is not None and off_scale:
        parts.append(f'<text x="{frame.width - RIGHT}" y="{TOP - 8}" text-anchor="end" fill="{RED}">'
                     f"{esc(off_scale)}</text>")
    return "".join(parts) + "</svg>"


def _band(frame: Frame, start: float, end: float, text: str) -> str:
    """A shaded time span with its label above the plot (the worst window)."""
    x0, x1 = frame.x(max(0.0, start)), frame.x(min(frame.xmax, end))
    top, base = frame.y(frame.ymax), frame.height - BOTTOM
    return (f'<rect x="{x0}" y="{top}" width="{round(max(x1 - x0, 1.0), 1)}" height="{round(base - top, 1)}" '
            f'fill="{RED}" fill-opacity="0.10" stroke="{RED}" stroke-opacity="0.5" stroke-dasharray="3 3"/>'
            f'<text x="{x0}" y="{top - 4}" fill="{RED}">{esc(text)}</text>')


def _trace(
    samples: Sequence[float | None], interval_s: float, frame: Frame, colour: str
) -> list[str]:
    """A polyline per run of received samples, and dots when there are few enough to see.

    A long call (1,500 packets) has more points than the chart has pixels: consecutive
    points that fall on the same pixel column collapse to that column's lowest and highest
    value, so peaks stay visible and the typesetter draws a tenth of the points."""
    out, run = [], []
    column: tuple[float, float, float] | None = None  # x pixel, min y, max y of the open column
    for i, v in enumerate([*samples, None]):
        if v is not None:
            x, y = frame.x(i * interval_s), frame.y(v)
            if column is not None and round(column[0]) == round(x):
                column = (column[0], min(column[1], y), max(column[2], y))
                continue
            run += _column_points(column)
            column = (x, y, y)
            continue
        run += _column_points(column)
        column = None
        if run:
            out.append(
                f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" '
                f'stroke-width="1.2" stroke-opacity="0.55"/>'
            )
            run = []
    if len(samples) <= 400:
        out += [
            f'<circle cx="{frame.x(i * interval_s)}" cy="{frame.y(v)}" r="2" fill="{colour}"/>'
            for i, v in enumerate(samples)
            if v is not None
        ]
    return out


def _column_points(column: tuple[float, float, float] | None) -> list[str]:
    if column is None:
        return []
    x, low, high = column
    return [f"{x},{low}"] if low == high else [f"{x},{low}", f"{x},{high}"]


def window_bars(
    windows: Sequence[float],
    window_s: float,
    *,
    label: str,
    unit: str,
    fmt: Fmt,
    limit: float | None,
    limit_label: str,
    fails: Callable[[float], bool],
) -> str:
    """One bar per window (e.g. loss % per 10 s); failing windows red, the limit dashed."""
    yt = nice_ticks(max([*windows, (limit or 0) * 1.5, 1.0]) * 1.1)
    frame = Frame(xmax=float(len(windows)), ymax=yt[-1])
    parts = [_open(W, H, label), *_y_axis(frame, yt, fmt, unit)]
    base = frame.height - BOTTOM
    parts.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{base}" y2="{base}" stroke="{MUTED}"/>')
    slot = (W - LEFT - RIGHT) / max(len(windows), 1)
    for i, value in enumerate(windows):
        x0, top = frame.x(i) + slot * 0.15, frame.y(value)
        colour = RED if fails(value) else GREEN
        parts.append(
            f'<rect x="{round(x0, 1)}" y="{top}" width="{round(slot * 0.7, 1)}" '
            f'height="{round(max(base - top, 0), 1)}" fill="{colour}"/>'
        )
        mid = round(x0 + slot * 0.35, 1)
        parts.append(
            f'<text x="{mid}" y="{top - 4}" text-anchor="middle" fill="{INK}">'
            f"{esc(fmt(value))} {esc(unit)}</text>"
        )
        span = f"{fmt(i * window_s)}\u2013{fmt((i + 1) * window_s)} s"
        parts.append(
            f'<text x="{mid}" y="{base + 16}" text-anchor="middle" fill="{MUTED}">'
            f"{esc(span)}</text>"
        )
    if limit is not None:
        parts.append(_limit_line(frame, limit, limit_label))
    return "".join(parts) + "</svg>"


@dataclass(frozen=True)
class Cell:
    """One port (range) in the matrix: ``state`` picks the colour, ``text`` is shown."""

    ports: str
    state: str
    text: str


def port_matrix(
    rows: Sequence[tuple[str, Sequence[Cell]]], *, label: str, legend: Sequence[tuple[str, str]]
) -> str:
    """Destinations (rows) x port ranges (cells), coloured by state; ``legend`` is
    (state, translated word) pairs."""
    per_line, head_w, cell_h = 4, 150, 34
    cell_w = (W - head_w - (per_line - 1) * 6) // per_line  # four cells fit the chart's width
    lines = [
        (name, cells[i : i + per_line])
        for name, cells in rows
        for i in range(0, max(len(cells), 1), per_line)
    ]
    height = 30 + len(lines) * (cell_h + 6) + 10
    parts = [_open(W, height, label), *_legend(legend, 4)]
    y = 30
    last = None
    for name, cells in lines:
        if name != last:
            parts.append(
                f'<text x="0" y="{y + 21}" fill="{INK}" font-weight="bold">'
                f"{esc(_clip(name, 20))}</text>"
            )
            last = name
        for j, cell in enumerate(cells):
            parts.append(_cell(head_w + j * (cell_w + 6), y, cell_w, cell_h, cell))
        y += cell_h + 6
    return "".join(parts) + "</svg>"


def _cell(x: float, y: float, w: int, h: int, cell: Cell) -> str:
    colour = STATE_COLOURS.get(cell.state, RED)
    return (
        f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="5" fill="{colour}" '
        f'fill-opacity="0.14" stroke="{colour}"/>'
        f'<text x="{x + 8}" y="{y + 14}" fill="{INK}" font-weight="bold">'
        f"{esc(_clip(cell.ports, 20))}</text>"
        f'<text x="{x + 8}" y="{y + 28}" fill="{colour}" font-size="11">'
        f"{esc(_clip(cell.text, 22))}</text>"
    )


def _legend(items: Sequence[tuple[str, str]], y: float) -> list[str]:
    out, x = [], 0.0
    for state, word in items:
        colour = STATE_COLOURS.get(state, RED)
        out.append(
            f'<rect x="{x}" y="{y}" width="12" height="12" rx="2" fill="{colour}" '
            f'fill-opacity="0.3" stroke="{colour}"/>'
            f'<text x="{x + 17}" y="{y + 10}" fill="{MUTED}">{esc(word)}</text>'
        )
        x += 30 + 7.5 * len(word)
    return out


def hbars(
    items: Sequence[tuple[str, float, float]],
    *,
    label: str,
    unit: str,
    fmt: Fmt,
    used_word: str,
    total_word: str,
) -> str:
    """Horizontal used-of-total bars (PoE watts per switch, calls supported vs needed):
    red when ``used`` exceeds ``total``, amber above 80 %."""
    row_h, head_w = 34, 170
    height = 30 + len(items) * row_h
    span = W - head_w - 150
    parts = [_open(W, height, label),
             f'<text x="{head_w + span + 8}" y="14" fill="{MUTED}" font-size="11">'
             f"{esc(used_word)} / {esc(total_word)}</text>"]
    for i, (name, used, total) in enumerate(items):
        y = 22 + i * row_h
        share = used / total if total > 0 else 1.0
        colour = RED if share > 1 else AMBER if share > 0.8 else GREEN
        parts.append(f'<text x="0" y="{y + 16}" fill="{INK}">{esc(_clip(name, 24))}</text>')
        parts.append(
            f'<rect x="{head_w}" y="{y + 3}" width="{span}" height="18" fill="#eef0f3" '
            f'stroke="{GREY}"/>'
        )
        parts.append(
            f'<rect x="{head_w}" y="{y + 3}" width="{round(span * min(share, 1.0), 1)}" '
            f'height="18" fill="{colour}"/>'
        )
        text = f"{fmt(used)} / {fmt(total)} {unit}".strip()
        parts.append(
            f'<text x="{head_w + span + 8}" y="{y + 16}" fill="{INK}" font-size="11">'
            f"{esc(text)}</text>"
        )
    return "".join(parts) + "</svg>"


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
