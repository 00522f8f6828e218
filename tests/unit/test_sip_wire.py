"""SIP codec and ALG comparison on hand-written messages (RFC 3261 sections 7.3.1 folding,
7.3.3 compact forms, 18.3 framing; the rewrite pattern of an ALG as nf_nat_sip applies it:
private address -> public address in Via, Contact and SDP c=/o=, Content-Length adjusted)."""

from __future__ import annotations

import pytest

from netcheck.wire import sip
from netcheck.wire.sip import Rewrite, SipError

#: Compact forms and a folded header, in the spirit of RFC 4475 section 3.1.1.1 ("wsinv").
COMPACT = (
    b"OPTIONS sip:user@example.com SIP/2.0\r\n"
    b"v: SIP/2.0/UDP 10.77.1.2:5060;branch=z9hG4bKx1\r\n"
    b"f: <sip:a@10.77.1.2>;tag=1\r\n"
    b"t: <sip:user@example.com>\r\n"
    b"i: abc@10.77.1.2\r\n"
    b"CSeq: 7\r\n"
    b"  OPTIONS\r\n"
    b"m: <sip:a@10.77.1.2:5060>\r\n"
    b"l: 0\r\n\r\n"
)


def test_compact_forms_and_folding() -> None:
    msg = sip.parse(COMPACT)
    assert msg.is_request and msg.start_line == "OPTIONS sip:user@example.com SIP/2.0"
    assert msg.get("Via") == "SIP/2.0/UDP 10.77.1.2:5060;branch=z9hG4bKx1"
    assert msg.get("call-id") == msg.get("i") == "abc@10.77.1.2"
    assert msg.get("CSeq") == "7 OPTIONS"
    assert msg.get("Contact") == "<sip:a@10.77.1.2:5060>"
    assert msg.get("Content-Length") == "0" and msg.body == b""


def test_probe_invite_round_trip_and_sdp_lines() -> None:
    raw = sip.probe_invite("10.77.1.2", 5060, "198.18.0.2", rtp_port=16400)
    msg = sip.parse(raw)
    assert msg.to_bytes() == raw
    assert int(msg.get("Content-Length") or -1) == len(msg.body)
    lines = sip.sdp_lines(msg.body)
    assert lines[1] == "c=IN IP4 10.77.1.2" and lines[2] == "m=audio 16400 RTP/AVP 0 8 101"
    assert lines[0].startswith("o=netcheck ") and lines[0].endswith(" IN IP4 10.77.1.2")
    assert sip.compare(raw, raw) == []


def test_alg_rewrite_is_listed_field_by_field() -> None:
    sent = sip.probe_invite("10.77.1.2", 5060, "198.18.0.2")
    body = sent.partition(b"\r\n\r\n")[2]
    new_body = body.replace(b"10.77.1.2", b"198.18.0.1")
    alg = sent.partition(b"\r\n\r\n")[0].replace(b"10.77.1.2:5060", b"198.18.0.1:1024")
    alg = alg.replace(f"Content-Length: {len(body)}".encode(),
                      f"Content-Length: {len(new_body)}".encode())
    out = sip.compare(sent, alg + b"\r\n\r\n" + new_body)
    fields = [r.field for r in out]
    assert fields == ["Via", "Contact", "From", "Content-Length", "sdp c=", "sdp o="]
    via = out[0]
    assert via.sent is not None and "10.77.1.2:5060" in via.sent
    assert via.received is not None and "198.18.0.1:1024" in via.received
    assert out[3] == Rewrite("Content-Length", str(len(body)), str(len(new_body)))


def test_truncated_body_and_garbage_after_transit() -> None:
    sent = sip.probe_invite("10.77.1.2", 5060, "198.18.0.2")
    body = len(sent.partition(b"\r\n\r\n")[2])
    assert sip.compare(sent, sent[:-10]) == [
        Rewrite("framing", f"Content-Length {body} = body",
                f"Content-Length {body}, body {body - 10} octets")]
    with pytest.raises(SipError, match="exceeds"):
        sip.parse(sent[:-10])
    assert sip.compare(sent, b"\x00garbage")[0].field == "message"


def test_rewrite_that_leaves_content_length_stale() -> None:
    """10.77.1.2 -> 198.18.0.1 lengthens each SDP address by one octet; an ALG that forgets
    the header leaves Content-Length 2 octets short (two addresses, o= and c=)."""
    sent = sip.probe_invite("10.77.1.2", 5060, "198.18.0.2")
    head, _, body = sent.partition(b"\r\n\r\n")
    alg = head + b"\r\n\r\n" + body.replace(b"10.77.1.2", b"198.18.0.1")
    out = sip.compare(sent, alg)
    assert [r.field for r in out] == ["sdp c=", "sdp o=", "framing"]
    assert out[-1].received == f"Content-Length {len(body)}, body {len(body) + 2} octets"
    assert sip.content_length_mismatch(sip.parse_lenient(alg)) == (len(body), len(body) + 2)


def test_every_probe_message_is_fresh() -> None:
    """Fresh Call-ID, branch (RFC 3261 8.1.1.7 magic cookie), tag and even RTP port."""
    msgs = [sip.parse(sip.probe_invite("10.77.1.2", 5060, "198.18.0.2")) for _ in range(50)]
    for name in ("Call-ID", "Via", "From"):
        assert len({m.get(name) for m in msgs}) == 50, name
    ports = [int(sip.sdp_lines(m.body, ("m",))[0].split()[1]) for m in msgs]
    assert all(p % 2 == 0 and sip.RTP_PORTS[0] <= p <= sip.RTP_PORTS[1] for p in ports)
    assert len(set(ports)) == 50  # never a port this process offered recently
    assert all(";branch=z9hG4bK" in (m.get("Via") or "") for m in msgs)


def test_register_and_canary() -> None:
    reg = sip.parse(sip.probe_register("10.77.1.2", 40000, "198.18.0.2", expires_s=300))
    assert reg.start_line == "REGISTER sip:198.18.0.2 SIP/2.0"
    assert reg.get("Contact") == "<sip:netcheck@10.77.1.2:40000;transport=udp>"
    assert reg.get("Expires") == "300" and reg.get("CSeq") == "1 REGISTER"
    assert reg.get("To") == "<sip:netcheck@198.18.0.2>"
    canary = sip.parse(sip.probe_invite("10.77.1.2", 40000, "198.18.0.2", cseq="x"))
    assert canary.get("CSeq") == "x INVITE"


def test_via_params() -> None:
    via = "SIP/2.0/UDP 10.77.1.2:52727;branch=z9hG4bKba71;rport=52727;received=10.77.1.2"
    assert sip.via_params(via) == ("10.77.1.2:52727", {"branch": "z9hG4bKba71",
                                                      "rport": "52727", "received": "10.77.1.2"})
    assert sip.via_params("SIP/2.0/TCP h:5;rport, SIP/2.0/UDP other:1") == ("h:5", {"rport": ""})


def test_stream_framing_by_content_length() -> None:
    raw = sip.probe_invite("10.77.1.2", 5060, "198.18.0.2", "TCP", padding=1500)
    assert len(raw) > 1500
    assert sip.frame_length(raw[:200]) is None
    assert sip.frame_length(raw[:-1]) is None
    assert sip.frame_length(raw + b"OPTIONS") == len(raw)
    assert sip.frame_length(COMPACT) == len(COMPACT)  # compact "l:" form


@pytest.mark.parametrize(("data", "message"), [
    (b"OPTIONS sip:x SIP/2.0\r\nVia: a\r\n", "no empty line"),
    (b"HELLO WORLD\r\n\r\n", "not a SIP start line"),
    (b"OPTIONS sip:x SIP/2.0\r\n bad\r\n\r\n", "continuation line before any header"),
    (b"OPTIONS sip:x SIP/2.0\r\nnocolon\r\n\r\n", "header line without a name"),
    (b"OPTIONS sip:x SIP/2.0\r\nl: x\r\n\r\n", "Content-Length is not a number"),
])
def test_malformed_messages(data: bytes, message: str) -> None:
    with pytest.raises(SipError, match=message):
        sip.parse(data)


def test_options_carries_rport() -> None:
    msg = sip.parse(sip.probe_options("10.77.1.2", 40000, "sip.example.net"))
    assert msg.get("Via").endswith(";rport")  # type: ignore[union-attr]
    assert msg.get("CSeq") == "1 OPTIONS"


def test_any_header_added_or_changed_is_named() -> None:
    """A middlebox acting as a proxy decrements Max-Forwards (RFC 3261 16.6 step 3) and may
    add Record-Route (step 4): both are named, not only the address-carrying fields."""
    sent = sip.probe_invite("10.77.1.2", 5060, "198.18.0.2")
    proxied = sent.replace(b"Max-Forwards: 70", b"Max-Forwards: 69").replace(
        b"User-Agent: netcheck\r\n", b"User-Agent: netcheck\r\nRecord-Route: <sip:198.18.0.1;lr>\r\n")
    assert sip.compare(sent, proxied) == [Rewrite("Max-Forwards", "70", "69"),
                                          Rewrite("Record-Route", None, "<sip:198.18.0.1;lr>")]
    reordered = sent.replace(b"Max-Forwards: 70\r\n", b"").replace(
        b"User-Agent: netcheck\r\n", b"User-Agent: netcheck\r\nMax-Forwards: 70\r\n")
    assert [r.field for r in sip.compare(sent, reordered)] == ["headers"]
