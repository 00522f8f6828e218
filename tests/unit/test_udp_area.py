"""UDP range echo, control service, DSCP/exposure/UDP checks and plan (issue 5): wire format
on fixed bytes, the responder's safety rules on real loopback sockets, the judges on
measurements built like the probes build them."""

from __future__ import annotations

import hashlib
import hmac
import socket
import time

import pytest
from click.testing import CliRunner

from netcheck.cli import cli
from netcheck.evaluate import evaluate
from netcheck.plan import core as plan
from netcheck.probes import udp_ports
from netcheck.probes._common import Timer
from netcheck.profile import load
from netcheck.responder import control
from netcheck.responder.udp_ranges import RangeConfig, RangeEcho
from netcheck.result import Status
from netcheck.wire import portecho as pe

# Layout of netcheck/wire/portecho.py: "NCPE", v1, request, port 16384 (0x4000), rx_port 0,
# tos_reply 0xB8 (EF << 2, RFC 3246 / RFC 2474), tos_rx 0, token 0x0123456789abcdef.
REQUEST = bytes.fromhex("4e435045010140000000b8000123456789abcdef")


def test_request_bytes_and_round_trip() -> None:
    echo = pe.Echo(pe.Kind.REQUEST, 16384, 0x0123456789ABCDEF, tos_reply=0xB8)
    assert echo.to_bytes() == REQUEST
    assert pe.parse(REQUEST) == echo


def test_keyed_request_carries_send_time_and_truncated_hmac_sha256() -> None:
    sent_ns = 1_790_000_000_123_456_789
    data = pe.Echo(pe.Kind.REQUEST, 16384, 0x0123456789ABCDEF, tos_reply=0xB8,
                   sent_ns=sent_ns).to_bytes(b"k")
    stamped = REQUEST + sent_ns.to_bytes(8, "big")
    assert data[:28] == stamped
    assert data[28:] == hmac.new(b"k", stamped, hashlib.sha256).digest()[:16]  # RFC 4868 2.6
    assert pe.parse(data, b"k").sent_ns == sent_ns


def test_keyed_requests_are_stamped_at_encoding_so_each_send_is_new() -> None:
    echo = pe.Echo(pe.Kind.REQUEST, 16384, 1)
    assert echo.to_bytes(b"k") != echo.to_bytes(b"k")  # a retry is not a replay
    assert echo.to_bytes() == echo.to_bytes()


@pytest.mark.parametrize(("data", "key", "message"), [
    (REQUEST[:19], None, "too short: 19 octets, need 20"),
    (b"XXXX" + REQUEST[4:], None, "not a port-echo message (magic/version)"),
    (REQUEST[:5] + b"\x07" + REQUEST[6:], None, "unknown kind 7"),
    (REQUEST, b"k", "too short: 20 octets, need 44"),
    (REQUEST + bytes(24), b"k", "bad HMAC"),
])
def test_corrupted_messages_rejected(data: bytes, key: bytes | None, message: str) -> None:
    with pytest.raises(pe.EchoError) as exc:
        pe.parse(data, key)
    assert str(exc.value) == message


def test_parse_ranges() -> None:
    assert pe.parse_ranges("50000-50100, 16384-32767,5060") == (
        (5060, 5060), (16384, 32767), (50000, 50100))
    with pytest.raises(ValueError, match="'70000': ports must be 1-65535"):
        pe.parse_ranges("70000")
    with pytest.raises(ValueError, match="'a-b': expected PORT or LOW-HIGH"):
        pe.parse_ranges("a-b")


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_range_echo_same_size_reply_rate_limit_and_key() -> None:
    port = _free_udp_port()
    echo = RangeEcho(RangeConfig(ranges=((port, port),), bind="127.0.0.1", rate_pps=3,
                                 mode="sockets"))
    try:
        assert echo.coverage == [(port, port)]
        out = echo.answer(REQUEST, "127.0.0.1", port, 0xB8)
        assert out is not None
        reply = pe.parse(out[0])
        assert (len(out[0]), out[1]) == (len(REQUEST), 0xB8)  # never larger than the request
        assert (reply.kind, reply.rx_port, reply.tos_rx) == (pe.Kind.REPLY, port, 0xB8)
        assert echo.answer(b"garbage", "127.0.0.1", port, 0) is None
        assert echo.answer(REQUEST, "127.0.0.1", port, 0) is not None
        assert echo.answer(REQUEST, "127.0.0.1", port, 0) is None  # 4th in the burst of 3
        assert (echo.counters.garbage, echo.counters.rate_limited) == (1, 1)
    finally:
        echo.close()
    keyed = RangeEcho(RangeConfig(ranges=((port, port),), bind="127.0.0.1", key=b"k",
                                  mode="sockets"))
    try:
        assert keyed.answer(REQUEST, "127.0.0.1", port, 0) is None  # unauthenticated: dropped
    finally:
        keyed.close()


def test_port_in_use_is_not_covered() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as held:
        held.bind(("127.0.0.1", 0))
        busy = int(held.getsockname()[1])
        echo = RangeEcho(RangeConfig(ranges=((busy, busy),), bind="127.0.0.1", mode="sockets"))
        assert echo.coverage == []
        echo.close()


def test_control_exposure_connects_back_only_to_the_requester() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener, \
            socket.socket(socket.AF_INET, socket.SOCK_STREAM) as unused:
        unused.bind(("127.0.0.1", 0))  # bound, not listening: connect gets RST
        open_port, closed_port = listener.getsockname()[1], unused.getsockname()[1]
        with socket.socket() as lsock:
            c = control.Control(lsock, None, lambda: {"ranges": []})
            answer = c.handle({"op": "exposure", "ports": [open_port, closed_port]}, "127.0.0.1")
            assert answer["seen_as"] == "127.0.0.1"
            assert answer["ports"] == {str(open_port): "open", str(closed_port): "closed"}
            with pytest.raises(control.RequestError, match=r"^rate$"):  # one per 10 s per address
                c.handle({"op": "exposure", "ports": [open_port]}, "127.0.0.1")
            with pytest.raises(control.RequestError, match=r"^ports$"):  # at most 32 ports
                c.handle({"op": "exposure", "ports": list(range(1, 34))}, "127.0.0.2")


def test_control_key_required_when_configured() -> None:
    with socket.socket() as lsock:
        c = control.Control(lsock, b"k", lambda: {"ranges": [[1, 2]]})
        with pytest.raises(control.RequestError, match=r"^auth$"):
            c.handle({"op": "coverage"}, "127.0.0.1")
        ts = time.time()
        good = {"op": "coverage", "ts": ts, "nonce": "n1", "mac": control.mac(b"k", "coverage", [], ts, "n1")}
        assert c.handle(good, "127.0.0.1") == {"ranges": [[1, 2]], "seen_as": "127.0.0.1"}
        with pytest.raises(control.RequestError, match=r"^replay$"):  # the same request again
            c.handle(dict(good), "127.0.0.1")
        stale = {"op": "coverage", "ts": ts - 600, "nonce": "n2",
                 "mac": control.mac(b"k", "coverage", [], ts - 600, "n2")}
        with pytest.raises(control.RequestError, match=r"^replay$"):  # outside the 120 s window
            c.handle(stale, "127.0.0.1")


def _udp_measurement(row: int, answered: range, ports: range, icmp: dict[int, str] | None = None):  # type: ignore[no-untyped-def]
    sw = udp_ports.Sweep(answered={p: 0.001 for p in answered}, icmp=icmp or {}, sent=len(ports),
                         rounds=3, rate_pps=[3000.0, 1500.0, 1500.0])
    values = udp_ports.summarize(list(ports), sw, "198.18.0.2", lambda p: True)
    values.update(coverage="responder serves 16384-32767", responder="198.18.0.2")
    return Timer().measurement(id=f"udp:{row}", probe="udp_ports", target="x", method="udp-echo",
                               values=values)


STIMME_RTP_ROW = 9  # profiles/stimme.yaml ports[9]: RTP UDP 16384-32767 to platform


def _row_check(m):  # type: ignore[no-untyped-def]
    return next(c for c in evaluate(load("stimme"), [m]) if c.id == "port.udp.16384-32767@platform")


def test_udp_row_fail_names_blocked_range_and_remedy() -> None:
    ports = range(16384, 32768)
    answered = [p for p in ports if not 20000 <= p <= 20999]
    m = _udp_measurement(STIMME_RTP_ROW, answered, ports, {20005: "10.77.1.1 type 3 code 3"})  # type: ignore[arg-type]
    assert m.values["blocked"] == ["20000-20999"]
    assert m.values["rejected"] == ["20005"]
    check = _row_check(m)
    assert check.status is Status.FAIL
    assert "blocked 20000-20999 (1000 of 16384 ports" in check.reason
    assert check.remediation.text.startswith(  # type: ignore[union-attr]
        "Open UDP 16384-32767 outbound to 46.189.64.189 (voice) on the firewall")


def test_udp_row_pass_only_when_every_port_answered() -> None:
    ports = range(16384, 32768)
    check = _row_check(_udp_measurement(STIMME_RTP_ROW, ports, ports))
    assert check.status is Status.PASS
    assert "every one of 16384 ports answered" in check.reason


def test_udp_row_without_responder_not_measured() -> None:
    check = next(c for c in evaluate(load("stimme"), []) if c.id == "port.udp.16384-32767@platform")
    assert check.status is Status.NOT_MEASURED
    assert "only be proven with a netcheck responder" in check.reason


def test_exposure_and_dscp_not_measured_without_responder() -> None:
    mcb = {c.id: c for c in evaluate(load("managed-com-business"), [])}
    assert mcb["lan.exposure"].status is Status.NOT_MEASURED
    rc = {c.id: c for c in evaluate(load("ringcentral"), [])}
    assert rc["qos.dscp"].status is Status.NOT_MEASURED


def test_plan_sweeps_udp_rows_only_with_a_responder() -> None:
    profile = load("stimme")
    assert not [r for r in plan.build(profile, plan.Options()) if r.probe == "udp_ports"]
    runs = {r.id: r for r in plan.build(profile, plan.Options(responder="198.18.0.2:8620"))}
    rtp = runs["udp:9"]
    assert rtp.spec.ranges == ((16384, 32767),) and rtp.spec.control_port == 8620
    assert rtp.exclusive and rtp.spec.stands_for == "46.189.64.189"


def test_responder_cli_rejects_bad_ranges() -> None:
    result = CliRunner().invoke(cli, ["responder", "--udp-ranges", "40000-30000"])
    assert result.exit_code == 2
    assert "--udp-ranges: '40000-30000': ports must be 1-65535 and LOW <= HIGH" in result.output


def test_sweep_on_loopback_finds_unserved_port_silent() -> None:
    """Real sockets: two served ports echo, a third (nothing bound) draws ICMP from
    127.0.0.1 itself; with the responder's address that is "not covered"."""
    ports = [_free_udp_port() for _ in range(3)]
    echo = RangeEcho(RangeConfig(ranges=tuple((p, p) for p in ports[:2]), bind="127.0.0.1",
                                 mode="sockets"))
    import threading

    t = threading.Thread(target=echo.serve, daemon=True)
    t.start()
    try:
        sw = udp_ports.sweep("127.0.0.1", ports, deadline=time.monotonic() + 5)
    finally:
        echo.stop()
        t.join(5)
    assert set(sw.answered) == set(ports[:2])
    values = udp_ports.summarize(ports, sw, "127.0.0.1", lambda p: True)
    assert values["not_covered"] == [str(ports[2])]
