"""Run the plan: each probe with its own deadline, side by side where nothing they contend
for is shared (:mod:`netcheck.schedule`), never losing a result.

The runner owns time (STYLE.md §3): it turns each ``timeout_s`` into one monotonic
deadline handed to the probe, and enforces it from outside with a small grace period. A
probe that overruns or has a bug still yields a Measurement (TIMEOUT / INTERNAL), so one
bad target never aborts the batch. Names are resolved once per run and shared by every
probe (:mod:`netcheck.probes._names`); one-off set-up (TLS trust stores) is done before
any probe's timer starts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from netcheck import probes, schedule
from netcheck.plan.runs import ProbeRun
from netcheck.probes._common import Context, Timer, error
from netcheck.probes._names import Names
from netcheck.result import Confidence, ErrorKind, Measurement
from netcheck.wire import WireError

log = logging.getLogger("netcheck.run.runner")
GRACE_S = 2.0
#: optional top-level packages -> the pyproject extra that installs them
EXTRAS = {"scapy": "lan", "pysnmp": "lan", "weasyprint": "report", "prometheus_client": "agent"}


@dataclass(frozen=True)
class Event:
    """A progress event: ``kind`` is "planned" (once per run, before any starts), "start",
    "progress", "live" (a running call's figures in ``live``, at most once a second) or "done"."""

    kind: str
    run: ProbeRun
    text: str = ""
    measurement: Measurement | None = None
    live: object | None = None


Listener = Callable[[Event], None]


async def run_all(plan: Sequence[ProbeRun], caps: dict[str, bool], listener: Listener) -> list[Measurement]:
    """Every run, each started as soon as nothing it contends for is taken
    (:mod:`netcheck.schedule`): the calls together in one call engine with the listeners
    and paced probes beside them, then the other probes together, then each load test
    alone; runs sharing a ``contends`` tag take turns. A run's deadline starts with its
    turn (:func:`run_one`). Results in plan order.
    """
    for r in plan:  # the whole plan first, so a display can show overall progress and time left
        listener(Event("planned", r))
    names = Names()
    names.prefetch([h for r in plan if isinstance(h := getattr(r.spec, "host", None), str)])
    await _prepare(plan)
    results: dict[int, Measurement] = {}
    waiting = schedule.order(plan)
    running: dict[asyncio.Task[Measurement], int] = {}
    try:
        while waiting or running:
            for i in schedule.startable(plan, waiting, set(running.values())):
                waiting.remove(i)
                hold = schedule.hold_s(plan, i, waiting)
                running[asyncio.create_task(_turn(plan[i], caps, listener, names, hold))] = i
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                results[running.pop(task)] = task.result()  # run_one turns every failure into data
    finally:  # cancelled (Ctrl-C): stop what still runs; the caller keeps what finished
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running)
    return [results[i] for i in range(len(plan))]


async def _turn(run: ProbeRun, caps: dict[str, bool], listener: Listener, names: Names,
                hold_s: float) -> Measurement:
    """One run, then its claims held ``hold_s`` longer (an outside resource recovering
    before the next run that contends for it: :func:`schedule.hold_s`); its result is
    reported when it ends, not after the hold."""
    m = await run_one(run, caps, listener, names)
    if hold_s > 0:
        await asyncio.sleep(hold_s)
    return m


async def _prepare(plan: Sequence[ProbeRun]) -> None:
    """One-off set-up per probe kind before any probe's timer starts (probes.prepare);
    a failing set-up is left for the probe itself to report."""
    by_probe: dict[str, list[object]] = {}
    for r in plan:
        by_probe.setdefault(r.probe, []).append(r.spec)
    for name, specs in by_probe.items():
        try:
            await probes.prepare(name, specs)
        except Exception:  # the probe meets the same error and reports it as data
            log.debug("prepare %s failed", name, exc_info=True)


async def run_one(run: ProbeRun, caps: dict[str, bool], listener: Listener,
                  names: Names | None = None) -> Measurement:
    deadline = time.monotonic() + run.timeout_s
    ctx = Context(deadline=deadline, caps=caps, progress=lambda text: listener(Event("progress", run, text)),
                  live=lambda snapshot: listener(Event("live", run, live=snapshot)), names=names or Names())
    listener(Event("start", run))
    timer = Timer()
    try:
        fn = probes.get(run.probe)
        result = await asyncio.wait_for(fn(run.spec, ctx), timeout=run.timeout_s + GRACE_S)
    except TimeoutError:
        result = _failed(timer, run, ErrorKind.TIMEOUT, f"no result within {run.timeout_s:g} s")
    except ModuleNotFoundError as exc:  # an optional extra is not installed on this machine
        extra = EXTRAS.get((exc.name or "").split(".")[0], "test")
        result = _failed(timer, run, ErrorKind.UNSUPPORTED,
                         f"needs the Python package {exc.name}: pip install 'netcheck[{extra}]'")
    except WireError as exc:  # the far end's bytes, not a netcheck bug (issue 21)
        log.debug("probe %s: invalid answer", run.id, exc_info=True)
        result = _failed(timer, run, ErrorKind.MALFORMED, f"invalid answer from {far_end(run)}: {exc}")
    except Exception as exc:  # a probe bug must not lose the other results
        log.debug("probe %s failed", run.id, exc_info=True)
        result = _failed(timer, run, ErrorKind.INTERNAL, f"{type(exc).__name__}: {exc}")
    listener(Event("done", run, measurement=result))
    return result


def far_end(run: ProbeRun) -> str:
    """The host whose answer a probe was reading: the spec's ``host``, else the run title."""
    host = getattr(run.spec, "host", None)
    return str(host) if host else run.title


def _failed(timer: Timer, run: ProbeRun, kind: ErrorKind, detail: str) -> Measurement:
    return timer.measurement(
        id=run.id, probe=run.probe, target=run.title, method="n/a", error=error(kind, detail),
        confidence=Confidence.NONE,
    )
