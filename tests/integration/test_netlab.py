"""The namespace lab itself: topology lifecycle, router policy, peers, and the
impairment link checked against independent measurements (ping, a UDP receiver).

Every expected number comes from the seeded spec, a named formula, or the router
configuration the test applies. All traffic is bounded in packets and time.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import socket
import statistics
import threading
import time
from collections.abc import Callable

import pytest

from tests.netlab import peers, truth
from tests.netlab.fixtures import require_netlab
from tests.netlab.lab import L2Lab, RoutedLab, list_netns, routed_lab
from tests.netlab.netns import current_netns_inode, in_netns, run_async_in_netns, run_in_netns
from tests.netlab.peers import Peer
from tests.netlab.spec import parse_spec

pytestmark = pytest.mark.netlab


# -- lifecycle ---------------------------------------------------------------------------


@pytest.mark.parametrize("impair", [None, "delay=1ms"])
def test_teardown_removes_everything_after_an_exception(impair: str | None) -> None:
    require_netlab()
    seen: list[str] = []
    bridge_pid = None
    with pytest.raises(RuntimeError, match="boom"), routed_lab(impair) as lab:
        seen = list(lab.namespaces)
        bridge_pid = lab.bridge.pid if lab.bridge else None
        assert set(seen) <= set(list_netns())
        raise RuntimeError("boom")
    assert not set(seen) & set(list_netns())
    assert not lab.state_path.exists()
    if bridge_pid is not None:
        with pytest.raises(ProcessLookupError):
            import os

            os.kill(bridge_pid, 0)


def test_routed_reachability_and_names(netlab: RoutedLab) -> None:
    assert all(n.startswith(netlab.id) for n in netlab.namespaces)
    out = netlab.exec(netlab.ns.lan, ["ping", "-n", "-c", "2", "-i", "0.2", "-W", "1", netlab.addr.dc]).stdout
    assert "2 received" in out


def test_run_in_netns_and_in_netns() -> None:
    require_netlab()
    with routed_lab() as lab:
        mine = current_netns_inode()
        theirs = run_in_netns(lab.ns.lan, current_netns_inode)
        assert theirs != mine
        with in_netns(lab.ns.lan):
            assert current_netns_inode() == theirs
        assert current_netns_inode() == mine


# -- peers -------------------------------------------------------------------------------


def test_coturn_stun_via_asyncio_in_lan_sees_nat(netlab: RoutedLab, coturn: Peer) -> None:
    """An asyncio loop inside the lan namespace asks coturn for its mapped address; the
    router's masquerade makes it the router's wan address."""

    async def query() -> bytes:
        loop = asyncio.get_running_loop()
        got: asyncio.Future[bytes] = loop.create_future()

        class Proto(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: object) -> None:
                if not got.done():
                    got.set_result(data)

        transport, _ = await loop.create_datagram_endpoint(Proto, remote_addr=(coturn.addr, coturn.port))
        try:
            transport.sendto(req)
            return await asyncio.wait_for(got, 2.0)
        finally:
            transport.close()

    req, txid = peers.stun_binding_request()
    mapped = peers.stun_mapped_address(run_async_in_netns(netlab.ns.lan, query), txid)
    assert mapped is not None
    assert mapped[0] == netlab.addr.router_wan


def test_snmpsim_answers_through_the_router(netlab: RoutedLab, snmpsim: Callable[..., Peer]) -> None:
    agent = snmpsim("ios_2960x")
    out = netlab.exec(
        netlab.ns.lan,
        ["snmpget", "-v2c", "-c", "ios_2960x", "-t", "1", "-r", "1", f"{agent.addr}:{agent.port}", "1.3.6.1.2.1.1.1.0"],
    )
    assert "Cisco" in out.stdout


# -- router policy -----------------------------------------------------------------------


def _tcp_listener(ns: str, addr: str, port: int) -> socket.socket:
    def make() -> socket.socket:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, port))
        s.listen()
        return s

    return run_in_netns(ns, make)


def _tcp_outcome(ns: str, addr: str, port: int) -> str:
    def go() -> str:
        with socket.socket() as s:
            s.settimeout(0.5)
            try:
                s.connect((addr, port))
                return "open"
            except ConnectionRefusedError:
                return "refused"
            except TimeoutError:
                return "timeout"

    return run_in_netns(ns, go)


def _udp_echo(ns: str, addr: str, ports: list[int]) -> Callable[[], None]:
    """UDP echo on ``ports`` in ``ns`` (sockets made there, served by a thread here)."""
    socks = [run_in_netns(ns, _bound_udp, addr, p) for p in ports]
    stop = threading.Event()

    def serve() -> None:
        import select

        while not stop.is_set():
            ready, _, _ = select.select(socks, [], [], 0.05)
            for s in ready:
                data, peer = s.recvfrom(2048)
                s.sendto(data, peer)

    threading.Thread(target=serve, daemon=True).start()

    def close() -> None:
        stop.set()
        time.sleep(0.1)
        for s in socks:
            s.close()

    return close


def _bound_udp(addr: str, port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))
    return s


def _udp_outcome(ns: str, addr: str, port: int) -> str:
    def go() -> str:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.5)
            s.connect((addr, port))
            s.send(b"ping")
            try:
                return "echo" if s.recv(100) == b"ping" else "garbage"
            except ConnectionRefusedError:
                return "refused"
            except TimeoutError:
                return "timeout"

    return run_in_netns(ns, go)


def test_firewall_drop_vs_reject(netlab: RoutedLab) -> None:
    lab, dc = netlab, netlab.addr.dc
    tcp = [lab.free_port(lab.ns.dc, "tcp") for _ in range(3)]
    udp = [lab.free_port(lab.ns.dc, "udp") for _ in range(3)]
    listeners = [_tcp_listener(lab.ns.dc, dc, p) for p in tcp]
    close_echo = _udp_echo(lab.ns.dc, dc, udp)
    try:
        lab.router_firewall(drop_tcp=[tcp[0]], reject_tcp=[tcp[1]], drop_udp=[(udp[0], udp[0])], reject_udp=[udp[1]])
        got_tcp = [_tcp_outcome(lab.ns.lan, dc, p) for p in tcp]
        got_udp = [_udp_outcome(lab.ns.lan, dc, p) for p in udp]
    finally:
        close_echo()
        for s in listeners:
            s.close()
    assert got_tcp == ["timeout", "refused", "open"]
    assert got_udp == ["timeout", "refused", "echo"]


def test_firewall_whole_udp_range(netlab: RoutedLab) -> None:
    lab = netlab
    lo = lab.free_port(lab.ns.dc, "udp")
    lo = min(lo, 60000)
    ports = [lo, lo + 1, lo + 2]
    close_echo = _udp_echo(lab.ns.dc, lab.addr.dc, ports)
    try:
        lab.router_firewall(drop_udp=[(lo, lo + 1)])
        got = [_udp_outcome(lab.ns.lan, lab.addr.dc, p) for p in ports]
    finally:
        close_echo()
    assert got == ["timeout", "timeout", "echo"]


def test_sip_alg_helper_ruleset_loads(netlab: RoutedLab) -> None:
    netlab.sip_alg(True)
    rules = netlab.exec(netlab.ns.rtr, ["nft", "list", "ruleset"]).stdout
    assert 'type "sip" protocol udp' in rules and 'ct helper set "sip-udp"' in rules
    netlab.sip_alg(False)
    assert "sip" not in netlab.exec(netlab.ns.rtr, ["nft", "list", "ruleset"]).stdout


def test_dscp_remark_rewrites_only_the_matched_class(netlab: RoutedLab) -> None:
    lab = netlab
    port = lab.free_port(lab.ns.dc, "udp")
    rx = run_in_netns(lab.ns.dc, _bound_udp, lab.addr.dc, port)
    rx.setsockopt(socket.IPPROTO_IP, socket.IP_RECVTOS, 1)
    rx.settimeout(2)
    lab.dscp_remark(0, from_=46)  # EF bleached to best effort, AF41 untouched

    def send() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for dscp in (46, 34):
                s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, dscp << 2)
                s.sendto(bytes([dscp]), (lab.addr.dc, port))

    run_in_netns(lab.ns.lan, send)
    seen = {}
    for _ in range(2):
        data, anc, _, _ = rx.recvmsg(16, 64)
        tos = next(d[0] for lvl, typ, d in anc if typ == socket.IP_TOS)
        seen[data[0]] = tos >> 2
    rx.close()
    assert seen == {46: 0, 34: 34}


def test_rate_limit_caps_tcp_throughput(netlab: RoutedLab, iperf3_server: Peer) -> None:
    netlab.rate_limit(2000)  # tbf 2000 kbit/s on the router
    out = netlab.exec(
        netlab.ns.lan, ["iperf3", "-c", iperf3_server.addr, "-p", str(iperf3_server.port), "-t", "2", "-J"], timeout=20
    )
    bps = json.loads(out.stdout)["end"]["sum_received"]["bits_per_second"]
    assert 0.75 * 2e6 <= bps <= 1.1 * 2e6


# -- the impairment link against independent measurements ---------------------------------


def test_ping_agrees_with_ground_truth(netlab_impaired: Callable[..., RoutedLab]) -> None:
    spec = "delay=10ms jitter=1ms dist=normal"
    lab = netlab_impaired(spec, seed=3)
    out = lab.exec(lab.ns.lan, ["ping", "-n", "-c", "100", "-i", "0.02", "-W", "1", lab.addr.dc], timeout=20).stdout
    ping = {int(m[1]): float(m[2]) for m in re.finditer(r"icmp_seq=(\d+) .*time=([\d.]+)", out)}
    link = truth.icmp_echo_truth(lab.truth_records())
    resid = [ping[s] - v * 1e3 for s, v in link.items() if v is not None and s in ping]
    assert len(resid) == len(ping) == 100
    # What ping sees beyond the bridge's own record is the veth + stack time: small.
    assert 0 <= statistics.median(resid) < 1.0
    # The seeded engine's delays vs the spec: mean 10 ms, sd 1 ms (4 sigma of a mean of 100).
    up = truth.originals(truth.select(lab.truth_records(), direction="up", proto=1))
    intended = [r["delay_ns"] / 1e6 for r in up]
    assert abs(statistics.fmean(intended) - 10.0) <= 4 * 1.0 / math.sqrt(len(intended))


def _udp_blast(lab: RoutedLab, port: int, n: int, gap_s: float) -> dict[str, int]:
    """Send ``n`` sequence-numbered datagrams lan -> dc, collect what dc receives."""
    rx = run_in_netns(lab.ns.dc, _bound_udp, lab.addr.dc, port)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)  # never drop at the receiver
    rx.settimeout(1.0)
    got: list[int] = []

    def receive() -> None:
        try:
            while True:
                got.append(int.from_bytes(rx.recv(64)[:4], "big"))
        except TimeoutError:
            pass

    t = threading.Thread(target=receive)
    t.start()

    def send() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            nxt = time.monotonic()
            for i in range(n):
                s.sendto(i.to_bytes(4, "big") + bytes(28), (lab.addr.dc, port))
                nxt += gap_s
                time.sleep(max(0.0, nxt - time.monotonic()))

    run_in_netns(lab.ns.lan, send)
    t.join(timeout=10)
    rx.close()
    return {"received": len(got), "unique": len(set(got)), "reordered": truth.count_reordered(got)}


@pytest.mark.parametrize(
    ("spec", "n"),
    [("delay=5ms loss=3% dup=5% reorder=10%", 3000), ("delay=2ms ge=p:0.05,r:0.3", 3000)],
)
def test_receiver_matches_truth_and_truth_matches_spec(
    netlab_impaired: Callable[..., RoutedLab], spec: str, n: int
) -> None:
    lab = netlab_impaired(spec, seed=11)
    port = lab.free_port(lab.ns.dc, "udp")
    seen = _udp_blast(lab, port, n, gap_s=0.0005)
    recs = truth.select(lab.truth_records(), direction="up", proto=17, dport=port)
    st = truth.stats(recs)
    # 1. The receiver observes exactly what the log says happened.
    assert st.sent == n
    assert seen["unique"] == st.delivered
    assert seen["received"] == st.delivered + st.duplicates
    # 2. The log's rates match the seeded spec (4 sigma; GE variance inflated by
    #    (1+lambda)/(1-lambda), lambda = 1-p-r, the loss chain's lag-1 autocorrelation).
    d = parse_spec(spec).up
    loss = d.expected_loss
    inflate = (1 + (1 - d.ge.p - d.ge.r)) / (d.ge.p + d.ge.r) if d.ge else 1.0
    assert abs(st.lost / n - loss) <= 4 * math.sqrt(loss * (1 - loss) / n * inflate)
    if d.dup:
        assert abs(st.duplicates / st.delivered - d.dup) <= 4 * math.sqrt(d.dup * (1 - d.dup) / st.delivered)
    if d.reorder:
        # a reordered frame skips the 5 ms delay (leaves after the 1 ms floor)
        early = sum(1 for r in truth.originals(recs) if r["decision"] == "forward" and r["delay_ns"] < 5_000_000)
        assert abs(early / st.delivered - d.reorder) <= 4 * math.sqrt(d.reorder * (1 - d.reorder) / st.delivered)
        assert seen["reordered"] > 0


# -- flat layer-2 segment ------------------------------------------------------------------


def test_dhcp_offers_from_both_servers_with_voip_options(netlab_l2: L2Lab, dnsmasq_dhcp: Callable[..., Peer]) -> None:
    scapy = pytest.importorskip("scapy.all")
    dnsmasq_dhcp(dict(peers.VOIP_DHCP_OPTIONS))
    dnsmasq_dhcp(rogue=True)
    lab = netlab_l2

    def discover() -> list[tuple[str, dict[object, object]]]:
        """Broadcast a DISCOVER on a raw socket made in the lan namespace (scapy's own
        sockets resolve interfaces in the root namespace) and collect offers for 3 s."""
        mac = "02:77:03:00:00:10"
        pkt = (
            scapy.Ether(src=mac, dst="ff:ff:ff:ff:ff:ff")
            / scapy.IP(src="0.0.0.0", dst="255.255.255.255")
            / scapy.UDP(sport=68, dport=67)
            / scapy.BOOTP(chaddr=bytes.fromhex(mac.replace(":", "")), xid=0x1234)
            / scapy.DHCP(options=[("message-type", "discover"), "end"])
        )
        out = []
        with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800)) as s:
            s.bind((lab.ifs.lan, 0x0800))
            s.send(bytes(pkt))
            deadline = time.monotonic() + 3
            while (left := deadline - time.monotonic()) > 0:
                s.settimeout(left)
                try:
                    r = scapy.Ether(s.recv(4096))
                except TimeoutError:
                    break
                if scapy.DHCP in r and r[scapy.BOOTP].xid == 0x1234 and r[scapy.BOOTP].op == 2:
                    opts = {o[0]: o[1:] for o in r[scapy.DHCP].options if isinstance(o, tuple)}
                    out.append((r[scapy.IP].src, opts))
        return out

    offers = dict(run_in_netns(lab.ns.lan, discover))
    assert set(offers) == {lab.addr.gw, lab.addr.rogue}
    assert 66 in offers[lab.addr.gw] or "tftp_server_name" in offers[lab.addr.gw]


def test_lldpd_announces_med_network_policy(netlab_l2: L2Lab, lldpd_med: Callable[..., Peer]) -> None:
    lldpd_med(vlan=100, dscp=46)

    def capture() -> bytes:
        with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88CC)) as s:
            s.bind((netlab_l2.ifs.lan, 0x88CC))
            s.settimeout(5)
            return s.recv(2048)

    frame = run_in_netns(netlab_l2.ns.lan, capture)
    assert frame[12:14] == b"\x88\xcc"
    # LLDP-MED (TIA OUI 00-12-BB) subtype 2 = Network Policy
    assert b"\x00\x12\xbb\x02" in frame
