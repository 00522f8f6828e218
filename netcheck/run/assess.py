"""One assessment, end to end: capabilities -> plan -> probes -> checks -> result document."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from netcheck import __version__, evaluate, probes, schedule
from netcheck.evaluate import _core
from netcheck.plan import core as plan
from netcheck.plan import firewall as firewall_plan
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


def options_for(request: Request, gateway: str | None, remap: dict[int, int],
                responder: str | None) -> plan.Options:
    """The plan options of a request: the one place both ``run`` and ``--plan`` get them."""
    inp = request.input
    return plan.Options(quick=inp.quick, gateway=gateway, port_remap=remap, interface=inp.interface,
                        lldp_wait_s=inp.lldp_wait_s, dhcp_wait_s=inp.dhcp_wait_s, voice_vlan=inp.voice_vlan,
                        responder=responder, responder_key=request.responder_key,
                        extensions=request.site.extensions, package_mix=dict(request.package_mix),
                        concurrency=inp.concurrency, capacity=inp.capacity,
                        iperf3=inp.iperf3, switches=request.switches, low_cpu=inp.low_cpu)


@dataclass(frozen=True)
class PlanView:
    """What ``run`` will do with a request: its probe runs, an upper bound of its duration
    (the runner's schedule replayed with every run lasting its timeout: :func:`schedule.bound`), and the
    checks it will not measure with the evaluator's own reason."""

    runs: list[plan.ProbeRun]
    total_s: float
    not_measured: list[Check]
    notes: list[str]
    #: planned runs this machine cannot do, with the needs it does not meet (the registry's)
    cannot_run: list[tuple[plan.ProbeRun, list[probes.Need]]] = field(default_factory=list)


_PLANNED = "planned; not run yet"


def plan_for(request: Request) -> PlanView:
    """The plan ``run`` would execute, built by the same code (:func:`options_for`,
    ``plan.build``); the demo's local peers get their real ports only when they start, so
    the plan stands in the profile's own ports for them."""
    p = request.profile
    remap = demo.planned_remap(p) if p.demo else {}
    responder = request.responder or ("127.0.0.1" if p.demo else None)
    options = options_for(request, capabilities.default_gateway(), remap, responder)
    runs = plan.build(p, options)
    total = schedule.bound(runs)
    placeholders = [Measurement(id=r.id, probe=r.probe, target=r.title, method="planned", started_utc="",
                                duration_s=0.0, error=ProbeError(kind=ErrorKind.INTERNAL, detail=_PLANNED))
                    for r in runs]
    checks = evaluate.evaluate(p, placeholders, request.site)
    skipped = [c for c in checks if c.status in (Status.NOT_MEASURED, Status.SKIPPED) and _PLANNED not in c.reason]
    privileges = capabilities.privileges()
    cannot = [(r, unmet) for r in runs if (unmet := probes.unmet(r.probe, privileges))]
    return PlanView(runs=runs, total_s=total, not_measured=skipped, notes=firewall_plan.notes(p, options),
                    cannot_run=cannot)


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
