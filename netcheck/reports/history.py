"""The ``netcheck history`` table and CSV: one line per stored run of the agent.

Light on purpose (issue 22: ``history --since 365d`` within 250 ms as a whole process): it
imports neither the result types nor the report machinery. A year of 15-minute runs is
35,040 lines, so the table is made in one pass and streamed: the column widths come from
the period's extremes, aggregated in SQL (:meth:`netcheck.agent.store.Store.history_extent`);
the start times are formatted once, by SQLite's strftime in C where that is exactly what
Python's ``time.localtime`` gives (see :func:`sql_local_time_exact`); every line is one
``%`` format, chosen by which numbers are missing; the numbers are formatted by Python
(``.2f``: correctly rounded, as before; SQLite's printf rounds its own way).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any, Final

from netcheck.textsafe import visible_lines

if TYPE_CHECKING:
    from netcheck.agent.store import HistoryExtent, RunRow, Store

HISTORY_COLUMNS = ("run", "started", "kind", "result", "delay_ms", "jitter_ms", "loss_pct", "mos",
                   "handover_up", "failed_checks")
EMPTY: Final = "no runs stored in this period\n"
#: SQLite's 'localtime' is localtime_r of the value for UTC years 1971-2037; outside it maps
#: the year into that range (sqlite.org/lang_datefunc.html), so there Python formats.
_SQL_LOCAL_FIRST: Final = 31_536_000  # 1971-01-01T00:00:00Z
_SQL_LOCAL_END: Final = 2_145_916_800  # 2038-01-01T00:00:00Z
#: A time zone that counts leap seconds ("right/...") has localtime_r fields that are not
#: UTC plus the offset, while SQLite turns the fields into an offset and redoes the calendar
#: arithmetic (documented for ordinary zones only). Python formats there.
_LEAP_PROBE: Final = 1_483_228_830  # 2017-01-01T00:00:30Z, 27 leap seconds after 1972


def _n(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def history_cells(rows: Sequence[RunRow]) -> list[tuple[Any, ...]]:
    """The ``history --csv`` cells of store rows: (id, started_ts, kind, result, delay_ms,
    jitter_ms, loss_pct, mos, handover up as yes/NO/-, failed check ids or the error), the
    choices :meth:`netcheck.agent.store.Store.history_lines` makes in SQL for the table (a
    test holds the two equal)."""
    return [(r.id, r.started_ts, r.kind, r.verdict or r.outcome, r.delay_ms, r.jitter_ms, r.loss_pct, r.mos,
             "-" if r.handover_up is None else ("yes" if r.handover_up else "NO"),
             " ".join(r.failed_checks) or (r.error or "")) for r in rows]


def sql_local_time_exact(first_ts: float, last_ts: float) -> bool:
    """True when SQLite's ``datetime(..., 'unixepoch', 'localtime')`` of every start in
    [first_ts, last_ts] is the text ``time.strftime("%Y-%m-%d %H:%M:%S",
    time.localtime(ts))`` gives: both call the C library's localtime_r on the same whole
    second (floor of a positive time), unless SQLite maps the year or the zone counts
    leap seconds."""
    if not (_SQL_LOCAL_FIRST <= first_ts and last_ts < _SQL_LOCAL_END):
        return False
    t = time.localtime(_LEAP_PROBE)
    return t.tm_sec == (_LEAP_PROBE + t.tm_gmtoff) % 60


def widths(extent: HistoryExtent) -> list[int]:
    """Column widths of the first nine columns: the header's, or the longest value's (a
    number's longest text is its largest or smallest value's, at two decimals)."""
    def number(lo: float | None, hi: float | None) -> int:
        return 1 if lo is None or hi is None else max(1, len(f"{lo:.2f}"), len(f"{hi:.2f}"))

    data = [len(str(extent.max_id)), 19, extent.kind_len or 0, extent.result_len or 0,
            *(number(lo, hi) for lo, hi in extent.numbers), 3]
    return [max(len(h), w) for h, w in zip(HISTORY_COLUMNS, data, strict=False)]


def _line_formats(w: list[int]) -> list[str]:
    """One ``%`` format per null mask (bit k: number k is "-"); the mask itself, the
    first value of each row, is consumed by ``%.0s`` and prints nothing."""
    out = []
    for mask in range(16):
        nums = [f"%-{w[4 + k]}s" if mask >> k & 1 else f"%-{w[4 + k]}.2f" for k in range(4)]
        out.append("  ".join([f"%.0s%-{w[0]}s", f"%-{w[1]}s", f"%-{w[2]}s", f"%-{w[3]}s", *nums, f"%-{w[8]}s", "%s"]))
    return out


def table(store: Store, since_ts: float, until_ts: float) -> Generator[str, None, None]:
    """The history table of runs started in [since_ts, until_ts) as text chunks, header
    first; control characters shown as escapes (:func:`netcheck.textsafe.visible_lines`:
    stored host names and child error lines are shown, never obeyed)."""
    with store.snapshot():
        extent = store.history_extent(since_ts, until_ts)
        if not extent.runs:
            yield EMPTY
            return
        w = widths(extent)
        header = "  ".join(f"%-{x}s" for x in w) + "  %s"
        yield visible_lines((header % HISTORY_COLUMNS).rstrip() + "\n")
        assert extent.first_ts is not None and extent.last_ts is not None
        in_sql = sql_local_time_exact(extent.first_ts, extent.last_ts)
        fmts = _line_formats(w)
        for rows in store.history_lines(since_ts, until_ts, local_time=in_sql):
            if not in_sql:
                rows = [_with_local_time(r) for r in rows]
            yield visible_lines("\n".join([(fmts[r[0]] % r).rstrip() for r in rows]) + "\n")


def _with_local_time(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A row whose start is epoch seconds, with the start as local time text."""
    return (*row[:2], time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row[2])), *row[3:])


def history_csv(rows: Sequence[RunRow]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*HISTORY_COLUMNS, "started_ts", "duration_s", "outcome", "error"])
    for r, c in zip(rows, history_cells(rows), strict=True):
        w.writerow([c[0], dt.datetime.fromtimestamp(r.started_ts, dt.UTC).isoformat(), c[2], c[3],
                    *(_n(x) for x in c[4:8]), c[8], c[9], r.started_ts, r.duration_s, r.outcome, r.error or ""])
    return buf.getvalue()
