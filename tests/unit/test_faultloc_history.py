"""The agent's history of fault location: per run, each segment's shares (metric rows) and
the segment the check blamed (``fault_segment.<segment>`` indicator rows), by hour of day.

The runs are built through the real pipeline: hop samples -> netcheck.analysis.pathseg.segments ->
netcheck.evaluate.faultloc.fault_check -> Store.put."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import msgspec

from netcheck.agent import store as st
from netcheck.agent import trends
from netcheck.analysis.pathseg import HopSamples, segments
from netcheck.evaluate import faultloc
from netcheck.result import Measurement
from tests.unit.test_store import T0, make_result, record

PATH = ("192.168.1.1", "100.64.0.1", "203.0.113.1", "198.51.100.10")


def _trace(isp_loss_every: int | None) -> Measurement:
    clean = tuple([1.0] * 20)
    lossy = tuple(None if isp_loss_every and i % isp_loss_every == 0 else 30.0 for i in range(20))
    hops = [HopSamples(1, PATH[0], clean), HopSamples(2, PATH[1], clean),
            HopSamples(3, PATH[2], lossy), HopSamples(4, PATH[3], lossy)]
    segs = segments(hops, gateway=PATH[0], target=PATH[3], reached=True)
    return Measurement(id="path_hops:sbc", probe="path_hops", target=PATH[3], method="udp-ttl-raw",
                       started_utc="2026-01-01T00:00:00.000Z", duration_s=10.0,
                       values={"segments": segs, "gateway": PATH[0]})  # type: ignore[dict-item]


def _run(isp_loss_every: int | None):  # type: ignore[no-untyped-def]
    base = make_result()
    trace = _trace(isp_loss_every)
    check = faultloc.fault_check("sbc", PATH[3], trace)
    return msgspec.structs.replace(base, measurements=[*base.measurements, trace],
                                   checks=[*base.checks, check])


def test_fault_segment_and_shares_are_kept_per_run(tmp_path: Path) -> None:
    with st.Store(tmp_path / "agent.db") as store:
        store.put(record(T0 + 9 * 3600, _run(isp_loss_every=4)))  # 09:00 UTC: ISP loses 25 %
        store.put(record(T0 + 9 * 3600 + 900, _run(isp_loss_every=5)))
        store.put(record(T0 + 14 * 3600, _run(isp_loss_every=None)))  # 14:00: clean
        rows = store.fault_segments()
        assert [r[3] for r in rows] == ["fault_segment.isp", "fault_segment.isp", "fault_segment.none"]
        assert {r[2] for r in rows} == {"path_hops:sbc"}
        loss = store.metric_series("segment.isp.loss_pct")
        assert [v for *_, v in loss] == [25.0, 20.0, 0.0]
        delay = store.metric_series("segment.isp.delay_ms")
        assert [v for *_, v in delay] == [29.0, 29.0, 29.0]
    by_hour = trends.fault_segments_by_hour(rows, lambda ts: trends.local_hour(ts, dt.UTC))
    assert by_hour == {9: {"isp": 2}, 14: {"none": 1}}


def test_trend_report_names_the_segment_per_hour(tmp_path: Path) -> None:
    from netcheck.reports import trend as trend_report

    with st.Store(tmp_path / "agent.db") as store:
        for i, every in enumerate((4, 5, None)):
            store.put(record(T0 + 9 * 3600 + 600 * i, _run(isp_loss_every=every)))
        rows, seg = store.runs(), store.fault_segments()
    t = trends.build(rows, [], since_ts=T0, until_ts=T0 + 86400, hour_of=lambda ts: trends.local_hour(ts, dt.UTC),
                     fault_segments=seg)
    assert t.fault_hours == {9: {"isp": 2, "none": 1}}
    text = trend_report.render(t, "text").decode()
    assert "fault segment" in text and "ISP 2/3" in text
    german = trend_report.render(t, "text", "de").decode()
    assert "Fehlerabschnitt" in german and "Internetanbieter 2/3" in german
