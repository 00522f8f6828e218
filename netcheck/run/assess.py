"""One assessment, end to end: capabilities -> plan -> probes -> checks -> result document."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import time
from collections.abc import AsyncIterator

from netcheck import __version__, evaluate
from netcheck.evaluate import _core
from netcheck.plan import core as plan
from netcheck.platform import capabilities
from netcheck.probes._common import utc_now
from netcheck.profile import Profile
from netcheck.result import (
    SCHEMA_VERSION,
    Check,
    Confidence,
    Environment,
    ErrorKind,
    Measurement,
    ProbeError,
    ProfileRef,
    Qty,
    RunResult,
    Status,
)
from netcheck.run import demo, runner
from netcheck.run.inputs import Request
from netcheck.run.preview import options_for


def run(request: Request, listener: runner.Listener = lambda _e: None) -> RunResult:
    return asyncio.run(run_async(request, listener))


async def run_async(request: Request, listener: runner.Listener) -> RunResult:
    started_utc, t0 = utc_now(), time.monotonic()
    caps = capabilities.privileges()
    gateway = capabilities.default_gateway()
    async with _peers(request.profile) as remap, _responder(request) as responder:
        runs = plan.build(request.profile, options_for(request, gateway, remap, responder))
        measurements, interrupted = await _measure(runs, caps, listener)
    checks = evaluate.evaluate(request.profile, measurements, request.site)
    if interrupted:
        checks.append(_interrupted_check(measurements, round(time.monotonic() - t0, 1)))
    env = Environment(
        netcheck_version=__version__, python=sys.version.split()[0], os=capabilities.describe_os(),
        hostname=socket.gethostname(), started_utc=started_utc, finished_utc=utc_now(),
        duration_s=round(time.monotonic() - t0, 3), privileges=caps,
        interfaces=capabilities.interfaces(), default_gateway=gateway,
    )
    p = request.profile
    return RunResult(
        # interrupted: the required "run.complete" row keeps it from GO; a FAIL found before
        # the stop is still NO-GO (the renderers re-derive the verdict from the checks)
        schema_version=SCHEMA_VERSION, verdict=evaluate.verdict(checks),
        profile=ProfileRef(id=p.id, name=p.name, path=p.path, sources=p.sources),
        site=request.site, environment=env, measurements=measurements, checks=checks,
        summary=evaluate.summary(checks),
        scope=evaluate.scope(p, measurements, checks, responder=bool(request.responder or p.demo)),
    )


#: Id of the check that marks a run stopped before its plan was done (Ctrl-C).
INTERRUPTED_CHECK = "run.complete"


async def _measure(runs: list[plan.ProbeRun], caps: dict[str, bool],
                   listener: runner.Listener) -> tuple[list[Measurement], bool]:
    """All measurements, and whether the run was interrupted. On Ctrl-C (the event loop
    cancels this task) what finished is kept and every unfinished run becomes a typed
    "interrupted" measurement, so the result can still be written (partial results are
    never lost)."""
    done: dict[str, Measurement] = {}

    def collect(event: runner.Event) -> None:
        if event.kind == "done" and event.measurement is not None:
            done[event.run.id] = event.measurement
        listener(event)

    try:
        return await runner.run_all(runs, caps, collect), False
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()
        return [done.get(r.id) or _not_run(r) for r in runs], True


def _not_run(run: plan.ProbeRun) -> Measurement:
    return Measurement(id=run.id, probe=run.probe, target=run.title, method="n/a", started_utc=utc_now(),
                       duration_s=0.0, confidence=Confidence.NONE,
                       error=ProbeError(kind=ErrorKind.INTERNAL, detail="interrupted before it finished"))


def _interrupted_check(measurements: list[Measurement], after_s: float) -> Check:
    """A required NOT_MEASURED row that says the run was stopped, after how long and how
    much of it had finished (it also keeps the verdict from reading GO)."""
    finished = sum(m.error is None or "interrupted" not in m.error.detail for m in measurements)
    b = _core.base(INTERRUPTED_CHECK, "title.run_complete", required=True, group="general")
    return _core.check(b, Status.NOT_MEASURED, "reason.run_interrupted", fix=_core.remedy("run_interrupted"),
                       after=Qty(after_s, "s"), finished=finished, total=len(measurements))


@contextlib.asynccontextmanager
async def _peers(profile: Profile) -> AsyncIterator[dict[int, int]]:
    """The demo profile's local peers; nothing for a real profile."""
    if not profile.demo:
        yield {}
        return
    async with demo.peers(profile) as remap:
        yield remap


@contextlib.asynccontextmanager
async def _responder(request: Request) -> AsyncIterator[str | None]:
    """The user's responder; for the demo profile a local one on 127.0.0.1."""
    if request.responder or not request.profile.demo:
        yield request.responder
        return
    async with demo.responder() as address:
        yield address
