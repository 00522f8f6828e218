"""Partial results are never lost (issue 14): ``--out`` is checked before measuring, Ctrl-C
saves what was measured as INCOMPLETE and exits 130 (128 + SIGINT, the shell convention),
and a write failure after measuring falls back to a stated directory. Real runs of the
demo profile (loopback peers only)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from netcheck import cli, reports
from netcheck import profile as prof
from netcheck.result import write_atomic
from netcheck.run import assess


def _netcheck(*args: str) -> subprocess.Popen[bytes]:
    # SIGINT back to its default in the child: a shell without job control starts
    # background jobs with SIGINT ignored, which Python would inherit.
    return subprocess.Popen([sys.executable, "-m", "netcheck", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def test_ctrl_c_saves_what_was_measured_as_incomplete(tmp_path: Path) -> None:
    proc = _netcheck("run", "--profile", "demo", "--out", str(tmp_path), "--format", "json")
    try:
        time.sleep(7.0)  # the own-link sample (2 s) is done, the two 10 s calls are running
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err.decode()
    (saved,) = tmp_path.glob("netcheck-demo-*.json")
    doc = json.loads(saved.read_bytes())
    assert doc["verdict"] == "INCOMPLETE"
    (marker,) = [c for c in doc["checks"] if c["id"] == assess.INTERRUPTED_CHECK]
    assert marker["status"] == "NOT_MEASURED" and "interrupted" in marker["reason"]
    finished = [m for m in doc["measurements"] if m.get("error") is None]
    assert any(m["probe"] == "local_link" for m in finished)  # what was measured is kept
    dns = next(c for c in doc["checks"] if c["id"] == "dns.services")  # not run yet: no answer, no FAIL
    assert dns["status"] == "NOT_MEASURED"
    assert any("interrupted" in (m.get("error") or {}).get("detail", "") for m in doc["measurements"])


def test_unwritable_out_is_an_input_error_before_measuring(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    t0 = time.monotonic()
    proc = _netcheck("run", "--profile", "demo", "--out", str(blocker / "results"))
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.decode().startswith("error: --out ") and "cannot write there" in err.decode()
    assert time.monotonic() - t0 < 8.0  # nothing was measured (the demo call alone takes 10 s)


def test_write_failure_after_measuring_falls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    result = _tiny_result()
    out, fallback = tmp_path / "out", tmp_path / "fallback"
    monkeypatch.setattr(cli, "FALLBACK_DIR", fallback)

    def failing_in_out(path: Path, data: bytes) -> None:
        if path.parent == out:
            raise OSError(28, "No space left on device")
        write_atomic(path, data)

    written = cli._save(result, out, ["json"], reports, failing_in_out, "en")
    assert [p.parent for p in written] == [fallback]
    assert json.loads(written[0].read_bytes())["verdict"] == result.verdict.value
    assert f"saving to {fallback} instead" in capsys.readouterr().err


def _tiny_result() -> Any:
    from netcheck import evaluate
    from netcheck.result import SCHEMA_VERSION, Environment, ProfileRef, RunResult, Site

    p = prof.load("demo")
    env = Environment(netcheck_version="0", python="3", os="linux", hostname="h",
                      started_utc="2026-01-01T00:00:00.000Z", finished_utc="2026-01-01T00:00:01.000Z",
                      duration_s=1.0)
    return RunResult(schema_version=SCHEMA_VERSION, verdict=evaluate.verdict([]),
                     profile=ProfileRef(id=p.id, name=p.name, path=p.path), site=Site(), environment=env,
                     measurements=[], checks=[])
