"""Local layer 2 against real peers in the flat netlab segment (tests/netlab, ``l2_lab``).

Lab configuration the expected values come from:
- dnsmasq (``tests.netlab.peers.start_dnsmasq`` via the ``dnsmasq_dhcp`` fixture): gateway
  server 192.168.77.1, pool .100-.150; rogue server 192.168.77.253, pool .200-.220; DNS is
  off in dnsmasq, so option 6 is only sent where a test sets it; ``VOIP_DHCP_OPTIONS`` =
  43, 66, 120, 150.
- lldpd (``lldpd_med`` fixture): hostname netlab-switch on switch port p-lan, tx-interval
  1 s, LLDP-MED voice policy VLAN 100, priority "voice" (= 5), DSCP 46.
- the judging profile is the shipped managed-com-business (forbidden options 43/66/120/150).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from netcheck import profile, waits
from netcheck.evaluate import lan_local
from netcheck.platform import capabilities
from netcheck.probes import _common, dhcp, lldp
from netcheck.result import Check, Measurement, Site, Status
from tests.netlab import peers
from tests.netlab.lab import L2Lab
from tests.netlab.netns import run_async_in_netns

pytestmark = pytest.mark.netlab

GW, ROGUE = "192.168.77.1", "192.168.77.253"
PROFILE = profile.load("managed-com-business")
FORBIDDEN = "forbidden option(s) 43, 66, 120, 150"


def probe(ns: str, mod: Any, spec: Any, budget_s: float = 15.0) -> Measurement:
    """Run a probe in namespace ``ns`` (its sockets live there) with real capabilities."""

    def start() -> Any:
        ctx = _common.Context(deadline=time.monotonic() + budget_s, caps=capabilities.privileges())
        return mod.run(spec, ctx)

    m: Measurement = run_async_in_netns(ns, start)
    return m


def judged(*ms: Measurement) -> dict[str, Check]:
    return {c.id: c for c in lan_local.checks(PROFILE, {m.id: m for m in ms}, Site())}


def in_pool(addr: str, lo: int, hi: int) -> bool:
    return addr.startswith("192.168.77.") and lo <= int(addr.rsplit(".", 1)[1]) <= hi


def test_dhcp_clean_server_passes(netlab_l2: L2Lab, dnsmasq_dhcp: Callable[..., Any]) -> None:
    dnsmasq_dhcp(options={6: GW})
    m = probe(netlab_l2.ns.lan, dhcp, dhcp.Spec(interface="eth0", wait_s=1.0))
    assert m.ok, m.error
    assert m.values["servers"] == [GW] and m.values["discovers_sent"] == 2
    (offer,) = m.values["offers"]  # type: ignore[misc]
    assert in_pool(offer["yiaddr"], 100, 150)
    assert (offer["dns"], offer["routers"], offer["lease_s"]) == ([GW], [GW], 600)
    assert not {43, 66, 120, 150} & set(offer["options"])
    checks = judged(m)
    assert checks["lan.dhcp"].status is Status.PASS, checks["lan.dhcp"].reason
    assert checks["lan.dhcp_servers"].status is Status.PASS


def test_dhcp_against_dnsmasq_with_its_default_ping_check_passes(
    netlab_l2: L2Lab, dnsmasq_dhcp: Callable[..., Any]
) -> None:
    """dnsmasq (as shipped, no --no-ping) pings an address and waits 3 s before it offers
    it; the default wait (RFC 2131 4.1: a client retransmits after 4 s) must still hear it."""
    dnsmasq_dhcp(options={6: GW}, ping=True)
    m = probe(netlab_l2.ns.lan, dhcp, dhcp.Spec(interface="eth0"), budget_s=waits.DHCP_WAIT_S + 5.0)
    assert m.ok, m.error
    assert m.values["wait_s"] >= 6.0 and m.values["servers"] == [GW]
    first = m.values["first_offer_ms"]
    assert isinstance(first, float) and first >= 2_900.0  # the ping check's 3 s really happened
    check = judged(m)["lan.dhcp"]
    assert check.status is Status.PASS, check.reason


def test_dhcp_forbidden_options_fail_naming_them(
    netlab_l2: L2Lab, dnsmasq_dhcp: Callable[..., Any]
) -> None:
    dnsmasq_dhcp(options={6: GW, **peers.VOIP_DHCP_OPTIONS})
    m = probe(netlab_l2.ns.lan, dhcp, dhcp.Spec(interface="eth0", wait_s=1.0))
    (offer,) = m.values["offers"]  # type: ignore[misc]
    assert offer["option_values"]["150"] == [GW]
    assert offer["option_values"]["43"] == "0104c0a84d01"
    check = judged(m)["lan.dhcp"]
    assert check.status is Status.FAIL
    assert f"server {GW} sets {FORBIDDEN}" in check.reason
    assert check.remediation is not None


def test_two_servers_are_a_rogue_finding(
    netlab_l2: L2Lab, dnsmasq_dhcp: Callable[..., Any]
) -> None:
    dnsmasq_dhcp(options={6: GW})
    dnsmasq_dhcp(rogue=True)
    m = probe(netlab_l2.ns.lan, dhcp, dhcp.Spec(interface="eth0", wait_s=1.5))
    assert m.values["servers"] == [GW, ROGUE]
    rogue = next(o for o in m.values["offers"] if o["server_id"] == ROGUE)  # type: ignore[union-attr]
    assert in_pool(rogue["yiaddr"], 200, 220) and rogue["routers"] == [ROGUE]
    checks = judged(m)
    assert checks["lan.dhcp_servers"].status is Status.WARN
    assert f"2 DHCP servers answered on eth0: {GW}, {ROGUE}" in checks["lan.dhcp_servers"].reason
    assert checks["lan.dhcp"].status is Status.FAIL  # the rogue sends no DNS server
    assert f"server {ROGUE} sends no DNS server (option 6)" in checks["lan.dhcp"].reason


def test_no_server_is_a_fail_after_the_bounded_wait(netlab_l2: L2Lab) -> None:
    t0 = time.monotonic()
    m = probe(netlab_l2.ns.lan, dhcp, dhcp.Spec(interface="eth0", wait_s=1.0))
    assert time.monotonic() - t0 < 3.0
    assert m.ok and m.values["offer_count"] == 0 and m.values["discovers_sent"] == 2
    check = judged(m)["lan.dhcp"]
    assert check.status is Status.FAIL and "no DHCP OFFER within the wait on eth0" in check.reason


def test_voice_vlan_discover_is_tagged(netlab_l2: L2Lab) -> None:
    lab = netlab_l2
    for ns in (lab.ns.lan, lab.ns.gw):
        made = lab.exec(
            ns,
            ["ip", "link", "add", "link", "eth0", "name", "eth0.100", "type", "vlan", "id", "100"],
            check=False,
        )
        if made.returncode != 0:
            pytest.skip(f"kernel refuses 802.1Q interfaces: {made.stderr.strip()}")
        lab.ip(ns, "link", "set", "eth0.100", "up")
    lab.ip(lab.ns.gw, "addr", "add", "10.77.100.1/24", "dev", "eth0.100")
    peers.start_dnsmasq(
        lab,
        lab.ns.gw,
        "eth0.100",
        pool=("10.77.100.100", "10.77.100.150"),
        options={6: "10.77.100.1"},
        router="10.77.100.1",
    )
    tagged = probe(
        lab.ns.lan, dhcp, dhcp.Spec(id="dhcp:vlan100", interface="eth0", vlan=100, wait_s=1.0)
    )
    untagged = probe(lab.ns.lan, dhcp, dhcp.Spec(interface="eth0", wait_s=1.0))
    assert tagged.target == "eth0.100" and tagged.values["servers"] == ["10.77.100.1"]
    assert untagged.values["servers"] == []  # the VLAN 100 server is not on the native VLAN
    checks = judged(tagged)
    assert checks["lan.dhcp"].status is Status.PASS
    assert checks["lan.dhcp_servers.vlan100"].status is Status.PASS
    missing = probe(lab.ns.lan, dhcp, dhcp.Spec(interface="eth0", vlan=200, wait_s=0.5))
    assert missing.error is not None and missing.error.kind.value == "no_target"
    assert "ip link add link eth0 name eth0.200 type vlan id 200" in missing.error.detail


def test_lldp_med_voice_policy_from_lldpd(netlab_l2: L2Lab, lldpd_med: Callable[..., Any]) -> None:
    lldpd_med(vlan=100, dscp=46)
    m = probe(netlab_l2.ns.lan, lldp, lldp.Spec(interface="eth0", wait_s=5.0))
    assert m.ok, m.error
    v = m.values
    assert (v["system_name"], v["port_description"], v["protocols"]) == (
        "netlab-switch",
        "p-lan",
        ["lldp"],
    )
    assert v["med_voice_policy"] == {
        "app_type": 1,
        "app": "voice",
        "unknown": False,
        "tagged": False,
        "vlan": 100,
        "priority": 5,
        "dscp": 46,
    }
    assert v["lldp"]["mgmt_addresses"] == [netlab_l2.addr.switch]  # type: ignore[index]
    assert isinstance(v["first_frame_ms"], float) and v["first_frame_ms"] < 2500  # tx-interval 1 s
    check = judged(m)["lan.med_voice_policy"]
    assert check.status is Status.PASS
    assert (
        "netlab-switch" in check.reason and "VLAN 100 untagged, priority 5, DSCP 46" in check.reason
    )


def test_cdp_from_lldpd(netlab_l2: L2Lab) -> None:
    """lldpd -cc sends CDPv1 even without a CDP peer (hostname netlab-cdp, port p-lan); with
    no LLDP peer on the link this lldpd sends CDP only (seen with tshark)."""
    lab = netlab_l2
    lldpd, lldpcli = peers.need("lldpd", "lldpd"), peers.need("lldpcli", "lldpd")
    sock = lab.workdir / "lldpd-cdp.sock"
    conf = lab.workdir / "lldpd-cdp.conf"
    conf.write_text("configure system hostname netlab-cdp\nconfigure lldp tx-interval 1\n")
    lab.popen(
        lab.ns.switch,
        [
            lldpd,
            "-d",
            "-cc",
            "-u",
            str(sock),
            "-I",
            lab.ifs.switch_lan,
            "-L",
            lldpcli,
            "-O",
            str(conf),
        ],
        name="lldpd-cdp",
    )
    m = probe(lab.ns.lan, lldp, lldp.Spec(interface="eth0", wait_s=2.5))
    assert m.ok and "cdp" in m.values["protocols"], m.values  # type: ignore[operator]
    cdp = m.values["cdp"]
    assert (cdp["version"], cdp["device_id"], cdp["port_id"]) == (1, "netlab-cdp", "p-lan")  # type: ignore[index]
    if m.values["protocols"] == ["cdp"]:
        assert m.values["system_name"] == "netlab-cdp"
        assert judged(m)["lan.med_voice_policy"].status is Status.WARN  # CDP has no MED policy


def test_lldp_silence_is_bounded(netlab_l2: L2Lab) -> None:
    t0 = time.monotonic()
    m = probe(netlab_l2.ns.lan, lldp, lldp.Spec(interface="eth0", wait_s=1.0))
    assert time.monotonic() - t0 < 2.5
    assert m.ok and m.values["protocols"] == [] and m.values["frames"] == 0
    assert judged(m)["lan.med_voice_policy"].status is Status.WARN


def test_link_probe_in_namespace(netlab_l2: L2Lab) -> None:
    """MTU 1400 and the default route are set here; veth reports 10000 Mb/s full duplex
    (drivers/net/veth.c, veth_get_link_ksettings). Run as a process in the namespace,
    because psutil reads /proc/net, which follows the process, not the thread."""
    lab = netlab_l2
    lab.ip(lab.ns.lan, "link", "set", "eth0", "mtu", "1400")
    lab.ip(lab.ns.lan, "route", "add", "default", "via", GW)
    code = (
        "import asyncio, json, time; from netcheck.probes import link, _common; "
        "m = asyncio.run(link.run(link.Spec(), _common.Context(deadline=time.monotonic() + 5))); "
        "print(json.dumps(m.values))"
    )
    v = json.loads(lab.exec(lab.ns.lan, [sys.executable, "-c", code]).stdout)
    assert (v["interface"], v["mtu"], v["ipv4"], v["gateway"]) == (
        "eth0",
        1400,
        ["192.168.77.10"],
        GW,
    )
    assert (v["speed_mbps"], v["duplex"], v["is_up"]) == (10000, "full", True)
