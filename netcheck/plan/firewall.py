"""Plan entries of the firewall/NAT area (issue 5): STUN, NAT lifetime, TLS, SIP ALG.

Kept beside :mod:`netcheck.plan.core` so that the plan's own module only gains one line; the
measurement ids (``stun:udp:<target>``, ``stun:tcp:<target>``, ``stun:lifetime:<target>``,
``tls:<port-row-index>``, ``sip_alg:<udp|tcp>:<port>``, ``sip_alg:options``) are what
:mod:`netcheck.evaluate.firewall` reads.
"""

from __future__ import annotations

from netcheck import hostport, ids
from netcheck.plan.runs import ICMP_TIME_EXCEEDED, Options, ProbeRun, stun_server
from netcheck.probes import specs
from netcheck.probes.specs import SIP_PORT, STAMP_PORT, STUN_PORT
from netcheck.profile import Profile, Role

#: Idle times probed in parallel for the UDP binding lifetime (full runs only): the search
#: lasts as long as the longest one (RFC 5780 section 4.6).
LIFETIME_CHECKPOINTS_S = (15.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0)


def runs(profile: Profile, options: Options) -> list[ProbeRun]:
    # the demo's loopback peers: plain TCP listeners (no TLS) and a STUN server on a free port
    if options.port_remap:
        return [*_stun(profile, options), *_sip_alg(profile, options)]
    return [*_stun(profile, options), *_stun_rows(profile), *_tls(profile),
            *_sip_alg(profile, options), *_sip_rows(profile, options),
            *udp_runs(profile, options), *egress_runs(profile, options),
            *responder_runs(profile, options)]


def _stun(profile: Profile, options: Options) -> list[ProbeRun]:
    out = []
    port = options.port_remap.get(STUN_PORT, STUN_PORT)  # the demo's STUN server listens elsewhere
    for name, target in profile.targets_with_role(Role.STUN):
        if not target.host:
            continue
        for transport in ("udp", "tcp"):
            rid = ids.stun(transport, name)
            spec = specs.StunSpec(id=rid, host=target.host, transport=transport, port=port)
            out.append(ProbeRun(rid, "stun", spec, 20.0, f"STUN {transport.upper()} {target.host}"))
        checkpoints = lifetime_checkpoints(profile)
        if not options.quick and not options.port_remap and checkpoints:
            rid = ids.stun_lifetime(name)
            spec = specs.StunSpec(id=rid, host=target.host, lifetime_checkpoints_s=checkpoints)
            out.append(ProbeRun(rid, "stun", spec, checkpoints[-1] + 10.0,
                               f"NAT UDP binding lifetime via {target.host}"))
    return out


def lifetime_interval(profile: Profile) -> float | None:
    """The interval the NAT binding must outlive (SIP keep-alive, else registration), the
    same rule :func:`netcheck.evaluate.firewall._lifetime` judges by; None: nothing to judge."""
    sip = profile.sip
    if sip is None:
        return None
    return sip.keepalive_s or sip.registration_s


def lifetime_checkpoints(profile: Profile) -> tuple[float, ...]:
    """Idle times worth probing: up to the first one beyond the interval (a longer search
    cannot change the verdict); none when the profile gives no interval — a minutes-long
    search whose result could only be SKIPPED is not run."""
    interval = lifetime_interval(profile)
    if interval is None:
        return ()
    upto = next((i for i, c in enumerate(LIFETIME_CHECKPOINTS_S) if c > interval), None)
    return LIFETIME_CHECKPOINTS_S if upto is None else LIFETIME_CHECKPOINTS_S[: upto + 1]


def notes(profile: Profile, options: Options) -> list[str]:
    """What the firewall area deliberately does not run, and why (for ``--plan``)."""
    if profile.targets_with_role(Role.STUN) and not lifetime_checkpoints(profile) and not options.quick:
        return ["NAT UDP binding lifetime: not searched: the profile names no SIP keep-alive or "
                "registration interval to judge it against"]
    return []


#: A STUN row of at most this many ports gets one Binding per port (Teams: 3478-3481).
STUN_ROW_MAX_PORTS = 8


def _stun_rows(profile: Profile) -> list[ProbeRun]:
    """A few Binding requests to every port of a small UDP row that names STUN (Teams'
    transport relays answer on 3478-3481), other than 3478 on a STUN target (asked above):
    each answer proves that port open towards that host (netcheck.evaluate.field)."""
    asked = {t.host for _, t in profile.targets_with_role(Role.STUN) if t.host}
    out = []
    for rule in profile.ports:
        host = profile.resolve_destination(rule.destination)
        lo, hi = rule.range
        if (not host or "udp" not in rule.transports or "STUN" not in rule.protocol.upper()
                or hi - lo + 1 > STUN_ROW_MAX_PORTS):
            continue
        for port in range(lo, hi + 1):
            if port == STUN_PORT and host in asked:
                continue
            rid = ids.stun_row(rule.destination, port)
            spec = specs.StunSpec(id=rid, host=host, port=port, count=2, discovery=False)
            out.append(ProbeRun(rid, "stun", spec, 8.0, f"STUN UDP {hostport.join(host, port)}"))
    return out


def _tls(profile: Profile) -> list[ProbeRun]:
    out = []
    for i, rule in enumerate(profile.ports):
        host = profile.resolve_destination(rule.destination)
        if rule.tls and host and "tcp" in rule.transports and rule.range[0] == rule.range[1]:
            spec = specs.TlsSpec(id=ids.tls(i), host=host, port=rule.range[0])
            out.append(ProbeRun(ids.tls(i), "tls", spec, 8.0, f"TLS {host}:{rule.port}"))
    return out


def sip_legs(profile: Profile) -> list[tuple[int, str]]:
    """(port, transport) pairs the SIP ALG test covers: the first port of every plain SIP
    row of the port table (SIPS is TLS, opaque to an ALG) over each transport the row
    allows, plus 5060 (RFC 3261 section 18.1, where most ALGs listen whatever the profile
    says) over every transport the profile's SIP rows allow (UDP and TCP when none)."""
    rows = [r for r in profile.ports if r.protocol.upper() == "SIP" and not r.tls]
    legs = {(r.range[0], t) for r in rows for t in r.transports if t in ("udp", "tcp")}
    allowed = {t for _, t in legs} or {"udp", "tcp"}
    legs |= {(SIP_PORT, t) for t in allowed}
    return sorted(legs, key=lambda leg: (leg[0], leg[1] != "udp"))


def _sip_alg(profile: Profile, options: Options) -> list[ProbeRun]:
    """With a responder: the SIP mirror on its host, on every leg of :func:`sip_legs`
    (``sip_alg:<transport>:<port>``, high confidence). With a SIP / handover host in the
    profile, also OPTIONS with RFC 3581 to it (``sip_alg:options``, medium confidence): the
    verdict without a responder, and the fallback when the mirror does not answer."""
    if not profile.sip or profile.sip.alg_allowed:
        return []
    out = []
    if options.responder:
        host, control_port = hostport.parse(options.responder, STAMP_PORT)
        for port, t in sip_legs(profile):
            rid = ids.sip_leg(t, port)
            spec = specs.SipAlgSpec(id=rid, host=host, port=port, transport=t,
                                key=options.responder_key, control_port=control_port)
            out.append(ProbeRun(rid, "sip_alg", spec, 15.0,
                               f"SIP ALG {t.upper()} {port} via responder mirror {host}"))
    sbc = _sip_server(profile)
    if sbc is not None:
        # the public address comes from the profile's STUN server, else the SBC itself: many
        # answer STUN (the field-mode call tries it first too); a silent one costs ~3.5 s
        stun_host = next((t.host for _, t in profile.targets_with_role(Role.STUN) if t.host), None) or sbc[0]
        spec = specs.SipAlgSpec(id=ids.SIP_OPTIONS, host=sbc[0], port=sbc[1], mode="options",
                            stun_host=stun_host)
        # paced: a STUN Binding (sent up to 3 times, RTO doubling from 0.5 s) and an OPTIONS
        # (up to twice, 1 s apart): five datagrams in up to 5.5 s, mostly waiting, so it runs
        # beside the calls; after them it held the UDP sweep back by that wait (issue 22)
        out.append(ProbeRun(ids.SIP_OPTIONS, "sip_alg", spec, 10.0,
                           f"SIP ALG: OPTIONS with rport (RFC 3581) to {sbc[0]}:{sbc[1]}", kind="paced"))
    return out


def _sip_server(profile: Profile) -> tuple[str, int] | None:
    """The provider's SIP server (role sip, else handover) and its first SIP UDP port."""
    named = [*profile.targets_with_role(Role.SIP), *profile.targets_with_role(Role.HANDOVER)]
    for name, target in named:
        if target.host:
            ports = [r.range[0] for r in profile.ports if r.protocol.upper() == "SIP"
                     and not r.tls and "udp" in r.transports and r.destination == name]
            return target.host, (ports[0] if ports else SIP_PORT)
    return None


def _sip_rows(profile: Profile, options: Options) -> list[ProbeRun]:
    """Field mode: a SIP OPTIONS to each host of a UDP 5060 port row (e.g. stimme's local SIP
    trunk, ``--target sip_trunk=HOST``) that the SIP ALG test does not already ask; its
    answer proves UDP 5060 open towards that host (netcheck.evaluate.field)."""
    if options.responder:
        return []
    asked = {r.spec.host for r in _sip_alg(profile, options)}
    out = []
    for rule in profile.ports:
        host = profile.resolve_destination(rule.destination)
        lo, hi = rule.range
        if host and host not in asked and "udp" in rule.transports and lo <= SIP_PORT <= hi:
            asked.add(host)
            rid = ids.sip_options(rule.destination)
            spec = specs.SipAlgSpec(id=rid, host=host, port=SIP_PORT, mode="options")
            out.append(ProbeRun(rid, "sip_alg", spec, 8.0, f"SIP OPTIONS {host}:{SIP_PORT} (UDP egress)"))
    return out


def egress_runs(profile: Profile, options: Options) -> list[ProbeRun]:
    """Field mode: the TTL site-egress test of every UDP row (measurement ``egress``),
    with the STUN server's port as control where the profile names one. Kind "paced": it
    sends about one datagram a second, which disturbs no call, and runs beside the calls
    and the listeners (netcheck.schedule) instead of after them; but never beside
    another reader of the routers' Time Exceeded (the per-hop trace): ``contends``."""
    if options.responder:
        return []
    rows = []
    for i, rule in enumerate(profile.ports):
        host = profile.resolve_destination(rule.destination)
        if host and "udp" in rule.transports:
            rows.append(specs.EgressRow(row=i, host=host, lo=rule.range[0], hi=rule.range[1]))
    if not rows:
        return []
    stun_at = next((s for name, _ in profile.targets_with_role(Role.HANDOVER)
                    if (s := stun_server(profile, name)) is not None), None)
    if stun_at is None:
        stun_at = next((s for r in rows if (s := stun_server(profile, profile.ports[r.row].destination))), None)
    control = stun_at or (rows[0].host, specs.TRACEROUTE_PORT)
    spec = specs.UdpEgressSpec(id=ids.EGRESS, rows=tuple(rows), control_host=control[0],
                           control_port=control[1])
    return [ProbeRun(ids.EGRESS, "udp_egress", spec, spec.budget_s(),
                    f"UDP site egress (TTL one hop past the site edge) for {len(rows)} port rows",
                    contends=ICMP_TIME_EXCEEDED, kind="paced")]


def udp_runs(profile: Profile, options: Options) -> list[ProbeRun]:
    """With a responder: every UDP row of the port table swept port by port against it
    (``udp:<row>``). ``exclusive``: a sweep sends thousands of datagrams per second and must
    not run beside the timed call. Without a responder nothing is planned; the rows stay
    NOT_MEASURED with the reason (netcheck.evaluate.udp)."""
    if not options.responder:
        return []
    host, port = hostport.parse(options.responder, STAMP_PORT)
    out = []
    for i, rule in enumerate(profile.ports):
        dest = profile.resolve_destination(rule.destination)
        if "udp" not in rule.transports or not dest:
            continue
        lo, hi = rule.range
        spec = specs.UdpPortsSpec(id=ids.udp(i), host=host, ranges=((lo, hi),), control_port=port,
                              key=options.responder_key, stands_for=dest)
        # all blocked, worst case: 1 round at 3000 pps + 2 at 1500 pps, each + <= 2 s settling
        timeout = 10.0 + 2.0 * (hi - lo + 1) / 1000.0
        out.append(ProbeRun(ids.udp(i), "udp_ports", spec, timeout,
                           f"UDP {rule.port} via responder {host} (for {dest})", exclusive=True))
    return out


def responder_runs(profile: Profile, options: Options) -> list[ProbeRun]:
    """With a responder: DSCP read-back on the first port of the first UDP media range (when
    the profile asks for a voice DSCP), and the connect-back exposure test (when the profile
    forbids admin access from the internet)."""
    if not options.responder:
        return []
    host, port = hostport.parse(options.responder, STAMP_PORT)
    out = []
    media = [r.range[0] for r in profile.ports if "udp" in r.transports and r.range[1] > r.range[0]]
    if profile.qos and profile.qos.voice_dscp is not None and media:
        spec = specs.DscpSpec(id=ids.DSCP, host=host, port=media[0], dscp=profile.qos.voice_dscp,
                         key=options.responder_key)
        out.append(ProbeRun(ids.DSCP, "dscp", spec, 8.0, f"DSCP read-back via responder {host}"))
    if profile.lan and profile.lan.no_admin_exposure:
        spec2 = specs.ExposureSpec(id=ids.EXPOSURE, host=host, control_port=port, key=options.responder_key)
        out.append(ProbeRun(ids.EXPOSURE, "exposure", spec2, 10.0,
                           f"exposure: connect-back from responder {host}"))
    return out
