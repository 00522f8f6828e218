"""Verdict rules over the whole call (issue 14): jitter judged on a statistic of the whole
call (RFC 3550 section 6.4.1 / appendix A.8 running estimate, its 95th percentile), loss on
the worst *sliding* window as the providers wrote it (VSE NET "< 1 % in a 10 s interval",
Teams "any 15 s interval", shared/REQUIREMENTS.md), duplicates per direction (RFC 8762 4.2
reflector numbering), late (jitter-buffer) loss beside network loss."""

from __future__ import annotations

import random

import pytest

from netcheck import evaluate
from netcheck import profile as prof
from netcheck.analysis.stats import JITTER_STATISTIC, PacketRecord, jitter_summary, summarize_stream
from netcheck.probes import _stream_analysis as an
from netcheck.probes._stream_sessions import StampReply
from netcheck.result import Measurement, Status
from netcheck.wire.stamp import ErrorEstimate

MS = 1_000_000
PPS = 50  # one G.711 frame every 20 ms


def _call(extra_delay_ms: list[float | None], base_ms: float = 10.0) -> list[PacketRecord]:
    """A round-trip call sent every 20 ms; extra delay None = lost."""
    t0 = 10**12
    out = []
    for i, d in enumerate(extra_delay_ms):
        send = t0 + i * 20 * MS
        out.append(PacketRecord(i, send, None if d is None else send + round((base_ms + d) * MS)))
    return out


def _jittery(n: int, rng: random.Random) -> list[float | None]:
    """Uniform 0..80 ms extra delay: E|D| of two independent U(0, 80) = 80/3 = 26.7 ms."""
    return [rng.uniform(0.0, 80.0) for _ in range(n)]


def _stimme_jitter_check(records: list[PacketRecord]) -> tuple[Status, Measurement]:
    """Judge a round-trip call against stimme's "jitter must not exceed 20 ms"."""
    cfg = an.StreamConfig("G.711", 20.0, 60.0, 10.0, None)
    rt = an.summarize(records, cfg)
    values = an.path_values(an.Views(rt, None, None, False), cfg)
    m = Measurement(id="stream:platform", probe="stream", target="t", method="stamp",
                    started_utc="2026-01-01T00:00:00Z", duration_s=30.0, values=values)
    checks = {c.id: c for c in evaluate.evaluate(prof.load("stimme"), [m])}
    check = checks["end_to_end.jitter_ms@platform"]
    assert JITTER_STATISTIC in check.reason  # the check names the statistic it judged
    return check.status, m


@pytest.mark.parametrize("seconds", [10, 30, 60])
def test_jittery_call_with_a_clean_last_second_fails(seconds: int) -> None:
    """80 % of the call above 20 ms jitter, then calm: the final RFC 3550 value has decayed
    far below the limit (J -= J/16 per packet), the whole-call statistic has not."""
    rng = random.Random(14)
    n = seconds * PPS
    bad = int(n * 0.8)
    status, m = _stimme_jitter_check(_call(_jittery(bad, rng) + [0.0] * (n - bad)))
    assert status is Status.FAIL
    assert m.values["jitter_final_ms"] < 1.0 < 20.0 < m.values["jitter_ms"]  # type: ignore[operator]
    assert m.values["jitter_max_ms"] >= m.values["jitter_ms"]  # type: ignore[operator]


@pytest.mark.parametrize("seconds", [30, 60])
def test_clean_call_with_one_bad_last_second_passes(seconds: int) -> None:
    """One jittery second at the end (under 5 % of the call): the final value alone would
    fail the call, the whole-call statistic does not."""
    rng = random.Random(3550)
    n = seconds * PPS
    status, m = _stimme_jitter_check(_call([0.0] * (n - PPS) + _jittery(PPS, rng)))
    assert status is Status.PASS
    assert m.values["jitter_final_ms"] > 20.0 > m.values["jitter_ms"]  # type: ignore[operator]


def test_jitter_summary_is_the_p95_of_the_running_estimate() -> None:
    # 20 values 1..20: p95 by linear interpolation h = 19 * 0.95 = 18.05 -> 19.05
    s = jitter_summary([float(v) for v in range(1, 21)])
    assert s is not None
    assert (s.judged_ms, s.max_ms, s.final_ms, s.samples) == (pytest.approx(19.05), 20.0, 20.0, 20)
    assert jitter_summary([]) is None


def _vse_loss_check(records: list[PacketRecord]) -> tuple[Status, str, dict[str, object]]:
    cfg = an.StreamConfig("G.711", 20.0, 60.0, 10.0, None)
    rt = an.summarize(records, cfg)
    values = an.path_values(an.Views(rt, None, None, False), cfg)
    m = Measurement(id="stream:handover", probe="stream", target="t", method="icmp-50pps",
                    started_utc="2026-01-01T00:00:00Z", duration_s=30.0, values=values)
    checks = {c.id: c for c in evaluate.evaluate(prof.load("managed-com-business"), [m])}
    check = checks["handover.loss_pct@handover"]
    return check.status, check.reason, values


@pytest.mark.parametrize("edge_s", [10, 20])
def test_loss_burst_straddling_a_window_edge_fails_the_any_10_s_rule(edge_s: int) -> None:
    """VSE NET: "max packet loss < 1 % (in a 10 s burst interval)". 8 losses around the
    edge: 0.8 % in each fixed window, but 8/500 = 1.6 % in the 10 s interval holding them."""
    delays: list[float | None] = [0.0] * (30 * PPS)
    edge = edge_s * PPS
    for i in range(edge - 4, edge + 4):
        delays[i] = None
    status, reason, values = _vse_loss_check(_call(delays))
    assert values["loss_windows_pct"][edge_s // 10 - 1: edge_s // 10 + 1] == [0.8, 0.8]  # type: ignore[index]
    assert status is Status.FAIL
    assert values["loss_worst_window_pct"] == pytest.approx(1.6)
    assert values["loss_worst_window_start_s"] == pytest.approx((edge - 4) * 0.02)
    assert f"from {(edge - 4) * 0.02:g} s to {(edge + 496) * 0.02:g} s into the call" in reason  # where it was


def test_spread_loss_below_one_percent_in_every_interval_passes() -> None:
    """4 losses per 10 s, evenly spread: every 10 s interval holds at most 4/500 = 0.8 %."""
    delays: list[float | None] = [0.0] * (30 * PPS)
    for i in range(0, len(delays), 125):
        delays[i] = None
    status, _, values = _vse_loss_check(_call(delays))
    assert status is Status.PASS
    assert values["loss_worst_window_pct"] == pytest.approx(0.8)


def test_late_loss_and_mos_are_shown_beside_network_loss() -> None:
    """A 100 ms delay spike beyond the 60 ms jitter buffer: 10 packets arrive but are
    discarded (late); the loss check shows them, and the MOS although stimme sets no limit."""
    delays: list[float | None] = [0.0] * (30 * PPS)
    for i in range(700, 710):
        delays[i] = 100.0
    cfg = an.StreamConfig("G.711", 20.0, 60.0, 10.0, None)
    rt = an.summarize(_call(delays), cfg)
    views = an.Views(rt, None, None, False)
    values = {**an.path_values(views, cfg), **an.mos_values(views, cfg)}
    assert values["late_pct"] == pytest.approx(10 / 1500 * 100, abs=1e-3)
    m = Measurement(id="stream:platform", probe="stream", target="t", method="stamp",
                    started_utc="2026-01-01T00:00:00Z", duration_s=30.0, values=values)
    loss = next(c for c in evaluate.evaluate(prof.load("stimme"), [m]) if c.id == "end_to_end.loss_pct@platform")
    assert loss.status is Status.PASS  # network loss 0 %
    assert "late" in loss.reason and "0.6667 %" in loss.reason
    assert f"MOS {values['mos']:g}" in loss.reason


def _reply(s: int, r: int, t1: int) -> StampReply:
    t2 = t1 + 5 * MS
    return StampReply(sender_seq=s, reflector_seq=r, t2_ns=t2, t3_ns=t2 + 10_000, t4_mono_ns=t2 + 7 * MS,
                      t4_real_ns=t2 + 7 * MS, ttl=250, estimate=ErrorEstimate())


def test_duplicates_are_counted_per_direction() -> None:
    """RFC 8762 4.2: a stateful reflector numbers every request it receives. Request 2 was
    duplicated on the way out (numbered 2 and 3), request 5 lost on the way out, and the
    reply numbered 6 duplicated on the way back: 1 up, 1 down, no loss backwards."""
    t1 = [k * 20 * MS for k in range(9)]
    refl = [(0, 0), (1, 1), (2, 2), (2, 3), (3, 4), (4, 5), (6, 6), (6, 6), (7, 7), (8, 8)]
    replies = [_reply(s, r, t1[s]) for s, r in refl]
    rt, fwd, bwd = an.stamp_records(list(t1), t1, replies)
    cfg = an.StreamConfig("G.711", 20.0, 60.0, 10.0, None)
    f, b = summarize_stream(fwd), summarize_stream(bwd)
    assert (f.duplicates, f.lost) == (1, 1)
    assert (b.duplicates, b.lost) == (1, 0)
    values = an.path_values(an.Views(an.summarize(rt, cfg), f, b, True), cfg)
    assert (values["duplicates_fwd"], values["duplicates_bwd"]) == (1, 1)


def test_upstream_duplicate_does_not_hide_a_forward_loss_as_backward() -> None:
    """Request 1 duplicated (numbers 1, 2), request 2 lost on the way out: reflector numbers
    1..3 all came back, so nothing was lost backwards and request 2 is a forward loss."""
    t1 = [k * 20 * MS for k in range(4)]
    replies = [_reply(0, 0, t1[0]), _reply(1, 1, t1[1]), _reply(1, 2, t1[1]), _reply(3, 3, t1[3])]
    _, fwd, bwd = an.stamp_records(list(t1), t1, replies)
    assert [r.seq for r in fwd if r.recv_ns is None] == [2]
    assert all(r.recv_ns is not None for r in bwd)
    assert summarize_stream(fwd).duplicates == 1


def test_the_notes_are_translated_in_german_reports() -> None:
    """The window position, late loss and MOS notes come out in the report's language."""
    from netcheck.reports import checktext
    from netcheck.reports.i18n import Catalogue

    delays: list[float | None] = [0.0] * (30 * PPS)
    for i in range(496, 504):
        delays[i] = None
    cfg = an.StreamConfig("G.711", 20.0, 60.0, 10.0, None)
    views = an.Views(an.summarize(_call(delays), cfg), None, None, False)
    values = {**an.path_values(views, cfg), **an.mos_values(views, cfg), "jitter_buffer_ms": 60.0}
    m = Measurement(id="stream:handover", probe="stream", target="t", method="icmp-50pps",
                    started_utc="2026-01-01T00:00:00Z", duration_s=30.0, values=values)
    checks = {c.id: c for c in evaluate.evaluate(prof.load("managed-com-business"), [m])}
    de = checktext.reason(checks["handover.loss_pct@handover"], Catalogue("de"))
    assert "schlechtestes Intervall von 10 s; von 9,92 s bis 19,92 s nach Gesprächsbeginn, Hin- und Rückweg" in de
    assert "vom Jitterpuffer mit 60 ms verworfen" in de
    jitter = checktext.reason(checks["handover.jitter_ms@handover"], Catalogue("de"))
    assert "p95 des laufenden RFC-3550-Jitters" in jitter and "Endwert" in jitter
