"""Probe registry: the one literal list of probes (STYLE.md §2), and what each one needs.

Each entry names the module that holds ``async def run(spec, ctx) -> Measurement``, its
``Spec`` class (declared in :mod:`netcheck.probes.specs`, the module's ``Spec``), and says
what the probe needs from the machine and the site: a netcheck responder, raw layer-2 or
ICMP access, an iperf3 server, SNMP credentials. (What may run beside what is the plan's
``ProbeRun.kind`` / ``exclusive``, read by :mod:`netcheck.schedule`.)
The plan checks every run's spec against the entry (:func:`check_spec`: a plan cannot pair
a probe with another probe's Spec), and ``run --plan`` and ``doctor`` say from
:func:`unmet` which runs this machine cannot do, and why, before anyone travels to the
site. Probe modules are imported on first use (:func:`get`), so that the plan and ``run
--plan`` load no probe code, event loop or engine, and ``netcheck --help`` never pays for
scapy or pysnmp.
"""

from __future__ import annotations

import enum
import importlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from netcheck.probes import specs

if TYPE_CHECKING:
    from netcheck.probes._common import Context
    from netcheck.result import Measurement

__all__ = ["PROBES", "Need", "ProbeFn", "ProbeInfo", "check_spec", "get", "prepare", "unmet"]

ProbeFn = Callable[[Any, "Context"], Awaitable["Measurement"]]


class Need(enum.Enum):
    """What a probe needs beyond a working network stack."""

    RESPONDER = "a netcheck responder at the far end (--responder)"
    IPERF3 = "an iperf3 server (--iperf3)"
    SNMP = "SNMP credentials for the switches (--switch)"
    RAW_PACKET = "raw layer-2 access (root or CAP_NET_RAW; Linux AF_PACKET)"
    ICMP = "ICMP echo (a raw or unprivileged ICMP socket, or the Windows ICMP API)"
    ICMP_ERRORS = "ICMP errors from routers (a raw ICMP socket or the Linux error queue)"
    ERROR_QUEUE = "the ICMP error queue of a UDP socket (Linux IP_RECVERR)"


#: privilege flags (platform.capabilities.privileges) of which any one satisfies a need
_SATISFIED_BY: dict[Need, tuple[str, ...]] = {
    Need.RAW_PACKET: ("raw_packet",),
    Need.ICMP: ("raw_icmp", "unprivileged_icmp", "windows_icmp_api"),
    Need.ICMP_ERRORS: ("raw_icmp", "icmp_error_queue"),
    Need.ERROR_QUEUE: ("icmp_error_queue",),
}


@dataclass(frozen=True)
class ProbeInfo:
    """One registry entry: ``module`` holds ``run`` (its ``Spec`` is ``spec``); ``needs`` as above."""

    module: str
    spec: type
    needs: frozenset[Need] = frozenset()


def _p(name: str, spec: type, *needs: Need) -> ProbeInfo:
    return ProbeInfo(f"netcheck.probes.{name}", spec, frozenset(needs))


#: probe name -> its entry. The plan and the runner resolve probes only through this.
PROBES: dict[str, ProbeInfo] = {
    "bufferbloat": _p("bufferbloat", specs.BufferbloatSpec, Need.IPERF3, Need.ICMP),
    "capacity": _p("capacity", specs.CapacitySpec),  # a responder, or STUN upstream only (field mode)
    "dhcp": _p("dhcp", specs.DhcpSpec, Need.RAW_PACKET),
    "dns": _p("dns", specs.DnsSpec),
    "dscp": _p("dscp", specs.DscpSpec, Need.RESPONDER),
    "exposure": _p("exposure", specs.ExposureSpec, Need.RESPONDER),
    "iperf3": _p("iperf3", specs.Iperf3Spec, Need.IPERF3),
    "sip_alg": _p("sip_alg", specs.SipAlgSpec),
    "snmp_switch": _p("snmp_switch", specs.SnmpSwitchSpec, Need.SNMP),
    "link": _p("link", specs.LinkSpec),
    "lldp": _p("lldp", specs.LldpSpec, Need.RAW_PACKET),
    "local_link": _p("local_link", specs.LocalLinkSpec),
    "path_hops": _p("path_hops", specs.PathHopsSpec, Need.ICMP_ERRORS),
    "qos": _p("qos", specs.QosSpec, Need.RESPONDER),
    "stun": _p("stun", specs.StunSpec),
    "tls": _p("tls", specs.TlsSpec),
    "stream": _p("stream", specs.StreamSpec),
    "tcp_ports": _p("tcp_ports", specs.TcpPortsSpec),
    "udp_egress": _p("udp_egress", specs.UdpEgressSpec, Need.ERROR_QUEUE),
    "udp_ports": _p("udp_ports", specs.UdpPortsSpec, Need.RESPONDER),
}


def get(name: str) -> ProbeFn:
    """The ``run`` coroutine function of probe ``name`` (imports its module lazily)."""
    module = importlib.import_module(PROBES[name].module)
    fn: ProbeFn = module.run
    return fn


def check_spec(name: str, spec: object) -> None:
    """TypeError unless ``spec`` is probe ``name``'s own ``Spec`` (exactly its class: the
    QoS test's Spec is a CallSpec like the capacity ramp's, and still not the ramp's)."""
    info = PROBES.get(name)
    if info is None:
        raise TypeError(f"no probe named {name!r}")
    if type(spec) is not info.spec:
        raise TypeError(f"probe {name!r} takes {info.module}.Spec ({info.spec.__qualname__}), "
                        f"not {type(spec).__qualname__}")


def unmet(name: str, privileges: Mapping[str, bool]) -> list[Need]:
    """The needs of probe ``name`` that this machine does not meet (``privileges`` from
    :func:`netcheck.platform.capabilities.privileges`). Site inputs (responder, iperf3
    server, credentials) are not judged here: the plan only schedules such runs when they
    are given."""
    return [need for need in sorted(PROBES[name].needs, key=lambda n: n.name)
            if need in _SATISFIED_BY and not any(privileges.get(flag) for flag in _SATISFIED_BY[need])]


async def prepare(name: str, specs: list[Any]) -> None:
    """Let probe ``name`` do its one-off set-up for ``specs`` (e.g. TLS trust stores) before
    the runner starts any timer: a module may define ``async def prepare(specs)``."""
    module = importlib.import_module(PROBES[name].module)
    hook = getattr(module, "prepare", None)
    if hook is not None:
        await hook(specs)
