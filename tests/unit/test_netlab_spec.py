"""Unit tests of the netlab impairment spec, decision engine and truth computations.

No root needed. Every expected number comes from the spec given to the code or from a
named formula; statistical bounds are 4 standard deviations of the named estimator.
"""

from __future__ import annotations

import math
import statistics

import pytest

from tests.netlab import truth
from tests.netlab.impair import Impairer, describe_frame
from tests.netlab.spec import GilbertElliott, SpecError, parse_spec

N = 100_000


def binom_bound(p: float, n: int) -> float:
    """4 sigma of a binomial proportion: 4*sqrt(p(1-p)/n)."""
    return 4 * math.sqrt(p * (1 - p) / n)


def test_parse_full_spec_both_directions() -> None:
    s = parse_spec("delay=30ms jitter=5ms dist=uniform loss=0.5% reorder=1% dup=0.1% rate=2mbit")
    assert s.up == s.down
    assert s.up.delay_s == pytest.approx(0.030)
    assert s.up.jitter_s == pytest.approx(0.005)
    assert s.up.dist == "uniform"
    assert s.up.loss == pytest.approx(0.005)
    assert s.up.reorder == pytest.approx(0.01)
    assert s.up.dup == pytest.approx(0.001)
    assert s.up.rate_bps == pytest.approx(2e6)


def test_parse_direction_prefixes_and_sections() -> None:
    s = parse_spec("delay=10ms up:loss=2% down: delay=5ms rate=512kbit")
    assert (s.up.delay_s, s.up.loss, s.up.rate_bps) == (pytest.approx(0.01), 0.02, None)
    assert (s.down.delay_s, s.down.loss, s.down.rate_bps) == (pytest.approx(0.005), 0.0, 512e3)


def test_empty_spec_is_clean() -> None:
    assert parse_spec("").up.is_clean and parse_spec("").down.is_clean


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("loss=0.5", "bad percentage '0.5': write e.g. 0.5%"),
        ("delay=30xs", "bad time '30xs': use e.g. 30ms, 500us, 0.1s"),
        ("dist=cauchy", "unknown dist 'cauchy': one of normal, uniform, pareto"),
        ("ge=p:0.1", "ge needs p and r (got 'p:0.1')"),
        ("ge=p:2,r:0.1", "ge p must be within 0..1 (got 2)"),
        ("rate=fast", "bad rate 'fast': use e.g. 512kbit, 2mbit"),
        ("wobble=3", "unknown impairment 'wobble'"),
        ("delay", "bad token 'delay': expected key=value"),
    ],
)
def test_parse_errors_name_the_token(text: str, message: str) -> None:
    with pytest.raises(SpecError) as exc:
        parse_spec(text)
    assert str(exc.value) == message


def test_ge_stationary_loss_formula() -> None:
    # pi_B = p/(p+r) = 0.01/0.31; loss = pi_G*(1-k) + pi_B*(1-h)
    ge = GilbertElliott(p=0.01, r=0.3, h=0.1, k=0.99)
    pi_b = 0.01 / 0.31
    assert ge.pi_bad == pytest.approx(pi_b)
    assert ge.stationary_loss == pytest.approx((1 - pi_b) * 0.01 + pi_b * 0.9)


def _decisions(spec: str, n: int = N, seed: str = "t") -> list[list]:
    imp = Impairer(parse_spec(spec).up, seed)
    return [imp.decide(i * 1e-3, 200) for i in range(n)]


def test_same_seed_same_decisions() -> None:
    assert _decisions("loss=5% jitter=3ms delay=10ms", 2000) == _decisions("loss=5% jitter=3ms delay=10ms", 2000)
    assert _decisions("loss=5%", 2000, "a") != _decisions("loss=5%", 2000, "b")


def test_bernoulli_loss_matches_spec() -> None:
    lost = sum(d[0].kind == "drop" for d in _decisions("loss=2%"))
    assert abs(lost / N - 0.02) <= binom_bound(0.02, N)


def test_ge_loss_matches_stationary_formula() -> None:
    ge = GilbertElliott(p=0.05, r=0.3)
    lost = sum(d[0].kind == "drop" for d in _decisions("ge=p:0.05,r:0.3"))
    # With h=0, k=1 the loss indicator is the Markov state; its lag-1 autocorrelation is
    # lambda = 1 - p - r, which inflates the variance by (1 + lambda)/(1 - lambda).
    lam = 1 - ge.p - ge.r
    bound = binom_bound(ge.stationary_loss, N) * math.sqrt((1 + lam) / (1 - lam))
    assert abs(lost / N - ge.stationary_loss) <= bound


def test_ge_mean_burst_length_is_one_over_r() -> None:
    runs, cur = [], 0
    for d in _decisions("ge=p:0.05,r:0.25"):
        if d[0].kind == "drop":
            cur += 1
        elif cur:
            runs.append(cur)
            cur = 0
    # Bad-state sojourn is geometric with mean 1/r = 4 and sd sqrt(1-r)/r.
    sd = math.sqrt(1 - 0.25) / 0.25
    assert abs(statistics.fmean(runs) - 4.0) <= 4 * sd / math.sqrt(len(runs))


def test_dup_and_reorder_fractions() -> None:
    ds = _decisions("delay=10ms dup=5% reorder=10%")
    dups = sum(len(d) == 2 for d in ds)
    assert abs(dups / N - 0.05) <= binom_bound(0.05, N)
    reordered = sum(d[0].delay_s == 0.0 for d in ds)
    assert abs(reordered / N - 0.10) <= binom_bound(0.10, N)


@pytest.mark.parametrize(("dist", "sd"), [("normal", 0.002), ("uniform", 0.002 / math.sqrt(3))])
def test_jitter_distribution_moments(dist: str, sd: float) -> None:
    # normal: sigma = jitter; uniform on +-jitter: sd = jitter/sqrt(3); mean = delay.
    delays = [d[0].delay_s for d in _decisions(f"delay=20ms jitter=2ms dist={dist}", 20_000)]
    assert abs(statistics.fmean(delays) - 0.020) <= 4 * sd / math.sqrt(len(delays))
    assert statistics.stdev(delays) == pytest.approx(sd, rel=0.05)


def test_floor_applies_to_short_delays_only() -> None:
    imp = Impairer(parse_spec("").up, "x", floor_s=0.001)
    assert imp.decide(0.0, 100)[0].delay_s == 0.001
    imp = Impairer(parse_spec("delay=5ms").up, "x", floor_s=0.001)
    assert imp.decide(0.0, 100)[0].delay_s == 0.005


def test_rate_limit_serialises_back_to_back_frames() -> None:
    # 1000-byte frames at 1 Mbit/s take 8 ms each on the wire.
    imp = Impairer(parse_spec("rate=1mbit").up, "x")
    delays = [imp.decide(0.0, 1000)[0].delay_s for _ in range(3)]
    assert delays == pytest.approx([0.008, 0.016, 0.024])


def test_rate_limit_tail_drops_beyond_queue() -> None:
    imp = Impairer(parse_spec("rate=1mbit queue=20ms").up, "x")
    kinds = [imp.decide(0.0, 1000)[0].kind for _ in range(5)]
    assert kinds == ["forward", "forward", "forward", "drop", "drop"]


def test_describe_frame_udp() -> None:
    eth = b"\x02" * 12 + b"\x08\x00"
    ip = bytes.fromhex("4500002c0000400040110000") + bytes([10, 77, 1, 2, 198, 18, 0, 2])
    udp = (5004).to_bytes(2, "big") + (6000).to_bytes(2, "big") + b"\x00\x18\x00\x00"
    info = describe_frame(eth + ip + udp + bytes(range(16)))
    assert info["proto"] == 17
    assert (info["src"], info["dst"], info["sport"], info["dport"]) == (
        "10.77.1.2",
        "198.18.0.2",
        5004,
        6000,
    )
    assert info["head"] == bytes(range(16)).hex()


def _rec(seq: int, t_arr: int, delay: int, decision: str = "forward") -> dict:
    sent = None if decision == "drop" else t_arr + delay
    return {
        "dir": "up",
        "seq": seq,
        "t_arr_ns": t_arr,
        "delay_ns": delay,
        "t_tx_ns": sent,
        "decision": decision,
        "proto": 17,
        "dport": 9,
    }


def test_rfc3550_jitter_of_alternating_transit() -> None:
    # |D| = 2 ms every step: J_n = 2*(1 - (15/16)^n) ms after n steps.
    j = truth.rfc3550_jitter([0.010, 0.012] * 50 + [0.010])
    assert j == pytest.approx(0.002 * (1 - (15 / 16) ** 100))


def test_stats_loss_owd_dups_reordering() -> None:
    ms = 1_000_000
    recs = [
        _rec(1, 0, 10 * ms),
        _rec(2, 20 * ms, 1 * ms),
        _rec(3, 40 * ms, 0, "drop"),
        _rec(4, 60 * ms, 10 * ms),
        _rec(4, 60 * ms, 12 * ms, "dup"),
    ]
    s = truth.stats(recs)
    assert (s.sent, s.delivered, s.lost, s.duplicates) == (4, 3, 1, 1)
    assert s.loss_pct == pytest.approx(25.0)
    assert s.owd_mean_ms == pytest.approx(7.0)
    assert s.reordered == 0  # seq 2 leaves at 21 ms, after seq 1 at 10 ms
    assert truth.count_reordered([1, 3, 2, 4]) == 1


def test_icmp_echo_truth_pairs_request_and_reply() -> None:
    req = {
        "dir": "up",
        "proto": 1,
        "icmp_type": 8,
        "icmp_id": 7,
        "icmp_seq": 1,
        "t_arr_ns": 0,
        "t_tx_ns": 3_000_000,
        "decision": "forward",
        "seq": 1,
    }
    rep = {**req, "dir": "down", "icmp_type": 0, "t_arr_ns": 5_000_000, "t_tx_ns": 9_000_000}
    assert truth.icmp_echo_truth([req, rep]) == {1: pytest.approx(0.007)}
    assert truth.icmp_echo_truth([req]) == {1: None}


def test_head_uint_reads_sequence_numbers() -> None:
    r = {"head": "80000102" + "00" * 12}
    assert truth.head_uint(r, 2, 2) == 0x0102
    assert truth.head_uint(r, 15, 4) is None
