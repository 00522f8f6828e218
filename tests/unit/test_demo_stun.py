"""The demo's STUN server: a Binding request gets a success response whose
XOR-MAPPED-ADDRESS is the request's source (RFC 8489 sections 6.3.3 and 14.2); anything
else gets no answer."""

from __future__ import annotations

from netcheck.run.demo import stun_answer
from netcheck.wire import stun


def test_binding_request_is_answered_with_the_source_address() -> None:
    request = stun.binding_request()
    answer = stun_answer(request.to_bytes(), ("127.0.0.1", 40000))
    assert answer is not None
    reply = stun.parse(answer)
    assert (reply.method, reply.cls) == (stun.Method.BINDING, stun.Class.SUCCESS)
    assert reply.transaction_id == request.transaction_id
    assert reply.xor_mapped_address == ("127.0.0.1", 40000)
    assert reply.fingerprint_ok is True


def test_garbage_and_responses_get_no_answer() -> None:
    assert stun_answer(b"\x00" * 7, ("127.0.0.1", 1)) is None
    request = stun.binding_request()
    response = stun_answer(request.to_bytes(), ("127.0.0.1", 1))
    assert response is not None and stun_answer(response, ("127.0.0.1", 1)) is None
