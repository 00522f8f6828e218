"""The site-egress prober on real sockets (loopback): ICMP errors read from the error queue
(IP_RECVERR), the token bucket, and the deadline."""

from __future__ import annotations

import socket
import threading
import time

from netcheck.probes import udp_egress as eg


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_port_unreachable_comes_back_through_the_error_queue() -> None:
    p = eg.Prober(burst=4, rate_pps=1.0, stop_at=time.monotonic() + 5.0)
    try:
        answer = p.probe(("127.0.0.1", _closed_port()), 64, 1.0)
    finally:
        p.close()
    assert answer is not None
    assert (answer.kind, answer.code, answer.source) == ("unreachable", 3, "127.0.0.1")  # RFC 792 code 3


def test_a_stun_server_that_answers_is_a_reply() -> None:
    from netcheck.wire import stun

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        server.settimeout(2.0)
        p = eg.Prober(burst=4, rate_pps=1.0, stop_at=time.monotonic() + 5.0)
        try:
            def answer() -> None:
                data, src = server.recvfrom(2048)
                req = stun.parse(data)
                server.sendto(stun.Message(stun.Method.BINDING, stun.Class.SUCCESS, req.transaction_id).to_bytes(), src)

            t = threading.Thread(target=answer)
            t.start()
            got = p.probe(server.getsockname(), 64, 1.0)
            t.join()
        finally:
            p.close()
    assert got is not None and got.kind == "reply"


def test_token_bucket_paces_answered_datagrams_and_the_deadline_holds() -> None:
    port = _closed_port()
    p = eg.Prober(burst=2, rate_pps=10.0, stop_at=time.monotonic() + 3.0)
    try:
        t0 = time.monotonic()
        answers = [p.probe(("127.0.0.1", port), 64, 0.5) for _ in range(4)]
        took = time.monotonic() - t0
    finally:
        p.close()
    assert all(a is not None for a in answers)
    assert took >= 0.15  # 2 from the burst, then one token per 100 ms
    late = eg.Prober(burst=1, rate_pps=0.1, stop_at=time.monotonic() - 1.0)
    try:
        t0 = time.monotonic()
        for _ in range(3):  # the bucket is empty after one: without the deadline this waits 10 s each
            assert late.probe(("127.0.0.1", port), 64, 5.0) is None  # nothing is awaited past it
        assert time.monotonic() - t0 < 0.5
    finally:
        late.close()
