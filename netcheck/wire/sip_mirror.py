"""The SIP mirror's wire format, shared by the mirror (:mod:`netcheck.responder.sip_mirror`)
and the probe that talks to it (:mod:`netcheck.probes.sip_alg`). Sans-I/O.

The mirror masks every octet with XOR 0x55 (:func:`unmask`): same length, so it never
amplifies, and not SIP to any middlebox on the way back (a SIP ALG would otherwise undo its
own rewrite in the copy). A request may instead ask (``X-Netcheck-Reply: digest``) for a
SIP-shaped ``200 OK`` carrying the SHA-256 of what arrived (:func:`answer`), for
firewalls that drop what they cannot parse as SIP. Keyed requests carry
``X-Netcheck-Auth: t=<unix s>;n=<nonce>;m=<HMAC-SHA-256(key, "sip-mirror:t:n")>``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Final

MASK: Final = 0x55
_TABLE: Final = bytes(b ^ MASK for b in range(256))
AUTH_HEADER: Final = "X-Netcheck-Auth"
REPLY_HEADER: Final = "X-Netcheck-Reply"
DIGEST_HEADER: Final = "X-Netcheck-Digest"
ANSWER_HEADER: Final = "X-Netcheck-Answer"


def unmask(data: bytes) -> bytes:
    """Undo (and apply) the mirror's mask."""
    return data.translate(_TABLE)


# -- authentication ----------------------------------------------------------------------


def mac(key: bytes, t: str, nonce: str) -> str:
    return hmac.new(key, f"sip-mirror:{t}:{nonce}".encode(), hashlib.sha256).hexdigest()[:32]


def auth_header(key: bytes, now_s: float | None = None) -> tuple[str, str]:
    """The header a keyed request carries (fresh nonce, current time)."""
    t, nonce = str(int(time.time() if now_s is None else now_s)), secrets.token_hex(8)
    return AUTH_HEADER, f"t={t};n={nonce};m={mac(key, t, nonce)}"


def header_value(data: bytes, name: str) -> str | None:
    """A header's value found without a full parse (the request may be malformed on purpose,
    and an ALG may have broken its framing)."""
    head = data.partition(b"\r\n\r\n")[0]
    prefix = name.lower().encode() + b":"
    for line in head.split(b"\r\n")[1:]:
        if line.lower().startswith(prefix):
            return line[len(prefix):].strip().decode("ascii", "replace")
    return None


# -- answers ------------------------------------------------------------------------------


def digest_of(data: bytes) -> str:
    return f"sha256={hashlib.sha256(data).hexdigest()[:32]};len={len(data)}"


def answer(data: bytes, source: tuple[str, int] | None = None) -> bytes | None:
    """The mirror's answer to one received message: masked copy, or the SIP-shaped digest
    answer when asked for; None when the digest answer would be larger than the request.

    The digest answer is what a SIP server would send: the top Via gets ``received`` and
    ``rport`` with the ``source`` the request came from (RFC 3581 section 4), and
    ``X-Netcheck-Answer`` carries the SHA-256 of the answer itself without that line, so
    the sender also sees whether a middlebox rewrote the answer on its way back in."""
    if (header_value(data, REPLY_HEADER) or "").lower() != "digest":
        return unmask(data)
    head = data.partition(b"\r\n\r\n")[0].split(b"\r\n")[1:]
    keep = (b"via:", b"v:", b"from:", b"f:", b"to:", b"t:", b"call-id:", b"i:", b"cseq:")
    copied = [ln for ln in head if ln.lower().replace(b" ", b"").startswith(keep)]
    if source is not None:
        copied = _received(copied, source)
    lines = [b"SIP/2.0 200 OK", *copied, f"{DIGEST_HEADER}: {digest_of(data)}".encode(),
             b"Content-Length: 0"]
    reply = _with_answer_digest(lines)
    return reply if len(reply) <= len(data) else None


def _received(lines: list[bytes], source: tuple[str, int]) -> list[bytes]:
    """``;received=<ip>;rport=<port>`` on the first Via line (replacing an empty rport)."""
    for i, line in enumerate(lines):
        if line.lower().replace(b" ", b"").startswith((b"via:", b"v:")):
            first, sep, rest = line.partition(b",")
            first = first.replace(b";rport;", b";").removesuffix(b";rport")
            first += f";received={source[0]};rport={source[1]}".encode()
            return [*lines[:i], first + sep + rest, *lines[i + 1:]]
    return lines


def _with_answer_digest(lines: list[bytes]) -> bytes:
    body = b"\r\n".join([*lines, b"", b""])
    return b"\r\n".join([*lines, f"{ANSWER_HEADER}: {answer_digest(body)}".encode(), b"", b""])


def answer_digest(answer_without_it: bytes) -> str:
    return f"sha256={hashlib.sha256(answer_without_it).hexdigest()[:32]}"


def strip_answer_digest(reply: bytes) -> tuple[bytes, str | None]:
    """(the answer without its ``X-Netcheck-Answer`` line, that line's value)."""
    lines = reply.split(b"\r\n")
    prefix = ANSWER_HEADER.lower().encode() + b":"
    found = [ln for ln in lines if ln.lower().startswith(prefix)]
    if not found:
        return reply, None
    rest = [ln for ln in lines if not ln.lower().startswith(prefix)]
    return b"\r\n".join(rest), found[0][len(prefix):].strip().decode("ascii", "replace")
