"""Fuzz every wire decoder and every responder handler (issue 21, item 6).

The contract under test: bytes from the network either decode or raise the decoder's own
error (a :class:`netcheck.wire.WireError`, which the runner reports as the far end's
invalid answer); never IndexError, struct.error, UnicodeDecodeError, RecursionError or a
hang. Inputs are arbitrary bytes and mutations (bit flips, truncation, extension) of valid
packets built by the same modules, so the fuzzer also reaches the code behind the length
and magic checks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netcheck.responder import control, sip_mirror
from netcheck.responder import server as resp
from netcheck.wire import WireError, dhcp, lldp, portecho, sip, stamp, stamp_fast, stun

KEY = b"fuzz key"
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _sender(key: bytes | None, size: int = 44) -> bytes:
    pkt = stamp.SenderPacket(seq=7, timestamp=stamp.ntp_from_ns(time.time_ns()), ssid=3)
    return pkt.to_bytes(key, pad_to=max(size, stamp.AUTH_LEN if key else stamp.UNAUTH_LEN))


def _reflector(key: bytes | None) -> bytes:
    req = stamp.parse_sender(_sender(key), key)
    return stamp.reflect(req, receive_ts=1, send_ts=2, ttl=64, reflector_seq=1).to_bytes(key)


SEEDS: list[bytes] = [
    _sender(None), _sender(KEY), _reflector(None), _reflector(KEY),
    stun.binding_request(change_ip=True, software="netcheck").to_bytes(),
    stun.Message(stun.Method.BINDING, stun.Class.SUCCESS, bytes(range(12)), (
        (stun.Attr.XOR_MAPPED_ADDRESS, stun.encode_address(("198.51.100.7", 40000), bytes(range(12)))),
        (stun.Attr.MAPPED_ADDRESS, stun.encode_address(("2001:db8::1", 3478))),
    )).to_bytes(),
    sip.probe_options("192.0.2.1", 5060, "198.51.100.1"),
    portecho.Echo(portecho.Kind.REQUEST, 16384, 1).to_bytes(),
    portecho.Echo(portecho.Kind.REQUEST, 16384, 1).to_bytes(KEY),
    # LLDPDU (IEEE 802.1AB 8.5): chassis id (MAC), port id (ifName), TTL 120, system name, end
    bytes.fromhex("020704001122334455" "0403056574" "06020078" "0a03737731" "0000"),
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid seed, then a few bit flips, a truncation or an extension."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 6))):
        if data:
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= 1 << draw(st.integers(0, 7))
    cut = draw(st.integers(0, len(data)))
    tail = draw(st.binary(max_size=64)) if draw(st.booleans()) else b""
    return bytes(data[:cut] if draw(st.booleans()) else data) + tail


PACKETS = st.one_of(st.binary(max_size=600), mutated())


def _only_wire_errors(fn: Callable[[bytes], Any], data: bytes) -> None:
    try:
        fn(data)
    except WireError:
        pass


def _stun_full(data: bytes) -> None:
    """Parse, then read every address attribute (decoded lazily, on access)."""
    msg = stun.parse(data)
    for name in ("xor_mapped_address", "mapped_address", "other_address", "response_origin"):
        getattr(msg, name)


DECODERS: dict[str, Callable[[bytes], Any]] = {
    "stamp.parse_sender": stamp.parse_sender,
    "stamp.parse_sender keyed strict": lambda d: stamp.parse_sender(d, KEY, strict=True),
    "stamp.parse_reflector": lambda d: stamp.parse_reflector(d, strict=True),
    "stamp.parse_reflector keyed": lambda d: stamp.parse_reflector(d, KEY),
    "stamp_fast.request_ssid": stamp_fast.request_ssid,
    "stamp_fast.unpack_reflector": stamp_fast.unpack_reflector,
    "stamp_fast.unpack_reflector keyed": lambda d: stamp_fast.unpack_reflector(d, KEY),
    "stamp_fast.reflect_unauth": lambda d: stamp_fast.reflect_unauth(
        d, receive_ts=1, send_ts=2, ttl=64, reflector_seq=1, estimate=1),
    "stun.parse": _stun_full,
    "sip.compare": lambda d: sip.compare(SEEDS[6], d),
    "stun.frame_length": stun.frame_length,
    "sip.parse": sip.parse,
    "sip.frame_length": sip.frame_length,
    "lldp.parse_lldp": lldp.parse_lldp,
    "lldp.parse_cdp": lldp.parse_cdp,
    "lldp.classify_frame": lldp.classify_frame,
    "dhcp.parse_offer": dhcp.parse_offer,
    "portecho.parse": portecho.parse,
    "portecho.parse keyed": lambda d: portecho.parse(d, KEY),
}


@FUZZ
@given(data=PACKETS)
def test_every_decoder_raises_only_its_wire_error(data: bytes) -> None:
    for fn in DECODERS.values():
        _only_wire_errors(fn, data)


@FUZZ
@given(data=PACKETS)
def test_stun_address_decoding_raises_only_its_wire_error(data: bytes) -> None:
    _only_wire_errors(stun.decode_address, data)
    _only_wire_errors(lambda d: stun.decode_address(d, bytes(12)), data)


def test_every_wire_error_is_a_value_error_the_runner_maps() -> None:
    for cls in (stamp.StampError, stun.StunError, sip.SipError, dhcp.DhcpError, portecho.EchoError):
        assert issubclass(cls, WireError) and issubclass(cls, ValueError)


# ------------------------------------------------------------------ responder handlers


def _reflectors() -> list[resp.StampReflector]:
    return [resp.StampReflector(resp.Config(bind="127.0.0.1", port=0)),
            resp.StampReflector(resp.Config(bind="127.0.0.1", port=0, key=KEY))]


REFLECTORS = _reflectors()
MIRROR_AUTH = sip_mirror.Authenticator(KEY)


@FUZZ
@given(data=PACKETS, port=st.integers(1, 65535), ttl=st.integers(0, 255))
def test_udp_handlers_answer_or_drop_never_crash_never_amplify(data: bytes, port: int, ttl: int) -> None:
    """The Handler contract (netcheck/responder/server.py): a reply no larger than the request,
    or None, or ValueError for garbage; anything else would be a handler crash."""
    for handler in REFLECTORS:
        try:
            reply = handler.handle(data, ("127.0.0.1", port), time.time_ns(), ttl)
        except ValueError:
            continue
        assert reply is None or len(reply) <= len(data)
    # the SIP mirror (UDP and TCP share this decision): never raises, never amplifies
    MIRROR_AUTH.allow(data, f"127.0.0.1:{port}", time.time())
    mirrored = sip_mirror.answer(data, ("127.0.0.1", port))
    assert mirrored is None or len(mirrored) <= len(data)


@FUZZ
@given(line=st.one_of(
    st.binary(max_size=300),
    st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                 lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids,
                                                                           max_size=4),
                 max_leaves=20).map(lambda v: __import__("json").dumps(v).encode()),
    st.fixed_dictionaries({"op": st.sampled_from(["coverage", "exposure", "x"]),
                           "ports": st.one_of(st.lists(st.integers(-5, 70000), max_size=40),
                                              st.text(max_size=5), st.none()),
                           "ts": st.one_of(st.floats(), st.integers(), st.text(max_size=5)),
                           "nonce": st.one_of(st.text(max_size=8), st.integers()),
                           "mac": st.one_of(st.text(max_size=70), st.integers())},
                          ).map(lambda v: __import__("json").dumps(v).encode()),
))
def test_control_requests_decode_or_are_refused_with_a_code(line: bytes) -> None:
    """Hostile JSON (not an object, wrong types, bad MAC) is a RequestError with a short
    code; the connect-back is never attempted for an unauthenticated request."""
    attempts: list[int] = []

    def connect(_addr: str, port: int, _timeout: float) -> str:
        attempts.append(port)
        return "closed"

    for key in (None, KEY):
        ctl = control.Control(None, key, lambda: {"ranges": []}, connect=connect)  # type: ignore[arg-type]
        try:
            answer = ctl.handle(control.decode(line), "127.0.0.1")
        except control.RequestError as exc:
            assert exc.code in {"json", "not_object", "ports", "auth", "replay", "op", "rate"}
            assert control.error_line(exc.code, len(line) + 1) in (b"", *[
                control.error_line(exc.code, 1 << 20)])
            continue
        assert isinstance(answer, dict)
        if key is not None:
            raise AssertionError(f"unauthenticated request accepted with a key set: {line!r}")
    assert len(attempts) <= control.MAX_PORTS
