"""The stream probe against a real ``netcheck responder`` on loopback: both STAMP modes, a
wrong key refused, garbage survived, no amplification, the per-source rate limit, the ICMP
fallback, and tshark's TWAMP-Test dissector as an independent decoder of what went on the
wire."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from netcheck.probes import stream
from netcheck.probes._common import Context
from netcheck.probes._stream_engine import ClockMap, Engine, Schedule
from netcheck.probes._stream_sessions import StampCall
from netcheck.responder import server as resp
from netcheck.result import ErrorKind
from netcheck.wire.stamp import SenderPacket, ns_from_ntp, ntp_from_ns, parse_reflector

KEY = b"correct horse battery staple"


def ctx(seconds: float = 20.0, **caps: bool) -> Context:
    return Context(deadline=time.monotonic() + seconds, caps=caps)


@pytest.fixture
def reflector() -> Iterator[resp.Responder]:
    with resp.running(resp.Config(bind="127.0.0.1", port=0)) as server:
        yield server


@pytest.fixture
def keyed_reflector() -> Iterator[resp.Responder]:
    with resp.running(resp.Config(bind="127.0.0.1", port=0, key=KEY)) as server:
        yield server


def _call(server: resp.Responder, **kw: object) -> stream.Spec:
    host, port = server.address
    return stream.Spec(id="stream:lo", host=host, port=port, **{"duration_s": 2.0, **kw})  # type: ignore[arg-type]


def _exchange(port: int, payload: bytes, timeout: float = 0.5) -> bytes | None:
    """One datagram to the reflector and its answer, if any. Connected, so the kernel drops
    datagrams from anyone else: a late reply addressed to an ephemeral port that a closed
    socket of another test or process used before must not count as the reflector's."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.connect(("127.0.0.1", port))
        s.send(payload)
        try:
            return s.recv(65535)
        except TimeoutError:
            return None


def test_unauthenticated_call_on_loopback(reflector: resp.Responder) -> None:
    m = asyncio.run(stream.run(_call(reflector), ctx()))
    v = m.values
    assert m.ok and m.method == "stamp" and m.probe == "stream"
    assert v["sent"] == 100 and v["received"] == 100 and v["loss_pct"] == 0.0
    assert v["packet_bytes"] == 172 and v["dscp"] == 46 and v["codec"] == "G.711"
    assert v["clock_synchronized"] is True and v["one_way_delay_estimated"] is False
    assert v["rx_clock"].startswith("kernel SO_TIMESTAMPNS")  # type: ignore[union-attr]
    # loopback: sub-millisecond RTT; both one-way delays measured and smaller than the RTT
    assert 0 < v["rtt_median_ms"] < 1.0  # type: ignore[operator]
    assert 0 < v["owd_fwd_median_ms"] < v["rtt_median_ms"]  # type: ignore[operator]
    assert v["hops"] == 0  # TTL 255 arrived untouched
    assert 4.0 < v["mos"] <= 4.41  # type: ignore[operator]  # G.711 ceiling, G.107 clause 7.7
    assert len(m.series["rtt_ms"]) == 100 and v["send_error_p50_ms"] is not None


def test_authenticated_call_and_wrong_key(keyed_reflector: resp.Responder) -> None:
    ok = asyncio.run(stream.run(_call(keyed_reflector, key=KEY, duration_s=1.0), ctx()))
    assert ok.ok and ok.method == "stamp-auth" and ok.values["received"] == 50
    assert ok.values["packet_bytes"] == 172  # 112-octet authenticated base, padded to the RTP size
    before = keyed_reflector.counters.garbage
    bad = asyncio.run(stream.run(_call(keyed_reflector, key=b"wrong", duration_s=0.4), ctx()))
    assert not bad.ok and bad.error is not None and bad.error.kind is ErrorKind.TIMEOUT
    unauth = asyncio.run(stream.run(_call(keyed_reflector, duration_s=0.4), ctx()))
    assert not unauth.ok
    assert keyed_reflector.counters.garbage - before == 40  # 20 + 20 requests dropped, unanswered


def test_reflector_survives_garbage_and_never_amplifies(reflector: resp.Responder) -> None:
    port = reflector.address[1]
    assert _exchange(port, b"\x00" * 10) is None  # shorter than any STAMP packet
    assert _exchange(port, b"") is None
    big = os.urandom(1400)
    reply = _exchange(port, big)
    assert reply is not None and len(reply) == 1400  # as large as the request, never larger
    assert reflector.counters.garbage == 2
    request = SenderPacket(seq=7, timestamp=ntp_from_ns(time.time_ns())).to_bytes()
    answer = _exchange(port, request)
    assert answer is not None and len(answer) == len(request) == 44
    pkt = parse_reflector(answer)
    assert pkt.sender_seq == 7 and pkt.seq == 0  # stateful: this socket's first reply is number 0


def test_reflector_numbers_each_session_separately(reflector: resp.Responder) -> None:
    port = reflector.address[1]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a, socket.socket(
        socket.AF_INET, socket.SOCK_DGRAM
    ) as b:
        for s in (a, b):
            s.settimeout(1.0)
        seen = []
        for s, seq in ((a, 100), (a, 101), (b, 500), (a, 102), (b, 501)):
            s.sendto(SenderPacket(seq=seq, timestamp=1).to_bytes(), ("127.0.0.1", port))
            seen.append(parse_reflector(s.recv(100)).seq)
    assert seen == [0, 1, 0, 2, 1]


def test_rate_limit_per_source() -> None:
    with resp.running(resp.Config(bind="127.0.0.1", port=0, rate_pps=50.0, burst=10.0)) as server:
        port = server.address[1]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.3)
            for seq in range(100):
                s.sendto(SenderPacket(seq=seq, timestamp=1).to_bytes(), ("127.0.0.1", port))
            replies = 0
            while True:
                try:
                    s.recv(100)
                except TimeoutError:
                    break
                replies += 1
        time.sleep(0.1)
        # a burst of 10 plus what 50/s refills while 100 packets are sent (well under 0.3 s)
        assert 10 <= replies <= 25
        assert server.counters.rate_limited == 100 - replies


def test_no_responder_is_reported_as_refused() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    m = asyncio.run(stream.run(stream.Spec(id="stream:x", host="127.0.0.1", port=port, duration_s=0.3), ctx()))
    assert m.error is not None and m.error.kind is ErrorKind.REFUSED and "no STAMP responder" in m.error.detail


@pytest.mark.skipif(os.geteuid() != 0, reason="raw ICMP sockets need root (ping sockets are tried otherwise)")
def test_icmp_fallback_at_50pps_on_loopback() -> None:
    m = asyncio.run(stream.run(stream.Spec(id="stream:gw", host="127.0.0.1", method="icmp", duration_s=1.0), ctx()))
    v = m.values
    assert m.ok and m.method == "icmp-50pps"
    assert v["sent"] == 50 and v["received"] == 50 and v["loss_pct"] == 0.0
    # one-way delay is estimated as RTT/2; both values are rounded to 0.1 us (4 decimals of a
    # ms) independently, so they agree within one unit of that rounding
    assert v["one_way_delay_estimated"] is True
    assert v["one_way_delay_ms"] == pytest.approx(v["rtt_median_ms"] / 2, abs=1e-4)  # type: ignore[operator]
    assert v["packet_bytes"] == 168 and v["mos"] is not None


# --------------------------------------------------------------------------------------
# tshark: an independent decoder of the wire format
# --------------------------------------------------------------------------------------

FIELDS = [
    "udp.srcport", "udp.length", "ip.dsfield.dscp", "twamp.test.seq_number", "twamp.test.timestamp",
    "twamp.test.error_estimate", "twamp.test.receive_timestamp", "twamp.test.sender_seq_number",
    "twamp.test.sender_timestamp", "twamp.test.sender_error_estimate", "twamp.test.sender_ttl",
]


def _tshark_ns(text: str) -> int:
    """tshark's absolute time in UTC ("Nov 21, 2026 15:52:58.716433267 UTC") -> Unix ns."""
    stamp, frac = text.removesuffix(" UTC").rsplit(".", 1)
    seconds = datetime.strptime(stamp, "%b %d, %Y %H:%M:%S").replace(tzinfo=UTC).timestamp()
    return int(seconds) * 1_000_000_000 + int(frac.ljust(9, "0"))


def _capture(port: int, count: int, out: Path) -> subprocess.Popen[str]:
    cap = subprocess.Popen(["tshark", "-i", "lo", "-f", f"udp port {port}", "-c", str(count), "-w", str(out)],
                           stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    assert cap.stderr is not None
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if "Capturing on" in cap.stderr.readline():
            time.sleep(0.5)  # dumpcap reports before its filter is attached; let it settle
            return cap
    cap.kill()
    pytest.fail("tshark did not start capturing")


@pytest.mark.skipif(shutil.which("tshark") is None or os.geteuid() != 0,
                    reason="needs tshark (Debian package tshark) and root to capture on lo")
def test_tshark_decodes_every_field_as_netcheck_meant(reflector: resp.Responder, tmp_path: Path) -> None:
    host, port = reflector.address
    pcap = tmp_path / "stamp.pcapng"
    cap = _capture(port, 20, pcap)
    clock = ClockMap()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, 46 << 2)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
    sock.connect((host, port))
    call = StampCall(sock, count=10, size=172, clock=clock, estimate=stream.error_estimate(True, 0.001))
    try:
        Engine([call], Schedule(count=10, interval_ns=20_000_000), clock).run(time.monotonic_ns() + 5 * 10**9)
    finally:
        sock.close()
    try:
        cap.wait(10)
    except subprocess.TimeoutExpired:
        cap.terminate()  # flushes what it has; the assertions below say what was missing
        cap.wait(5)
    if cap.stderr is not None:
        cap.stderr.close()
    env = {**os.environ, "TZ": "UTC"}
    out = subprocess.run(["tshark", "-r", str(pcap), "-d", f"udp.port=={port},twamp.test", "-T", "fields",
                          "-E", "separator=|", *[a for f in FIELDS for a in ("-e", f)]],
                         capture_output=True, text=True, env=env, timeout=30, check=True).stdout
    rows = [dict(zip(FIELDS, line.split("|"), strict=True)) for line in out.splitlines()]
    sent = [r for r in rows if int(r["udp.srcport"]) != port]
    back = [r for r in rows if int(r["udp.srcport"]) == port]
    assert len(sent) == 10 and len(back) == 10
    for r in sent:
        k = int(r["twamp.test.seq_number"])
        assert abs(_tshark_ns(r["twamp.test.timestamp"]) - ns_from_ntp(call.t1_wire[k])) <= 1
        assert int(r["twamp.test.error_estimate"]) == call.estimate.to_int() == 0x8F84  # S=1, scale 15, x132
        assert r["ip.dsfield.dscp"] == "46" and int(r["udp.length"]) == 8 + 172
    replies = {rep.reflector_seq: rep for rep in call.replies}
    for r in back:
        rep = replies[int(r["twamp.test.seq_number"])]
        assert int(r["twamp.test.sender_seq_number"]) == rep.sender_seq
        assert abs(_tshark_ns(r["twamp.test.receive_timestamp"]) - rep.t2_ns) <= 1
        assert abs(_tshark_ns(r["twamp.test.timestamp"]) - rep.t3_ns) <= 1
        assert abs(_tshark_ns(r["twamp.test.sender_timestamp"]) - ns_from_ntp(call.t1_wire[rep.sender_seq])) <= 1
        assert int(r["twamp.test.sender_error_estimate"]) == call.estimate.to_int()
        assert int(r["twamp.test.error_estimate"]) == rep.estimate.to_int()
        assert int(r["twamp.test.sender_ttl"]) == rep.ttl == 255 and int(r["udp.length"]) == 8 + 172
