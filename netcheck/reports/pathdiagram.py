"""The path diagram: this computer -> gateway -> ISP -> provider, the segment at fault in red.

One small inline SVG per per-hop trace (``path_hops`` measurement) in the document. It
renders what the result holds and recomputes nothing: the segment shares come from the
measurement (:mod:`netcheck.analysis.pathseg`), the segment at fault from the fault-location check
(``faultloc@<target>``, its ``measured`` value). Every text passes :func:`svg.esc` (hop
addresses come from the network). Rendered by the partial ``_path_diagram.html.j2``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from netcheck.i18n import Catalogue
from netcheck.reports import svg
from netcheck.result import Measurement, RunResult

SEGMENTS = ("lan", "site_edge", "isp", "provider")
NODES = ("computer", "gateway", "isp", "border", "target")
W, H, X0, X1, Y = 720, 132, 70, 650, 66


@dataclass(frozen=True)
class Diagram:
    title: str
    svg: str
    caption: str
    fault: str | None


def diagrams(result: RunResult, cat: Catalogue) -> list[Diagram]:
    """One diagram per successful per-hop trace, in document order."""
    out = []
    for m in result.measurements:
        segs = m.values.get("segments") if m.probe == "path_hops" and m.ok else None
        if isinstance(segs, list) and any(s.get("measured") for s in segs):
            fault = _fault(result, m)
            out.append(Diagram(title=cat.t("faultloc.title", target=m.target),
                               svg=render(segs, fault, cat), fault=fault,
                               caption=cat.t("faultloc.caption", method=m.method)))
    return out


def _fault(result: RunResult, m: Measurement) -> str | None:
    check = next((c for c in result.checks if c.id.startswith("faultloc@") and m.id in c.evidence), None)
    seg = check.measured if check is not None else None
    return seg if isinstance(seg, str) and seg in SEGMENTS else None


def render(segs: list[dict[str, Any]], fault: str | None, cat: Catalogue) -> str:
    """The SVG: five nodes on a line, four segments between them with their shares."""
    by_name = {s.get("segment"): s for s in segs}
    step = (X1 - X0) / 4
    xs = [X0 + i * step for i in range(5)]
    label = cat.t("faultloc.title", target="")
    parts = [svg._open(W, H, label)]
    for i, name in enumerate(SEGMENTS):
        parts.append(_segment(by_name.get(name, {}), name, xs[i], xs[i + 1], name == fault, cat))
    addresses = [None] + [by_name.get(n, {}).get("to_address") for n in SEGMENTS]
    for x, node, address in zip(xs, NODES, addresses, strict=True):
        parts.append(_node(x, cat.t(f"faultloc.node.{node}"), address))
    parts.append("</svg>")
    return "".join(parts)


def _segment(seg: dict[str, Any], name: str, x1: float, x2: float, at_fault: bool, cat: Catalogue) -> str:
    """The segment's line, and above it three short lines: its name, delay + jitter, loss."""
    measured = bool(seg.get("measured"))
    colour = svg.RED if at_fault else (svg.GREEN if measured else svg.GREY)
    width, dash = (6, "") if at_fault else (3, "" if measured else ' stroke-dasharray="6 4"')
    mid = (x1 + x2) / 2
    title = cat.t(f"faultloc.segment.{name}") + (" \u26a0" if at_fault else "")
    if measured:
        lines = [cat.t("faultloc.shares", delay=cat.num(seg.get("delay_ms")), jitter=cat.num(seg.get("jitter_ms"))),
                 cat.t("faultloc.loss", loss=cat.num(seg.get("loss_pct")))]
    else:
        lines = [cat.t("faultloc.unmeasured"), ""]
    weight = ' font-weight="bold"' if at_fault else ""
    small = f'text-anchor="middle" fill="{svg.MUTED}" font-size="10"'
    return (f'<line x1="{x1:.1f}" y1="{Y}" x2="{x2:.1f}" y2="{Y}" stroke="{colour}" stroke-width="{width}"{dash}/>'
            f'<text x="{mid:.1f}" y="{Y - 40}" text-anchor="middle" fill="{colour}"{weight}>{svg.esc(title)}</text>'
            f'<text x="{mid:.1f}" y="{Y - 26}" {small}>{svg.esc(lines[0])}</text>'
            f'<text x="{mid:.1f}" y="{Y - 13}" {small}>{svg.esc(lines[1])}</text>')


def _node(x: float, name: str, address: object) -> str:
    addr = "" if address is None else str(address)
    return (f'<circle cx="{x:.1f}" cy="{Y}" r="8" fill="#ffffff" stroke="{svg.INK}" stroke-width="2"/>'
            f'<text x="{x:.1f}" y="{Y + 24}" text-anchor="middle" fill="{svg.INK}" font-size="11">'
            f"{svg.esc(name)}</text>"
            f'<text x="{x:.1f}" y="{Y + 38}" text-anchor="middle" fill="{svg.MUTED}" font-size="10">'
            f"{svg.esc(addr)}</text>")
