"""ITU-T G.107 E-model: transmission rating R and estimated conversational MOS.

Why this module exists: the provider profiles ask for a minimum MOS (VSE NET: "4.0-4.4 at
the handover point") and every stream probe reports delay and loss; the E-model is the
ITU-T planning tool that turns those into one rating. It is a *planning* model: it predicts
the opinion of an average user of a narrowband handset call; it is not a measurement of the
audio heard. Results are on the narrowband scale (R <= about 93.2 for G.711), so a wideband
call is rated as if it were narrowband (see ``CODECS["G.722"]``).

Sources (every number below names one of them):

* ITU-T G.107 (06/2015), "The E-model: a computational model for use in transmission
  planning", clause 7 (equations 7-1 .. 7-29), Table 1 (delay sensitivity mT, sT), Table 3
  (default values) and Annex B (R -> MOS).  Equation numbers in comments are G.107's.
* ITU-T G.113 (11/2007), Appendix I: provisional planning values of the equipment
  impairment factor Ie (Table I.1) and the packet-loss robustness factor Bpl (Table I.3).
* R. G. Cole, J. H. Rosenbluth, "Voice over IP performance monitoring", ACM SIGCOMM CCR
  31(2), 2001: the simplified delay impairment ``Id = 0.024 d + 0.11 (d - 177.3) H(d - 177.3)``.

The formulas were cross-checked against open-source G.107 implementations that state they
were verified against the ITU-T online E-model calculator (they publish No = -61.179 dBm0p
and Is = 1.4136 for the Table 3 defaults, which this module reproduces; see the tests).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

__all__ = [
    "CODECS",
    "DEFAULT_PARAMS",
    "Codec",
    "EModelParams",
    "EModelResult",
    "burst_r_from_markov",
    "delay_impairment",
    "ie_eff",
    "mouth_to_ear_delay_ms",
    "r_to_mos",
    "rating",
    "simplified_delay_impairment",
    "simplified_rating",
]

METHOD_FULL: Final = "ITU-T G.107 (06/2015) full E-model"
METHOD_SIMPLIFIED: Final = "simplified E-model (Cole & Rosenbluth 2001), R = 93.2 - Id - Ie,eff"

#: Ro - Is for the G.107 Table 3 defaults, rounded as G.107 quotes it; the simplified
#: model starts from this constant instead of computing Ro and Is.
SIMPLIFIED_R0: Final = 93.2


# --------------------------------------------------------------------------------------
# Codec table
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Codec:
    """Planning values of one speech codec.

    ``ie`` and ``bpl`` are dimensionless E-model factors; ``bpl`` is for the codec with its
    packet-loss concealment (PLC); ``bpl_no_plc`` is given only where G.113 publishes one.
    ``frame_ms`` is the coded frame, ``lookahead_ms`` the encoder look-ahead (both add to
    mouth-to-ear delay), ``bitrate_kbps`` the codec bit rate without RTP/UDP/IP overhead.
    ``estimate`` is True when any value is not an ITU-T planning value; ``source`` says
    where each value comes from.
    """

    name: str
    ie: float
    bpl: float
    bpl_no_plc: float | None
    frame_ms: float
    lookahead_ms: float
    bitrate_kbps: float
    wideband: bool
    estimate: bool
    source: str

    def payload_bytes(self, packet_ms: float) -> int | None:
        """Codec payload bytes in one RTP packet of ``packet_ms``, or None if ``packet_ms``
        is not a whole number of frames (e.g. 20 ms of 30 ms G.723.1 frames)."""
        frames = packet_ms / self.frame_ms
        if frames < 1 or not math.isclose(frames, round(frames), abs_tol=1e-9):
            return None
        return round(self.bitrate_kbps * packet_ms / 8)

    @property
    def payload_bytes_per_20ms(self) -> int | None:
        """Payload bytes of a 20 ms packet (the usual VoIP packetisation), None if 20 ms is
        not a whole number of frames."""
        return self.payload_bytes(20.0)


_G113_I1: Final = "ITU-T G.113 (11/2007) App. I Table I.1 (Ie)"
_G113_I3: Final = "ITU-T G.113 (11/2007) App. I Table I.3 (Bpl)"

CODECS: Mapping[str, Codec] = MappingProxyType(
    {
        # G.711: Ie 0 (Table I.1); Bpl 25.1 with PLC, 4.3 without (Table I.3, 10 ms
        # packets, random loss). Sample-based: frame = one 8 kHz sample, no look-ahead.
        "G.711": Codec(
            name="G.711",
            ie=0.0,
            bpl=25.1,
            bpl_no_plc=4.3,
            frame_ms=0.125,
            lookahead_ms=0.0,
            bitrate_kbps=64.0,
            wideband=False,
            estimate=False,
            source=f"{_G113_I1}; {_G113_I3}; frame/bitrate ITU-T G.711",
        ),
        # G.729A + VAD: Ie 11 (Table I.1), Bpl 19.0 (Table I.3, 20 ms packets).
        # 10 ms frame + 5 ms look-ahead: ITU-T G.729 clause 2 (15 ms algorithmic delay).
        "G.729A+VAD": Codec(
            name="G.729A+VAD",
            ie=11.0,
            bpl=19.0,
            bpl_no_plc=None,
            frame_ms=10.0,
            lookahead_ms=5.0,
            bitrate_kbps=8.0,
            wideband=False,
            estimate=False,
            source=f"{_G113_I1}; {_G113_I3}; frame/look-ahead ITU-T G.729",
        ),
        # G.729 (no VAD): Ie 10 (Table I.1). G.113 gives Bpl only for G.729A+VAD; that
        # 19.0 is reused here, hence estimate=True.
        "G.729": Codec(
            name="G.729",
            ie=10.0,
            bpl=19.0,
            bpl_no_plc=None,
            frame_ms=10.0,
            lookahead_ms=5.0,
            bitrate_kbps=8.0,
            wideband=False,
            estimate=True,
            source=f"Ie: {_G113_I1}; Bpl: borrowed from G.729A+VAD in {_G113_I3}",
        ),
        # G.723.1 6.3 kbit/s (+VAD): Ie 15 (Table I.1), Bpl 16.1 (Table I.3, 30 ms).
        # 30 ms frame + 7.5 ms look-ahead: ITU-T G.723.1 clause 2.
        "G.723.1": Codec(
            name="G.723.1",
            ie=15.0,
            bpl=16.1,
            bpl_no_plc=None,
            frame_ms=30.0,
            lookahead_ms=7.5,
            bitrate_kbps=6.3,
            wideband=False,
            estimate=False,
            source=f"{_G113_I1}; {_G113_I3}; frame/look-ahead ITU-T G.723.1",
        ),
        # G.722 is wideband; G.107 is narrowband. G.113 Appendix IV publishes Ie,wb values
        # for G.722 on the G.107.1 wideband scale (Rmax 129); they are not valid on the
        # G.107 scale and are not used here. Narrowband-scale choice: rate G.722 like G.711
        # with PLC (Ie 0, Bpl 25.1), i.e. "at least as good as G.711"; this understates
        # its quality (the narrowband scale cannot express wideband benefit) and its Bpl is
        # an assumption. Look-ahead 1.5 ms approximates the QMF analysis+synthesis delay
        # (not verified against the G.722 text).
        "G.722": Codec(
            name="G.722",
            ie=0.0,
            bpl=25.1,
            bpl_no_plc=None,
            frame_ms=0.125,
            lookahead_ms=1.5,
            bitrate_kbps=64.0,
            wideband=True,
            estimate=True,
            source="estimate: G.711+PLC values of G.113 App. I applied on the narrowband scale",
        ),
        # Opus has no Ie/Bpl in any G.113 edition. Estimates: at >= 20 kbit/s Opus speech
        # rates at or above G.711 in listening tests (Ramo & Toukomaa, "Voice quality
        # characterization of IETF Opus codec", Interspeech 2011), so Ie 0 on the narrowband
        # scale; Opus has built-in PLC, Bpl taken from G.711+PLC (25.1). Frame 20 ms;
        # RFC 6716 section 2 gives 26.5 ms algorithmic delay at 20 ms frames -> 6.5 ms
        # look-ahead.
        "Opus-24": Codec(
            name="Opus-24",
            ie=0.0,
            bpl=25.1,
            bpl_no_plc=None,
            frame_ms=20.0,
            lookahead_ms=6.5,
            bitrate_kbps=24.0,
            wideband=True,
            estimate=True,
            source="estimate (no ITU-T value): Ie 0, Bpl of G.711+PLC; delay RFC 6716 s.2",
        ),
        # Opus at 12 kbit/s (SILK narrow/mediumband): assumed comparable to the 8 kbit/s
        # CELP family, so G.729's Ie 10 and G.729A+VAD's Bpl 19.0 are borrowed. Estimate.
        "Opus-12": Codec(
            name="Opus-12",
            ie=10.0,
            bpl=19.0,
            bpl_no_plc=None,
            frame_ms=20.0,
            lookahead_ms=6.5,
            bitrate_kbps=12.0,
            wideband=False,
            estimate=True,
            source="estimate (no ITU-T value): G.729 Ie/Bpl of G.113 App. I borrowed",
        ),
    }
)


# --------------------------------------------------------------------------------------
# Parameters and result
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EModelParams:
    """G.107 input parameters other than delay, codec and loss.

    Defaults are G.107 (06/2015) Table 3 (mT, sT: Table 1). Units: loudness ratings, STMR,
    LSTR, TELR, WEPL in dB; Ds, Dr dimensionless; Nc, Nfor in dBm0p; Ps, Pr in dB(A);
    qdu count; A (advantage factor) dimensionless; mT in ms.
    """

    slr: float = 8.0
    rlr: float = 2.0
    stmr: float = 15.0
    lstr: float = 18.0
    ds: float = 3.0
    dr: float = 3.0
    telr: float = 65.0
    wepl: float = 110.0
    qdu: float = 1.0
    nc: float = -70.0
    nfor: float = -64.0
    ps: float = 35.0
    pr: float = 35.0
    a: float = 0.0
    mt_ms: float = 100.0
    st: float = 1.0


DEFAULT_PARAMS: Final = EModelParams()


@dataclass(frozen=True)
class EModelResult:
    """R = Ro - Is - Id - Ie,eff + A (G.107 eq. 7-1) and its parts.

    ``r`` is not clipped (it may fall below 0 for very bad conditions); ``mos_cqe`` is the
    G.107 Annex B conversion of it. ``method`` says full or simplified model; for the
    simplified model ``ro`` is the constant 93.2 and ``is_`` is 0 (folded into 93.2).
    """

    r: float
    mos_cqe: float
    ro: float
    is_: float
    id: float
    ie_eff: float
    a: float
    method: str
    codec: str
    one_way_delay_ms: float
    loss_pct: float
    burst_r: float


# --------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------


def r_to_mos(r: float) -> float:
    """Estimated conversational MOS (MOS-CQE) from R, G.107 Annex B eq. B-4.

    MOS = 1 for R <= 0; 1 + 0.035 R + 7e-6 R (R - 60)(100 - R) for 0 < R < 100; 4.5 for
    R >= 100.
    """
    if r <= 0.0:
        return 1.0
    if r >= 100.0:
        return 4.5
    return 1.0 + 0.035 * r + 7e-6 * r * (r - 60.0) * (100.0 - r)


def burst_r_from_markov(p: float, q: float) -> float:
    """BurstR of a two-state Markov loss model, G.107 clause 7.5: BurstR = 1 / (p + q).

    ``p`` = P(loss | previous packet received), ``q`` = P(received | previous lost).
    Random (Bernoulli) loss has p + q = 1, hence BurstR = 1.
    """
    if not (0.0 <= p <= 1.0 and 0.0 <= q <= 1.0) or p + q == 0.0:
        raise ValueError(f"p and q must be probabilities with p + q > 0 (got p={p}, q={q})")
    return 1.0 / (p + q)


def ie_eff(ie: float, bpl: float, loss_pct: float, burst_r: float = 1.0) -> float:
    """Effective equipment impairment, G.107 eq. 7-29.

    Ie,eff = Ie + (95 - Ie) * Ppl / (Ppl / BurstR + Bpl), with Ppl the packet-loss
    probability in percent (network loss plus jitter-buffer discards).
    """
    _check_loss(loss_pct, burst_r)
    return ie + (95.0 - ie) * loss_pct / (loss_pct / burst_r + bpl)


def mouth_to_ear_delay_ms(
    network_delay_ms: float,
    jitter_buffer_ms: float,
    codec: str = "G.711",
    *,
    packet_ms: float = 20.0,
    processing_ms: float = 0.0,
) -> float:
    """Mean one-way mouth-to-ear delay T in ms, the delay input of the E-model.

    T = network one-way delay + jitter-buffer delay + packetisation (``packet_ms`` of speech
    collected before sending) + encoder look-ahead + ``processing_ms``. This is the
    delay budget of ITU-T G.114 (2003) Appendix I; encoder/decoder processing time is
    implementation specific (G.114 allows up to one frame), so it is a parameter.
    """
    spec = _codec(codec)
    parts = (network_delay_ms, jitter_buffer_ms, packet_ms, processing_ms)
    if any(part < 0.0 for part in parts):
        raise ValueError(f"delays must be >= 0 ms (got {parts})")
    return network_delay_ms + jitter_buffer_ms + packet_ms + spec.lookahead_ms + processing_ms


def _codec(name: str) -> Codec:
    try:
        return CODECS[name]
    except KeyError:
        known = ", ".join(sorted(CODECS))
        raise ValueError(f"unknown codec {name!r}; known codecs: {known}") from None


def _check_loss(loss_pct: float, burst_r: float) -> None:
    if not 0.0 <= loss_pct <= 100.0:
        raise ValueError(f"loss_pct must be within 0..100 (got {loss_pct})")
    if burst_r <= 0.0:
        raise ValueError(f"burst_r must be > 0 (got {burst_r})")


def _root(value: float, n: float) -> float:
    """n-th root of a positive value (typed; ``**`` with a float exponent is not)."""
    return math.pow(value, 1.0 / n)


def _db_sum(*levels: float) -> float:
    """Power addition of levels in dB: 10 log10(sum 10^(L/10))."""
    return 10.0 * math.log10(sum(10.0 ** (level / 10.0) for level in levels))


def _noise_no(p: EModelParams) -> float:
    """Total noise No in dBm0p, G.107 eqs. 7-3 .. 7-7."""
    olr = p.slr + p.rlr
    nos = p.ps - p.slr - p.ds - 100.0 + 0.004 * (p.ps - olr - p.ds - 14.0) ** 2  # 7-4
    pre = p.pr + 10.0 * math.log10(1.0 + 10.0 ** ((10.0 - p.lstr) / 10.0))  # 7-6
    nor = p.rlr - 121.0 + pre + 0.008 * (pre - 35.0) ** 2  # 7-5
    nfo = p.nfor + p.rlr  # 7-7
    return _db_sum(p.nc, nos, nor, nfo)  # 7-3


def _ro(p: EModelParams, no: float) -> float:
    """Basic signal-to-noise ratio Ro, G.107 eq. 7-2."""
    return 15.0 - 1.5 * (p.slr + no)


def _ist(p: EModelParams, t_ms: float) -> float:
    """Sidetone impairment Ist, G.107 eqs. 7-12, 7-13 (STMRo depends on T)."""
    stmro = -10.0 * math.log10(
        10.0 ** (-p.stmr / 10.0) + math.exp(-t_ms / 4.0) * 10.0 ** (-p.telr / 10.0)
    )
    return (
        12.0 * _root(1.0 + ((stmro - 13.0) / 6.0) ** 8, 8.0)
        - 28.0 * _root(1.0 + ((stmro + 1.0) / 19.4) ** 35, 35.0)
        - 13.0 * _root(1.0 + ((stmro - 3.0) / 33.0) ** 13, 13.0)
        + 29.0
    )


def _simultaneous(p: EModelParams, no: float, ro: float, t_ms: float) -> tuple[float, float]:
    """(Is, Ist): Is = Iolr + Ist + Iq, G.107 eqs. 7-8 .. 7-17."""
    olr = p.slr + p.rlr
    xolr = olr + 0.2 * (64.0 + no - p.rlr)  # 7-11
    iolr = 20.0 * (_root(1.0 + (xolr / 8.0) ** 8, 8.0) - xolr / 8.0)  # 7-10
    ist = _ist(p, t_ms)
    q = 37.0 - 15.0 * math.log10(p.qdu)  # 7-17
    g = 1.07 + 0.258 * q + 0.0602 * q**2  # 7-16
    y = (ro - 100.0) / 15.0 + 46.0 / 8.4 - g / 9.0  # 7-15
    z = 46.0 / 30.0 - g / 40.0  # 7-16 (Z)
    iq = 15.0 * math.log10(1.0 + 10.0**y + 10.0**z)  # 7-14
    return iolr + ist + iq, ist


def _idte(p: EModelParams, no: float, t_ms: float, ist: float) -> float:
    """Talker-echo impairment Idte, G.107 eqs. 7-19 .. 7-24 (incl. the STMR < 9 dB and
    STMR > 20 dB variants). Used unclamped, as G.107 writes it."""
    roe = -1.5 * (no - p.rlr)  # 7-20
    terv = (
        p.telr
        - 40.0 * math.log10((1.0 + t_ms / 10.0) / (1.0 + t_ms / 150.0))
        + 6.0 * math.exp(-0.3 * t_ms**2)
    )  # 7-22
    if p.stmr < 9.0:
        terv += ist / 2.0  # 7-23 (TERVs)
    re = 80.0 + 2.5 * (terv - 14.0)  # 7-21
    idte = ((roe - re) / 2.0 + math.sqrt((roe - re) ** 2 / 4.0 + 100.0) - 1.0) * (
        1.0 - math.exp(-t_ms)
    )  # 7-19
    if p.stmr > 20.0:
        idte = math.sqrt(idte**2 + ist**2)  # 7-24 (Idtes)
    return idte


def _idle(ro: float, p: EModelParams, tr_ms: float) -> float:
    """Listener-echo impairment Idle, G.107 eqs. 7-25, 7-26."""
    rle = 10.5 * (p.wepl + 7.0) / _root(tr_ms + 1.0, 4.0)
    return (ro - rle) / 2.0 + math.sqrt((ro - rle) ** 2 / 4.0 + 169.0)


def _idd(p: EModelParams, ta_ms: float) -> float:
    """Pure-delay impairment Idd, G.107 eqs. 7-27, 7-28: 0 up to mT, then
    25 {(1 + X^6sT)^(1/6sT) - 3 (1 + (X/3)^6sT)^(1/6sT) + 2}, X = log2(Ta / mT)."""
    if ta_ms <= p.mt_ms:
        return 0.0
    x = math.log10(ta_ms / p.mt_ms) / math.log10(2.0)
    e = 6.0 * p.st
    return 25.0 * (
        _root(1.0 + math.pow(x, e), e) - 3.0 * _root(1.0 + math.pow(x / 3.0, e), e) + 2.0
    )


def delay_impairment(one_way_delay_ms: float, params: EModelParams = DEFAULT_PARAMS) -> float:
    """Id = Idte + Idle + Idd (G.107 eq. 7-18) for mouth-to-ear delay T, with the usual
    VoIP assumption T = Ta and Tr = 2 T (echo path = absolute delay, round trip = 2 T)."""
    t = _check_delay(one_way_delay_ms)
    no = _noise_no(params)
    ro = _ro(params, no)
    _, ist = _simultaneous(params, no, ro, t)
    return _idte(params, no, t, ist) + _idle(ro, params, 2.0 * t) + _idd(params, t)


def _check_delay(one_way_delay_ms: float) -> float:
    if not one_way_delay_ms >= 0.0:
        raise ValueError(f"one_way_delay_ms must be >= 0 (got {one_way_delay_ms})")
    return one_way_delay_ms


def _loss_bpl(codec: Codec, plc: bool) -> float:
    if plc:
        return codec.bpl
    if codec.bpl_no_plc is None:
        raise ValueError(f"no Bpl without PLC is published for {codec.name}; use plc=True")
    return codec.bpl_no_plc


# --------------------------------------------------------------------------------------
# Public ratings
# --------------------------------------------------------------------------------------


def rating(
    *,
    one_way_delay_ms: float,
    loss_pct: float,
    burst_r: float = 1.0,
    codec: str = "G.711",
    plc: bool = True,
    params: EModelParams = DEFAULT_PARAMS,
) -> EModelResult:
    """Full G.107 E-model rating.

    ``one_way_delay_ms`` is the mean mouth-to-ear delay T (see ``mouth_to_ear_delay_ms``);
    T = Ta and Tr = 2 T are assumed (talker echo controlled per TELR). ``loss_pct`` is the
    packet-loss probability Ppl in percent including late (jitter-buffer) discards;
    ``burst_r`` the burst ratio (1 = random loss). With all defaults and no delay/loss
    R = 93.2 (G.107 clause 7.7), MOS 4.41.
    """
    t = _check_delay(one_way_delay_ms)
    spec = _codec(codec)
    bpl = _loss_bpl(spec, plc)
    no = _noise_no(params)
    ro = _ro(params, no)
    is_, ist = _simultaneous(params, no, ro, t)
    id_ = _idte(params, no, t, ist) + _idle(ro, params, 2.0 * t) + _idd(params, t)
    ie = ie_eff(spec.ie, bpl, loss_pct, burst_r)
    r = ro - is_ - id_ - ie + params.a
    return EModelResult(
        r=r,
        mos_cqe=r_to_mos(r),
        ro=ro,
        is_=is_,
        id=id_,
        ie_eff=ie,
        a=params.a,
        method=METHOD_FULL,
        codec=spec.name,
        one_way_delay_ms=t,
        loss_pct=loss_pct,
        burst_r=burst_r,
    )


def simplified_delay_impairment(one_way_delay_ms: float) -> float:
    """Id = 0.024 d + 0.11 (d - 177.3) H(d - 177.3), d in ms (Cole & Rosenbluth 2001);
    a piecewise-linear fit of G.107's Id for default parameters."""
    d = _check_delay(one_way_delay_ms)
    return 0.024 * d + (0.11 * (d - 177.3) if d > 177.3 else 0.0)


def simplified_rating(
    *,
    one_way_delay_ms: float,
    loss_pct: float,
    burst_r: float = 1.0,
    codec: str = "G.711",
    plc: bool = True,
) -> EModelResult:
    """The widely quoted *simplified* E-model: R = 93.2 - Id - Ie,eff.

    Id is Cole & Rosenbluth's linear fit; Ie,eff is G.107 eq. 7-29 with the G.113 codec
    values. Offered for comparison with tools that use it; ``rating`` is the reference.
    """
    spec = _codec(codec)
    id_ = simplified_delay_impairment(one_way_delay_ms)
    ie = ie_eff(spec.ie, _loss_bpl(spec, plc), loss_pct, burst_r)
    r = SIMPLIFIED_R0 - id_ - ie
    return EModelResult(
        r=r,
        mos_cqe=r_to_mos(r),
        ro=SIMPLIFIED_R0,
        is_=0.0,
        id=id_,
        ie_eff=ie,
        a=0.0,
        method=METHOD_SIMPLIFIED,
        codec=spec.name,
        one_way_delay_ms=one_way_delay_ms,
        loss_pct=loss_pct,
        burst_r=burst_r,
    )
