"""Client side of the responder's control protocol (:mod:`netcheck.wire.control`): one
blocking request, one answer. Probes call it in a worker thread."""

from __future__ import annotations

import secrets
import socket
import time
from typing import Any

from netcheck.wire.control import MAX_REPLY, decode_reply, encode_request


def request(host: str, port: int, op: str, ports: list[int], key: bytes | None,
            timeout: float) -> dict[str, Any]:
    """Send one request, return the decoded answer. Raises OSError / ValueError for network
    trouble or garbage; the probes turn those into errors."""
    line = encode_request(op, ports, key, time.time(), secrets.token_hex(8))
    with socket.create_connection((host, port), timeout=timeout) as conn:
        conn.settimeout(timeout)
        conn.sendall(line)
        buf = b""
        while b"\n" not in buf:
            chunk = conn.recv(65536)
            if not chunk:
                break
            buf += chunk
            if len(buf) > MAX_REPLY:  # a hostile far end streaming forever
                raise ValueError(f"control reply longer than {MAX_REPLY} octets")
    return decode_reply(buf)
