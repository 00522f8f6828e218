"""The first probes against real sockets: TCP states, ICMP, DNS (loopback and the lab)."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from netcheck.probes import dns, tcp_ports
from netcheck.probes._common import Context, compress_ranges
from netcheck.result import ErrorKind
from tests.netlab.lab import RoutedLab
from tests.netlab.netns import run_in_netns


def ctx(seconds: float = 10.0, **caps: bool) -> Context:
    return Context(deadline=time.monotonic() + seconds, caps=caps)


def _free_closed_port() -> int:
    """A port with no listener: bind, read the number, close (the kernel answers RST)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_tcp_open_and_refused_on_loopback() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    open_port, closed_port = listener.getsockname()[1], _free_closed_port()
    try:
        spec = tcp_ports.Spec(id="tcp:0", host="127.0.0.1", ports=(open_port, closed_port))
        m = asyncio.run(tcp_ports.run(spec, ctx()))
    finally:
        listener.close()
    assert m.ok
    assert m.values["open"] == [str(open_port)]
    assert m.values["refused"] == [str(closed_port)]
    assert m.values["counts"] == {"open": 1, "refused": 1}
    assert isinstance(m.values["connect_median_ms"], float)


def test_tcp_unknown_host_is_a_dns_error_not_an_exception() -> None:
    spec = tcp_ports.Spec(id="tcp:0", host="no-such-host.invalid", ports=(443,))  # RFC 6761 .invalid
    m = asyncio.run(tcp_ports.run(spec, ctx()))
    assert m.error is not None and m.error.kind is ErrorKind.DNS


@pytest.mark.netlab
def test_tcp_filtered_by_a_drop_rule_and_rejected_by_reset(netlab: RoutedLab) -> None:
    """Router firewall in the lab: drop -> 'filtered' (timeout), reject -> 'refused' (RST)."""
    listener = netlab.popen(netlab.ns.dc, ["python3", "-c", _LISTEN_ON_3], name="listeners")
    for port in (4431, 4432, 4433):
        netlab.wait_for_port(netlab.ns.dc, port, proto="tcp", proc=listener)
    netlab.router_firewall(drop_tcp=[4432], reject_tcp=[4433])
    spec = tcp_ports.Spec(id="tcp:0", host=netlab.addr.dc, ports=(4431, 4432, 4433), timeout_s=1.0)
    m = run_in_netns(netlab.ns.lan, asyncio.run, tcp_ports.run(spec, ctx()))
    netlab.stop(listener)
    assert m.values["open"] == ["4431"]
    assert m.values["filtered"] == ["4432"]
    assert m.values["refused"] == ["4433"]


_LISTEN_ON_3 = """
import socket, time
socks = []
for port in (4431, 4432, 4433):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("198.18.0.2", port)); s.listen(16); socks.append(s)
time.sleep(60)
"""


@pytest.mark.netlab
def test_tcp_deadline_bounds_a_silent_peer(netlab: RoutedLab) -> None:
    """STYLE.md 3: the socket timeout comes from the time left. A port the router drops never
    answers; with a 3 s per-port timeout but only 0.3 s left before the runner's deadline,
    the probe returns 'filtered' within that budget instead of waiting 3 s."""
    netlab.router_firewall(drop_tcp=[4432])
    spec = tcp_ports.Spec(id="tcp:0", host=netlab.addr.dc, ports=(4432,), timeout_s=3.0)
    t0 = time.monotonic()
    m = run_in_netns(netlab.ns.lan, asyncio.run, tcp_ports.run(spec, ctx(0.3)))
    elapsed = time.monotonic() - t0
    assert m.values["filtered"] == ["4432"]
    assert elapsed < 1.5, f"took {elapsed:.2f} s: the 3 s socket timeout was not cut to the deadline"


def test_dns_literal_and_localhost_and_failure() -> None:
    lit = asyncio.run(dns.run(dns.Spec(id="d", host="127.0.0.1"), ctx()))
    assert lit.method == "literal" and lit.values["addresses"] == ["127.0.0.1"]
    local = asyncio.run(dns.run(dns.Spec(id="d", host="localhost"), ctx()))
    assert local.ok and "127.0.0.1" in local.values["addresses"]  # type: ignore[operator]
    bad = asyncio.run(dns.run(dns.Spec(id="d", host="no-such-host.invalid"), ctx()))
    assert bad.error is not None and bad.error.kind is ErrorKind.DNS


def test_compress_ranges() -> None:
    assert compress_ranges([5060, 16386, 16384, 16385, 20000]) == ["5060", "16384-16386", "20000"]
    assert compress_ranges([]) == []
