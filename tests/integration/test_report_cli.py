"""CLI: ``netcheck report RESULT --format ... --lang ...``, ``netcheck report verify``, and
``netcheck run`` writing json + html by default (the demo profile: loopback peers only)."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from click.testing import CliRunner

from netcheck.cli import cli

RESULTS = Path(__file__).resolve().parents[1] / "data" / "results" / "v1"


def test_report_renders_html_in_german(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    res = CliRunner().invoke(
        cli,
        [
            "report",
            str(RESULTS / "incomplete.json"),
            "--format",
            "html",
            "--lang",
            "de",
            "-o",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "UNVOLLSTÄNDIG" in out.read_text("utf-8")


def test_report_options_before_the_file_and_plain_form(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["report", "--format", "markdown", str(RESULTS / "go.json")])
    assert res.exit_code == 0 and "**GO**" in res.output
    res = CliRunner().invoke(cli, ["report", str(RESULTS / "go.json")])  # text, the default
    assert res.exit_code == 0 and "VERDICT: GO" in res.output


def test_report_verify_match_and_mismatch(tmp_path: Path) -> None:
    report = tmp_path / "r.md"
    runner = CliRunner()
    assert (
        runner.invoke(
            cli, ["report", str(RESULTS / "no-go.json"), "--format", "markdown", "-o", str(report)]
        ).exit_code
        == 0
    )
    ok = runner.invoke(cli, ["report", "verify", str(RESULTS / "no-go.json"), str(report)])
    assert ok.exit_code == 0 and ok.output.startswith("match")
    bad = runner.invoke(cli, ["report", "verify", str(RESULTS / "go.json"), str(report)])
    assert bad.exit_code == 1 and bad.output.startswith("mismatch")


def test_run_writes_json_and_html_by_default(demo_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    proc, out = demo_run
    assert proc.returncode in (0, 1, 3), proc.stdout + proc.stderr
    written = sorted(p.suffix for p in out.iterdir())
    assert written == [".html", ".json"]
    result = next(out.glob("*.json")).read_bytes()
    page = next(out.glob("*.html")).read_text("utf-8")
    assert f"sha256:{hashlib.sha256(result).hexdigest()}" in page
    assert "ACME GmbH" in page and '<html lang="en">' in page