"""Store: one transaction per run, summary columns, metric/check rows, retention, lock.

The results are built here with known numbers (the seeded truth each assertion names);
``make_result`` is shared with the trend tests.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from netcheck.agent import store as st
from netcheck.result import (
    Check,
    Environment,
    ErrorKind,
    Measurement,
    ProbeError,
    ProfileRef,
    RunResult,
    Site,
    Status,
    Verdict,
)

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def icmp(mid: str, *, delay: float | None = 10.0, jitter: float = 2.0, loss: float = 0.0,
         error: ErrorKind | None = None, mos: float | None = None) -> Measurement:
    """An ICMP-like path measurement with the value names the icmp probe writes."""
    values: dict[str, object] = {}
    if error is None:
        values = {"sent": 50, "received": 50 - round(loss / 2), "loss_pct": loss,
                  "rtt_median_ms": None if delay is None else 2 * delay, "jitter_ms": jitter,
                  "one_way_delay_ms": delay, "loss_worst_window_pct": loss * 2,
                  "address": "127.0.0.1"}
        if mos is not None:
            values["mos"] = mos
    return Measurement(id=mid, probe=mid.split(":")[0], target="127.0.0.1", method="icmp",
                       started_utc="2026-01-01T00:00:00.000Z", duration_s=10.0, values=values,
                       series={"rtt_ms": [20.0, None, 21.0]},
                       error=ProbeError(kind=error, detail="x") if error else None)


def check(cid: str, status: Status, group: str = "end_to_end", evidence: str = "icmp:platform",
          required: bool = True) -> Check:
    return Check(id=cid, title=f"title of {cid}", status=status, required=required,
                 reason="r", group=group, evidence=[evidence])


def make_result(*, started_utc: str = "2026-01-01T00:00:00.000Z", delay: float | None = 10.0,
                jitter: float = 2.0, loss: float = 0.0, mos: float | None = None,
                error: ErrorKind | None = None, port_ok: bool = True) -> RunResult:
    """A run with a handover path (platform), a LAN path (gateway) and one port check."""
    paths = [icmp("icmp:platform", delay=delay, jitter=jitter, loss=loss, error=error, mos=mos),
             icmp("icmp:gateway", delay=0.5, jitter=0.1)]
    path_status = Status.NOT_MEASURED if error else (Status.FAIL if jitter > 20 else Status.PASS)
    checks = [
        check("end_to_end.jitter_ms@platform", path_status),
        check("end_to_end.loss_pct@platform", Status.NOT_MEASURED if error else Status.PASS),
        check("layer2.jitter_ms@gateway", Status.PASS, "layer2", "icmp:gateway"),
        check("port.tcp.443@platform", Status.PASS if port_ok else Status.FAIL, "ports", "tcp:0"),
    ]
    statuses = [c.status for c in checks]
    verdict = (Verdict.NO_GO if Status.FAIL in statuses else
               Verdict.INCOMPLETE if Status.NOT_MEASURED in statuses else Verdict.GO)
    env = Environment(netcheck_version="0", python="3.11", os="test", hostname="h",
                      started_utc=started_utc, finished_utc=started_utc, duration_s=10.0)
    return RunResult(schema_version=1, verdict=verdict,
                     profile=ProfileRef(id="demo", name="Demo", path="profiles/demo.yaml"),
                     site=Site(customer="ACME"), environment=env, measurements=paths,
                     checks=checks, summary={s.value: statuses.count(s) for s in Status})


def record(ts: float, result: RunResult | None = None, outcome: st.Outcome = st.Outcome.COMPLETED,
           kind: str = "full", error: str | None = None) -> st.RunRecord:
    return st.RunRecord(started_ts=ts, finished_ts=ts + 10.0, kind=kind, outcome=outcome,
                        profile="demo", host="h", result=result, error=error)


@pytest.fixture
def store(tmp_path: Path) -> st.Store:
    s = st.Store(tmp_path / "agent.db")
    yield s
    s.close()


def test_open_sets_wal_full_and_schema_version(store: st.Store) -> None:
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # 2 = FULL
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == st.SCHEMA_VERSION


def test_put_round_trips_document_and_summary(store: st.Store) -> None:
    result = make_result(delay=12.5, jitter=31.0, loss=0.4, mos=3.9)
    run_id = store.put(record(T0, result))
    assert store.document(run_id) == result
    (row,) = store.runs()
    assert (row.id, row.verdict, row.outcome) == (run_id, "NO-GO", "completed")
    assert row.duration_s == 10.0
    # worst *handover* path only: the gateway's 0.5 ms / 0.1 ms never count here
    assert (row.delay_ms, row.jitter_ms, row.loss_pct, row.mos) == (12.5, 31.0, 0.4, 3.9)
    assert row.handover_up is True
    assert row.failed_checks == ("end_to_end.jitter_ms@platform",)
    assert (row.n_fail, row.n_warn, row.n_not_measured) == (1, 0, 0)


def test_metric_and_check_rows(store: st.Store) -> None:
    store.put(record(T0, make_result(jitter=7.0)))
    store.put(record(T0 + 900, make_result(jitter=9.0)))
    jitter = store.metric_series("jitter_ms")
    assert [(m, v) for _, _, m, v in jitter] == [
        ("icmp:platform", 7.0), ("icmp:gateway", 0.1),
        ("icmp:platform", 9.0), ("icmp:gateway", 0.1),
    ]
    assert [v for *_, v in store.metric_series("up")] == [1.0, 1.0, 1.0, 1.0]
    rows = store.check_rows()
    assert len(rows) == 8 and rows[0].title == "title of end_to_end.jitter_ms@platform"
    assert {r.status for r in rows} == {Status.PASS}


def test_outage_and_local_limit_are_told_apart() -> None:
    # a timeout to the far end is an outage; a permission error says nothing about it
    assert st.path_up(icmp("icmp:p", error=ErrorKind.TIMEOUT)) is False
    assert st.path_up(icmp("icmp:p", error=ErrorKind.PERMISSION)) is None
    assert st.path_up(icmp("icmp:p")) is True


def test_failed_run_without_document(store: st.Store) -> None:
    run_id = store.put(record(T0, None, st.Outcome.FAILED, error="RuntimeError: boom"))
    (row,) = store.runs()
    assert (row.outcome, row.verdict, row.handover_up) == ("failed", None, None)
    assert row.error == "RuntimeError: boom"
    assert store.document(run_id) is None


def test_time_range_and_last_run(store: st.Store) -> None:
    for i in range(10):
        store.put(record(T0 + i * 900, make_result(), kind="monitor" if i % 2 else "full"))
    assert [r.started_ts for r in store.runs(T0 + 900, T0 + 3 * 900)] == [T0 + 900, T0 + 1800]
    assert store.last_run().started_ts == T0 + 9 * 900  # type: ignore[union-attr]
    assert store.last_run(kind="full").started_ts == T0 + 8 * 900  # type: ignore[union-attr]
    query = "EXPLAIN QUERY PLAN SELECT id FROM runs WHERE started_ts >= 1"
    plan = store.db.execute(query).fetchall()
    assert "runs_started" in str(plan)


def test_prune_deletes_in_batches_and_cascades(store: st.Store) -> None:
    for i in range(25):
        store.put(record(T0 + i * 900, make_result()))
    store.event("agent_start", "x", ts=T0)
    assert store.prune(T0 + 20 * 900, batch=7) == 20
    assert len(store.runs()) == 5
    n_metrics = store.db.execute("SELECT count(*) FROM metrics").fetchone()[0]
    n_checks = store.db.execute("SELECT count(*) FROM checks").fetchone()[0]
    assert (n_metrics, n_checks) == (5 * len(list(st.metric_rows(make_result()))), 5 * 4)
    assert store.events() == []
    assert store.integrity_check() == "ok"


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version={st.SCHEMA_VERSION + 1}")
    with pytest.raises(st.StoreError, match="newer than this netcheck"):
        st.Store(path)


def test_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(st.StoreError, match=r"junk\.db"):
        st.Store(path)


def test_instance_lock_is_exclusive_across_processes(tmp_path: Path) -> None:
    db = tmp_path / "agent.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from netcheck.agent.store import InstanceLock;"
         f"l = InstanceLock({str(db)!r}); l.acquire(); print('locked', flush=True);"
         "sys.stdin.read()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(st.LockHeld, match=f"pid {holder.pid}"):
            st.InstanceLock(db).acquire()
    finally:
        holder.communicate("", timeout=10)
    # the holder is gone: the lock is free again (no stale-lock cleanup needed)
    with st.InstanceLock(db):
        assert (tmp_path / "agent.db.lock").read_text().strip() == str(os.getpid())


def test_history_cells_from_sql_equal_the_rows(store: st.Store) -> None:
    """`netcheck history` reads cells straight from SQL (Store.history_lines); they must be
    what the rows give (reports.history.history_cells, the CSV's): a GO, a NO-GO with
    failed checks, a handover that did not answer, and a failed run with its error and no
    document."""
    from netcheck.reports import history

    store.put(record(T0, make_result()))
    store.put(record(T0 + 900, make_result(jitter=25.0, port_ok=False)))
    store.put(record(T0 + 1800, make_result(error=ErrorKind.TIMEOUT, delay=None)))
    store.put(record(T0 + 2700, None, st.Outcome.FAILED, error="RuntimeError: boom"))
    rows = history.history_cells(store.runs())
    # the SQL cells without their null mask, a NULL number back as None (SQL gives "-")
    sql = [tuple(None if k in range(4, 8) and c == "-" else c for k, c in enumerate(line[1:]))
           for chunk in store.history_lines(local_time=False) for line in chunk]
    assert sql == rows
    assert [c[3] for c in sql] == ["GO", "NO-GO", "INCOMPLETE", "failed"]
    assert sql[1][9] == "end_to_end.jitter_ms@platform port.tcp.443@platform"
    assert [c[8] for c in sql] == ["yes", "yes", "NO", "-"] and sql[3][9] == "RuntimeError: boom"
    table = "".join(history.table(store, 0.0, 1e18)).splitlines()
    assert table[0].split() == list(history.HISTORY_COLUMNS) and len(table) == 5
    assert table[2].split()[5:8] == ["10.00", "25.00", "0.00"]  # delay, jitter, loss as stored
