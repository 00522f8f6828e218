"""SIP messages (RFC 3261) and their SDP bodies (RFC 8866): sans-I/O parse, build, compare.

netcheck sends SIP only to find a SIP application-layer gateway (ALG): a router function
that rewrites private addresses and ports in SIP headers and SDP on the way out (Linux
nf_nat_sip, many SOHO routers). Providers require it off because the rewrite is usually
half-done: Via or Contact rewritten but not the SDP, or Content-Length left stale, giving
one-way audio and failed registrations. The test sends a message full of the site's
private address to a mirror that returns the bytes it received; :func:`compare` lists
every field that changed on the way.

Parsing follows RFC 3261 section 7: a start line, header fields (names case-insensitive,
compact forms of section 7.3.3, continuation lines folded into one value per section
7.3.1), an empty line, then a body of Content-Length octets (section 18.3: on a stream
the length frames the message).
"""

from __future__ import annotations

import re
import secrets
from collections import deque
from dataclasses import dataclass

from netcheck.wire import WireError

__all__ = [
    "COMPACT",
    "Rewrite",
    "SipError",
    "SipMessage",
    "compare",
    "content_length_mismatch",
    "frame_length",
    "parse",
    "parse_lenient",
    "probe_invite",
    "probe_options",
    "probe_register",
    "random_rtp_port",
    "sdp_lines",
    "via_params",
]

#: Compact header forms (RFC 3261 section 7.3.3 and the IANA SIP header registry).
COMPACT = {
    "i": "Call-ID", "m": "Contact", "e": "Content-Encoding", "l": "Content-Length",
    "c": "Content-Type", "f": "From", "s": "Subject", "k": "Supported", "t": "To", "v": "Via",
}
_CANON = {n.lower(): n for n in (*COMPACT.values(), "CSeq", "Max-Forwards", "User-Agent",
                                 "Record-Route", "Route", "Allow", "Accept", "Expires")}

#: The fields an ALG typically rewrites, in report order.
WATCHED = ("Via", "Contact", "From", "To", "Call-ID", "CSeq", "Expires", "Content-Length")
_SDP_WATCHED = ("c", "o", "m")


class SipError(WireError):
    """Bytes that are not a SIP message; the text names the broken rule."""


@dataclass(frozen=True)
class SipMessage:
    """A parsed message: header names canonical (compact forms expanded), order kept."""

    start_line: str
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return not self.start_line.startswith("SIP/2.0 ")

    def get_all(self, name: str) -> list[str]:
        """Every value of header ``name`` (any case, long or compact form)."""
        want = _canonical(name)
        return [v for n, v in self.headers if n == want]

    def get(self, name: str) -> str | None:
        values = self.get_all(name)
        return values[0] if values else None

    def to_bytes(self) -> bytes:
        head = "\r\n".join([self.start_line, *(f"{n}: {v}" for n, v in self.headers)])
        return head.encode() + b"\r\n\r\n" + self.body


def _canonical(name: str) -> str:
    low = name.strip().lower()
    if low in COMPACT:
        return COMPACT[low]
    return _CANON.get(low, "-".join(p.capitalize() for p in low.split("-")))


def parse(data: bytes) -> SipMessage:
    """Parse one message; the body is cut to Content-Length when present."""
    msg = parse_lenient(data)
    length = msg.get("Content-Length")
    if length is not None:
        if not length.strip().isdigit():
            raise SipError(f"Content-Length is not a number: {length!r}")
        if int(length) > len(msg.body):
            raise SipError(f"Content-Length {int(length)} exceeds the {len(msg.body)} octets received")
        msg = SipMessage(msg.start_line, msg.headers, msg.body[: int(length)])
    return msg


def parse_lenient(data: bytes) -> SipMessage:
    """Parse one datagram's message keeping every octet after the empty line as the body,
    whatever Content-Length says: what an ALG did to the framing must stay visible."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise SipError("no empty line after the header fields (RFC 3261 section 7)")
    lines = head.decode("utf-8", "replace").split("\r\n")
    start = lines[0]
    if not (start.startswith("SIP/2.0 ") or re.fullmatch(r"[A-Za-z]+ \S+ SIP/2\.0", start)):
        raise SipError(f"not a SIP start line: {start[:60]!r}")
    return SipMessage(start, tuple(_headers(lines[1:])), body)


def content_length_mismatch(msg: SipMessage) -> tuple[int, int] | None:
    """(Content-Length, octets of body) when they differ, else None. On UDP the header must
    equal the body's size (RFC 3261 section 18.3 / 20.14); an ALG that lengthens or shortens
    addresses in the SDP and forgets the header leaves exactly this."""
    length = msg.get("Content-Length")
    if length is None or not length.strip().isdigit():
        return None
    return None if int(length) == len(msg.body) else (int(length), len(msg.body))


def _headers(lines: list[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for line in lines:
        if line[:1] in (" ", "\t"):  # continuation (RFC 3261 7.3.1): fold into the previous
            if not out:
                raise SipError("continuation line before any header field")
            name, value = out[-1]
            out[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise SipError(f"header line without a name: {line[:60]!r}")
        out.append((_canonical(name), value.strip()))
    return out


def frame_length(buf: bytes) -> int | None:
    """Total length of the first message on a stream (RFC 3261 section 18.3), or None when
    the header or the body is not complete yet."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    m = re.search(rb"\r\n(?:content-length|l)[ \t]*:[ \t]*(\d+)", buf[:end], re.IGNORECASE)
    total = end + 4 + (int(m.group(1)) if m else 0)
    return total if len(buf) >= total else None


def sdp_lines(body: bytes, kinds: tuple[str, ...] = _SDP_WATCHED) -> list[str]:
    """SDP lines of the given types (``c=``, ``o=``, ``m=``: the ones carrying addresses
    and ports, RFC 8866 sections 5.2, 5.7, 5.14), in order."""
    text = body.decode("utf-8", "replace")
    return [ln.strip() for ln in text.splitlines() if ln[:2] in {f"{k}=" for k in kinds}]


@dataclass(frozen=True)
class Rewrite:
    """One field that differs between what was sent and what arrived."""

    field: str
    sent: str | None
    received: str | None


def compare(sent: bytes, mirrored: bytes) -> list[Rewrite]:
    """Every watched header, SDP address line, start line or framing change; an empty list
    means the message crossed the path byte for byte."""
    if sent == mirrored:
        return []
    a = parse(sent)
    try:
        b = parse_lenient(mirrored)
    except SipError as exc:
        return [Rewrite("message", None, f"no longer a SIP message after transit: {exc}")]
    out = _diff("start-line", [a.start_line], [b.start_line])
    others = [n for n in dict.fromkeys(n for n, _ in (*a.headers, *b.headers)) if n not in WATCHED]
    for name in (*WATCHED, *others):  # added, removed or changed header fields of any name
        out += _diff(name, a.get_all(name), b.get_all(name))
    for kind in _SDP_WATCHED:
        out += _diff(f"sdp {kind}=", sdp_lines(a.body, (kind,)), sdp_lines(b.body, (kind,)))
    if not out and a.headers != b.headers:  # same fields and values, another order
        out.append(Rewrite("headers", _names(a), _names(b)))
    stale = content_length_mismatch(b)
    if stale is not None:
        out.append(Rewrite("framing", f"Content-Length {len(a.body)} = body",
                           f"Content-Length {stale[0]}, body {stale[1]} octets"))
    elif not out and a.body != b.body:
        out.append(Rewrite("body", f"{len(a.body)} octets", f"{len(b.body)} octets"))
    return out or [Rewrite("bytes", f"{len(sent)} octets", f"{len(mirrored)} octets")]


def _diff(name: str, sent: list[str], got: list[str]) -> list[Rewrite]:
    if sent == got:
        return []
    pairs = max(len(sent), len(got))
    return [
        Rewrite(name, sent[i] if i < len(sent) else None, got[i] if i < len(got) else None)
        for i in range(pairs)
        if (sent[i] if i < len(sent) else None) != (got[i] if i < len(got) else None)
    ]


def _names(msg: SipMessage) -> str:
    return ", ".join(n for n, _ in msg.headers)


# -- probe messages -------------------------------------------------------------------------


def _token() -> str:
    return secrets.token_hex(6)


#: Even RTP ports offered by the probe (RFC 3550 section 11: RTP on an even port, RTCP on
#: the next odd one), drawn at random so that no conntrack expectation left by an earlier
#: offer (nf_conntrack_sip keeps them while the call's SIP flow lives) matches a new one.
RTP_PORTS = (16384, 65534)


_RECENT_RTP: deque[int] = deque(maxlen=4096)


def random_rtp_port() -> int:
    """A random even port, never one of the last 4096 this process offered: two offers of
    the same media port within the expectation's lifetime (nf_conntrack_sip: minutes)
    clash, and the kernel helper drops the second INVITE."""
    lo, hi = RTP_PORTS
    while True:
        port = lo + 2 * secrets.randbelow((hi - lo) // 2 + 1)
        if port not in _RECENT_RTP:
            _RECENT_RTP.append(port)
            return port


Header = tuple[str, str]


def probe_invite(
    local_ip: str, local_port: int, target: str, transport: str = "UDP", *,
    rtp_port: int | None = None, padding: int = 0, cseq: str = "1",
    extra: tuple[Header, ...] = (),
) -> bytes:
    """An INVITE with an SDP offer that carries ``local_ip`` wherever an ALG looks (Via,
    Contact, From, SDP o=/c=/m=); ``rtp_port`` None = a fresh random even port; ``padding``
    adds an ``a=`` line of that many octets to make the message exceed one datagram or one
    TCP segment; ``cseq`` other than a number makes the request malformed on purpose (RFC
    3261 section 20.16: ``CSeq = 1*DIGIT LWS Method``)."""
    port = random_rtp_port() if rtp_port is None else rtp_port
    sdp = (
        f"v=0\r\no=netcheck {secrets.randbelow(10**9)} 1 IN IP4 {local_ip}\r\n"
        f"s=netcheck ALG test\r\nc=IN IP4 {local_ip}\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\n"
        f"a=rtpmap:101 telephone-event/8000\r\n"
    )
    if padding:
        sdp += f"a=x-netcheck-padding:{'x' * padding}\r\n"
    return _request("INVITE", f"sip:alg-test@{target}", local_ip, local_port, transport,
                    sdp.encode(), (("Content-Type", "application/sdp"), *extra), cseq=cseq)


def probe_register(
    local_ip: str, local_port: int, target: str, transport: str = "UDP", *,
    expires_s: int = 120, extra: tuple[Header, ...] = (),
) -> bytes:
    """A REGISTER (RFC 3261 section 10.2) binding a Contact on ``local_ip`` for
    ``expires_s``: what ALGs rewrite (Contact, Via) and some rewrite only here."""
    return _request("REGISTER", f"sip:{target}", local_ip, local_port, transport, b"",
                    (("Expires", str(expires_s)), *extra), to=f"<sip:netcheck@{target}>")


def probe_options(local_ip: str, local_port: int, target: str, transport: str = "UDP") -> bytes:
    """An OPTIONS request (RFC 3261 section 11) with ``rport`` (RFC 3581), so that the
    server's answer shows the source address and port it saw."""
    return _request("OPTIONS", f"sip:{target}", local_ip, local_port, transport, b"",
                    (("Accept", "application/sdp"),))


def _request(
    method: str, uri: str, ip: str, port: int, transport: str, body: bytes,
    extra: tuple[Header, ...], *, cseq: str = "1", to: str | None = None,
) -> bytes:
    """Every identifier fresh (RFC 3261 section 8.1.1: branch with the magic cookie
    ``z9hG4bK``, From tag, Call-ID), so that no middlebox can tie it to an earlier request."""
    tag, branch = _token(), "z9hG4bK" + _token()
    host = uri.split("@")[-1].removeprefix("sip:")
    headers = (
        ("Via", f"SIP/2.0/{transport} {ip}:{port};branch={branch};rport"),
        ("Max-Forwards", "70"),
        ("From", f"<sip:netcheck@{ip}:{port}>;tag={tag}"),
        ("To", to or f"<sip:alg-test@{host}>"),
        ("Call-ID", f"{_token()}@{ip}"),
        ("CSeq", f"{cseq} {method}"),
        ("Contact", f"<sip:netcheck@{ip}:{port};transport={transport.lower()}>"),
        *extra,
        ("User-Agent", "netcheck"),
        ("Content-Length", str(len(body))),
    )
    return SipMessage(f"{method} {uri} SIP/2.0", headers, body).to_bytes()


def via_params(via: str) -> tuple[str, dict[str, str]]:
    """A Via value split into sent-by (``host:port``) and its parameters (RFC 3261 section
    20.42; ``received``/``rport`` of RFC 3581). Only the first Via of a comma list."""
    first = via.split(",")[0].strip()
    proto_sent_by, *params = first.split(";")
    sent_by = proto_sent_by.split()[-1] if proto_sent_by.split() else ""
    out = {}
    for p in params:
        name, _, value = p.partition("=")
        out[name.strip().lower()] = value.strip()
    return sent_by, out
