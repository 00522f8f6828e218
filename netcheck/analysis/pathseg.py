"""Where on the path does it go wrong? Per-hop samples -> per-segment shares. Pure, no I/O.

The path from the measuring computer to a provider target is cut into four segments,
each with a different party responsible for it:

- ``lan``: this computer -> its default gateway (the site's LAN: cabling, switches, Wi-Fi);
- ``site_edge``: gateway -> the ISP's first router (the site router and its uplink: its
  load, queueing, QoS, the access line's first link);
- ``isp``: the ISP's first router -> the last hop before the provider;
- ``provider``: that hop -> the target (the provider's network and servers).

Each hop's round-trip time, jitter and loss come from probes that the hop answered with
an ICMP error (traceroute). A router answers those on its slow path and limits the rate
at which it sends them (Linux: ``net.ipv4.icmp_ratelimit``, 1 per second with a burst of
6 per destination; most vendors similar). So a hop's own figures overstate what happens to
traffic *through* it. The rule every traceroute reader applies (and that we apply): loss
or delay at a hop only counts when every later hop shows it too. Formally, the
*persistent* value of a metric at hop i is the minimum of that metric over hop i and all
later answering hops; a segment's share is the persistent value at its far end minus the
one at its near end (never negative). What a hop shows above its persistent value is
local to it: for loss, ICMP rate limiting / control-plane policing, not packet loss.
"""

from __future__ import annotations

import enum
import ipaddress
import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from netcheck.analysis.stats import percentile as sorted_percentile

__all__ = ["FULL_ROUNDS", "HopSamples", "Point", "Segment", "hop_summary", "is_site_local", "points",
           "probes_per_hop", "segments"]


class Segment(enum.StrEnum):
    """The four parts of a path, in path order."""

    LAN = "lan"
    SITE_EDGE = "site_edge"
    ISP = "isp"
    PROVIDER = "provider"


@dataclass(frozen=True)
class HopSamples:
    """What one TTL returned: the address that answered most, one RTT per probe (None =
    no answer)."""

    ttl: int
    address: str | None
    rtts_ms: tuple[float | None, ...]


@dataclass(frozen=True)
class Point:
    """A place on the path with persistent metrics: the origin (ttl 0) or an answering hop."""

    ttl: int
    address: str | None
    loss_pct: float
    rtt_ms: float
    jitter_ms: float
    sent: int = 0  # probes and answers of the hop the persistent loss was taken from
    received: int = 0


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def hop_summary(hop: HopSamples) -> dict[str, float | int | None]:
    """Loss (% of probes without answer), RTT percentiles (type-7, :mod:`netcheck.analysis.stats`)
    and jitter = mean |RTT(k) - RTT(k-1)| over consecutive answered probes (the |D| of
    RFC 3550 section 6.4.1, unsmoothed; probes are paced, so this is jitter between
    samples ``interval`` apart, not packet-to-packet jitter of a 20 ms stream)."""
    rtts = sorted(r for r in hop.rtts_ms if r is not None)
    answered = [r for r in hop.rtts_ms if r is not None]
    sent = len(hop.rtts_ms)
    diffs = [abs(b - a) for a, b in pairwise(answered)]
    return {
        "sent": sent,
        "received": len(rtts),
        "loss_pct": round(100.0 * (sent - len(rtts)) / sent, 3) if sent else None,
        "rtt_min_ms": rtts[0] if rtts else None,
        "rtt_median_ms": _round(sorted_percentile(rtts, 0.5)) if rtts else None,
        "rtt_p95_ms": _round(sorted_percentile(rtts, 0.95)) if rtts else None,
        "rtt_max_ms": rtts[-1] if rtts else None,
        "jitter_ms": _round(sum(diffs) / len(diffs)) if diffs else None,
    }


def points(hops: Sequence[HopSamples]) -> list[Point]:
    """The origin plus every answering hop, each with its *persistent* loss, median RTT and
    jitter (minimum over itself and every later answering hop)."""
    answering = [h for h in sorted(hops, key=lambda h: h.ttl) if any(r is not None for r in h.rtts_ms)]
    raw = [hop_summary(h) for h in answering]
    out: list[Point] = []
    best = {"loss_pct": float("inf"), "rtt_median_ms": float("inf"), "jitter_ms": float("inf")}
    counts = (0, 0)
    for hop, s in zip(reversed(answering), reversed(raw), strict=True):
        if float(s["loss_pct"] or 0.0) < best["loss_pct"]:
            counts = (int(s["sent"] or 0), int(s["received"] or 0))
        for key in best:
            value = s[key]
            if value is not None:  # one answer has no jitter: it neither raises nor lowers
                best[key] = min(best[key], float(value))
        jitter = best["jitter_ms"] if best["jitter_ms"] != float("inf") else 0.0
        out.append(Point(hop.ttl, hop.address, best["loss_pct"], best["rtt_median_ms"], jitter, *counts))
    out.append(Point(0, None, 0.0, 0.0, 0.0))
    return list(reversed(out))


_SITE_NETS = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "fc00::/7", "fe80::/10")
)


def is_site_local(address: str | None) -> bool:
    """RFC 1918 / RFC 3927 / RFC 4193 / link-local: an address of the customer's own site.
    (Not ``ipaddress.is_private``: that includes 100.64/10 carrier-grade NAT, which is the
    ISP's, and 198.18/15.)"""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in _SITE_NETS if net.version == ip.version)


def _in_any(address: str | None, nets: Sequence[str]) -> bool:
    if not address or not nets:
        return False
    ip = ipaddress.ip_address(address)
    networks = [ipaddress.ip_network(n, strict=False) for n in nets]
    return any(ip in net for net in networks if net.version == ip.version)


def boundaries(pts: Sequence[Point], *, gateway: str | None, target: str, reached: bool,
               provider_nets: Sequence[str] = ()) -> dict[Segment, tuple[int, int] | None]:
    """Index pairs into ``pts`` (0 = origin) where each segment starts and ends; None when
    the path gives no such stretch (e.g. the target never answered: no provider segment)."""
    n = len(pts) - 1  # index of the last answering point
    if n < 1:
        return dict.fromkeys(Segment)
    gw = next((i for i in range(1, n + 1) if gateway and pts[i].address == gateway), None)
    if gw is None and pts[1].ttl == 1:
        gw = 1  # the first hop of a host is its default gateway, whatever its address
    edge = next((i for i in range((gw or 0) + 1, n + 1) if not is_site_local(pts[i].address)), None)
    end = n if reached and pts[n].address == target else None
    if end is not None and gw is not None and end <= gw:  # the target is the gateway: all LAN
        return {Segment.LAN: (0, end), Segment.SITE_EDGE: None, Segment.ISP: None, Segment.PROVIDER: None}
    first_prov = next((i for i in range(1, n + 1) if _in_any(pts[i].address, provider_nets)), end)
    prov_start = max(first_prov - 1, edge or gw or 0) if first_prov is not None else None
    out: dict[Segment, tuple[int, int] | None] = {Segment.LAN: (0, gw) if gw is not None else None}
    out[Segment.SITE_EDGE] = (gw or 0, edge) if edge is not None else None
    isp_end = prov_start if prov_start is not None else n
    out[Segment.ISP] = (edge, isp_end) if edge is not None and isp_end >= edge else None
    out[Segment.PROVIDER] = (prov_start, end) if prov_start is not None and end is not None else None
    return out


def segments(hops: Sequence[HopSamples], *, gateway: str | None, target: str, reached: bool,
             provider_nets: Sequence[str] = ()) -> list[dict[str, object]]:
    """Per segment: its end hops (ttl, address) and its share of round-trip delay (ms),
    jitter (ms) and loss (percentage points), or ``measured: False`` when the path does
    not show that segment."""
    pts = points(hops)
    bounds = boundaries(pts, gateway=gateway, target=target, reached=reached, provider_nets=provider_nets)
    out: list[dict[str, object]] = []
    for seg, span in bounds.items():
        if span is None:
            out.append({"segment": seg.value, "measured": False})
            continue
        a, b = pts[span[0]], pts[span[1]]
        out.append({
            "segment": seg.value, "measured": True,
            "from_ttl": a.ttl, "from_address": a.address, "to_ttl": b.ttl, "to_address": b.address,
            "delay_ms": round(max(0.0, b.rtt_ms - a.rtt_ms), 3),
            "jitter_ms": round(max(0.0, b.jitter_ms - a.jitter_ms), 3),
            "loss_pct": round(max(0.0, b.loss_pct - a.loss_pct), 3),
            "loss_z": _loss_z(a, b),
        })
    return out


def _loss_z(a: Point, b: Point) -> float | None:
    """How sure the loss increase from ``a`` to ``b`` is not sampling noise: the
    two-proportion z statistic (pooled variance) of lost/sent at the two ends; the origin
    (``sent`` 0) counts as lossless with as many probes as ``b``. None without probes."""
    n2, lost2 = b.sent, b.sent - b.received
    n1, lost1 = (a.sent, a.sent - a.received) if a.sent else (n2, 0)
    if not n1 or not n2:
        return None
    pooled = (lost1 + lost2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0
    return round((lost2 / n2 - lost1 / n1) / se, 3)


#: Probes per hop below which a trace is a sketch: with 10, a segment must add 30 % loss
#: before it is told from noise (``evaluate.faultloc.smallest_told_loss_pct``); with 5, 60 %.
FULL_ROUNDS = 10


def probes_per_hop(hops: object) -> int | None:
    """The fewest probes any hop of a trace was sent (the ``sent`` of
    :func:`hop_summary`): what a trace its deadline cut short really had, not the rounds
    planned. None without hop summaries."""
    sent = [h["sent"] for h in hops if isinstance(h, dict) and isinstance(h.get("sent"), int)] \
        if isinstance(hops, list) else []
    return min(sent) if sent else None
