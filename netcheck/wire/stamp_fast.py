"""STAMP (RFC 8762) packets for the hot path: pre-built templates and fixed-offset unpacking.

:mod:`netcheck.wire.stamp` is the reference codec (a frozen dataclass per packet, range
checks, MBZ checks). At hundreds of concurrent 50 pps calls that costs more than the
syscalls (~4 µs to build a Session-Sender packet, ~16 µs to parse a reflector packet, ~25 µs
for a reflector's parse + reflect + build). The functions here produce and read the same
octets with one ``struct`` call each:

- :class:`SenderTemplate`: the packet of one session is built once by the reference codec
  (Error Estimate, SSID, zero padding: fixed for the session); per packet only the
  sequence number and the timestamp are patched in place with ``struct.pack_into`` (RFC 8762
  4.2.1: seq at octet 0, timestamp at 4; 4.2.2: seq at 0, timestamp at 16), and in
  authenticated mode the HMAC is recomputed over octets 0..95 (RFC 8762 4.4).
- :func:`unpack_reflector`: the fields of a Session-Reflector packet as a plain tuple at the
  fixed offsets of RFC 8762 4.3.1 / 4.3.2 (no MBZ checks: RFC 8762 says MBZ octets are
  ignored on receipt, as the reference parser does without ``strict``).
- :func:`reflect_unauth`: a stateful reflector's unauthenticated reply (RFC 8762 4.3.1), the
  same octets as ``reflect(parse_sender(data), ...).to_bytes()``.

The unit tests compare every output with the reference codec's for the same fields.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from typing import Final

from netcheck.wire.stamp import (
    AUTH_LEN,
    HMAC_LEN,
    HMAC_OFFSET,
    UNAUTH_LEN,
    ErrorEstimate,
    SenderPacket,
    StampError,
    StampErrorKind,
)

__all__ = [
    "ReflectorFields",
    "SenderTemplate",
    "reflect_unauth",
    "request_ssid",
    "unpack_reflector",
]

#: Session-Sender, unauthenticated (RFC 8762 4.2.1): seq(0) timestamp(4) EE(12) SSID(14).
_SENDER_HEAD: Final = struct.Struct("!IQHH")
_SEQ_TS_UNAUTH: Final = struct.Struct("!IQ")
_U16: Final = struct.Struct("!H")
_U32: Final = struct.Struct("!I")
_U64: Final = struct.Struct("!Q")
_TS_AUTH_OFFSET: Final = 16  # RFC 8762 4.2.2
#: Session-Reflector, unauthenticated (RFC 8762 4.3.1): seq(0) timestamp(4) EE(12) SSID(14)
#: receive timestamp(16) sender seq(24) sender timestamp(28) sender EE(36) MBZ(38..39)
#: sender TTL(40) MBZ(41..43).
_REFLECTOR_UNAUTH: Final = struct.Struct("!IQHHQIQH2xB3x")
#: Session-Reflector, authenticated (RFC 8762 4.3.2): seq(0) MBZ(4..15) timestamp(16) EE(24)
#: SSID(26) MBZ(28..31) receive timestamp(32) MBZ(40..47) sender seq(48) MBZ(52..63)
#: sender timestamp(64) sender EE(72) MBZ(74..79) sender TTL(80).
_REFLECTOR_AUTH: Final = struct.Struct("!I12xQHH4xQ8xI12xQH6xB")

#: (reflector seq, reflector timestamp T3, reflector Error Estimate (16-bit wire value),
#: SSID, receive timestamp T2, sender seq, sender timestamp, sender Error Estimate,
#: sender TTL): raw wire values, timestamps in the format the Error Estimate's Z bit says.
ReflectorFields = tuple[int, int, int, int, int, int, int, int, int]


def _mac(key: bytes, data: bytes | bytearray | memoryview) -> bytes:
    """HMAC-SHA-256-128 over the 96 octets before the HMAC field (RFC 8762 4.4)."""
    return hmac.new(key, data[:HMAC_OFFSET], hashlib.sha256).digest()[:HMAC_LEN]


class SenderTemplate:
    """The Session-Sender packets of one session, patched in one preallocated buffer.

    ``fill(seq, timestamp)`` returns the buffer itself (a ``bytearray``, overwritten by the
    next ``fill``): hand it to ``socket.send`` at once, do not keep it.
    """

    def __init__(
        self,
        size: int,
        *,
        estimate: ErrorEstimate | None = None,
        ssid: int = 0,
        key: bytes | None = None,
    ) -> None:
        estimate = estimate or ErrorEstimate()
        packet = SenderPacket(seq=0, timestamp=0, error_estimate=estimate, ssid=ssid)
        self.key = key
        self.size = size
        self.buf = bytearray(packet.to_bytes(key, pad_to=size))  # reference codec: fixed fields
        self._view = memoryview(self.buf)

    def fill(self, seq: int, timestamp: int) -> bytearray:
        """The packet with sequence number ``seq`` (mod 2^32) and the raw 64-bit timestamp."""
        buf = self.buf
        if self.key is None:
            _SEQ_TS_UNAUTH.pack_into(buf, 0, seq & 0xFFFF_FFFF, timestamp)
            return buf
        _U32.pack_into(buf, 0, seq & 0xFFFF_FFFF)
        _U64.pack_into(buf, _TS_AUTH_OFFSET, timestamp)
        buf[HMAC_OFFSET : HMAC_OFFSET + HMAC_LEN] = _mac(self.key, self._view)
        return buf


def unpack_reflector(data: bytes, key: bytes | None = None) -> ReflectorFields:
    """The raw fields of a Session-Reflector packet (see :data:`ReflectorFields`).

    Raises StampError (TOO_SHORT, BAD_HMAC) like ``parse_reflector`` without ``strict``.
    """
    if key is None:
        _check_unauth(data)
        return _REFLECTOR_UNAUTH.unpack_from(data)
    if len(data) < AUTH_LEN:
        raise StampError(StampErrorKind.TOO_SHORT, f"{len(data)} octets, authenticated "
                         f"STAMP needs at least {AUTH_LEN}")
    if not hmac.compare_digest(data[HMAC_OFFSET : HMAC_OFFSET + HMAC_LEN], _mac(key, data)):
        raise StampError(StampErrorKind.BAD_HMAC, "HMAC does not match (wrong key?)")
    return _REFLECTOR_AUTH.unpack_from(data)


def _check_unauth(data: bytes) -> None:
    if len(data) < UNAUTH_LEN:
        raise StampError(StampErrorKind.TOO_SHORT, f"{len(data)} octets, unauthenticated "
                         f"STAMP needs at least {UNAUTH_LEN}")


def request_ssid(data: bytes) -> int:
    """The SSID (RFC 8972 section 3, octets 14..15) of an unauthenticated Session-Sender
    packet: a stateful reflector needs it to pick the session before it replies."""
    _check_unauth(data)
    return int(_U16.unpack_from(data, 14)[0])


def reflect_unauth(
    data: bytes, *, receive_ts: int, send_ts: int, ttl: int, reflector_seq: int, estimate: int
) -> bytes:
    """The reply of a stateful unauthenticated reflector (RFC 8762 4.3.1) to ``data``.

    The reply has the request's size with zero padding (never amplifies); the sender's seq,
    timestamp and Error Estimate are copied, the SSID echoed (RFC 8972 section 3).
    ``estimate`` is the reflector's 16-bit Error Estimate (``ErrorEstimate.to_int()``).
    """
    _check_unauth(data)
    seq, timestamp, sender_ee, ssid = _SENDER_HEAD.unpack_from(data)
    out = bytearray(len(data))
    _REFLECTOR_UNAUTH.pack_into(out, 0, reflector_seq & 0xFFFF_FFFF, send_ts, estimate, ssid,
                                receive_ts, seq, timestamp, sender_ee, ttl & 0xFF)
    return bytes(out)
