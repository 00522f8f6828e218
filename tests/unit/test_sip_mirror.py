"""The SIP mirror's answers and keying, and the OPTIONS method's RFC 3581 reading of a
server's answer (answers captured from kamailio 5.6.3 in the lab, without and behind the
kernel ALG: tests/integration/test_sip_alg.py)."""

from __future__ import annotations

import pytest

from netcheck.probes import sip_alg
from netcheck.responder import sip_mirror as server
from netcheck.wire import sip
from netcheck.wire import sip_mirror as mirror

KEY = b"k"


def test_masked_answer_is_same_size_and_not_sip() -> None:
    req = sip.probe_invite("10.77.1.2", 5060, "198.18.0.2")
    out = mirror.answer(req)
    assert out is not None and len(out) == len(req) and b"SIP/2.0" not in out
    assert mirror.unmask(out) == req


def test_digest_answer_is_sip_smaller_and_names_what_arrived() -> None:
    for req in (sip.probe_invite("10.77.1.2", 5060, "198.18.0.2",
                                 extra=((mirror.REPLY_HEADER, "digest"),)),
                sip.probe_register("10.77.1.2", 5060, "198.18.0.2",
                                   extra=((mirror.REPLY_HEADER, "digest"),))):
        out = mirror.answer(req)
        assert out is not None and len(out) <= len(req)  # never amplifies
        resp = sip.parse(out)
        assert resp.start_line == "SIP/2.0 200 OK"
        assert resp.get("Call-ID") == sip.parse(req).get("Call-ID")
        assert resp.get(mirror.DIGEST_HEADER) == mirror.digest_of(req)


def test_digest_answer_larger_than_request_is_not_sent() -> None:
    tiny = b"OPTIONS sip:x SIP/2.0\r\nX-Netcheck-Reply: digest\r\nVia: v\r\n\r\n"
    assert mirror.answer(tiny) is None


def test_keyed_mirror_accepts_only_fresh_authenticated_requests() -> None:
    auth = server.Authenticator(KEY)
    now = 1_700_000_000.0
    name, value = mirror.auth_header(KEY, now)
    req = sip.probe_invite("10.77.1.2", 5060, "198.18.0.2", extra=((name, value),))
    assert auth.allow(req, "198.18.0.1:4000", now)
    assert auth.allow(req, "198.18.0.1:4000", now + 1)  # retransmission, same source
    assert not auth.allow(req, "203.0.113.9:4000", now + 1)  # replay from elsewhere
    assert not auth.allow(sip.probe_invite("10.77.1.2", 5060, "198.18.0.2"), "a:1", now)
    _, other = mirror.auth_header(b"other key", now)
    forged = sip.probe_invite("10.77.1.2", 5060, "198.18.0.2", extra=((name, other),))
    assert not auth.allow(forged, "a:1", now)
    _, old = mirror.auth_header(KEY, now - server.AUTH_WINDOW_S - 1)
    stale = sip.probe_invite("10.77.1.2", 5060, "198.18.0.2", extra=((name, old),))
    assert not auth.allow(stale, "a:1", now)
    assert server.Authenticator(None).allow(b"anything", "a:1", now)  # unkeyed: all


SENT = sip.probe_options("10.77.1.2", 52727, "198.18.0.2").replace(
    sip.parse(sip.probe_options("10.77.1.2", 52727, "198.18.0.2")).get("Via").encode(),  # type: ignore[union-attr]
    b"SIP/2.0/UDP 10.77.1.2:52727;branch=z9hG4bKba7175353a2a;rport")


def _answer(via_params: str, sent_by: str = "10.77.1.2:52727") -> bytes:
    return (f"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP {sent_by};branch=z9hG4bKba7175353a2a;"
            f"{via_params}\r\nCSeq: 1 OPTIONS\r\nServer: kamailio (5.6.3 (x86_64/linux))\r\n"
            "Content-Length: 0\r\n\r\n").encode()


@pytest.mark.parametrize(("answer", "mapped", "evidence"), [
    (_answer("rport=52727;received=10.77.1.2"), "198.18.0.1:52727", "private_received"),
    (_answer("rport=52727;received=198.18.0.1"), "198.18.0.1:52727", "public_received"),
    (_answer("rport=52727;received=198.18.0.1", "198.18.0.1:52727"), "198.18.0.1:52727",
     "via_rewritten"),
    (_answer("rport=52727"), "198.18.0.1:52727", "inconclusive"),  # no received at all
    (_answer("rport=52727;received=192.0.2.7"), "198.18.0.1:52727", "inconclusive"),
    (_answer("rport=52727;received=10.77.1.2"), None, "inconclusive"),  # NAT unknown
    (_answer("rport=52727;received=10.77.1.2"), "10.77.1.2:52727", "inconclusive"),  # no NAT
])
def test_options_rfc3581_evidence(answer: bytes, mapped: str | None, evidence: str) -> None:
    v = sip_alg.options_values(SENT, answer, "10.77.1.2:52727", mapped, "198.18.0.2")
    assert v["evidence"] == evidence, v["note"]


def test_options_without_stun_infers_nat_from_a_global_server() -> None:
    """A private address of ours talking to a global server is behind NAT (RFC 1918)."""
    v = sip_alg.options_values(SENT, _answer("rport=52727;received=10.77.1.2"),
                               "10.77.1.2:52727", None, "8.8.8.8")
    assert v["behind_nat"] is True and v["evidence"] == "private_received"


def _ex(kind: str, answered: str | None, **kw: object) -> sip_alg.Exchange:
    return sip_alg.Exchange(kind, 100 if answered else 0, answered, **kw)  # type: ignore[arg-type]


def test_canary_counts_only_when_a_control_invite_crossed_right_after() -> None:
    """A lost canary is evidence of a SIP parser only if a well-formed INVITE sent right
    after it crossed; otherwise the path dropped everything at that moment."""
    base = {"invite": _ex("invite", "mirror"), "register": _ex("register", "mirror"),
            "large": _ex("large", "mirror"), "canary": _ex("canary", None)}
    assert sip_alg.findings_of({**base, "control": _ex("invite", "mirror")}) == [
        "drops_unparseable"]
    assert sip_alg.findings_of({**base, "control": _ex("invite", None)}) == []


def test_findings_name_each_behaviour() -> None:
    via = sip.Rewrite("Via", "a", "b")
    sdp = sip.Rewrite("sdp c=", "c=IN IP4 10.77.1.2", "c=IN IP4 198.18.0.1")
    ex = {"invite": _ex("invite", "mirror", rewrites=(via, sdp)),
          "register": _ex("register", "digest", digest_match=False),
          "canary": _ex("canary", "digest"), "large": _ex("large", "middlebox",
                                                          intercepted_by="SIP/2.0 403 Forbidden")}
    assert sip_alg.findings_of(ex) == ["intercepts", "rewrites_headers", "rewrites_sdp",
                                       "rewrites_registrations", "drops_non_sip_answers"]


def test_range_echo_leaves_the_mirrors_ports_out() -> None:
    from netcheck.responder.control import without_ports

    # RingCentral: SIP 5090-5099 echoed for the UDP sweep, 5090 served by the SIP mirror
    assert without_ports(((5090, 5099), (20000, 64999)), [5060, 5090]) == (
        (5091, 5099), (20000, 64999))
    assert without_ports(((5060, 5060),), [5060]) == ()
    assert without_ports(((5000, 5100),), [5060, 5090]) == (
        (5000, 5059), (5061, 5089), (5091, 5100))


def test_every_code_the_probe_reports_has_a_phrase() -> None:
    from netcheck.evaluate import firewall

    assert set(sip_alg.ALG_FINDINGS) == set(firewall.SIP_FINDINGS)
    details = {sip_alg._options_evidence("a", "b", None, "10.0.0.1", None)[1],
               sip_alg._options_evidence("a", "a", None, "10.0.0.1", None)[1],
               sip_alg._options_evidence("a", "a", "x", "10.0.0.1", None)[1],
               sip_alg._options_evidence("a", "a", "x", "10.0.0.1", "10.0.0.1")[1],
               sip_alg._options_evidence("a", "a", "10.0.0.1", "10.0.0.1", "192.0.2.1")[1],
               sip_alg._options_evidence("a", "a", "192.0.2.1", "10.0.0.1", "192.0.2.1")[1],
               sip_alg._options_evidence("a", "a", "x", "10.0.0.1", "192.0.2.1")[1], "unparseable"}
    assert details == set(firewall.SIP_OPTIONS_EVIDENCE)


def test_digest_answer_carries_rfc3581_received_and_its_own_digest() -> None:
    req = sip.probe_invite("10.77.1.2", 40000, "198.18.0.2",
                           extra=((mirror.REPLY_HEADER, "digest"), ("X-Netcheck-Pad", "x" * 200)))
    out = mirror.answer(req, ("198.18.0.1", 40001))
    assert out is not None
    via = sip.parse(out).get("Via") or ""
    assert sip.via_params(via) == ("10.77.1.2:40000", {
        "branch": sip.via_params(sip.parse(req).get("Via") or "")[1]["branch"],
        "received": "198.18.0.1", "rport": "40001"})
    stripped, own = mirror.strip_answer_digest(out)
    assert own == mirror.answer_digest(stripped)
    # an inbound ALG maps the public address back to the private one: the digest shows it
    tampered = out.replace(b"received=198.18.0.1", b"received=10.77.1.2")
    stripped, own = mirror.strip_answer_digest(tampered)
    assert own != mirror.answer_digest(stripped)
