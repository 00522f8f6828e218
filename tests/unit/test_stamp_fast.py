"""netcheck.wire.stamp_fast against the reference codec netcheck.wire.stamp (RFC 8762).

The reference codec's layouts are tested field by field against the RFC 8762 4.2/4.3
figures in test_stamp_wire.py; here every fast-path output must be the same octets (or the
same field values) as the reference for the same fields, in both modes, with and without
padding, and a flipped octet must fail the HMAC like the reference does.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netcheck.wire.stamp import (
    AUTH_LEN,
    UNAUTH_LEN,
    ErrorEstimate,
    ReflectorPacket,
    SenderPacket,
    StampError,
    StampErrorKind,
    parse_reflector,
    parse_sender,
    reflect,
)
from netcheck.wire.stamp_fast import SenderTemplate, reflect_unauth, request_ssid, unpack_reflector

KEY = b"netcheck-test-key-0123456789abcdef"
EE = ErrorEstimate(synchronized=True, ptp=False, scale=0x21, multiplier=0x42)  # 0xA142

u32 = st.integers(0, 2**32 - 1)
u64 = st.integers(0, 2**64 - 1)


@pytest.mark.parametrize("key", [None, KEY], ids=["unauth", "auth"])
@pytest.mark.parametrize("size", [None, 172], ids=["base", "g711-rtp-size"])
@given(seq=u32, ts=u64, ssid=st.integers(0, 0xFFFF))
def test_template_equals_reference_sender_packet(
    key: bytes | None, size: int | None, seq: int, ts: int, ssid: int
) -> None:
    base = AUTH_LEN if key else UNAUTH_LEN
    template = SenderTemplate(size or base, estimate=EE, ssid=ssid, key=key)
    want = SenderPacket(seq=seq, timestamp=ts, error_estimate=EE, ssid=ssid).to_bytes(
        key, pad_to=size
    )
    assert bytes(template.fill(seq, ts)) == want


def test_template_overwrites_previous_fields_and_wraps_seq() -> None:
    template = SenderTemplate(172, estimate=EE, ssid=7, key=KEY)
    template.fill(0xFFFF_FFFF, 2**64 - 1)
    got = bytes(template.fill(2**32 + 5, 1))  # seq counts modulo 2^32 on the wire
    want = SenderPacket(seq=5, timestamp=1, error_estimate=EE, ssid=7)
    assert got == want.to_bytes(KEY, pad_to=172)
    assert parse_sender(got, KEY).seq == 5


def _reflector(key: bytes | None, size: int) -> tuple[ReflectorPacket, bytes]:
    sent = SenderPacket(seq=123_456, timestamp=0xE9C0_0000_8000_0001, error_estimate=EE, ssid=48879)
    request = parse_sender(sent.to_bytes(key, pad_to=size), key)
    pkt = reflect(request, receive_ts=0xE9C0_0001_0000_0002, send_ts=0xE9C0_0001_0000_0FFF, ttl=254,
                  reflector_seq=77, error_estimate=ErrorEstimate(ptp=True))
    return pkt, pkt.to_bytes(key)


@pytest.mark.parametrize("key", [None, KEY], ids=["unauth", "auth"])
def test_unpack_reflector_gives_the_reference_fields(key: bytes | None) -> None:
    _, data = _reflector(key, 172)
    ref = parse_reflector(data, key)
    assert unpack_reflector(data, key) == (
        ref.seq, ref.timestamp, ref.error_estimate.to_int(), ref.ssid, ref.receive_timestamp,
        ref.sender_seq, ref.sender_timestamp, ref.sender_error_estimate.to_int(), ref.sender_ttl,
    ) == (
        77, 0xE9C0_0001_0000_0FFF, 0x4001, 0xBEEF, 0xE9C0_0001_0000_0002, 123_456,
        0xE9C0_0000_8000_0001, 0xA142, 254,
    )


@pytest.mark.parametrize("key", [None, KEY], ids=["unauth", "auth"])
def test_unpack_reflector_rejects_like_the_reference(key: bytes | None) -> None:
    _, data = _reflector(key, 172)
    short = data[: (AUTH_LEN if key else UNAUTH_LEN) - 1]
    for parse in (parse_reflector, unpack_reflector):
        with pytest.raises(StampError) as exc:
            parse(short, key)
        assert exc.value.kind is StampErrorKind.TOO_SHORT
    if key:
        flipped = bytearray(data)
        flipped[50] ^= 1  # inside the HMAC-covered octets 0..95
        with pytest.raises(StampError) as exc:
            unpack_reflector(bytes(flipped), key)
        assert exc.value.kind is StampErrorKind.BAD_HMAC


@pytest.mark.parametrize("size", [UNAUTH_LEN, 172])
@given(
    seq=u32, ts=u64, rseq=u32, rx=u64, tx=u64, ttl=st.integers(0, 255), ssid=st.integers(0, 0xFFFF)
)
def test_reflect_unauth_equals_reference_reflect(
    size: int, seq: int, ts: int, rseq: int, rx: int, tx: int, ttl: int, ssid: int
) -> None:
    data = SenderPacket(seq=seq, timestamp=ts, error_estimate=EE, ssid=ssid).to_bytes(pad_to=size)
    reflector_ee = ErrorEstimate(synchronized=False, scale=3, multiplier=200)
    want = reflect(parse_sender(data), receive_ts=rx, send_ts=tx, ttl=ttl, reflector_seq=rseq,
                   error_estimate=reflector_ee).to_bytes()
    assert request_ssid(data) == ssid
    got = reflect_unauth(data, receive_ts=rx, send_ts=tx, ttl=ttl, reflector_seq=rseq,
                         estimate=reflector_ee.to_int())
    assert got == want
    assert len(got) == size  # never amplifies (RFC 8762 4.3)


def test_reflect_unauth_rejects_short_requests() -> None:
    with pytest.raises(StampError) as exc:
        request_ssid(bytes(UNAUTH_LEN - 1))
    assert exc.value.kind is StampErrorKind.TOO_SHORT
