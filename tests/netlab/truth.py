"""Read the impairment bridge's ground-truth log and compute what really happened.

Each log line (JSON) is one copy of one frame seen by the bridge::

    {"dir": "up", "seq": 12, "t_arr_ns": ..., "decision": "forward", "delay_ns": ...,
     "t_tx_ns": ..., "len": 98, "proto": 17, "src": ..., "dst": ..., "sport": ...,
     "dport": ..., "head": "<first 16 bytes of the UDP payload, hex>", "hash": ...}

``decision`` is ``forward`` (the original copy), ``dup`` (an extra copy), ``drop`` (with
``why``: loss / ge / queue), ``txerror`` or ``stopped`` (still queued when the bridge
stopped). Non-IPv4 frames (ARP) carry no ``proto``. Times are CLOCK_MONOTONIC ns, the
clock every namespace shares, so they compare directly with a probe's
``time.monotonic_ns()``.

Definitions used below:
- one-way delay (OWD) of a frame = ``t_tx_ns - t_arr_ns`` of its original copy: what the
  link added, including the bridge's own scheduling error;
- loss = frames whose original copy was not transmitted / frames that arrived;
- jitter = RFC 3550 section 6.4.1 interarrival jitter, J += (|D| - J)/16 with D the change
  in transit time, over delivered frames in transmit order (how a receiver sees them);
- reordered = delivered frames transmitted after a frame that arrived later (RFC 4737's
  "reordered" notion, relative to the highest sequence seen so far).
"""

from __future__ import annotations

import itertools
import json
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Record = dict[str, Any]
DELIVERED = ("forward", "dup")


def load(path: Path) -> list[Record]:
    """All records of a truth log (a partially written last line is ignored)."""
    out: list[Record] = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def select(
    records: Iterable[Record],
    *,
    direction: str | None = None,
    pred: Callable[[Record], bool] | None = None,
    **fields: Any,
) -> list[Record]:
    """Records matching ``direction`` and every ``field=value`` (e.g. proto=17, dport=5004)."""
    out = []
    for r in records:
        if direction is not None and r.get("dir") != direction:
            continue
        if any(r.get(k) != v for k, v in fields.items()):
            continue
        if pred is None or pred(r):
            out.append(r)
    return out


def originals(records: Iterable[Record]) -> list[Record]:
    """One record per arriving frame (dup copies removed), in arrival order."""
    return sorted((r for r in records if r["decision"] != "dup"), key=lambda r: r["t_arr_ns"])


def owd_s(r: Record) -> float | None:
    """Actual one-way delay the link added to a frame, or None if it was not sent."""
    return None if r.get("t_tx_ns") is None else (r["t_tx_ns"] - r["t_arr_ns"]) / 1e9


def rfc3550_jitter(transits_s: Sequence[float]) -> float | None:
    """RFC 3550 6.4.1 interarrival jitter (s) of transit times in reception order."""
    series = rfc3550_jitter_series(transits_s)
    return series[-1] if series else None


def rfc3550_jitter_series(transits_s: Sequence[float]) -> list[float]:
    """The running RFC 3550 6.4.1 estimate (s), one value per arrival after the first."""
    out: list[float] = []
    j = 0.0
    for prev, cur in itertools.pairwise(transits_s):
        j += (abs(cur - prev) - j) / 16
        out.append(j)
    return out


def p95(values: Sequence[float]) -> float | None:
    """95th percentile, linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    s = sorted(values)
    h = (len(s) - 1) * 0.95
    lo = int(h)
    return s[lo] + (h - lo) * (s[min(lo + 1, len(s) - 1)] - s[lo])


def count_reordered(seqs_in_tx_order: Sequence[int]) -> int:
    """Frames sent after one with a higher arrival sequence number."""
    highest, n = -1, 0
    for s in seqs_in_tx_order:
        if s < highest:
            n += 1
        highest = max(highest, s)
    return n


@dataclass(frozen=True)
class TruthStats:
    """What the link did to a set of frames. Times in ms; None when there is no data."""

    sent: int
    delivered: int
    lost: int
    loss_pct: float | None
    duplicates: int
    reordered: int
    owd_mean_ms: float | None
    owd_median_ms: float | None
    owd_min_ms: float | None
    owd_max_ms: float | None
    owd_stdev_ms: float | None
    jitter_ms: float | None
    sched_err_mean_us: float | None
    sched_err_max_us: float | None
    jitter_p95_ms: float | None = None  # p95 of the running RFC 3550 estimate over the call


def _ms(x: float | None) -> float | None:
    return None if x is None else x * 1e3


def stats(records: Iterable[Record]) -> TruthStats:
    """Loss, OWD, RFC 3550 jitter, duplicates, reordering and the bridge's own scheduling
    error (``t_tx - (t_arr + delay)``) for the selected records of *one* direction."""
    recs = list(records)
    orig = originals(recs)
    sent_orig = [r for r in orig if r.get("t_tx_ns") is not None]
    by_tx = sorted(sent_orig, key=lambda r: r["t_tx_ns"])
    owds = [owd_s(r) for r in sent_orig]
    owd = [x for x in owds if x is not None]
    errs = [(r["t_tx_ns"] - r["t_arr_ns"] - r["delay_ns"]) / 1e3 for r in sent_orig]
    series = rfc3550_jitter_series([owd_s(r) or 0.0 for r in by_tx])
    jit = series[-1] if series else None
    return TruthStats(
        sent=len(orig),
        delivered=len(sent_orig),
        lost=len(orig) - len(sent_orig),
        loss_pct=100 * (len(orig) - len(sent_orig)) / len(orig) if orig else None,
        duplicates=sum(1 for r in recs if r["decision"] == "dup" and r.get("t_tx_ns")),
        reordered=count_reordered([r["seq"] for r in by_tx]),
        owd_mean_ms=_ms(statistics.fmean(owd)) if owd else None,
        owd_median_ms=_ms(statistics.median(owd)) if owd else None,
        owd_min_ms=_ms(min(owd)) if owd else None,
        owd_max_ms=_ms(max(owd)) if owd else None,
        owd_stdev_ms=_ms(statistics.stdev(owd)) if len(owd) > 1 else None,
        jitter_ms=_ms(jit),
        sched_err_mean_us=statistics.fmean(errs) if errs else None,
        sched_err_max_us=max(errs) if errs else None,
        jitter_p95_ms=_ms(p95(series)),
    )


def icmp_echo_truth(
    records: Iterable[Record], icmp_id: int | None = None
) -> dict[int, float | None]:
    """Per ICMP echo sequence number: the link's share of the round trip (request OWD up
    + reply OWD down, seconds), or None when either was lost. Compare with ping's RTT
    minus the clean-link base RTT."""
    recs = list(records)
    req = {
        r["icmp_seq"]: r
        for r in originals(select(recs, direction="up", proto=1, icmp_type=8))
        if icmp_id is None or r["icmp_id"] == icmp_id
    }
    rep = {
        r["icmp_seq"]: r
        for r in originals(select(recs, direction="down", proto=1, icmp_type=0))
        if icmp_id is None or r["icmp_id"] == icmp_id
    }
    out: dict[int, float | None] = {}
    for seq, r in req.items():
        up, back = owd_s(r), owd_s(rep[seq]) if seq in rep else None
        out[seq] = None if up is None or back is None else up + back
    return out


def head_uint(r: Record, offset: int, size: int) -> int | None:
    """Big-endian unsigned integer at ``offset`` of the logged UDP payload head (a probe's
    sequence number), or None when the head is shorter."""
    head = bytes.fromhex(r.get("head", ""))
    if len(head) < offset + size:
        return None
    return int.from_bytes(head[offset : offset + size], "big")
