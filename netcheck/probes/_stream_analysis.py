"""Turn a stream's raw timestamps into the probe's values: pure functions, no I/O.

Three views of one STAMP call (T1 sender send, T2 reflector receive, T3 reflector send,
T4 sender receive; RFC 8762 section 4):

- round trip: RTT = (T4 - T1) - (T3 - T2), the network's share of the round trip with the
  reflector's residence time removed; T1, T4 on our monotonic clock, T2, T3 on the
  reflector's, so no clock synchronisation is needed;
- forward (sender -> reflector): D = T2 - T1; backward: D = T4 - T3. These contain the
  offset between the two clocks: delay *variation* (RFC 3550 jitter, IPDV, PDV) is exact
  either way, one-way *delay* only when the clocks are synchronised (same host, or both
  disciplined to UTC). Otherwise one-way delay is estimated as RTT / 2 and says so.

Loss per direction (RFC 8762 4.2: a stateful reflector numbers its replies): a request that
reached the reflector consumed a reflector sequence number, so every reflector number that
never came back is a *backward* loss and every other missing request a *forward* loss.
Which of several consecutive missing requests was lost which way cannot be told; the
backward losses are assigned to the first of them (counts are exact, positions within one
gap are a convention). A stateless reflector copies our numbers, so all loss would look
backward: per-direction loss needs a stateful reflector (``netcheck responder`` is).

Which figure is judged: each listener hears one direction, so ``loss_pct``, ``jitter_ms``
and ``mos`` take the worse direction; ICMP (no per-direction view) uses the round trip.
``jitter_ms`` is the whole-call statistic :data:`netcheck.analysis.stats.JITTER_STATISTIC` (named in
the ``jitter_statistic`` value); ``loss_worst_window_pct`` the worst *sliding* window, with
its start offset and direction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from netcheck.analysis import emodel
from netcheck.analysis.stats import (
    JITTER_STATISTIC,
    PacketRecord,
    Percentiles,
    StreamStats,
    WindowLoss,
    percentile,
    summarize_stream,
)
from netcheck.probes._stream_sessions import StampReply
from netcheck.result import Value

MAX_SERIES: Final = 1500
_MS: Final = 1_000_000.0


@dataclass(frozen=True)
class StreamConfig:
    """What the analysis needs to know about the call."""

    codec: str
    interval_ms: float
    jitter_buffer_ms: float
    window_s: float
    burst_window_ms: float | None


@dataclass(frozen=True)
class Views:
    """Per-direction statistics; ``forward``/``backward`` None for ICMP."""

    round_trip: StreamStats
    forward: StreamStats | None
    backward: StreamStats | None
    synchronized: bool


# --------------------------------------------------------------------------------------
# STAMP: records per direction
# --------------------------------------------------------------------------------------


def first_replies(replies: Sequence[StampReply]) -> dict[int, StampReply]:
    """The first reply (lowest reflector number) per sender sequence number."""
    out: dict[int, StampReply] = {}
    for r in replies:
        known = out.get(r.sender_seq)
        if known is None or r.reflector_seq < known.reflector_seq:
            out[r.sender_seq] = r
    return out


def backward_lost(
    sent: Sequence[int], replies: dict[int, StampReply], seen: set[int] | None = None
) -> tuple[set[int], list[tuple[int, int | None]]]:
    """(sender seqs lost on the way back; missing reflector seqs with an interpolated T3).

    Walk the answered requests in reflector order; between neighbours (s_a, r_a) and
    (s_b, r_b), ``r_b - r_a - 1`` reflector numbers are missing: that many of the requests
    missing between s_a and s_b reached the reflector. A fresh session starts at 0, so
    numbers below the first answered one count too. ``seen`` = every reflector number that
    came back (also on later replies to a request the reflector received twice): such a
    number belongs to an upstream duplicate, not to a lost reply.
    """
    seen = seen if seen is not None else {r.reflector_seq for r in replies.values()}
    answered = sorted(replies.values(), key=lambda r: r.reflector_seq)
    sent_set = set(sent)
    lost_back: set[int] = set()
    missing: list[tuple[int, int | None]] = []
    prev: StampReply | None = None
    for cur in answered:
        r_lo = prev.reflector_seq if prev else -1
        s_lo = prev.sender_seq if prev else -1
        gap = [s for s in range(s_lo + 1, cur.sender_seq) if s in sent_set and s not in replies]
        span = cur.reflector_seq - r_lo - 1
        absent = [r_lo + j for j in range(1, span + 1) if r_lo + j not in seen]
        lost_back.update(gap[: len(absent)])
        for seq in absent:
            j = seq - r_lo
            t3 = None
            if prev is not None:
                t3 = prev.t3_ns + (cur.t3_ns - prev.t3_ns) * j // (span + 1)
            missing.append((seq, t3 if t3 is not None else cur.t3_ns - j))
        prev = cur
    return lost_back, missing


def stamp_records(
    t1_mono: Sequence[int | None],
    t1_real: Sequence[int],
    replies: Sequence[StampReply],
) -> tuple[list[PacketRecord], list[PacketRecord], list[PacketRecord]]:
    """(round trip, forward, backward) packet records of one STAMP call.

    Round trip: recv = T4 - (T3 - T2) on our monotonic clock, so delay = network RTT.
    Forward: (seq, T1, T2) once per reflector number that answered it: a request duplicated
    on the way out reached the reflector twice and was numbered twice (RFC 8762 4.2), so
    its extra arrivals are *upstream* duplicates; requests lost on the way back are left
    out (they did arrive, but their T2 never reached us). Backward: (reflector seq, T3,
    T4), a reply duplicated on the way back repeats its reflector number (a *downstream*
    duplicate); missing reflector numbers are lost with an interpolated T3.
    """
    sent = [i for i, t in enumerate(t1_mono) if t is not None]
    first = first_replies(replies)
    lost_back, missing = backward_lost(sent, first, {r.reflector_seq for r in replies})
    rt: list[PacketRecord] = []
    for r in replies:
        t1 = t1_mono[r.sender_seq]
        if t1 is not None:
            rt.append(PacketRecord(r.sender_seq, t1, r.t4_mono_ns - (r.t3_ns - r.t2_ns)))
    rt += [PacketRecord(i, t1, None) for i in sent if i not in first and (t1 := t1_mono[i])]
    arrived = {r.reflector_seq: r for r in replies}
    fwd = [PacketRecord(r.sender_seq, t1_real[r.sender_seq], r.t2_ns) for r in arrived.values()]
    fwd += [PacketRecord(i, t1_real[i], None) for i in sent if i not in first and i not in lost_back]
    bwd = [PacketRecord(r.reflector_seq, r.t3_ns, r.t4_real_ns) for r in replies]
    bwd += [PacketRecord(seq, t3, None) for seq, t3 in missing if t3 is not None]
    return rt, fwd, bwd


def icmp_records(t1_mono: Sequence[int | None], t4_mono: Sequence[Sequence[int]]) -> list[PacketRecord]:
    """Round-trip records of an ICMP call (every reply, duplicates included)."""
    out: list[PacketRecord] = []
    for i, t1 in enumerate(t1_mono):
        if t1 is None:
            continue
        if not t4_mono[i]:
            out.append(PacketRecord(i, t1, None))
        out += [PacketRecord(i, t1, t4) for t4 in t4_mono[i]]
    return out


def summarize(records: Sequence[PacketRecord], cfg: StreamConfig) -> StreamStats:
    sliding = (cfg.burst_window_ms or 15_000.0) / 1000.0
    return summarize_stream(
        records, window_s=cfg.window_s, jitter_buffer_ms=cfg.jitter_buffer_ms, sliding_window_s=sliding
    )


# --------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _dist(prefix: str, p: Percentiles | None) -> dict[str, Value]:
    keys = ("min", "median", "p95", "p99", "max", "mean")
    return {f"{prefix}_{k}_ms": _r(getattr(p, k)) if p else None for k in keys}


def _direction_values(tag: str, s: StreamStats, synced: bool) -> dict[str, Value]:
    """Values of one direction (``fwd``/``bwd``/``rt``)."""
    out: dict[str, Value] = {
        f"sent_{tag}": s.sent,
        f"received_{tag}": s.received,
        f"loss_{tag}_pct": _r(s.loss_pct),
        f"jitter_{tag}_ms": _r(s.jitter_ms),
        f"jitter_{tag}_max_ms": _r(s.jitter_max_ms),
        f"jitter_{tag}_final_ms": _r(s.jitter_final_ms),
        f"loss_{tag}_worst_window_pct": _r(s.worst_window.loss_pct) if s.worst_window else None,
        f"reorder_{tag}_pct": _r(s.reordered_pct),
        f"duplicates_{tag}": s.duplicates,
        f"late_{tag}": s.late,
        f"late_{tag}_pct": _r(100.0 * s.late / s.sent) if s.sent else None,
        f"pdv_{tag}_p95_ms": _r(s.pdv_ms.p95) if s.pdv_ms else None,
    }
    ipdv = s.ipdv_ms
    for k in ("min", "median", "p95", "p99", "max"):
        out[f"ipdv_{tag}_{k}_ms"] = _r(getattr(ipdv, k)) if ipdv else None
    out[f"ipdv_{tag}_abs_mean_ms"] = _r(s.ipdv_abs_mean_ms)
    if tag != "rt":
        out.update(_dist(f"owd_{tag}", s.delay_ms if synced else None))
    return out


def _worse(a: StreamStats | None, b: StreamStats | None) -> StreamStats | None:
    """The direction with more effective loss (lost + late), then more jitter."""
    cands = [s for s in (a, b) if s is not None]
    return max(cands, key=lambda s: (s.effective_loss_pct or 0.0, s.jitter_ms or 0.0), default=None)


def windows_pct(*stats: StreamStats | None) -> list[float | None]:
    """Loss per fixed window, the worse direction per window (windows follow send time;
    a direction's windows start at its first packet). For charts; rules are judged on the
    worst sliding window (:func:`worst_window_values`)."""
    lists = [[w.loss_pct for w in s.windows] for s in stats if s is not None]
    n = max((len(x) for x in lists), default=0)
    out: list[float | None] = []
    for i in range(n):
        vals = [v for x in lists if i < len(x) and (v := x[i]) is not None]
        out.append(_r(max(vals)) if vals else None)
    return out


_DIRECTION_NAMES: Final = ("upstream", "downstream")


def _named(judged: Sequence[StreamStats | None]) -> list[tuple[str, StreamStats]]:
    """(direction name, stats) of the judged directions: forward = upstream (the site
    sends), backward = downstream; a lone round trip is "round trip"."""
    if len(judged) == 1:
        return [("round trip", s) for s in judged if s is not None]
    return [(n, s) for n, s in zip(_DIRECTION_NAMES, judged, strict=True) if s is not None]


def _window_of(w: WindowLoss, prefix: str, direction: str) -> dict[str, Value]:
    return {
        f"{prefix}_pct": _r(w.loss_pct),
        f"{prefix}_start_s": _r(w.start_s, 3),
        f"{prefix}_end_s": _r(w.end_s, 3),
        f"{prefix}_partial": w.partial,
        f"{prefix}_direction": direction,
    }


def worst_window_values(judged: Sequence[StreamStats | None], prefix: str = "loss_worst_window",
                        burst: bool = False) -> dict[str, Value]:
    """The worst sliding loss window over the judged directions, and where it was (offset
    from the first packet, in s) and in which direction. ``burst`` reads the burst window
    (``worst_sliding_window``) instead of the loss window (``worst_window``)."""
    best: tuple[float, str, WindowLoss] | None = None
    for name, s in _named(judged):
        w = s.worst_sliding_window if burst else s.worst_window
        if w is None or w.loss_pct is None:
            continue
        if best is None or w.loss_pct > best[0]:
            best = (w.loss_pct, name, w)
    if best is None:
        return {f"{prefix}_pct": None}
    return _window_of(best[2], prefix, best[1])


def jitter_values(judged: Sequence[StreamStats | None]) -> dict[str, Value]:
    """The judged whole-call jitter (worse direction, :data:`netcheck.analysis.stats.JITTER_STATISTIC`),
    with that direction's maximum and final value of the running estimate."""
    known = [(n, s) for n, s in _named(judged) if s.jitter_ms is not None]
    if not known:
        return {"jitter_ms": None, "jitter_statistic": JITTER_STATISTIC}
    name, s = max(known, key=lambda ns: ns[1].jitter_ms or 0.0)
    return {
        "jitter_ms": _r(s.jitter_ms),
        "jitter_p95_ms": _r(s.jitter_ms),  # the judged statistic, under its own name too
        "jitter_max_ms": _r(s.jitter_max_ms),
        "jitter_final_ms": _r(s.jitter_final_ms),
        "jitter_statistic": JITTER_STATISTIC,
        "jitter_direction": name,
    }


def path_values(views: Views, cfg: StreamConfig) -> dict[str, Value]:
    """The values ``evaluate/path.py`` reads, plus per-direction detail."""
    rt, fwd, bwd, synced = views.round_trip, views.forward, views.backward, views.synchronized
    values: dict[str, Value] = {"sent": rt.sent, "received": rt.received}
    for tag, s in (("rt", rt), ("fwd", fwd), ("bwd", bwd)):
        if s is not None:
            values.update(_direction_values(tag, s, synced))
    rtt = rt.delay_ms
    values.update({k: v for k, v in _dist("rtt", rtt).items()})
    per_dir = fwd is not None and bwd is not None
    judged = [fwd, bwd] if per_dir else [rt]
    values.update(jitter_values(judged))
    values["loss_pct"] = _r(max((s.loss_pct for s in judged if s and s.loss_pct is not None), default=None))
    values.update({
        "loss_window_s": cfg.window_s,
        "loss_windows_pct": windows_pct(*judged),
        **worst_window_values(judged),
        "reorder_pct": _r(max((s.reordered_pct for s in judged if s and s.reordered_pct is not None),
                              default=None)),
    })
    if cfg.burst_window_ms:
        values["burst_window_ms"] = cfg.burst_window_ms
        burst = worst_window_values(judged, "burst_window", burst=True)
        values["burst_loss_pct"] = burst.pop("burst_window_pct")
        values.update(burst)
    values.update(_one_way(views))
    values.update(_burst(_worse(*judged) if per_dir else rt))
    values.update(_duplicates(judged))
    return values


def _duplicates(judged: Sequence[StreamStats | None]) -> dict[str, Value]:
    """Duplicates of the direction that had the most (RFC 7680 counts a packet once for
    loss; the extra copies are reported per direction, each listener hears its own)."""
    named = _named(judged)
    if not named:
        return {}
    name, s = max(named, key=lambda ns: ns[1].duplicates)
    return {"duplicates": s.duplicates, "duplicates_direction": name if s.duplicates else None}


def _one_way(views: Views) -> dict[str, Value]:
    """one_way_delay_ms: measured (worse direction's median) with synchronised clocks,
    else RTT median / 2, flagged as an estimate."""
    fwd, bwd = views.forward, views.backward
    if views.synchronized and fwd and bwd and fwd.delay_ms and bwd.delay_ms:
        return {
            "one_way_delay_ms": _r(max(fwd.delay_ms.median, bwd.delay_ms.median)),
            "one_way_delay_estimated": False,
            "one_way_delay_method": "measured: STAMP T2-T1 / T4-T3, clocks synchronised",
        }
    rtt = views.round_trip.delay_ms
    return {
        "one_way_delay_ms": _r(rtt.median / 2.0) if rtt else None,
        "one_way_delay_estimated": True,
        "one_way_delay_method": "estimated as RTT/2 (clocks not known to be synchronised)",
    }


def _burst(s: StreamStats | None) -> dict[str, Value]:
    """Gilbert-Elliott estimates of the judged direction's loss (stats.BurstStats)."""
    if s is None:
        return {}
    b = s.loss_burst
    return {
        "burst_p": _r(b.p, 6),
        "burst_q": _r(b.q, 6),
        "burst_ratio": _r(b.burst_r),
        "burst_count": b.burst_count,
        "burst_max_len": b.max_burst_len,
        "burst_mean_len": _r(b.mean_burst_len),
        "late": s.late,
        "late_pct": _r(100.0 * s.late / s.sent) if s.sent else None,
        "effective_loss_pct": _r(s.effective_loss_pct),
        "reordered": s.reordered,
    }


# --------------------------------------------------------------------------------------
# MOS (ITU-T G.107 via netcheck.analysis.emodel)
# --------------------------------------------------------------------------------------


def mos_values(views: Views, cfg: StreamConfig) -> dict[str, Value]:
    """R and MOS-CQE per direction (each listener hears one), the lower one judged.

    Mouth-to-ear delay T = network delay + jitter buffer + packetisation + look-ahead
    (``emodel.mouth_to_ear_delay_ms``, G.114 App. I). A fixed playout buffer of depth B
    plays every packet at (minimum network delay + B), so the network part is the minimum
    one-way delay (measured, or RTT min / 2 without synchronised clocks). Ppl = lost +
    late (jitter-buffer discards) in %; BurstR = G.107 7.5 burst ratio of that sequence.
    """
    rtt = views.round_trip.delay_ms
    dirs = [s for s in (views.forward, views.backward) if s is not None] or [views.round_trip]
    results = []
    for s in dirs:
        if views.synchronized and s is not views.round_trip and s.delay_ms:
            net = max(0.0, s.delay_ms.min)
        elif rtt:
            net = rtt.min / 2.0
        else:
            return {"mos": None, "r_factor": None}
        t = emodel.mouth_to_ear_delay_ms(net, cfg.jitter_buffer_ms, cfg.codec, packet_ms=cfg.interval_ms)
        ppl = min(100.0, s.effective_loss_pct or 0.0)
        burst = s.effective_burst.burst_r
        burst = burst if burst and burst > 0 else 1.0
        full = emodel.rating(one_way_delay_ms=t, loss_pct=ppl, burst_r=burst, codec=cfg.codec)
        simple = emodel.simplified_rating(one_way_delay_ms=t, loss_pct=ppl, burst_r=burst, codec=cfg.codec)
        results.append((full, simple))
    full, simple = min(results, key=lambda fs: fs[0].r)
    return {
        "r_factor": _r(full.r, 2),
        "mos": _r(full.mos_cqe, 2),
        "mos_method": full.method,
        "mos_mouth_to_ear_ms": _r(full.one_way_delay_ms, 2),
        "mos_ppl_pct": _r(full.loss_pct),
        "mos_burst_r": _r(full.burst_r),
        "r_factor_simplified": _r(simple.r, 2),
        "mos_simplified": _r(simple.mos_cqe, 2),
        "mos_simplified_method": simple.method,
    }


# --------------------------------------------------------------------------------------
# Send-time error, series
# --------------------------------------------------------------------------------------


def send_error_values(errors_ns: Sequence[int]) -> dict[str, Value]:
    """How late the sender was against its schedule: actual send timestamp - deadline."""
    if not errors_ns:
        return {"send_error_p50_ms": None, "send_error_p99_ms": None, "send_error_max_ms": None}
    ms = sorted(e / _MS for e in errors_ns)
    return {
        "send_error_p50_ms": _r(percentile(ms, 0.5)),
        "send_error_p99_ms": _r(percentile(ms, 0.99)),
        "send_error_max_ms": _r(ms[-1]),
    }


def downsample(values: Sequence[float | None], limit: int = MAX_SERIES) -> list[float | None]:
    """At most ``limit`` points: each bucket keeps its largest value (a delay spike stays
    visible); a bucket with no value (all lost) is None."""
    if len(values) <= limit:
        return [_r(v) for v in values]
    size = math.ceil(len(values) / limit)
    out: list[float | None] = []
    for i in range(0, len(values), size):
        got = [v for v in values[i : i + size] if v is not None]
        out.append(_r(max(got)) if got else None)
    return out


def delay_series(records: Sequence[PacketRecord], offset_ns: int = 0) -> list[float | None]:
    """Index = sequence number (from 0): delay in ms (minus ``offset_ns``) of its first
    arrival; None where it was lost or its delay is unknown (a forward record whose reply was
    lost on the way back is absent from ``records``: a gap, so later packets keep their
    place on the chart's time axis and beside a truth log)."""
    first: dict[int, float | None] = {}
    for rec in sorted(records, key=lambda r: r.seq):
        if rec.seq in first and first[rec.seq] is not None:
            continue
        first[rec.seq] = None if rec.recv_ns is None else (rec.recv_ns - rec.send_ns - offset_ns) / _MS
    return downsample([first.get(seq) for seq in range(max(first, default=-1) + 1)])
