"""LLDP (with LLDP-MED and the IEEE 802.1/802.3 extensions) and CDP: sans-I/O decoders.

Why our own decoder: scapy's ``scapy.contrib.lldp`` decodes the base TLVs but not the
ANSI/TIA-1057 (LLDP-MED) TLVs this tool is about (network policy, extended power), and its
strict mode raises on frames real switches send; here every TLV is read by one small loop
and an unknown or short TLV is skipped, never fatal.

Layouts:
- LLDPDU: IEEE 802.1AB-2016 §8.4: TLV header = 7-bit type + 9-bit length; type 0 End,
  1 Chassis ID, 2 Port ID, 3 TTL, 4 Port Description, 5 System Name, 6 System
  Description, 7 System Capabilities, 8 Management Address, 127 organizationally specific
  (3-octet OUI + 1-octet subtype).
- OUI 00-80-C2 (IEEE 802.1, Annex D): subtype 1 Port VLAN ID (2 octets).
- OUI 00-12-0F (IEEE 802.3 clause 79): subtype 1 MAC/PHY configuration/status (autoneg
  1 octet, advertised capability 2, operational MAU type 2 = RFC 4836 dot3MauType),
  subtype 2 Power via MDI (MDI power support 1, PSE power pair 1, power class 1).
- OUI 00-12-BB (ANSI/TIA-1057 §10.2): subtype 1 LLDP-MED capabilities (2 + device type 1),
  subtype 2 Network Policy (application type 1 octet, then U 1 bit, T 1 bit, X 1 bit,
  VLAN ID 12 bits, L2 priority 3 bits, DSCP 6 bits), subtype 4 Extended Power-via-MDI
  (power type 2 bits, source 2 bits, priority 4 bits, power value 2 octets in 0.1 W).
- CDP: Cisco, no public standard; layout as in Wireshark's packet-cdp.c: 802.3 + LLC/SNAP
  (AA AA 03, OUI 00-00-0C, PID 0x2000) to 01:00:0c:cc:cc:cc; header version 1, TTL 1,
  checksum 2; TLVs type 2 + length 2 (length includes the 4-octet header).
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "CDP_MAC",
    "ETH_P_LLDP",
    "LLDP_MAC",
    "MED_APP_TYPES",
    "CdpInfo",
    "ExtendedPower",
    "LldpInfo",
    "NetworkPolicy",
    "classify_frame",
    "parse_cdp",
    "parse_lldp",
]

ETH_P_LLDP: Final = 0x88CC
ETH_P_8021Q: Final = 0x8100
#: Nearest-bridge group address (IEEE 802.1AB §7.1) and the Cisco CDP multicast address.
LLDP_MAC: Final = "01:80:c2:00:00:0e"
CDP_MAC: Final = "01:00:0c:cc:cc:cc"
_CDP_SNAP: Final = bytes.fromhex("aaaa0300000c2000")

OUI_8021: Final = 0x0080C2
OUI_8023: Final = 0x00120F
OUI_MED: Final = 0x0012BB

#: ANSI/TIA-1057 Table 12: network policy application types.
MED_APP_TYPES: Final = {
    1: "voice",
    2: "voice-signaling",
    3: "guest-voice",
    4: "guest-voice-signaling",
    5: "softphone-voice",
    6: "video-conferencing",
    7: "streaming-video",
    8: "video-signaling",
}
#: ANSI/TIA-1057 §10.2.5: power priority.
_POWER_PRIORITY: Final = {0: "unknown", 1: "critical", 2: "high", 3: "low"}
_POWER_TYPE: Final = {0: "PSE", 1: "PD", 2: "reserved", 3: "reserved"}
#: RFC 4836 dot3MauType (IANA-MAU-MIB) -> (speed Mbit/s, duplex) for the common copper types.
_MAU_TYPES: Final = {
    10: (10, "half"),
    11: (10, "full"),
    15: (100, "half"),
    16: (100, "full"),
    29: (1000, "half"),
    30: (1000, "full"),
    110: (2500, "full"),
    111: (5000, "full"),
    19: (10000, "full"),
}


@dataclass(frozen=True)
class NetworkPolicy:
    """One LLDP-MED network policy (TIA-1057 §10.2.3). ``vlan`` 0 with ``tagged`` False means
    "use the native VLAN"; ``unknown`` set means the switch has no policy for the app."""

    app_type: int
    app: str
    unknown: bool
    tagged: bool
    vlan: int
    priority: int
    dscp: int


@dataclass(frozen=True)
class ExtendedPower:
    """LLDP-MED extended power-via-MDI (TIA-1057 §10.2.5); ``power_w`` from 0.1 W units."""

    power_type: str
    source: int
    priority: str
    power_w: float


@dataclass
class LldpInfo:
    """What one LLDPDU said about the switch port it came from."""

    chassis_id: str | None = None
    port_id: str | None = None
    port_id_subtype: int | None = None
    ttl_s: int | None = None
    port_description: str | None = None
    system_name: str | None = None
    system_description: str | None = None
    capabilities: int | None = None
    mgmt_addresses: list[str] = field(default_factory=list)
    port_vlan: int | None = None
    autoneg: bool | None = None
    mau_type: int | None = None
    speed_mbps: int | None = None
    duplex: str | None = None
    poe_class: int | None = None
    poe_supported: bool | None = None
    med_device_type: int | None = None
    med_policies: list[NetworkPolicy] = field(default_factory=list)
    med_power: ExtendedPower | None = None
    unknown_tlvs: int = 0


@dataclass
class CdpInfo:
    """What one CDP frame said (device id, port, platform, native/voice VLAN, duplex, power)."""

    version: int | None = None
    device_id: str | None = None
    port_id: str | None = None
    platform: str | None = None
    software: str | None = None
    addresses: list[str] = field(default_factory=list)
    native_vlan: int | None = None
    voice_vlan: int | None = None
    duplex: str | None = None
    power_mw: int | None = None
    mtu: int | None = None


def classify_frame(frame: bytes) -> tuple[str, bytes] | None:
    """``("lldp", LLDPDU)`` or ``("cdp", CDP PDU)`` for an Ethernet frame, else None.

    An 802.1Q tag (0x8100) is skipped: a switch may send LLDP tagged on a voice VLAN."""
    if len(frame) < 14:
        return None
    offset = 12
    ethertype = int.from_bytes(frame[offset : offset + 2], "big")
    if ethertype == ETH_P_8021Q and len(frame) >= 18:
        offset += 4
        ethertype = int.from_bytes(frame[offset : offset + 2], "big")
    body = frame[offset + 2 :]
    if ethertype == ETH_P_LLDP:
        return "lldp", body
    if ethertype <= 1500 and body[:8] == _CDP_SNAP:  # 802.3 length field + LLC/SNAP
        return "cdp", body[8 : 8 + ethertype - 8]
    return None


def _tlvs(data: bytes) -> list[tuple[int, bytes]]:
    """802.1AB TLVs up to End (type 0) or the last complete TLV."""
    out, pos = [], 0
    while pos + 2 <= len(data):
        header = int.from_bytes(data[pos : pos + 2], "big")
        kind, length = header >> 9, header & 0x1FF
        value = data[pos + 2 : pos + 2 + length]
        if kind == 0 or len(value) < length:
            break
        out.append((kind, value))
        pos += 2 + length
    return out


def parse_lldp(data: bytes) -> LldpInfo:
    """Decode an LLDPDU (the payload after the 0x88CC ethertype)."""
    info = LldpInfo()
    for kind, value in _tlvs(data):
        if kind == 127 and len(value) >= 4:
            _org(info, int.from_bytes(value[:3], "big"), value[3], value[4:])
        else:
            _base(info, kind, value)
    return info


def _base(info: LldpInfo, kind: int, value: bytes) -> None:
    if kind == 1 and value:
        info.chassis_id = _id_text(value[0], value[1:], mac_subtype=4, addr_subtype=5)
    elif kind == 2 and value:
        info.port_id_subtype = value[0]
        info.port_id = _id_text(value[0], value[1:], mac_subtype=3, addr_subtype=4)
    elif kind == 3 and len(value) >= 2:
        info.ttl_s = int.from_bytes(value[:2], "big")
    elif kind == 4:
        info.port_description = _text(value)
    elif kind == 5:
        info.system_name = _text(value)
    elif kind == 6:
        info.system_description = _text(value)
    elif kind == 7 and len(value) >= 4:
        info.capabilities = int.from_bytes(value[2:4], "big")  # enabled capabilities
    elif kind == 8 and len(value) >= 2:
        addr = _address(value[1:2], value[2 : 1 + value[0]])  # length, family, address
        if addr:
            info.mgmt_addresses.append(addr)
    else:
        info.unknown_tlvs += 1


def _org(info: LldpInfo, oui: int, subtype: int, v: bytes) -> None:
    if oui == OUI_8021 and subtype == 1 and len(v) >= 2:
        info.port_vlan = int.from_bytes(v[:2], "big")
    elif oui == OUI_8023 and subtype == 1 and len(v) >= 5:
        info.autoneg = bool(v[0] & 0x02)  # bit 1: autonegotiation enabled
        info.mau_type = int.from_bytes(v[3:5], "big")
        info.speed_mbps, info.duplex = _MAU_TYPES.get(info.mau_type, (None, None))
    elif oui == OUI_8023 and subtype == 2 and len(v) >= 3:
        info.poe_supported = bool(v[0] & 0x02)  # bit 1: PSE MDI power supported
        info.poe_class = v[2] - 1 if v[2] else None  # encoded as class + 1
    elif oui == OUI_MED and subtype == 1 and len(v) >= 3:
        info.med_device_type = v[2]
    elif oui == OUI_MED and subtype == 2 and len(v) >= 4:
        info.med_policies.append(_policy(v))
    elif oui == OUI_MED and subtype == 4 and len(v) >= 3:
        info.med_power = ExtendedPower(
            power_type=_POWER_TYPE[v[0] >> 6],
            source=(v[0] >> 4) & 0x3,
            priority=_POWER_PRIORITY.get(v[0] & 0x0F, "reserved"),
            power_w=int.from_bytes(v[1:3], "big") / 10.0,
        )
    else:
        info.unknown_tlvs += 1


def _policy(v: bytes) -> NetworkPolicy:
    """TIA-1057 §10.2.3.1: app type octet, then U T X (1 bit each), VLAN 12, prio 3, DSCP 6."""
    bits = int.from_bytes(v[1:4], "big")
    return NetworkPolicy(
        app_type=v[0],
        app=MED_APP_TYPES.get(v[0], f"app-{v[0]}"),
        unknown=bool(bits >> 23 & 1),
        tagged=bool(bits >> 22 & 1),
        vlan=bits >> 9 & 0xFFF,
        priority=bits >> 6 & 0x7,
        dscp=bits & 0x3F,
    )


def _id_text(subtype: int, raw: bytes, *, mac_subtype: int, addr_subtype: int) -> str:
    """Chassis/port id as text: MAC as aa:bb:..., network address via IANA family."""
    if subtype == mac_subtype and len(raw) == 6:
        return raw.hex(":")
    if subtype == addr_subtype and raw:
        return _address(raw[:1], raw[1:]) or raw.hex()
    return _text(raw)


def _address(family: bytes, raw: bytes) -> str | None:
    """IANA address family 1 = IPv4, 2 = IPv6 (RFC 2922 / IANA Address Family Numbers)."""
    if family == b"\x01" and len(raw) == 4:
        return str(ipaddress.IPv4Address(raw))
    if family == b"\x02" and len(raw) == 16:
        return str(ipaddress.IPv6Address(raw))
    return None


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace").rstrip("\x00")


# -- CDP ---------------------------------------------------------------------------------


def parse_cdp(data: bytes) -> CdpInfo:
    """Decode a CDP PDU (after the SNAP header): version, ttl, checksum, then TLVs."""
    info = CdpInfo(version=data[0] if data else None)
    pos = 4
    while pos + 4 <= len(data):
        kind, length = struct.unpack_from("!HH", data, pos)
        if length < 4 or pos + length > len(data):
            break
        _cdp_tlv(info, kind, data[pos + 4 : pos + length])
        pos += length
    return info


def _cdp_tlv(info: CdpInfo, kind: int, v: bytes) -> None:
    if kind == 0x0001:
        info.device_id = _text(v)
    elif kind == 0x0002:
        info.addresses += _cdp_addresses(v)
    elif kind == 0x0003:
        info.port_id = _text(v)
    elif kind == 0x0005:
        info.software = _text(v)
    elif kind == 0x0006:
        info.platform = _text(v)
    elif kind == 0x000A and len(v) >= 2:
        info.native_vlan = int.from_bytes(v[:2], "big")
    elif kind == 0x000B and v:
        info.duplex = "full" if v[0] else "half"
    elif kind == 0x000E and len(v) >= 3:
        info.voice_vlan = int.from_bytes(v[1:3], "big")  # VoIP VLAN reply: data octet + VLAN
    elif kind == 0x0010 and len(v) >= 2:
        info.power_mw = int.from_bytes(v[:2], "big")
    elif kind == 0x0011 and len(v) >= 4:
        info.mtu = int.from_bytes(v[:4], "big")


def _cdp_addresses(v: bytes) -> list[str]:
    """Addresses TLV: count (4), then per address: proto type 1, proto len 1, proto, len 2, addr.

    Only NLPID IPv4 (type 1, protocol 0xCC) is decoded; others are skipped."""
    out: list[str] = []
    if len(v) < 4:
        return out
    pos = 4
    for _ in range(int.from_bytes(v[:4], "big")):
        if pos + 2 > len(v):
            break
        plen = v[pos + 1]
        proto = v[pos + 2 : pos + 2 + plen]
        pos += 2 + plen
        if pos + 2 > len(v):
            break
        alen = int.from_bytes(v[pos : pos + 2], "big")
        addr = v[pos + 2 : pos + 2 + alen]
        pos += 2 + alen
        if proto == b"\xcc" and len(addr) == 4:
            out.append(str(ipaddress.IPv4Address(addr)))
    return out
