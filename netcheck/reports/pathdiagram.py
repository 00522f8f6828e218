"""The path diagram: this computer -> gateway -> ISP -> provider, the segment at fault in red.

One small inline SVG per per-hop trace (``path_hops`` measurement) in the document. It
renders what the result holds and recomputes nothing: the segment shares come from the
measurement (:mod:`netcheck.analysis.pathseg`), the segment at fault from the fault-location check
(``faultloc@<target>``, its ``measured`` value). Every word comes from the catalogue by key:
the target's role from the check's typed ``Role`` param (else the measurement id
``path_hops:<role>``), the method from ``method.<name>``, the confidence from
``confidence.<level>``; the probe's English run title is never shown. Every text passes
:func:`svg.esc` (hop addresses come from the network).

Where it goes (:mod:`netcheck.reports.html`): with the fault-location finding it explains
(only when a segment is at fault: a clean path has nothing to say on the report's first
pages); every other diagram in the optional appendix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from netcheck.i18n import Catalogue
from netcheck.reports import svg
from netcheck.result import Check, Measurement, Role, RunResult

SEGMENTS = ("lan", "site_edge", "isp", "provider")
NODES = ("computer", "gateway", "isp", "border")  # then the target, named by its role
W, H, X0, X1, Y = 720, 104, 70, 650, 56
FAULT_BAND = "#fdecea"  # behind the segment at fault, so it stands out in grey print too


@dataclass(frozen=True)
class Diagram:
    title: str
    svg: str
    caption: str
    fault: str | None
    check_id: str | None = None  # the fault-location check it illustrates


def diagrams(result: RunResult, cat: Catalogue) -> list[Diagram]:
    """One diagram per successful per-hop trace, in document order."""
    out = []
    for m in result.measurements:
        segs = m.values.get("segments") if m.probe == "path_hops" and m.ok else None
        if isinstance(segs, list) and any(isinstance(s, dict) and s.get("measured") for s in segs):
            check = _check(result, m)
            fault = _fault(check)
            role = _role(m, check, cat)
            out.append(Diagram(title=cat.t("faultloc.title", target=_where(m, check, role, cat)),
                               svg=render(segs, fault, cat, role=role), fault=fault,
                               caption=caption(m, cat), check_id=check.id if check else None))
    return out


def caption(m: Measurement, cat: Catalogue) -> str:
    """How the trace was made (method and confidence in the report's language)."""
    method = cat.t(f"method.{m.method}") if cat.has(f"method.{m.method}") else cat.t("method.path_hops")
    level = f"confidence.{m.confidence}"
    confidence = cat.t(level) if cat.has(level) else cat.t("field.none")
    return cat.t("faultloc.caption", method=method, confidence=confidence)


def _check(result: RunResult, m: Measurement) -> Check | None:
    return next((c for c in result.checks if c.id.startswith("faultloc@") and m.id in c.evidence), None)


def _fault(check: Check | None) -> str | None:
    seg = check.measured if check is not None else None
    return seg if isinstance(seg, str) and seg in SEGMENTS else None


def _role(m: Measurement, check: Check | None, cat: Catalogue) -> str:
    """The target's role in this language: the check's typed ``Role``, else the measurement
    id (``path_hops:handover``); a role without a catalogue entry is shown as named."""
    role = check.params.get("target") if check is not None else None
    name = role.name if isinstance(role, Role) else m.id.split(":", 1)[-1]
    return cat.target(name)


def _where(m: Measurement, check: Check | None, role: str, cat: Catalogue) -> str:
    """"Übergabepunkt (sip.example.net, 203.0.113.20)": role, host name and the address traced."""
    host = check.params.get("host") if check is not None else None
    address = m.values.get("address")
    shown = [str(v) for v in dict.fromkeys((host, address)) if isinstance(v, str) and v]
    return cat.t("where.named", name=role, address=", ".join(shown)) if shown else role


def render(segs: list[dict[str, Any]], fault: str | None, cat: Catalogue, role: str) -> str:
    """The SVG: five nodes on a line, four segments between them with their shares."""
    by_name = {s.get("segment"): s for s in segs}
    step = (X1 - X0) / 4
    xs = [X0 + i * step for i in range(5)]
    label = cat.t("faultloc.section")
    parts = [svg._open(W, H, label)]
    for i, name in enumerate(SEGMENTS):
        parts.append(_segment(by_name.get(name, {}), name, xs[i], xs[i + 1], name == fault, cat))
    addresses = [None] + [by_name.get(n, {}).get("to_address") for n in SEGMENTS]
    names = [*(cat.t(f"faultloc.node.{node}") for node in NODES), role]
    for x, name, address in zip(xs, names, addresses, strict=True):
        parts.append(_node(x, name, address))
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
    band = (f'<rect x="{x1 + 10:.1f}" y="{Y - 52}" width="{x2 - x1 - 20:.1f}" height="60" rx="6" fill="{FAULT_BAND}"/>'
            if at_fault else "")
    small = f'text-anchor="middle" fill="{svg.MUTED}" font-size="10"'
    line = f'<line x1="{x1:.1f}" y1="{Y}" x2="{x2:.1f}" y2="{Y}" stroke="{colour}" stroke-width="{width}"{dash}/>'
    return (f"{band}{line}"
            f'<text x="{mid:.1f}" y="{Y - 38}" text-anchor="middle" fill="{colour}"{weight}>{svg.esc(title)}</text>'
            f'<text x="{mid:.1f}" y="{Y - 24}" {small}>{svg.esc(lines[0])}</text>'
            f'<text x="{mid:.1f}" y="{Y - 11}" {small}>{svg.esc(lines[1])}</text>')


def _node(x: float, name: str, address: object) -> str:
    addr = "" if address is None else str(address)
    return (f'<circle cx="{x:.1f}" cy="{Y}" r="7" fill="#ffffff" stroke="{svg.INK}" stroke-width="2"/>'
            f'<text x="{x:.1f}" y="{Y + 22}" text-anchor="middle" fill="{svg.INK}" font-size="11">'
            f"{svg.esc(name)}</text>"
            f'<text x="{x:.1f}" y="{Y + 36}" text-anchor="middle" fill="{svg.MUTED}" font-size="10">'
            f"{svg.esc(addr)}</text>")
