"""Plan entries of the capacity area (issue 8): call-load ramp, QoS under load, iperf3.

Kept beside :mod:`netcheck.plan.core` so that the plan only gains one line. Measurement ids are
what :mod:`netcheck.evaluate.capacity` reads: ``capacity``, ``qos``, and ``iperf3:up`` /
``iperf3:down`` (informative; iperf3's own figures, no check judges them).

Both load tests need a netcheck responder (``--responder``) and run ``exclusive`` (alone,
like the stream calls): their schedules must not share the CPU with other probes, and
their load would disturb everyone else's measurements. The ramp is planned only when the
requirement is known (``--extensions``): without it there is nothing to prove and no
reason to load a customer's line.
"""

from __future__ import annotations

from netcheck import hostport, ids
from netcheck.analysis import bandwidth
from netcheck.plan.runs import Options, ProbeRun, stun_server
from netcheck.probes import specs
from netcheck.probes.specs import STAMP_PORT
from netcheck.profile import Limit, PathLimits, Profile, Role

CAPACITY_BUDGET_S = 60.0  # the bound for the whole ramp
QOS_BUDGET_S = 30.0
IPERF3_SECONDS = 5.0


def runs(profile: Profile, options: Options) -> list[ProbeRun]:
    if not options.capacity:
        return []
    out = []
    if options.responder:
        out += _capacity(profile, options)
        out += _qos(profile, options)
    elif not options.port_remap:
        out += _stun_capacity(profile, options)
    if options.iperf3:
        out += _iperf3(options)
    return out


def limits_of(profile: Profile) -> specs.CallLimits:
    """The step limits from the profile's internet path limits (handover, else end to
    end); G.114 / G.107 planning defaults where the profile names none."""
    lim: PathLimits | None = profile.limits.handover or profile.limits.end_to_end
    loss = _bound(lim.loss_pct if lim else None, 1.0)
    jitter = _bound(lim.jitter_ms if lim else None, 20.0)
    mos = lim.mos.comparator[1] if lim and lim.mos else None
    return specs.CallLimits(max_loss_pct=loss, max_jitter_ms=jitter, min_mos=mos)


def _bound(limit: Limit | None, default: float) -> float:
    return limit.comparator[1] if limit is not None else default


def requirement(profile: Profile, options: Options) -> bandwidth.Requirement | None:
    bw = profile.bandwidth
    if bw is None or options.extensions is None:
        return None
    return bandwidth.requirement(
        options.extensions, per_extension_up_kbps=bw.per_extension_up_kbps,
        per_extension_down_kbps=bw.per_extension_down_kbps, packages_kbps=bw.packages_kbps,
        package_mix=options.package_mix or {}, concurrency=options.concurrency or 1.0,
        codec=profile.stream.codec, interval_ms=profile.stream.packet_interval_ms)


def _responder(options: Options) -> tuple[str, int]:
    assert options.responder, "planned only with a responder"
    return hostport.parse(options.responder, STAMP_PORT)


def _capacity(profile: Profile, options: Options) -> list[ProbeRun]:
    need = requirement(profile, options)
    if need is None:
        return []
    host, port = _responder(options)
    s = profile.stream
    budget = CAPACITY_BUDGET_S / 2 if options.quick else CAPACITY_BUDGET_S
    spec = specs.CapacitySpec(id=ids.CAPACITY, host=host, port=port, key=options.responder_key, codec=s.codec,
                         interval_ms=s.packet_interval_ms, jitter_buffer_ms=s.jitter_buffer_ms,
                         required_up_kbps=need.up_kbps, required_down_kbps=need.down_kbps,
                         requirement_basis=need.basis,
                         step_s=2.0 if options.quick else 3.0, duration_s=budget, limits=limits_of(profile))
    title = (f"call load up to {spec.target_calls()} calls via responder {hostport.join(host, port)} "
             f"(need {need.up_kbps:g}/{need.down_kbps:g} kbit/s up/down)")
    return [ProbeRun(ids.CAPACITY, "capacity", spec, budget + 5.0, title, exclusive=True)]


def _stun_capacity(profile: Profile, options: Options) -> list[ProbeRun]:
    """Field mode: the same bounded ramp (requirement + 25 %) as STUN Binding streams to the
    provider's STUN server; it loads and proves the uplink only (downstream is stated as not
    measured). The only step that sends a provider server more than one call's packets."""
    need = requirement(profile, options)
    handovers = [(name, t.host) for name, t in profile.targets_with_role(Role.HANDOVER) if t.host]
    server = next((found for name, _ in handovers if (found := stun_server(profile, name)) is not None), None)
    if server is None and handovers:  # the handover host itself, if it answers STUN (SBCs often do)
        server = (handovers[0][1], 3478)
    if need is None or server is None:
        return []
    s = profile.stream
    budget = CAPACITY_BUDGET_S / 2 if options.quick else CAPACITY_BUDGET_S
    spec = specs.CapacitySpec(id=ids.CAPACITY, host=server[0], port=server[1], codec=s.codec,
                         interval_ms=s.packet_interval_ms, jitter_buffer_ms=s.jitter_buffer_ms,
                         required_up_kbps=need.up_kbps, required_down_kbps=need.down_kbps,
                         requirement_basis=need.basis, step_s=2.0 if options.quick else 3.0,
                         duration_s=budget, limits=limits_of(profile), method="stun")
    title = (f"upstream call load up to {spec.target_calls()} calls via STUN server "
             f"{server[0]}:{server[1]} (need {need.up_kbps:g} kbit/s up)")
    return [ProbeRun(ids.CAPACITY, "capacity", spec, budget + 5.0, title, exclusive=True)]


def _qos(profile: Profile, options: Options) -> list[ProbeRun]:
    q = profile.qos
    if not q or not (q.priority_required or q.voice_dscp is not None):
        return []
    host, port = _responder(options)
    s = profile.stream
    need = requirement(profile, options)
    start = max(1000.0, need.up_kbps) if need else 1000.0
    spec = specs.QosSpec(id=ids.QOS, host=host, port=port, key=options.responder_key, codec=s.codec,
                    interval_ms=s.packet_interval_ms, jitter_buffer_ms=s.jitter_buffer_ms,
                    dscp=q.voice_dscp if q.voice_dscp is not None else s.dscp, bulk_start_kbps=start,
                    duration_s=QOS_BUDGET_S, limits=limits_of(profile))
    return [ProbeRun(ids.QOS, "qos", spec, QOS_BUDGET_S + 5.0,
                    f"voice under bulk load via responder {hostport.join(host, port)}", exclusive=True)]


def _iperf3(options: Options) -> list[ProbeRun]:
    assert options.iperf3, "planned only with an iperf3 server"
    host, port = hostport.parse(options.iperf3, specs.IPERF3_PORT, option="--iperf3")
    out = []
    for reverse, tag in ((False, "up"), (True, "down")):
        spec = specs.Iperf3Spec(id=ids.iperf3(tag), host=host, port=port, duration_s=IPERF3_SECONDS,
                           reverse=reverse)
        out.append(ProbeRun(spec.id, "iperf3", spec, IPERF3_SECONDS + 12.0,
                           f"iperf3 TCP {tag} to {hostport.join(host, port)}", exclusive=True))
    return out
