"""Field mode end to end: ``netcheck run`` with NO responder, against a provider that has only
its own servers (coturn STUN/TURN on 3478, kamailio answering OPTIONS on 5060, TLS
listeners), through a site router with NAT and a firewall, and one ISP router beyond it
(tests/netlab/field_lab.py). The shipped stimme and managed-com-business profiles are used
as shipped, their targets pointed into the lab with ``--target``.

One lab serves every scenario (the router policy and the impairment are reset before each),
so the module builds the lab once. Ground truth is the router's policy (nftables drops,
tbf rate, the kernel SIP helper) and the impairment bridge's seeded loss.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.netlab.field_lab import DC, FieldLab, field_lab
from tests.netlab.fixtures import require_netlab

pytestmark = pytest.mark.netlab

STIMME_TARGETS = ("--target", f"platform={DC}", "--target", f"services={DC}", "--target", f"stun={DC}")
MCB_TARGETS = ("--target", f"handover={DC}")


@pytest.fixture(scope="module")
def lab() -> Iterator[FieldLab]:
    require_netlab()
    with field_lab("") as built:  # a clean impairment bridge, ready for the loss scenario
        yield built


@pytest.fixture
def site(lab: FieldLab) -> Iterator[FieldLab]:
    """The lab with a good site: no firewall rule, ICMP answered, no ALG, no rate limit."""
    yield lab
    lab.router_firewall()
    lab.drop_icmp_echo(False)
    lab.sip_alg(False)
    lab.rate_limit(None)


def netcheck_run(lab: FieldLab, profile: str, *args: str) -> dict[str, Any]:
    """``netcheck run --quick --json`` in the site's LAN namespace; the result document."""
    argv = [sys.executable, "-m", "netcheck", "run", "--profile", profile, "--quick", "--json", *args]
    res = lab.exec(lab.ns.lan, argv, check=False, timeout=240)
    assert res.returncode in (0, 1, 3), res.stderr[-3000:]
    doc: dict[str, Any] = json.loads(res.stdout)
    assert doc["verdict"] == {0: "GO", 1: "NO-GO", 3: "INCOMPLETE"}[res.returncode]
    return doc


def check(doc: dict[str, Any], cid: str) -> dict[str, Any]:
    return next(c for c in doc["checks"] if c["id"] == cid)


def measurement(doc: dict[str, Any], mid: str) -> dict[str, Any]:
    return next(m for m in doc["measurements"] if m["id"] == mid)


def failed(doc: dict[str, Any]) -> list[str]:
    return [c["id"] for c in doc["checks"] if c["status"] == "FAIL"]


def test_good_site_is_go_in_field_mode(site: FieldLab) -> None:
    doc = netcheck_run(site, "stimme", *STIMME_TARGETS)
    assert doc["verdict"] == "GO", [(c["id"], c["status"], c["reason"]) for c in doc["checks"]]
    stream = measurement(doc, "stream:platform")
    assert stream["method"] == "stun-50pps" and stream["values"]["loss_pct"] == 0.0
    assert stream["values"]["packet_bytes"] == 172  # 12 RTP + 160 G.711 (20 ms)
    udp = check(doc, "port.udp.16384-32767@platform")
    assert udp["status"] == "PASS" and udp["confidence"] == "medium"
    stun = check(doc, "port.udp.3478@stun")
    assert stun["status"] == "PASS" and "STUN answered from 198.19.0.2:3478" in stun["reason"]
    for c in doc["checks"]:  # method and confidence on every measured check
        if c["status"] in ("PASS", "FAIL"):
            assert c["method"] and c["confidence"], c
    scope = doc["scope"]
    assert scope["mode"] == "field"
    keys = {i["key"] for i in scope["not_proven"]}
    assert {"scope.one_way_delay", "scope.udp_range"} <= keys


def test_rtp_range_dropped_is_no_go_naming_the_range(site: FieldLab) -> None:
    site.router_firewall(drop_udp=[(16384, 32767), (50000, 50100)])
    doc = netcheck_run(site, "stimme", *STIMME_TARGETS)
    assert doc["verdict"] == "NO-GO"
    assert set(failed(doc)) == {"port.udp.16384-32767@platform", "port.udp.50000-50100@platform"}
    rtp = check(doc, "port.udp.16384-32767@platform")
    assert "16384-32767" in rtp["reason"] and "blocked by the site firewall" in rtp["reason"]
    assert check(doc, "port.udp.60000-60100@platform")["status"] == "PASS"


def test_icmp_dropped_path_still_measured_by_stun(site: FieldLab) -> None:
    site.drop_icmp_echo(True)
    doc = netcheck_run(site, "stimme", *STIMME_TARGETS)
    assert doc["verdict"] == "GO"
    for metric in ("jitter_ms", "loss_pct", "one_way_delay_ms"):
        c = check(doc, f"end_to_end.{metric}@platform")
        assert c["status"] == "PASS" and c["method"] == "stun-50pps", c
    remedies = [c["remediation"]["text"] for c in doc["checks"] if c.get("remediation")]
    assert not any("ICMP" in r for r in remedies), remedies


def test_two_percent_loss_with_icmp_dropped_is_no_go_on_loss(site: FieldLab) -> None:
    site.drop_icmp_echo(True)
    site.set_impairment("loss=2%", seed=16)
    try:
        doc = netcheck_run(site, "stimme", *STIMME_TARGETS)
    finally:
        site.set_impairment("")
    loss = check(doc, "end_to_end.loss_pct@platform")
    assert loss["status"] == "FAIL" and loss["method"] == "stun-50pps"
    assert doc["verdict"] == "NO-GO"
    # 2 % each way: the round trip loses 1 - 0.98^2 = 3.96 %; 500 requests in a quick run
    assert 2.0 <= measurement(doc, "stream:platform")["values"]["loss_pct"] <= 7.0


def test_tcp_1300_dropped_is_no_go(site: FieldLab) -> None:
    site.router_firewall(drop_tcp=[1300])
    doc = netcheck_run(site, "stimme", *STIMME_TARGETS)
    assert doc["verdict"] == "NO-GO"
    assert failed(doc) == ["port.tcp.1300@platform"]


def test_managed_com_business_icmp_and_stun_dropped_falls_back_to_sip_options(site: FieldLab) -> None:
    """VSE NET names no STUN server, so the call first tries STUN at the handover host
    itself; with UDP 3478 dropped by the site and ICMP echo dropped at the handover point
    the path is measured by the last fall-back, a SIP OPTIONS series to the SBC (kamailio),
    and the answered OPTIONS credit the (optional) UDP 5060 row. The lab's LAN has static
    addresses and no DHCP server, which the profile requires: lan.dhcp fails; the LAN-side
    figures (2 ms layer-2 limits against the router namespace) are not what this test is
    about."""
    site.router_firewall(drop_udp=[3478])
    site.drop_icmp_echo(True)
    doc = netcheck_run(site, "managed-com-business", *MCB_TARGETS, "--lldp-wait", "1", "--dhcp-wait", "0.5")
    stream = measurement(doc, "stream:handover")
    assert stream["method"] == "sip-options-5pps" and stream["confidence"] == "low"
    tried = [(a["method"], a["used"]) for a in stream["values"]["path_methods"]]
    assert tried == [("stun-50pps", False), ("icmp-50pps", False), ("sip-options-5pps", True)]
    for metric in ("rtt_ms", "jitter_ms", "loss_pct", "mos"):
        c = check(doc, f"handover.{metric}@handover")
        assert c["status"] == "PASS" and c["confidence"] == "low", c
    sip = check(doc, "port.udp.5060@handover")
    assert sip["status"] == "PASS" and "SIP answered" in sip["reason"]
    assert "lan.dhcp" in failed(doc) and doc["verdict"] == "NO-GO"
    assert [f for f in failed(doc) if not f.startswith(("lan.", "layer2."))] == []
    remedies = [c["remediation"]["text"] for c in doc["checks"] if c.get("remediation")]
    assert not any("ICMP" in r for r in remedies), remedies


def test_kernel_sip_alg_is_no_go(site: FieldLab) -> None:
    """The router's kernel SIP helper (nf_conntrack_sip + nf_nat_sip) rewrites SIP both ways;
    without a responder, OPTIONS with rport (RFC 3581) to the SBC shows it: the answer names
    our private address although STUN (at the SBC host, field mode's guess) saw the NAT."""
    site.sip_alg(True)
    doc = netcheck_run(site, "managed-com-business", *MCB_TARGETS, "--lldp-wait", "1", "--dhcp-wait", "0.5")
    alg = check(doc, "sip.alg")
    assert alg["status"] == "FAIL" and alg["method"] == "sip-options-udp", alg
    assert doc["verdict"] == "NO-GO" and alg["remediation"]["key"] == "sip_alg"


def test_one_mbit_uplink_for_20_extensions_is_no_go_on_upstream_bandwidth(site: FieldLab) -> None:
    """20 extensions x 100 kbit/s (VSE NET) = 2000 kbit/s needed up; tbf caps the uplink at
    1000 kbit/s. VSE NET names no STUN server: the handover host answers STUN itself (the
    lab's coturn beside kamailio), so the STUN call load runs against it, finds the uplink
    short, and states the way down as not measured."""
    site.rate_limit(1000)
    doc = netcheck_run(site, "managed-com-business", *MCB_TARGETS, "--extensions", "20", "--lldp-wait", "1",
                       "--dhcp-wait", "0.5")
    bw = check(doc, "bandwidth.per_extension")
    assert bw["status"] == "FAIL" and bw["method"] == "stun-load", bw
    assert "not measured" in bw["reason"] and "down" in bw["reason"]
    cap = measurement(doc, "capacity")["values"]
    assert cap["calls_up_bound"] == "exact" and cap["capacity_up_kbps"] < 1000.0
    assert cap["capacity_down_kbps"] is None
    assert check(doc, "sip.alg")["status"] == "PASS"  # no ALG on this router: no false alarm
    assert doc["verdict"] == "NO-GO"
    assert {"scope.downstream"} <= {i["key"] for i in doc["scope"]["not_proven"]}


def test_provider_right_behind_the_site_router_rtp_dropped() -> None:
    """The routed lab's shape: no router between the site and the provider, so the TTL
    that expires one hop past the edge reaches the provider itself; its ICMP port
    unreachable for closed media ports shows them leaving the site, and silence on the
    dropped ranges (while it answers the others) shows them blocked."""
    require_netlab()
    with field_lab(isp_hop=False) as flat:
        dc = flat.addr.dc
        flat.router_firewall(drop_udp=[(16384, 32767)])
        doc = netcheck_run(flat, "stimme", "--target", f"platform={dc}", "--target", f"services={dc}",
                           "--target", f"stun={dc}")
    egress = measurement(doc, "egress")["values"]
    assert egress["test_hop_is_destination"] is True and egress["beyond_edge"] == dc
    assert failed(doc) == ["port.udp.16384-32767@platform"]
    for ok in ("port.udp.50000-50100@platform", "port.udp.60000-60100@platform"):
        assert check(doc, ok)["status"] == "PASS"
