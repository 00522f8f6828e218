"""Statistics of a measured packet stream (what the stream probe reports).

Pure functions over raw per-packet records; no I/O. Every statistic names its definition,
unit and formula. Conventions used throughout:

* One-way delay of packet i: D(i) = recv_ns - send_ns (RFC 7679 "singleton" delay). With
  unsynchronised clocks D contains the clock offset; IPDV, PDV and RFC 3550 jitter are
  differences of delays, so the offset cancels in them.
* A packet is identified by its sequence number. The first arrival of a sequence number
  counts; further arrivals are duplicates (RFC 4737 section 2 ignores duplicates for
  reordering; RFC 7680 counts a packet once for loss).
* "No data" is ``None``, never 0.0 (house style).
* Percentiles use linear interpolation between closest ranks (Hyndman & Fan 1996 type 7,
  numpy's default): for sorted x[0..n-1] and fraction f, h = (n - 1) f, value =
  x[floor h] + (h - floor h) (x[floor h + 1] - x[floor h]).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

__all__ = [
    "JITTER_STATISTIC",
    "BurstStats",
    "JitterSummary",
    "PacketRecord",
    "Percentiles",
    "StreamStats",
    "WindowLoss",
    "burst_stats",
    "jitter_summary",
    "percentile",
    "reordered_count",
    "rfc3550_jitter_series_ms",
    "summarize",
    "summarize_stream",
    "worst_sliding_loss",
]

_NS_PER_MS: Final = 1_000_000.0
_NS_PER_S: Final = 1_000_000_000
#: RFC 3550 section 6.4.1: the jitter estimate's gain parameter 1/16.
_JITTER_GAIN: Final = 16.0
#: Which whole-call statistic of the running RFC 3550 jitter is judged (see jitter_summary).
JITTER_STATISTIC: Final = "p95 of the running RFC 3550 jitter over the whole call"
#: The fraction of the call that the judged jitter statistic represents (95th percentile).
_JITTER_FRACTION: Final = 0.95


@dataclass(frozen=True)
class PacketRecord:
    """One sent packet, or one extra arrival of it.

    ``send_ns``/``recv_ns`` are sender and receiver timestamps in ns (any epoch, but each
    side consistent); ``recv_ns`` None = not received. A duplicated packet appears as
    extra records with the same ``seq``.
    """

    seq: int
    send_ns: int
    recv_ns: int | None


@dataclass(frozen=True)
class Percentiles:
    """Distribution summary of ``count`` values, all in the unit named by the field that
    holds this object; percentiles by linear interpolation (module docstring)."""

    count: int
    min: float
    median: float
    p95: float
    p99: float
    max: float
    mean: float


@dataclass(frozen=True)
class JitterSummary:
    """The running RFC 3550 jitter of one call, summarised (all in ms).

    ``judged_ms`` is the statistic a limit is compared with (:data:`JITTER_STATISTIC`): the
    95th percentile of the running estimate J(i) over the whole call. Why not the final
    value J(n) (what RTCP reports at one instant): a call that was jittery for most of its
    duration and calm in its last second would pass, and one bad last second would fail a
    clean call. Why not the mean of |D|: a call jittery for 79 % of its time averages below a
    limit it broke most of the time. The p95 says "for 95 % of the call the jitter was at
    most this", and one bad second passes only when it is under 5 % of the call. ``max_ms``
    and ``final_ms`` are reported beside it.
    """

    judged_ms: float
    p95_ms: float
    max_ms: float
    final_ms: float
    samples: int


@dataclass(frozen=True)
class WindowLoss:
    """Loss in one time window of send times [start_s, end_s) relative to the first send.

    ``lost`` = packets not received at all; ``late`` = received after the jitter-buffer
    deadline; ``loss_pct`` = 100 lost / sent (None when nothing was sent in the window).
    ``partial`` = the window extends past the end of the stream, so it saw fewer packets
    than a full window would.
    """

    start_s: float
    end_s: float
    sent: int
    lost: int
    late: int
    loss_pct: float | None
    partial: bool


@dataclass(frozen=True)
class BurstStats:
    """Loss-burst statistics of a loss sequence in send (sequence) order.

    Two-state Gilbert(-Elliott) Markov estimates: ``p`` = P(lost | previous received)
    = n(received -> lost) / n(received with a successor); ``q`` = P(received | previous
    lost) = n(lost -> received) / n(lost with a successor). A burst is a maximal run of
    lost packets, a gap a maximal run of received ones; lengths are in packets.
    ``burst_r`` is ITU-T G.107 (06/2015) clause 7.5's burst ratio: mean observed burst
    length / mean burst length expected under random loss (1 / (1 - Ppl)), i.e.
    BurstR = mean_burst_len * (1 - Ppl); for a Markov source it equals 1 / (p + q).
    """

    packets: int
    lost: int
    p: float | None
    q: float | None
    burst_count: int
    mean_burst_len: float | None
    max_burst_len: int
    mean_gap_len: float | None
    burst_r: float | None


@dataclass(frozen=True)
class StreamStats:
    """Everything the stream probe reports for one direction of one stream.

    Counts are of distinct sequence numbers. ``loss_pct`` = 100 lost / sent (RFC 7680);
    ``late`` = received but with D(i) > min D + ``jitter_buffer_ms`` (a fixed playout
    buffer would discard it); ``effective_loss_pct`` = 100 (lost + late) / sent is the
    E-model's Ppl. ``reordered_pct`` = 100 reordered / received (RFC 4737 section 4.1.1).
    ``delay_ms`` summarises D(i); ``pdv_ms`` D(i) - min D (RFC 5481 section 4.1);
    ``ipdv_ms`` D(i+1) - D(i) over consecutive sequence numbers (RFC 3393, RFC 5481 4.2)
    and ``ipdv_abs_mean_ms`` the mean of its absolute value.
    ``jitter_ms`` is the judged whole-call jitter (:data:`JITTER_STATISTIC`, see
    :class:`JitterSummary`); ``jitter_final_ms`` the estimate after the last packet (what
    RTCP would report then), ``jitter_max_ms`` its maximum, ``jitter_series_ms`` its running
    values. ``windows`` are fixed windows of ``window_s`` (for charts); ``worst_window`` is
    the worst *sliding* window of ``window_s`` ("loss < 1 % in a 10 s interval" holds for
    every interval, wherever it starts; a stream shorter than the window is one partial
    window); ``worst_sliding_window`` the worst window of ``sliding_window_s`` (Teams'
    200 ms burst rule), None if the stream is shorter.
    """

    sent: int
    received: int
    lost: int
    duplicates: int
    reordered: int
    late: int
    loss_pct: float | None
    effective_loss_pct: float | None
    reordered_pct: float | None
    delay_ms: Percentiles | None
    pdv_ms: Percentiles | None
    ipdv_ms: Percentiles | None
    ipdv_abs_mean_ms: float | None
    jitter_ms: float | None
    jitter_final_ms: float | None
    jitter_max_ms: float | None
    jitter_series_ms: tuple[float, ...]
    jitter_buffer_ms: float
    window_s: float
    windows: tuple[WindowLoss, ...]
    worst_window: WindowLoss | None
    sliding_window_s: float
    worst_sliding_window: WindowLoss | None
    loss_burst: BurstStats
    effective_burst: BurstStats


# --------------------------------------------------------------------------------------
# Percentiles
# --------------------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Linear-interpolation percentile (type 7) of already sorted, non-empty values."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be within 0..1 (got {fraction})")
    h = (len(sorted_values) - 1) * fraction
    lo = math.floor(h)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (h - lo) * (sorted_values[hi] - sorted_values[lo])


def summarize(values: Iterable[float]) -> Percentiles | None:
    """min/median/p95/p99/max/mean of the values, None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    return Percentiles(
        count=len(ordered),
        min=ordered[0],
        median=percentile(ordered, 0.5),
        p95=percentile(ordered, 0.95),
        p99=percentile(ordered, 0.99),
        max=ordered[-1],
        mean=math.fsum(ordered) / len(ordered),
    )


# --------------------------------------------------------------------------------------
# Jitter, reordering, bursts
# --------------------------------------------------------------------------------------


def rfc3550_jitter_series_ms(arrivals: Sequence[tuple[int, int]]) -> tuple[float, ...]:
    """Running RFC 3550 section 6.4.1 interarrival jitter, in ms.

    ``arrivals`` are (send_ns, recv_ns) in arrival order. For consecutive arrivals i-1, i:
    D = (R_i - R_{i-1}) - (S_i - S_{i-1}) and J += (|D| - J) / 16, starting from J = 0.
    RFC 3550 uses RTP timestamp units; sender timestamps in ns give the same estimator in
    time units. One value per arrival after the first.
    """
    series: list[float] = []
    jitter_ns = 0.0
    for (s_prev, r_prev), (s_cur, r_cur) in itertools.pairwise(arrivals):
        d = (r_cur - r_prev) - (s_cur - s_prev)
        jitter_ns += (abs(d) - jitter_ns) / _JITTER_GAIN
        series.append(jitter_ns / _NS_PER_MS)
    return tuple(series)


def jitter_summary(series_ms: Sequence[float]) -> JitterSummary | None:
    """Whole-call summary of a running RFC 3550 jitter series (see JitterSummary); None for
    an empty series (fewer than two arrivals)."""
    if not series_ms:
        return None
    ordered = sorted(series_ms)
    p95 = percentile(ordered, _JITTER_FRACTION)
    return JitterSummary(
        judged_ms=p95, p95_ms=p95, max_ms=ordered[-1], final_ms=series_ms[-1], samples=len(ordered)
    )


def reordered_count(arrival_seqs: Sequence[int]) -> int:
    """Reordered packets per RFC 4737 section 3.3 (Type-P-Reordered).

    Walk arrivals with NextExp = first seq: a packet with seq >= NextExp is in order and
    sets NextExp = seq + 1; a packet with seq < NextExp is reordered. Duplicates must be
    removed by the caller (RFC 4737 considers each packet once).
    """
    reordered = 0
    next_exp: int | None = None
    for seq in arrival_seqs:
        if next_exp is None or seq >= next_exp:
            next_exp = seq + 1
        else:
            reordered += 1
    return reordered


def _runs(lost: Sequence[bool]) -> tuple[list[int], list[int]]:
    """Lengths of maximal runs of lost (bursts) and received (gaps) packets."""
    bursts: list[int] = []
    gaps: list[int] = []
    run = 0
    for i, is_lost in enumerate(lost):
        run += 1
        if i + 1 == len(lost) or lost[i + 1] != is_lost:
            (bursts if is_lost else gaps).append(run)
            run = 0
    return bursts, gaps


def _transition_estimates(lost: Sequence[bool]) -> tuple[float | None, float | None]:
    """(p, q) of the two-state Markov model, None where no transition was observable."""
    from_received = to_lost = from_lost = to_received = 0
    for prev, cur in itertools.pairwise(lost):
        if prev:
            from_lost += 1
            to_received += not cur
        else:
            from_received += 1
            to_lost += cur
    p = to_lost / from_received if from_received else None
    q = to_received / from_lost if from_lost else None
    return p, q


def burst_stats(lost: Sequence[bool]) -> BurstStats:
    """Burst statistics of a loss sequence (True = lost) in send order; see BurstStats."""
    bursts, gaps = _runs(lost)
    n_lost = sum(bursts)
    p, q = _transition_estimates(lost)
    mean_burst = n_lost / len(bursts) if bursts else None
    burst_r = None
    if mean_burst is not None and n_lost < len(lost):
        burst_r = mean_burst * (1.0 - n_lost / len(lost))
    return BurstStats(
        packets=len(lost),
        lost=n_lost,
        p=p,
        q=q,
        burst_count=len(bursts),
        mean_burst_len=mean_burst,
        max_burst_len=max(bursts, default=0),
        mean_gap_len=(len(lost) - n_lost) / len(gaps) if gaps else None,
        burst_r=burst_r,
    )


# --------------------------------------------------------------------------------------
# Windows
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Packet:
    """One distinct sequence number after duplicate removal (internal)."""

    seq: int
    send_ns: int
    recv_ns: int | None
    late: bool


def _pct(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


def _stream_end_ns(sends: Sequence[int]) -> int:
    """Estimated end of the stream: last send + median send interval (the last packet
    'occupies' one interval)."""
    if len(sends) < 2:
        return sends[-1]
    gaps = sorted(b - a for a, b in itertools.pairwise(sends))
    return sends[-1] + gaps[len(gaps) // 2]


def _window(
    packets: Sequence[_Packet], lo: int, hi: int, start_ns: int, width_ns: int, end_ns: int
) -> WindowLoss:
    """WindowLoss of packets[lo:hi], which lie in [start_ns, start_ns + width_ns)."""
    chunk = packets[lo:hi]
    lost = sum(p.recv_ns is None for p in chunk)
    t0 = packets[0].send_ns
    return WindowLoss(
        start_s=(start_ns - t0) / _NS_PER_S,
        end_s=(start_ns + width_ns - t0) / _NS_PER_S,
        sent=len(chunk),
        lost=lost,
        late=sum(p.late for p in chunk),
        loss_pct=_pct(lost, len(chunk)),
        partial=start_ns + width_ns > end_ns,
    )


def _fixed_windows(packets: Sequence[_Packet], window_s: float) -> tuple[WindowLoss, ...]:
    """Loss per fixed window of send time: window k holds sends in
    [t0 + k W, t0 + (k + 1) W). Needed for "loss < 1 % in a 10 s burst interval" (VSE NET):
    one bad window fails, so an average over the test would hide it."""
    if not packets:
        return ()
    width = _window_ns(window_s)
    t0 = packets[0].send_ns
    end = _stream_end_ns([p.send_ns for p in packets])
    windows: list[WindowLoss] = []
    lo = 0
    k = 0
    while lo < len(packets):
        start = t0 + k * width
        hi = lo
        while hi < len(packets) and packets[hi].send_ns < start + width:
            hi += 1
        windows.append(_window(packets, lo, hi, start, width, end))
        lo, k = hi, k + 1
    return tuple(windows)


def worst_sliding_loss(
    sends_ns: Sequence[int], lost: Sequence[bool], window_s: float, late: Sequence[bool] | None = None
) -> WindowLoss | None:
    """The worst loss over every window [t_i, t_i + W) that starts at a packet's send time
    and lies within the stream; ``sends_ns`` ascending, ``lost``/``late`` per packet.

    Provider rules are written per interval ("loss < 1 % in a 10 s interval", VSE NET;
    "< 1 % in any 15 s interval", Teams): they hold for *every* interval, so windows fixed
    from the test start would let a burst straddling a window edge pass at half its rate.
    A window with the most losses can always be moved to start at a packet, so these
    windows find the worst one. A stream shorter than W is judged as one (partial) window.
    Two pointers and a prefix sum: O(n). None for no packets. Ties: the earliest window.
    """
    if not sends_ns:
        return None
    if len(lost) != len(sends_ns) or (late is not None and len(late) != len(sends_ns)):
        raise ValueError("sends_ns, lost and late must have the same length")
    packets = [
        _Packet(seq=i, send_ns=t, recv_ns=None if lost[i] else t, late=bool(late and late[i]))
        for i, t in enumerate(sends_ns)
    ]
    return _worst_sliding(packets, window_s)


def _worst_sliding(packets: Sequence[_Packet], window_s: float) -> WindowLoss | None:
    """worst_sliding_loss over distinct packets in send order."""
    if not packets:
        return None
    width = _window_ns(window_s)
    end = _stream_end_ns([p.send_ns for p in packets])
    if packets[0].send_ns + width > end:
        return _window(packets, 0, len(packets), packets[0].send_ns, width, end)
    prefix = [0]
    for p in packets:
        prefix.append(prefix[-1] + (p.recv_ns is None))
    best: tuple[int, int, int] | None = None
    hi = 0
    for lo, first in enumerate(packets):
        if first.send_ns + width > end:
            break
        hi = max(hi, lo)
        while hi < len(packets) and packets[hi].send_ns < first.send_ns + width:
            hi += 1
        cand = (prefix[hi] - prefix[lo], lo, hi)
        if best is None or _worse_window(cand, best, packets):
            best = cand
    assert best is not None  # the first packet always starts a window here
    _, lo, hi = best
    return _window(packets, lo, hi, packets[lo].send_ns, width, end)


def _worse_window(cand: tuple[int, int, int], best: tuple[int, int, int],
                  packets: Sequence[_Packet]) -> bool:
    """Is (lost, lo, hi) ``cand`` worse than ``best``? Ratios compared exactly (integers
    cross-multiplied); on a tie the window that starts at a lost packet wins, so the
    reported position is where the loss began, not the earliest window that reaches it."""
    lhs, rhs = cand[0] * (best[2] - best[1]), best[0] * (cand[2] - cand[1])
    if lhs != rhs:
        return lhs > rhs
    return packets[cand[1]].recv_ns is None and packets[best[1]].recv_ns is not None


def _window_ns(window_s: float) -> int:
    if not window_s > 0.0:
        raise ValueError(f"window_s must be > 0 (got {window_s})")
    return round(window_s * _NS_PER_S)


# --------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------


def _dedupe(records: Sequence[PacketRecord]) -> tuple[dict[int, tuple[int, int | None]], int]:
    """seq -> (send_ns, first recv_ns); and the number of duplicate arrivals."""
    first: dict[int, tuple[int, int | None]] = {}
    arrivals = 0
    for rec in records:
        if rec.recv_ns is not None:
            arrivals += 1
        known = first.get(rec.seq)
        if known is None:
            first[rec.seq] = (rec.send_ns, rec.recv_ns)
        elif rec.recv_ns is not None and (known[1] is None or rec.recv_ns < known[1]):
            first[rec.seq] = (known[0], rec.recv_ns)
    received = sum(recv is not None for _, recv in first.values())
    return first, arrivals - received


def _distinct_packets(
    first: dict[int, tuple[int, int | None]], jitter_buffer_ms: float
) -> tuple[list[_Packet], int | None]:
    """Distinct packets in send order with the late flag; and min delay in ns."""
    delays = [recv - send for send, recv in first.values() if recv is not None]
    min_delay = min(delays, default=None)
    deadline = None if min_delay is None else min_delay + jitter_buffer_ms * _NS_PER_MS
    packets = [
        _Packet(
            seq=seq,
            send_ns=send,
            recv_ns=recv,
            late=recv is not None and deadline is not None and recv - send > deadline,
        )
        for seq, (send, recv) in first.items()
    ]
    packets.sort(key=lambda p: (p.send_ns, p.seq))
    return packets, min_delay


def _delay_stats(
    packets: Sequence[_Packet], min_delay: int | None
) -> tuple[Percentiles | None, Percentiles | None, Percentiles | None, float | None]:
    """(delay, PDV, IPDV, mean |IPDV|) in ms."""
    by_seq = sorted(packets, key=lambda p: p.seq)
    delays = {p.seq: p.recv_ns - p.send_ns for p in by_seq if p.recv_ns is not None}
    delay = summarize(d / _NS_PER_MS for d in delays.values())
    pdv = None
    if min_delay is not None:
        pdv = summarize((d - min_delay) / _NS_PER_MS for d in delays.values())
    ipdv = [(delays[seq + 1] - d) / _NS_PER_MS for seq, d in delays.items() if seq + 1 in delays]
    abs_mean = math.fsum(abs(v) for v in ipdv) / len(ipdv) if ipdv else None
    return delay, pdv, summarize(ipdv), abs_mean


def summarize_stream(
    packets: Sequence[PacketRecord],
    *,
    window_s: float = 10.0,
    jitter_buffer_ms: float = 60.0,
    sliding_window_s: float = 15.0,
) -> StreamStats:
    """All stream statistics in one pass-friendly call; O(n log n) in the packet count.

    ``jitter_buffer_ms`` is the fixed playout-buffer depth used to classify late packets
    (delay above min delay + depth). Windows follow send time.
    """
    if jitter_buffer_ms < 0.0:
        raise ValueError(f"jitter_buffer_ms must be >= 0 (got {jitter_buffer_ms})")
    first, duplicates = _dedupe(packets)
    distinct, min_delay = _distinct_packets(first, jitter_buffer_ms)
    received = [p for p in distinct if p.recv_ns is not None]
    arrivals = sorted(received, key=lambda p: (p.recv_ns or 0, p.seq))
    jitter = rfc3550_jitter_series_ms([(p.send_ns, p.recv_ns or 0) for p in arrivals])
    jit = jitter_summary(jitter)
    delay, pdv, ipdv, ipdv_abs = _delay_stats(distinct, min_delay)
    in_seq = sorted(distinct, key=lambda p: p.seq)
    lost_seq = [p.recv_ns is None for p in in_seq]
    windows = _fixed_windows(distinct, window_s)
    sent, n_lost = len(distinct), sum(lost_seq)
    late = sum(p.late for p in distinct)
    reordered = reordered_count([p.seq for p in arrivals])
    return StreamStats(
        sent=sent,
        received=len(received),
        lost=n_lost,
        duplicates=duplicates,
        reordered=reordered,
        late=late,
        loss_pct=_pct(n_lost, sent),
        effective_loss_pct=_pct(n_lost + late, sent),
        reordered_pct=_pct(reordered, len(received)),
        delay_ms=delay,
        pdv_ms=pdv,
        ipdv_ms=ipdv,
        ipdv_abs_mean_ms=ipdv_abs,
        jitter_ms=jit.judged_ms if jit else None,
        jitter_final_ms=jit.final_ms if jit else None,
        jitter_max_ms=jit.max_ms if jit else None,
        jitter_series_ms=jitter,
        jitter_buffer_ms=jitter_buffer_ms,
        window_s=window_s,
        windows=windows,
        worst_window=_worst_sliding(distinct, window_s),
        sliding_window_s=sliding_window_s,
        worst_sliding_window=_worst_sliding(distinct, sliding_window_s),
        loss_burst=burst_stats(lost_seq),
        effective_burst=burst_stats([p.recv_ns is None or p.late for p in in_seq]),
    )
