"""Probe registry: the one literal list of probe names (STYLE.md §2).

Each entry names the module that holds ``async def run(spec, ctx) -> Measurement``. Modules
are imported on first use so that ``netcheck --help`` never pays for scapy or pysnmp.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import Any

from netcheck.probes._common import Context
from netcheck.result import Measurement

__all__ = ["PROBES", "Context", "ProbeFn", "get", "prepare"]

ProbeFn = Callable[[Any, Context], Awaitable[Measurement]]

#: probe name -> module path. The profile schema, the plan and the CLI derive from this.
PROBES: dict[str, str] = {
    "bufferbloat": "netcheck.probes.bufferbloat",
    "capacity": "netcheck.probes.capacity",
    "dhcp": "netcheck.probes.dhcp",
    "dns": "netcheck.probes.dns",
    "dscp": "netcheck.probes.dscp",
    "exposure": "netcheck.probes.exposure",
    "icmp": "netcheck.probes.icmp",
    "iperf3": "netcheck.probes.iperf3",
    "sip_alg": "netcheck.probes.sip_alg",
    "snmp_switch": "netcheck.probes.snmp_switch",
    "link": "netcheck.probes.link",
    "lldp": "netcheck.probes.lldp",
    "local_link": "netcheck.probes.local_link",
    "path_hops": "netcheck.probes.path_hops",
    "qos": "netcheck.probes.qos",
    "stun": "netcheck.probes.stun",
    "tls": "netcheck.probes.tls",
    "stream": "netcheck.probes.stream",
    "tcp_ports": "netcheck.probes.tcp_ports",
    "udp_egress": "netcheck.probes.udp_egress",
    "udp_ports": "netcheck.probes.udp_ports",
}


def get(name: str) -> ProbeFn:
    """The ``run`` coroutine function of probe ``name`` (imports its module lazily)."""
    module = importlib.import_module(PROBES[name])
    fn: ProbeFn = module.run
    return fn


async def prepare(name: str, specs: list[Any]) -> None:
    """Let probe ``name`` do its one-off set-up for ``specs`` (e.g. TLS trust stores) before
    the runner starts any timer: a module may define ``async def prepare(specs)``."""
    module = importlib.import_module(PROBES[name])
    hook = getattr(module, "prepare", None)
    if hook is not None:
        await hook(specs)
