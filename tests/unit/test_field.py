"""Field mode pieces without sockets: STUN stream packets (RFC 8489), the TTL site-egress
logic (hop choice, sampling, ICMP error parsing), and the judges' use of field evidence."""

from __future__ import annotations

import random
import socket
import struct

from netcheck.evaluate import field
from netcheck.probes import udp_egress as eg
from netcheck.probes._stream_sessions import stun_answer_index, stun_request
from netcheck.profile import load
from netcheck.result import Measurement, Status
from netcheck.wire import stun


def test_stun_request_has_the_rtp_size_and_answers_match_by_transaction_id() -> None:
    raw = stun_request(b"\x01\x02\x03\x04", 517, 172)  # G.711 20 ms: 12 RTP + 160 payload
    assert len(raw) == 172
    msg = stun.parse(raw)
    assert msg.fingerprint_ok and msg.cls is stun.Class.REQUEST and msg.method == stun.Method.BINDING
    answer = stun.Message(stun.Method.BINDING, stun.Class.SUCCESS, msg.transaction_id).to_bytes()
    assert stun_answer_index(answer, b"\x01\x02\x03\x04") == 517
    assert stun_answer_index(answer, b"\x09\x09\x09\x09") is None  # another call's answer
    assert stun_answer_index(raw, b"\x01\x02\x03\x04") is None  # a request is no answer
    assert stun_answer_index(b"\x00" * 10, b"\x01\x02\x03\x04") is None


def test_samples_are_the_ends_the_middle_and_random_ports() -> None:
    got = eg.sample_ports(16384, 32767, 4, random.Random(1))
    assert got[:3] == [16384, 32767, 24575] and 16384 < got[3] < 32767
    assert eg.sample_ports(3478, 3481, 4, random.Random(1)) == [3478, 3479, 3480, 3481]


def test_edge_is_the_last_site_address_and_the_test_ttl_the_next_answering_hop() -> None:
    path = eg.choose_ttl(eg.Path(hops=["10.77.1.1", "192.168.0.1", None, "198.18.0.254", "203.0.113.9"]))
    assert (path.edge_ttl, path.test_ttl) == (2, 4)
    carrier_nat = eg.choose_ttl(eg.Path(hops=["192.168.1.1", "100.64.0.1", "203.0.113.9"]))
    assert (carrier_nat.edge_ttl, carrier_nat.test_ttl) == (1, 2)  # RFC 6598 is outside
    silent = eg.choose_ttl(eg.Path(hops=["10.0.0.1", None, None]))
    assert silent.test_ttl is None


def test_parse_recverr_reads_type_code_and_offender() -> None:
    ee = struct.pack("=IBBBBII", 113, eg.SO_EE_ORIGIN_ICMP, 11, 0, 0, 0, 0)
    offender = struct.pack("!HH4s8x", socket.AF_INET, 0, socket.inet_aton("198.18.0.254"))
    assert eg.parse_recverr([(socket.IPPROTO_IP, eg.IP_RECVERR, ee + offender)]) == (11, 0, "198.18.0.254")
    local = struct.pack("=IBBBBII", 90, 1, 0, 0, 0, 0, 0)  # SO_EE_ORIGIN_LOCAL: not an ICMP error
    assert eg.parse_recverr([(socket.IPPROTO_IP, eg.IP_RECVERR, local + offender)]) is None


def test_verdict_per_datagram() -> None:
    path = eg.choose_ttl(eg.Path(hops=["10.77.1.1", "198.18.0.254", "198.19.0.2"]))
    assert eg.verdict(eg.Answer("time-exceeded", "198.18.0.254"), path, "198.19.0.2") == "open"
    assert eg.verdict(eg.Answer("unreachable", "198.19.0.2", 3), path, "198.19.0.2") == "open"
    assert eg.verdict(eg.Answer("unreachable", "10.77.1.1", 13), path, "198.19.0.2") == "blocked"
    assert eg.verdict(None, path, "198.19.0.2") == "silent"


def _m(mid: str, probe: str, target: str, method: str, **values: object) -> Measurement:
    return Measurement(id=mid, probe=probe, target=target, method=method, started_utc="x",
                       duration_s=0.1, values=values)  # type: ignore[arg-type]


def test_stun_answer_credits_udp_3478_and_egress_judges_the_ranges() -> None:
    from netcheck.evaluate import evaluate

    profile = load("stimme")
    stun_m = _m("stun:udp:stun", "stun", "46.189.64.249:3478/udp", "stun-udp", reachable=True,
                server="46.189.64.249:3478", transport="udp")
    rows = {"9": {"sampled": [16384, 32767], "open": [], "blocked": [16384, 32767], "state": "blocked"},
            "10": {"sampled": [50000, 50100], "open": [50000, 50100], "blocked": [], "state": "open"},
            "11": {"sampled": [60000], "open": [], "blocked": [], "unknown": [60000], "state": "unknown",
                   "why": "no ICMP Time Exceeded came back"}}
    egress = _m("egress", "udp_egress", "3 rows", "ttl-site-egress", rows=rows, test_ttl=2,
                beyond_edge="198.18.0.254", edge="10.77.1.1", control_port=3478)
    checks = {c.id: c for c in evaluate(profile, [stun_m, egress])}
    credited = checks["port.udp.3478@stun"]
    assert credited.status is Status.PASS and credited.confidence == "high"
    assert "STUN answered from 46.189.64.249:3478" in credited.reason
    rtp = checks["port.udp.16384-32767@platform"]
    assert rtp.status is Status.FAIL and "16384-32767" in rtp.reason and rtp.remediation is not None
    assert checks["port.udp.50000-50100@platform"].status is Status.PASS
    assert checks["port.udp.50000-50100@platform"].confidence == "medium"
    assert checks["port.udp.60000-60100@platform"].status is Status.NOT_MEASURED
    scope = field.scope(profile, {}, list(checks.values()), responder=False)
    keys = [i.key for i in scope.not_proven]
    assert scope.mode == "field" and "scope.one_way_delay" in keys and "scope.downstream" in keys
    assert [i.params["ports"] for i in scope.not_proven if i.key == "scope.udp_range"] == ["50000-50100"]


def test_plan_without_responder_streams_to_the_stun_server_then_icmp() -> None:
    from netcheck.plan import core as plan

    runs = {r.id: r for r in plan.build(load("stimme"), plan.Options(quick=True))}
    spec = runs["stream:platform"].spec
    assert (spec.method, spec.host, spec.port) == ("stun", "46.189.64.249", 3478)
    assert [(a.method, a.host) for a in spec.fallback] == [("icmp", "46.189.64.189")]
    assert runs["egress"].spec.control_port == 3478 and len(runs["egress"].spec.rows) == 4  # 3478 + 3 ranges
    teams = {r.id: r for r in plan.build(load("teams"), plan.Options(quick=True))}
    assert teams["stream:media_edge"].spec.method == "stun"  # the relay named by the 3478-3481 row


def test_a_call_nobody_answered_names_every_method_tried() -> None:
    from netcheck.evaluate import evaluate
    from netcheck.result import ErrorKind, ProbeError

    tried = [{"method": "stun-50pps", "target": "46.189.64.249:3478", "used": False, "why_not": "no reply"},
             {"method": "icmp-50pps", "target": "46.189.64.189", "used": False, "why_not": "no reply"}]
    m = Measurement(id="stream:platform", probe="stream", target="46.189.64.189", method="icmp-50pps",
                    started_utc="x", duration_s=4.0, values={"path_methods": tried},
                    error=ProbeError(kind=ErrorKind.TIMEOUT, detail="no reply"), confidence="none")
    jitter = next(c for c in evaluate(load("stimme"), [m]) if c.id == "end_to_end.jitter_ms@platform")
    assert jitter.status is Status.NOT_MEASURED and jitter.remediation is not None
    assert jitter.remediation.key == "path_no_answer" and "STUN Binding stream" in jitter.remediation.text
    assert "UDP 3478" in jitter.remediation.text


def test_extends_finds_a_shipped_parent(tmp_path: object) -> None:
    from pathlib import Path

    child = Path(str(tmp_path)) / "child.yaml"
    child.write_text("extends: managed-com-business\nid: child\nname: child\n"
                     "targets:\n  stun: {host: 198.19.0.2, role: stun}\n")
    p = load(str(child))
    assert p.targets["stun"].host == "198.19.0.2" and p.bandwidth is not None


def _stun_load(up_max: int, up_bound: str, failed_at: int | None) -> Measurement:
    per_call = 87.2
    return _m("capacity", "capacity", "198.19.0.2", "stun-load", call_kbps=per_call, calls_up_max=up_max,
              calls_up_failed_at=failed_at, capacity_up_kbps=round(up_max * per_call, 3), calls_up_bound=up_bound,
              calls_down_max=None, calls_down_failed_at=None, capacity_down_kbps=None,
              calls_down_bound="not_measured", required_up_kbps=2000.0, required_down_kbps=2000.0,
              requirement_basis=["20 x 100 kbit/s"])


def test_field_bandwidth_stands_on_the_uplink_and_leaves_the_downlink_to_the_scope() -> None:
    from netcheck.evaluate import evaluate
    from netcheck.result import Site

    site = Site(extensions=20)
    mcb = load("managed-com-business")
    short = next(c for c in evaluate(mcb, [_stun_load(10, "exact", 11)], site) if c.id == "bandwidth.per_extension")
    assert short.status is Status.FAIL and "not proven without a responder" in short.reason
    enough = next(c for c in evaluate(mcb, [_stun_load(29, "at_least", None)], site)
                  if c.id == "bandwidth.per_extension")
    assert enough.status is Status.PASS and enough.method == "stun-load"
    scope = field.scope(mcb, {}, [enough], responder=False)
    assert "scope.downstream" in [i.key for i in scope.not_proven]


def test_text_report_lists_what_field_mode_did_not_prove() -> None:
    import msgspec

    from netcheck.reports import text
    from tests import docgen

    doc = docgen.document("stimme", "incomplete")
    checks = doc.checks
    scoped = msgspec.structs.replace(doc, scope=field.scope(load("stimme"), {}, checks, responder=False))
    en = text.render(scoped, "en").decode()
    de = text.render(scoped, "de").decode()
    assert "Not proven without a responder (field mode):" in en
    assert "one-way delay: estimated as half the round trip" in en
    assert "Ohne Responder nicht nachgewiesen (Feldmodus):" in de and "Einweg-Laufzeit" in de
    assert "Not proven" not in text.render(doc, "en").decode()  # no scope (responder, or older documents)


def test_a_small_range_tried_port_by_port_says_so() -> None:
    from netcheck.evaluate import evaluate

    rows = {"0": {"sampled": [3478, 3479, 3480, 3481], "open": [3478, 3479, 3480, 3481], "blocked": [],
                  "state": "open"}}
    egress = _m("egress", "udp_egress", "1 row", "ttl-site-egress", rows=rows, test_ttl=2,
                beyond_edge="198.18.0.254", edge="10.77.1.1", control_port=3478)
    c = next(c for c in evaluate(load("teams"), [egress]) if c.id == "port.udp.3478-3481@media_edge")
    assert c.status is Status.PASS and c.reason_key == "reason.egress_open_all" and c.measured == "4/4 sampled open"
