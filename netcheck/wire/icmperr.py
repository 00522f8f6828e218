"""ICMP error messages with their quoted datagram: sans-I/O parse, no sockets.

A traceroute learns three things from each ICMP error a router sends back: who sent it
(the source address), why (Time Exceeded = the probe's TTL / hop limit ran out there;
Destination Unreachable "port" = the probe reached the target; "fragmentation needed" /
Packet Too Big = the path MTU, with the next-hop MTU), and — from the *quoted* header of
the probe as that router saw it — the DSCP the probe carried when it arrived there. A
quoted DSCP that differs from the one sent shows a hop (or the link before it) that
re-marks voice traffic.

Layout:
- ICMPv4 (RFC 792): type, code, checksum, 4 "unused" octets, then the original IP header
  plus at least 8 octets of its payload. RFC 1191: in "fragmentation needed" (type 3
  code 4) octets 6-7 carry the next-hop MTU. RFC 4884: octet 5 carries the length of the
  quoted datagram in 32-bit words when an extension structure follows (else 0).
- ICMPv6 (RFC 4443): type, code, checksum, 4 octets (Packet Too Big: the MTU; RFC 4884:
  octet 4 = quoted length in 64-bit words for Time Exceeded / Unreachable), then as much
  of the original packet as fits in the minimum MTU.

A raw IPv4 socket delivers the packet with its IP header; a raw ICMPv6 socket delivers
the ICMPv6 message only (RFC 3542 section 3), hence :func:`parse_ipv4_packet` and
:func:`parse_icmp`.
"""

from __future__ import annotations

import enum
import ipaddress
import struct
from dataclasses import dataclass
from typing import Final

__all__ = [
    "IcmpError", "IcmpParseError", "Kind", "Quoted", "echo_request", "parse_icmp", "parse_ipv4_packet", "parse_recverr",
]

UDP: Final = 17
ICMP4: Final = 1
ICMP6: Final = 58


class IcmpParseError(ValueError):
    """The bytes are not an ICMP error we can read (the message says why)."""


class Kind(enum.StrEnum):
    """What an ICMP message says about a probe."""

    TIME_EXCEEDED = "time_exceeded"  # TTL / hop limit ran out at the sender (a router)
    PORT_UNREACHABLE = "port_unreachable"  # the probe reached the target host
    UNREACHABLE = "unreachable"  # another unreachable code (net, host, admin prohibited)
    TOO_BIG = "too_big"  # RFC 1191 frag needed / RFC 8201 packet too big: see ``mtu``
    ECHO_REPLY = "echo_reply"
    OTHER = "other"


@dataclass(frozen=True)
class Quoted:
    """The probe as the reporting node saw it (from the quoted header).

    ``dscp`` is the upper six bits of the IPv4 TOS octet / IPv6 Traffic Class (RFC 2474);
    ``sport``/``dport`` the UDP ports, or for a quoted ICMP echo its id and sequence.
    """

    src: str
    dst: str
    proto: int
    dscp: int
    ttl: int
    sport: int
    dport: int


@dataclass(frozen=True)
class IcmpError:
    """One ICMP message: who sent it, what kind, and what it quoted (None for echo replies)."""

    family: int  # 4 or 6
    source: str
    type: int
    code: int
    kind: Kind
    mtu: int | None = None
    quoted: Quoted | None = None
    ident: int | None = None  # echo replies: identifier and sequence number
    seq: int | None = None


def parse_ipv4_packet(packet: bytes) -> IcmpError:
    """A datagram from a raw IPv4 ICMP socket: IP header, then the ICMP message."""
    if len(packet) < 20 or packet[0] >> 4 != 4:
        raise IcmpParseError(f"not an IPv4 packet ({len(packet)} octets)")
    ihl = (packet[0] & 0x0F) * 4
    if ihl < 20 or len(packet) < ihl + 8:
        raise IcmpParseError(f"IPv4 header length {ihl} leaves no ICMP message")
    if packet[9] != ICMP4:
        raise IcmpParseError(f"IPv4 protocol {packet[9]} is not ICMP")
    source = str(ipaddress.IPv4Address(packet[12:16]))
    return parse_icmp(packet[ihl:], family=4, source=source)


def parse_icmp(message: bytes, *, family: int, source: str) -> IcmpError:
    """An ICMPv4 (``family=4``) or ICMPv6 (``family=6``) message sent by ``source``."""
    if len(message) < 8:
        raise IcmpParseError(f"ICMP message of {len(message)} octets (need 8)")
    mtype, code = message[0], message[1]
    kind = _kind4(mtype, code) if family == 4 else _kind6(mtype, code)
    if kind is Kind.ECHO_REPLY:
        ident, seq = struct.unpack_from("!HH", message, 4)
        return IcmpError(family, source, mtype, code, kind, ident=ident, seq=seq)
    if kind is Kind.OTHER:
        return IcmpError(family, source, mtype, code, kind)
    mtu = _mtu(message, family, kind)
    body = _quoted_slice(message, family, kind)
    quoted = _quoted4(body) if family == 4 else _quoted6(body)
    return IcmpError(family, source, mtype, code, kind, mtu=mtu, quoted=quoted)


def _kind4(mtype: int, code: int) -> Kind:
    """RFC 792 types: 11 time exceeded, 3 unreachable (code 3 port, 4 frag needed), 0 echo reply."""
    if mtype == 11:
        return Kind.TIME_EXCEEDED
    if mtype == 3:
        return {3: Kind.PORT_UNREACHABLE, 4: Kind.TOO_BIG}.get(code, Kind.UNREACHABLE)
    return Kind.ECHO_REPLY if mtype == 0 else Kind.OTHER


def _kind6(mtype: int, code: int) -> Kind:
    """RFC 4443 types: 3 time exceeded, 1 unreachable (code 4 port), 2 too big, 129 echo reply."""
    if mtype == 3:
        return Kind.TIME_EXCEEDED
    if mtype == 1:
        return Kind.PORT_UNREACHABLE if code == 4 else Kind.UNREACHABLE
    if mtype == 2:
        return Kind.TOO_BIG
    return Kind.ECHO_REPLY if mtype == 129 else Kind.OTHER


def _mtu(message: bytes, family: int, kind: Kind) -> int | None:
    if kind is not Kind.TOO_BIG:
        return None
    if family == 4:  # RFC 1191 section 4: next-hop MTU in the low 16 bits; 0 = old router
        return struct.unpack_from("!H", message, 6)[0] or None
    return int(struct.unpack_from("!I", message, 4)[0])


def _quoted_slice(message: bytes, family: int, kind: Kind) -> bytes:
    """The quoted datagram; with an RFC 4884 length, only that many octets (an extension
    structure, e.g. RFC 4950 MPLS labels, may follow)."""
    body = message[8:]
    if kind is Kind.TOO_BIG:
        return body
    words = message[5] if family == 4 else message[4]
    unit = 4 if family == 4 else 8
    return body[: words * unit] if words and words * unit <= len(body) else body


def _quoted4(body: bytes) -> Quoted:
    if len(body) < 20 or body[0] >> 4 != 4:
        raise IcmpParseError(f"quoted datagram is not an IPv4 header ({len(body)} octets)")
    ihl = (body[0] & 0x0F) * 4
    if ihl < 20 or len(body) < ihl + 8:
        raise IcmpParseError(f"quoted IPv4 datagram too short for its header and 8 octets ({len(body)})")
    sport, dport = _ports(body[ihl : ihl + 8], body[9], ICMP4)
    return Quoted(
        src=str(ipaddress.IPv4Address(body[12:16])), dst=str(ipaddress.IPv4Address(body[16:20])),
        proto=body[9], dscp=body[1] >> 2, ttl=body[8], sport=sport, dport=dport,
    )


def _quoted6(body: bytes) -> Quoted:
    if len(body) < 48 or body[0] >> 4 != 6:
        raise IcmpParseError(f"quoted datagram is not an IPv6 header + 8 octets ({len(body)} octets)")
    traffic_class = ((body[0] & 0x0F) << 4) | (body[1] >> 4)
    sport, dport = _ports(body[40:48], body[6], ICMP6)
    return Quoted(
        src=str(ipaddress.IPv6Address(body[8:24])), dst=str(ipaddress.IPv6Address(body[24:40])),
        proto=body[6], dscp=traffic_class >> 2, ttl=body[7], sport=sport, dport=dport,
    )


def _ports(l4: bytes, proto: int, icmp_proto: int) -> tuple[int, int]:
    """UDP: (source port, destination port); a quoted ICMP echo: (identifier, sequence)."""
    if proto == icmp_proto:
        ident, seq = struct.unpack_from("!HH", l4, 4)
        return ident, seq
    sport, dport = struct.unpack_from("!HH", l4, 0)
    return sport, dport


#: ``sock_extended_err.ee_origin`` values (linux/errqueue.h)
ORIGIN_ICMP: Final = 2
ORIGIN_ICMP6: Final = 3
_EXT_ERR = struct.Struct("=IBBBBII")  # ee_errno, ee_origin, ee_type, ee_code, ee_pad, ee_info, ee_data


def parse_recverr(data: bytes, *, family: int) -> IcmpError | None:
    """The ``IP_RECVERR`` / ``IPV6_RECVERR`` control message of Linux's socket error queue:
    ``struct sock_extended_err`` then the offender's ``sockaddr_in``/``sockaddr_in6``
    (``SO_EE_OFFENDER``). No quoted header is available this way (so no DSCP); ``ee_info``
    carries the MTU of a "fragmentation needed" / Packet Too Big. None for an error that
    did not come from an ICMP message (e.g. a local EMSGSIZE)."""
    if len(data) < _EXT_ERR.size:
        raise IcmpParseError(f"sock_extended_err of {len(data)} octets (need {_EXT_ERR.size})")
    _errno, origin, mtype, code, _pad, info, _data = _EXT_ERR.unpack_from(data)
    if origin not in (ORIGIN_ICMP, ORIGIN_ICMP6):
        return None
    offender = data[_EXT_ERR.size :]
    if family == 4 and len(offender) >= 8:
        source = str(ipaddress.IPv4Address(offender[4:8]))
    elif family == 6 and len(offender) >= 24:
        source = str(ipaddress.IPv6Address(offender[8:24]))
    else:
        raise IcmpParseError("the error queue message names no offender address")
    kind = _kind4(mtype, code) if family == 4 else _kind6(mtype, code)
    return IcmpError(family, source, mtype, code, kind, mtu=(info or None) if kind is Kind.TOO_BIG else None)


def echo_request(ident: int, seq: int, payload: bytes, *, family: int) -> bytes:
    """An ICMP Echo Request (RFC 792 type 8) or ICMPv6 one (RFC 4443 type 128). The IPv4
    checksum is filled in; for ICMPv6 the kernel computes it over the pseudo-header (RFC
    3542 section 3.1), so it is left 0."""
    mtype = 8 if family == 4 else 128
    body = struct.pack("!BBHHH", mtype, 0, 0, ident & 0xFFFF, seq & 0xFFFF) + payload
    if family == 6:
        return body
    return body[:2] + struct.pack("!H", _checksum(body)) + body[4:]


def _checksum(data: bytes) -> int:
    """RFC 1071 Internet checksum."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return int(~total & 0xFFFF)
