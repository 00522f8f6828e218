"""Probe registry: the one literal list of probes (STYLE.md §2), and what each one needs.

Each entry names the module that holds ``async def run(spec, ctx) -> Measurement`` and its
``Spec`` class, and says what the probe needs from the machine and the site: a netcheck
responder, raw layer-2 or ICMP access, an iperf3 server, SNMP credentials, the process to
itself (timing-critical). The plan checks every run's spec against the entry
(:func:`check_spec`: a plan cannot pair a probe with another probe's Spec), and ``run
--plan`` and ``doctor`` say from :func:`unmet` which runs this machine cannot do, and why,
before anyone travels to the site. Modules are imported on first use so that ``netcheck
--help`` never pays for scapy or pysnmp.
"""

from __future__ import annotations

import enum
import importlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from netcheck.probes._common import Context
from netcheck.result import Measurement

__all__ = ["PROBES", "Context", "Need", "ProbeFn", "ProbeInfo", "check_spec", "get", "prepare", "unmet"]

ProbeFn = Callable[[Any, Context], Awaitable[Measurement]]


class Need(enum.Enum):
    """What a probe needs beyond a working network stack."""

    RESPONDER = "a netcheck responder at the far end (--responder)"
    IPERF3 = "an iperf3 server (--iperf3)"
    SNMP = "SNMP credentials for the switches (--switch)"
    EXCLUSIVE = "the machine to itself: timing-critical, runs alone"
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
    """One registry entry: ``module`` holds ``run`` and ``Spec``; ``needs`` as above."""

    module: str
    needs: frozenset[Need] = frozenset()


def _p(name: str, *needs: Need) -> ProbeInfo:
    return ProbeInfo(f"netcheck.probes.{name}", frozenset(needs))


#: probe name -> its entry. The plan and the runner resolve probes only through this.
PROBES: dict[str, ProbeInfo] = {
    "bufferbloat": _p("bufferbloat", Need.IPERF3, Need.ICMP, Need.EXCLUSIVE),
    "capacity": _p("capacity", Need.EXCLUSIVE),  # a responder, or STUN upstream only (field mode)
    "dhcp": _p("dhcp", Need.RAW_PACKET),
    "dns": _p("dns"),
    "dscp": _p("dscp", Need.RESPONDER),
    "exposure": _p("exposure", Need.RESPONDER),
    "iperf3": _p("iperf3", Need.IPERF3),
    "sip_alg": _p("sip_alg"),
    "snmp_switch": _p("snmp_switch", Need.SNMP),
    "link": _p("link"),
    "lldp": _p("lldp", Need.RAW_PACKET),
    "local_link": _p("local_link"),
    "path_hops": _p("path_hops", Need.ICMP_ERRORS),
    "qos": _p("qos", Need.RESPONDER, Need.EXCLUSIVE),
    "stun": _p("stun"),
    "tls": _p("tls"),
    "stream": _p("stream", Need.EXCLUSIVE),
    "tcp_ports": _p("tcp_ports"),
    "udp_egress": _p("udp_egress", Need.ERROR_QUEUE),
    "udp_ports": _p("udp_ports", Need.RESPONDER),
}


def get(name: str) -> ProbeFn:
    """The ``run`` coroutine function of probe ``name`` (imports its module lazily)."""
    module = importlib.import_module(PROBES[name].module)
    fn: ProbeFn = module.run
    return fn


def check_spec(name: str, spec: object) -> None:
    """TypeError unless ``spec`` is probe ``name``'s own ``Spec`` (checked by module and
    class name, so the plan needs no import it does not already have)."""
    info = PROBES.get(name)
    if info is None:
        raise TypeError(f"no probe named {name!r}")
    kind = type(spec)
    if kind.__module__ != info.module or kind.__name__ != "Spec":
        raise TypeError(f"probe {name!r} takes {info.module}.Spec, not {kind.__module__}.{kind.__name__}")


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
