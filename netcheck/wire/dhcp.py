"""DHCP DISCOVER / OFFER: sans-I/O build and parse, no sockets.

Layouts: the BOOTP fixed header and the magic cookie from RFC 2131 §2 / §3 (236 octets:
op, htype, hlen, hops, xid, secs, flags, ciaddr, yiaddr, siaddr, giaddr, chaddr[16],
sname[64], file[128]; then 99.130.83.99); option numbers from RFC 2132 (1 subnet mask,
3 router, 6 DNS, 12 host name, 51 lease time, 53 message type, 54 server identifier,
55 parameter request list, 57 max message size) and the provisioning options a hosted-PBX
provider may forbid: 43 vendor specific (RFC 2132 §8.4), 66 TFTP server name (RFC 2132
§9.4), 120 SIP servers (RFC 3361), 150 TFTP server address (RFC 5859). IPv4 header per
RFC 791, UDP per RFC 768 (checksum 0 = none, allowed for IPv4).

Only DISCOVER is ever built: the probe never REQUESTs, so no lease is bound (RFC 2131
§4.4.1: a server only commits a binding on REQUEST; an OFFER reserves an address at most).
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field
from typing import Final

from netcheck.wire import WireError

__all__ = [
    "DISCOVER",
    "OFFER",
    "PHONE_PARAMS",
    "DhcpError",
    "Offer",
    "bootp_from_frame",
    "build_discover",
    "discover_frame",
    "parse_offer",
]

MAGIC: Final = bytes([99, 130, 83, 99])
DISCOVER: Final = 1
OFFER: Final = 2
BOOTREQUEST: Final = 1
BOOTREPLY: Final = 2
FLAG_BROADCAST: Final = 0x8000
CLIENT_PORT: Final = 68
SERVER_PORT: Final = 67
_FIXED: Final = struct.Struct("!BBBBIHH4s4s4s4s16s64s128s")

#: What a desk phone asks for (parameter request list, option 55): the usual network
#: options plus the provisioning ones. dnsmasq (like many servers) only sends the options a
#: client requested, so asking for 43/66/120/150 is what reveals them.
PHONE_PARAMS: Final = (1, 3, 6, 15, 28, 42, 43, 51, 54, 66, 120, 150)


class DhcpError(WireError):
    """Bytes that are not a BOOTP/DHCP message (short, no magic cookie, bad option)."""


@dataclass(frozen=True)
class Offer:
    """A parsed BOOTREPLY; ``options`` maps option number -> raw value (RFC 2132)."""

    xid: int
    yiaddr: str
    siaddr: str
    giaddr: str
    chaddr: bytes
    options: dict[int, bytes] = field(default_factory=dict)

    @property
    def message_type(self) -> int | None:
        raw = self.options.get(53)
        return raw[0] if raw else None

    @property
    def server_id(self) -> str | None:
        ips = self.ipv4_list(54)
        return ips[0] if ips else None

    def ipv4_list(self, option: int) -> list[str]:
        """Option value as a list of IPv4 addresses (options 1, 3, 6, 54, 150...)."""
        raw = self.options.get(option, b"")
        return [str(ipaddress.IPv4Address(raw[i : i + 4])) for i in range(0, len(raw) - 3, 4)]


def build_discover(xid: int, chaddr: bytes, params: tuple[int, ...] = PHONE_PARAMS) -> bytes:
    """A DHCPDISCOVER with the broadcast flag set.

    The broadcast flag (RFC 2131 §4.1) makes servers broadcast the OFFER: our ``chaddr`` is a
    random address that is not the NIC's, so a unicast OFFER to it would not reach us."""
    if len(chaddr) != 6:
        raise ValueError("chaddr must be 6 octets")
    fixed = _FIXED.pack(
        BOOTREQUEST,
        1,
        6,
        0,
        xid,
        0,
        FLAG_BROADCAST,
        bytes(4),
        bytes(4),
        bytes(4),
        bytes(4),
        chaddr + bytes(10),
        bytes(64),
        bytes(128),
    )
    opts = bytes([53, 1, DISCOVER, 57, 2]) + (1500).to_bytes(2, "big")
    opts += bytes([55, len(params), *params]) + bytes([255])
    return fixed + MAGIC + opts


def parse_offer(data: bytes) -> Offer:
    """Parse a BOOTREPLY; raises :class:`DhcpError` with what is wrong."""
    if len(data) < _FIXED.size + 4:
        raise DhcpError(f"short BOOTP message: {len(data)} octets, need >= {_FIXED.size + 4}")
    op, _ht, hlen, _hops, xid, _s, _f, _ci, yi, si, gi, ch, _sn, _fi = _FIXED.unpack_from(data)
    if op != BOOTREPLY:
        raise DhcpError(f"op {op} is not BOOTREPLY (2)")
    if data[_FIXED.size : _FIXED.size + 4] != MAGIC:
        raise DhcpError("no DHCP magic cookie 99.130.83.99")
    return Offer(
        xid=xid,
        yiaddr=_ip(yi),
        siaddr=_ip(si),
        giaddr=_ip(gi),
        chaddr=ch[: min(hlen, 16)],
        options=_options(data[_FIXED.size + 4 :]),
    )


def _options(data: bytes) -> dict[int, bytes]:
    """RFC 2132 §2 option TLVs; repeated options are concatenated (RFC 3396)."""
    out: dict[int, bytes] = {}
    pos = 0
    while pos < len(data):
        code = data[pos]
        if code == 255:
            break
        if code == 0:
            pos += 1
            continue
        if pos + 2 > len(data) or pos + 2 + data[pos + 1] > len(data):
            raise DhcpError(f"option {code} at offset {pos} runs past the end")
        out[code] = out.get(code, b"") + data[pos + 2 : pos + 2 + data[pos + 1]]
        pos += 2 + data[pos + 1]
    return out


def _ip(raw: bytes) -> str:
    return str(ipaddress.IPv4Address(raw))


# -- Ethernet / IPv4 / UDP framing -------------------------------------------------------


def discover_frame(src_mac: bytes, bootp: bytes, vlan: int | None = None) -> bytes:
    """Broadcast Ethernet frame 0.0.0.0:68 -> 255.255.255.255:67 around ``bootp``;
    with ``vlan`` an 802.1Q tag (priority 0) is inserted."""
    udp = struct.pack("!HHHH", CLIENT_PORT, SERVER_PORT, 8 + len(bootp), 0) + bootp
    ip = _ipv4_header(len(udp)) + udp
    tag = struct.pack("!HH", 0x8100, vlan & 0xFFF) if vlan is not None else b""
    return b"\xff" * 6 + src_mac + tag + b"\x08\x00" + ip


def _ipv4_header(payload_len: int) -> bytes:
    header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, 0, 0, 64, 17, 0, bytes(4), b"\xff" * 4
    )
    return header[:10] + _checksum(header).to_bytes(2, "big") + header[12:]


def _checksum(data: bytes) -> int:
    """RFC 1071 internet checksum."""
    total = sum(int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def bootp_from_frame(frame: bytes) -> tuple[bytes, int | None] | None:
    """(BOOTP payload, VLAN id or None) of an IPv4/UDP frame to port 68, else None."""
    offset, vlan = 12, None
    if frame[12:14] == b"\x81\x00" and len(frame) >= 18:
        vlan = int.from_bytes(frame[14:16], "big") & 0xFFF
        offset = 16
    if frame[offset : offset + 2] != b"\x08\x00" or len(frame) < offset + 2 + 28:
        return None
    ip = frame[offset + 2 :]
    ihl = (ip[0] & 0x0F) * 4
    if ip[0] >> 4 != 4 or ip[9] != 17 or len(ip) < ihl + 8:
        return None
    dport = int.from_bytes(ip[ihl + 2 : ihl + 4], "big")
    if dport != CLIENT_PORT:
        return None
    ulen = int.from_bytes(ip[ihl + 4 : ihl + 6], "big")
    return ip[ihl + 8 : ihl + max(ulen, 8)], vlan
