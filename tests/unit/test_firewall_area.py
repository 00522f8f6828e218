"""Plan and checks of the firewall/NAT/SIP-ALG area on the shipped profiles.

Numbers come from the profiles (stimme: STUN target 46.189.64.249 and six TLS rows of its
firewall table; managed-com-business: "SIP ALG disabled", handover sip.managed-com.de) and
from what the lab tests measured (router wan 198.18.0.1, the kernel ALG's Via rewrite).
"""

from __future__ import annotations

import msgspec

from netcheck import evaluate
from netcheck import profile as prof
from netcheck.plan import core as plan
from netcheck.result import Measurement, Status


def _m(mid: str, probe: str, values: dict, confidence: str = "high") -> Measurement:  # type: ignore[type-arg]
    return Measurement(id=mid, probe=probe, target="t", method=f"{probe}-test",
                       started_utc="2024-01-01T00:00:00.000Z", duration_s=0.1, values=values,
                       confidence=confidence)


def _by_id(checks: list, cid: str):  # type: ignore[no-untyped-def,type-arg]
    return next(c for c in checks if c.id == cid)


def test_stimme_plan_has_stun_and_tls_rows_but_no_lifetime_search_it_cannot_judge() -> None:
    runs = {r.id: r for r in plan.build(prof.load("stimme"), plan.Options())}
    assert runs["stun:udp:stun"].spec.host == "46.189.64.249"
    assert runs["stun:tcp:stun"].spec.transport == "tcp"
    # stimme names no SIP keep-alive/registration interval: a 190 s search could only end SKIPPED
    assert "stun:lifetime:stun" not in runs
    tls_ports = sorted(r.spec.port for k, r in runs.items() if k.startswith("tls:"))
    assert tls_ports == [443, 636, 1300, 4443, 8443, 8636]  # 5061 has no host (sip_trunk)


def test_lifetime_search_stops_at_the_first_idle_time_beyond_the_keepalive() -> None:
    p = msgspec.structs.replace(prof.load("stimme"), sip=prof.Sip(keepalive_s=30))
    runs = {r.id: r for r in plan.build(p, plan.Options())}
    assert runs["stun:lifetime:stun"].spec.lifetime_checkpoints_s == (15.0, 30.0, 45.0)
    assert runs["stun:lifetime:stun"].timeout_s == 55.0
    quick = {r.id for r in plan.build(p, plan.Options(quick=True))}
    assert "stun:lifetime:stun" not in quick and "stun:udp:stun" in quick


def test_sip_alg_plan_mirror_with_responder_options_always() -> None:
    p = prof.load("managed-com-business")  # SIP tcp+udp 5060 to the handover host
    without = {r.id: r for r in plan.build(p, plan.Options()) if r.id.startswith("sip_alg")}
    assert list(without) == ["sip_alg:options"]
    assert (without["sip_alg:options"].spec.mode, without["sip_alg:options"].spec.host,
            without["sip_alg:options"].spec.port) == ("options", "sip.managed-com.de", 5060)
    with_r = {r.id: r for r in plan.build(p, plan.Options(responder="198.18.0.2:862"))
              if r.id.startswith("sip_alg")}
    assert sorted(with_r) == ["sip_alg:options", "sip_alg:tcp:5060", "sip_alg:udp:5060"]
    tcp = with_r["sip_alg:tcp:5060"].spec
    assert (tcp.mode, tcp.host, tcp.port, tcp.control_port) == ("mirror", "198.18.0.2", 5060, 862)


def test_sip_alg_plan_ringcentral_probes_its_own_port_too() -> None:
    p = prof.load("ringcentral")  # SIP tcp+udp 5090-5099 (rc-qos)
    ids = sorted(r.id for r in plan.build(p, plan.Options(responder="198.18.0.2"))
                 if r.id.startswith("sip_alg:"))
    assert ids == ["sip_alg:options", "sip_alg:tcp:5060", "sip_alg:tcp:5090", "sip_alg:udp:5060",
                   "sip_alg:udp:5090"]


def test_sip_alg_not_measured_without_any_measurement() -> None:
    checks = evaluate.evaluate(prof.load("managed-com-business"), [])
    c = _by_id(checks, "sip.alg")
    assert c.status is Status.NOT_MEASURED and c.required
    assert sum(1 for x in checks if x.id == "sip.alg") == 1  # the placeholder is gone


CLEAN = {"mirror_reachable": True, "mirror_served": True, "findings": [], "rewrites": [],
         "register_rewrites": [], "large_message_ok": True}


def test_sip_alg_detected_by_mirror_fails_with_remedy() -> None:
    rewrite = {"field": "Via", "sent": "SIP/2.0/UDP 10.77.1.2:5060", "received":
               "SIP/2.0/UDP 198.18.0.1:5060"}
    ms = [_m("sip_alg:udp:5060", "sip_alg", {**CLEAN, "findings": ["rewrites_headers"],
                                              "rewrites": [rewrite]}),
          _m("sip_alg:tcp:5060", "sip_alg", CLEAN)]
    checks = evaluate.evaluate(prof.load("managed-com-business"), ms)
    c = _by_id(checks, "sip.alg")
    assert c.status is Status.FAIL
    assert c.reason == ("SIP ALG found: on UDP 5060 the path rewrites SIP headers (Via) "
                        "(answered: UDP 5060, TCP 5060)")
    assert c.remediation is not None and "SIP ALG" in c.remediation.text
    assert evaluate.verdict(checks).value == "NO-GO"


def test_sip_alg_pass_needs_every_leg() -> None:
    p = prof.load("managed-com-business")
    both = evaluate.evaluate(p, [_m("sip_alg:udp:5060", "sip_alg", CLEAN),
                                 _m("sip_alg:tcp:5060", "sip_alg", CLEAN)])
    assert _by_id(both, "sip.alg").status is Status.PASS
    silent = {"mirror_reachable": False, "mirror_served": True, "findings": []}
    one = _by_id(evaluate.evaluate(p, [_m("sip_alg:udp:5060", "sip_alg", silent),
                                       _m("sip_alg:tcp:5060", "sip_alg", CLEAN)]), "sip.alg")
    assert one.status is Status.WARN
    assert one.reason.startswith("TCP 5060 clean, UDP 5060 not measured (UDP 5060: no answer")
    unserved = {"mirror_reachable": False, "mirror_served": False, "findings": []}
    c = _by_id(evaluate.evaluate(p, [_m("sip_alg:udp:5060", "sip_alg", unserved),
                                     _m("sip_alg:tcp:5060", "sip_alg", CLEAN)]), "sip.alg")
    assert c.status is Status.NOT_MEASURED and "netcheck responder --sip-ports 5060" in c.reason


def test_sip_alg_options_rfc3581_evidence() -> None:
    p = prof.load("managed-com-business")
    for evidence, status in (("private_received", Status.FAIL), ("via_rewritten", Status.FAIL),
                             ("public_received", Status.PASS),
                             ("inconclusive", Status.NOT_MEASURED)):
        m = _m("sip_alg:options", "sip_alg", {"server_answered": True, "evidence": evidence,
                                              "note": "why"}, confidence="medium")
        c = _by_id(evaluate.evaluate(p, [m]), "sip.alg")
        assert c.status is status, evidence
    # the mirror legs were planned but did not answer: OPTIONS decides, the gap is named
    silent = _m("sip_alg:udp:5060", "sip_alg", {"mirror_reachable": False, "findings": []})
    m = _m("sip_alg:options", "sip_alg", {"evidence": "public_received", "note": "n"})
    c = _by_id(evaluate.evaluate(p, [silent, m]), "sip.alg")
    assert c.status is Status.PASS and "(SIP mirror: UDP 5060: no answer from the mirror)" in c.reason


def test_stun_tls_and_lifetime_checks() -> None:
    p = prof.load("stimme")
    p = msgspec.structs.replace(p, sip=prof.Sip(keepalive_s=30))
    ms = [
        _m("stun:udp:stun", "stun", {"reachable": True, "rtt_ms": 0.3, "behind_nat": True,
                                     "mapped_address": "198.18.0.1:40000", "rfc5780": True,
                                     "mapping": "address-and-port-dependent",
                                     "filtering": "address-and-port-dependent"}),
        _m("stun:tcp:stun", "stun", {"reachable": False}),
        _m("stun:lifetime:stun", "stun", {"lifetime_min_s": 15.0, "lifetime_max_s": 30.0}),
        _m("tls:0", "tls", {"verified": False, "verify_error": "self-signed certificate",
                            "issuer_o": "Example Proxy Vendor", "tls_version": "TLSv1.3"}),
    ]
    checks = evaluate.evaluate(p, ms)
    assert _by_id(checks, "stun.udp@stun").status is Status.PASS
    assert _by_id(checks, "stun.tcp@stun").status is Status.WARN  # informational
    assert _by_id(checks, "nat.mapping").status is Status.WARN
    lifetime = _by_id(checks, "nat.binding_lifetime")
    assert lifetime.status is Status.FAIL and lifetime.measured == 30.0
    assert "keep-alive interval of 30 s" in lifetime.reason
    tls = _by_id(checks, "tls.443@platform")
    assert tls.status is Status.WARN and "Example Proxy Vendor" in tls.reason


def test_sip_alg_options_without_answer_names_the_server_not_icmp() -> None:
    from netcheck.result import ErrorKind, ProbeError

    m = Measurement(id="sip_alg:options", probe="sip_alg", target="sip.managed-com.de:5060/udp",
                    method="sip-options-udp", started_utc="2024-01-01T00:00:00.000Z",
                    duration_s=2.0, values={"server_answered": False},
                    error=ProbeError(kind=ErrorKind.TIMEOUT,
                                     detail="no answer to SIP OPTIONS from 192.0.2.10:5060/udp"))
    c = _by_id(evaluate.evaluate(prof.load("managed-com-business"), [m]), "sip.alg")
    assert c.status is Status.NOT_MEASURED and c.remediation is None
    assert c.reason.startswith("SIP OPTIONS (RFC 3581) not measured: no answer to SIP OPTIONS "
                               "from 192.0.2.10:5060/udp")


def test_sip_alg_options_rewrite_outweighs_a_clean_mirror() -> None:
    """An ALG that acts only towards the provider's SIP server leaves the mirror clean."""
    p = prof.load("managed-com-business")
    options = _m("sip_alg:options", "sip_alg", {"server_answered": True, "evidence": "private_received",
                                                "evidence_detail": "private_received",
                                                "received": "10.77.1.2", "server": "sbc:5060"})
    checks = evaluate.evaluate(p, [_m("sip_alg:udp:5060", "sip_alg", CLEAN),
                                   _m("sip_alg:tcp:5060", "sip_alg", CLEAN), options])
    c = _by_id(checks, "sip.alg")
    assert c.status is Status.FAIL and "received=10.77.1.2" in c.reason
    assert "saw no rewrite on UDP 5060, TCP 5060" in c.reason
