"""Per check: can this machine measure it, with which method, and if not, why not.

``netcheck doctor`` prints this table and ``netcheck run --plan`` its limits, so a
technician learns before the appointment what a Windows laptop without Administrator (or a
Mac without sudo) will and will not measure, and what to grant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from netcheck.platform import Caps

Level = Literal["yes", "partly", "no"]
SELECT_MAX_SOCKETS: Final = 500  # Windows select(): FD_SETSIZE is 512 sockets in CPython


@dataclass(frozen=True)
class Ability:
    """One check area: ``level`` yes / partly / no, and ``why`` (method, limits, or what
    to grant)."""

    check: str
    level: Level
    why: str


def table(c: Caps, raw_packet: bool) -> list[Ability]:
    """What ``c`` (and raw layer-2 access, ``raw_packet``) allow, one row per check area."""
    return [
        _call(c),
        _lan_icmp(c),
        _one_way(c),
        _udp_sweep(c),
        _dscp(c),
        _load(c),
        _layer2(c, raw_packet),
    ]


def _clock(c: Caps) -> str:
    if c.rx_timestamps:
        return "kernel receive timestamps (SO_TIMESTAMPNS)"
    return f"receive times taken in user space ({c.mono_clock}) right after the packet is read"


def _call(c: Caps) -> Ability:
    return Ability("call quality to a netcheck responder (STAMP, 50 pps)", "yes", _clock(c))


def _lan_icmp(c: Caps) -> Ability:
    check = "LAN quality to the gateway without a responder (ICMP echo, 50 pps)"
    method = c.icmp_echo
    if method == "raw-socket":
        return Ability(check, "yes", f"raw ICMP socket; {_clock(c)}")
    if method == "ping-socket":
        header = " (the OS delivers the IPv4 header; parsed)" if c.ping_ip_header else ""
        return Ability(check, "yes", f"unprivileged ping socket{header}; {_clock(c)}")
    if method == "windows-icmp-api":
        return Ability(
            check,
            "partly",
            "IPv4 only, through the Windows ICMP API (IcmpSendEcho, no "
            "Administrator needed); each echo is timed in user space around the API call "
            "(API overhead included, the API's own RoundTripTime has 1 ms steps)",
        )
    if c.windows:
        return Ability(check, "no", "the Windows ICMP API (iphlpapi.dll) could not be loaded")
    return Ability(
        check,
        "no",
        "no raw or ping socket: run as root, grant CAP_NET_RAW, or allow ping "
        "sockets (Linux: sysctl net.ipv4.ping_group_range='0 2147483647')",
    )


def _one_way(c: Caps) -> Ability:
    check = "one-way delay (each direction)"
    if c.system.startswith("linux"):
        return Ability(
            check,
            "yes",
            "measured when both clocks report synchronisation (adjtimex, "
            "STAMP Error Estimate S bit), else estimated as RTT/2",
        )
    return Ability(
        check,
        "partly",
        f"the clock's synchronisation state is not read on {c.system}: one-way "
        "delay is estimated as RTT/2; delay variation per direction is measured",
    )


def _udp_sweep(c: Caps) -> Ability:
    check = "UDP port ranges (sweep against a responder)"
    if c.error_queue:
        return Ability(check, "yes", "ICMP errors per port with the sender's address (IP_RECVERR)")
    return Ability(
        check,
        "partly",
        "open / no answer per port as on Linux; an ICMP reject is seen on "
        "a connected socket, without the address of the device that sent it",
    )


def _dscp(c: Caps) -> Ability:
    check = "DSCP kept on the path (read-back via the responder)"
    if not c.tos_marking:
        return Ability(
            check,
            "partly",
            "Windows ignores the DSCP a program sets unless a Policy-based "
            "QoS rule marks netcheck's traffic; the way back cannot be read (no recvmsg)",
        )
    if not c.recv_tos:
        return Ability(
            check,
            "partly",
            "the way out is read by the responder; the way back cannot be "
            "read here (no IP_RECVTOS read-back)",
        )
    return Ability(check, "yes", "both directions (responder's report; IP_RECVTOS here)")


def _load(c: Caps) -> Ability:
    check = "capacity and QoS under load (concurrent calls)"
    if c.selector == "select":
        return Ability(
            check,
            "partly",
            f"select(): at most {SELECT_MAX_SOCKETS} concurrent calls on "
            f"their own sockets; {_clock(c)}",
        )
    return Ability(check, "yes", f"{c.selector}; {_clock(c)}")


def _layer2(c: Caps, raw_packet: bool) -> Ability:
    check = "LLDP/CDP switch port, DHCP servers (layer-2 listening)"
    if c.system.startswith("linux"):
        if raw_packet:
            return Ability(check, "yes", "AF_PACKET socket")
        return Ability(
            check, "no", "needs root or CAP_NET_RAW (sudo setcap cap_net_raw+ep $(which python3))"
        )
    if c.windows:
        return Ability(
            check,
            "no" if not c.admin else "partly",
            "needs Npcap (npcap.com) and Administrator, plus netcheck[lan] (scapy)",
        )
    return Ability(
        check,
        "no" if not c.admin else "partly",
        "needs root (BPF devices) and netcheck[lan] (scapy)",
    )
