"""``netcheck history`` (issue 22: one pass, times formatted once, rows streamed) prints
exactly the table computed here independently from the SQLite rows, the plain way: every
cell formatted by itself (``time.localtime`` + ``strftime``, ``.2f``), every width the
longest formatted cell, control characters escaped as :mod:`netcheck.textsafe` shows them.

The rows are written with SQL, so the values are exactly what is tested: numbers whose
two-decimal rounding differs between Python (correct rounding of the binary value) and
SQLite's printf (0.125, 2.675, 1.005, 39.995, 0.045), starts across both daylight-saving
changes of Europe/Berlin (one local hour twice), a start 0.9999 s before a whole second, a
NULL in every number column, and an error text carrying an escape sequence and a newline.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from netcheck.agent import store as st
from netcheck.cli import cli
from netcheck.reports import history
from netcheck.textsafe import visible

HEADER = ("run", "started", "kind", "result", "delay_ms", "jitter_ms", "loss_pct", "mos", "handover_up",
          "failed_checks")
T_SPRING = 1_774_746_000.0  # 2026-03-29T01:00:00Z: Berlin 02:00 CET -> 03:00 CEST
T_AUTUMN = 1_792_890_000.0  # 2026-10-25T01:00:00Z: Berlin 03:00 CEST -> 02:00 CET
#: (started_ts, kind, outcome, verdict, delay, jitter, loss, mos, handover_up, failed_checks, error)
ROWS: list[tuple[Any, ...]] = [
    (T_SPRING - 1800, "full", "completed", "GO", 0.125, 2.675, 0.0, 4.39, 1, "", None),
    (T_SPRING - 0.0001, "monitor", "completed", "NO-GO", 1.005, 39.995, 0.045, 3.5, 1,
     "end_to_end.jitter_ms@platform,port.tcp.443@platform", None),
    (T_SPRING + 1800.9999, "full", "completed", "INCOMPLETE", None, None, None, None, 0, "", None),
    (T_AUTUMN - 1800, "full", "completed", "GO", 12345.678, 0.005, 100.0, 1.0, None, "", None),
    (T_AUTUMN + 1800, "full", "failed", None, None, 1.0, None, 4.1, None, "",
     "RuntimeError: boom \x1b[31mred\nforged line\t"),
    (T_AUTUMN + 5400, "full", "abandoned", None, -0.001, None, 2.5, None, None, "", "run exceeded its 600 s deadline"),
]


@pytest.fixture
def berlin(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process in Europe/Berlin: Python's localtime and SQLite's (the C library's
    localtime_r) both follow TZ after tzset."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _store(path: Path, rows: list[tuple[Any, ...]]) -> Path:
    with st.Store(path):
        pass  # schema
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO runs (started_ts, finished_ts, duration_s, kind, outcome, profile, host, verdict, delay_ms,"
            " jitter_ms, loss_pct, mos, handover_up, failed_checks, error)"
            " VALUES (?, ?, 12, ?, ?, 'demo', 'h', ?, ?, ?, ?, ?, ?, ?, ?)",
            [(r[0], r[0] + 12, *r[1:]) for r in rows])
    return path


def expected(path: Path) -> str:
    """The table from the rows, cell by cell (no shared code with netcheck.reports.history)."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT id, started_ts, kind, outcome, verdict, delay_ms, jitter_ms, loss_pct, mos,"
                          " handover_up, failed_checks, error FROM runs ORDER BY started_ts").fetchall()
    if not rows:
        return "no runs stored in this period\n"
    cells = [list(HEADER)]
    for rid, ts, kind, outcome, verdict, *nums, up, failed, err in rows:
        tail = " ".join(failed.split(",")) if failed else (err or "")
        cells.append([str(rid), time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)), kind, verdict or outcome,
                      *("-" if v is None else f"{v:.2f}" for v in nums), {1: "yes", 0: "NO", None: "-"}[up],
                      tail.replace("\n", "\\x0a")])
    widths = [max(len(c[k]) for c in cells) for k in range(9)]
    lines = ["  ".join([*(c[k].ljust(widths[k]) for k in range(9)), c[9]]).rstrip() for c in cells]
    return "".join(visible(line) + "\n" for line in lines)


def _history(path: Path, *args: str) -> str:
    out = CliRunner().invoke(cli, ["history", "--store", str(path), "--since", "3650d", *args])
    assert out.exit_code == 0, out.output
    return out.output


@pytest.mark.usefixtures("berlin")
def test_history_is_the_table_computed_from_the_rows(tmp_path: Path) -> None:
    db = _store(tmp_path / "h.db", ROWS)
    out = _history(db)
    assert out == expected(db)
    lines = out.splitlines()
    assert len(lines) == 1 + len(ROWS)  # the stored newline forged no line
    assert "0.12      2.67" in lines[1] and "1.00" in lines[2] and "39.99" in lines[2] and "0.04" in lines[2]
    assert "2026-03-29 01:59:59" in lines[2] and "2026-03-29 03:30:00" in lines[3]  # floor; the skipped hour
    assert "2026-10-25 02:30:00" in lines[4] and "2026-10-25 02:30:00" in lines[5]  # the hour seen twice
    assert "\\x1b[31mred\\x0aforged line" in lines[5] and "\x1b" not in out
    written = tmp_path / "h.txt"
    _history(db, "-o", str(written))
    assert written.read_text() == out  # the file holds what the screen shows


@pytest.mark.usefixtures("berlin")
def test_starts_outside_sqlites_exact_range_are_formatted_by_python(tmp_path: Path) -> None:
    """SQLite maps years outside 1971-2037 into that range for 'localtime': such a period
    (the CLI reaches back 10 years at most, to now; the library takes any) is formatted by
    Python, with the same result as the rows give."""
    rows = [(86_400.5, *ROWS[0][1:]), (2_200_000_000.0, *ROWS[1][1:])]  # 1970, 2039
    db = _store(tmp_path / "old.db", rows)
    with st.Store(db) as s:
        e = s.history_extent(0.0, 1e18)
        assert (e.runs, e.first_ts, e.last_ts) == (2, 86_400.5, 2_200_000_000.0)
        assert not history.sql_local_time_exact(e.first_ts, e.last_ts)
        out = "".join(history.table(s, 0.0, 1e18))
    assert out == expected(db)
    assert "1970-01-02 01:00:00" in out and "2039-09-19 01:06:40" in out


def test_a_leap_second_time_zone_is_formatted_by_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In a "right/" zone localtime_r counts leap seconds (23:59:60 exists), which SQLite's
    'localtime' arithmetic is not documented for: Python formats, as localtime shows it."""
    monkeypatch.setenv("TZ", "right/UTC")
    time.tzset()
    try:
        leap = next(t for t in range(1_483_228_800, 1_483_228_860) if time.localtime(t).tm_sec == 60)
        db = _store(tmp_path / "leap.db", [(float(leap), *ROWS[0][1:])])
        out = _history(db)
        assert not history.sql_local_time_exact(leap, leap)
        assert out == expected(db) and "2016-12-31 23:59:60" in out
    finally:
        monkeypatch.undo()
        time.tzset()


def test_an_empty_period(tmp_path: Path) -> None:
    db = _store(tmp_path / "empty.db", [])
    assert _history(db) == expected(db) == "no runs stored in this period\n"


def test_a_reader_that_stops_early_ends_the_output_quietly(tmp_path: Path) -> None:
    """``netcheck history | head``: the table is streamed; when the reader goes, the
    command stops without an error line and exits 0, as when the table was one write."""
    import subprocess
    import sys

    now = time.time()
    rows = [(now - 86400 + i, *ROWS[0][1:]) for i in range(3000)]  # ~300 kB: more than a pipe holds
    db = _store(tmp_path / "many.db", rows)
    proc = subprocess.Popen([sys.executable, "-m", "netcheck", "history", "--since", "2d", "--store", str(db)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().split()[:2] == [b"run", b"started"]
    proc.stdout.close()  # the reader is gone
    with proc.stderr:
        assert proc.wait(timeout=60) == 0
        assert proc.stderr.read() == b""


def test_history_loads_no_result_types(tmp_path: Path) -> None:
    """The command reads cells in SQL and formats them: a process running it imports neither
    msgspec nor the result types nor the run machinery (building the CLI's run options used
    to import the run input, 22 ms of a 250 ms budget: issue 22)."""
    import subprocess
    import sys

    db = _store(tmp_path / "h.db", ROWS)
    code = ("import sys; from netcheck.cli import cli; "
            f"cli.main(['history', '--store', {str(db)!r}, '--since', '3650d'], standalone_mode=False); "
            "loaded = ('msgspec', 'netcheck.result', 'netcheck.run.inputs', 'netcheck.profile', 'asyncio'); "
            "print('loaded:', ','.join(m for m in loaded if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.splitlines()[-1] == "loaded: " and len(out.splitlines()) == 1 + 1 + len(ROWS)
