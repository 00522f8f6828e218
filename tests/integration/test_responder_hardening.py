"""The responder on a hostile network (issue 21): bounded state under a spoofed flood, no
replies to replayed keyed packets, hostile control requests answered briefly, garbage on
every port survived. Real sockets on loopback against the responder as shipped.
"""

from __future__ import annotations

import json
import random
import select
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from netcheck.probes import _control
from netcheck.responder import control
from netcheck.responder import server as resp
from netcheck.responder.replay import ReplayGuard, SeqWindow
from netcheck.responder.udp_ranges import RangeConfig, RangeEcho
from netcheck.wire import portecho, stamp
from tests.integration import _flood

KEY = b"responder test key"
#: docs/responder.md, "Safety": what a flood may add to the idle responder's RSS.
RSS_GROWTH_CAP_KB = 24 * 1024

needs_spoofing = pytest.mark.skipif(not _flood.can_spoof(),
                                    reason="spoofed sources need a raw socket (Linux, root)")


# ------------------------------------------------------------------ bounded state


def test_session_table_caps_total_and_per_source_evicting_least_recently_used() -> None:
    table = resp.SessionTable(max_sessions=4, per_source=2)
    for port in (1, 2):
        table.get(("198.51.100.1", port, 0), 0.0)
    table.get(("198.51.100.1", 1, 0), 1.0)  # port 1 used again: port 2 is now the LRU of this source
    table.get(("198.51.100.1", 3, 0), 2.0)  # third session of one source: its LRU goes
    assert [k[1] for k, _ in table.items() if k[0] == "198.51.100.1"] == [1, 3]
    for i in range(5):
        table.get((f"203.0.113.{i}", 9, 0), 3.0 + i)
    assert len(table) == 4 and table.evicted == 1 + 3
    assert table.created == 8


def test_rate_limiter_buckets_are_bounded() -> None:
    limiter = resp.RateLimiter(rate=1.0, burst=1.0, max_sources=100)
    for i in range(10_000):
        limiter.allow(f"10.0.{i >> 8}.{i & 0xFF}", now=0.0)
    assert len(limiter) <= 100


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 0.0, -1.0])
def test_rate_limiter_refuses_a_rate_that_is_no_number(value: float) -> None:
    with pytest.raises(ValueError, match="finite number > 0"):
        resp.RateLimiter(rate=value, burst=10.0)


@needs_spoofing
def test_spoofed_source_flood_keeps_rss_within_the_documented_cap(tmp_path: Path) -> None:
    """200,000 requests, each from a new spoofed 127.x.y.z source: 12x the session cap
    (the 1,000,000 run is bench/responder_flood.py, bench/RESULTS.md)."""
    count = 200_000
    result = _flood.run_flood(count, tmp_path / "responder.log", seed=21, max_s=240)
    assert result.sent == count
    assert result.counter("received") == count  # paced: the responder saw every request
    assert result.counter("sessions") == count  # every one was a new session ...
    assert f"{count - resp.MAX_SESSIONS} sessions evicted" in result.log  # ... and the cap held
    assert result.counter("handler errors") == 0
    assert result.peak_rss_kb - result.rss_start_kb <= RSS_GROWTH_CAP_KB, result
    assert len(result.log.splitlines()) < 10  # one summary line, not one line per session


# ------------------------------------------------------------------ replay protection


@pytest.fixture
def keyed_responder() -> Iterator[resp.Responder]:
    with resp.running(resp.Config(bind="127.0.0.1", port=0, key=KEY)) as r:
        yield r


def _exchange(request: bytes, address: tuple[str, int], source: str = "127.0.0.1",
              wait_s: float = 3.0) -> bytes | None:
    """The reply, or None after ``wait_s`` (3 s: a loaded machine answers late, not never;
    an expected silence is checked with :func:`_silent`)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.settimeout(wait_s)
        sock.sendto(request, address)
        try:
            return sock.recv(2048)
        except TimeoutError:
            return None


def _silent(request: bytes, address: tuple[str, int], source: str = "127.0.0.1") -> bool:
    return _exchange(request, address, source, wait_s=1.0) is None


def _keyed_request(seq: int, sent_ns: int | None = None, ssid: int = 5) -> bytes:
    ts = stamp.ntp_from_ns(time.time_ns() if sent_ns is None else sent_ns)
    return stamp.SenderPacket(seq=seq, timestamp=ts, ssid=ssid).to_bytes(KEY)


def test_replayed_authenticated_stamp_packet_is_not_answered(keyed_responder: resp.Responder) -> None:
    address = keyed_responder.address
    first = _keyed_request(0)
    reply = _exchange(first, address)
    assert reply is not None
    assert stamp.parse_reflector(reply, KEY).sender_seq == 0
    assert _silent(first, address)  # the same packet again, same source
    assert _silent(first, address, source="127.0.0.7")  # ... from another source
    second = _keyed_request(1)
    assert _exchange(second, address) is not None  # the session goes on
    assert _silent(second, address, source="127.0.0.8")
    stale = _keyed_request(2, sent_ns=time.time_ns() - 600 * 10**9)  # captured 10 min ago
    assert _silent(stale, address)
    assert _exchange(_keyed_request(3), address) is not None
    unkeyed = stamp.SenderPacket(seq=4, timestamp=1).to_bytes(None, pad_to=stamp.AUTH_LEN)
    assert _silent(unkeyed, address)  # keyed means keyed


def test_replay_guard_window_floor_and_capacity() -> None:
    now = [1_000 * 10**9]
    guard = ReplayGuard(window_s=10, capacity=3, clock_ns=lambda: now[0])
    macs = [bytes([i]) * 16 for i in range(5)]
    for i in range(4):
        assert guard.check(now[0] - (4 - i) * 10**9, macs[i], "198.51.100.1") is None
    assert len(guard) == 3  # capacity: the earliest sent went, and raised its source's floor
    assert guard.check(now[0] - 4 * 10**9, macs[0], "198.51.100.1") == "older than the replay table's floor"
    assert guard.check(now[0] - 10**9, macs[3]) == "replayed (already answered)"
    assert "window" in (guard.check(now[0] - 11 * 10**9, macs[4]) or "")
    now[0] += 30 * 10**9  # everything ages out of the window
    assert guard.check(now[0], macs[4]) is None and len(guard) == 1


def test_a_busy_sender_with_a_fast_clock_cannot_starve_one_with_the_right_time() -> None:
    now = 1_000 * 10**9
    guard = ReplayGuard(window_s=120, capacity=100, clock_ns=lambda: now)
    for i in range(500):  # site A, clock 60 s ahead, fills the table five times over
        assert guard.check(now + 60 * 10**9 + i, i.to_bytes(8, "big") * 2, "192.0.2.1") is None
    assert guard.check(now, b"B" * 16, "203.0.113.9") is None  # site B, right clock: answered
    assert guard.check(now + 1, b"C" * 16, "203.0.113.9") is None  # and its next packet
    assert guard.floors["192.0.2.1"] == now + 60 * 10**9 + 399


def test_sequence_window_accepts_reordering_refuses_repeats() -> None:
    window = SeqWindow()
    # RFC 4303 3.4.3, 64 wide: after 70, numbers 7..70 are inside the window, 6 is not
    assert [window.accept(s) for s in (0, 2, 1, 2, 70, 5, 6, 7, 69, 7)] == [
        True, True, True, False, True, False, False, True, True, False]


def test_replayed_port_echo_request_is_not_answered() -> None:
    port = _flood.free_port()
    echo = RangeEcho(RangeConfig(ranges=((port, port),), bind="127.0.0.1", key=KEY, mode="sockets"))
    thread = threading.Thread(target=echo.serve, daemon=True)
    thread.start()
    try:
        request = portecho.Echo(portecho.Kind.REQUEST, port, 99).to_bytes(KEY)
        reply = _exchange(request, ("127.0.0.1", port))
        assert reply is not None and len(reply) == len(request)
        assert portecho.parse(reply, KEY).token == 99
        assert _silent(request, ("127.0.0.1", port))
        assert _silent(request, ("127.0.0.1", port), source="127.0.0.9")
        old = portecho.Echo(portecho.Kind.REQUEST, port, 99, sent_ns=time.time_ns() - 600 * 10**9)
        assert _silent(old.to_bytes(KEY), ("127.0.0.1", port))
        assert _exchange(portecho.Echo(portecho.Kind.REQUEST, port, 99).to_bytes(KEY),
                         ("127.0.0.1", port)) is not None  # a new request (a retry) is answered
        assert echo.counters.replayed == 3
    finally:
        echo.stop()
        thread.join(5)


# ------------------------------------------------------------------ control service


def _control_server() -> tuple[control.Control, threading.Thread, int]:
    sock = socket.create_server(("127.0.0.1", 0))
    ctl = control.Control(sock, KEY, lambda: {"ranges": [[16384, 16400]], "mode": "sockets",
                                              "rate_pps": 5000.0})
    thread = threading.Thread(target=ctl.serve, daemon=True)
    thread.start()
    return ctl, thread, int(sock.getsockname()[1])


def _ask(port: int, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(raw)
        conn.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := conn.recv(65536):
            out += chunk
    return out


HOSTILE = [
    b"[]\n", b'"just a string"\n', b"12345678901234567890\n", b"null\n", b"true\n",
    b"[" * 4000 + b"\n", b"{" * 2000 + b"\n", b"\xff\xfe garbage \x00\n", b"{\"op\": \n",
    b'{"op": "coverage", "ports": "all of them"}\n', b'{"op": ["coverage"]}\n',
    b'{"op": "coverage", "ports": [1e999]}\n', b'{"op": "exposure", "ports": [true]}\n',
    b'{"op": "coverage", "ts": NaN, "nonce": "a", "mac": "00"}\n',
    b'{"op": "coverage", "ts": 1, "nonce": 5, "mac": []}\n', b"x" * 5000 + b"\n",
]


@pytest.mark.parametrize("raw", HOSTILE, ids=[repr(h[:20]) for h in HOSTILE])
def test_hostile_control_requests_get_a_short_error_and_the_service_lives(raw: bytes) -> None:
    ctl, thread, port = _control_server()
    try:
        answer = _ask(port, raw)
        assert len(answer) <= min(len(raw), 4097)  # never larger than the request
        if answer:  # when it fits: one line, a JSON object with a short error code
            assert answer.endswith(b"\n") and answer.count(b"\n") == 1
            assert set(json.loads(answer)) == {"error"}
        ts, nonce = time.time(), "n"
        good = {"op": "coverage", "ports": [], "ts": ts, "nonce": nonce,
                "mac": control.mac(KEY, "coverage", [], ts, nonce)}
        assert json.loads(_ask(port, json.dumps(good).encode() + b"\n"))["ranges"] == [[16384, 16400]]
        assert ctl.crashes == 0
    finally:
        ctl.stop()
        thread.join(5)


def test_replayed_control_request_is_refused_and_the_refusal_is_small() -> None:
    ctl, thread, port = _control_server()
    try:
        answer = _control.request("127.0.0.1", port, "coverage", [], KEY, timeout=5)
        assert answer["seen_as"] == "127.0.0.1"
        ts, nonce = time.time(), "0123456789abcdef"
        raw = json.dumps({"op": "coverage", "ports": [], "ts": ts, "nonce": nonce,
                          "mac": control.mac(KEY, "coverage", [], ts, nonce)}).encode() + b"\n"
        assert b"ranges" in _ask(port, raw)
        assert _ask(port, raw) == b'{"error":"replay"}\n'
        unkeyed = b'{"op": "coverage", "ports": []}\n'
        assert _ask(port, unkeyed) == b'{"error":"auth"}\n'
    finally:
        ctl.stop()
        thread.join(5)


# ------------------------------------------------------------------ garbage on every port


def test_shipped_responder_survives_seeded_garbage_on_every_service(tmp_path: Path) -> None:
    """30,000 seeded random and mutated datagrams to STAMP and the range echo, 200 hostile
    TCP lines to the control port: afterwards it still answers, and logged no crash."""
    port, lo = _flood.free_port(), _flood.free_port()
    log = tmp_path / "responder.log"
    proc = _flood.start_responder(port, log, "--udp-ranges", f"{lo}-{lo}", "--rate-pps", "1000000",
                                  "--udp-rate-pps", "1000000")
    rng = random.Random(2121)
    valid = [_flood.stamp_request(1), portecho.Echo(portecho.Kind.REQUEST, lo, 1).to_bytes()]
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for i in range(30_000):
                if rng.random() < 0.5:
                    data = rng.randbytes(rng.randrange(0, 1500))
                else:
                    data = bytearray(rng.choice(valid))
                    for _ in range(rng.randrange(1, 6)):
                        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
                    data = bytes(data[: rng.randrange(len(data) + 1)]) + rng.randbytes(rng.randrange(8))
                sock.sendto(data, ("127.0.0.1", port if i % 2 else lo))
                if i % 500 == 0:
                    time.sleep(0.005)  # bounded rate: the point is content, not volume
        for _ in range(200):
            line = rng.choice(HOSTILE) if rng.random() < 0.5 else rng.randbytes(rng.randrange(1, 300))
            try:
                _ask(port, line)
            except OSError:
                pass
        assert _exchange(_flood.stamp_request(7), ("127.0.0.1", port), wait_s=5) is not None
        echo = portecho.Echo(portecho.Kind.REQUEST, lo, 5).to_bytes()
        assert _exchange(echo, ("127.0.0.1", lo), wait_s=5) is not None
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(30)
    text = log.read_text(errors="replace")
    assert text.count(" 0 handler errors") == 2  # STAMP and the range echo
    assert "Traceback" not in text and "control request from" not in text


def test_flood_helper_builds_the_headers_rfc_768_and_791_describe() -> None:
    pkt = _flood.spoofed("127.1.2.3", 4000, 862, b"x" * 44)
    version_ihl, _tos, total, *_rest, proto, _csum, src, dst = struct.unpack_from("!BBHHHBBH4s4s", pkt)
    assert (version_ihl, total, proto) == (0x45, 20 + 8 + 44, socket.IPPROTO_UDP)
    assert (socket.inet_ntoa(src), socket.inet_ntoa(dst)) == ("127.1.2.3", "127.0.0.1")
    assert struct.unpack_from("!HHHH", pkt, 20) == (4000, 862, 52, 0)


def test_responder_cli_refuses_nan_rates() -> None:
    for option in ("--rate-pps", "--udp-rate-pps"):
        res = subprocess.run([sys.executable, "-m", "netcheck", "responder", option, "nan"],
                             capture_output=True, text=True, timeout=60, cwd=_flood.ROOT)
        assert res.returncode == 2
        assert f"Invalid value for '{option}': 'nan' is not a finite number" in res.stderr


def test_ipv6_responder_reflects_and_refuses_replays_the_same_way() -> None:
    with resp.running(resp.Config(bind="::1", port=0, key=KEY)) as r, \
            socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3.0)
        request = _keyed_request(0)
        sock.sendto(request, r.address)
        assert stamp.parse_reflector(sock.recv(2048), KEY).sender_seq == 0
        sock.settimeout(1.0)
        sock.sendto(request, r.address)
        with pytest.raises(TimeoutError):
            sock.recv(2048)


def test_one_address_cannot_hold_every_control_slot() -> None:
    ctl, thread, port = _control_server()
    idle = [socket.create_connection(("127.0.0.1", port), timeout=5)
            for _ in range(control.MAX_PER_SOURCE + 4)]  # slow clients that never send
    try:
        closed: set[socket.socket] = set()
        end = time.monotonic() + 2.0  # inside the server's 3 s read timeout for the held ones
        while len(closed) < 4 and time.monotonic() < end:
            ready, _w, _x = select.select([c for c in idle if c not in closed], [], [], 0.1)
            closed.update(ready)  # readable = EOF: refused at once
        time.sleep(0.3)
        ready, _w, _x = select.select([c for c in idle if c not in closed], [], [], 0)
        assert len(closed) == 4 and not ready and all(c.recv(1) == b"" for c in closed)
        ts, nonce = time.time(), "other"
        good = {"op": "coverage", "ports": [], "ts": ts, "nonce": nonce,
                "mac": control.mac(KEY, "coverage", [], ts, nonce)}
        with socket.create_connection(("127.0.0.1", port), timeout=5,
                                      source_address=("127.0.0.2", 0)) as other:
            other.sendall(json.dumps(good).encode() + b"\n")
            assert json.loads(other.recv(4096))["seen_as"] == "127.0.0.2"  # another address is served
    finally:
        for conn in idle:
            conn.close()
        ctl.stop()
        thread.join(5)


def test_one_source_cycling_ports_evicts_only_its_own_sessions() -> None:
    """20,000 new sessions from one source among 15,000 others: it keeps 1,024, every
    other session stays (the per-source eviction takes that source's own LRU entry, from
    its own list, without scanning the table)."""
    table = resp.SessionTable(max_sessions=resp.MAX_SESSIONS, per_source=resp.MAX_SESSIONS_PER_SOURCE)
    others = [(f"10.{i >> 16}.{(i >> 8) & 0xFF}.{i & 0xFF}", 1, 0) for i in range(15_000)]
    for sid in others:
        table.get(sid, 0.0)
    for port in range(20_000):
        table.get(("198.51.100.66", port, 0), 1.0)
    kept = [k for k, _ in table.items() if k[0] == "198.51.100.66"]
    assert [k[1] for k in kept] == list(range(20_000 - resp.MAX_SESSIONS_PER_SOURCE, 20_000))
    assert len(table) == 15_000 + resp.MAX_SESSIONS_PER_SOURCE
    assert table.evicted == 20_000 - resp.MAX_SESSIONS_PER_SOURCE
