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
from dataclasses import dataclass

from netcheck.wire import WireError

__all__ = [
    "COMPACT",
    "Rewrite",
    "SipError",
    "SipMessage",
    "compare",
    "frame_length",
    "parse",
    "probe_invite",
    "probe_options",
    "sdp_lines",
]

#: Compact header forms (RFC 3261 section 7.3.3 and the IANA SIP header registry).
COMPACT = {
    "i": "Call-ID", "m": "Contact", "e": "Content-Encoding", "l": "Content-Length",
    "c": "Content-Type", "f": "From", "s": "Subject", "k": "Supported", "t": "To", "v": "Via",
}
_CANON = {n.lower(): n for n in (*COMPACT.values(), "CSeq", "Max-Forwards", "User-Agent",
                                 "Record-Route", "Route", "Allow", "Accept")}

#: The fields an ALG typically rewrites, in report order.
WATCHED = ("Via", "Contact", "From", "To", "Call-ID", "CSeq", "Content-Length")
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
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise SipError("no empty line after the header fields (RFC 3261 section 7)")
    lines = head.decode("utf-8", "replace").split("\r\n")
    start = lines[0]
    if not (start.startswith("SIP/2.0 ") or re.fullmatch(r"[A-Za-z]+ \S+ SIP/2\.0", start)):
        raise SipError(f"not a SIP start line: {start[:60]!r}")
    headers = _headers(lines[1:])
    msg = SipMessage(start, tuple(headers), body)
    length = msg.get("Content-Length")
    if length is not None:
        if not length.strip().isdigit():
            raise SipError(f"Content-Length is not a number: {length!r}")
        if int(length) > len(body):
            raise SipError(f"Content-Length {int(length)} exceeds the {len(body)} octets received")
        msg = SipMessage(start, msg.headers, body[: int(length)])
    return msg


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
        b = parse(mirrored)
    except SipError as exc:
        return [Rewrite("message", None, f"unparseable after transit: {exc}")]
    out = _diff("start-line", [a.start_line], [b.start_line])
    for name in WATCHED:
        out += _diff(name, a.get_all(name), b.get_all(name))
    for kind in _SDP_WATCHED:
        out += _diff(f"sdp {kind}=", sdp_lines(a.body, (kind,)), sdp_lines(b.body, (kind,)))
    if not out and a.headers != b.headers:
        out.append(Rewrite("headers", _names(a), _names(b)))
    if len(b.body) != len(mirrored.partition(b"\r\n\r\n")[2]) or (not out and a.body != b.body):
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


def probe_invite(
    local_ip: str, local_port: int, target: str, transport: str = "UDP", *,
    rtp_port: int = 16384, padding: int = 0,
) -> bytes:
    """An INVITE with an SDP offer that carries ``local_ip`` wherever an ALG looks (Via,
    Contact, From, SDP o=/c=/m=); ``padding`` adds an ``a=`` line of that many octets to
    make the message exceed one datagram or one TCP segment."""
    sdp = (
        f"v=0\r\no=netcheck {secrets.randbelow(10**9)} 1 IN IP4 {local_ip}\r\n"
        f"s=netcheck ALG test\r\nc=IN IP4 {local_ip}\r\nt=0 0\r\n"
        f"m=audio {rtp_port} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\n"
        f"a=rtpmap:101 telephone-event/8000\r\n"
    )
    if padding:
        sdp += f"a=x-netcheck-padding:{'x' * padding}\r\n"
    body = sdp.encode()
    return _request("INVITE", target, local_ip, local_port, transport, body,
                    ("Content-Type", "application/sdp"))


def probe_options(local_ip: str, local_port: int, target: str, transport: str = "UDP") -> bytes:
    """An OPTIONS request (RFC 3261 section 11) with ``rport`` (RFC 3581), so that the
    server's answer shows the source address and port it saw."""
    return _request("OPTIONS", target, local_ip, local_port, transport, b"",
                    ("Accept", "application/sdp"))


def _request(
    method: str, target: str, ip: str, port: int, transport: str, body: bytes,
    extra: tuple[str, str],
) -> bytes:
    tag, branch = _token(), "z9hG4bK" + _token()
    headers = (
        ("Via", f"SIP/2.0/{transport} {ip}:{port};branch={branch};rport"),
        ("Max-Forwards", "70"),
        ("From", f"<sip:netcheck@{ip}:{port}>;tag={tag}"),
        ("To", f"<sip:alg-test@{target}>"),
        ("Call-ID", f"{_token()}@{ip}"),
        ("CSeq", f"1 {method}"),
        ("Contact", f"<sip:netcheck@{ip}:{port};transport={transport.lower()}>"),
        extra,
        ("User-Agent", "netcheck"),
        ("Content-Length", str(len(body))),
    )
    return SipMessage(f"{method} sip:alg-test@{target} SIP/2.0", headers, body).to_bytes()
