"""The HTML report in a real browser: headless Chromium (Debian package ``chromium``)
renders it without console errors, takes a screenshot, and the page requests nothing.
Skipped with a reason when chromium is not installed.

Chromium itself phones home even with ``--disable-background-networking`` (seen here in its
NetLog: clients2.google.com time, accounts.google.com, update.googleapis.com), so every
host name is mapped to NOTFOUND (``--host-resolver-rules``): nothing leaves the machine.
The NetLog then shows what was *attempted*; the page's own attempts are whatever is left
after the browser's known background hosts, and a control page proves the check sees one.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from netcheck.reports import html
from netcheck.result import from_json

RESULTS = Path(__file__).resolve().parents[1] / "data" / "results" / "v1"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt chromium)")


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    cmd = [
        CHROMIUM or "chromium",
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--no-proxy-server",
        "--enable-logging=stderr",
        "--v=0",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("name", "lang", "width"), [("no-go-lab", "de", 1200), ("malicious", "en", 390)]
)
def test_chromium_renders_without_console_errors(
    tmp_path: Path, name: str, lang: str, width: int
) -> None:
    page = tmp_path / "report.html"
    page.write_bytes(html.render(from_json((RESULTS / f"{name}.json").read_bytes()), lang))
    shot, netlog = tmp_path / "shot.png", tmp_path / "net.json"
    run = _chromium(
        tmp_path,
        f"--screenshot={shot}",
        f"--window-size={width},2400",
        f"--log-net-log={netlog}",
        page.as_uri(),
    )
    assert shot.exists() and shot.stat().st_size > 10_000, run.stderr[-2000:]
    console = [line for line in run.stderr.splitlines() if "CONSOLE" in line]
    assert console == []
    assert _page_requests(netlog) == []


def test_netlog_check_sees_a_page_request(tmp_path: Path) -> None:
    """Control: a page that loads an image is caught (the .invalid name never resolves)."""
    page = tmp_path / "control.html"
    page.write_text('<html><body><img src="http://netcheck-control.invalid/x.png"></body></html>')
    netlog = tmp_path / "net.json"
    _chromium(tmp_path, "--dump-dom", f"--log-net-log={netlog}", page.as_uri())
    assert "http://netcheck-control.invalid/x.png" in _page_requests(netlog)


def test_dom_keeps_hostile_strings_as_text(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_bytes(html.render(from_json((RESULTS / "malicious.json").read_bytes()), "en"))
    run = _chromium(tmp_path, "--dump-dom", page.as_uri())
    dom = run.stdout
    assert "Evil &amp; Co GmbH" in dom
    assert "<script" not in dom.lower() and "<img" not in dom


BACKGROUND = re.compile(
    r"^https?://([a-z0-9-]+\.)*(google\.com|googleapis\.com|gvt1\.com|"
    r"gstatic\.com|googleusercontent\.com)(:\d+)?/"
)


def _page_requests(netlog: Path) -> list[str]:
    """Network URLs in Chromium's NetLog, minus the browser's own background hosts."""
    text = netlog.read_text(errors="replace") if netlog.exists() else ""
    urls = set(re.findall(r'"url":"((?:https?|wss?|ftp)://[^"]+)"', text))
    return sorted(u for u in urls if not BACKGROUND.match(u))
