"""What ``run`` will do with a request, without doing it: ``netcheck run --plan``.

Built by the code ``run`` uses (:func:`options_for`, ``plan.build``, :func:`schedule.bound`,
the evaluator), and importing only that: the profile, the plan with the probes' Specs
(:mod:`netcheck.probes.specs`), the evaluator and the platform facts. No event loop, runner,
probe code or report is loaded (issue 22: ``--plan`` took 0.4 s, most of it importing the
run machinery it never used); a test holds this.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netcheck import evaluate, probes, schedule
from netcheck.plan import core as plan
from netcheck.plan import firewall as firewall_plan
from netcheck.platform import capabilities
from netcheck.probes.specs import STUN_PORT
from netcheck.profile import Profile
from netcheck.result import Check, ErrorKind, Measurement, ProbeError, Status
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


def planned_remap(profile: Profile) -> dict[int, int]:
    """The ports the demo's local peers (:func:`netcheck.run.demo.peers`) will remap, to free
    ports chosen when they start: what the plan shows before anything is started."""
    tcp = [p for r in profile.ports if "tcp" in r.transports for p in range(r.range[0], r.range[1] + 1)]
    return {port: port for port in [STUN_PORT, *tcp]}


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
    remap = planned_remap(p) if p.demo else {}
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
