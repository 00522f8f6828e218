"""Pure parts of the stream probe: per-direction loss attribution, records, series, MOS inputs,
the ICMP echo codec, the Error Estimate encoding and the plan's responder address."""

from __future__ import annotations

import pytest

from netcheck.analysis import emodel
from netcheck.clock import error_estimate
from netcheck.probes import _stream_analysis as an
from netcheck.probes._stream_sessions import (
    StampReply,
    build_echo,
    inet_checksum,
    parse_echo_reply,
)
from netcheck.probes.stream import Spec
from netcheck.wire.stamp import ErrorEstimate, stamp_packet_size

MS = 1_000_000


def _reply(s: int, r: int, t1: int, fwd_ms: float = 5.0, bwd_ms: float = 7.0) -> StampReply:
    t2 = t1 + int(fwd_ms * MS)
    t3 = t2 + 10_000
    t4 = t3 + int(bwd_ms * MS)
    return StampReply(sender_seq=s, reflector_seq=r, t2_ns=t2, t3_ns=t3, t4_mono_ns=t4, t4_real_ns=t4,
                      ttl=250, estimate=ErrorEstimate())


def _scenario() -> tuple[list[int | None], list[int], list[StampReply]]:
    """Ten requests every 20 ms (both clocks = one clock). Request 3 is lost on the way out
    (the reflector never numbers it); the reply to request 6 is lost on the way back (the
    reflector numbered it 5, and 5 never comes back)."""
    t1 = [k * 20 * MS for k in range(10)]
    refl = {0: 0, 1: 1, 2: 2, 4: 3, 5: 4, 6: 5, 7: 6, 8: 7, 9: 8}
    replies = [_reply(s, r, t1[s]) for s, r in refl.items() if s != 6]
    return list(t1), t1, replies


def test_stateful_reflector_numbers_split_loss_by_direction() -> None:
    t1_mono, t1_real, replies = _scenario()
    lost_back, missing = an.backward_lost(range(10), an.first_replies(replies))  # type: ignore[arg-type]
    assert lost_back == {6}
    assert [seq for seq, _ in missing] == [5]
    rt, fwd, bwd = an.stamp_records(t1_mono, t1_real, replies)
    assert sorted(r.seq for r in rt if r.recv_ns is None) == [3, 6]
    assert [r.seq for r in fwd if r.recv_ns is None] == [3]
    assert 6 not in {r.seq for r in fwd}  # it arrived, but its T2 never reached us
    assert [r.seq for r in bwd if r.recv_ns is None] == [5]
    # the lost reply's send time is interpolated between its neighbours' T3
    t3_lost = next(r.send_ns for r in bwd if r.seq == 5)
    assert replies[4].t3_ns < t3_lost < replies[5].t3_ns


def test_directions_give_exact_delays_and_rtt_without_residence_time() -> None:
    t1_mono, t1_real, replies = _scenario()
    rt, fwd, bwd = an.stamp_records(t1_mono, t1_real, replies)
    cfg = an.StreamConfig("G.711", 20.0, 60.0, 10.0, None)
    f, b, r = an.summarize(fwd, cfg), an.summarize(bwd, cfg), an.summarize(rt, cfg)
    assert f.delay_ms and f.delay_ms.median == pytest.approx(5.0)
    assert b.delay_ms and b.delay_ms.median == pytest.approx(7.0)
    assert r.delay_ms and r.delay_ms.median == pytest.approx(12.0)  # 10 us in the reflector removed
    assert f.loss_pct == pytest.approx(100 / 9) and b.loss_pct == pytest.approx(100 / 9)
    assert r.loss_pct == pytest.approx(20.0)
    values = an.path_values(an.Views(r, f, b, True), cfg)
    assert values["one_way_delay_ms"] == 7.0 and values["one_way_delay_estimated"] is False
    assert values["loss_pct"] == pytest.approx(100 / 9, abs=1e-3)  # the worse direction, not the sum
    unsynced = an.path_values(an.Views(r, f, b, False), cfg)
    assert unsynced["one_way_delay_ms"] == 6.0 and unsynced["one_way_delay_estimated"] is True
    assert unsynced["owd_fwd_median_ms"] is None


def test_mos_follows_the_e_model_with_jitter_buffer_and_codec_delay() -> None:
    """No loss, 5/7 ms one way: T = 7 (worse direction min) + 60 buffer + 20 packet + 0."""
    t1 = [k * 20 * MS for k in range(50)]
    replies = [_reply(k, k, t1[k]) for k in range(50)]
    rt, fwd, bwd = an.stamp_records(list(t1), t1, replies)
    cfg = an.StreamConfig("G.711", 20.0, 60.0, 10.0, None)
    views = an.Views(an.summarize(rt, cfg), an.summarize(fwd, cfg), an.summarize(bwd, cfg), True)
    got = an.mos_values(views, cfg)
    want = emodel.rating(one_way_delay_ms=87.0, loss_pct=0.0, codec="G.711")
    assert got["mos_mouth_to_ear_ms"] == 87.0
    assert got["r_factor"] == round(want.r, 2) and got["mos"] == round(want.mos_cqe, 2)
    simple = emodel.simplified_rating(one_way_delay_ms=87.0, loss_pct=0.0, codec="G.711")
    assert got["mos_simplified"] == round(simple.mos_cqe, 2)
    assert "simplified" in str(got["mos_simplified_method"])


def test_windows_take_the_worse_direction_per_window() -> None:
    cfg = an.StreamConfig("G.711", 20.0, 60.0, 1.0, 200.0)
    from netcheck.analysis.stats import PacketRecord

    a = [PacketRecord(k, k * 20 * MS, None if k in (3, 4) else k * 20 * MS + MS) for k in range(100)]
    b = [PacketRecord(k, k * 20 * MS, None if k == 70 else k * 20 * MS + MS) for k in range(100)]
    sa, sb = an.summarize(a, cfg), an.summarize(b, cfg)
    assert an.windows_pct(sa, sb) == [4.0, 2.0]  # 2 of 50 in second 0 (a), 1 of 50 in second 1 (b)
    values = an.path_values(an.Views(sa, sa, sb, True), cfg)
    assert values["loss_worst_window_pct"] == 4.0
    assert values["burst_loss_pct"] == 20.0  # 2 of the 10 packets of the worst 200 ms window


def test_send_error_and_downsampling() -> None:
    v = an.send_error_values([0, 100_000, 200_000, 5_000_000])
    assert v["send_error_max_ms"] == 5.0 and v["send_error_p50_ms"] == 0.15
    assert an.send_error_values([])["send_error_p99_ms"] is None
    series = [float(i) for i in range(3000)]
    series[10] = None  # type: ignore[call-overload]
    out = an.downsample(series, 1500)
    assert len(out) == 1500 and out[0] == 1.0 and out[-1] == 2999.0
    assert an.downsample([None, None, 1.0, 2.0], 2) == [None, 2.0]


def test_inet_checksum_rfc1071_example() -> None:
    """RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (folded); checksum is
    its complement 220d."""
    assert inet_checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D


def test_echo_request_round_trip_and_reply_filter() -> None:
    req = build_echo(0x1234, 70_000, bytes(160))
    assert len(req) == 168 and inet_checksum(req) == 0  # a valid checksum sums to 0
    assert req[:2] == b"\x08\x00" and req[4:8] == bytes.fromhex("12341170")  # seq mod 2^16
    reply = b"\x00" + req[1:]
    ip = bytes([0x45]) + bytes(19)
    assert parse_echo_reply(ip + reply, v6=False, has_ip_header=True) == (0x1234, 70_000 & 0xFFFF)
    assert parse_echo_reply(req, v6=False, has_ip_header=False) is None  # our own request
    assert parse_echo_reply(b"\x81\x00" + req[2:], v6=True, has_ip_header=False) == (0x1234, 4464)


def test_error_estimate_covers_the_error() -> None:
    """RFC 4656 4.1.2: error = Multiplier * 2^(Scale-32) s, smallest scale that fits."""
    for seconds in (16.0, 0.001, 1e-6):
        est = error_estimate(False, seconds)
        assert est.seconds >= seconds and est.seconds < 2 * seconds + 2**-32
        assert 1 <= est.multiplier <= 255
    assert error_estimate(True, 16.0).to_int() == 0x9D80  # S=1, scale 29, multiplier 128


def test_packet_sizes_follow_the_codec() -> None:
    """RTP header 12 + 20 ms of payload (G.711 160, G.729 20, Opus-24 60), STAMP base minimum."""
    assert Spec(id="s", host="h", codec="G.711").payload_bytes() == 160
    assert stamp_packet_size(160, False) == 172
    assert stamp_packet_size(Spec(id="s", host="h", codec="G.729").payload_bytes(), False) == 44
    assert stamp_packet_size(60, True) == 112
    assert Spec(id="s", host="h", duration_s=30).count == 1500


def test_forward_series_keeps_each_packet_at_its_sequence_number() -> None:
    """Request 1's reply was lost on the way back: its forward delay is unknown (RFC 8762: T2
    travels in the reply), so the series has a gap there and request 2 stays at index 2."""
    t1 = [0, 20 * MS, 40 * MS]
    replies = [_reply(0, 0, t1[0], fwd_ms=5.0), _reply(2, 2, t1[2], fwd_ms=7.0)]  # reflector saw 0, 1, 2
    _rt, fwd, _bwd = an.stamp_records(t1, t1, replies)
    assert an.delay_series(fwd) == [5.0, None, 7.0]
