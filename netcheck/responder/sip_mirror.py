"""SIP mirror: return the exact bytes received, so the sender sees what its path did.

A SIP ALG rewrites private addresses in SIP requests on the way out (Via, Contact, SDP);
the probe compares the mirrored copy with what it sent (:func:`netcheck.wire.sip.compare`).
The copy travels back through the same ALG, which would recognise SIP in it and undo its
own rewrite (nf_nat_sip mangles the reply direction too). So the mirror masks every octet
with XOR 0x55: same length (the mirror never amplifies), not SIP to any middlebox, and
trivially undone by :func:`unmask`.

Some SIP-inspecting firewalls drop what they cannot parse as SIP on a SIP port, the masked
copy included. For them a request may ask (header ``X-Netcheck-Reply: digest``) for a
SIP-shaped answer instead: a ``200 OK`` with the request's Via/From/To/Call-ID/CSeq (RFC
3261 section 8.2.6.2, so the firewall can match it), ``received``/``rport`` on the top Via
(RFC 3581), ``X-Netcheck-Digest``: SHA-256 of the octets received and their count, and
``X-Netcheck-Answer``: SHA-256 of the answer itself. The sender learns whether anything
changed on the way out (not what) and whether the answer was rewritten on the way in.

Served on UDP and TCP on every port of ``ports`` (default 5060, RFC 3261 section 18.1;
providers also use others, e.g. RingCentral 5090-5099). TCP: one message per connection,
framed by Content-Length (RFC 3261 section 18.3); when an ALG left that header stale the
mirror answers with what arrived once the sender goes quiet.

Keyed mode (a key configured): a request must carry ``X-Netcheck-Auth: t=<unix s>;
n=<nonce>;m=<HMAC-SHA-256(key, "sip-mirror:t:n")>`` with ``t`` within :data:`AUTH_WINDOW_S`
of the mirror's clock and a nonce not used before from another source (a retransmission
from the same source is answered again). Everything else is ignored, unanswered. The header
carries no address, so an ALG has no reason to touch it.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import selectors
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

from netcheck.responder.ratelimit import RateLimiter
from netcheck.responder.replay import DEFAULT_WINDOW_S
from netcheck.responder.stopper import Stopper
from netcheck.wire import sip
from netcheck.wire.sip_mirror import (
    AUTH_HEADER,
    answer,
    header_value,
    mac,
)

log = logging.getLogger(__name__)

MAX_MESSAGE: Final = 65535
DEFAULT_PORTS: Final = (5060,)
MAX_PORTS: Final = 64  # two sockets each; a profile names a handful
MAX_TCP: Final = 64  # TCP connections served at once (one thread each, <= 5 s)
AUTH_WINDOW_S: Final = DEFAULT_WINDOW_S  # the responder's replay window, ±120 s
_NONCES_MAX: Final = 100_000
_TCP_QUIET_S: Final = 0.3


@dataclass
class Authenticator:
    """Checks ``X-Netcheck-Auth``; remembers nonces (and who first used them) while valid."""

    key: bytes | None
    window_s: float = AUTH_WINDOW_S
    seen: OrderedDict[str, tuple[str, float]] = field(default_factory=OrderedDict)

    def allow(self, data: bytes, source: str, now_s: float) -> bool:
        if self.key is None:
            return True
        value = header_value(data, AUTH_HEADER)
        if value is None:
            return False
        params = dict(p.partition("=")[::2] for p in value.split(";"))
        t, nonce, tag = params.get("t", ""), params.get("n", ""), params.get("m", "")
        if not t.isdigit() or abs(now_s - int(t)) > self.window_s:
            return False
        if not hmac.compare_digest(tag, mac(self.key, t, nonce)):
            return False
        return self._fresh(nonce, source, now_s)

    def _fresh(self, nonce: str, source: str, now_s: float) -> bool:
        while self.seen and (next(iter(self.seen.values()))[1] < now_s - 2 * self.window_s
                             or len(self.seen) > _NONCES_MAX):
            self.seen.popitem(last=False)
        first = self.seen.get(nonce)
        if first is not None:
            return first[0] == source  # a retransmission, not a replay from elsewhere
        self.seen[nonce] = (source, now_s)
        return True


# -- server -------------------------------------------------------------------------------


class MirrorServer:
    """UDP and TCP mirror on every port of ``ports``; ``serve()`` blocks until ``stop()``.

    Ports that cannot be bound are left out and logged; :attr:`served` says what is served
    (the responder's control service reports it, so the probe never mistakes an unserved
    port for a path that drops SIP)."""

    def __init__(self, bind: str, ports: tuple[int, ...], key: bytes | None,
                 rate_pps: float = 50.0, burst: float = 100.0,
                 window_s: float = AUTH_WINDOW_S) -> None:

        self.auth = Authenticator(key, window_s)
        self.limiter = RateLimiter(rate_pps, burst)
        self.counters = {"mirrored": 0, "ignored": 0, "rate_limited": 0}
        self.served: dict[str, list[int]] = {"udp": [], "tcp": []}
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(MAX_TCP)
        self._stop = Stopper()
        self._sel = selectors.DefaultSelector()
        for port in ports:
            for kind in ("udp", "tcp"):
                sock = _bind(bind, port, kind)
                if sock is not None:
                    self._sel.register(sock, selectors.EVENT_READ, kind)
                    self.served[kind].append(port)
        log.info("sip mirror (%s) on UDP %s, TCP %s", "keyed" if key else "unkeyed",
                 self.served["udp"] or "-", self.served["tcp"] or "-")

    def stop(self) -> None:
        self._stop.stop()

    def close(self) -> None:
        """Close every socket (also when the responder fails to start after opening us)."""
        for key in list(self._sel.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        self._sel.close()
        self._stop.close()

    def serve(self) -> None:
        self._stop.register(self._sel)
        try:
            while not self._stop.is_set():
                for key, _ in self._sel.select():
                    sock: socket.socket = key.fileobj  # type: ignore[assignment]
                    if self._stop.is_wake(key):
                        continue
                    if key.data == "udp":
                        self._udp(sock)
                    else:
                        self._accept(sock)
        finally:
            self.close()
            log.info("sip mirror stopped: %(mirrored)d mirrored, %(ignored)d ignored, "
                     "%(rate_limited)d rate-limited", self.counters)

    def accept_request(self, data: bytes, source: str) -> bytes | None:
        """Rate limit, authentication, answer: the one decision both transports share."""
        now = time.monotonic()
        with self._lock:
            if not self.limiter.allow(source.rsplit(":", 1)[0], now):
                self.counters["rate_limited"] += 1
                return None
            if not self.auth.allow(data, source, time.time()):
                self.counters["ignored"] += 1
                return None
            self.counters["mirrored"] += 1
        host, _, port = source.rpartition(":")
        return answer(data, (host, int(port)))

    def _udp(self, sock: socket.socket) -> None:
        for _ in range(64):
            try:
                data, peer = sock.recvfrom(MAX_MESSAGE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            reply = self.accept_request(data, f"{peer[0]}:{peer[1]}")
            if reply is not None:
                with contextlib.suppress(OSError):
                    sock.sendto(reply, peer)

    def _accept(self, sock: socket.socket) -> None:
        with contextlib.suppress(BlockingIOError, InterruptedError, OSError):
            conn, peer = sock.accept()
            if not self._slots.acquire(blocking=False):  # at most MAX_TCP open at once
                conn.close()
                with self._lock:
                    self.counters["rate_limited"] += 1
                return
            threading.Thread(target=self._tcp_one, args=(conn, f"{peer[0]}:{peer[1]}"),
                             daemon=True).start()

    def _tcp_one(self, conn: socket.socket, source: str) -> None:
        with conn, _released(self._slots):
            data = read_framed(conn, idle_s=5.0)
            if not data:
                return
            reply = self.accept_request(data, source)
            if reply is not None:
                with contextlib.suppress(OSError):
                    conn.sendall(reply)


@contextlib.contextmanager
def _released(slots: threading.BoundedSemaphore) -> Iterator[None]:
    try:
        yield
    finally:
        slots.release()


def read_framed(conn: socket.socket, idle_s: float) -> bytes:
    """One SIP message from a stream: its Content-Length frame plus whatever else arrives
    before the sender goes quiet (a too-small stale Content-Length leaves bytes behind);
    with a too-large one, what arrived once the sender stayed quiet for a second."""
    buf, start = b"", time.monotonic()
    last = start
    conn.settimeout(_TCP_QUIET_S)
    while time.monotonic() - start < idle_s and len(buf) < MAX_MESSAGE:
        try:
            chunk = conn.recv(65536)
        except TimeoutError:
            if sip.frame_length(buf) is not None:
                return buf
            if b"\r\n\r\n" in buf and time.monotonic() - last >= 1.0:
                return buf
            continue
        except OSError:
            return b""
        if not chunk:
            return buf
        buf += chunk
        last = time.monotonic()
    return buf


def _bind(bind: str, port: int, kind: str) -> socket.socket | None:
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM)
    try:
        if kind == "tcp":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((bind, port))
        if kind == "tcp":
            sock.listen(64)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        log.warning("sip mirror: %s %s:%d not served: %s", kind.upper(), bind, port,
                    exc.strerror or exc)
        return None
    return sock
