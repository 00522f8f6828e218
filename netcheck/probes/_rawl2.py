"""Layer-2 capture plumbing shared by the ``lldp`` and ``dhcp`` probes (scapy sockets).

Only the socket comes from scapy (imported here, lazily): AF_PACKET on Linux, libpcap/Npcap
elsewhere. Frames are read raw (``recv_raw``) and decoded by the sans-I/O codecs in
:mod:`netcheck.wire`, so scapy's dissectors never run on capture. Blocking reads happen in
a worker thread (``asyncio.to_thread`` in the probes) so a 35 s LLDP wait never stalls the
event loop that times the RTP/STAMP streams (ARCHITECTURE.md, timing-critical streams).
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable
from typing import Any

from netcheck import platform as plat
from netcheck.result import ErrorKind, ProbeError

#: AF_PACKET protocol numbers (linux/if_ether.h): the kernel then hands us only these frames.
ETH_P_ALL = 0x0003
ETH_P_802_2 = 0x0004
ETH_P_IP = 0x0800
ETH_P_LLDP = 0x88CC
#: linux/if_packet.h
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_MULTICAST = 0


def capture_interface(interface: str | None, caps: dict[str, bool]) -> tuple[str | None, ProbeError | None]:
    """The interface to capture on (given, else the default route's) and why capture cannot
    run (None when it can): the common first phase of the layer-2 listening probes."""
    from netcheck.probes.link import default_route

    iface = interface or default_route()[1]
    problem = unavailable(caps)
    if problem is None and iface is None:
        problem = ProbeError(
            kind=ErrorKind.NO_TARGET, detail="no interface given and no default route; pass --interface"
        )
    return iface, problem


def unavailable(caps: dict[str, bool]) -> ProbeError | None:
    """Why raw layer-2 capture cannot run here (None when it can).

    Linux: AF_PACKET needs root or CAP_NET_RAW (``capabilities.privileges()["raw_packet"]``).
    Windows/macOS: scapy needs Npcap (Windows) or BPF via libpcap (macOS) plus admin rights."""
    system = plat.caps().system
    if system.startswith("linux"):
        if caps.get("raw_packet"):
            return None
        return ProbeError(
            kind=ErrorKind.PERMISSION,
            detail="raw layer-2 capture needs root or "
            "CAP_NET_RAW (e.g. sudo setcap cap_net_raw+ep $(which python3))",
        )
    try:
        from scapy.config import conf
    except ImportError:
        return _no_scapy()
    if not conf.use_pcap:
        return ProbeError(
            kind=ErrorKind.UNSUPPORTED,
            detail="raw layer-2 capture on "
            f"{system} needs Npcap (Windows, npcap.com) or libpcap/BPF (macOS) and "
            "Administrator/root rights",
        )
    return None


def _no_scapy() -> ProbeError:
    return ProbeError(
        kind=ErrorKind.UNSUPPORTED, detail="scapy is not installed: pip install 'netcheck[lan]'"
    )


def open_socket(iface: str, ethertype: int, *, promisc: bool) -> Any:
    """A scapy layer-2 socket on ``iface``; on Linux the kernel filters by ``ethertype``."""
    import scapy.arch
    import scapy.layers.l2  # noqa: F401  (registers Ethernet as the link type)
    from scapy.config import conf

    if plat.caps().system.startswith("linux"):
        return conf.L2socket(iface=iface, type=ethertype, promisc=promisc)
    return conf.L2socket(iface=iface, promisc=promisc)


def join_multicast(sock: Any, iface: str, macs: tuple[str, ...]) -> bool:
    """Linux: accept these group MACs on ``iface`` for this socket only (packet(7)
    PACKET_ADD_MEMBERSHIP, PACKET_MR_MULTICAST), as lldpd does, instead of promiscuous mode.
    Returns False where that is not possible (then open the socket promiscuous)."""
    ins = getattr(sock, "ins", None)
    if not plat.caps().system.startswith("linux") or ins is None:
        return False
    index = socket.if_nametoindex(iface)
    for mac in macs:
        mreq = struct.pack(
            "iHH8s", index, PACKET_MR_MULTICAST, 6, bytes.fromhex(mac.replace(":", ""))
        )
        ins.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
    return True


def receive(socks: list[Any], deadline: float, handle: Callable[[bytes, float], bool]) -> None:
    """Feed every received frame to ``handle(frame, monotonic_time)`` until it returns True
    or ``deadline`` (monotonic) passes. Bounded: each wait is at most 0.25 s."""
    while (left := deadline - time.monotonic()) > 0:
        for sock in socks[0].select(socks, min(left, 0.25)) or []:
            _cls, data, _ts = sock.recv_raw(65535)
            if data and handle(bytes(data), time.monotonic()):
                return


def describe_error(exc: Exception, iface: str) -> ProbeError:
    """One place mapping capture errors to a typed error (STYLE.md §4); scapy raises
    ValueError for an unknown interface name."""
    if isinstance(exc, ValueError):
        return ProbeError(kind=ErrorKind.NO_TARGET, detail=f"interface {iface!r} not found: {exc}")
    if isinstance(exc, PermissionError):
        return ProbeError(
            kind=ErrorKind.PERMISSION,
            detail=f"{iface}: {exc.strerror or exc}; raw layer-2 capture needs root or CAP_NET_RAW",
        )
    if isinstance(exc, OSError) and exc.errno in (6, 19):  # ENXIO, ENODEV
        return ProbeError(kind=ErrorKind.NO_TARGET, detail=f"interface {iface!r} does not exist")
    return ProbeError(kind=ErrorKind.INTERNAL, detail=f"{iface}: {exc}")
