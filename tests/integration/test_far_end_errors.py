"""A hostile far end is the far end's invalid answer, never netcheck's internal error
(issue 21, item 5): a real STUN server on loopback answers each Binding request with a
well-framed success response whose XOR-MAPPED-ADDRESS is malformed (RFC 8489 14.2:
family 0x07 does not exist)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from netcheck.plan.core import ProbeRun
from netcheck.probes import stun as stun_probe
from netcheck.result import ErrorKind
from netcheck.run import runner
from netcheck.wire import stun


def _bad_answer(request: bytes) -> bytes:
    txid = request[8:20]
    bad_address = struct.pack("!BBH", 0, 0x07, 1234) + bytes(4)  # unknown family 7
    return stun.Message(stun.Method.BINDING, stun.Class.SUCCESS, txid,
                        ((stun.Attr.XOR_MAPPED_ADDRESS, bad_address),)).to_bytes()


@pytest.fixture
def hostile_stun() -> Iterator[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(2048)
            except TimeoutError:
                continue
            sock.sendto(_bad_answer(data), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(sock.getsockname()[1])
    finally:
        stop.set()
        thread.join(5)
        sock.close()


def test_malformed_stun_answer_is_an_invalid_answer_from_the_host(hostile_stun: int) -> None:
    spec = stun_probe.Spec(id="stun:udp:x", host="127.0.0.1", port=hostile_stun, count=2,
                           discovery=False)
    run = ProbeRun("stun:udp:x", "stun", spec, 5.0, "STUN UDP 127.0.0.1")
    m = asyncio.run(runner.run_one(run, {}, lambda _e: None))
    assert m.error is not None
    assert m.error.kind is ErrorKind.MALFORMED, m.error
    assert m.error.detail.startswith("invalid answer from 127.0.0.1: address attribute with family 7")


class RequestTimedOut(Exception):
    """pysnmp reports a lost answer as an error indication of this class name."""


def test_an_snmp_answer_lost_mid_audit_is_not_called_wrong_credentials() -> None:
    """A bulk reply too large for one datagram (e.g. a long LLDP system description)
    never arrives; the agent had accepted the credentials on earlier requests."""
    from netcheck.probes.snmp_switch import AuditError, _raise_for

    with pytest.raises(AuditError) as first:
        _raise_for(RequestTimedOut(), None, "sw1:161", answered=0)
    assert "wrong community/credentials" in str(first.value)
    with pytest.raises(AuditError) as later:
        _raise_for(RequestTimedOut(), None, "sw1:161", answered=4)
    assert later.value.kind is ErrorKind.TIMEOUT
    assert "credentials were accepted" in str(later.value) and "community" not in str(later.value)


@pytest.mark.parametrize(("reply", "message"), [
    (b"[" * 100_000 + b"\n", "control reply nested too deeply"),
    (b"x" * (2 << 20), "control reply longer than 1048576 octets"),
    (b"[1, 2]\n", "control reply is not a JSON object"),
])
def test_hostile_control_replies_are_value_errors_the_probes_report(reply: bytes, message: str) -> None:
    from netcheck.probes import _control as control

    with socket.create_server(("127.0.0.1", 0)) as srv:
        def answer() -> None:
            conn, _ = srv.accept()
            with conn, contextlib.suppress(OSError):  # the client may hang up mid-reply
                conn.recv(4096)
                conn.sendall(reply)

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        with pytest.raises(ValueError, match=message):
            control.request("127.0.0.1", srv.getsockname()[1], "coverage", [], None, timeout=5)
        thread.join(5)
