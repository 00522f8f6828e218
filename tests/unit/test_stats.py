"""Tests of netcheck.analysis.stats with hand-computed values (formulas named per test)."""

from __future__ import annotations

import math
import random

import pytest

from netcheck.analysis.stats import (
    PacketRecord,
    burst_stats,
    percentile,
    reordered_count,
    rfc3550_jitter_series_ms,
    summarize,
    summarize_stream,
)

MS = 1_000_000  # ns per ms
INTERVAL = 20 * MS  # 50 packets/s, one G.711 frame of 20 ms


def stream(delays_ms: list[float | None], *, base_ns: int = 10**12) -> list[PacketRecord]:
    """Packets sent every 20 ms; delay None = lost."""
    return [
        PacketRecord(
            seq=i,
            send_ns=base_ns + i * INTERVAL,
            recv_ns=None if d is None else base_ns + i * INTERVAL + round(d * MS),
        )
        for i, d in enumerate(delays_ms)
    ]


class TestPercentile:
    def test_linear_interpolation_type7(self) -> None:
        # h = (n - 1) f: median of [1,2,3,4] h = 1.5 -> 2.5; p95 h = 2.85 -> 3.85
        values = [1.0, 2.0, 3.0, 4.0]
        assert percentile(values, 0.5) == pytest.approx(2.5)
        assert percentile(values, 0.95) == pytest.approx(3.85)
        assert percentile(values, 0.0) == 1.0
        assert percentile(values, 1.0) == 4.0

    def test_single_value(self) -> None:
        assert percentile([7.0], 0.99) == 7.0

    def test_no_data_is_none(self) -> None:
        assert summarize([]) is None

    def test_summary(self) -> None:
        s = summarize([4.0, 1.0, 3.0, 2.0])
        assert s is not None
        assert (s.count, s.min, s.median, s.max, s.mean) == (4, 1.0, 2.5, 4.0, 2.5)
        assert s.p99 == pytest.approx(3.97)  # h = 2.97


class TestJitter:
    def test_rfc3550_running_estimate_by_hand(self) -> None:
        # Transit 10, 12, 11, 15 ms at constant spacing: |D| = 2, 1, 4 ms.
        # J1 = 2/16 = 0.125; J2 = J1 + (1 - J1)/16; J3 = J2 + (4 - J2)/16  (RFC 3550 6.4.1)
        arrivals = [(i * INTERVAL, i * INTERVAL + d * MS) for i, d in enumerate([10, 12, 11, 15])]
        j1 = 0.125
        j2 = j1 + (1 - j1) / 16
        j3 = j2 + (4 - j2) / 16
        assert rfc3550_jitter_series_ms(arrivals) == pytest.approx((j1, j2, j3))

    def test_constant_delay_has_zero_jitter(self) -> None:
        stats = summarize_stream(stream([30.0] * 100))
        assert stats.jitter_ms == 0.0

    def test_jitter_uses_arrival_order(self) -> None:
        # Packet 1 overtaken by packet 2: arrivals are 0, 2, 1 (RFC 3550 computes per
        # packet as received).
        pkts = stream([10.0, 50.0, 10.0])
        stats = summarize_stream(pkts)
        # order by arrival: seq0 (t=10), seq2 (t=50), seq1 (t=70)
        # D(0,2) = 40 - 40 = 0; D(2,1) = 20 - (-20) = 40 ms -> J = 40/16 = 2.5 ms
        assert stats.jitter_series_ms == pytest.approx((0.0, 2.5))


class TestDelayVariation:
    def test_pdv_and_ipdv(self) -> None:
        # D = 10, 12, 11, 15 ms; min 10 -> PDV 0, 2, 1, 5 (RFC 5481 4.1);
        # IPDV over consecutive seqs = +2, -1, +4 (RFC 3393)
        stats = summarize_stream(stream([10.0, 12.0, 11.0, 15.0]))
        assert stats.pdv_ms is not None and stats.ipdv_ms is not None
        assert stats.pdv_ms.max == pytest.approx(5.0)
        assert stats.pdv_ms.median == pytest.approx(1.5)
        assert (stats.ipdv_ms.min, stats.ipdv_ms.max) == pytest.approx((-1.0, 4.0))
        assert stats.ipdv_abs_mean_ms == pytest.approx(7 / 3)
        assert stats.delay_ms is not None and stats.delay_ms.mean == pytest.approx(12.0)

    def test_ipdv_skips_pairs_with_a_lost_packet(self) -> None:
        # seq 1 lost: pairs (0,1) and (1,2) undefined; only (2,3) = +5
        stats = summarize_stream(stream([10.0, None, 10.0, 15.0]))
        assert stats.ipdv_ms is not None
        assert stats.ipdv_ms.count == 1
        assert stats.ipdv_ms.max == pytest.approx(5.0)


class TestEmpty:
    def test_no_packets_gives_none_not_zero(self) -> None:
        stats = summarize_stream([])
        assert stats.sent == 0
        assert stats.loss_pct is None
        assert stats.effective_loss_pct is None
        assert stats.jitter_ms is None
        assert stats.delay_ms is None
        assert stats.worst_window is None
        assert stats.worst_sliding_window is None
        assert stats.loss_burst.burst_r is None

    def test_all_lost(self) -> None:
        stats = summarize_stream(stream([None] * 10))
        assert stats.loss_pct == 100.0
        assert stats.delay_ms is None
        assert stats.jitter_ms is None
        assert stats.reordered_pct is None
        assert stats.loss_burst.burst_r is None  # undefined when nothing arrives


class TestReordering:
    def test_rfc4737_single(self) -> None:
        # NextExp walk: 1,2 in order; 4 sets NextExp 5; 3 < 5 reordered; 5 in order.
        assert reordered_count([1, 2, 4, 3, 5]) == 1

    def test_rfc4737_multiple(self) -> None:
        # 5 and 6 arrive after 10 (NextExp 11): both reordered.
        assert reordered_count([1, 2, 3, 4, 7, 8, 9, 10, 5, 6]) == 2

    def test_duplicates_and_reordering_in_stream(self) -> None:
        pkts = stream([10.0, 50.0, 10.0, 10.0])
        pkts.append(PacketRecord(seq=3, send_ns=pkts[3].send_ns, recv_ns=pkts[3].recv_ns))
        stats = summarize_stream(pkts)
        assert stats.duplicates == 1
        assert stats.received == 4
        assert stats.reordered == 1
        assert stats.reordered_pct == pytest.approx(25.0)


class TestLate:
    def test_late_packet_counts_as_effective_loss(self) -> None:
        # min delay 10 ms, buffer 60 ms -> deadline 70 ms; 71 ms is late, 70 ms is not.
        stats = summarize_stream(stream([10.0, 70.0, 71.0, 10.0]), jitter_buffer_ms=60.0)
        assert stats.late == 1
        assert stats.loss_pct == 0.0
        assert stats.effective_loss_pct == pytest.approx(25.0)


class TestWindows:
    def test_one_bad_window_fails_even_if_average_passes(self) -> None:
        # 30 s at 50 pps = 1500 packets; 10 s windows of 500. Lose 6 packets in window 1:
        # window loss 1.2 % (> 1 %) while the overall loss is 0.4 % (VSE NET rule).
        delays: list[float | None] = [20.0] * 1500
        for i in range(600, 606):
            delays[i] = None
        stats = summarize_stream(stream(delays), window_s=10.0)
        assert stats.loss_pct == pytest.approx(0.4)
        assert [w.sent for w in stats.windows] == [500, 500, 500]
        assert [w.lost for w in stats.windows] == [0, 6, 0]
        assert not any(w.partial for w in stats.windows)
        worst = stats.worst_window  # sliding: the first window holding all 6 starts at them
        assert worst is not None
        assert (worst.start_s, worst.end_s, worst.sent, worst.lost) == (12.0, 22.0, 500, 6)
        assert worst.loss_pct == pytest.approx(1.2)

    def test_partial_last_window(self) -> None:
        stats = summarize_stream(stream([20.0] * 600), window_s=10.0)  # 12 s
        assert [w.sent for w in stats.windows] == [500, 100]
        assert [w.partial for w in stats.windows] == [False, True]

    def test_sliding_window_finds_a_burst_split_by_fixed_windows(self) -> None:
        # 8 losses straddling the 10 s boundary: 4 in each fixed window (0.8 % each), but
        # a 15 s window holding all 8 has 8/750 = 1.07 % (Teams "any 15 s interval") and
        # a 10 s one 8/500 = 1.6 % (VSE NET "< 1 % in a 10 s interval": FAIL).
        delays: list[float | None] = [20.0] * 1500
        for i in range(496, 504):
            delays[i] = None
        stats = summarize_stream(stream(delays), window_s=10.0, sliding_window_s=15.0)
        assert [w.loss_pct for w in stats.windows][:2] == pytest.approx([0.8, 0.8])
        assert stats.worst_window is not None
        assert stats.worst_window.loss_pct == pytest.approx(1.6)
        assert stats.worst_window.start_s == pytest.approx(496 * 0.02)
        sliding = stats.worst_sliding_window
        assert sliding is not None
        assert (sliding.sent, sliding.lost) == (750, 8)
        assert sliding.loss_pct == pytest.approx(800 / 750)

    def test_stream_shorter_than_window_is_one_partial_window(self) -> None:
        delays: list[float | None] = [20.0] * 100  # 2 s against a 15 s window
        delays[50] = None
        w = summarize_stream(stream(delays)).worst_sliding_window
        assert w is not None
        assert (w.start_s, w.sent, w.lost, w.partial) == (0.0, 100, 1, True)

    def test_invalid_window(self) -> None:
        with pytest.raises(ValueError, match="window_s"):
            summarize_stream(stream([20.0]), window_s=0.0)


class TestBursts:
    def test_hand_sequence(self) -> None:
        # R L L R R L R R R R: bursts [2, 1], gaps [1, 2, 4]
        seq = [c == "L" for c in "RLLRRLRRRR"]
        b = burst_stats(seq)
        assert (b.burst_count, b.max_burst_len, b.lost) == (2, 2, 3)
        assert b.mean_burst_len == pytest.approx(1.5)
        assert b.mean_gap_len == pytest.approx(7 / 3)
        # transitions: from R (with successor) 6, R->L 2 => p = 1/3;
        # from L 3, L->R 2 => q = 2/3
        assert b.p == pytest.approx(2 / 6)
        assert b.q == pytest.approx(2 / 3)
        # G.107 7.5: BurstR = mean burst * (1 - Ppl) = 1.5 * 0.7
        assert b.burst_r == pytest.approx(1.05)

    def test_no_loss(self) -> None:
        b = burst_stats([False] * 5)
        assert (b.burst_count, b.max_burst_len, b.mean_burst_len, b.burst_r) == (0, 0, None, None)
        assert b.p == 0.0
        assert b.q is None

    def test_gilbert_estimates_within_statistical_tolerance(self) -> None:
        # Seeded two-state Markov source, p = 0.05, q = 0.30, n = 100 000.
        # Stationary loss p/(p+q) = 1/7, so ~85 700 transitions leave "received" and
        # ~14 300 leave "lost". Binomial standard errors: sigma_p = sqrt(p(1-p)/85 700)
        # = 0.00074, sigma_q = sqrt(q(1-q)/14 300) = 0.0038. Tolerance 5 sigma; BurstR =
        # 1/(p+q) = 2.857 with tolerance (dp + dq)/(p+q)^2 from those bounds.
        p, q, n = 0.05, 0.30, 100_000
        rng = random.Random(20240601)
        lost, state = [], False
        for _ in range(n):
            state = rng.random() < (1 - q if state else p)
            lost.append(state)
        b = burst_stats(lost)
        tol_p = 5 * math.sqrt(p * (1 - p) / (n * 6 / 7))
        tol_q = 5 * math.sqrt(q * (1 - q) / (n / 7))
        assert b.p is not None and b.q is not None and b.burst_r is not None
        assert b.p == pytest.approx(p, abs=tol_p)
        assert b.q == pytest.approx(q, abs=tol_q)
        assert b.burst_r == pytest.approx(1 / (p + q), abs=(tol_p + tol_q) / (p + q) ** 2)
        assert b.mean_burst_len == pytest.approx(1 / q, rel=0.05)  # geometric mean 1/q

    def test_random_loss_burst_ratio_near_one(self) -> None:
        rng = random.Random(7)
        lost = [rng.random() < 0.05 for _ in range(100_000)]
        b = burst_stats(lost)
        assert b.burst_r == pytest.approx(1.0, abs=0.03)
