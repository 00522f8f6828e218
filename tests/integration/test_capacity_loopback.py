"""Capacity, QoS and iperf3 probes against real peers on 127.0.0.1 (no root needed)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time

import pytest

from netcheck.probes import capacity, iperf3, qos
from netcheck.probes._common import Context
from netcheck.responder import server as resp
from netcheck.result import ErrorKind


def _ctx(seconds: float) -> Context:
    return Context(deadline=time.monotonic() + seconds)


def _free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_ramp_stops_at_the_requirement_plus_margin() -> None:
    cfg = resp.Config(bind="127.0.0.1", port=0, rate_pps=1e6, burst=1e6)
    with resp.running(cfg) as r:
        host, port = r.address
        # 400 kbit/s x 1.25 = 500 kbit/s = ceil(500 / 80) = 7 calls; loopback never limits
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
        m = asyncio.run(capacity.run(spec, _ctx(20)))
    assert m.ok, m.error
    assert m.values["target_calls"] == 7
    assert [s["calls"] for s in m.values["steps"]] == [2, 4, 7]  # type: ignore[union-attr]
    assert m.values["calls_up_max"] == m.values["calls_down_max"] == 7
    assert m.values["capacity_up_kbps"] == 560.0
    assert m.values["calls_up_bound"] == "at_least"


def test_no_responder_is_an_error_not_a_capacity() -> None:
    port = _free_port()
    spec = capacity.Spec(
        id="capacity",
        host="127.0.0.1",
        port=port,
        required_up_kbps=400,
        required_down_kbps=400,
        step_s=0.5,
        duration_s=5,
    )
    m = asyncio.run(capacity.run(spec, _ctx(8)))
    assert m.error is not None and m.error.kind is ErrorKind.TIMEOUT
    assert len(m.values["steps"]) == 1  # type: ignore[arg-type]  # no ramp without replies


def test_qos_on_an_uncongestable_path_proves_nothing() -> None:
    cfg = resp.Config(bind="127.0.0.1", port=0, rate_pps=1e6, burst=1e6)
    with resp.running(cfg) as r:
        host, port = r.address
        spec = qos.Spec(
            id="qos",
            host=host,
            port=port,
            bulk_port=_free_port(),
            baseline_s=1.0,
            step_s=1.0,
            bulk_start_kbps=500,
            bulk_max_kbps=1000,
            duration_s=10,
        )
        m = asyncio.run(qos.run(spec, _ctx(12)))
    assert m.ok, m.error
    assert m.values["saturated"] is False and m.confidence == "low"
    assert [p["bulk_kbps"] for p in m.values["phases"]] == [0.0, 500, 1000]  # type: ignore[union-attr]
    sent = m.values["phases"][-1]["bulk_sent_kbps"]  # type: ignore[index]
    assert 800 <= sent <= 1100  # the paced sender offered what it was asked (layer 3)


def _free_tcp_and_udp_port() -> int:
    """A port free for TCP *and* UDP: iperf3 -u takes its control connection over TCP and
    its data stream over UDP on the same number."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no port free for both TCP and UDP on 127.0.0.1")


@pytest.mark.skipif(shutil.which("iperf3") is None, reason="needs iperf3 (apt install iperf3)")
def test_iperf3_figures_are_iperf3s() -> None:
    port = _free_tcp_and_udp_port()
    server = subprocess.Popen(
        ["iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)
        spec = iperf3.Spec(
            id="iperf3:up", host="127.0.0.1", port=port, duration_s=1.0, udp_kbps=2000
        )
        m = asyncio.run(iperf3.run(spec, _ctx(15)))
    finally:
        server.terminate()
        server.wait(5)
    assert m.ok, m.error
    assert m.method == "iperf3" and m.values["protocol"] == "udp"
    assert 1800 <= float(m.values["throughput_kbps"]) <= 2200  # type: ignore[arg-type]
    assert m.values["loss_pct"] == 0


def test_iperf3_without_a_server_is_an_error() -> None:
    spec = iperf3.Spec(
        id="iperf3:up", host="127.0.0.1", port=_free_port(socket.SOCK_STREAM), duration_s=1.0
    )
    m = asyncio.run(iperf3.run(spec, _ctx(10)))
    assert m.error is not None and m.error.kind in (ErrorKind.UNREACHABLE, ErrorKind.UNSUPPORTED)
