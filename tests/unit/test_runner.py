"""The runner turns a probe's failure into a Measurement: a missing optional package says
which extra to install; a bug is INTERNAL; the other results are kept."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from netcheck import probes, runner
from netcheck.plan import ProbeRun
from netcheck.result import ErrorKind


async def _needs_scapy(spec: Any, ctx: Any) -> Any:
    raise ModuleNotFoundError("No module named 'scapy'", name="scapy")


async def _buggy(spec: Any, ctx: Any) -> Any:
    raise ZeroDivisionError("division by zero")


@pytest.mark.parametrize(("fn", "kind", "fragment"), [
    (_needs_scapy, ErrorKind.UNSUPPORTED, "pip install 'netcheck[lan]'"),
    (_buggy, ErrorKind.INTERNAL, "ZeroDivisionError: division by zero"),
])
def test_probe_failures_become_measurements(monkeypatch: pytest.MonkeyPatch, fn: Any, kind: ErrorKind,
                                            fragment: str) -> None:
    monkeypatch.setattr(probes, "get", lambda name: fn)
    run = ProbeRun("x:1", "dhcp", None, 1.0, "DHCP")
    m = asyncio.run(runner.run_one(run, {}, lambda _e: None))
    assert m.error is not None and m.error.kind is kind and fragment in m.error.detail
    assert m.id == "x:1"
