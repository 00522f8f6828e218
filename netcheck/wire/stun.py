"""STUN (RFC 8489, RFC 5389) messages: sans-I/O parse and build, no sockets.

netcheck uses STUN for three things: the site's public (mapped) address and the round trip
to the provider's STUN server (RFC 8489 section 14.2 XOR-MAPPED-ADDRESS), NAT behaviour
discovery (RFC 5780: OTHER-ADDRESS, RESPONSE-ORIGIN, CHANGE-REQUEST) and the lifetime of an
idle UDP NAT binding. Only what those need is decoded; any other attribute is kept raw.

Layout (RFC 8489 section 5): a 20-octet header (2 zero bits, 14-bit message type, 16-bit
length of the attributes, magic cookie 0x2112A442, 96-bit transaction id), then TLV
attributes padded to 4 octets. The message type interleaves the method and class bits:
``M11..M7 C1 M6..M4 C0 M3..M0``.

Integrity: MESSAGE-INTEGRITY is HMAC-SHA1 over the message up to (not including) that
attribute with the header length adjusted to end just after it (section 14.5);
FINGERPRINT is CRC-32 of the message up to it, XOR 0x5354554e, with the length adjusted
to include it (section 14.7). Both are checked against the RFC 5769 test vectors.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import ipaddress
import secrets
import struct
import zlib
from dataclasses import dataclass, field
from typing import Final

from netcheck.wire import WireError

__all__ = [
    "HEADER_LEN",
    "MAGIC_COOKIE",
    "Attr",
    "Class",
    "Message",
    "Method",
    "StunError",
    "binding_request",
    "decode_address",
    "encode_address",
    "frame_length",
    "parse",
]

HEADER_LEN: Final = 20
MAGIC_COOKIE: Final = 0x2112A442
FINGERPRINT_XOR: Final = 0x5354554E
_COOKIE_BYTES: Final = struct.pack("!I", MAGIC_COOKIE)


class Method(enum.IntEnum):
    BINDING = 0x001


class Class(enum.IntEnum):
    """The two class bits C1 C0 (RFC 8489 section 5)."""

    REQUEST = 0b00
    INDICATION = 0b01
    SUCCESS = 0b10
    ERROR = 0b11


class Attr(enum.IntEnum):
    """Attribute types used here (RFC 8489 section 18.3, RFC 5780 section 7)."""

    MAPPED_ADDRESS = 0x0001
    CHANGE_REQUEST = 0x0003  # RFC 5780 section 7.2
    USERNAME = 0x0006
    MESSAGE_INTEGRITY = 0x0008
    ERROR_CODE = 0x0009
    UNKNOWN_ATTRIBUTES = 0x000A
    REALM = 0x0014
    NONCE = 0x0015
    XOR_MAPPED_ADDRESS = 0x0020
    PADDING = 0x0026  # RFC 5780 section 7.6
    RESPONSE_PORT = 0x0027  # RFC 5780 section 7.5
    SOFTWARE = 0x8022
    ALTERNATE_SERVER = 0x8023
    FINGERPRINT = 0x8028
    RESPONSE_ORIGIN = 0x802B  # RFC 5780 section 7.3
    OTHER_ADDRESS = 0x802C  # RFC 5780 section 7.4


#: CHANGE-REQUEST flags (RFC 5780 section 7.2).
CHANGE_IP: Final = 0x04
CHANGE_PORT: Final = 0x02

_FAMILY = {0x01: 4, 0x02: 6}


class StunError(WireError):
    """Bytes that are not a valid STUN message; the text says which rule failed."""


Address = tuple[str, int]


@dataclass(frozen=True)
class Message:
    """One STUN message; ``attributes`` keep their order and raw (unpadded) values."""

    method: int
    cls: Class
    transaction_id: bytes
    attributes: tuple[tuple[int, bytes], ...] = ()
    #: set by :func:`parse`: None = no FINGERPRINT attribute, else whether its CRC matched
    fingerprint_ok: bool | None = field(default=None, compare=False)

    def get(self, attr: int) -> bytes | None:
        """Value of the first attribute of type ``attr`` (RFC 8489 section 14: later
        duplicates are ignored)."""
        return next((v for t, v in self.attributes if t == attr), None)

    # -- decoded views -----------------------------------------------------------------
    @property
    def xor_mapped_address(self) -> Address | None:
        raw = self.get(Attr.XOR_MAPPED_ADDRESS)
        return decode_address(raw, self.transaction_id) if raw is not None else None

    @property
    def mapped_address(self) -> Address | None:
        """XOR-MAPPED-ADDRESS, else the RFC 3489 MAPPED-ADDRESS (old servers)."""
        if self.xor_mapped_address is not None:
            return self.xor_mapped_address
        raw = self.get(Attr.MAPPED_ADDRESS)
        return decode_address(raw) if raw is not None else None

    @property
    def other_address(self) -> Address | None:
        raw = self.get(Attr.OTHER_ADDRESS)
        return decode_address(raw) if raw is not None else None

    @property
    def response_origin(self) -> Address | None:
        raw = self.get(Attr.RESPONSE_ORIGIN)
        return decode_address(raw) if raw is not None else None

    @property
    def error_code(self) -> tuple[int, str] | None:
        """(code, reason phrase) of ERROR-CODE: class * 100 + number (section 14.8)."""
        raw = self.get(Attr.ERROR_CODE)
        if raw is None:
            return None
        if len(raw) < 4:
            raise StunError(f"ERROR-CODE value is {len(raw)} octets, needs >= 4")
        return (raw[2] & 0x07) * 100 + raw[3], raw[4:].decode("utf-8", "replace")

    @property
    def software(self) -> str | None:
        raw = self.get(Attr.SOFTWARE)
        return raw.decode("utf-8", "replace") if raw is not None else None

    # -- integrity ---------------------------------------------------------------------
    def to_bytes(self, *, integrity_key: bytes | None = None, fingerprint: bool = True) -> bytes:
        """Encode; appends MESSAGE-INTEGRITY (if ``integrity_key``) and FINGERPRINT."""
        body = b"".join(_tlv(t, v) for t, v in self.attributes)
        msg = self._header(len(body)) + body
        if integrity_key is not None:
            mac = hmac.new(integrity_key, self._header(len(body) + 24) + body, hashlib.sha1)
            body += _tlv(Attr.MESSAGE_INTEGRITY, mac.digest())
            msg = self._header(len(body)) + body
        if fingerprint:
            crc = _crc(self._header(len(body) + 8) + body)
            body += _tlv(Attr.FINGERPRINT, struct.pack("!I", crc))
            msg = self._header(len(body)) + body
        return msg

    def _header(self, length: int) -> bytes:
        return struct.pack("!HHI", _type(self.method, self.cls), length, MAGIC_COOKIE) + (
            self.transaction_id
        )


def _type(method: int, cls: int) -> int:
    """Interleave method and class bits (RFC 8489 section 5, figure 3)."""
    m = method & 0xFFF
    return (m & 0x000F) | ((m & 0x0070) << 1) | ((m & 0x0F80) << 2) | ((cls & 1) << 4) | (
        (cls & 2) << 7
    )


def _split_type(msg_type: int) -> tuple[int, Class]:
    method = (msg_type & 0x000F) | ((msg_type & 0x00E0) >> 1) | ((msg_type & 0x3E00) >> 2)
    cls = ((msg_type >> 4) & 1) | ((msg_type >> 7) & 2)
    return method, Class(cls)


def _tlv(attr: int, value: bytes) -> bytes:
    return struct.pack("!HH", attr, len(value)) + value + b"\x00" * (-len(value) % 4)


def _crc(data: bytes) -> int:
    return (zlib.crc32(data) & 0xFFFFFFFF) ^ FINGERPRINT_XOR


def frame_length(buf: bytes) -> int | None:
    """Total length of the message at the start of a TCP byte stream (RFC 8489 section
    6.2.2: messages are sent back to back, framed by their own length), or None if the
    header is not complete yet."""
    if len(buf) < HEADER_LEN:
        return None
    return HEADER_LEN + int(struct.unpack_from("!H", buf, 2)[0])


def parse(data: bytes) -> Message:
    """Decode one STUN message; raise :class:`StunError` naming the broken rule."""
    if len(data) < HEADER_LEN:
        raise StunError(f"{len(data)} octets, a STUN header needs {HEADER_LEN}")
    msg_type, length, cookie = struct.unpack_from("!HHI", data)
    if msg_type & 0xC000:
        raise StunError("the two most significant bits must be zero (RFC 8489 section 5)")
    if cookie != MAGIC_COOKIE:
        raise StunError(f"magic cookie is {cookie:#010x}, expected {MAGIC_COOKIE:#010x}")
    if length % 4 or HEADER_LEN + length != len(data):
        raise StunError(f"header length {length} does not fit {len(data) - HEADER_LEN} octets")
    method, cls = _split_type(msg_type)
    attrs, fp_ok = _attributes(data)
    return Message(method, cls, bytes(data[8:20]), tuple(attrs), fp_ok)


def _attributes(data: bytes) -> tuple[list[tuple[int, bytes]], bool | None]:
    attrs: list[tuple[int, bytes]] = []
    fp_ok: bool | None = None
    pos = HEADER_LEN
    while pos < len(data):
        if pos + 4 > len(data):
            raise StunError(f"truncated attribute header at offset {pos}")
        atype, alen = struct.unpack_from("!HH", data, pos)
        end = pos + 4 + alen
        if end > len(data):
            raise StunError(f"attribute {atype:#06x} at offset {pos} overruns the message")
        value = bytes(data[pos + 4 : end])
        if atype == Attr.FINGERPRINT:
            if alen != 4:
                raise StunError(f"FINGERPRINT value is {alen} octets, must be 4")
            fp_ok = struct.unpack("!I", value)[0] == _crc(data[:pos])
        attrs.append((atype, value))
        pos = end + (-alen % 4)
    return attrs, fp_ok


def verify_integrity(data: bytes, key: bytes) -> bool:
    """Check MESSAGE-INTEGRITY of raw message ``data`` with ``key`` (short-term: the
    password; long-term: MD5(username:realm:password), RFC 8489 section 9.2.2)."""
    msg = parse(data)
    pos = HEADER_LEN
    for atype, value in msg.attributes:
        if atype == Attr.MESSAGE_INTEGRITY:
            head = data[:2] + struct.pack("!H", pos + 24 - HEADER_LEN) + data[4:HEADER_LEN]
            mac = hmac.new(key, head + data[HEADER_LEN:pos], hashlib.sha1).digest()
            return hmac.compare_digest(mac, value)
        pos += 4 + len(value) + (-len(value) % 4)
    return False


def decode_address(raw: bytes, xor_txid: bytes | None = None) -> Address:
    """(ip, port) of a MAPPED-ADDRESS-style value; with ``xor_txid`` undo the XOR of
    XOR-MAPPED-ADDRESS (port with the cookie's top 16 bits, IPv4 with the cookie, IPv6 with
    cookie + transaction id; RFC 8489 section 14.2)."""
    if len(raw) < 4 or raw[1] not in _FAMILY:
        raise StunError(f"address attribute with family {raw[1] if len(raw) > 1 else None}")
    size = 4 if _FAMILY[raw[1]] == 4 else 16
    if len(raw) != 4 + size:
        raise StunError(f"address attribute is {len(raw)} octets, expected {4 + size}")
    port = struct.unpack_from("!H", raw, 2)[0]
    addr = raw[4:]
    if xor_txid is not None:
        port ^= MAGIC_COOKIE >> 16
        addr = bytes(a ^ b for a, b in zip(addr, _COOKIE_BYTES + xor_txid, strict=False))
    return str(ipaddress.ip_address(addr)), port


def encode_address(address: Address, xor_txid: bytes | None = None) -> bytes:
    """Inverse of :func:`decode_address`."""
    ip = ipaddress.ip_address(address[0])
    family = 0x01 if ip.version == 4 else 0x02
    port, addr = address[1], ip.packed
    if xor_txid is not None:
        port ^= MAGIC_COOKIE >> 16
        addr = bytes(a ^ b for a, b in zip(addr, _COOKIE_BYTES + xor_txid, strict=False))
    return struct.pack("!BBH", 0, family, port) + addr


def binding_request(
    *, change_ip: bool = False, change_port: bool = False, software: str | None = None
) -> Message:
    """A Binding request with a fresh random transaction id; CHANGE-REQUEST only when a
    change is asked for (RFC 5780 section 7.2: servers without RFC 5780 reject it with 420)."""
    attrs: list[tuple[int, bytes]] = []
    if software:
        attrs.append((Attr.SOFTWARE, software.encode()))
    if change_ip or change_port:
        flags = (CHANGE_IP if change_ip else 0) | (CHANGE_PORT if change_port else 0)
        attrs.append((Attr.CHANGE_REQUEST, struct.pack("!I", flags)))
    return Message(Method.BINDING, Class.REQUEST, secrets.token_bytes(12), tuple(attrs))
