"""The runner turns a probe's failure into a Measurement: a missing optional package says
which extra to install; a bug is INTERNAL; the other results are kept."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from netcheck import probes
from netcheck.plan.core import ProbeRun
from netcheck.result import ErrorKind
from netcheck.run import runner


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


def test_runs_that_contend_take_turns_and_start_their_deadline_at_their_turn(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Two readers of the routers' Time Exceeded (per-hop trace, site-egress test) never
    overlap (Linux sends 1/s per destination: together they would eat each other's budget);
    a third, untagged run overlaps both; a run's deadline starts when its turn does."""
    from netcheck.plan.core import ICMP_TIME_EXCEEDED
    from netcheck.result import Measurement

    spans: dict[str, tuple[float, float, float]] = {}

    async def probe(spec: Any, ctx: Any) -> Measurement:
        t0 = asyncio.get_running_loop().time()
        await asyncio.sleep(0.2)
        spans[spec] = (t0, asyncio.get_running_loop().time(), ctx.remaining())
        return Measurement(id=spec, probe="x", target="t", method="m", started_utc="", duration_s=0.2)

    monkeypatch.setattr(probes, "get", lambda name: probe)
    monkeypatch.setattr(probes, "prepare", lambda name, specs: asyncio.sleep(0))
    plan = [ProbeRun("a", "path_hops", "a", 0.5, "trace", contends=ICMP_TIME_EXCEEDED),
            ProbeRun("b", "udp_egress", "b", 0.5, "egress", contends=ICMP_TIME_EXCEEDED),
            ProbeRun("c", "tcp_ports", "c", 0.5, "tcp")]
    out = asyncio.run(runner.run_all(plan, {}, lambda _e: None))
    assert [m.id for m in out] == ["a", "b", "c"] and all(m.error is None for m in out)
    (_, a1, a_left), (b0, _, b_left), (c0, _, _) = spans["a"], spans["b"], spans["c"]
    assert b0 >= a1  # b waited for a's turn to end
    assert c0 < a1  # the untagged run did not wait
    assert b_left == pytest.approx(a_left, abs=0.1)  # b's 0.5 s began at its turn, not at a's
