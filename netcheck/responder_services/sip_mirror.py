"""SIP mirror: return the exact bytes received, so the sender sees what its path did.

A SIP ALG rewrites private addresses in SIP requests on the way out (Via, Contact, SDP);
the probe compares the mirrored copy with what it sent (:func:`netcheck.wire.sip.compare`).
The copy travels back through the same ALG, which would recognise SIP in it and undo its
own rewrite (nf_nat_sip mangles the reply direction too). So the mirror masks every octet
with XOR 0x55: same length (the responder never amplifies), not SIP to any middlebox, and
trivially undone by :func:`unmask`.

UDP runs as a :class:`netcheck.responder.Handler`; TCP (a message split over segments must
survive too) has its own small thread server, :func:`serve_tcp`, framed by Content-Length.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from typing import Final

from netcheck.wire import sip

MASK: Final = 0x55
_TABLE: Final = bytes(b ^ MASK for b in range(256))
MAX_MESSAGE: Final = 65535


def unmask(data: bytes) -> bytes:
    """Undo (and apply) the mirror's mask."""
    return data.translate(_TABLE)


class SipMirror:
    """UDP handler: every datagram comes back masked; anything may be mirrored (the
    responder's rate limit and no-amplification rules bound what it costs)."""

    name = "sip_mirror"

    def __init__(self, _config: object = None) -> None:
        self.mirrored = 0

    def handle(self, data: bytes, peer: tuple[str, int], rx_real_ns: int, ttl: int) -> bytes:
        self.mirrored += 1
        return unmask(data)

    def expire(self, now_mono: float, idle_s: float) -> None:
        """Stateless: nothing to forget."""


def serve_tcp(sock: socket.socket, stop: threading.Event, idle_s: float = 5.0) -> None:
    """Mirror one framed SIP message per connection on the listening ``sock`` until
    ``stop``; a connection that sends no complete message within ``idle_s`` is closed."""
    sock.setblocking(False)
    with selectors.DefaultSelector() as sel:
        sel.register(sock, selectors.EVENT_READ)
        while not stop.is_set():
            if sel.select(0.2):
                with contextlib.suppress(BlockingIOError):
                    conn, _ = sock.accept()
                    threading.Thread(target=_mirror_one, args=(conn, idle_s), daemon=True).start()


def _mirror_one(conn: socket.socket, idle_s: float) -> None:
    with conn:
        conn.settimeout(0.5)
        buf, deadline = b"", time.monotonic() + idle_s
        while time.monotonic() < deadline and len(buf) < MAX_MESSAGE:
            total = sip.frame_length(buf)
            if total is not None:
                conn.sendall(unmask(buf[:total]))
                return
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
