"""ICMP error parsing on packets captured in the multi-hop lab (raw ICMP / ICMPv6 sockets in
the lan namespace; Linux 6.x routers, site router re-marking IPv4 DSCP to 0 on its uplink),
plus corrupted copies. Probes: UDP 40000 -> 33500, DSCP 46, payload "NCHP"."""

from __future__ import annotations

import struct

import pytest

from netcheck.wire.icmperr import IcmpParseError, Kind, parse_icmp, parse_ipv4_packet, parse_recverr

# hop 2 (isp1) Time Exceeded, IPv4; quoted TOS 0x00: the site router bleached EF
TE4 = bytes.fromhex(
    "45c0006034a600003f0173d4c61201020a4d01020b00f2f00000000045000044000040000111a5460a4d0102c6120302"
    "9c4082dc00304c2e4e434850000000000000000000000000000000000000000000000000000000000000000000000000")
# the target's Port Unreachable, IPv4
PU4 = bytes.fromhex(
    "45c00060b43100003d01f448c61203020a4d01020303faed0000000045000044000040000611a0460a4d0102c6120302"
    "9c4082dc00304c2e4e434850000000000000000000000000000000000000000000000000000000000000000000000000")
# fragmentation needed from isp1 (next hop MTU 1400 = 0x0578), first 96 octets of 576
FRAG4 = bytes.fromhex(
    "45c00240368300003f017017c61201020a4d01020304ea7000000578450005c600004000081198c40a4d0102c6120302"
    "9c4082dc05b251b04e434850000000000000000000000000000000000000000000000000000000000000000000000000")[:96]
# ICMPv6 messages (a raw ICMPv6 socket gives no IPv6 header); quoted traffic class 0xb8 = EF
TE6 = bytes.fromhex(
    "0300804b000000006b87c79600301101fd77000100000000000000000000000220010db80003000000000000000000029c40"
    "82dc00302b7a4e434850000000000000000000000000000000000000000000000000000000000000000000000000")
PU6 = bytes.fromhex(
    "01048240000000006b87c79600301106fd77000100000000000000000000000220010db80003000000000000000000029c40"
    "82dc00302b7a4e434850000000000000000000000000000000000000000000000000000000000000000000000000")
PTB6 = bytes.fromhex(
    "0200670a000005786b87c796059e1108fd77000100000000000000000000000220010db80003000000000000000000029c40"
    "82dc059e30e84e434850000000000000000000")


def test_time_exceeded_v4_shows_hop_and_bleached_dscp() -> None:
    m = parse_ipv4_packet(TE4)
    assert (m.source, m.kind, m.type, m.code) == ("198.18.1.2", Kind.TIME_EXCEEDED, 11, 0)
    q = m.quoted
    assert q is not None
    assert (q.src, q.dst, q.proto, q.sport, q.dport, q.ttl) == ("10.77.1.2", "198.18.3.2", 17, 40000, 33500, 1)
    assert q.dscp == 0  # sent 46, re-marked by the site router


def test_port_unreachable_v4_is_the_target() -> None:
    m = parse_ipv4_packet(PU4)
    assert (m.source, m.kind, m.code) == ("198.18.3.2", Kind.PORT_UNREACHABLE, 3)
    assert m.quoted is not None and m.quoted.ttl == 6  # 9 sent, 3 routers on the way


def test_fragmentation_needed_carries_next_hop_mtu() -> None:
    m = parse_ipv4_packet(FRAG4)
    assert (m.kind, m.mtu) == (Kind.TOO_BIG, 1400)
    assert m.quoted is not None and m.quoted.dport == 33500


def test_icmpv6_time_exceeded_unreachable_and_too_big() -> None:
    te = parse_icmp(TE6, family=6, source="2001:db8:1::2")
    assert te.kind is Kind.TIME_EXCEEDED and te.quoted is not None
    assert (te.quoted.dscp, te.quoted.ttl, te.quoted.dst) == (46, 1, "2001:db8:3::2")
    assert (te.quoted.sport, te.quoted.dport) == (40000, 33500)
    assert parse_icmp(PU6, family=6, source="2001:db8:3::2").kind is Kind.PORT_UNREACHABLE
    ptb = parse_icmp(PTB6, family=6, source="2001:db8:1::2")
    assert (ptb.kind, ptb.mtu) == (Kind.TOO_BIG, 1400)


def test_rfc4884_length_limits_the_quoted_datagram() -> None:
    """Octet 5 (IPv4) = quoted length in 32-bit words; an extension structure follows."""
    icmp = bytearray(TE4[20:])
    body = icmp[8:]
    icmp[5] = 7  # 28 octets: IPv4 header + UDP header
    m = parse_icmp(bytes(icmp[:8] + body[:28] + bytes(100) + b"\x20\x00\x00\x00"), family=4, source="198.18.1.2")
    assert m.quoted is not None and m.quoted.dport == 33500
    icmp[5] = 4  # claims 16 octets: the parser reads no further, even though more follow
    with pytest.raises(IcmpParseError, match=r"not an IPv4 header \(16 octets\)"):
        parse_icmp(bytes(icmp), family=4, source="x")


def test_echo_reply_and_other_types() -> None:
    reply = parse_icmp(bytes([0, 0, 0, 0]) + struct.pack("!HH", 0x1234, 7), family=4, source="198.18.3.2")
    assert (reply.kind, reply.ident, reply.seq, reply.quoted) == (Kind.ECHO_REPLY, 0x1234, 7, None)
    assert parse_icmp(bytes([5, 1]) + bytes(30), family=4, source="x").kind is Kind.OTHER  # redirect


@pytest.mark.parametrize(("data", "message"), [
    (TE4[:20], "leaves no ICMP message"),
    (b"\x60" + TE4[1:], "not an IPv4 packet"),
    (TE4[:9] + b"\x11" + TE4[10:], "protocol 17 is not ICMP"),
    (TE4[:36], "not an IPv4 header"),
    (TE4[:28] + b"\x65" + TE4[29:], "not an IPv4 header"),
    (TE4[:52], "too short for its header and 8 octets"),
])
def test_corrupted_ipv4_copies(data: bytes, message: str) -> None:
    with pytest.raises(IcmpParseError, match=message):
        parse_ipv4_packet(data)


def test_corrupted_icmpv6_copies() -> None:
    with pytest.raises(IcmpParseError, match="of 5 octets"):
        parse_icmp(TE6[:5], family=6, source="x")
    with pytest.raises(IcmpParseError, match="not an IPv6 header"):
        parse_icmp(TE6[:40], family=6, source="x")


def test_recverr_control_message() -> None:
    """struct sock_extended_err (linux/errqueue.h) + SO_EE_OFFENDER sockaddr."""
    offender4 = struct.pack("=HH4s8x", 2, 0, bytes([198, 18, 1, 2]))
    te = struct.pack("=IBBBBII", 113, 2, 11, 0, 0, 0, 0) + offender4
    m = parse_recverr(te, family=4)
    assert m is not None and (m.source, m.kind, m.quoted) == ("198.18.1.2", Kind.TIME_EXCEEDED, None)
    frag = struct.pack("=IBBBBII", 90, 2, 3, 4, 0, 1400, 0) + offender4
    assert parse_recverr(frag, family=4).mtu == 1400  # type: ignore[union-attr]
    offender6 = struct.pack("=HHI16sI", 10, 0, 0, bytes.fromhex("20010db8000300000000000000000002"), 0)
    pu6 = parse_recverr(struct.pack("=IBBBBII", 111, 3, 1, 4, 0, 0, 0) + offender6, family=6)
    assert pu6 is not None and (pu6.source, pu6.kind) == ("2001:db8:3::2", Kind.PORT_UNREACHABLE)
    local = struct.pack("=IBBBBII", 90, 1, 0, 0, 0, 1400, 0)  # SO_EE_ORIGIN_LOCAL: not from the network
    assert parse_recverr(local, family=4) is None
    with pytest.raises(IcmpParseError, match="sock_extended_err of 10 octets"):
        parse_recverr(te[:10], family=4)
    with pytest.raises(IcmpParseError, match="no offender"):
        parse_recverr(te[:18], family=4)


def test_echo_request_checksum() -> None:
    """RFC 1071: ~(0x0800 + 0x1234 + 0x0001) = 0xe5ca; the whole message sums to 0xffff."""
    from netcheck.wire.icmperr import _checksum, echo_request

    assert echo_request(0x1234, 1, b"", family=4) == bytes.fromhex("0800e5ca12340001")
    odd = echo_request(0xBEEF, 33434, b"NCHP\x00\x01\x00\x02x", family=4)
    assert _checksum(odd) == 0
    assert echo_request(7, 9, b"ab", family=6) == bytes.fromhex("8000000000070009") + b"ab"  # kernel sums v6
