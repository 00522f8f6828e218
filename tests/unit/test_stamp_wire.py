"""Tests of netcheck.wire.stamp against the RFC 8762 packet layouts.

Expected octets are written out field by field from the RFC 8762 section 4.2/4.3 figures
(32-bit rows), so an offset error in the codec cannot cancel out in a round trip.
"""

from __future__ import annotations

import hashlib
import hmac

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
    ns_from_ntp,
    ns_from_ptp,
    ns_from_timestamp,
    ntp_from_ns,
    parse_reflector,
    parse_sender,
    ptp_from_ns,
    reflect,
)

KEY = b"netcheck-test-key-0123456789abcdef"

# S = 1, Z = 0, Scale = 0x21, Multiplier = 0x42 -> 1010 0001 0100 0010 = 0xA142
SENDER_EE = ErrorEstimate(synchronized=True, ptp=False, scale=0x21, multiplier=0x42)
REFLECTOR_EE = ErrorEstimate(synchronized=False, ptp=True, scale=0, multiplier=1)  # 0x4001

SENDER = SenderPacket(
    seq=0x01020304, timestamp=0x1112131415161718, error_estimate=SENDER_EE, ssid=0xBEEF
)
REPLY = ReflectorPacket(
    seq=0x0A0B0C0D,
    timestamp=0x2122232425262728,
    error_estimate=REFLECTOR_EE,
    ssid=0xBEEF,
    receive_timestamp=0x3132333435363738,
    sender_seq=0x01020304,
    sender_timestamp=0x1112131415161718,
    sender_error_estimate=SENDER_EE,
    sender_ttl=0x40,
)


def mac(data: bytes) -> bytes:
    """HMAC-SHA-256 truncated to 128 bits over the first 96 octets (RFC 8762 4.4)."""
    return hmac.new(KEY, data[:96], hashlib.sha256).digest()[:16]


class TestErrorEstimate:
    def test_bit_layout(self) -> None:
        # RFC 4656 4.1.2: S | Z | Scale(6) | Multiplier(8)
        assert SENDER_EE.to_int() == 0xA142
        assert REFLECTOR_EE.to_int() == 0x4001
        assert ErrorEstimate.from_int(0xA142) == SENDER_EE

    def test_seconds(self) -> None:
        # Multiplier * 2^-32 * 2^Scale: scale 32, multiplier 3 -> 3 s; scale 0 -> 2^-32 s
        assert ErrorEstimate(scale=32, multiplier=3).seconds == 3.0
        assert ErrorEstimate(scale=0, multiplier=1).seconds == 2.0**-32

    def test_range(self) -> None:
        with pytest.raises(ValueError):
            ErrorEstimate(scale=64)


class TestSenderLayout:
    def test_unauthenticated_44_octets(self) -> None:
        expected = bytes.fromhex(
            "01020304"  # 0: Sequence Number
            "1112131415161718"  # 4: Timestamp
            "a142beef"  # 12: Error Estimate, 14: SSID (RFC 8972; MBZ in RFC 8762)
        ) + bytes(28)  # 16..43: MBZ
        assert SENDER.to_bytes() == expected
        assert len(expected) == UNAUTH_LEN == 44

    def test_authenticated_112_octets(self) -> None:
        data = SENDER.to_bytes(KEY)
        body = (
            bytes.fromhex("01020304")  # 0: Sequence Number
            + bytes(12)  # 4..15: MBZ
            + bytes.fromhex("1112131415161718")  # 16: Timestamp
            + bytes.fromhex("a142beef")  # 24: Error Estimate, 26: SSID
            + bytes(68)  # 28..95: MBZ
        )
        assert len(body) == 96
        assert data == body + mac(body)  # 96..111: HMAC
        assert len(data) == AUTH_LEN == 112

    def test_plain_rfc8762_packet_has_zero_ssid(self) -> None:
        data = SenderPacket(seq=1, timestamp=2).to_bytes()
        assert data[14:16] == b"\x00\x00"
        assert data[12:14] == b"\x00\x01"  # default estimate: multiplier 1 (RFC 4656 >= 1)

    def test_padding(self) -> None:
        # 44 + 160 octets: the size of a 20 ms G.711 payload behind the STAMP header
        data = SENDER.to_bytes(pad_to=204)
        assert len(data) == 204
        assert data[44:] == bytes(160)
        parsed = parse_sender(data)
        assert parsed.wire_len == 204

    def test_authenticated_padding_is_not_covered_by_hmac(self) -> None:
        data = bytearray(SENDER.to_bytes(KEY, pad_to=200))
        data[150] = 0xFF  # padding after the HMAC field
        assert parse_sender(bytes(data), KEY).seq == SENDER.seq

    def test_pad_below_base_is_a_programming_error(self) -> None:
        with pytest.raises(ValueError, match="below the 44-octet base"):
            SENDER.to_bytes(pad_to=40)


class TestReflectorLayout:
    def test_unauthenticated_44_octets(self) -> None:
        expected = bytes.fromhex(
            "0a0b0c0d"  # 0: Sequence Number
            "2122232425262728"  # 4: Timestamp
            "4001beef"  # 12: Error Estimate, 14: SSID (MBZ in RFC 8762)
            "3132333435363738"  # 16: Receive Timestamp
            "01020304"  # 24: Session-Sender Sequence Number
            "1112131415161718"  # 28: Session-Sender Timestamp
            "a1420000"  # 36: Session-Sender Error Estimate, 38: MBZ
            "40000000"  # 40: Ses-Sender TTL, 41: MBZ
        )
        assert REPLY.to_bytes() == expected
        assert len(expected) == 44

    def test_authenticated_112_octets(self) -> None:
        data = REPLY.to_bytes(KEY)
        body = (
            bytes.fromhex("0a0b0c0d")  # 0: Sequence Number
            + bytes(12)  # 4: MBZ
            + bytes.fromhex("2122232425262728")  # 16: Timestamp
            + bytes.fromhex("4001beef")  # 24: Error Estimate, 26: SSID (MBZ in RFC 8762)
            + bytes(4)  # 28: MBZ
            + bytes.fromhex("3132333435363738")  # 32: Receive Timestamp
            + bytes(8)  # 40: MBZ
            + bytes.fromhex("01020304")  # 48: Session-Sender Sequence Number
            + bytes(12)  # 52: MBZ
            + bytes.fromhex("1112131415161718")  # 64: Session-Sender Timestamp
            + bytes.fromhex("a142")  # 72: Session-Sender Error Estimate
            + bytes(6)  # 74: MBZ
            + bytes.fromhex("40")  # 80: Ses-Sender TTL
            + bytes(15)  # 81: MBZ
        )
        assert len(body) == 96
        assert data == body + mac(body)  # 96: HMAC
        assert len(data) == 112


class TestRoundTrip:
    @pytest.mark.parametrize("key", [None, KEY])
    def test_sender(self, key: bytes | None) -> None:
        data = SENDER.to_bytes(key)
        parsed = parse_sender(data, key, strict=True)
        assert parsed == SenderPacket(
            seq=SENDER.seq,
            timestamp=SENDER.timestamp,
            error_estimate=SENDER_EE,
            ssid=SENDER.ssid,
            wire_len=len(data),
        )

    @pytest.mark.parametrize("key", [None, KEY])
    def test_reflector(self, key: bytes | None) -> None:
        data = REPLY.to_bytes(key)
        parsed = parse_reflector(data, key, strict=True)
        assert parsed.to_bytes(key) == data
        assert parsed.sender_ttl == 0x40
        assert parsed.receive_timestamp == 0x3132333435363738


class TestReflect:
    @pytest.mark.parametrize(("key", "size"), [(None, 44), (None, 204), (KEY, 112), (KEY, 272)])
    def test_reply_is_exactly_request_size(self, key: bytes | None, size: int) -> None:
        request = parse_sender(SENDER.to_bytes(key, pad_to=size), key)
        reply = reflect(request, receive_ts=5, send_ts=6, ttl=63).to_bytes(key)
        assert len(reply) == size  # RFC 8762 4.3: symmetric size, never amplified

    def test_stateless_copies_sequence_number(self) -> None:
        reply = reflect(SENDER, receive_ts=5, send_ts=6, ttl=63)
        assert (reply.seq, reply.sender_seq) == (SENDER.seq, SENDER.seq)
        assert reply.sender_timestamp == SENDER.timestamp
        assert reply.sender_error_estimate == SENDER_EE
        assert (reply.receive_timestamp, reply.timestamp, reply.sender_ttl) == (5, 6, 63)
        assert reply.ssid == SENDER.ssid

    def test_stateful_uses_own_counter(self) -> None:
        assert reflect(SENDER, receive_ts=5, send_ts=6, ttl=1, reflector_seq=9).seq == 9

    def test_sender_parses_reply(self) -> None:
        reply = reflect(SENDER, receive_ts=5, send_ts=6, ttl=64, error_estimate=REFLECTOR_EE)
        assert parse_reflector(reply.to_bytes()) == ReflectorPacket(
            seq=SENDER.seq,
            timestamp=6,
            error_estimate=REFLECTOR_EE,
            ssid=SENDER.ssid,
            receive_timestamp=5,
            sender_seq=SENDER.seq,
            sender_timestamp=SENDER.timestamp,
            sender_error_estimate=SENDER_EE,
            sender_ttl=64,
            wire_len=44,
        )


class TestErrors:
    @pytest.mark.parametrize(
        ("parse", "key", "size"),
        [
            (parse_sender, None, 44),
            (parse_sender, KEY, 112),
            (parse_reflector, None, 44),
            (parse_reflector, KEY, 112),
        ],
    )
    def test_truncated(self, parse: object, key: bytes | None, size: int) -> None:
        data = (SENDER if parse is parse_sender else REPLY).to_bytes(key)
        assert callable(parse)
        with pytest.raises(StampError) as info:
            parse(data[: size - 1], key)
        assert info.value.kind is StampErrorKind.TOO_SHORT

    def test_unauthenticated_packet_in_authenticated_session_is_too_short(self) -> None:
        with pytest.raises(StampError) as info:
            parse_sender(SENDER.to_bytes(), KEY)
        assert info.value.kind is StampErrorKind.TOO_SHORT

    def test_wrong_key(self) -> None:
        with pytest.raises(StampError) as info:
            parse_sender(SENDER.to_bytes(KEY), b"another key")
        assert info.value.kind is StampErrorKind.BAD_HMAC

    @pytest.mark.parametrize("offset", [0, 20, 95, 96, 111])
    def test_any_flipped_bit_in_covered_octets_or_hmac(self, offset: int) -> None:
        data = bytearray(REPLY.to_bytes(KEY))
        data[offset] ^= 0x01
        with pytest.raises(StampError) as info:
            parse_reflector(bytes(data), KEY)
        assert info.value.kind is StampErrorKind.BAD_HMAC

    @pytest.mark.parametrize("offset", [16, 43])
    def test_sender_mbz_strict_only(self, offset: int) -> None:
        data = bytearray(SENDER.to_bytes())
        data[offset] = 1
        with pytest.raises(StampError) as info:
            parse_sender(bytes(data), strict=True)
        assert info.value.kind is StampErrorKind.MBZ_NONZERO
        assert parse_sender(bytes(data)).seq == SENDER.seq  # RFC 8762: ignored on receipt

    @pytest.mark.parametrize("offset", [38, 39, 41, 43])
    def test_reflector_mbz(self, offset: int) -> None:
        data = bytearray(REPLY.to_bytes())
        data[offset] = 0x80
        with pytest.raises(StampError) as info:
            parse_reflector(bytes(data), strict=True)
        assert info.value.kind is StampErrorKind.MBZ_NONZERO

    def test_zero_multiplier(self) -> None:
        data = bytearray(SENDER.to_bytes())
        data[13] = 0  # multiplier octet of the Error Estimate
        with pytest.raises(StampError) as info:
            parse_sender(bytes(data), strict=True)
        assert info.value.kind is StampErrorKind.BAD_ERROR_ESTIMATE
        assert parse_sender(bytes(data)).error_estimate.multiplier == 0

    def test_empty_key_is_a_programming_error(self) -> None:
        with pytest.raises(ValueError, match="must not be empty"):
            parse_sender(bytes(112), b"")

    @given(
        data=st.binary(max_size=300),
        key=st.one_of(st.none(), st.binary(min_size=1, max_size=64)),
        strict=st.booleans(),
        reflector=st.booleans(),
    )
    def test_fuzz_only_stamp_errors(
        self, data: bytes, key: bytes | None, strict: bool, reflector: bool
    ) -> None:
        parse = parse_reflector if reflector else parse_sender
        try:
            parse(data, key, strict=strict)
        except StampError:
            pass


class TestTimestamps:
    def test_unix_epoch_in_ntp(self) -> None:
        # RFC 5905 section 6: 1970-01-01 is NTP second 2 208 988 800 = 0x83AA7E80.
        assert ntp_from_ns(0) == 0x83AA7E80 << 32
        assert ntp_from_ns(500_000_000) == 0x83AA7E80 << 32 | 0x8000_0000  # 0.5 s

    def test_era_rollover_2036(self) -> None:
        # NTP era 0 ends at Unix 2 085 978 496 s (2036-02-07T06:28:16Z); era 1 starts at 0.
        assert ntp_from_ns(2_085_978_496 * 10**9) == 0
        assert ns_from_ntp(0) == 2_085_978_496 * 10**9

    # RFC 4330 pivot: NTP seconds 2^31 of era 0 (1968-01-20) up to 2^31 of era 1 (2104).
    @given(
        st.integers(
            min_value=(2**31 - 2_208_988_800) * 10**9,
            max_value=(2**32 + 2**31 - 2_208_988_800) * 10**9 - 1,
        )
    )
    def test_ntp_round_trip_exact_to_the_ns(self, unix_ns: int) -> None:
        # 2^-32 s = 0.23 ns resolution, rounding both ways: exact within the pivot range.
        assert ns_from_ntp(ntp_from_ns(unix_ns)) == unix_ns

    def test_ptp(self) -> None:
        ts = ptp_from_ns(1_700_000_000 * 10**9 + 123_456_789)
        assert ts == (1_700_000_000 << 32) | 123_456_789
        assert ns_from_ptp(ts) == 1_700_000_000 * 10**9 + 123_456_789

    def test_format_follows_z_bit(self) -> None:
        now = 1_700_000_000 * 10**9 + 5
        assert ns_from_timestamp(ptp_from_ns(now), ErrorEstimate(ptp=True)) == now
        assert ns_from_timestamp(ntp_from_ns(now), ErrorEstimate(ptp=False)) == now
