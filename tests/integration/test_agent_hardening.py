"""The agent never loses a run (issue 21): kill -9 at seeded random points leaves no
orphan and a record for every started run; a full or read-only store is one clear error
and no partial row; a wall-clock jump neither skips nor doubles a run; two agents on one
store (also through a symlink) are refused.

Real agent processes on loopback (the demo profile with a 1 s stream, as in
test_agent.py), a real SQLite store, a real tmpfs for the full/read-only file system.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from netcheck.agent import agent as ag
from netcheck.agent import store as st
from netcheck.result import from_json
from netcheck.run.inputs import RunInput
from tests.integration.test_agent import ROOT, runs, wait_for, write_profile

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="process groups, /proc and tmpfs: Linux")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
GO = ROOT / "tests" / "data" / "results" / "v1" / "go.json"


def _tagged_pids(tag: str) -> list[int]:
    """Processes whose environment carries ``tag`` (the agent's children inherit it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if tag.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
    return found


def _agent(tag: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "NETCHECK_TEST_TAG": tag}
    return subprocess.Popen([sys.executable, "-m", "netcheck", "agent", *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _events(db: Path, kind: str) -> list[st.Event]:
    if not db.exists():
        return []
    with st.Store(db) as s:
        return [e for e in s.events() if e.kind == kind]


def test_kill_9_at_seeded_random_points_leaves_no_orphan_and_a_record_per_run(tmp_path: Path) -> None:
    rng = random.Random(2121)
    profile, db = write_profile(tmp_path, "agent-kill", 1), tmp_path / "k.db"
    tag = f"harden-{uuid.uuid4().hex}"
    for i in range(5):
        proc = _agent(tag, "--profile", str(profile), "--every", "1s", "--store", str(db))
        try:
            wait_for(lambda i=i: len(_events(db, "agent_start")) > i, 60, "the agent to start")
            time.sleep(rng.uniform(0.2, 5.0))  # anywhere: between runs, in the child, storing
        finally:
            proc.kill()  # SIGKILL: no handler, no cleanup
            proc.communicate(timeout=30)
        wait_for(lambda: not _tagged_pids(tag), 10, "the agent's children to die with it")
    final = _agent(tag, "--profile", str(profile), "--once", "--store", str(db))
    _out, err = final.communicate(timeout=120)
    assert final.returncode == 0, err
    assert not _tagged_pids(tag)
    stored = {r.started_ts: r for r in runs(db)}
    started = _events(db, "run_start")
    assert started, "no run was started: the kill points are too early to test anything"
    missing = [e.ts for e in started if e.ts not in stored]
    assert not missing, f"started runs without a record: {missing}"
    interrupted = [r for r in stored.values() if r.error and r.error.startswith("interrupted")]
    assert all(r.outcome == "abandoned" for r in interrupted)
    assert stored[max(stored)].outcome == "completed"  # the --once run after the kills


def test_an_interrupted_run_is_stored_as_abandoned_at_the_next_start(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    with st.Store(db) as s:
        s.event("run_start", '{"kind": "monitor", "pid": 1}', ts=1_790_000_000.25)
        cfg = ag.Config(run=RunInput(profile="demo"), profile_id="demo", store_path=db, every_s=60, jitter_s=0)
        agent = ag.Agent(cfg, s)
        assert agent.recover() == 1
        assert agent.recover() == 0  # recorded once
        (row,) = s.runs()
    assert (row.started_ts, row.kind, row.outcome) == (1_790_000_000.25, "monitor", "abandoned")
    assert row.error is not None and "killed, crashed or power loss" in row.error


def test_a_second_agent_through_a_symlink_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    link = tmp_path / "link.db"
    link.symlink_to(db)
    with st.InstanceLock(db), pytest.raises(st.LockHeld, match="another netcheck agent"):
        st.InstanceLock(link).acquire()


# ------------------------------------------------------------------ full / read-only store


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "fs"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _record(ts: float) -> st.RunRecord:
    return st.RunRecord(started_ts=ts, finished_ts=ts + 30, kind="full", outcome=st.Outcome.COMPLETED,
                        profile="stimme", host="test", result=from_json(GO.read_bytes()))


def _fill(directory: Path) -> None:
    with (directory / "filler").open("wb") as fh, contextlib.suppress(OSError):
        while True:
            fh.write(b"\0" * 65536)
            fh.flush()


def _row_counts(db: Path) -> tuple[int, ...]:
    with st.Store(db) as s:
        return tuple(s.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                     for t in ("runs", "documents", "metrics", "checks"))


@needs_root
def test_a_full_file_system_is_a_clear_error_and_no_partial_row(small_fs: Path) -> None:
    db = small_fs / "agent.db"
    with st.Store(db) as s:
        s.put(_record(1_790_000_000.0))
    before = _row_counts(db)
    with st.Store(db) as s:  # open, as the agent holds it, when the disk fills up
        _fill(small_fs)
        with pytest.raises(st.StoreError, match="the file system is full; nothing was stored"):
            for i in range(50):  # the WAL may still hold a page or two
                s.put(_record(1_790_000_100.0 + i))
        with pytest.raises(st.StoreError, match="the file system is full"):
            st.Store(small_fs / "new.db")  # a store that cannot even be created
        (small_fs / "filler").unlink()
        assert s.integrity_check() == "ok"
    after = _row_counts(db)
    assert after[0] - before[0] == (after[1] - before[1])  # each stored run whole ...
    assert (after[2] - before[2]) == (after[0] - before[0]) * before[2]  # ... with all its rows


@needs_root
def test_a_read_only_store_is_a_clear_error(small_fs: Path, tmp_path: Path) -> None:
    db = small_fs / "agent.db"
    with st.Store(db) as s:
        s.put(_record(1_790_000_000.0))
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    with pytest.raises(st.StoreError, match="the store is read-only"):
        st.Store(db)
    profile = write_profile(tmp_path, "agent-ro", 1)
    proc = _agent("ro", "--profile", str(profile), "--once", "--store", str(db))
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    (line,) = err.strip().splitlines()[-1:]
    assert line.startswith("error: ") and ("read-only" in line.lower()) and "Traceback" not in err
    with contextlib.closing(sqlite3.connect(f"file:{db}?immutable=1", uri=True)) as ro:
        assert ro.execute("SELECT count(*) FROM runs").fetchone()[0] == 1


# ------------------------------------------------------------------ wall-clock jumps


def test_wall_clock_jumps_neither_skip_nor_double_a_run(tmp_path: Path) -> None:
    """The schedule runs on the steady clock; the wall clock only stamps records. Shift the
    wall clock source (+1 h after run 2, -2 h after run 4): five runs, one period apart."""
    period, n = 2.0, 5  # a period well above a loaded machine's fsync stalls
    offset = [0.0]
    at: list[float] = []

    def runner(_spec: ag.RunSpec, _deadline: float, _stop: threading.Event, _grace: float) -> ag.RunOutcome:
        at.append(ag.clock())
        offset[0] += {2: 3600.0, 4: -7200.0}.get(len(at), 0.0)
        return ag.RunOutcome(st.Outcome.FAILED, error="stand-in run")

    cfg = ag.Config(run=RunInput(profile="demo"), profile_id="demo", store_path=tmp_path / "c.db", every_s=period,
                    jitter_s=0.0, max_runs=n, immediate=True)
    with st.Store(cfg.store_path) as store:
        agent = ag.Agent(cfg, store, runner=runner, wall=lambda: time.time() + offset[0])
        guard = threading.Timer(60, agent.stop.set)  # bound: never wait forever
        guard.start()
        try:
            agent.loop()
        finally:
            guard.cancel()
        stored = store.runs(0.0, time.time() + 10_000)
        events = [e.kind for e in store.events()]
    assert len(at) == n and len(stored) == n
    gaps = [b - a for a, b in itertools.pairwise(at)]
    assert all(g >= 0.9 * period for g in gaps), gaps  # no doubled run
    assert "missed_slots" not in events  # no skipped run
    assert events.count("clock_jump") == 2  # both jumps noticed and noted
    starts = [r.started_ts for r in sorted(stored, key=lambda r: r.id)]  # in run order
    assert starts[2] - starts[1] > 3000 and starts[4] - starts[3] < -7000  # records carry wall time


# ------------------------------------------------------------------ /metrics under load


def test_metrics_server_bounds_threads_and_drops_idle_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    """200 idle connections and 300 concurrent scrapes: the agent's threads stay bounded,
    idle clients are cut after the timeout, and scraping works again afterwards."""
    import socket
    import urllib.request

    from netcheck.agent import metrics

    monkeypatch.setattr(metrics._QuietHandler, "timeout", 0.5)
    exporter = metrics.Exporter("load")
    exporter.serve("127.0.0.1", 0)
    url = f"http://127.0.0.1:{exporter.port}/metrics"
    base = threading.active_count()
    try:
        idle = [socket.create_connection(("127.0.0.1", exporter.port), timeout=5) for _ in range(200)]
        time.sleep(0.2)
        assert threading.active_count() <= base + metrics.MAX_CONNECTIONS
        results: list[bool] = []

        def scrape() -> None:
            try:
                with urllib.request.urlopen(url, timeout=5) as resp:
                    results.append(resp.status == 200)
            except OSError:
                results.append(False)  # refused while the slots are full: fine, never a crash

        scrapers = [threading.Thread(target=scrape) for _ in range(300)]
        for t in scrapers:
            t.start()
        for t in scrapers:
            t.join(30)
        assert len(results) == 300
        wait_for(lambda: all(c.recv(1) == b"" for c in idle), 10, "idle clients to be cut")
        for conn in idle:
            conn.close()
        with urllib.request.urlopen(url, timeout=5) as resp:  # the server lives on
            assert resp.status == 200 and b"netcheck" in resp.read()
    finally:
        exporter.shutdown()
