"""Crash safety: kill -9 a writer at random moments; every id it reported is still there.

A subprocess stores runs in a loop and prints ``stored <id>`` after each commit returned
(the agent's own definition of "reported as stored"). The test kills it with SIGKILL at a
seeded random time, reopens the file, and checks that every printed id is present and that
``PRAGMA integrity_check`` says ok. Bounded: ITERATIONS kills, each under a second.

A kill -9 leaves the OS page cache intact, so this proves transaction atomicity and the
"report only after commit" order, not survival of a power cut; the latter rests on
``synchronous=FULL`` (an fsync of the WAL per commit), see netcheck/agent/store.py.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from netcheck.agent import store as st

ITERATIONS = 12
SEED = 20260101

WRITER = r"""
import sys
from netcheck.agent import store as st
from tests.unit.test_store import make_result, record, T0
s = st.Store(sys.argv[1])
base = len(s.ids())
result = make_result(jitter=25.0, loss=0.5)
print("ready", flush=True)
for i in range(100000):
    run_id = s.put(record(T0 + (base + i) * 900.0, result))
    print(f"stored {run_id}", flush=True)
"""

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")


def _reader(proc: subprocess.Popen[str], lines: list[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line.strip())


def test_kill_9_during_writes_loses_nothing_reported(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    rng = random.Random(SEED)
    reported: set[int] = set()
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    for _ in range(ITERATIONS):
        lines: list[str] = []
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE,
                                text=True, env=env, cwd=root)
        reader = threading.Thread(target=_reader, args=(proc, lines), daemon=True)
        reader.start()
        deadline = time.monotonic() + 20
        while "ready" not in lines and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        assert "ready" in lines, "writer did not start"
        time.sleep(rng.uniform(0.0, 0.4))  # somewhere inside a put(), most of the time
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        reader.join(timeout=10)
        assert proc.stdout is not None
        proc.stdout.close()
        reported |= {int(x.split()[1]) for x in lines if x.startswith("stored ")}
        with st.Store(db) as s:
            assert s.integrity_check() == "ok"
            missing = reported - s.ids()
            assert not missing, f"reported as stored but missing after kill -9: {sorted(missing)}"
    assert len(reported) > ITERATIONS  # the writer really wrote between the kills
    with st.Store(db) as s:
        # every stored run is whole: its document decodes and its check rows are there
        for run_id in sorted(reported)[:: max(1, len(reported) // 20)]:
            assert s.document(run_id) is not None
        n_checks = s.db.execute("SELECT count(DISTINCT run_id) FROM checks").fetchone()[0]
        assert n_checks == len(s.ids())
