"""STUN codec on the RFC 5769 test vectors (section 2.1 Sample Request, 2.2 Sample IPv4
Response, 2.3 Sample IPv6 Response; exact bytes from the RFC), plus corrupted copies."""

from __future__ import annotations

import struct

import pytest

from netcheck.wire import stun
from netcheck.wire.stun import Attr, Class, StunError


def _hex(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


#: RFC 5769 section 2 short-term credential password of all three vectors.
PASSWORD = b"VOkJxbRl1RmTxUk/WvJxBt"
TXID = _hex("b7 e7 a7 01 bc 34 d6 86 fa 87 df ae")

#: RFC 5769 section 2.1 Sample Request.
RFC5769_REQUEST = _hex("""
00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
00 24 00 04 6e 00 01 ff 80 29 00 08 93 2f f9 b1 51 26 3b 36
00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
80 28 00 04 e5 7a 3b cf""")

#: RFC 5769 section 2.2 Sample IPv4 Response (mapped address 192.0.2.1 port 32853).
RFC5769_IPV4_RESPONSE = _hex("""
01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
00 20 00 08 00 01 a1 47 e1 12 a6 43
00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
80 28 00 04 c0 7d 4c 96""")

#: RFC 5769 section 2.3 Sample IPv6 Response (2001:db8:1234:5678:11:2233:4455:6677 port 32853).
RFC5769_IPV6_RESPONSE = _hex("""
01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
80 28 00 04 c8 fb 0b 4c""")


def test_rfc5769_sample_request() -> None:
    msg = stun.parse(RFC5769_REQUEST)
    assert (msg.method, msg.cls, msg.transaction_id) == (stun.Method.BINDING, Class.REQUEST, TXID)
    assert msg.software == "STUN test client"
    assert msg.get(Attr.USERNAME) == b"evtj:h6vY"
    assert msg.get(0x0024) == _hex("6e 00 01 ff")  # PRIORITY (RFC 8445), kept raw
    assert msg.fingerprint_ok is True
    assert stun.verify_integrity(RFC5769_REQUEST, PASSWORD)
    assert not stun.verify_integrity(RFC5769_REQUEST, b"wrong password")


def test_rfc5769_sample_ipv4_response() -> None:
    msg = stun.parse(RFC5769_IPV4_RESPONSE)
    assert msg.cls is Class.SUCCESS and msg.transaction_id == TXID
    assert msg.software == "test vector"
    assert msg.xor_mapped_address == ("192.0.2.1", 32853)
    assert msg.mapped_address == ("192.0.2.1", 32853)
    assert msg.fingerprint_ok is True
    assert stun.verify_integrity(RFC5769_IPV4_RESPONSE, PASSWORD)


def test_rfc5769_sample_ipv6_response() -> None:
    msg = stun.parse(RFC5769_IPV6_RESPONSE)
    assert msg.xor_mapped_address == ("2001:db8:1234:5678:11:2233:4455:6677", 32853)
    assert msg.fingerprint_ok is True
    assert stun.verify_integrity(RFC5769_IPV6_RESPONSE, PASSWORD)


def test_encoder_agrees_with_rfc5769_ipv4_response() -> None:
    """Re-encode the 2.2 response from its decoded parts: the XOR-MAPPED-ADDRESS octets are
    the RFC's, and the integrity/fingerprint the encoder writes pass the verifier that the
    RFC vectors validate above (the RFC pads SOFTWARE with 0x20, RFC 8489 with zeros, so the
    whole message cannot be byte-identical)."""
    xor = stun.encode_address(("192.0.2.1", 32853), TXID)
    assert xor == RFC5769_IPV4_RESPONSE[40:48]
    msg = stun.Message(stun.Method.BINDING, Class.SUCCESS, TXID,
                       ((Attr.SOFTWARE, b"test vector"), (Attr.XOR_MAPPED_ADDRESS, xor)))
    out = msg.to_bytes(integrity_key=PASSWORD)
    assert len(out) == len(RFC5769_IPV4_RESPONSE)
    assert out[:20] == RFC5769_IPV4_RESPONSE[:20]
    assert stun.verify_integrity(out, PASSWORD) and stun.parse(out).fingerprint_ok is True


def test_round_trip_rfc5780_attributes() -> None:
    txid = bytes(range(12))
    msg = stun.Message(stun.Method.BINDING, Class.SUCCESS, txid, (
        (Attr.XOR_MAPPED_ADDRESS, stun.encode_address(("198.18.0.1", 40000), txid)),
        (Attr.RESPONSE_ORIGIN, stun.encode_address(("198.18.0.2", 3478))),
        (Attr.OTHER_ADDRESS, stun.encode_address(("198.18.0.3", 3479))),
        (Attr.ERROR_CODE, b"\x00\x00\x04\x14Unknown Attribute"),
    ))
    back = stun.parse(msg.to_bytes())
    assert back.attributes[:-1] == msg.attributes and back.fingerprint_ok is True
    assert back.attributes[-1][0] == Attr.FINGERPRINT
    assert back.mapped_address == ("198.18.0.1", 40000)
    assert back.response_origin == ("198.18.0.2", 3478)
    assert back.other_address == ("198.18.0.3", 3479)
    assert back.error_code == (420, "Unknown Attribute")


def test_change_request_flags() -> None:
    """RFC 5780 section 7.2: change IP = 0x04, change port = 0x02."""
    req = stun.binding_request(change_ip=True, change_port=True)
    assert req.get(Attr.CHANGE_REQUEST) == struct.pack("!I", 0x06)
    assert stun.binding_request().get(Attr.CHANGE_REQUEST) is None
    assert stun.parse(req.to_bytes()).transaction_id == req.transaction_id


def test_message_type_bits() -> None:
    """RFC 8489 section 5: Binding request 0x0001, success 0x0101, error 0x0111."""
    for cls, wire in ((Class.REQUEST, 0x0001), (Class.SUCCESS, 0x0101), (Class.ERROR, 0x0111),
                      (Class.INDICATION, 0x0011)):
        raw = stun.Message(1, cls, TXID).to_bytes(fingerprint=False)
        assert struct.unpack("!H", raw[:2])[0] == wire
        assert stun.parse(raw).cls is cls


def test_frame_length_for_tcp_streams() -> None:
    assert stun.frame_length(RFC5769_REQUEST[:19]) is None
    assert stun.frame_length(RFC5769_REQUEST[:20]) == len(RFC5769_REQUEST) == 108


@pytest.mark.parametrize(("data", "message"), [
    (RFC5769_REQUEST[:10], "10 octets, a STUN header needs 20"),
    (RFC5769_REQUEST[:4] + b"\x21\x12\xa4\x43" + RFC5769_REQUEST[8:], "magic cookie is 0x2112a443"),
    (b"\xc0" + RFC5769_REQUEST[1:], "most significant bits must be zero"),
    (RFC5769_REQUEST[:-4], "header length 88 does not fit 84 octets"),
    (RFC5769_REQUEST[:2] + b"\x00\x5c" + RFC5769_REQUEST[4:] + b"\x00\x20\x00\x09",
     "attribute 0x0020 at offset 108 overruns"),
])
def test_corrupted_copies_are_rejected(data: bytes, message: str) -> None:
    with pytest.raises(StunError, match=message):
        stun.parse(data)


def test_flipped_bit_breaks_fingerprint_and_integrity() -> None:
    bad = bytearray(RFC5769_IPV4_RESPONSE)
    bad[47] ^= 0x01  # last octet of the XOR'd address
    msg = stun.parse(bytes(bad))
    assert msg.fingerprint_ok is False
    assert msg.xor_mapped_address == ("192.0.2.0", 32853)
    assert not stun.verify_integrity(bytes(bad), PASSWORD)
