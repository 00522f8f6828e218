"""netcheck on Windows (no Administrator) and macOS (no sudo), simulated on Linux.

:mod:`tests.simplatform` removes the Linux-only socket features from the interpreter
(``recvmsg``, ``epoll``, ``MSG_ERRQUEUE``/``IP_RECVERR``, ``SO_TIMESTAMPNS``), makes ICMP
sockets behave as on the target (Windows: none without Administrator, only the ICMP helper
API; macOS: ping sockets that deliver the IPv4 header), and puts the capabilities netcheck
detects there in effect. Everything below then measures for real on 127.0.0.1: the whole
demo assessment must be GO with numbers, and the probes that used Linux-only calls must
measure what they measure on Linux. Needs root (raw ICMP stands in for the target's ICMP).
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from netcheck import platform as plat
from netcheck.cli import cli
from netcheck.probes import _callgen, dscp, udp_ports
from netcheck.probes._common import Context
from netcheck.responder import server as resp
from netcheck.result import SCHEMA_PATH, ErrorKind, RunResult, Status, from_json
from tests.simplatform import Target, simulate

TARGETS: tuple[Target, ...] = ("windows", "macos")

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 if hasattr(os, "geteuid") else True,
    reason="raw ICMP stands in for the target's ICMP: needs root",
)


@pytest.fixture(params=TARGETS)
def target(request: pytest.FixtureRequest) -> Target:
    t: Target = request.param
    return t


def _run_demo(tmp_path: Path) -> RunResult:
    out = CliRunner().invoke(
        cli,
        ["run", "--profile", "demo", "--quick", "--json", "--out", str(tmp_path)],
        catch_exceptions=False,
    )
    assert out.exit_code == 0, out.output
    return from_json(out.stdout.encode())


def test_the_simulation_really_removes_the_linux_features(
    target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    with simulate(target, monkeypatch) as caps:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            assert hasattr(s, "recvmsg") is (target == "macos")
        assert not hasattr(select, "epoll") and not hasattr(socket, "MSG_ERRQUEUE")
        with pytest.raises(PermissionError):
            socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    assert (caps.rx_timestamps, caps.error_queue, caps.epoll, caps.raw_icmp) == (False,) * 4
    if target == "windows":
        assert caps.icmp_echo == "windows-icmp-api" and caps.selector == "select"
        assert caps.mono_clock == "time.perf_counter_ns" and not caps.fine_realtime
    else:
        assert caps.icmp_echo == "ping-socket" and caps.ping_ip_header and caps.selector == "poll"
    assert plat.caps().system.startswith("linux")  # restored after the block


def test_demo_assessment_is_go_with_real_numbers(
    target: Target, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with simulate(target, monkeypatch):
        result = _run_demo(tmp_path)
    assert result.verdict.value == "GO", [(c.id, c.status, c.reason) for c in result.checks]
    required = [c for c in result.checks if c.required]
    assert required and all(c.status is Status.PASS for c in required)
    calls = {m.id: m for m in result.measurements if m.probe == "stream"}
    assert {"stream:platform", "stream:gateway"} <= set(calls)
    for m in calls.values():
        assert m.ok, m.error
        assert m.values["received"] == m.values["sent"] > 0
        assert 0.0 < m.values["rtt_median_ms"] < 20.0  # type: ignore[operator]
        assert m.values["jitter_ms"] is not None and m.values["mos"] is not None
        assert str(m.values["rx_clock"]).startswith("user-space")  # no kernel timestamps there
        assert m.values["rx_kernel_timestamps"] is False and m.confidence in ("medium", "low")
        assert m.values["platform"] == {"windows": "win32", "macos": "darwin"}[target]
    assert calls["stream:platform"].method == "stamp"
    # one-way delays rest on the reflector's T2/T3 (RFC 8762): stamped with a 15.6 ms wall
    # clock, some would come out negative, which marks the clocks unsynchronised
    assert calls["stream:platform"].values["clock_synchronized"] is True
    gateway = calls["stream:gateway"]
    assert gateway.method == "icmp-50pps"
    if target == "windows":
        assert "IcmpSendEcho" in str(gateway.values["rx_clock"])
        assert result.environment.privileges["windows_icmp_api"] is True
    else:
        assert result.environment.privileges["unprivileged_icmp"] is True
    assert result.environment.privileges["raw_icmp"] is False
    timed = [
        v
        for m in result.measurements
        if m.probe in ("tcp_ports", "dns", "stun")
        for k, v in m.values.items()
        if k in ("connect_median_ms", "resolve_ms", "rtt_ms", "connect_ms")
    ]
    assert len(timed) >= 7, timed
    assert all(isinstance(v, float) and v % 15.625 for v in timed), timed  # not clock ticks
    doc = json.loads(next(tmp_path.glob("netcheck-demo-*.json")).read_text())
    jsonschema.validate(doc, json.loads(SCHEMA_PATH.read_text()))  # the same document as Linux's


def test_call_generator_runs_with_portable_calls(
    target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The capacity / QoS engine: per-call sockets on the target's selector, no recvmsg."""
    with resp.running(resp.Config(bind="127.0.0.1", port=0, rate_pps=1e6, burst=1e6)) as r:
        host, port = r.address
        with simulate(target, monkeypatch):
            run = _callgen.run_calls(host, port, 8, duration_s=1.0, drain_s=0.5)
    assert run.sent == 8 * 50 and run.answered == run.sent
    assert all(not c.kernel_ts for c in run.calls)
    t4 = [
        rep.t4_mono_ns - t1
        for c in run.calls
        for rep in c.replies
        if (t1 := c.t1_mono_ns[rep.sender_seq]) is not None
    ]
    assert len(t4) == run.sent and all(0 < d < 1_000_000_000 for d in t4)  # RTT on one clock


def test_no_responder_is_refused_not_silence(
    target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A STAMP call to a port nobody serves draws ICMP port unreachable: ECONNREFUSED on
    macOS, WSAECONNRESET on Windows; both are "no responder there", not a timeout."""
    from netcheck.probes import stream

    port = _free_span(1)[0]
    with simulate(target, monkeypatch):
        spec = stream.Spec(id="stream:x", host="127.0.0.1", port=port, duration_s=1.0)
        m = asyncio.run(stream.run(spec, Context(deadline=time.monotonic() + 10)))
    assert m.error is not None and m.error.kind is ErrorKind.REFUSED, m.error


def _ranges_responder(ports: tuple[int, int]) -> resp.Config:
    return resp.Config(bind="127.0.0.1", port=0, rate_pps=1e6, burst=1e6, udp_ranges=(ports,))


def _free_span(n: int) -> tuple[int, int]:
    """``n`` consecutive UDP ports free on 127.0.0.1 (checked by binding them)."""
    for base in range(41000, 60000, 97):
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", p))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        return base, base + n - 1
    raise RuntimeError("no free UDP span")


@pytest.mark.parametrize("mode", ["linux", *TARGETS])
def test_udp_sweep_tells_open_from_rejected_without_an_error_queue(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Served ports echo; ports nobody listens on draw ICMP port unreachable (RFC 1122
    4.1.3.3) from 127.0.0.1. Linux attributes it through IP_RECVERR with the offender's
    address; Windows/macOS through connected sockets, offender unknown. Same states."""
    lo, hi = _free_span(24)
    served = (lo, hi - 8)
    with resp.running(_ranges_responder(served)) as r:
        with contextlib_simulate(mode, monkeypatch):
            sw = udp_ports.sweep(
                "127.0.0.1",
                list(range(lo, hi + 1)),
                rate_pps=500,
                retries=1,
                deadline=time.monotonic() + 20,
            )
        del r
    assert sorted(sw.answered) == list(range(served[0], served[1] + 1))
    closed = list(range(served[1] + 1, hi + 1))
    # every ICMP error is for a closed port; not necessarily all of them: the host's ICMP
    # error credit (icmp_msgs_per_sec) is shared with every other test running on it
    assert sw.icmp and set(sw.icmp) <= set(closed)
    who = "127.0.0.1" if mode == "linux" else udp_ports.UNKNOWN_OFFENDER
    assert set(sw.icmp.values()) == {f"{who} type 3 code 3"}
    assert sw.icmp_method.startswith("IP_RECVERR") is (mode == "linux")


def contextlib_simulate(mode: str, mp: pytest.MonkeyPatch) -> object:
    import contextlib

    return contextlib.nullcontext() if mode == "linux" else simulate(mode, mp)  # type: ignore[arg-type]


@pytest.fixture
def linux_responder(tmp_path: Path) -> Iterator[tuple[int, int]]:
    """``netcheck responder --udp-ranges`` as its own (Linux) process, as deployed: the
    far end stays Linux while this process plays Windows or macOS. Yields the echo span."""
    lo, hi = _free_span(3)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "netcheck",
            "responder",
            "--bind",
            "127.0.0.1",
            "--port",
            str(hi),
            "--udp-ranges",
            f"{lo}-{hi - 1}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", hi)) == 0:  # the TCP control service is up
                    break
            time.sleep(0.1)
        yield lo, hi - 1
    finally:
        proc.terminate()
        proc.wait(10)


def test_dscp_read_back_says_what_the_platform_can_read(
    target: Target, monkeypatch: pytest.MonkeyPatch, linux_responder: tuple[int, int]
) -> None:
    lo, _hi = linux_responder
    with simulate(target, monkeypatch):
        spec = dscp.Spec(id="dscp", host="127.0.0.1", port=lo, count=10, interval_s=0.01)
        m = asyncio.run(dscp.run(spec, Context(deadline=time.monotonic() + 10)))
    assert m.ok, m.error
    assert m.values["up_dscp"] == 46 and m.values["received"] == 10
    if target == "windows":  # no recvmsg: the way back cannot be read; never claimed as 0
        assert m.values["down_dscp"] is None and m.values["down_readable"] is False
        assert m.values["sender_marks"] is False
    else:
        assert m.values["down_dscp"] == 46 and m.values["down_readable"] is True


def test_doctor_and_plan_say_what_the_platform_cannot_measure(
    target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    with simulate(target, monkeypatch):
        doctor = CliRunner().invoke(cli, ["doctor", "--json"], catch_exceptions=False)
        plan = CliRunner().invoke(
            cli, ["run", "--profile", "demo", "--plan"], catch_exceptions=False
        )
    rows = {r["check"].split(" (")[0]: r for r in json.loads(doctor.stdout)["measurable"]}
    assert rows["call quality to a netcheck responder"]["level"] == "yes"
    layer2 = rows["LLDP/CDP switch port, DHCP servers"]
    assert layer2["level"] == "no" and ("Npcap" in layer2["why"]) is (target == "windows")
    lan = rows["LAN quality to the gateway without a responder"]
    if target == "windows":
        assert lan["level"] == "partly" and "IcmpSendEcho" in lan["why"]
        assert "Npcap" in plan.stdout and "Policy-based QoS" in plan.stdout
    else:
        assert lan["level"] == "yes" and "IPv4 header" in lan["why"]
        assert "connected socket" in plan.stdout and "root (BPF" in plan.stdout
    assert plan.exit_code == 0 and "limits on this machine" in plan.stdout
    # the probe registry's needs against the platform's flags: neither target gives a
    # traceroute raw ICMP without Administrator/sudo, nor a UDP socket's ICMP error queue
    cannot = json.loads(doctor.stdout)["cannot_run"]
    assert set(cannot) == {"dhcp", "lldp", "path_hops", "udp_egress"}, cannot
    assert ("will not run on this machine" in plan.stdout
            and "path_hops:platform: needs ICMP errors from routers" in plan.stdout)


@pytest.mark.netlab
@pytest.mark.parametrize("mode", TARGETS)
def test_sweep_through_a_firewall_without_an_error_queue(
    mode: Target, monkeypatch: pytest.MonkeyPatch, netlab: Any
) -> None:
    """The lab router rejects 50010-50019 (ICMP port unreachable) and drops 50050-50059
    (its nftables policy is the ground truth). Without IP_RECVERR both are still blocked,
    and rejected ports are told apart through connected sockets (offender unknown)."""
    from tests.integration.test_udp_ranges_netlab import start_responder, sweep

    port, _ = start_responder(netlab, "50000-50100")
    netlab.router_firewall(drop_udp=[(50050, 50059)], reject_udp=[(50010, 50019)])
    with simulate(mode, monkeypatch):
        m = sweep(netlab, port, (50000, 50100))
    assert m.values["blocked"] == ["50010-50019", "50050-50059"]
    assert m.values["counts"]["open"] == 81  # type: ignore[index]
    rejected = m.values.get("rejected", [])
    assert rejected and all(str(r).startswith("5001") for r in rejected)  # type: ignore[union-attr]
    assert set(m.values["icmp_from"]) == {"unknown type 3 code 3"}  # type: ignore[arg-type]
    assert str(m.values["icmp_method"]).startswith("connected sockets")


@pytest.mark.parametrize("probe", ["lldp", "dhcp"])
def test_layer2_listening_says_what_it_needs(
    target: Target, probe: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LLDP/DHCP need raw layer-2 access: Npcap + Administrator on Windows, BPF + root on
    macOS. Unmeasured, and the reason names what to install or grant (never a traceback)."""
    import importlib

    from netcheck.platform import capabilities

    mod = importlib.import_module(f"netcheck.probes.{probe}")
    with simulate(target, monkeypatch):
        ctx = Context(deadline=time.monotonic() + 5, caps=capabilities.privileges())
        m = asyncio.run(mod.run(mod.Spec(interface="lo"), ctx))
    assert m.error is not None and m.error.kind.value in ("unsupported", "permission")
    assert ("Npcap" in m.error.detail) and (
        ("darwin" if target == "macos" else "win32") in m.error.detail
    )


def test_capacity_ramp_runs(target: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    """The call-load ramp runs without epoll and recvmsg: 400 kbit/s x 1.25 = 7 G.711 calls
    of 80 kbit/s, ramped 2, 4, 7 (then bisected if this shared host made a step miss its
    limits; the ramp's arithmetic is tested in test_capacity_loopback.py)."""
    from netcheck.probes import capacity

    with resp.running(resp.Config(bind="127.0.0.1", port=0, rate_pps=1e6, burst=1e6)) as r:
        host, port = r.address
        spec = capacity.Spec(
            id="capacity",
            host=host,
            port=port,
            required_up_kbps=400,
            required_down_kbps=400,
            step_s=1.0,
            pause_s=0.1,
            duration_s=15,
        )
        with simulate(target, monkeypatch):
            m = asyncio.run(capacity.run(spec, Context(deadline=time.monotonic() + 20)))
    assert m.ok, m.error
    steps = [s["calls"] for s in m.values["steps"]]  # type: ignore[union-attr]
    assert steps[:2] == [2, 4] and m.values["target_calls"] == 7
    assert 2 <= m.values["calls_up_max"] <= 7  # type: ignore[operator]


@pytest.mark.netlab
def test_whole_rtp_range_in_budget_without_an_error_queue(
    monkeypatch: pytest.MonkeyPatch, netlab: Any
) -> None:
    """Issue 5's budget (16,384 ports in 30 s) holds on Windows too: a fast first round on
    one socket, then the unanswered ports on connected sockets; the dropped block is
    exactly the blocked one (the router's nftables policy is the truth)."""
    from tests.integration.test_udp_ranges_netlab import ISSUE_BUDGET_S, RTP, start_responder, sweep

    port, _ = start_responder(netlab, "16384-32767")
    netlab.router_firewall(drop_udp=[(20000, 20999)])
    t0 = time.monotonic()
    with simulate("windows", monkeypatch):
        m = sweep(netlab, port, RTP)
    elapsed = time.monotonic() - t0
    assert m.values["blocked"] == ["20000-20999"]
    assert m.values["counts"] == {"open": 15384, "no_answer": 1000}
    assert elapsed < ISSUE_BUDGET_S, elapsed


def test_field_mode_stun_stream_runs(target: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    """Field mode's call without a responder (STUN Binding stream, RFC 8489) runs on the
    same portable engine: against the demo's STUN server on 127.0.0.1, every request is
    answered; the TTL-expiry egress test, which needs the Linux error queue, says so."""
    from netcheck.probes import stream, udp_egress
    from netcheck.profile import load
    from netcheck.run import demo

    async def call() -> tuple[Any, Any]:
        async with demo.peers(load("demo")) as remap:
            spec = stream.Spec(id="stream:stun", host="127.0.0.1", port=remap[demo.STUN_PORT],
                               method="stun", duration_s=2.0)
            m = await stream.run(spec, Context(deadline=time.monotonic() + 10))
        eg = udp_egress.Spec(id="egress", rows=(), control_host="127.0.0.1")
        return m, await udp_egress.run(eg, Context(deadline=time.monotonic() + 5))

    with simulate(target, monkeypatch):
        m, egress = asyncio.run(call())
    assert m.ok and m.method == "stun-50pps", m.error
    assert m.values["received"] == m.values["sent"] > 0 and m.values["rx_kernel_timestamps"] is False
    assert egress.error is not None and egress.error.kind is ErrorKind.UNSUPPORTED
