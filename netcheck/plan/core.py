"""The plan: which probes run, against which targets, with which deadlines.

A pure function of the profile, the site inputs and this machine's capabilities, so that
``netcheck run --plan`` can show what *would* be measured without sending a packet.
"""

from __future__ import annotations

import dataclasses

import msgspec

from netcheck import hostport, ids, probes
from netcheck.hostport import is_ip_literal, valid_host
from netcheck.plan import capacity as capacity_plan
from netcheck.plan import firewall as firewall_plan
from netcheck.plan.runs import ICMP_TIME_EXCEEDED as ICMP_TIME_EXCEEDED
from netcheck.plan.runs import Options as Options
from netcheck.plan.runs import PlanError as PlanError
from netcheck.plan.runs import ProbeRun as ProbeRun
from netcheck.plan.runs import stun_server as stun_server
from netcheck.probes import specs
from netcheck.profile import Profile, Role


def with_targets(profile: Profile, overrides: dict[str, str]) -> Profile:
    """Replace target hosts from ``--target NAME=HOST``; unknown names are an input error."""
    targets = dict(profile.targets)
    for name, host in overrides.items():
        if name not in targets:
            known = ", ".join(sorted(targets)) or "none"
            raise PlanError(f"--target {name}=...: profile {profile.id!r} has no target {name!r} (known: {known})")
        if not valid_host(host):
            raise PlanError(f"--target {name}={host!r}: not a host name or IP address")
        targets[name] = msgspec.structs.replace(targets[name], host=host)
    return msgspec.structs.replace(profile, targets=targets)


def missing_required_targets(profile: Profile) -> list[str]:
    """Targets a required check is measured against that have no host (an input error:
    the run could only end INCOMPLETE, and the user can fix it with ``--target``)."""
    names: set[str] = set()
    groups = [g for g in (profile.limits.end_to_end, profile.limits.handover) if g is not None and g.required]
    if groups:
        names |= {n for n, t in profile.targets_with_role(Role.HANDOVER) if not t.host}
    for rule in profile.ports:
        target = profile.targets.get(rule.destination)
        if rule.required and target is not None and not target.host:
            names.add(rule.destination)
    return sorted(names)


def build(profile: Profile, options: Options) -> list[ProbeRun]:
    """Every probe run of a profile with these options, each spec checked against the probe
    registry (a run paired with another probe's Spec is a bug caught here, not mid-run)."""
    runs: list[ProbeRun] = []
    runs += _dns_runs(profile)
    runs += _path_runs(profile, options)
    runs += hop_runs(profile, options)
    runs += bufferbloat_runs(options)
    runs += local_link_runs(options)
    runs += _tcp_runs(profile, options)
    runs += lan_local_runs(profile, options)
    runs += firewall_plan.runs(profile, options)
    runs += capacity_plan.runs(profile, options)
    runs += snmp_runs(options.switches)
    for r in runs:
        probes.check_spec(r.probe, r.spec)
    return runs


SNMP_AUDIT_TIMEOUT_S = 30.0


def snmp_runs(switches: tuple[specs.SnmpTarget, ...]) -> list[ProbeRun]:
    """One SNMP audit per switch; measurement id ``snmp:HOST[:PORT]``."""
    return [
        ProbeRun(ids.snmp(t.label), "snmp_switch", specs.SnmpSwitchSpec(id=ids.snmp(t.label), target=t),
                 SNMP_AUDIT_TIMEOUT_S, f"SNMP switch audit {t.label}")
        for t in switches
    ]


def _dns_runs(profile: Profile) -> list[ProbeRun]:
    return [
        ProbeRun(ids.dns(name), "dns", specs.DnsSpec(id=ids.dns(name), host=t.host), 6.0, f"DNS {t.host}")
        for name, t in profile.targets.items()
        if t.host and not is_ip_literal(t.host)
    ]


def _path_runs(profile: Profile, options: Options) -> list[ProbeRun]:
    """One emulated call per handover target (internet limits) and one to the gateway
    (layer-2 limits).

    With a responder the call is STAMP towards it (the responder stands at the provider
    side, so its path is the handover path); without one it falls back to ICMP echo at the
    same 50 pps against the handover point itself. The LAN call always uses ICMP against
    the gateway (a gateway runs no responder). Calls are of kind "call": they run together
    in one call engine, with only listeners and paced probes beside them
    (netcheck.schedule); ICMP-50pps replaces the older 5 pps
    ``icmp:`` runs, which would measure the same path less precisely.
    """
    limits = profile.limits
    runs = []
    if limits.end_to_end or limits.handover:
        for name, target in profile.targets_with_role(Role.HANDOVER):
            if target.host:
                runs.append(_stream_run(profile, options, name, target.host, _window(profile)))
    gateway = lan_target(profile, options)
    if limits.layer2 and gateway:
        no_responder = dataclasses.replace(options, responder=None, responder_key=None)
        runs.append(_stream_run(profile, no_responder, "gateway", gateway, limits.layer2.loss_window_s))
    return runs


#: Probes per hop: as many as the call measurement lasts in seconds (one per hop per
#: second), so the trace never makes a run longer than its call; at least 3, at most 30.
#: 30 tell a segment adding 10 % loss from noise (z >= 1.645), 10 only 30 %, the 5 of a
#: 5 s quick call 60 % (``evaluate.faultloc.smallest_told_loss_pct``; the check says so).
HOP_ROUNDS = (3, 30)


def hop_runs(profile: Profile, options: Options) -> list[ProbeRun]:
    """One per-hop trace (UDP at the profile's voice DSCP) per handover target: where on
    the path (LAN, site edge, ISP, provider) delay, jitter and loss start. Paced at one
    probe per hop per second (routers rate-limit ICMP Time Exceeded), so its duration is
    the number of rounds in seconds plus the wait for the last answers and the path MTU
    (twice that when UDP does not reach the target and an ICMP echo trace follows)."""
    if not (profile.limits.end_to_end or profile.limits.handover):
        return []
    call_s = profile.stream.quick_duration_s if options.quick else profile.stream.duration_s
    rounds = int(min(HOP_ROUNDS[1], max(HOP_ROUNDS[0], call_s)))
    runs = []
    for name, target in profile.targets_with_role(Role.HANDOVER):
        if target.host:
            spec = specs.PathHopsSpec(id=ids.path_hops(name), host=target.host, rounds=rounds,
                                  dscp=profile.stream.dscp, gateway=options.gateway)
            # room for a second (ICMP echo) trace when UDP does not reach the target, and the PMTU
            budget = 2 * (rounds * spec.interval_s + spec.wait_s) + 10.0
            # beside the calls (kind "paced": one probe per hop per second): its hop times are
            # user-space times in a Python thread, fair only because the call engine hands the
            # GIL over every 0.5 ms while calls run (probes/_stream_mux.SWITCH_S; with CPython's
            # 5 ms a trace beside the calls and the LAN listeners saw 3-6 ms of false LAN jitter:
            # tests/integration/test_trace_beside_calls_netlab.py)
            runs.append(ProbeRun(spec.id, "path_hops", spec, budget, f"per-hop trace to {name} {target.host}",
                                 contends=ICMP_TIME_EXCEEDED, kind="paced"))
    return runs


def local_link_runs(options: Options) -> list[ProbeRun]:
    """This computer's own link (Wi-Fi, duplex-mismatch symptoms, VLAN): always, it sends nothing."""
    spec = specs.LocalLinkSpec(interface=options.interface)
    return [ProbeRun(spec.id, "local_link", spec, spec.sample_s + 3.0, "own link: type, errors, VLAN",
                     kind="passive")]


def bufferbloat_runs(options: Options) -> list[ProbeRun]:
    """Latency under load needs a load sink: only with ``--iperf3``. Exclusive: it saturates
    the line, which would spoil every other measurement running beside it."""
    if not options.iperf3:
        return []
    host, port = hostport.parse(options.iperf3, specs.IPERF3_PORT, option="--iperf3")
    load_s = 4.0 if options.quick else 8.0
    spec = specs.BufferbloatSpec(id=ids.BUFFERBLOAT, load_host=host, load_port=port, load_s=load_s)
    timeout = spec.idle_s + 2 * (load_s + 5.0) + 10.0
    title = f"latency under load via iperf3 {hostport.join(host, port)}"
    return [ProbeRun(spec.id, "bufferbloat", spec, timeout, title, exclusive=True)]


def _stream_run(profile: Profile, options: Options, name: str, host: str, window: float | None) -> ProbeRun:
    """The call for one path, with its fall-back order (ARCHITECTURE.md, field mode):
    STAMP via a responder > STUN Binding stream to the provider's STUN/TURN server (the
    profile's, else the target itself on 3478) > ICMP echo to the target > a SIP OPTIONS
    series when the port table names SIP towards it. The probe tries them in that order
    until one answers."""
    s = profile.stream
    duration = s.quick_duration_s if options.quick else s.duration_s
    common = dict(
        id=ids.stream(name), codec=s.codec, duration_s=duration, interval_ms=s.packet_interval_ms,
        dscp=s.dscp, jitter_buffer_ms=s.jitter_buffer_ms, window_s=window or 10.0,
        burst_window_ms=_burst_window(profile), low_cpu=options.low_cpu,
    )
    stun_at = stun_server(profile, name, options) if name != "gateway" else None
    guess = stun_at is None and name != "gateway"
    if guess:  # many SBCs and relays answer STUN themselves; a silent one costs <= 2 s
        stun_at = (host, (options.port_remap or {}).get(specs.STUN_PORT, specs.STUN_PORT))
    chain: list[specs.Attempt] = []
    if stun_at:
        chain.append(specs.Attempt("stun", *stun_at))
    chain.append(specs.Attempt("icmp", host))
    if name != "gateway" and _sip_row(profile, name):
        chain.append(specs.Attempt("sip", host, specs.SIP_PORT))
    if options.responder:
        r_host, r_port = hostport.parse(options.responder, specs.STAMP_PORT)
        spec = specs.StreamSpec(host=r_host, port=r_port, key=options.responder_key, method="stamp",
                           fallback=tuple(chain), **common)  # type: ignore[arg-type]
        title = f"call (STAMP) via responder {hostport.join(r_host, r_port)} for {name}"
    else:
        first, rest = chain[0], tuple(chain[1:])
        spec = specs.StreamSpec(host=first.host, port=first.port, method=first.method, fallback=rest,
                           **common)  # type: ignore[arg-type]
        via = "STUN at the target itself, if it answers" if guess else "STUN server"
        title = (f"call (STUN 50 pps) to {name} via {via} {first.host}:{first.port}" if stun_at
                 else f"call (ICMP 50 pps) to {name} {host}")
    # each fall-back may run after a silent (2 s) attempt before it
    return ProbeRun(spec.id, "stream", spec, duration + 8.0 + 3.0 * len(spec.fallback), title,
                    kind="call")


def _sip_row(profile: Profile, name: str) -> bool:
    """True when the port table has a UDP row with 5060 towards target ``name``."""
    return any(r.destination == name and "udp" in r.transports and r.range[0] <= specs.SIP_PORT <= r.range[1]
               for r in profile.ports)


def _window(profile: Profile) -> float | None:
    groups = [g for g in (profile.limits.handover, profile.limits.end_to_end) if g]
    return next((g.loss_window_s for g in groups if g.loss_window_s), None)


def _burst_window(profile: Profile) -> float | None:
    groups = [g for g in (profile.limits.handover, profile.limits.end_to_end, profile.limits.layer2) if g]
    return next((g.burst_window_ms for g in groups if g.burst_window_ms), None)


def lan_target(profile: Profile, options: Options) -> str | None:
    """The LAN measurement target: a profile target with role gateway, else the default
    gateway of this machine."""
    named = profile.targets_with_role(Role.GATEWAY)
    return next((t.host for _, t in named if t.host), None) or options.gateway


def _tcp_runs(profile: Profile, options: Options) -> list[ProbeRun]:
    runs = []
    for i, rule in enumerate(profile.ports):
        host = profile.resolve_destination(rule.destination)
        if "tcp" not in rule.transports or not host:
            continue
        lo, hi = rule.range
        spec = specs.TcpPortsSpec(
            id=ids.tcp(i), host=host, ports=tuple(range(lo, hi + 1)), remap=options.port_remap
        )
        runs.append(ProbeRun(ids.tcp(i), "tcp_ports", spec, 10.0, f"TCP {rule.port} {host}"))
    return runs



def lan_local_runs(profile: Profile, options: Options) -> list[ProbeRun]:
    """Local layer 2 without SNMP (only when the profile has LAN requirements): own link,
    LLDP/CDP listen, DHCP DISCOVER untagged and, with ``voice_vlan``, tagged."""
    if not profile.lan:
        return []
    iface, where = options.interface, options.interface or "default interface"
    runs = [
        ProbeRun(ids.LINK, "link", specs.LinkSpec(interface=iface), 5.0, f"link {where}", kind="passive"),
        ProbeRun(ids.LLDP, "lldp", specs.LldpSpec(interface=iface, wait_s=options.lldp_wait_s),
                 options.lldp_wait_s + 3.0, f"LLDP/CDP listen {where}", kind="passive"),
    ]
    if profile.lan.dhcp:
        runs.append(ProbeRun(ids.DHCP, "dhcp", specs.DhcpSpec(interface=iface, wait_s=options.dhcp_wait_s),
                             options.dhcp_wait_s + 3.0, f"DHCP DISCOVER {where}", kind="passive"))
        if options.voice_vlan is not None:
            vid = options.voice_vlan
            spec = specs.DhcpSpec(id=ids.dhcp_vlan(vid), interface=iface, vlan=vid, wait_s=options.dhcp_wait_s)
            runs.append(ProbeRun(spec.id, "dhcp", spec, options.dhcp_wait_s + 3.0, f"DHCP DISCOVER VLAN {vid}",
                                 kind="passive"))
    return runs
