"""Local link: the NIC this machine measures from (speed, duplex, MTU, addresses, gateway).

Works everywhere psutil does, with no privileges and no traffic. Why it matters: a
measurement laptop on a 10 Mbit/s half-duplex port measures its own port, not the LAN,
and the provider asks for 100/1000BaseT auto-sensing ports (REQUIREMENTS.md §2).
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import psutil

from netcheck.platform import capabilities
from netcheck.probes._common import Context, Timer, error
from netcheck.probes.specs import LinkSpec as Spec
from netcheck.result import ErrorKind, Measurement, Value

#: Per-thread view of the routing table first: in a network namespace entered by one
#: thread (the lab, ``setns``), /proc/net follows the process's main thread instead.
ROUTE_FILES = (Path("/proc/thread-self/net/route"), Path("/proc/net/route"))


async def run(spec: Spec, ctx: Context) -> Measurement:
    """Read the interface's state (psutil) in a worker thread; never raises."""
    timer = Timer()
    iface, values = await asyncio.to_thread(_measure, spec.interface)
    target = iface or "default interface"
    if values is None:
        detail = (
            f"interface {spec.interface!r} not found"
            if spec.interface
            else "no default route and no active interface found"
        )
        return timer.measurement(
            id=spec.id,
            probe="link",
            target=target,
            method="psutil",
            error=error(ErrorKind.NO_TARGET, detail),
        )
    return timer.measurement(
        id=spec.id, probe="link", target=target, method="psutil", values=values
    )


def _measure(wanted: str | None) -> tuple[str | None, dict[str, Value] | None]:
    gateway, route_iface = default_route()
    iface = wanted or route_iface or _first_active()
    stats = psutil.net_if_stats().get(iface) if iface else None
    if iface is None or stats is None:
        return iface, None
    addrs = psutil.net_if_addrs().get(iface, [])
    duplex = capabilities.duplex_name(stats.duplex)
    return iface, {
        "interface": iface,
        "is_up": stats.isup,
        "speed_mbps": stats.speed or None,  # psutil reports 0 when the driver does not know
        "duplex": duplex,
        "mtu": stats.mtu or None,
        "mac": next((a.address for a in addrs if a.family == psutil.AF_LINK), None),
        "ipv4": [a.address for a in addrs if a.family == socket.AF_INET],
        "ipv6": [a.address.split("%")[0] for a in addrs if a.family == socket.AF_INET6],
        "gateway": gateway if route_iface in (None, iface) else None,
        "default_route_interface": route_iface,
    }


def default_route() -> tuple[str | None, str | None]:
    """(IPv4 default gateway, its interface) from the routing table; elsewhere the gateway
    from :func:`netcheck.platform.capabilities.default_gateway` (scapy's routes) and no interface."""
    for path in ROUTE_FILES:
        try:
            return parse_route_table(path.read_text())
        except OSError:
            continue
    return capabilities.default_gateway(), None


def parse_route_table(text: str) -> tuple[str | None, str | None]:
    """/proc/net/route: the row with destination 0 and the gateway flag (RTF_GATEWAY 0x2)."""
    for line in text.splitlines()[1:]:
        f = line.split()
        if len(f) >= 4 and f[1] == "00000000" and int(f[3], 16) & 0x2:
            return socket.inet_ntoa(int(f[2], 16).to_bytes(4, "little")), f[0]
    return None, None


def _first_active() -> str | None:
    """First interface that is up, not loopback, and has an IPv4 address."""
    stats, addrs = psutil.net_if_stats(), psutil.net_if_addrs()
    for name in sorted(addrs):
        st = stats.get(name)
        has_v4 = any(
            a.family == socket.AF_INET and not a.address.startswith("127.") for a in addrs[name]
        )
        if st and st.isup and has_v4:
            return str(name)
    return None
