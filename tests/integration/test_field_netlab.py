"""Field mode end to end: ``netcheck run`` with NO responder, against a provider that has only
its own servers (coturn STUN/TURN on 3478, kamailio answering OPTIONS on 5060, TLS
listeners), through a site router with NAT and a firewall, and one ISP router beyond it
(tests/netlab/field_lab.py). The shipped stimme and managed-com-business profiles are used
as shipped, their targets pointed into the lab with ``--target``.

Every scenario is one ``netcheck run`` in a field lab of its own, built with only that
scenario's router policy and impairment (:data:`SCENARIOS`). A run is ~25 s of waiting on
the network (a 10 s call, the hop-by-hop trace and the TTL egress test at the router's
1/s ICMP budget) and little CPU, so the module fixture builds every lab and runs every
scenario at once, each in its own namespaces: no shared router, no shared ICMP rate
budget, no policy left over from another scenario. The tests then read their scenario's
result document. Ground truth is the router's policy (nftables drops, tbf rate, the kernel
SIP helper) and the impairment bridge's seeded loss.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from tests.netlab.field_lab import field_lab
from tests.netlab.fixtures import require_netlab
from tests.netlab.lab import PortSpec

pytestmark = pytest.mark.netlab


@dataclass(frozen=True)
class Scenario:
    """One site: the router's and the provider's policy, and the ``netcheck run`` made there."""

    profile: str
    targets: tuple[str, ...]  # profile target names pointed at the lab's provider host
    args: tuple[str, ...] = ()
    drop_udp: tuple[PortSpec, ...] = ()
    drop_tcp: tuple[PortSpec, ...] = ()
    drop_icmp_echo: bool = False  # the provider drops ICMP echo requests (as many SBCs do)
    sip_alg: bool = False  # the router's kernel SIP helper (nf_conntrack_sip + nf_nat_sip)
    uplink_kbit: int | None = None  # tbf on the router
    impairment: str | None = ""  # the bridge's spec ("" = a clean bridge; None = a plain veth)
    seed: int = 1
    isp_hop: bool = True  # False: the provider right behind the site router


STIMME = ("platform", "services", "stun")
MCB = ("handover",)
MCB_LAN = ("--lldp-wait", "1", "--dhcp-wait", "0.5")

#: Every scenario of this module, by name; each test reads its own.
SCENARIOS = {
    "good": Scenario("stimme", STIMME),
    "rtp_dropped": Scenario("stimme", STIMME, drop_udp=((16384, 32767), (50000, 50100))),
    "icmp_dropped": Scenario("stimme", STIMME, drop_icmp_echo=True),
    "loss_2pct_icmp_dropped": Scenario("stimme", STIMME, drop_icmp_echo=True, impairment="loss=2%",
                                       seed=16),
    "tcp_1300_dropped": Scenario("stimme", STIMME, drop_tcp=(1300,)),
    "mcb_icmp_and_stun_dropped": Scenario("managed-com-business", MCB, MCB_LAN, drop_udp=(3478,),
                                          drop_icmp_echo=True),
    "mcb_sip_alg": Scenario("managed-com-business", MCB, MCB_LAN, sip_alg=True),
    "mcb_1mbit_uplink_20_ext": Scenario("managed-com-business", MCB,
                                        ("--extensions", "20", *MCB_LAN), uplink_kbit=1000),
    "flat_rtp_dropped": Scenario("stimme", STIMME, drop_udp=((16384, 32767),), isp_hop=False,
                                 impairment=None),
}


#: Seconds between the scenarios' starts: a run's CPU comes in bursts (lab build, interpreter
#: start-up, report rendering); spread out, they do not all land on the others' 50 pps calls.
STAGGER_S = 3.0


@dataclass(frozen=True)
class FieldRun:
    """What a scenario's run left: the process (None if its lab failed to build) and the
    provider's address in its lab."""

    proc: subprocess.CompletedProcess[str] | None
    provider: str
    error: str = ""


Runs = dict[str, FieldRun]


def run_scenario(sc: Scenario, start_after_s: float = 0.0) -> FieldRun:
    """Build the scenario's lab, set its policy, ``netcheck run --quick --json`` in the
    site's LAN namespace; the lab is torn down before this returns."""
    time.sleep(start_after_s)
    try:
        with field_lab(sc.impairment, seed=sc.seed, isp_hop=sc.isp_hop) as lab:
            if sc.drop_udp or sc.drop_tcp:
                lab.router_firewall(drop_udp=sc.drop_udp, drop_tcp=sc.drop_tcp)
            if sc.drop_icmp_echo:
                lab.drop_icmp_echo(True)
            if sc.sip_alg:
                lab.sip_alg(True)
            if sc.uplink_kbit is not None:
                lab.rate_limit(sc.uplink_kbit)
            targets = [a for name in sc.targets for a in ("--target", f"{name}={lab.addr.dc}")]
            argv = [sys.executable, "-m", "netcheck", "run", "--profile", sc.profile, "--quick",
                    "--json", *targets, *sc.args]
            return FieldRun(lab.exec(lab.ns.lan, argv, check=False, timeout=240), lab.addr.dc)
    except Exception as exc:  # a lab that fails to build fails its own test, not the module
        return FieldRun(None, "", f"{type(exc).__name__}: {exc}")


@pytest.fixture(scope="module")
def field_runs() -> Iterator[Runs]:
    """Every scenario run at once, each in its own lab (see the module docstring)."""
    require_netlab()
    with ThreadPoolExecutor(max_workers=len(SCENARIOS)) as pool:
        futures = {name: pool.submit(run_scenario, sc, i * STAGGER_S)
                   for i, (name, sc) in enumerate(SCENARIOS.items())}
        yield {name: f.result() for name, f in futures.items()}


def result(field_runs: Runs, name: str) -> dict[str, Any]:
    """The scenario's result document; its exit code must match its verdict."""
    run = field_runs[name]
    assert run.proc is not None, f"the {name} lab failed: {run.error}"
    assert run.proc.returncode in (0, 1, 3), run.proc.stderr[-3000:]
    doc: dict[str, Any] = json.loads(run.proc.stdout)
    assert doc["verdict"] == {0: "GO", 1: "NO-GO", 3: "INCOMPLETE"}[run.proc.returncode]
    return doc


def check(doc: dict[str, Any], cid: str) -> dict[str, Any]:
    return next(c for c in doc["checks"] if c["id"] == cid)


def measurement(doc: dict[str, Any], mid: str) -> dict[str, Any]:
    return next(m for m in doc["measurements"] if m["id"] == mid)


def failed(doc: dict[str, Any]) -> list[str]:
    return [c["id"] for c in doc["checks"] if c["status"] == "FAIL"]


def test_good_site_is_go_in_field_mode(field_runs: Runs) -> None:
    """A good site: no firewall rule, ICMP answered, no ALG, no rate limit."""
    doc = result(field_runs, "good")
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


def test_rtp_range_dropped_is_no_go_naming_the_range(field_runs: Runs) -> None:
    doc = result(field_runs, "rtp_dropped")  # UDP 16384-32767 and 50000-50100 dropped
    assert doc["verdict"] == "NO-GO"
    assert set(failed(doc)) == {"port.udp.16384-32767@platform", "port.udp.50000-50100@platform"}
    rtp = check(doc, "port.udp.16384-32767@platform")
    assert "16384-32767" in rtp["reason"] and "blocked by the site firewall" in rtp["reason"]
    assert check(doc, "port.udp.60000-60100@platform")["status"] == "PASS"


def test_icmp_dropped_path_still_measured_by_stun(field_runs: Runs) -> None:
    doc = result(field_runs, "icmp_dropped")
    assert doc["verdict"] == "GO"
    for metric in ("jitter_ms", "loss_pct", "one_way_delay_ms"):
        c = check(doc, f"end_to_end.{metric}@platform")
        assert c["status"] == "PASS" and c["method"] == "stun-50pps", c
    remedies = [c["remediation"]["text"] for c in doc["checks"] if c.get("remediation")]
    assert not any("ICMP" in r for r in remedies), remedies


def test_two_percent_loss_with_icmp_dropped_is_no_go_on_loss(field_runs: Runs) -> None:
    doc = result(field_runs, "loss_2pct_icmp_dropped")  # the bridge: loss=2%, seed 16
    loss = check(doc, "end_to_end.loss_pct@platform")
    assert loss["status"] == "FAIL" and loss["method"] == "stun-50pps"
    assert doc["verdict"] == "NO-GO"
    # 2 % each way: the round trip loses 1 - 0.98^2 = 3.96 %; 500 requests in a quick run
    assert 2.0 <= measurement(doc, "stream:platform")["values"]["loss_pct"] <= 7.0


def test_tcp_1300_dropped_is_no_go(field_runs: Runs) -> None:
    doc = result(field_runs, "tcp_1300_dropped")
    assert doc["verdict"] == "NO-GO"
    assert failed(doc) == ["port.tcp.1300@platform"]


def test_managed_com_business_icmp_and_stun_dropped_falls_back_to_sip_options(
        field_runs: Runs) -> None:
    """VSE NET names no STUN server, so the call first tries STUN at the handover host
    itself; with UDP 3478 dropped by the site and ICMP echo dropped at the handover point
    the path is measured by the last fall-back, a SIP OPTIONS series to the SBC (kamailio),
    and the answered OPTIONS credit the (optional) UDP 5060 row. The lab's LAN has static
    addresses and no DHCP server, which the profile requires: lan.dhcp fails; the LAN-side
    figures (2 ms layer-2 limits against the router namespace) are not what this test is
    about."""
    doc = result(field_runs, "mcb_icmp_and_stun_dropped")  # UDP 3478 dropped, ICMP echo dropped
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


def test_kernel_sip_alg_is_no_go(field_runs: Runs) -> None:
    """The router's kernel SIP helper (nf_conntrack_sip + nf_nat_sip) rewrites SIP both ways;
    without a responder, OPTIONS with rport (RFC 3581) to the SBC shows it: the answer names
    our private address although STUN (at the SBC host, field mode's guess) saw the NAT."""
    doc = result(field_runs, "mcb_sip_alg")
    alg = check(doc, "sip.alg")
    assert alg["status"] == "FAIL" and alg["method"] == "sip-options-udp", alg
    assert doc["verdict"] == "NO-GO" and alg["remediation"]["key"] == "sip_alg"


def test_one_mbit_uplink_for_20_extensions_is_no_go_on_upstream_bandwidth(
        field_runs: Runs) -> None:
    """20 extensions x 100 kbit/s (VSE NET) = 2000 kbit/s needed up; tbf caps the uplink at
    1000 kbit/s. VSE NET names no STUN server: the handover host answers STUN itself (the
    lab's coturn beside kamailio), so the STUN call load runs against it, finds the uplink
    short, and states the way down as not measured."""
    doc = result(field_runs, "mcb_1mbit_uplink_20_ext")
    bw = check(doc, "bandwidth.per_extension")
    assert bw["status"] == "FAIL" and bw["method"] == "stun-load", bw
    assert "not measured" in bw["reason"] and "down" in bw["reason"]
    cap = measurement(doc, "capacity")["values"]
    assert cap["calls_up_bound"] == "exact" and cap["capacity_up_kbps"] < 1000.0
    assert cap["capacity_down_kbps"] is None
    assert check(doc, "sip.alg")["status"] == "PASS"  # no ALG on this router: no false alarm
    assert doc["verdict"] == "NO-GO"
    assert {"scope.downstream"} <= {i["key"] for i in doc["scope"]["not_proven"]}


def test_provider_right_behind_the_site_router_rtp_dropped(field_runs: Runs) -> None:
    """The routed lab's shape: no router between the site and the provider, so the TTL
    that expires one hop past the edge reaches the provider itself; its ICMP port
    unreachable for closed media ports shows them leaving the site, and silence on the
    dropped ranges (while it answers the others) shows them blocked."""
    doc = result(field_runs, "flat_rtp_dropped")  # UDP 16384-32767 dropped
    dc = field_runs["flat_rtp_dropped"].provider
    egress = measurement(doc, "egress")["values"]
    assert egress["test_hop_is_destination"] is True and egress["beyond_edge"] == dc
    assert failed(doc) == ["port.udp.16384-32767@platform"]
    for ok in ("port.udp.50000-50100@platform", "port.udp.60000-60100@platform"):
        assert check(doc, ok)["status"] == "PASS"
