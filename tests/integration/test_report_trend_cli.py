"""`netcheck report --since 7d` (issue 9's spelling) renders the agent's trend report from
a store; it is the same report as `netcheck history --report`."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from netcheck.agent import store as st
from tests import docgen


def _store(path: Path) -> None:
    """Three completed runs an hour apart (the GO fixture) and one failed run."""
    go = docgen.document("demo", "go")
    now = time.time()
    with st.Store(path) as store:
        for hours_ago in (3, 2, 1):
            ts = now - hours_ago * 3600
            store.put(st.RunRecord(started_ts=ts, finished_ts=ts + 10, kind="full", outcome=st.Outcome.COMPLETED,
                                   profile="demo", host="h", result=go))
        store.put(st.RunRecord(started_ts=now - 600, finished_ts=now - 590, kind="full",
                               outcome=st.Outcome.FAILED, profile="demo", host="h", error="boom"))


def _netcheck(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "netcheck", *args], capture_output=True, text=True, timeout=60)


def test_report_since_equals_history_report(tmp_path: Path) -> None:
    db = tmp_path / "agent.db"
    _store(db)
    via_report = _netcheck("report", "--since", "7d", "--format", "markdown", "--store", str(db))
    via_history = _netcheck("history", "--since", "7d", "--report", "markdown", "--store", str(db))
    assert via_report.returncode == 0, via_report.stderr
    assert via_history.returncode == 0, via_history.stderr
    strip = [line for line in via_report.stdout.splitlines() if not line.startswith("- **Period**")]
    assert strip == [line for line in via_history.stdout.splitlines() if not line.startswith("- **Period**")]
    # what _store() put in: 4 runs, 3 completed GO, 1 failed; the GO fixture answers every time
    assert "- **Runs**: 4 (completed 3, failed 1)" in via_report.stdout
    assert "- **Verdicts**: GO 3" in via_report.stdout
    assert "(3/3 runs answered)" in via_report.stdout


def test_report_since_without_a_store_is_one_line_exit_2(tmp_path: Path) -> None:
    proc = _netcheck("report", "--since", "7d", "--store", str(tmp_path / "none.db"))
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: ") and len(proc.stderr.strip().splitlines()) == 1


def test_trend_report_in_german_with_site_and_page_numbers(tmp_path: Path) -> None:
    """Issue 18 item 6: ``--lang de``, the customer and site of the stored runs, translated
    check titles instead of ids, and "Seite n / N" on every PDF page."""
    import shutil

    import pytest

    db = tmp_path / "agent.db"
    _store(db)
    md = _netcheck("report", "--since", "7d", "--format", "markdown", "--lang", "de", "--store", str(db))
    assert md.returncode == 0, md.stderr
    assert "# netcheck-Trendbericht" in md.stdout and "- **Kunde**: Müller & Söhne GmbH" in md.stdout
    assert "- **Standort**: Hauptsitz Köln" in md.stdout
    assert "- **Läufe**: 4 (abgeschlossen 3, fehlgeschlagen 1)" in md.stdout
    assert "DNS löst" in md.stdout and "dns.sip" not in md.stdout  # titles, not check ids
    pytest.importorskip("weasyprint", reason="PDF needs WeasyPrint")
    if not shutil.which("pdftotext"):
        pytest.skip("poppler-utils not installed")
    pdf = tmp_path / "trend.pdf"
    res = _netcheck("report", "--since", "7d", "--format", "pdf", "--lang", "de", "--store", str(db), "-o", str(pdf))
    assert res.returncode == 0, res.stderr
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    pages = text.count("\f")
    assert pages >= 1 and all(f"Seite {n} / {pages}" in text for n in range(1, pages + 1))
    assert "Müller & Söhne GmbH · Hauptsitz Köln" in text
