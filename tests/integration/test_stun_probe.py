"""STUN probe against coturn in the lab's dc namespace, through the router's masquerade.

Ground truth is the lab's addressing (tests/netlab/lab.py RoutedAddrs): the lan host is
10.77.1.2, the router's wan address 198.18.0.1 is what any server in dc sees. Linux
masquerade (nf_nat) keeps the source port when it is free and its conntrack entries match
the full 5-tuple, so RFC 5780 discovery must find endpoint-independent mapping and
address-and-port-dependent filtering. The binding-lifetime test sets the router's
``nf_conntrack_udp_timeout`` (per network namespace) to 3 s, so an idle mapping is alive
after 2 s and gone after 4.5 s.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from netcheck.probes import stun as stun_probe
from netcheck.probes._common import Context
from tests.netlab import peers
from tests.netlab.lab import RoutedLab
from tests.netlab.netns import run_in_netns
from tests.netlab.peers import Peer

pytestmark = pytest.mark.netlab

#: the second dc address coturn needs for RFC 5780 (an unused host of the lab's wan /24)
DC_ALT = "198.18.0.3"


def _run(lab: RoutedLab, spec: stun_probe.Spec, budget_s: float = 15.0):  # type: ignore[no-untyped-def]
    ctx = Context(deadline=time.monotonic() + budget_s)
    return run_in_netns(lab.ns.lan, asyncio.run, stun_probe.run(spec, ctx))


@pytest.fixture
def coturn_5780(netlab: RoutedLab) -> Peer:
    """coturn on two dc addresses: RFC 5780 mode (OTHER-ADDRESS = alt IP, port + 1)."""
    netlab.ip(netlab.ns.dc, "addr", "add", f"{DC_ALT}/24", "dev", netlab.ifs.dc)
    port = 3478  # the namespace is fresh; coturn's alternate port is port + 1
    relay = netlab.free_port(netlab.ns.dc, "udp", netlab.addr.dc)
    argv = [
        peers.need("turnserver", "the Debian package coturn"), "-n", "--no-cli", "--no-tls",
        "--no-dtls", "--listening-ip", netlab.addr.dc, "--listening-ip", DC_ALT,
        "--listening-port", str(port), "--relay-ip", netlab.addr.dc, "--min-port", str(relay),
        "--max-port", str(min(relay + 20, 65535)), "--realm", "netlab", "--fingerprint",
        "--log-file", "stdout", "--simple-log", "--userdb", str(netlab.workdir / "turndb5780"),
        "--pidfile", str(netlab.workdir / "turn5780.pid"),
    ]
    proc = netlab.popen(netlab.ns.dc, argv, name="coturn5780")
    deadline = time.monotonic() + 15
    while peers.stun_query(netlab.ns.dc, netlab.addr.dc, port, 0.2) is None:
        assert proc.popen.poll() is None and time.monotonic() < deadline, proc.output()[-1500:]
    return Peer(netlab.ns.dc, netlab.addr.dc, port, proc)


def test_udp_binding_through_nat_maps_to_the_router_wan_address(
    netlab: RoutedLab, coturn: Peer
) -> None:
    m = _run(netlab, stun_probe.Spec(id="stun:udp", host=coturn.addr, port=coturn.port))
    assert m.error is None
    v = m.values
    assert v["reachable"] is True and v["answered"] == 5
    assert v["mapped_ip"] == netlab.addr.router_wan == "198.18.0.1"
    assert v["local_address"].startswith(netlab.addr.lan + ":")
    assert v["behind_nat"] is True
    assert v["rfc5780"] is False  # the shared fixture listens on one address
    assert "mapping" not in v
    assert 0 < v["rtt_ms"] < 50 and len(m.series["rtt_ms"]) == 5


def test_tcp_binding_through_nat(netlab: RoutedLab, coturn: Peer) -> None:
    spec = stun_probe.Spec(id="stun:tcp", host=coturn.addr, port=coturn.port, transport="tcp")
    m = _run(netlab, spec)
    assert m.method == "stun-tcp" and m.values["reachable"] is True
    assert m.values["mapped_ip"] == netlab.addr.router_wan
    assert m.values["mapped_port"] == int(m.values["local_address"].split(":")[1])  # preserved


def test_rfc5780_discovery_of_linux_masquerade(netlab: RoutedLab, coturn_5780: Peer) -> None:
    m = _run(netlab, stun_probe.Spec(id="stun:udp", host=coturn_5780.addr, count=2))
    v = m.values
    assert v["rfc5780"] is True and v["other_address"] == f"{DC_ALT}:3479"
    assert v["mapping"] == "endpoint-independent"
    assert v["filtering"] == "address-and-port-dependent"


def test_binding_lifetime_bracketed_by_the_router_udp_timeout(
    netlab: RoutedLab, coturn_5780: Peer
) -> None:
    netlab.exec(netlab.ns.rtr, ["sysctl", "-qw", "net.netfilter.nf_conntrack_udp_timeout=3"])
    spec = stun_probe.Spec(id="stun:lifetime", host=coturn_5780.addr,
                           lifetime_checkpoints_s=(2.0, 4.5))
    m = _run(netlab, spec)
    assert m.error is None, m.error
    assert m.values["lifetime_alive"] == [True, False]
    assert (m.values["lifetime_min_s"], m.values["lifetime_max_s"]) == (2.0, 4.5)
    assert m.duration_s < 8


def test_blocked_stun_is_data_not_an_exception(netlab: RoutedLab, coturn: Peer) -> None:
    netlab.router_firewall(drop_udp=[coturn.port], reject_tcp=[coturn.port])
    m = _run(netlab, stun_probe.Spec(id="stun:udp", host=coturn.addr, port=coturn.port,
                                     count=1, retransmits=1, rto_s=0.2))
    assert m.error is None and m.values["reachable"] is False and m.values["answered"] == 0
    t = _run(netlab, stun_probe.Spec(id="stun:tcp", host=coturn.addr, port=coturn.port,
                                     transport="tcp"))
    assert t.values["reachable"] is False and t.values["connect"] == "ConnectionRefusedError"
