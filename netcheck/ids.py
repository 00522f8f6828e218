"""Measurement ids: the one spelling shared by the plan, which names each run, and the
evaluator and reports, which look measurements up by it (issue 13: the two sides used to
write the same f-strings separately). Stable across versions: stored documents and the
agent's history key on them."""

from __future__ import annotations

from typing import Final

CAPACITY: Final = "capacity"
QOS: Final = "qos"
BUFFERBLOAT: Final = "bufferbloat"
LINK: Final = "link"
LLDP: Final = "lldp"
DHCP: Final = "dhcp"
LOCAL_LINK: Final = "local_link"
EGRESS: Final = "egress"
DSCP: Final = "dscp"
EXPOSURE: Final = "exposure"
SIP_OPTIONS: Final = "sip_alg:options"
SIP_LEG_PREFIXES: Final = ("sip_alg:udp", "sip_alg:tcp")
DHCP_VLAN_PREFIX: Final = "dhcp:vlan"


def dns(target: str) -> str:
    return f"dns:{target}"


def stream(target: str) -> str:
    """The call to a path's target (STAMP, STUN, ICMP or SIP OPTIONS: one id, any method)."""
    return f"stream:{target}"


def path_hops(target: str) -> str:
    return f"path_hops:{target}"


def tcp(row: int) -> str:
    """TCP ports of the profile's port-table row ``row``."""
    return f"tcp:{row}"


def udp(row: int) -> str:
    """UDP range echo of the profile's port-table row ``row``."""
    return f"udp:{row}"


def tls(row: int) -> str:
    return f"tls:{row}"


def stun(transport: str, target: str) -> str:
    return f"stun:{transport}:{target}"


def stun_lifetime(target: str) -> str:
    return f"stun:lifetime:{target}"


def stun_row(destination: str, port: int) -> str:
    """STUN on one port of a UDP row towards ``destination`` (egress evidence)."""
    return f"stun:udp:{destination}:{port}"


def sip_leg(transport: str, port: int) -> str:
    return f"sip_alg:{transport}:{port}"


def snmp(label: str) -> str:
    return f"snmp:{label}"


def dhcp_vlan(vid: int) -> str:
    return f"{DHCP_VLAN_PREFIX}{vid}"


def iperf3(direction: str) -> str:
    """``up`` or ``down``."""
    return f"iperf3:{direction}"


def sip_options(destination: str) -> str:
    """SIP OPTIONS to a UDP 5060 row's destination (egress evidence without a responder)."""
    return f"sip_options:{destination}"
