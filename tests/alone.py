"""``@pytest.mark.alone``: under pytest-xdist (``-n 2``) such a test runs with no other test of
the session at the same time; every other test may share the machine with one other test.

Why: most of this suite waits (a 10 s call, a TTL trace paced at the routers' 1/s ICMP
budget, an agent's child run), so two workers cut its wall time by about 40 %
(bench/RESULTS.md, "CI wall time"). What must not overlap
anything is work that takes the CPU for seconds (PDF and browser rendering, packet floods,
a module that runs many labs at once): beside it, another test's 50 pps sender or the
lab's user-space impairment bridge would be late, and a timing statistic would measure the
machine instead of the link.

How: a readers-writer lock on two files shared by the workers (``flock``): an ``alone``
test holds the lock exclusively, any other test shared, for its whole run protocol (set-up,
call, tear-down, so a module fixture's set-up is covered too). A turnstile taken first
gives the exclusive side priority: a waiting ``alone`` test is never starved by a stream of
shared ones. Consecutive ``alone`` tests of one module keep the exclusive hold. Without
xdist (no worker id) no lock is taken at all.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

#: The modules whose tests run ``alone``, and why (CPU-bound for seconds, or many labs at
#: once; bench/RESULTS.md has the measured CPU share). One table: the test files stay as they are.
ALONE = {
    "tests/integration/test_field_netlab.py": "nine field labs and nine netcheck runs at once",
    "tests/integration/test_report_delivery.py": "WeasyPrint renders every report, both languages",
    "tests/integration/test_report_pdf.py": "WeasyPrint rendering",
    "tests/integration/test_report_chromium.py": "headless Chromium",
    "tests/integration/test_report_trend_cli.py": "WeasyPrint rendering",
    "tests/integration/test_callgen.py": "100 concurrent calls from this process",
    "tests/integration/test_responder_hardening.py": "floods, and the responder's RSS under them",
    "tests/integration/test_trace_beside_calls_netlab.py": "sub-ms hop jitter beside two calls and two sniffers",
    "tests/unit/test_wire_fuzz.py": "hypothesis, 400 examples per codec",
    "tests/unit/test_lan_poe.py": "hypothesis, 300 hostile tables",
    # not CPU-bound: one SIP answer missed its 1 s wait beside other modules (1 run of 5,
    # never alone); kept alone until that is understood (bench/RESULTS.md, CI wall time)
    "tests/integration/test_sip_alg.py": "a SIP answer missed its 1 s wait once beside others",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.split("::", 1)[0] in ALONE:
            item.add_marker(pytest.mark.alone)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "alone: under pytest-xdist, runs while no other test runs (CPU-heavy or many labs at once)",
    )


def _lock_dir() -> Path | None:
    """Shared by the workers of one session (xdist gives them the same run id); None when
    this is no xdist worker."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not run or not os.environ.get("PYTEST_XDIST_WORKER"):
        return None
    path = Path(tempfile.gettempdir()) / f"netcheck-pytest-{run}"
    path.mkdir(exist_ok=True)
    return path


def _take(directory: Path, exclusive: bool) -> IO[str]:
    """The readers-writer lock, shared or exclusive; the turnstile only while waiting."""
    import fcntl  # POSIX; imported here so the plugin loads on Windows (portable workflow)

    rw = open(directory / "rw", "a")  # held across hook calls, closed on release
    with open(directory / "turnstile", "a") as turn:
        fcntl.flock(turn, fcntl.LOCK_EX)
        fcntl.flock(rw, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
    return rw  # closing the turnstile's file released it


def _alone(item: pytest.Item | None) -> bool:
    return item is not None and item.get_closest_marker("alone") is not None


#: This worker's hold of the lock, kept across consecutive ``alone`` tests of one module
#: (loadfile hands a module to one worker whole): a module of many short ``alone`` tests
#: waits for the other worker once, not once per test.
_held: list[IO[str]] = []


@pytest.hookimpl(hookwrapper=True, tryfirst=True)  # outermost: the wait is not the test's timeout
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    directory = _lock_dir()
    if directory is None:
        yield
        return
    exclusive = _alone(item)
    if not _held:
        _held.append(_take(directory, exclusive))
    try:
        yield
    finally:
        same_module = nextitem is not None and nextitem.path == item.path
        keep = exclusive and same_module and _alone(nextitem)
        if not keep:
            import fcntl

            rw = _held.pop()
            fcntl.flock(rw, fcntl.LOCK_UN)
            rw.close()
