"""``netcheck responder``: the far end that the integrator runs at a data centre or a second site.

Today it hosts the STAMP Session-Reflector (RFC 8762) that the stream probe measures against;
later services (UDP range echo, SIP mirror, DSCP read-back, load sink) plug into
:data:`HANDLERS`: a handler turns one request datagram into at most one reply datagram and
knows nothing about sockets, so each new service is one class and one registry line.

Safety rules every handler lives under (enforced here, not in the handlers):

- never amplify: a reply larger than its request is dropped (and counted);
- per-source token bucket: at most ``rate_pps`` requests per second (burst ``burst``) from
  one source address; the rest are dropped unanswered;
- a key configured means authenticated mode only (RFC 8762 4.4, HMAC-SHA-256): requests
  without a valid HMAC are dropped;
- garbage never stops the server: a request that fails to parse is dropped and counted.

The reflector is stateful (RFC 8762 4.2): each session, keyed by source address, port and
SSID, has its own reply sequence counter, which lets the sender split loss into forward and
backward. Receive timestamps are the kernel's (SO_TIMESTAMPNS, Linux), the send timestamp is
taken immediately before the reply is built; both CLOCK_REALTIME in NTP format, with an
Error Estimate whose S bit says whether adjtimex reports the clock synchronised.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Protocol

from netcheck.probes._stream_engine import IP_RECVTTL, clock_sync, enable_rx_timestamps, kernel_rx_ns
from netcheck.probes._stream_sessions import error_estimate
from netcheck.responder_services.control import open_side
from netcheck.responder_services.sip_mirror import SipMirror
from netcheck.wire.stamp import ErrorEstimate, StampError, ntp_from_ns, parse_sender, reflect
from netcheck.wire.stamp_fast import reflect_unauth, request_ssid

log = logging.getLogger("netcheck.responder")

DEFAULT_PORT: Final = 862  # RFC 8762 4.1
_BUF: Final = 65535
_ANC: Final = socket.CMSG_SPACE(16) + socket.CMSG_SPACE(4) * 2


class KeyFileError(ValueError):
    """The key file is missing, unreadable or empty."""


def load_key(path: str | Path) -> bytes:
    """The shared HMAC key: the file's bytes with surrounding whitespace removed. Both
    ``netcheck responder --key-file`` and ``netcheck run --responder-key-file`` read it
    this way, so one file serves both ends."""
    try:
        key = Path(path).read_bytes().strip()
    except OSError as exc:
        raise KeyFileError(f"{path}: {exc.strerror or exc}") from None
    if not key:
        raise KeyFileError(f"{path}: key file is empty")
    return key


@dataclass(frozen=True)
class Config:
    """Where to listen and the safety limits. ``port`` 0 = any free port."""

    bind: str = "0.0.0.0"
    port: int = DEFAULT_PORT
    key: bytes | None = field(default=None, repr=False)
    rate_pps: float = 1000.0
    burst: float = 1000.0
    session_idle_s: float = 60.0
    udp_ranges: tuple[tuple[int, int], ...] = ()  # UDP range echo (responder_services.udp_ranges)
    udp_mode: str = "auto"  # auto | sockets | redirect
    udp_rate_pps: float = 5000.0  # per source, range echo only (a sweep needs thousands/s)
    control: bool = False  # TCP control service on the same port (coverage, exposure); CLI: on


@dataclass
class Counters:
    """What the responder did, for the shutdown line and the tests."""

    received: int = 0
    replied: int = 0
    garbage: int = 0
    rate_limited: int = 0
    oversized_replies: int = 0
    sessions: int = 0


class Handler(Protocol):
    """One far-end service: a request datagram in, at most one reply out."""

    name: str

    def handle(self, data: bytes, peer: tuple[str, int], rx_real_ns: int, ttl: int) -> bytes | None:
        """The reply, or None to stay silent. Raise ValueError for garbage."""
        ...

    def expire(self, now_mono: float, idle_s: float) -> None:
        """Forget idle per-peer state (and log what ended)."""
        ...


# --------------------------------------------------------------------------------------
# STAMP reflector
# --------------------------------------------------------------------------------------


@dataclass
class _StampSession:
    next_seq: int = 0
    first_mono: float = 0.0
    last_mono: float = 0.0


class StampReflector:
    """Stateful RFC 8762 Session-Reflector (unauthenticated, or authenticated with ``key``)."""

    name = "stamp"

    def __init__(self, config: Config) -> None:
        self.key = config.key
        self.sessions: dict[tuple[str, int, int], _StampSession] = {}
        self.total_sessions = 0
        sync = clock_sync()
        self.estimate: ErrorEstimate = error_estimate(sync.synchronized, sync.error_s)

    def handle(self, data: bytes, peer: tuple[str, int], rx_real_ns: int, ttl: int) -> bytes | None:
        try:  # unauthenticated: fixed-offset fast path, same octets (wire.stamp_fast)
            request = None if self.key is None else parse_sender(data, self.key)
            ssid = request_ssid(data) if request is None else request.ssid
        except StampError as exc:
            raise ValueError(str(exc)) from None
        now = time.monotonic()
        sid = (peer[0], peer[1], ssid)
        state = self.sessions.get(sid)
        if state is None:
            state = self.sessions[sid] = _StampSession(first_mono=now)
            self.total_sessions += 1
        state.last_mono = now
        seq = state.next_seq & 0xFFFF_FFFF
        state.next_seq += 1
        rx_ts, tx_ts = ntp_from_ns(rx_real_ns), ntp_from_ns(time.time_ns())
        if request is None:
            return reflect_unauth(data, receive_ts=rx_ts, send_ts=tx_ts, ttl=ttl, reflector_seq=seq,
                                  estimate=self.estimate.to_int())
        reply = reflect(request, receive_ts=rx_ts, send_ts=tx_ts, ttl=ttl, reflector_seq=seq,
                        error_estimate=self.estimate)
        return reply.to_bytes(self.key)

    def expire(self, now_mono: float, idle_s: float) -> None:
        for sid, state in list(self.sessions.items()):
            if now_mono - state.last_mono >= idle_s:
                self._log_end(sid, state)
                del self.sessions[sid]

    def close(self) -> None:
        for sid, state in self.sessions.items():
            self._log_end(sid, state)
        self.sessions.clear()

    def _log_end(self, sid: tuple[str, int, int], state: _StampSession) -> None:
        mode = "authenticated" if self.key else "unauthenticated"
        log.info(
            "stamp session %s:%d ssid %d (%s): %d packets reflected in %.1f s",
            sid[0], sid[1], sid[2], mode, state.next_seq, state.last_mono - state.first_mono,
        )


#: Service name -> handler factory. Future far-end services register here.
HANDLERS: dict[str, Callable[[Config], Handler]] = {"stamp": StampReflector, "sip_mirror": SipMirror}


# --------------------------------------------------------------------------------------
# Rate limit
# --------------------------------------------------------------------------------------


class RateLimiter:
    """Token bucket per source address: ``rate`` tokens/s up to ``burst``; one per request."""

    def __init__(self, rate: float, burst: float, max_sources: int = 10_000) -> None:
        self.rate, self.burst, self.max_sources = rate, max(burst, 1.0), max_sources
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, source: str, now: float) -> bool:
        tokens, last = self._buckets.get(source, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[source] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._buckets) > self.max_sources:
            self._prune(now)
        return allowed

    def _prune(self, now: float) -> None:
        """Forget sources whose bucket is full again (they have been quiet)."""
        full = [s for s, (t, last) in self._buckets.items() if t + (now - last) * self.rate >= self.burst]
        for s in full:
            del self._buckets[s]


# --------------------------------------------------------------------------------------
# Server
# --------------------------------------------------------------------------------------


def _open(config: Config) -> socket.socket:
    family = socket.AF_INET6 if ":" in config.bind else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        enable_rx_timestamps(sock)
        with contextlib.suppress(OSError):
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
            sock.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
        sock.bind((config.bind, config.port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _ttl(ancdata: list[tuple[int, int, bytes]]) -> int:
    """The request's IP TTL / IPv6 Hop Limit from the control messages (0 = unknown)."""
    for level, kind, data in ancdata:
        if (level, kind) in ((socket.IPPROTO_IP, socket.IP_TTL),
                             (socket.IPPROTO_IPV6, socket.IPV6_HOPLIMIT)) and data:
            return int.from_bytes(data[:4], "little") & 0xFF if len(data) >= 4 else data[0]
    return 0


class Responder:
    """Serve the configured handlers until :meth:`stop` (or SIGTERM in the CLI)."""

    def __init__(self, config: Config, services: tuple[str, ...] = ("stamp",)) -> None:
        self.config = config
        self.counters = Counters()
        self.limiter = RateLimiter(config.rate_pps, config.burst)
        self._stop = threading.Event()
        self._sel = selectors.DefaultSelector()
        self._handlers: list[Handler] = []
        for name in services:
            handler = HANDLERS[name](config)
            sock = _open(config)
            self._handlers.append(handler)
            self._sel.register(sock, selectors.EVENT_READ, handler)
        self._side = open_side(config, self.address[1])  # range echo, TCP control (issue 5)

    @property
    def address(self) -> tuple[str, int]:
        """(address, port) of the first service, e.g. after binding port 0."""
        sock = next(iter(self._sel.get_map().values())).fileobj
        host, port = sock.getsockname()[:2]  # type: ignore[union-attr]
        return str(host), int(port)

    def stop(self) -> None:
        self._stop.set()

    def serve(self) -> Counters:
        """The receive loop; returns the counters after :meth:`stop`."""
        mode = "authenticated (HMAC-SHA-256)" if self.config.key else "unauthenticated"
        log.info("responder listening on %s:%d, STAMP %s", *self.address, mode)
        next_expiry = time.monotonic() + 1.0
        side = [threading.Thread(target=s.serve, name=f"netcheck-{type(s).__name__}", daemon=True)
                for s in self._side]
        for t in side:
            t.start()
        try:
            while not self._stop.is_set():
                for key, _ in self._sel.select(0.2):
                    self._drain(key.fileobj, key.data)  # type: ignore[arg-type]
                if (now := time.monotonic()) >= next_expiry:
                    for h in self._handlers:
                        h.expire(now, self.config.session_idle_s)
                    next_expiry = now + 1.0
        finally:
            for s in self._side:
                s.stop()
            for t in side:
                t.join(5.0)
            self._close()
        return self.counters

    def _drain(self, sock: socket.socket, handler: Handler, limit: int = 256) -> None:
        for _ in range(limit):
            try:
                data, anc, _flags, peer = sock.recvmsg(_BUF, _ANC)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue  # e.g. ICMP error queued on the socket; keep serving
            rx = kernel_rx_ns(anc) or time.time_ns()
            self._answer(sock, handler, data, peer, rx, _ttl(anc))

    def _answer(self, sock: socket.socket, handler: Handler, data: bytes, peer: tuple[str, int],
                rx_real_ns: int, ttl: int) -> None:
        c = self.counters
        c.received += 1
        if not self.limiter.allow(peer[0], time.monotonic()):
            c.rate_limited += 1
            return
        try:
            reply = handler.handle(data, (peer[0], peer[1]), rx_real_ns, ttl)
        except Exception:  # garbage must never stop the server
            c.garbage += 1
            return
        if reply is None:
            return
        if len(reply) > len(data):
            c.oversized_replies += 1  # never amplify
            return
        with contextlib.suppress(OSError):
            sock.sendto(reply, peer)
            c.replied += 1

    def _close(self) -> None:
        for h in self._handlers:
            closer = getattr(h, "close", None)
            if closer:
                closer()
        self.counters.sessions = sum(getattr(h, "total_sessions", 0) for h in self._handlers)
        for key in list(self._sel.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        self._sel.close()
        c = self.counters
        log.info("responder stopped: %d received, %d replied, %d garbage, %d rate-limited, %d sessions",
                 c.received, c.replied, c.garbage, c.rate_limited, c.sessions)


@contextlib.contextmanager
def running(config: Config) -> Iterator[Responder]:
    """A responder in a background thread (demo, tests): yields it; stops it on exit."""
    responder = Responder(config)
    thread = threading.Thread(target=responder.serve, name="netcheck-responder", daemon=True)
    thread.start()
    try:
        yield responder
    finally:
        responder.stop()
        thread.join(5.0)
