"""The agent end to end: real child runs on loopback, the real store, the real metrics server.

Every run uses the demo profile (all targets 127.0.0.1, peers started by netcheck itself),
with its stream shortened by a small profile that ``extends: demo`` so a run takes ~2 s.
Nothing here leaves the machine.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from prometheus_client.parser import text_string_to_metric_families

from netcheck.agent import agent as ag
from netcheck.agent import store as st
from netcheck.agent.metrics import VERDICT_VALUES

ROOT = Path(__file__).resolve().parents[2]
#: How long a test waits for the agent to reach a state. A run takes ~2 s on an idle machine;
#: under a loaded CI machine the child's start-up alone (interpreter + imports) was seen to
#: take tens of seconds, so waits get 4x the worst seen, not the typical.
WAIT_S = 120
pytestmark = pytest.mark.skipif(os.name != "posix", reason="signals and process groups: POSIX")


def write_profile(directory: Path, name: str, duration_s: float) -> Path:
    """A loopback profile: demo with a ``duration_s`` stream (quick and full)."""
    for parent in ("demo", "stimme"):
        shutil.copy(ROOT / "profiles" / f"{parent}.yaml", directory / f"{parent}.yaml")
    path = directory / f"{name}.yaml"
    path.write_text(f"id: {name}\nname: agent test\nextends: demo\n"
                    f"stream: {{duration_s: {duration_s}, quick_duration_s: {duration_s}}}\n")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_agent(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "netcheck", "agent", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(predicate: Callable[[], object], timeout_s: float, what: str) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")


def runs(db: Path) -> list[st.RunRow]:
    if not db.exists():
        return []
    with st.Store(db) as s:
        return s.runs()


def wait_started(db: Path) -> None:
    """Until the agent stored its start event: its SIGTERM handler is installed by then (a
    signal sent earlier, while a loaded machine is still importing, would kill it)."""

    def started() -> bool:
        if not db.exists():
            return False
        with st.Store(db) as s:
            return any(e.kind == "agent_start" for e in s.events())

    wait_for(started, WAIT_S, "the agent to start")


def stop(proc: subprocess.Popen[str], timeout_s: float = 30) -> tuple[int, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=timeout_s)
    return proc.returncode, err


@pytest.fixture
def agent_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path


def stop_after_exit(proc: subprocess.Popen[str]) -> tuple[int, str]:
    _out, err = proc.communicate(timeout=60)
    return proc.returncode, err


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_runs_are_stored_and_exported_and_a_second_agent_is_refused(agent_dir: Path) -> None:
    profile, db, port = write_profile(agent_dir, "agent-fast", 1), agent_dir / "a.db", free_port()
    proc = start_agent("--profile", str(profile), "--every", "2s", "--store", str(db),
                       "--metrics-port", str(port))
    try:
        wait_for(lambda: any(r.outcome == "completed" for r in runs(db)), WAIT_S, "a completed run")
        samples = scrape(port)
        # the exported run is whichever was last stored when we scraped: find it by time
        last_ts = samples[("netcheck_last_run_timestamp_seconds",
                           (("kind", "full"), ("profile", "agent-fast")))]
        (row,) = [r for r in runs(db) if abs(r.started_ts - last_ts) < 1e-3]
        assert samples[("netcheck_verdict", (("kind", "full"), ("profile", "agent-fast")))] == \
            VERDICT_VALUES[row.verdict or ""]
        with st.Store(db) as s:
            doc = s.document(row.id)
        assert doc is not None
        stream = {m.id: m for m in doc.measurements}["stream:platform"]
        key = ("netcheck_mos", (("probe", "stream"), ("profile", "agent-fast"),
                                ("target", "platform")))
        assert samples[key] == stream.values["mos"]
        for check in doc.checks:
            one_hot = samples[("netcheck_check_status", (("check", check.id),
                               ("profile", "agent-fast"), ("status", check.status.value)))]
            assert one_hot == 1.0

        second = start_agent("--profile", str(profile), "--every", "2s", "--store", str(db))
        code, err = stop_after_exit(second)
        assert code == 2
        assert err.strip().splitlines() == [
            f"error: another netcheck agent (pid {proc.pid}) is using this store; "
            f"lock file {db}.lock"]
    finally:
        code, err = stop(proc)
    assert code == 0, err
    stored = runs(db)
    assert stored and all(r.outcome == "completed" for r in stored), stored
    with st.Store(db) as s:
        kinds = [e.kind for e in s.events()]
    assert kinds[0] == "agent_start" and kinds[-1] == "agent_stop"


def test_sigterm_abandons_a_run_that_outlives_the_grace_period(agent_dir: Path) -> None:
    profile, db = write_profile(agent_dir, "agent-slow", 20), agent_dir / "a.db"
    proc = start_agent("--profile", str(profile), "--once", "--grace", "0.5s", "--store", str(db))
    wait_started(db)
    time.sleep(2.0)  # the child is measuring its 20 s stream now
    t0 = time.monotonic()
    code, err = stop(proc)
    assert code == 0, err
    assert time.monotonic() - t0 < 10
    (row,) = runs(db)
    assert (row.outcome, row.verdict) == ("abandoned", None)
    assert row.error == "agent stopping; run not done within the 0.5 s grace period"


def test_sigterm_lets_a_short_run_finish(agent_dir: Path) -> None:
    profile, db = write_profile(agent_dir, "agent-fast", 1), agent_dir / "a.db"
    proc = start_agent("--profile", str(profile), "--once", "--grace", "60s", "--store", str(db))
    wait_started(db)
    time.sleep(1.0)
    code, err = stop(proc)
    assert code == 0, err
    (row,) = runs(db)
    assert row.outcome == "completed" and row.verdict is not None


def test_deadline_abandons_the_run(agent_dir: Path) -> None:
    profile, db = write_profile(agent_dir, "agent-slow", 20), agent_dir / "a.db"
    proc = start_agent("--profile", str(profile), "--once", "--deadline", "1s", "--store", str(db))
    code, err = stop_after_exit(proc)
    assert code == 0, err
    (row,) = runs(db)
    assert (row.outcome, row.error) == ("abandoned", "run exceeded its 1 s deadline")


def test_a_failing_run_is_stored_and_the_agent_carries_on(agent_dir: Path) -> None:
    profile, db = write_profile(agent_dir, "agent-fast", 1), agent_dir / "a.db"
    good = profile.read_text()
    proc = start_agent("--profile", str(profile), "--every", "1s", "--store", str(db))
    try:
        wait_for(lambda: runs(db), WAIT_S, "a first run")
        profile.write_text("id: [this is not a profile\n")  # breaks every following run
        wait_for(lambda: any(r.outcome == "failed" for r in runs(db)), WAIT_S, "a failed run")
        profile.write_text(good)
        n = len(runs(db))
        wait_for(lambda: any(r.outcome == "completed" for r in runs(db)[n:]), WAIT_S,
                 "a completed run after the failure")
        assert proc.poll() is None
    finally:
        code, err = stop(proc)
    assert code == 0, err
    failed = next(r for r in runs(db) if r.outcome == "failed")
    assert failed.verdict is None and "agent-fast.yaml" in (failed.error or "")


class _Hook(BaseHTTPRequestHandler):
    bodies: ClassVar[list[dict[str, object]]] = []
    codes: ClassVar[list[int]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).bodies.append(body)
        self.send_response(type(self).codes.pop(0) if type(self).codes else 204)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


def test_webhook_retries_until_accepted() -> None:
    _Hook.bodies, _Hook.codes = [], [500, 503]
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        hook = ag.Webhook(f"http://127.0.0.1:{server.server_port}/hook", attempts=4,
                          backoff_s=0.05)
        assert hook.send_sync({"event": "verdict_change", "from": "GO", "to": "NO-GO"})
    finally:
        server.shutdown()
        server.server_close()
    assert len(_Hook.bodies) == 3  # 500, 503, then 204
    assert _Hook.bodies[-1] == {"event": "verdict_change", "from": "GO", "to": "NO-GO"}


def test_webhook_gives_up_after_its_attempts() -> None:
    with socket.socket() as s:  # a port nobody listens on: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    hook = ag.Webhook(f"http://127.0.0.1:{port}/", attempts=2, backoff_s=0.01, timeout_s=1)
    assert hook.send_sync({"event": "x"}) is False
