"""STAMP (RFC 8762) test packets: sans-I/O parse and build, no sockets.

STAMP gives the stream probe one-way delay and loss per direction against a cooperating
``netcheck responder``. Layouts are RFC 8762 section 4.2.1 (Session-Sender, unauthenticated,
44 octets), 4.2.2 (Session-Sender, authenticated, 112 octets), 4.3.1 (Session-Reflector,
unauthenticated, 44 octets) and 4.3.2 (Session-Reflector, authenticated, 112 octets); the
octet offsets are listed next to each layout constant below. All fields are big-endian.

The two octets after the (first) Error Estimate are MBZ in RFC 8762 and carry the STAMP
Session Identifier (SSID) in RFC 8972 section 3; ``ssid=0`` yields a plain RFC 8762 packet,
so both peers interoperate. RFC 8972 TLVs are not supported (octets after the base packet
are treated as padding).

Authenticated mode (RFC 8762 section 4.4): HMAC-SHA-256 truncated to 128 bits (RFC 4868
section 2.6) over the 96 octets that precede the HMAC field; padding after the HMAC is not
covered. The session mode is pre-configured on both sides (RFC 8762 section 4), so the
parser is told the mode by the presence of ``key``.

Timestamps are kept as the raw 64-bit field: NTP format (RFC 5905 section 6, seconds since
1900 + 32-bit fraction) when the Error Estimate's Z bit is 0, truncated PTPv2 (32-bit
seconds + 32-bit nanoseconds, RFC 8186 section 2.3) when Z is 1.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import struct
from dataclasses import dataclass, field
from typing import Final

from netcheck.wire import WireError

__all__ = [
    "AUTH_LEN",
    "RTP_HEADER_LEN",
    "STAMP_PORT",
    "UNAUTH_LEN",
    "ErrorEstimate",
    "ReflectorPacket",
    "SenderPacket",
    "StampError",
    "StampErrorKind",
    "ns_from_ntp",
    "ns_from_ptp",
    "ns_from_timestamp",
    "ntp_from_ns",
    "parse_reflector",
    "parse_sender",
    "ptp_from_ns",
    "reflect",
    "stamp_packet_size",
]

#: The well-known STAMP port (RFC 8762 section 4.1): the near end's default and the far end's.
STAMP_PORT: Final = 862

#: Base sizes of every STAMP test packet (RFC 8762 sections 4.2, 4.3).
UNAUTH_LEN: Final = 44
AUTH_LEN: Final = 112
#: HMAC field offset and length in authenticated packets of both directions (RFC 8762 4.4).
HMAC_OFFSET: Final = 96
HMAC_LEN: Final = 16

#: RTP fixed header (RFC 3550 5.1): a test packet is sized like the call's RTP packet.
RTP_HEADER_LEN: Final = 12


def stamp_packet_size(payload_bytes: int, authenticated: bool) -> int:
    """UDP payload size of one test packet: an RTP packet's (12 + codec payload), but at
    least the STAMP base size (44 / 112 octets, RFC 8762 4.2)."""
    base = AUTH_LEN if authenticated else UNAUTH_LEN
    return max(base, RTP_HEADER_LEN + payload_bytes)


#: Seconds from the NTP prime epoch 1900-01-01 to the Unix epoch (RFC 5905 section 6).
NTP_UNIX_OFFSET_S: Final = 2_208_988_800
_NS: Final = 1_000_000_000
_U32: Final = 0xFFFF_FFFF
_U64: Final = 0xFFFF_FFFF_FFFF_FFFF


class StampErrorKind(enum.Enum):
    """Why a STAMP packet was rejected."""

    TOO_SHORT = "too_short"
    BAD_HMAC = "bad_hmac"
    MBZ_NONZERO = "mbz_nonzero"
    BAD_ERROR_ESTIMATE = "bad_error_estimate"


class StampError(WireError):
    """A received STAMP packet is malformed; ``kind`` says how, ``detail`` where."""

    def __init__(self, kind: StampErrorKind, detail: str) -> None:
        super().__init__(f"{kind.value}: {detail}")
        self.kind = kind
        self.detail = detail


# --------------------------------------------------------------------------------------
# Error Estimate and timestamps
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorEstimate:
    """The 16-bit Error Estimate, RFC 4656 section 4.1.2 (used by RFC 8762 4.2.1).

    Layout ``S | Z | Scale (6) | Multiplier (8)``. ``synchronized`` (S) = clock synchronised
    to UTC by an external source; ``ptp`` (Z, RFC 8186 2.3) = timestamp is truncated PTPv2
    instead of NTP. Error = Multiplier * 2^(Scale - 32) seconds. RFC 4656 says the
    Multiplier MUST NOT be 0.
    """

    synchronized: bool = False
    ptp: bool = False
    scale: int = 0
    multiplier: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.scale <= 63 or not 0 <= self.multiplier <= 255:
            raise ValueError(
                f"scale must be 0..63 and multiplier 0..255 (got {self.scale}, {self.multiplier})"
            )

    def to_int(self) -> int:
        """The 16-bit wire value."""
        return (self.synchronized << 15) | (self.ptp << 14) | (self.scale << 8) | self.multiplier

    @classmethod
    def from_int(cls, value: int) -> ErrorEstimate:
        """Decode the 16-bit wire value."""
        return cls(
            synchronized=bool(value >> 15 & 1),
            ptp=bool(value >> 14 & 1),
            scale=value >> 8 & 0x3F,
            multiplier=value & 0xFF,
        )

    @property
    def seconds(self) -> float:
        """Estimated error in seconds: Multiplier * 2^-32 * 2^Scale."""
        return self.multiplier * 2.0 ** (self.scale - 32)


def ntp_from_ns(unix_ns: int) -> int:
    """64-bit NTP timestamp (RFC 5905 section 6) of a Unix time in ns, rounded to the
    nearest 2^-32 s. Times from 2036-02-07 on wrap into NTP era 1, as on the wire."""
    ntp_ns = unix_ns + NTP_UNIX_OFFSET_S * _NS
    if ntp_ns < 0:
        raise ValueError(f"time before 1900 cannot be expressed in NTP format: {unix_ns}")
    return ((ntp_ns << 32) + _NS // 2) // _NS & _U64


def ns_from_ntp(ntp64: int) -> int:
    """Unix time in ns of a 64-bit NTP timestamp, rounded to the nearest ns.

    The era is resolved as RFC 4330 section 3 suggests: seconds with the top bit set are
    in 1968-2036 (era 0), others in 2036-2104 (era 1).
    """
    seconds = ntp64 >> 32
    era_offset = 0 if seconds & 0x8000_0000 else 1 << 32
    ntp_ns = ((ntp64 + (era_offset << 32)) * _NS + (1 << 31)) >> 32
    return ntp_ns - NTP_UNIX_OFFSET_S * _NS


def ptp_from_ns(unix_ns: int) -> int:
    """Truncated PTPv2 timestamp (RFC 8186 section 2.3): 32-bit seconds, 32-bit ns.

    PTP counts TAI seconds since 1970; pass TAI-based ns for an exact PTP value (no leap
    second conversion is done here)."""
    seconds, nanos = divmod(unix_ns, _NS)
    return (seconds & _U32) << 32 | nanos


def ns_from_ptp(ptp64: int) -> int:
    """Inverse of ``ptp_from_ns`` (seconds field taken as 0..2^32 - 1)."""
    return (ptp64 >> 32) * _NS + (ptp64 & _U32)


def ns_from_timestamp(timestamp: int, estimate: ErrorEstimate) -> int:
    """Unix ns of a STAMP timestamp field, in the format its Error Estimate's Z bit says."""
    return ns_from_ptp(timestamp) if estimate.ptp else ns_from_ntp(timestamp)


# --------------------------------------------------------------------------------------
# Layouts
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    """Octet offsets of the fields every packet has; ``mbz`` are [start, end) ranges."""

    length: int
    seq: int
    timestamp: int
    error_estimate: int
    ssid: int
    mbz: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class _EchoLayout:
    """Octet offsets of the fields only a Session-Reflector packet has."""

    receive_timestamp: int
    sender_seq: int
    sender_timestamp: int
    sender_error_estimate: int
    sender_ttl: int


# RFC 8762 4.2.1 (SSID: RFC 8972 section 3).
_SENDER_UNAUTH: Final = _Layout(
    length=UNAUTH_LEN, seq=0, timestamp=4, error_estimate=12, ssid=14, mbz=((16, 44),)
)
# RFC 8762 4.2.2.
_SENDER_AUTH: Final = _Layout(
    length=AUTH_LEN, seq=0, timestamp=16, error_estimate=24, ssid=26, mbz=((4, 16), (28, 96))
)
# RFC 8762 4.3.1 (SSID: RFC 8972 section 3).
_REFLECTOR_UNAUTH: Final = (
    _Layout(
        length=UNAUTH_LEN,
        seq=0,
        timestamp=4,
        error_estimate=12,
        ssid=14,
        mbz=((38, 40), (41, 44)),
    ),
    _EchoLayout(
        receive_timestamp=16,
        sender_seq=24,
        sender_timestamp=28,
        sender_error_estimate=36,
        sender_ttl=40,
    ),
)
# RFC 8762 4.3.2.
_REFLECTOR_AUTH: Final = (
    _Layout(
        length=AUTH_LEN,
        seq=0,
        timestamp=16,
        error_estimate=24,
        ssid=26,
        mbz=((4, 16), (28, 32), (40, 48), (52, 64), (74, 80), (81, 96)),
    ),
    _EchoLayout(
        receive_timestamp=32,
        sender_seq=48,
        sender_timestamp=64,
        sender_error_estimate=72,
        sender_ttl=80,
    ),
)


def _mac(key: bytes, data: bytes | bytearray) -> bytes:
    """HMAC-SHA-256-128 over the 96 octets before the HMAC field (RFC 8762 4.4)."""
    return hmac.new(key, bytes(data[:HMAC_OFFSET]), hashlib.sha256).digest()[:HMAC_LEN]


def _check_key(key: bytes | None) -> None:
    if key is not None and not key:
        raise ValueError("HMAC key must not be empty; pass None for unauthenticated mode")


def _frame(layout: _Layout, size: int) -> bytearray:
    if size < layout.length:
        raise ValueError(f"packet size {size} is below the {layout.length}-octet base")
    return bytearray(size)


def _seal(buf: bytearray, key: bytes | None) -> bytes:
    if key is not None:
        buf[HMAC_OFFSET : HMAC_OFFSET + HMAC_LEN] = _mac(key, buf)
    return bytes(buf)


def _check_frame(data: bytes, layout: _Layout, key: bytes | None, strict: bool) -> None:
    """Length, then HMAC, then (strict) MBZ checks, in that order."""
    if len(data) < layout.length:
        raise StampError(
            StampErrorKind.TOO_SHORT,
            f"{len(data)} octets, {'authenticated' if key else 'unauthenticated'} "
            f"STAMP needs at least {layout.length}",
        )
    if key is not None:
        received = data[HMAC_OFFSET : HMAC_OFFSET + HMAC_LEN]
        if not hmac.compare_digest(received, _mac(key, data)):
            raise StampError(StampErrorKind.BAD_HMAC, "HMAC does not match (wrong key?)")
    if strict:
        for start, end in layout.mbz:
            if any(data[start:end]):
                raise StampError(StampErrorKind.MBZ_NONZERO, f"octets {start}..{end - 1}")


def _estimate(data: bytes, offset: int, strict: bool, what: str) -> ErrorEstimate:
    estimate = ErrorEstimate.from_int(_u16(data, offset))
    if strict and estimate.multiplier == 0:
        raise StampError(
            StampErrorKind.BAD_ERROR_ESTIMATE, f"{what} multiplier is 0 (RFC 4656 4.1.2)"
        )
    return estimate


def _u16(data: bytes, offset: int) -> int:
    return int(struct.unpack_from("!H", data, offset)[0])


def _u32(data: bytes, offset: int) -> int:
    return int(struct.unpack_from("!I", data, offset)[0])


def _u64(data: bytes, offset: int) -> int:
    return int(struct.unpack_from("!Q", data, offset)[0])


def _check_range(name: str, value: int, bits: int) -> None:
    if not 0 <= value < 1 << bits:
        raise ValueError(f"{name} must fit in {bits} bits (got {value})")


# --------------------------------------------------------------------------------------
# Session-Sender packet
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SenderPacket:
    """A Session-Sender test packet (RFC 8762 4.2).

    ``timestamp`` is the raw 64-bit field (see module docstring); ``wire_len`` is the
    packet's size on the wire when parsed (base plus padding), None when built locally.
    """

    seq: int
    timestamp: int
    error_estimate: ErrorEstimate = field(default_factory=ErrorEstimate)
    ssid: int = 0
    wire_len: int | None = None

    def __post_init__(self) -> None:
        _check_range("seq", self.seq, 32)
        _check_range("timestamp", self.timestamp, 64)
        _check_range("ssid", self.ssid, 16)

    def to_bytes(self, key: bytes | None = None, pad_to: int | None = None) -> bytes:
        """Encode; authenticated mode when ``key`` is given. ``pad_to`` sets the total size
        (e.g. 44 + 160 octets to mimic a 20 ms G.711 payload); default ``wire_len`` or the
        base size. Padding octets are zero."""
        _check_key(key)
        layout = _SENDER_AUTH if key is not None else _SENDER_UNAUTH
        buf = _frame(layout, pad_to or self.wire_len or layout.length)
        struct.pack_into("!I", buf, layout.seq, self.seq)
        struct.pack_into("!Q", buf, layout.timestamp, self.timestamp)
        struct.pack_into("!H", buf, layout.error_estimate, self.error_estimate.to_int())
        struct.pack_into("!H", buf, layout.ssid, self.ssid)
        return _seal(buf, key)


def parse_sender(data: bytes, key: bytes | None = None, *, strict: bool = False) -> SenderPacket:
    """Decode a Session-Sender packet; authenticated mode when ``key`` is given.

    Raises StampError only. RFC 8762 4.2.1 says MBZ octets are ignored on receipt, so MBZ
    and the Error Estimate multiplier are checked only when ``strict``.
    """
    _check_key(key)
    layout = _SENDER_AUTH if key is not None else _SENDER_UNAUTH
    _check_frame(data, layout, key, strict)
    return SenderPacket(
        seq=_u32(data, layout.seq),
        timestamp=_u64(data, layout.timestamp),
        error_estimate=_estimate(data, layout.error_estimate, strict, "error estimate"),
        ssid=_u16(data, layout.ssid),
        wire_len=len(data),
    )


# --------------------------------------------------------------------------------------
# Session-Reflector packet
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReflectorPacket:
    """A Session-Reflector test packet (RFC 8762 4.3).

    ``seq``/``timestamp``/``error_estimate`` are the reflector's own (timestamp = when it
    sent the reply); ``receive_timestamp`` when it received the request; ``sender_*`` are
    copied from the request; ``sender_ttl`` is the request's IP TTL / Hop Limit.
    """

    seq: int
    timestamp: int
    receive_timestamp: int
    sender_seq: int
    sender_timestamp: int
    sender_ttl: int
    error_estimate: ErrorEstimate = field(default_factory=ErrorEstimate)
    sender_error_estimate: ErrorEstimate = field(default_factory=ErrorEstimate)
    ssid: int = 0
    wire_len: int | None = None

    def __post_init__(self) -> None:
        for name, value, bits in (
            ("seq", self.seq, 32),
            ("timestamp", self.timestamp, 64),
            ("receive_timestamp", self.receive_timestamp, 64),
            ("sender_seq", self.sender_seq, 32),
            ("sender_timestamp", self.sender_timestamp, 64),
            ("sender_ttl", self.sender_ttl, 8),
            ("ssid", self.ssid, 16),
        ):
            _check_range(name, value, bits)

    def to_bytes(self, key: bytes | None = None, pad_to: int | None = None) -> bytes:
        """Encode; authenticated mode when ``key`` is given. Size is ``pad_to``, else
        ``wire_len`` (set by ``reflect`` to the request's size: symmetric, never larger,
        RFC 8762 4.3), else the base size."""
        _check_key(key)
        layout, echo = _REFLECTOR_AUTH if key is not None else _REFLECTOR_UNAUTH
        buf = _frame(layout, pad_to or self.wire_len or layout.length)
        struct.pack_into("!I", buf, layout.seq, self.seq)
        struct.pack_into("!Q", buf, layout.timestamp, self.timestamp)
        struct.pack_into("!H", buf, layout.error_estimate, self.error_estimate.to_int())
        struct.pack_into("!H", buf, layout.ssid, self.ssid)
        struct.pack_into("!Q", buf, echo.receive_timestamp, self.receive_timestamp)
        struct.pack_into("!I", buf, echo.sender_seq, self.sender_seq)
        struct.pack_into("!Q", buf, echo.sender_timestamp, self.sender_timestamp)
        struct.pack_into("!H", buf, echo.sender_error_estimate, self.sender_error_estimate.to_int())
        buf[echo.sender_ttl] = self.sender_ttl
        return _seal(buf, key)


def parse_reflector(
    data: bytes, key: bytes | None = None, *, strict: bool = False
) -> ReflectorPacket:
    """Decode a Session-Reflector packet; authenticated mode when ``key`` is given.

    Raises StampError only; MBZ and multiplier checks only when ``strict`` (see
    ``parse_sender``)."""
    _check_key(key)
    layout, echo = _REFLECTOR_AUTH if key is not None else _REFLECTOR_UNAUTH
    _check_frame(data, layout, key, strict)
    return ReflectorPacket(
        seq=_u32(data, layout.seq),
        timestamp=_u64(data, layout.timestamp),
        error_estimate=_estimate(data, layout.error_estimate, strict, "error estimate"),
        ssid=_u16(data, layout.ssid),
        receive_timestamp=_u64(data, echo.receive_timestamp),
        sender_seq=_u32(data, echo.sender_seq),
        sender_timestamp=_u64(data, echo.sender_timestamp),
        sender_error_estimate=_estimate(
            data, echo.sender_error_estimate, strict, "session-sender error estimate"
        ),
        sender_ttl=data[echo.sender_ttl],
        wire_len=len(data),
    )


def reflect(
    request: SenderPacket,
    *,
    receive_ts: int,
    send_ts: int,
    ttl: int,
    reflector_seq: int | None = None,
    error_estimate: ErrorEstimate | None = None,
) -> ReflectorPacket:
    """The reply a Session-Reflector sends for ``request`` (RFC 8762 4.3).

    ``reflector_seq`` None = stateless reflector, which copies the request's sequence
    number (RFC 8762 4.3.1); a stateful one passes its own counter. The reply has the
    request's size (``wire_len``), so a reflector never amplifies. SSID is echoed
    (RFC 8972 section 3).
    """
    return ReflectorPacket(
        seq=request.seq if reflector_seq is None else reflector_seq,
        timestamp=send_ts,
        error_estimate=error_estimate or ErrorEstimate(),
        ssid=request.ssid,
        receive_timestamp=receive_ts,
        sender_seq=request.seq,
        sender_timestamp=request.timestamp,
        sender_error_estimate=request.error_estimate,
        sender_ttl=ttl,
        wire_len=request.wire_len,
    )
