"""The types every part of the plan shares (the core builder and the firewall and capacity
planners), kept apart so that none of them imports another in a circle."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from netcheck import waits
from netcheck.probes import specs
from netcheck.profile import Profile, Role
from netcheck.schedule import Kind


@dataclass(frozen=True)
class ProbeRun:
    """One probe invocation; ``timeout_s`` becomes its monotonic deadline in the runner."""

    id: str
    probe: str
    spec: Any
    timeout_s: float
    title: str
    #: a load test (it fills the line): the runner runs it alone (netcheck.schedule)
    exclusive: bool = False
    #: a resource outside this machine that runs with the same tag must not share: the
    #: runner runs them one after the other (netcheck.schedule)
    contends: str = ""
    #: what it does to this machine and the line, hence what may run beside it
    #: (netcheck.schedule): "call" (timing-critical, shares the call engine with other
    #: calls), "passive" (listens, waits), "paced" (a few packets a second), "active"
    kind: Kind = "active"


#: Routers rate-limit the ICMP Time Exceeded they send (Linux: 1/s per destination, burst
#: 6; most vendors alike). Two probes that read Time Exceeded from the same routers at
#: the same time eat each other's budget, and the site-egress test would read the
#: silence as a blocked port, so they take turns.
ICMP_TIME_EXCEEDED = "icmp-time-exceeded"


@dataclass(frozen=True)
class Options:
    quick: bool = False
    gateway: str | None = None  # the default gateway, found by capabilities
    port_remap: dict[int, int] = field(default_factory=dict)  # demo peers
    responder: str | None = None  # HOST[:PORT] of a netcheck responder (STAMP)
    responder_key: bytes | None = field(default=None, repr=False)  # HMAC key: authenticated STAMP
    interface: str | None = None  # LAN probes (link, lldp, dhcp): None = default-route interface
    lldp_wait_s: float = waits.LLDP_WAIT_S  # one 30 s LLDP interval (IEEE 802.1AB default) + margin
    dhcp_wait_s: float = waits.DHCP_WAIT_S  # RFC 2131 4.1 timing, dnsmasq ping check
    voice_vlan: int | None = None  # also DISCOVER tagged on <interface>.<vlan>
    switches: tuple[specs.SnmpTarget, ...] = ()  # SNMP switch audit (credentials inside)
    extensions: int | None = None  # capacity: the requirement needs the site's extensions
    package_mix: dict[str, int] = field(default_factory=dict)  # users per profile package
    concurrency: float | None = None  # share of extensions active at once
    capacity: bool = True  # call-load ramp and QoS under load (with a responder)
    iperf3: str | None = None  # HOST[:PORT] of an iperf3 server: raw throughput, iperf3's figures
    low_cpu: bool = False  # calls on the stream engine's low-CPU schedule (agent on small boxes)


class PlanError(ValueError):
    """The site inputs do not fit the profile (e.g. an unknown --target name)."""


def stun_server(profile: Profile, name: str, options: Options | None = None) -> tuple[str, int] | None:
    """The STUN/TURN server that stands for path ``name`` without a responder: the
    profile's STUN target, else the target itself when its port table row names STUN on
    UDP 3478 (Teams: the transport relay). None when the profile names none."""
    port = (options.port_remap if options else {}).get(specs.STUN_PORT, specs.STUN_PORT)
    named = next((t.host for _, t in profile.targets_with_role(Role.STUN) if t.host), None)
    if named:
        return named, port
    target = profile.targets.get(name)
    for rule in profile.ports:
        lo, hi = rule.range
        if (rule.destination == name and "udp" in rule.transports and lo <= specs.STUN_PORT <= hi
                and "STUN" in rule.protocol.upper() and target is not None and target.host):
            return target.host, port
    return None
