"""Tests of netcheck.analysis.emodel against values from ITU-T G.107 / G.113 and hand computation."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netcheck.analysis import emodel
from netcheck.analysis.emodel import (
    CODECS,
    DEFAULT_PARAMS,
    EModelParams,
    burst_r_from_markov,
    delay_impairment,
    ie_eff,
    mouth_to_ear_delay_ms,
    r_to_mos,
    rating,
    simplified_delay_impairment,
    simplified_rating,
)


class TestDefaults:
    """G.107 (06/2015) clause 7.7: all Table 3 defaults give R = 93.2."""

    def test_default_rating_is_93_2(self) -> None:
        result = rating(one_way_delay_ms=0.0, loss_pct=0.0)
        assert round(result.r, 1) == 93.2
        assert result.method == emodel.METHOD_FULL

    def test_default_mos_is_4_41(self) -> None:
        # REQUIREMENTS.md: "default parameters give R = 93.2 (MOS 4.41)".
        assert round(rating(one_way_delay_ms=0.0, loss_pct=0.0).mos_cqe, 2) == 4.41

    def test_intermediate_terms_match_published_calculator_values(self) -> None:
        # No (eq. 7-3) = -61.1792 dBm0p and Is = 1.41357 for the Table 3 defaults, as
        # published by open-source G.107 implementations verified against the ITU-T online
        # E-model calculator; Ro = 15 - 1.5 (SLR + No) = 94.7688 (eq. 7-2).
        result = rating(one_way_delay_ms=0.0, loss_pct=0.0)
        no = emodel._noise_no(DEFAULT_PARAMS)
        assert no == pytest.approx(-61.17921438624169, abs=1e-9)
        assert result.ro == pytest.approx(15 - 1.5 * (8 - 61.17921438624169), abs=1e-9)
        assert result.is_ == pytest.approx(1.4135680813438616, abs=1e-6)

    def test_idle_at_zero_delay_closes_the_budget(self) -> None:
        # At T = Tr = 0 only Idle remains: Rle = 10.5 (110 + 7) = 1228.5 (eq. 7-26),
        # Idle = (Ro - Rle)/2 + sqrt((Ro - Rle)^2 / 4 + 169) (eq. 7-25).
        ro = rating(one_way_delay_ms=0.0, loss_pct=0.0).ro
        d = ro - 1228.5
        assert delay_impairment(0.0) == pytest.approx(d / 2 + math.sqrt(d * d / 4 + 169))


class TestRToMos:
    """G.107 Annex B eq. B-4, evaluated by hand."""

    @pytest.mark.parametrize(
        ("r", "mos"),
        [
            (-5.0, 1.0),
            (0.0, 1.0),
            (50.0, 2.575),  # 1 + 1.75 + 7e-6 * 50 * -10 * 50
            (60.0, 3.1),  # cubic term vanishes at R = 60
            (80.0, 4.024),  # 1 + 2.8 + 7e-6 * 80 * 20 * 20
            (93.2, 4.409285824),  # 1 + 3.262 + 7e-6 * 93.2 * 33.2 * 6.8
            (100.0, 4.5),
            (120.0, 4.5),
        ],
    )
    def test_values(self, r: float, mos: float) -> None:
        assert r_to_mos(r) == pytest.approx(mos, abs=1e-9)

    def test_continuous_at_boundaries(self) -> None:
        assert r_to_mos(1e-9) == pytest.approx(1.0, abs=1e-6)
        assert r_to_mos(100 - 1e-9) == pytest.approx(4.5, abs=1e-6)


class TestIeEff:
    """G.107 eq. 7-29 with G.113 Appendix I codec values."""

    def test_g711_plc_one_percent_random(self) -> None:
        # 95 * 1 / (1 + 25.1) = 3.6398...
        assert ie_eff(0.0, 25.1, 1.0) == pytest.approx(95 / 26.1)
        assert ie_eff(0.0, 25.1, 1.0) == pytest.approx(3.64, abs=0.005)

    def test_g711_without_plc_is_much_worse(self) -> None:
        # Bpl 4.3: 95 * 1 / 5.3 = 17.92
        assert ie_eff(0.0, 4.3, 1.0) == pytest.approx(95 / 5.3)

    def test_g729a_vad_two_percent_bursty(self) -> None:
        # Ie 11, Bpl 19, Ppl 2 %, BurstR 2: 11 + 84 * 2 / (1 + 19) = 19.4
        assert ie_eff(11.0, 19.0, 2.0, 2.0) == pytest.approx(19.4)

    def test_rating_uses_codec_table(self) -> None:
        plc = rating(one_way_delay_ms=0.0, loss_pct=1.0, codec="G.711")
        no_plc = rating(one_way_delay_ms=0.0, loss_pct=1.0, codec="G.711", plc=False)
        assert plc.ie_eff == pytest.approx(95 / 26.1)
        assert no_plc.ie_eff == pytest.approx(95 / 5.3)

    def test_no_plc_value_missing_is_an_error(self) -> None:
        with pytest.raises(ValueError, match="no Bpl without PLC"):
            rating(one_way_delay_ms=0.0, loss_pct=1.0, codec="G.729A+VAD", plc=False)

    @pytest.mark.parametrize("loss", [-0.1, 100.1])
    def test_loss_out_of_range(self, loss: float) -> None:
        with pytest.raises(ValueError, match="loss_pct"):
            ie_eff(0.0, 25.1, loss)

    def test_full_loss_saturates_at_95_for_random_loss(self) -> None:
        # Ppl -> 100 %: Ie + (95 - Ie) * 100 / (100 + Bpl) < 95, approaching 95 as Bpl -> 0.
        assert ie_eff(0.0, 25.1, 100.0) == pytest.approx(95 * 100 / 125.1)


class TestBurstR:
    def test_random_loss_is_one(self) -> None:
        # Bernoulli loss with probability 0.03: p = 0.03, q = 0.97, p + q = 1.
        assert burst_r_from_markov(0.03, 0.97) == pytest.approx(1.0)

    def test_bursty(self) -> None:
        assert burst_r_from_markov(0.01, 0.24) == pytest.approx(4.0)

    def test_invalid(self) -> None:
        with pytest.raises(ValueError):
            burst_r_from_markov(0.0, 0.0)
        with pytest.raises(ValueError):
            burst_r_from_markov(1.5, 0.2)


class TestDelay:
    """Id from the G.107 formulas (eqs. 7-18 .. 7-28), T = Ta, Tr = 2 T, defaults.

    Reference values computed from those equations (no published table was found):
    Id(150 ms) = 3.8161 (R = 89.539), Id(400 ms) = 31.1084 (R = 62.247).
    """

    def test_idd_zero_up_to_mt(self) -> None:
        assert emodel._idd(DEFAULT_PARAMS, 100.0) == 0.0

    def test_idd_at_200ms_by_hand(self) -> None:
        # X = log2(200/100) = 1: 25 {2^(1/6) - 3 (1 + 1/729)^(1/6) + 2}
        expected = 25 * (2 ** (1 / 6) - 3 * (1 + 1 / 729) ** (1 / 6) + 2)
        assert emodel._idd(DEFAULT_PARAMS, 200.0) == pytest.approx(expected)
        assert expected == pytest.approx(3.0444, abs=1e-4)  # hand: 25 * 0.121777

    def test_id_at_150ms(self) -> None:
        assert delay_impairment(150.0) == pytest.approx(3.8161, abs=1e-4)
        assert rating(one_way_delay_ms=150.0, loss_pct=0.0).r == pytest.approx(89.539, abs=1e-3)

    def test_id_at_400ms(self) -> None:
        assert delay_impairment(400.0) == pytest.approx(31.1084, abs=1e-4)
        assert rating(one_way_delay_ms=400.0, loss_pct=0.0).r == pytest.approx(62.247, abs=1e-3)

    def test_simplified_id(self) -> None:
        # Cole & Rosenbluth 2001: 0.024 d below the 177.3 ms knee, +0.11 (d - 177.3) above.
        assert simplified_delay_impairment(150.0) == pytest.approx(3.6)
        assert simplified_delay_impairment(400.0) == pytest.approx(9.6 + 0.11 * 222.7)

    def test_simplified_tracks_full_model_below_knee(self) -> None:
        # The fit approximates G.107 Id within about 1 R point below ~250 ms.
        for d in (50.0, 100.0, 150.0, 200.0, 250.0):
            assert abs(simplified_delay_impairment(d) - delay_impairment(d)) < 1.5

    @given(
        t1=st.floats(min_value=1.0, max_value=2000.0),
        t2=st.floats(min_value=1.0, max_value=2000.0),
    )
    def test_more_delay_never_improves_r(self, t1: float, t2: float) -> None:
        # Holds from T >= 1 ms; below that eq. 7-19 (unclamped) dips by < 0.06.
        lo, hi = sorted((t1, t2))
        r_lo = rating(one_way_delay_ms=lo, loss_pct=0.0).r
        r_hi = rating(one_way_delay_ms=hi, loss_pct=0.0).r
        assert r_hi <= r_lo + 1e-9

    @given(
        l1=st.floats(min_value=0.0, max_value=100.0),
        l2=st.floats(min_value=0.0, max_value=100.0),
        burst=st.floats(min_value=1.0, max_value=10.0),
        codec=st.sampled_from(sorted(CODECS)),
    )
    def test_more_loss_never_improves_r(
        self, l1: float, l2: float, burst: float, codec: str
    ) -> None:
        lo, hi = sorted((l1, l2))
        r_lo = rating(one_way_delay_ms=50.0, loss_pct=lo, burst_r=burst, codec=codec).r
        r_hi = rating(one_way_delay_ms=50.0, loss_pct=hi, burst_r=burst, codec=codec).r
        assert r_hi <= r_lo + 1e-9

    def test_negative_delay_rejected(self) -> None:
        with pytest.raises(ValueError, match="one_way_delay_ms"):
            rating(one_way_delay_ms=-1.0, loss_pct=0.0)


class TestSimplifiedRating:
    def test_g711_one_percent_loss_100ms(self) -> None:
        # 93.2 - 2.4 - 95/26.1
        result = simplified_rating(one_way_delay_ms=100.0, loss_pct=1.0)
        assert result.r == pytest.approx(93.2 - 2.4 - 95 / 26.1)
        assert result.method == emodel.METHOD_SIMPLIFIED
        assert result.is_ == 0.0


class TestMouthToEar:
    def test_g711_20ms_packets(self) -> None:
        # 30 ms network + 60 ms jitter buffer + 20 ms packetisation + 0 look-ahead
        assert mouth_to_ear_delay_ms(30.0, 60.0, "G.711") == pytest.approx(110.0)

    def test_g729_adds_lookahead(self) -> None:
        # G.729: 5 ms look-ahead (G.729 clause 2)
        assert mouth_to_ear_delay_ms(30.0, 60.0, "G.729", packet_ms=20.0) == pytest.approx(115.0)

    def test_unknown_codec(self) -> None:
        with pytest.raises(ValueError, match="unknown codec 'AMR'"):
            mouth_to_ear_delay_ms(0.0, 0.0, "AMR")


class TestCodecTable:
    def test_g113_values(self) -> None:
        # G.113 App. I (REQUIREMENTS.md restates them)
        assert (CODECS["G.711"].ie, CODECS["G.711"].bpl, CODECS["G.711"].bpl_no_plc) == (
            0.0,
            25.1,
            4.3,
        )
        assert (CODECS["G.729A+VAD"].ie, CODECS["G.729A+VAD"].bpl) == (11.0, 19.0)

    def test_payload_sizes(self) -> None:
        assert CODECS["G.711"].payload_bytes_per_20ms == 160
        assert CODECS["G.722"].payload_bytes_per_20ms == 160
        assert CODECS["G.729"].payload_bytes_per_20ms == 20
        assert CODECS["G.723.1"].payload_bytes_per_20ms is None
        assert CODECS["G.723.1"].payload_bytes(30.0) == 24  # 6.3 kbit/s * 30 ms / 8

    def test_estimates_are_marked(self) -> None:
        for name in ("G.722", "Opus-24", "Opus-12", "G.729"):
            assert CODECS[name].estimate, name
        for name in ("G.711", "G.729A+VAD", "G.723.1"):
            assert not CODECS[name].estimate, name

    def test_params_override(self) -> None:
        # Advantage factor A adds directly to R (eq. 7-1).
        base = rating(one_way_delay_ms=0.0, loss_pct=0.0).r
        boosted = rating(one_way_delay_ms=0.0, loss_pct=0.0, params=EModelParams(a=5.0)).r
        assert boosted == pytest.approx(base + 5.0)
