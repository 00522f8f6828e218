"""What this machine allows: privileges, sockets, interfaces, default gateway, peer tools.

The plan uses it to choose methods (privileged or unprivileged ICMP, raw capture or not) and
``netcheck doctor`` prints it, so a technician learns *before* the appointment which
capability to grant. Every probe here is read-only: it opens and closes a socket, reads the
routing table, or looks up a program; it sends no traffic.
"""

from __future__ import annotations

import platform
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

from netcheck import platform as plat
from netcheck.result import Interface

PEER_TOOLS = ("ping", "iperf3", "snmpwalk", "tshark", "sipp", "turnserver", "dnsmasq", "lldpd", "nft")


def privileges() -> dict[str, bool]:
    """Booleans the plan and doctor need; each one is tried, not guessed (by the platform
    layer, :func:`netcheck.platform.detect`)."""
    c = plat.caps()
    return {
        "root": c.admin,
        "raw_icmp": c.raw_icmp,
        "unprivileged_icmp": c.ping_socket,
        "windows_icmp_api": c.icmp_api,
        "raw_packet": _can_open_packet(),
        "kernel_rx_timestamps": c.rx_timestamps,
        "tos_readback": c.recv_tos,
        "icmp_error_queue": c.error_queue,
    }


def _can_open_packet() -> bool:
    """AF_PACKET exists on Linux only; elsewhere scapy would need Npcap/BPF."""
    family = getattr(socket, "AF_PACKET", None)
    return (plat.caps().system.startswith("linux") and family is not None
            and plat.can_open(family, socket.SOCK_RAW, 0))


def interfaces() -> list[Interface]:
    """Addresses, MAC, speed, duplex and MTU per interface (psutil; portable). psutil is
    imported here, not at the top: ``run --plan`` asks only for privileges and the gateway."""
    import psutil

    stats = psutil.net_if_stats()
    out = []
    for name, addrs in sorted(psutil.net_if_addrs().items()):
        st = stats.get(name)
        mac = next((a.address for a in addrs if a.family == psutil.AF_LINK), None)
        ips = [a.address for a in addrs if a.family in (socket.AF_INET, socket.AF_INET6)]
        duplex = duplex_name(st.duplex) if st else None
        out.append(Interface(
            name=name, addresses=ips, mac=mac, is_up=st.isup if st else None,
            speed_mbps=(st.speed or None) if st else None, duplex=duplex,
            mtu=st.mtu if st else None,
        ))
    return out


def duplex_name(duplex: Any) -> str | None:
    """psutil's NIC duplex constant as "full" / "half" (None when the driver does not say)."""
    import psutil

    names: dict[Any, str] = {psutil.NIC_DUPLEX_FULL: "full", psutil.NIC_DUPLEX_HALF: "half"}
    return names.get(duplex)


def default_gateway() -> str | None:
    """The IPv4 default gateway: Linux routing table, else scapy's routes if installed.

    psutil has no gateway API and netifaces is archived (DEPENDENCIES.md)."""
    route = Path("/proc/net/route")
    if route.exists():
        return _gateway_from_proc(route.read_text())
    try:
        from scapy.config import conf

        gw = conf.route.route("0.0.0.0")[2]
    except Exception:  # scapy missing or no route table on this OS
        return None
    return None if gw in ("0.0.0.0", "") else str(gw)


def _gateway_from_proc(text: str) -> str | None:
    """Parse /proc/net/route: the row with destination 0 and the gateway flag (0x2)."""
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 4 and fields[1] == "00000000" and int(fields[3], 16) & 0x2:
            return socket.inet_ntoa(int(fields[2], 16).to_bytes(4, "little"))
    return None


def tools() -> dict[str, str | None]:
    """Optional peer tools on PATH (used by benches, the lab and cross-checks)."""
    return {name: shutil.which(name) for name in PEER_TOOLS}


def describe_os() -> str:
    return f"{platform.system()} {platform.release()} ({platform.machine()}), Python {sys.version.split()[0]}"
