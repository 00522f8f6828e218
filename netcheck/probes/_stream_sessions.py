"""The two kinds of emulated call the stream probe sends: STAMP and ICMP echo at 50 pps.

Each class is a :class:`~netcheck.probes._stream_engine.Session`: it builds the packet for a
slot and records what comes back, with raw timestamps only; turning them into statistics is
:mod:`netcheck.probes._stream_analysis`.

- :class:`StampCall`: an RFC 8762 Session-Sender towards a ``netcheck responder`` (or any
  STAMP reflector). Packets are padded to the size of an RTP packet of the codec (12-octet
  RTP header + the codec payload of one interval), so the call has the real packet size.
- :class:`IcmpCall`: the fallback without a responder. ICMP echo (RFC 792 / RFC 4443)
  sent on the same 20 ms schedule with codec-sized payloads; replies are matched by
  sequence number, not waited for, so the schedule holds whatever the RTT.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from typing import Final

from netcheck.probes._stream_engine import ClockMap, Session
from netcheck.wire.stamp import (
    ErrorEstimate,
    SenderPacket,
    StampError,
    ns_from_timestamp,
    ntp_from_ns,
    parse_reflector,
)


@dataclass(frozen=True)
class StampReply:
    """One reflected packet as received: the reflector's timestamps (T2 receive, T3 send;
    Unix ns in the reflector's clock), its sequence number and the arrival time T4 on our
    CLOCK_MONOTONIC and CLOCK_REALTIME. ``ttl`` is the request's TTL as the reflector saw it."""

    sender_seq: int
    reflector_seq: int
    t2_ns: int
    t3_ns: int
    t4_mono_ns: int
    t4_real_ns: int
    ttl: int
    estimate: ErrorEstimate


class StampCall(Session):
    """Session-Sender: ``count`` packets of ``size`` octets; ``key`` = HMAC mode."""

    def __init__(
        self,
        sock: socket.socket,
        *,
        count: int,
        size: int,
        clock: ClockMap,
        key: bytes | None = None,
        ssid: int = 0,
        estimate: ErrorEstimate | None = None,
    ) -> None:
        super().__init__(sock)
        self.count, self.size, self.clock, self.key, self.ssid = count, size, clock, key, ssid
        self.estimate = estimate or ErrorEstimate()
        self.t1_mono_ns: list[int | None] = [None] * count
        self.t1_wire: list[int] = [0] * count
        self.replies: list[StampReply] = []
        self.malformed = 0
        self._answered: set[int] = set()

    def packet(self, index: int, send_mono_ns: int) -> bytes:
        self.t1_mono_ns[index] = send_mono_ns
        stamp = ntp_from_ns(self.clock.to_real(send_mono_ns))
        self.t1_wire[index] = stamp
        pkt = SenderPacket(seq=index, timestamp=stamp, error_estimate=self.estimate, ssid=self.ssid)
        return pkt.to_bytes(self.key, pad_to=self.size)

    def receive(self, data: bytes, rx_mono_ns: int, rx_real_ns: int) -> None:
        try:
            pkt = parse_reflector(data, self.key)
        except StampError:
            self.malformed += 1
            return
        seq = pkt.sender_seq
        if seq >= self.count or self.t1_wire[seq] != pkt.sender_timestamp or pkt.ssid != self.ssid:
            self.malformed += 1  # not an answer to a packet of ours
            return
        self._answered.add(seq)
        self.replies.append(
            StampReply(
                sender_seq=seq,
                reflector_seq=pkt.seq,
                t2_ns=ns_from_timestamp(pkt.receive_timestamp, pkt.error_estimate),
                t3_ns=ns_from_timestamp(pkt.timestamp, pkt.error_estimate),
                t4_mono_ns=rx_mono_ns,
                t4_real_ns=rx_real_ns,
                ttl=pkt.sender_ttl,
                estimate=pkt.error_estimate,
            )
        )

    def complete(self) -> bool:
        sent = sum(t is not None for t in self.t1_mono_ns)
        return sent == self.count and len(self._answered) == self.count


# --------------------------------------------------------------------------------------
# ICMP echo (sans-I/O helpers + session)
# --------------------------------------------------------------------------------------

ICMP_ECHO_REQUEST: Final = 8
ICMP_ECHO_REPLY: Final = 0
ICMP6_ECHO_REQUEST: Final = 128
ICMP6_ECHO_REPLY: Final = 129
_ECHO: Final = struct.Struct("!BBHHH")


def inet_checksum(data: bytes) -> int:
    """RFC 1071 Internet checksum (ones' complement of the ones' complement sum)."""
    if len(data) % 2:
        data += b"\x00"
    total = int(sum(struct.unpack(f"!{len(data) // 2}H", data)))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def build_echo(ident: int, seq: int, payload: bytes, *, v6: bool = False) -> bytes:
    """An ICMP (RFC 792) or ICMPv6 (RFC 4443 4.1) echo request. The ICMPv6 checksum
    covers a pseudo-header the kernel fills in, so it is left 0 for v6."""
    kind = ICMP6_ECHO_REQUEST if v6 else ICMP_ECHO_REQUEST
    head = _ECHO.pack(kind, 0, 0, ident & 0xFFFF, seq & 0xFFFF)
    if v6:
        return head + payload
    return _ECHO.pack(kind, 0, inet_checksum(head + payload), ident & 0xFFFF, seq & 0xFFFF) + payload


def parse_echo_reply(data: bytes, *, v6: bool, has_ip_header: bool) -> tuple[int, int] | None:
    """(identifier, sequence) of an echo reply, None for anything else. Raw IPv4 sockets
    and Darwin's ping sockets deliver the IPv4 header first (IHL words, RFC 791), Linux
    ping sockets and IPv6 do not. A header is recognised by version 4 and an IHL of at
    least 5 words; anything else is not an echo reply."""
    if has_ip_header:
        if len(data) < 20 or data[0] >> 4 != 4 or (data[0] & 0x0F) < 5:
            return None
        data = data[(data[0] & 0x0F) * 4 :]
    if len(data) < _ECHO.size:
        return None
    kind, _code, _sum, ident, seq = _ECHO.unpack_from(data)
    if kind != (ICMP6_ECHO_REPLY if v6 else ICMP_ECHO_REPLY):
        return None
    return ident, seq


class IcmpCall(Session):
    """Echo requests on the stream schedule; replies matched by 16-bit sequence number to
    the most recent request with that number.

    ``ip_header``: the socket delivers the IPv4 header (raw sockets; Darwin ping sockets;
    default: raw IPv4). ``check_ident``: drop replies whose identifier is not ours (raw
    sockets see every ICMP packet of the host; Darwin ping sockets keep our identifier;
    Linux ping sockets rewrite it, so it cannot be checked there; default: ``raw``).
    """

    def __init__(
        self, sock: socket.socket, *, count: int, payload_bytes: int, ident: int, raw: bool, v6: bool,
        ip_header: bool | None = None, check_ident: bool | None = None,
    ) -> None:
        super().__init__(sock)
        self.count, self.ident, self.raw, self.v6 = count, ident, raw, v6
        self.ip_header = (raw and not v6) if ip_header is None else ip_header
        self.check_ident = raw if check_ident is None else check_ident
        self.payload = bytes(max(payload_bytes, 8))
        self.t1_mono_ns: list[int | None] = [None] * count
        self.t4_mono_ns: list[list[int]] = [[] for _ in range(count)]
        self._sent = 0

    def packet(self, index: int, send_mono_ns: int) -> bytes:
        self.t1_mono_ns[index] = send_mono_ns
        self._sent = index + 1
        return build_echo(self.ident, index, self.payload, v6=self.v6)

    def receive(self, data: bytes, rx_mono_ns: int, rx_real_ns: int) -> None:
        parsed = parse_echo_reply(data, v6=self.v6, has_ip_header=self.ip_header)
        if parsed is None:
            return
        ident, seq16 = parsed
        if self.check_ident and ident != self.ident & 0xFFFF:
            return  # another pinger's reply (raw sockets see every ICMP packet)
        index = self._index(seq16)
        if index is not None:
            self.t4_mono_ns[index].append(rx_mono_ns)

    def _index(self, seq16: int) -> int | None:
        """The newest sent packet whose sequence number ends in ``seq16``."""
        last = self._sent - 1
        if last < 0:
            return None
        index = last - ((last - seq16) & 0xFFFF)
        return index if index >= 0 else None

    def complete(self) -> bool:
        return self._sent == self.count and all(self.t4_mono_ns)


# --------------------------------------------------------------------------------------
# STUN Binding stream (field mode: the provider's own STUN/TURN server)
# --------------------------------------------------------------------------------------

#: 4 octets of the transaction id that mark a request of one call; the last 8 carry the
#: packet index, so an answer is matched to its request without a lookup table.
_TXID_TAIL: Final = struct.Struct("!Q")


def stun_request(call_id: bytes, index: int, size: int) -> bytes:
    """A Binding request (RFC 8489 section 6) of exactly ``size`` octets when ``size`` is at
    least the bare request (20 header + 8 FINGERPRINT): padded with SOFTWARE (0x8022), a
    comprehension-optional attribute every server ignores (section 14.14), so the request
    has the size of the call's RTP packet. The transaction id is ``call_id`` (4 octets) +
    the packet index (8 octets)."""
    from netcheck.wire import stun

    txid = call_id + _TXID_TAIL.pack(index)
    pad = size - stun.HEADER_LEN - 8 - 4  # header, FINGERPRINT TLV, SOFTWARE TLV header
    attrs: tuple[tuple[int, bytes], ...] = ()
    if pad > 0:
        text = (b"netcheck field stream " * (pad // 22 + 1))[: pad - pad % 4]
        attrs = ((stun.Attr.SOFTWARE, text),)
    return stun.Message(stun.Method.BINDING, stun.Class.REQUEST, txid, attrs).to_bytes()


def stun_answer_index(data: bytes, call_id: bytes) -> int | None:
    """The packet index a STUN response answers, or None (not STUN, not ours, a request)."""
    from netcheck.wire import stun

    if len(data) < stun.HEADER_LEN or data[8:12] != call_id:
        return None
    try:
        msg = stun.parse(data)
    except (stun.StunError, ValueError):
        return None
    if msg.cls is stun.Class.REQUEST:
        return None
    (index,) = _TXID_TAIL.unpack_from(msg.transaction_id, 4)
    return int(index)


class StunCall(Session):
    """A call of STUN Binding requests to the provider's STUN/TURN server: one request per
    slot, answers matched by transaction id (RFC 8489 section 6.3). Round trip only: a
    STUN server reports no timestamps, so delay variation is that of the round trip and
    the server's own answering time is included (microseconds on a STUN server)."""

    def __init__(self, sock: socket.socket, *, count: int, size: int, call_id: bytes) -> None:
        super().__init__(sock)
        self.count, self.size, self.call_id = count, size, call_id
        self.t1_mono_ns: list[int | None] = [None] * count
        self.t4_mono_ns: list[list[int]] = [[] for _ in range(count)]
        self.answered = 0
        self.foreign = 0  # datagrams that were not an answer to this call
        self._sent = 0

    def packet(self, index: int, send_mono_ns: int) -> bytes:
        self.t1_mono_ns[index] = send_mono_ns
        self._sent = index + 1
        return stun_request(self.call_id, index, self.size)

    def receive(self, data: bytes, rx_mono_ns: int, rx_real_ns: int) -> None:
        index = stun_answer_index(data, self.call_id)
        if index is None or index >= self._sent:
            self.foreign += 1
            return
        if not self.t4_mono_ns[index]:
            self.answered += 1
        self.t4_mono_ns[index].append(rx_mono_ns)

    def complete(self) -> bool:
        return self._sent == self.count and self.answered == self.count


# --------------------------------------------------------------------------------------
# SIP OPTIONS series (field mode, last resort: the provider's SBC answers OPTIONS)
# --------------------------------------------------------------------------------------


def sip_options(call_id: str, index: int, local: tuple[str, int], target: str) -> bytes:
    """OPTIONS ``index`` of one series (RFC 3261 section 11): one Call-ID, CSeq ``index``
    + 1 and a fresh branch per request (each its own transaction, never retransmitted, so
    a missing answer is a loss); ``rport`` (RFC 3581) so the answer finds its way back."""
    from netcheck.wire import sip

    ip, port = local
    headers = (
        ("Via", f"SIP/2.0/UDP {ip}:{port};branch=z9hG4bK{call_id}x{index};rport"),
        ("Max-Forwards", "70"),
        ("From", f"<sip:netcheck@{ip}:{port}>;tag={call_id}"),
        ("To", f"<sip:ping@{target}>"),
        ("Call-ID", f"{call_id}@{ip}"),
        ("CSeq", f"{index + 1} OPTIONS"),
        ("User-Agent", "netcheck"),
        ("Content-Length", "0"),
    )
    return sip.SipMessage(f"OPTIONS sip:ping@{target} SIP/2.0", headers).to_bytes()


def sip_answer_index(data: bytes, call_id: str) -> int | None:
    """The series index a SIP response answers (by Call-ID and CSeq), or None."""
    from netcheck.wire import sip

    try:
        msg = sip.parse(data)
    except (sip.SipError, ValueError):
        return None
    cseq = (msg.get("CSeq") or "").split()
    if msg.is_request or not (msg.get("Call-ID") or "").startswith(f"{call_id}@") or not cseq \
            or not cseq[0].isdigit():
        return None
    return int(cseq[0]) - 1


class SipOptionsCall(StunCall):
    """OPTIONS requests on a slower schedule (the caller's interval), answers matched by
    Call-ID and CSeq: round trip only, and the SBC's processing time is part of it, so
    its figures have low confidence."""

    def __init__(self, sock: socket.socket, *, count: int, target: str) -> None:
        import secrets

        super().__init__(sock, count=count, size=0, call_id=b"")
        self.sip_call_id = secrets.token_hex(8)
        self.local = sock.getsockname()[:2]
        self.target = target

    def packet(self, index: int, send_mono_ns: int) -> bytes:
        self.t1_mono_ns[index] = send_mono_ns
        self._sent = index + 1
        return sip_options(self.sip_call_id, index, self.local, self.target)

    def receive(self, data: bytes, rx_mono_ns: int, rx_real_ns: int) -> None:
        index = sip_answer_index(data, self.sip_call_id)
        if index is None or not 0 <= index < self._sent:
            self.foreign += 1
            return
        if not self.t4_mono_ns[index]:
            self.answered += 1
        self.t4_mono_ns[index].append(rx_mono_ns)
