"""SIP ALG detection through the lab router, against the responder's SIP mirror in dc.

True positive: the router with the Linux kernel's own SIP ALG (nftables ``ct helper`` of
type "sip", nf_conntrack_sip + nf_nat_sip, ``RoutedLab.sip_alg(True)``): it rewrites the
lan address 10.77.1.2 to the router's wan address 198.18.0.1 (tests/netlab/lab.py
RoutedAddrs) in Via/Contact/SDP. True negative: the same router and NAT without it.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from netcheck.probes import sip_alg
from netcheck.probes._common import Context
from netcheck.responder import Config, Responder
from netcheck.responder_services import sip_mirror
from tests.netlab.lab import RoutedLab
from tests.netlab.netns import in_netns, run_in_netns

pytestmark = pytest.mark.netlab


@pytest.fixture
def mirror(netlab: RoutedLab) -> Iterator[tuple[str, int]]:
    """The responder (UDP sip_mirror service) and the TCP mirror on dc:5060."""
    box: dict[str, Responder] = {}
    ready, stop = threading.Event(), threading.Event()

    def serve_udp() -> None:
        with in_netns(netlab.ns.dc):
            box["r"] = Responder(Config(bind=netlab.addr.dc, port=5060), ("sip_mirror",))
        ready.set()
        box["r"].serve()

    udp = threading.Thread(target=serve_udp, daemon=True)
    udp.start()
    assert ready.wait(5)
    lsock = run_in_netns(netlab.ns.dc, socket.create_server, (netlab.addr.dc, 5060))
    tcp = threading.Thread(target=sip_mirror.serve_tcp, args=(lsock, stop), daemon=True)
    tcp.start()
    yield netlab.addr.dc, 5060
    stop.set()
    box["r"].stop()
    udp.join(5)
    tcp.join(5)
    lsock.close()


def _probe(lab: RoutedLab, transport: str, host: str):  # type: ignore[no-untyped-def]
    spec = sip_alg.Spec(id=f"sip_alg:{transport}", host=host, transport=transport)
    ctx = Context(deadline=time.monotonic() + 10)
    return run_in_netns(lab.ns.lan, asyncio.run, sip_alg.run(spec, ctx))


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_kernel_sip_alg_is_detected(netlab: RoutedLab, mirror: tuple[str, int],
                                    transport: str) -> None:
    netlab.sip_alg(True)
    m = _probe(netlab, transport, mirror[0])
    assert m.error is None and m.confidence == "high"
    assert m.values["alg_detected"] is True
    rewrites = {r["field"]: r for r in m.values["rewrites"]}
    lan, wan = netlab.addr.lan, netlab.addr.router_wan
    assert any(lan in (r["sent"] or "") and wan in (r["received"] or "") for r in rewrites.values())
    if transport == "udp":
        assert lan in rewrites["Via"]["sent"] and wan in rewrites["Via"]["received"]
        assert rewrites["sdp c="] == {"field": "sdp c=", "sent": f"c=IN IP4 {lan}",
                                      "received": f"c=IN IP4 {wan}"}
    else:
        # split over two segments, nf_conntrack_sip parses per segment: only the Contact in
        # the second segment is rewritten, Via (first segment) is not - a half rewrite
        assert lan in rewrites["Contact"]["sent"] and wan in rewrites["Contact"]["received"]
        assert "Via" not in rewrites


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_no_alg_no_rewrite(netlab: RoutedLab, mirror: tuple[str, int], transport: str) -> None:
    netlab.sip_alg(False)
    m = _probe(netlab, transport, mirror[0])
    assert m.error is None
    assert m.values["alg_detected"] is False and m.values["rewrites"] == []
    assert m.values["large_message_ok"] is True
    assert m.values["large_message_octets"] > 2 * 1400  # crossed as two IP fragments / segments


def test_mirror_absent_is_timeout_not_a_pass(netlab: RoutedLab) -> None:
    spec = sip_alg.Spec(id="sip_alg:udp", host=netlab.addr.dc, wait_s=0.2, attempts=1)
    ctx = Context(deadline=time.monotonic() + 5)
    m = run_in_netns(netlab.ns.lan, asyncio.run, sip_alg.run(spec, ctx))
    assert m.error is not None and m.values == {"mirror_reachable": False}
