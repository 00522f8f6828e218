"""The responder's control protocol (TCP, one JSON object per line each way), sans-I/O:
the request line a client sends (keyed with an HMAC-SHA-256 over op, ports, time and nonce),
the answer line and the one-line error. The server is :mod:`netcheck.responder.control`,
the client :mod:`netcheck.probes._control`; both use only this module to agree on the bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, Final

#: Phone admin and SIP ports that must not be reachable from the internet (VSE NET):
#: HTTP/HTTPS web admin, SSH, Telnet, alternative HTTP(S), SIP, SIPS.
DEFAULT_EXPOSURE_PORTS: Final = (80, 443, 22, 23, 8080, 8443, 5060, 5061)
MAX_PORTS: Final = 32
CONNECT_TIMEOUT_S: Final = 1.5
MAX_REQUEST: Final = 4096
MAX_REPLY: Final = 1 << 20  # a coverage answer for 65,535 ports is ~400 KB


def mac(key: bytes, op: str, ports: list[int], ts: float, nonce: str) -> str:
    """HMAC-SHA-256 over ``"op:port,port,...:ts:nonce"`` (hex)."""
    text = f"{op}:{','.join(str(p) for p in ports)}:{ts!r}:{nonce}".encode()
    return hmac.new(key, text, hashlib.sha256).hexdigest()


class RequestError(ValueError):
    """A control request refused; ``code`` is the short reason sent back."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def error_line(code: str, budget: int) -> bytes:
    """The one-line error reply, or b"" when it would be larger than the request
    (``budget`` octets): an error answer never amplifies."""
    line = json.dumps({"error": code}, separators=(",", ":")).encode() + b"\n"
    return line if len(line) <= budget else b""


def decode(line: bytes) -> dict[str, Any]:
    """One request line -> its JSON object; RequestError for anything else."""
    try:
        request = json.loads(line)
    except (ValueError, RecursionError):  # RecursionError: "[[[[..." nesting
        raise RequestError("json") from None
    if not isinstance(request, dict):
        raise RequestError("not_object")
    return request


def encode_request(op: str, ports: list[int], key: bytes | None, ts: float, nonce: str) -> bytes:
    """One request line; with a key it carries ``ts``, ``nonce`` and ``mac`` (no replays)."""
    body: dict[str, Any] = {"op": op, "ports": ports}
    if key:
        body["ts"], body["nonce"] = ts, nonce
        body["mac"] = mac(key, op, ports, ts, nonce)
    return json.dumps(body).encode() + b"\n"


def decode_reply(buf: bytes) -> dict[str, Any]:
    """The answer line -> its JSON object; ValueError for garbage from a hostile far end."""
    try:
        answer = json.loads(buf.split(b"\n", 1)[0] or b"null")
    except RecursionError:  # "[[[[..." from a hostile far end
        raise ValueError("control reply nested too deeply") from None
    if not isinstance(answer, dict):
        raise ValueError("control reply is not a JSON object")
    return answer
