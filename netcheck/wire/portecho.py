"""Port-echo datagrams: sans-I/O build and parse for the UDP range sweep and DSCP read-back.

The probe sends one request to every port of a range; the responder answers each with a
reply of the *same size* from the port it arrived on (never amplifying). The request names
the port it was sent to and a per-run token, so a reply proves "a datagram to port P
arrived and one from port P came back" (the probe also checks the reply's source port).

Layout (big-endian, 20 octets; 44 in keyed mode)::

    0  magic "NCPE"           4   version (1)           5  kind (1 request, 2 reply)
    6  port: sent to (u16)    8   rx_port (u16): port the responder received on, 0 unknown
    10 tos_reply (u8): DS field the reply is to carry (request) / carried (reply)
    11 tos_rx (u8): DS field+ECN the responder received (reply; 0 in a request)
    12 token (u64)
    keyed mode only:
    20 sent_ns (u64): the request's send time, Unix ns (the reply echoes it)
    28 HMAC-SHA-256/128 over octets 0-27 (RFC 4868 2.6)

The send time makes a keyed request usable once and only briefly: the responder refuses
a request outside its timestamp window or whose HMAC it has answered before
(:mod:`netcheck.responder.replay`), so a captured request cannot be replayed.

``tos_rx`` is the whole IPv4 TOS / IPv6 Traffic Class octet (RFC 2474 section 3: DSCP =
octet >> 2), so a re-mark of EF (46, RFC 3246) to 0 on the way in is visible per packet.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import struct
import time
from dataclasses import dataclass
from typing import Final

from netcheck.wire import WireError

MAGIC: Final = b"NCPE"
VERSION: Final = 1
SIZE: Final = 20
MAC_LEN: Final = 16
STAMP_LEN: Final = 8
KEYED_SIZE: Final = SIZE + STAMP_LEN + MAC_LEN
_FMT: Final = struct.Struct("!4sBBHHBBQ")
_STAMP: Final = struct.Struct("!Q")


class Kind(enum.IntEnum):
    REQUEST = 1
    REPLY = 2


class EchoError(WireError):
    """A datagram that is not a (valid) port-echo message."""


@dataclass(frozen=True)
class Echo:
    """One request or reply. ``tos_reply``: the DS octet asked for / set on the reply."""

    kind: Kind
    port: int
    token: int
    rx_port: int = 0
    tos_reply: int = 0
    tos_rx: int = 0
    sent_ns: int = 0  # keyed mode: send time (0 = "now" when encoded)

    def to_bytes(self, key: bytes | None = None) -> bytes:
        """Encode; keyed mode when ``key`` is given. A keyed request built without
        ``sent_ns`` is stamped with the time of encoding, so every send (a retry too) is
        a new, fresh request."""
        body = _FMT.pack(MAGIC, VERSION, self.kind, self.port, self.rx_port,
                         self.tos_reply, self.tos_rx, self.token)
        if not key:
            return body
        body += _STAMP.pack(self.sent_ns or time.time_ns())
        return body + _mac(key, body)

    def reply(self, rx_port: int, tos_rx: int) -> Echo:
        """The responder's answer: same port, token and send time, what it saw filled in."""
        return Echo(Kind.REPLY, self.port, self.token, rx_port, self.tos_reply, tos_rx & 0xFF,
                    self.sent_ns)


def parse(data: bytes, key: bytes | None = None) -> Echo:
    """Parse and (with ``key``) authenticate; raises :class:`EchoError`."""
    size = KEYED_SIZE if key else SIZE
    if len(data) < size:
        raise EchoError(f"too short: {len(data)} octets, need {size}")
    magic, version, kind, port, rx_port, tos_reply, tos_rx, token = _FMT.unpack_from(data)
    if magic != MAGIC or version != VERSION:
        raise EchoError("not a port-echo message (magic/version)")
    if kind not in (Kind.REQUEST, Kind.REPLY):
        raise EchoError(f"unknown kind {kind}")
    signed = SIZE + STAMP_LEN
    if key and not hmac.compare_digest(data[signed:size], _mac(key, data[:signed])):
        raise EchoError("bad HMAC")
    sent_ns = int(_STAMP.unpack_from(data, SIZE)[0]) if key else 0
    return Echo(Kind(kind), port, token, rx_port, tos_reply, tos_rx, sent_ns)


def mac_of(data: bytes) -> bytes:
    """The HMAC field of a keyed message (what the responder remembers against replays)."""
    return data[SIZE + STAMP_LEN : KEYED_SIZE]


def _mac(key: bytes | None, body: bytes) -> bytes:
    assert key
    return hmac.new(key, body, hashlib.sha256).digest()[:MAC_LEN]


def parse_ranges(text: str) -> tuple[tuple[int, int], ...]:
    """``"16384-32767,50000-50100,5060"`` -> ((16384, 32767), (50000, 50100), (5060, 5060));
    raises ValueError with the offending item."""
    out = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        lo_s, _, hi_s = item.partition("-")
        try:
            lo, hi = int(lo_s), int(hi_s or lo_s)
        except ValueError:
            raise ValueError(f"{item!r}: expected PORT or LOW-HIGH") from None
        if not 1 <= lo <= hi <= 65535:
            raise ValueError(f"{item!r}: ports must be 1-65535 and LOW <= HIGH")
        out.append((lo, hi))
    return tuple(sorted(out))
