"""The SIP mirror server on loopback: real UDP and TCP sockets, keyed mode, framing."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from netcheck.responder import sip_mirror as mirror
from netcheck.wire import sip
from netcheck.wire import sip_mirror as codec

KEY = b"loopback-key"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server() -> Iterator[tuple[mirror.MirrorServer, int]]:
    for _ in range(5):  # a port free for TCP may be taken for UDP: try a few
        port = _free_port()
        srv = mirror.MirrorServer("127.0.0.1", (port,), KEY)
        if srv.served == {"udp": [port], "tcp": [port]}:
            break
        srv.close()
    thread = threading.Thread(target=srv.serve, daemon=True)
    thread.start()
    yield srv, port
    srv.stop()
    thread.join(5)


def _udp(port: int, data: bytes) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        s.sendto(data, ("127.0.0.1", port))
        try:
            return s.recv(65535)
        except TimeoutError:
            return None


def test_udp_keyed_only(server: tuple[mirror.MirrorServer, int]) -> None:
    srv, port = server
    plain = sip.probe_invite("10.77.1.2", 5060, "127.0.0.1")
    assert _udp(port, plain) is None
    keyed = sip.probe_invite("10.77.1.2", 5060, "127.0.0.1", extra=(codec.auth_header(KEY),))
    back = _udp(port, keyed)
    assert back is not None and codec.unmask(back) == keyed
    assert srv.counters["ignored"] == 1 and srv.counters["mirrored"] == 1


def test_tcp_stale_content_length_is_answered_once_the_sender_is_quiet(
        server: tuple[mirror.MirrorServer, int]) -> None:
    _, port = server
    req = sip.probe_invite("10.77.1.2", 5060, "127.0.0.1", extra=(codec.auth_header(KEY),))
    head, _, body = req.partition(b"\r\n\r\n")
    stale = head.replace(f"Content-Length: {len(body)}".encode(),
                         f"Content-Length: {len(body) + 40}".encode()) + b"\r\n\r\n" + body
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        t0 = time.monotonic()
        c.sendall(stale)
        back = b""
        while chunk := c.recv(65535):
            back += chunk
    assert codec.unmask(back) == stale
    assert 0.9 <= time.monotonic() - t0 < 4.0  # answered after ~1 s of silence, not 5 s


def test_tcp_connections_are_bounded(server: tuple[mirror.MirrorServer, int]) -> None:
    srv, port = server
    idle = [socket.create_connection(("127.0.0.1", port), timeout=5)
            for _ in range(mirror.MAX_TCP + 3)]
    try:
        time.sleep(0.5)
        assert srv.counters["rate_limited"] >= 3  # the extra ones were closed at once
    finally:
        for c in idle:
            c.close()
