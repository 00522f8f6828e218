"""SIP ALG detection through the lab router (issue 15), end to end: plan -> probes -> check.

One routed lab per module; each test sets the router's SIP behaviour, runs the planned
SIP ALG probes from lan and judges them with the shipped rules. Ground truth is the
router's configuration:

- the Linux kernel's own SIP ALG: an nftables ``ct helper`` of type "sip" (nf_conntrack_sip
  + nf_nat_sip) per port/transport, with masquerade (plain, ``random``, ``fully-random``)
  or without NAT (a helper that only inspects: it drops requests it cannot parse);
- a user-space rewriting SIP proxy (tests/netlab/sip_alg_proxy.py) behind an nftables
  redirect, imitating consumer-router ALGs (REGISTER-only, stale Content-Length, ...);
- nftables rules that drop SIP or drop non-SIP answers on SIP ports (inspecting firewall).

The far end is ``netcheck responder`` as shipped, a subprocess in dc, keyed
(``--key-file``), serving the mirror on 5060 and 5090 (the RingCentral profile's first SIP
port, profiles/ringcentral.yaml). The OPTIONS method (RFC 3581) runs against kamailio in dc
with coturn for the STUN-mapped address.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from netcheck.evaluate import firewall
from netcheck.plan import core as plan
from netcheck.plan import firewall as firewall_plan
from netcheck.probes import sip_alg
from netcheck.probes._common import Context
from netcheck.profile import Profile, load
from netcheck.result import Check, Measurement, Site, Status
from tests.netlab import peers
from tests.netlab.fixtures import require_netlab
from tests.netlab.lab import Proc, RoutedLab, routed_lab
from tests.netlab.netns import run_in_netns

pytestmark = pytest.mark.netlab

KEY = b"sip-mirror-test-key"
RINGCENTRAL = load("ringcentral")  # SIP rows: tcp+udp 5090-5099 (rc-qos) -> legs 5060 + 5090
ALL_LEGS = [(5060, "udp"), (5060, "tcp"), (5090, "udp"), (5090, "tcp")]
KAMAILIO_PORT = 5080


@dataclass
class SipLab:
    lab: RoutedLab
    control_port: int
    proxies: list[Proc] = field(default_factory=list)

    @property
    def responder(self) -> str:
        return f"{self.lab.addr.dc}:{self.control_port}"


@pytest.fixture(scope="module")
def sip_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SipLab]:
    require_netlab()
    key_file = tmp_path_factory.mktemp("sipalg") / "responder.key"
    key_file.write_bytes(KEY + b"\n")
    with routed_lab() as lab:
        port = lab.free_port(lab.ns.dc, "tcp", lab.addr.dc)
        proc = lab.popen(lab.ns.dc, [sys.executable, "-m", "netcheck", "responder", "--bind",
                                     lab.addr.dc, "--port", str(port), "--sip-ports", "5060,5090",
                                     "--key-file", str(key_file)], name="responder")
        lab.wait_for_port(lab.ns.dc, port, "tcp", timeout=20.0, proc=proc)
        for p in (5060, 5090):
            lab.wait_for_port(lab.ns.dc, p, "udp", timeout=10.0, proc=proc)
            lab.wait_for_port(lab.ns.dc, p, "tcp", timeout=10.0, proc=proc)
        # for "helper without NAT": dc can route back to the lan subnet
        lab.ip(lab.ns.dc, "route", "replace", "10.77.1.0/24", "via", lab.addr.router_wan)
        yield SipLab(lab, port)


@pytest.fixture
def sl(sip_lab: SipLab) -> Iterator[SipLab]:
    """The shared lab, router back to plain masquerade with no ALG after each test."""
    yield sip_lab
    for proc in sip_lab.proxies:
        sip_lab.lab.stop(proc)
    sip_lab.proxies.clear()
    for table in ("netlab_salg", "netlab_uproxy", "netlab_sipfw"):
        _table(sip_lab.lab, table, "")
    sip_lab.lab.router_firewall()
    nat(sip_lab.lab, "")


# -- router behaviours ---------------------------------------------------------------------


def _table(lab: RoutedLab, name: str, body: str, family: str = "inet") -> None:
    """Replace (or with an empty body, remove) one nftables table in the router."""
    text = f"table {family} {name} {{}}\ndelete table {family} {name}\n"
    lab.nft(text + (f"table {family} {name} {{\n{body}\n}}\n" if body else ""))


def kernel_alg(lab: RoutedLab, legs: list[tuple[int, str]]) -> None:
    """nf_conntrack_sip (+ nf_nat_sip when the router NATs) on these lan -> wan legs."""
    rules = "\n".join(f'    iifname "{lab.ifs.router_lan}" {t} dport {p} ct helper set "sip-{t}"'
                      for p, t in legs)
    _table(lab, "netlab_salg",
           '  ct helper sip-udp { type "sip" protocol udp; l3proto ip; }\n'
           '  ct helper sip-tcp { type "sip" protocol tcp; l3proto ip; }\n'
           f"  chain pre {{\n    type filter hook prerouting priority filter;\n{rules}\n  }}")


def nat(lab: RoutedLab, flags: str | None) -> None:
    """Masquerade on wan (``flags``: "", "random", "fully-random"), or None: no NAT."""
    rule = "" if flags is None else f'  oifname "{lab.ifs.router_wan}" masquerade {flags}'
    _table(lab, "netlab_nat", "chain post {\n  type nat hook postrouting priority srcnat;\n"
           f"{rule}\n }}", family="ip")


def user_space_alg(sl: SipLab, transport: str, port: int, *flags: str) -> None:
    """The rewriting proxy on the router, lan -> wan ``transport``/``port`` redirected to it."""
    lab = sl.lab
    listen = lab.free_port(lab.ns.rtr, transport)
    proc = lab.popen(lab.ns.rtr, [sys.executable, "-m", "tests.netlab.sip_alg_proxy",
                                  "--transport", transport, "--listen", str(listen),
                                  "--upstream", f"{lab.addr.dc}:{port}",
                                  "--public", lab.addr.router_wan, *flags], name="sip-alg-proxy")
    sl.proxies.append(proc)
    lab.wait_for_port(lab.ns.rtr, listen, transport, proc=proc)
    _table(lab, "netlab_uproxy", "  chain pre {\n    type nat hook prerouting priority dstnat;\n"
           f'    iifname "{lab.ifs.router_lan}" {transport} dport {port} redirect to :{listen}'
           "\n  }", family="ip")


def inspecting_firewall(lab: RoutedLab, ports: str = "5060, 5090") -> None:
    """Drop wan -> lan UDP from a SIP port whose payload does not start with "SIP/2.0"
    (what a SIP-inspecting firewall does with answers it cannot parse)."""
    _table(lab, "netlab_sipfw", "  chain inspect {\n    type filter hook forward priority filter;\n"
           f'    iifname "{lab.ifs.router_wan}" udp sport {{ {ports} }} '
           "@th,64,56 != 0x5349502f322e30 drop\n  }")


# -- running the check ---------------------------------------------------------------------


def measure(sl: SipLab, profile: Profile = RINGCENTRAL, key: bytes | None = KEY,
            ) -> dict[str, Measurement]:
    """Plan the SIP ALG runs with the responder (without the OPTIONS run: its host is the
    profile's real provider) and run them all from lan, concurrently as the runner does."""
    runs = plan.build(profile, plan.Options(responder=sl.responder, responder_key=key))
    specs = [r.spec for r in runs if r.probe == "sip_alg" and r.id != "sip_alg:options"]

    async def all_legs() -> list[Measurement]:
        return await asyncio.gather(*(sip_alg.run(s, Context(deadline=time.monotonic() + 15))
                                      for s in specs))

    return {m.id: m for m in run_in_netns(sl.lab.ns.lan, asyncio.run, all_legs())}


def judge(by_id: dict[str, Measurement], profile: Profile = RINGCENTRAL) -> Check:
    return next(c for c in firewall.checks(profile, by_id, Site()) if c.id == "sip.alg")


def findings(by_id: dict[str, Measurement], port: int, transport: str) -> list[Any]:
    return list(by_id[f"sip_alg:{transport}:{port}"].values["findings"])


# -- the plan ------------------------------------------------------------------------------


def test_plan_covers_every_sip_port_and_transport() -> None:
    assert firewall_plan.sip_legs(RINGCENTRAL) == ALL_LEGS
    assert firewall_plan.sip_legs(load("generic-voip")) == [(5060, "udp"), (5060, "tcp")]


# -- mirror: clean path, kernel ALG variants ----------------------------------------------


def test_clean_router_passes_only_with_every_leg(sl: SipLab) -> None:
    by_id = measure(sl)
    assert sorted(by_id) == sorted(f"sip_alg:{t}:{p}" for p, t in ALL_LEGS)
    for m in by_id.values():
        assert m.error is None and m.values["findings"] == [], (m.id, m.values)
        assert m.values["answered"] == {"invite": "mirror", "register": "mirror",
                                         "large": "mirror", "canary": "mirror", "answer": "digest"}
        assert m.values["answer_via"].endswith(f";received={sl.lab.addr.router_wan}"
                                               f";rport={m.values['answer_via'].split('rport=')[1]}")
        assert m.values["large_message_ok"] is True
    check = judge(by_id)
    assert check.status is Status.PASS, check.reason
    assert "UDP 5060, TCP 5060, UDP 5090, TCP 5090" in check.reason


def test_kernel_alg_on_udp_only(sl: SipLab) -> None:
    kernel_alg(sl.lab, [(5060, "udp")])
    by_id = measure(sl)
    assert {"rewrites_headers", "rewrites_sdp", "rewrites_registrations"} <= set(
        findings(by_id, 5060, "udp"))
    assert all(findings(by_id, p, t) == [] for p, t in ALL_LEGS if (p, t) != (5060, "udp"))
    rewrites = {r["field"]: r for r in by_id["sip_alg:udp:5060"].values["rewrites"]}
    lan, wan = sl.lab.addr.lan, sl.lab.addr.router_wan
    assert rewrites["sdp c="] == {"field": "sdp c=", "sent": f"c=IN IP4 {lan}",
                                  "received": f"c=IN IP4 {wan}"}
    check = judge(by_id)
    assert check.status is Status.FAIL
    found, answered = check.reason.split(" (answered: ")
    assert "on UDP 5060 the path rewrites SIP headers (Via" in found
    assert "rewrites the SDP (c=" in found and "TCP" not in found
    assert answered == "UDP 5060, TCP 5060, UDP 5090, TCP 5090)"


def test_kernel_alg_on_tcp_only(sl: SipLab) -> None:
    kernel_alg(sl.lab, [(5060, "tcp")])
    by_id = measure(sl)
    assert "rewrites_registrations" in findings(by_id, 5060, "tcp")
    assert all(findings(by_id, p, t) == [] for p, t in ALL_LEGS if (p, t) != (5060, "tcp"))
    check = judge(by_id)
    assert check.status is Status.FAIL and "on TCP 5060 the path" in check.reason


def test_kernel_alg_on_the_profile_port_only(sl: SipLab) -> None:
    kernel_alg(sl.lab, [(5090, "udp"), (5090, "tcp")])
    by_id = measure(sl)
    assert findings(by_id, 5060, "udp") == findings(by_id, 5060, "tcp") == []
    assert "rewrites_sdp" in findings(by_id, 5090, "udp")
    check = judge(by_id)
    assert check.status is Status.FAIL
    found = check.reason.split(" (answered: ")[0]
    assert "UDP 5090" in found and "TCP 5090" in found and "5060" not in found


@pytest.mark.parametrize("flags", ["random", "fully-random"])
def test_kernel_alg_with_randomised_masquerade(sl: SipLab, flags: str) -> None:
    nat(sl.lab, flags)
    kernel_alg(sl.lab, ALL_LEGS)
    by_id = measure(sl)
    for p, t in ALL_LEGS:
        assert "rewrites_registrations" in findings(by_id, p, t), (p, t)
    assert judge(by_id).status is Status.FAIL


def test_kernel_helper_without_nat_drops_what_it_cannot_parse(sl: SipLab) -> None:
    nat(sl.lab, None)
    kernel_alg(sl.lab, [(5060, "udp"), (5060, "tcp")])
    by_id = measure(sl)
    for t in ("udp", "tcp"):
        m = by_id[f"sip_alg:{t}:5060"]
        assert m.values["findings"] == ["drops_unparseable"], m.values
        assert m.values["rewrites"] == [] and m.values["register_rewrites"] == []
    check = judge(by_id)
    assert check.status is Status.FAIL and "drops SIP it cannot parse" in check.reason


def test_same_router_twice_in_a_row_same_verdict(sl: SipLab) -> None:
    kernel_alg(sl.lab, ALL_LEGS)
    first, second = measure(sl), measure(sl)
    for by_id in (first, second):
        check = judge(by_id)
        assert check.status is Status.FAIL
        for p, t in ALL_LEGS:
            assert by_id[f"sip_alg:{t}:{p}"].values["answered"]["invite"] == "mirror", (p, t)
            assert {"rewrites_headers", "rewrites_registrations"} <= set(findings(by_id, p, t))
    assert [findings(first, p, t) for p, t in ALL_LEGS] == [findings(second, p, t)
                                                            for p, t in ALL_LEGS]


# -- mirror: dropped SIP, inspecting firewalls ---------------------------------------------


def test_sip_dropped_everywhere_is_not_measured(sl: SipLab) -> None:
    sl.lab.router_firewall(drop_udp=[5060, 5090], drop_tcp=[5060, 5090])
    check = judge(measure(sl))
    assert check.status is Status.NOT_MEASURED
    assert "UDP 5060: no answer from the mirror, which serves that port" in check.reason


def test_one_transport_silent_is_named_never_pass(sl: SipLab) -> None:
    sl.lab.router_firewall(drop_udp=[5060])
    check = judge(measure(sl))
    assert check.status is Status.WARN
    assert "TCP 5060, UDP 5090, TCP 5090 clean, UDP 5060 not measured" in check.reason
    assert "sign of a SIP-aware middlebox" in check.reason


def test_kernel_alg_behind_a_firewall_that_drops_unparseable_answers(sl: SipLab) -> None:
    kernel_alg(sl.lab, [(5060, "udp")])
    inspecting_firewall(sl.lab)
    by_id = measure(sl)
    udp = by_id["sip_alg:udp:5060"].values
    assert udp["answered"]["invite"] == "digest"
    assert {"rewrites_unseen", "rewrites_registrations", "drops_non_sip_answers"} <= set(
        udp["findings"])
    check = judge(by_id)
    assert check.status is Status.FAIL and "digest differs" in check.reason


def test_inspecting_firewall_alone_is_a_warning(sl: SipLab) -> None:
    inspecting_firewall(sl.lab)
    by_id = measure(sl)
    assert findings(by_id, 5060, "udp") == ["drops_non_sip_answers"]
    check = judge(by_id)
    assert check.status is Status.WARN and "drops non-SIP traffic" in check.reason


# -- mirror: user-space ALGs ----------------------------------------------------------------


def test_alg_that_rewrites_only_registrations(sl: SipLab) -> None:
    user_space_alg(sl, "udp", 5060, "--methods", "REGISTER")
    by_id = measure(sl)
    assert findings(by_id, 5060, "udp") == ["rewrites_registrations"]
    regs = {r["field"] for r in by_id["sip_alg:udp:5060"].values["register_rewrites"]}
    assert {"Via", "Contact"} <= regs
    check = judge(by_id)
    assert check.status is Status.FAIL and "rewrites registrations (REGISTER: Via" in check.reason


def test_alg_that_leaves_content_length_stale(sl: SipLab) -> None:
    # 10.77.1.2 -> 198.18.0.1 lengthens the SDP by one octet per address
    user_space_alg(sl, "udp", 5060, "--stale-length")
    by_id = measure(sl)
    assert "stale_content_length" in findings(by_id, 5060, "udp")
    check = judge(by_id)
    assert check.status is Status.FAIL
    assert "rewrote addresses but left Content-Length stale" in check.reason


def test_tcp_alg_that_rewrites_headers_but_not_sdp(sl: SipLab) -> None:
    user_space_alg(sl, "tcp", 5090, "--headers-only")
    by_id = measure(sl)
    assert findings(by_id, 5090, "tcp") == ["rewrites_headers", "rewrites_registrations"]
    check = judge(by_id)
    assert check.status is Status.FAIL and "on TCP 5090 the path rewrites SIP headers" in check.reason


def test_router_that_answers_registrations_itself(sl: SipLab) -> None:
    user_space_alg(sl, "udp", 5060, "--answer", "REGISTER")
    by_id = measure(sl)
    assert by_id["sip_alg:udp:5060"].values["answered"]["register"] == "middlebox"
    assert "intercepts" in findings(by_id, 5060, "udp")
    check = judge(by_id)
    assert check.status is Status.FAIL
    assert "answers SIP itself instead of forwarding it (SIP/2.0 403 Forbidden)" in check.reason


def test_alg_that_rewrites_only_answers_coming_in(sl: SipLab) -> None:
    user_space_alg(sl, "udp", 5060, "--methods", "NONE", "--rewrite-answers")
    by_id = measure(sl)
    m = by_id["sip_alg:udp:5060"]
    assert m.values["findings"] == ["rewrites_answers"]
    assert f";received={sl.lab.addr.lan};" in m.values["answer_via"]  # RFC 3581, mapped back
    check = judge(by_id)
    assert check.status is Status.FAIL
    assert "on UDP 5060 the path rewrites SIP answers on their way back in" in check.reason


def test_inspecting_alg_that_drops_unparseable_requests(sl: SipLab) -> None:
    user_space_alg(sl, "tcp", 5060, "--drop-unparseable", "--methods", "NONE")
    by_id = measure(sl)
    assert findings(by_id, 5060, "tcp") == ["drops_unparseable"]
    assert judge(by_id).status is Status.FAIL


# -- the keyed mirror ----------------------------------------------------------------------


def test_keyed_mirror_ignores_unkeyed_requests(sl: SipLab) -> None:
    """Straight at the mirror (no control port to ask first): every request goes out
    without X-Netcheck-Auth and none is answered."""
    specs = [sip_alg.Spec(id=f"sip_alg:{t}:{p}", host=sl.lab.addr.dc, port=p, transport=t,
                          wait_s=0.5) for p, t in ALL_LEGS]

    async def all_legs() -> list[Measurement]:
        return await asyncio.gather(*(sip_alg.run(s, Context(deadline=time.monotonic() + 10))
                                      for s in specs))

    by_id = {m.id: m for m in run_in_netns(sl.lab.ns.lan, asyncio.run, all_legs())}
    assert all(not m.values["mirror_reachable"] for m in by_id.values())
    check = judge(by_id)
    assert check.status is Status.NOT_MEASURED
    assert "UDP 5060: no answer from the mirror, TCP 5060: no answer" in check.reason


def test_unkeyed_run_against_keyed_responder_says_so(sl: SipLab) -> None:
    check = judge(measure(sl, key=None))
    assert check.status is Status.NOT_MEASURED
    assert "UDP 5060: the responder requires a key" in check.reason


def test_wrong_key_is_named_and_nothing_is_sent(sl: SipLab) -> None:
    by_id = measure(sl, key=b"another key")
    assert all(m.error is not None and "the responder rejected our key" in m.error.detail
               for m in by_id.values())
    check = judge(by_id)
    assert check.status is Status.NOT_MEASURED
    assert "UDP 5060: the responder rejected our key" in check.reason


def test_port_the_mirror_does_not_serve_names_the_command(sl: SipLab) -> None:
    spec = sip_alg.Spec(id="sip_alg:udp:5070", host=sl.lab.addr.dc, port=5070, key=KEY,
                        control_port=sl.control_port)
    m = run_in_netns(sl.lab.ns.lan, asyncio.run,
                     sip_alg.run(spec, Context(deadline=time.monotonic() + 5)))
    assert m.error is not None and "`netcheck responder --sip-ports 5070`" in m.error.detail
    assert m.values["mirror_served"] is False


# -- OPTIONS with RFC 3581 against kamailio -------------------------------------------------


KAMAILIO_CFG = """#!KAMAILIO
log_stderror=yes
children=1
listen=udp:{addr}:{port}
mpath="{mpath}"
loadmodule "sl.so"
request_route {{
    if (method=="OPTIONS") {{ sl_send_reply("200", "OK"); exit; }}
    sl_send_reply("405", "Method Not Allowed");
}}
"""


@pytest.fixture(scope="module")
def sbc(sip_lab: SipLab) -> tuple[str, int, str, int]:
    """kamailio (SIP server, RFC 3581) and coturn (STUN) in dc: (sip host, port, stun, port)."""
    lab = sip_lab.lab
    cfg = Path(lab.workdir) / "kamailio.cfg"
    modules = sorted(Path("/usr/lib").glob("*/kamailio/modules/sl.so"))  # Debian multiarch
    assert modules, "kamailio's sl module not found under /usr/lib/*/kamailio/modules"
    cfg.write_text(KAMAILIO_CFG.format(addr=lab.addr.dc, port=KAMAILIO_PORT,
                                       mpath=f"{modules[0].parent}/"))
    proc = lab.popen(lab.ns.dc, [peers.need("kamailio", "the Debian package kamailio"), "-f",
                                 str(cfg), "-DD", "-E", "-Y", str(lab.workdir), "-P",
                                 str(Path(lab.workdir) / "kamailio.pid")], name="kamailio")
    lab.wait_for_port(lab.ns.dc, KAMAILIO_PORT, "udp", timeout=15.0, proc=proc)
    turn = peers.start_coturn(lab, lab.ns.dc, lab.addr.dc)
    return lab.addr.dc, KAMAILIO_PORT, turn.addr, turn.port


def options_check(sl: SipLab, sbc: tuple[str, int, str, int]) -> tuple[Measurement, Check]:
    spec = sip_alg.Spec(id="sip_alg:options", host=sbc[0], port=sbc[1], mode="options",
                        stun_host=sbc[2], stun_port=sbc[3])
    m = run_in_netns(sl.lab.ns.lan, asyncio.run,
                     sip_alg.run(spec, Context(deadline=time.monotonic() + 8)))
    return m, judge({m.id: m}, load("generic-voip"))


def test_options_behind_kernel_alg_fails_with_the_private_received(
        sl: SipLab, sbc: tuple[str, int, str, int]) -> None:
    kernel_alg(sl.lab, [(KAMAILIO_PORT, "udp")])
    m, check = options_check(sl, sbc)
    assert m.values["received"] == sl.lab.addr.lan
    assert m.values["mapped_address"].startswith(f"{sl.lab.addr.router_wan}:")
    assert m.values["evidence"] == "private_received"
    assert check.status is Status.FAIL and "high confidence" in check.reason
    assert f"received={sl.lab.addr.lan}" in check.reason


def test_options_without_alg_passes_with_medium_confidence(
        sl: SipLab, sbc: tuple[str, int, str, int]) -> None:
    m, check = options_check(sl, sbc)
    assert m.values["received"] == sl.lab.addr.router_wan
    assert m.values["via_returned_sent_by"] == m.values["via_sent_by"]
    assert check.status is Status.PASS and "medium confidence" in check.reason


def test_options_without_stun_cannot_decide(sl: SipLab, sbc: tuple[str, int, str, int]) -> None:
    spec = sip_alg.Spec(id="sip_alg:options", host=sbc[0], port=sbc[1], mode="options")
    m = run_in_netns(sl.lab.ns.lan, asyncio.run,
                     sip_alg.run(spec, Context(deadline=time.monotonic() + 8)))
    check = judge({m.id: m}, load("generic-voip"))
    assert check.status is Status.NOT_MEASURED and "STUN" in check.reason


def test_options_behind_a_user_space_alg_sees_its_via_rewritten(
        sl: SipLab, sbc: tuple[str, int, str, int]) -> None:
    """A consumer-style ALG that rewrites requests but not answers: the server copies the
    rewritten Via into its answer (RFC 3261 8.2.6.2), so it comes back changed."""
    user_space_alg(sl, "udp", KAMAILIO_PORT, "--methods", "OPTIONS")
    m, check = options_check(sl, sbc)
    assert m.values["evidence"] == "via_rewritten"
    assert m.values["via_returned_sent_by"].startswith(f"{sl.lab.addr.router_wan}:")
    assert check.status is Status.FAIL and "came back as" in check.reason
