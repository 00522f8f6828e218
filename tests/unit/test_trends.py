"""Trend aggregation on a synthetic week whose truth is known by construction.

One week of 15-minute runs (672) in UTC; the line collapses every day 16:00-17:00 (jitter
35 ms > the 20 ms limit -> NO-GO) and the handover point is unreachable in exactly 2 runs.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from netcheck.agent import store as st
from netcheck.agent import trends
from netcheck.cli import cli, parse_duration
from netcheck.result import ErrorKind, Status
from tests.unit.test_store import T0, make_result, record

STEP = 900.0
N = 7 * 96
OUTAGES = {100, 400}


def utc_hour(ts: float) -> int:
    return trends.local_hour(ts, dt.UTC)


def week_result(i: int) -> st.RunRecord:
    ts = T0 + i * STEP
    if i in OUTAGES:
        return record(ts, make_result(error=ErrorKind.TIMEOUT))
    busy = utc_hour(ts) == 16
    return record(ts, make_result(jitter=35.0 if busy else 2.0 + (i % 4), loss=0.0,
                                  delay=12.0, mos=3.9 if busy else 4.3))


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("trend") / "week.db"
    with st.Store(db, synchronous="OFF") as s:  # test data only: no fsync needed
        for i in range(N):
            s.put(week_result(i))
    return db


def build(db: Path) -> trends.Trend:
    with st.Store(db) as s:
        assert sorted(s.check_counts()) == sorted(trends.count_checks(s.check_rows()))
        return trends.build(s.runs(), s.check_counts(), since_ts=T0, until_ts=T0 + N * STEP,
                            promise_pct=99.8, hour_of=utc_hour)


def test_busy_hour_is_the_collapsing_hour(week: Path) -> None:
    t = build(week)
    assert t.busy_hour == 16
    h16 = t.hours[16]
    assert (h16.runs, h16.completed, h16.nogo_share) == (28, 28, 1.0)
    assert (h16.jitter_p50_ms, h16.mos_min) == (35.0, 3.9)
    h10 = t.hours[10]  # 10:00: what a one-shot test sees
    assert h10.nogo_share == 0.0 and h10.jitter_p95_ms is not None and h10.jitter_p95_ms <= 5.0


def test_worst_windows_are_the_busy_hours(week: Path) -> None:
    t = build(week)
    assert len(t.worst_windows) == 5
    for w in t.worst_windows:
        assert utc_hour(w.start_ts) == 16 and (w.runs, w.nogo) == (4, 4)
        assert w.failed_checks == (("end_to_end.jitter_ms@platform", 4),)
    # ranked by jitter after NO-GO share; equal here, so oldest first
    assert [w.start_ts for w in t.worst_windows] == sorted(w.start_ts for w in t.worst_windows)


def test_availability_against_the_promise(week: Path) -> None:
    a = build(week).availability
    assert (a.samples, a.up, a.down, a.unknown) == (N, N - 2, 2, 0)
    assert a.pct == round(100 * (N - 2) / N, 3) == 99.702
    assert a.meets is False  # 99.702 % < 99.8 %
    assert a.resolution_pct == round(100 / N, 4)
    assert a.allowed_down_per_year_h == 17.52  # 0.2 % of 8760 h
    assert a.estimated_down_s == 2 * STEP


def test_failure_shares(week: Path) -> None:
    shares = {c.check_id: c for c in build(week).checks}
    jitter = shares["end_to_end.jitter_ms@platform"]
    assert (jitter.runs, jitter.fail, jitter.not_measured) == (N, 7 * 4, 2)
    assert jitter.fail_share == pytest.approx(28 / N)
    assert shares["port.tcp.443@platform"].fail == 0
    assert next(iter(build(week).checks)).check_id == "end_to_end.jitter_ms@platform"


def test_counts_and_interval(week: Path) -> None:
    t = build(week)
    assert t.runs == N and t.outcomes == {"completed": N}
    assert t.verdicts == {"GO": N - 28 - 2, "NO-GO": 28, "INCOMPLETE": 2}
    assert t.median_interval_s == STEP


def test_empty_period() -> None:
    t = trends.build([], [], since_ts=0, until_ts=1, promise_pct=99.8)
    assert (t.busy_hour, t.availability.pct, t.availability.meets, t.worst_windows) == (
        None, None, None, ())


@pytest.mark.parametrize(("text", "seconds"), [("15m", 900), ("2s", 2), ("90", 90), ("7d", 604800),
                                               ("1.5h", 5400), ("2w", 1209600)])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "15x", "-5m", "0s", "m"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_status_enum_order_is_the_stored_code() -> None:
    # the store keeps check statuses as their index in Status: appending is fine, reordering
    # would silently relabel history
    assert [s.value for s in Status][:5] == ["PASS", "WARN", "FAIL", "NOT_MEASURED", "SKIPPED"]


def _recent_store(tmp_path: Path) -> Path:
    import time

    db = tmp_path / "recent.db"
    now = time.time()
    with st.Store(db, synchronous="OFF") as s:
        for i in range(8):
            r = record(now - (8 - i) * STEP, make_result(jitter=30.0 if i == 5 else 3.0))
            s.put(r)
        s.put(record(now - 10 * 86400, make_result()))  # outside --since 7d
    return db


def test_history_cli_table_csv_and_report(tmp_path: Path) -> None:
    db = _recent_store(tmp_path)
    runner = CliRunner()
    out = runner.invoke(cli, ["history", "--store", str(db), "--since", "7d"])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].split()[:4] == ["run", "started", "kind", "result"]
    assert len(lines) == 1 + 8
    assert "NO-GO" in lines[6] and "end_to_end.jitter_ms@platform" in lines[6]
    csv_out = runner.invoke(cli, ["history", "--store", str(db), "--csv"])
    assert csv_out.exit_code == 0 and len(csv_out.output.splitlines()) == 1 + 8
    md = runner.invoke(cli, ["history", "--store", str(db), "--report", "markdown"])
    assert md.exit_code == 0, md.output
    assert "# netcheck trend report" in md.output
    assert "| title of end_to_end.jitter_ms@platform | 8 | 1 | 12.5 % |" in md.output  # titles, not ids
    html_path = tmp_path / "trend.html"
    res = runner.invoke(cli, ["history", "--store", str(db), "--report", "html", "-o",
                              str(html_path)])
    assert res.exit_code == 0, res.output
    page = html_path.read_text()
    assert page.startswith("<!doctype html>") and "<svg" in page and "<script" not in page


def test_history_cli_missing_store(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["history", "--store", str(tmp_path / "none.db")])
    assert res.exit_code == 2
    assert "no such store" in res.output


def test_history_cli_pdf(tmp_path: Path) -> None:
    pytest.importorskip("weasyprint", reason="PDF needs the report extra (WeasyPrint + pango)")
    db = _recent_store(tmp_path)
    out = tmp_path / "trend.pdf"
    args = ["history", "--store", str(db), "--report", "pdf", "-o", str(out)]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert out.read_bytes().startswith(b"%PDF-")
