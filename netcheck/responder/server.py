"""``netcheck responder``: the far end that the integrator runs at a data centre or a second site.

This module is the STAMP Session-Reflector (RFC 8762) that the stream, capacity and QoS
probes measure against. The other services open beside it
(:func:`netcheck.responder.control.open_side`): the TCP control channel (coverage,
connect-back exposure), the whole-range UDP echo (which also returns each request's DS octet:
DSCP read-back) and the SIP mirror. A datagram service plugs into :data:`HANDLERS`: a handler turns one request datagram
into at most one reply datagram and knows nothing about sockets.

Safety rules every handler lives under (enforced here, not in the handlers):

- never amplify: a reply larger than its request is dropped (and counted);
- per-source token bucket: at most ``rate_pps`` requests per second (burst ``burst``) from
  one source address; the rest are dropped unanswered;
- a key configured means authenticated mode only (RFC 8762 4.4, HMAC-SHA-256): requests
  without a valid HMAC are dropped, and so are replays (timestamp window, per-session
  sequence window, each HMAC answered once: :mod:`netcheck.responder.replay`);
- bounded state: the STAMP session table (:class:`SessionTable`) and the rate limiter's
  buckets have fixed caps, so a flood from spoofed sources costs bounded memory;
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
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Protocol

from netcheck import platform as plat
from netcheck.clock import clock_sync, error_estimate
from netcheck.platform import enable_rx_timestamps, kernel_rx_ns
from netcheck.responder.control import open_side
from netcheck.responder.ratelimit import RateLimiter
from netcheck.responder.replay import DEFAULT_WINDOW_S, ReplayGuard, SeqWindow
from netcheck.responder.stopper import Stopper
from netcheck.wire.stamp import (
    HMAC_LEN,
    HMAC_OFFSET,
    STAMP_PORT,
    ErrorEstimate,
    SenderPacket,
    StampError,
    ns_from_timestamp,
    ntp_from_ns,
    parse_sender,
    reflect,
)
from netcheck.wire.stamp_fast import reflect_unauth, request_ssid

log = logging.getLogger("netcheck.responder.server")

DEFAULT_PORT: Final = STAMP_PORT
_BUF: Final = 65535
#: STAMP session table bounds (docs/responder.md, "Safety"): a capacity ramp runs up to 400
#: calls (one session each) from one site address, so 1,024 per source leaves room; 16,384
#: sessions in all keep the table to a few MB whatever a spoofed flood sends.
MAX_SESSIONS: Final = 16_384
MAX_SESSIONS_PER_SOURCE: Final = 1_024
#: Sessions shorter than this end without their own log line (one summary line instead).
_LOG_MIN_PACKETS: Final = 10


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
    max_sessions: int = MAX_SESSIONS
    max_sessions_per_source: int = MAX_SESSIONS_PER_SOURCE
    replay_window_s: float = DEFAULT_WINDOW_S  # keyed mode: accepted request timestamp skew
    udp_ranges: tuple[tuple[int, int], ...] = ()  # UDP range echo (responder.udp_ranges)
    udp_mode: str = "auto"  # auto | sockets | redirect
    udp_rate_pps: float = 5000.0  # per source, range echo only (a sweep needs thousands/s)
    control: bool = False  # TCP control service on the same port (coverage, exposure); CLI: on
    sip_ports: tuple[int, ...] = ()  # SIP mirror, UDP + TCP (responder.sip_mirror); CLI: 5060


@dataclass
class Counters:
    """What the responder did, for the shutdown line and the tests."""

    received: int = 0
    replied: int = 0
    garbage: int = 0
    rate_limited: int = 0
    oversized_replies: int = 0
    handler_errors: int = 0  # a handler bug (not garbage input): must stay 0
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


@dataclass(slots=True)
class _StampSession:
    next_seq: int = 0
    first_mono: float = 0.0
    last_mono: float = 0.0
    window: SeqWindow | None = None  # authenticated mode: the sender's sequence numbers seen


SessionKey = tuple[str, int, int]  # (source address, source port, SSID)


class SessionTable:
    """The reflector's per-session state, bounded (issue 21): at most ``max_sessions`` in
    all and ``per_source`` per source address, least recently used evicted first.

    Unauthenticated requests can come from any spoofed address, so an unbounded table is
    a memory leak on demand. Evicting a live session only restarts its reflector sequence
    counter (the sender then sees a jump in the backward-loss split), never a wrong echo.
    """

    def __init__(self, max_sessions: int, per_source: int) -> None:
        self.max_sessions, self.per_source = max_sessions, per_source
        self._lru: OrderedDict[SessionKey, _StampSession] = OrderedDict()
        # per source address its sessions in LRU order (a plain dict keeps insertion order;
        # re-inserting moves a key to the end): the per-source eviction is O(1), not a scan
        # of the whole table, and a spoofed one-session source costs one small dict
        self._by_source: dict[str, dict[SessionKey, None]] = {}
        self.created = self.evicted = 0

    def get(self, sid: SessionKey, now: float) -> _StampSession:
        state = self._lru.get(sid)
        if state is not None:
            self._lru.move_to_end(sid)
            order = self._by_source[sid[0]]
            del order[sid]
            order[sid] = None
            return state
        mine = self._by_source.get(sid[0])
        if mine is not None and len(mine) >= self.per_source:
            self._evict(next(iter(mine)))
        elif len(self._lru) >= self.max_sessions:
            self._evict(next(iter(self._lru)))
        state = self._lru[sid] = _StampSession(first_mono=now, last_mono=now)
        self._by_source.setdefault(sid[0], {})[sid] = None
        self.created += 1
        return state

    def _evict(self, sid: SessionKey) -> None:
        self.evicted += 1
        self.pop(sid)

    def pop(self, sid: SessionKey) -> _StampSession:
        state = self._lru.pop(sid)
        mine = self._by_source[sid[0]]
        del mine[sid]
        if not mine:
            del self._by_source[sid[0]]
        return state

    def idle(self, now: float, idle_s: float) -> list[SessionKey]:
        """Sessions quiet for ``idle_s`` (oldest first; the LRU order is by last use)."""
        out = []
        for sid, state in self._lru.items():
            if now - state.last_mono < idle_s:
                break
            out.append(sid)
        return out

    def items(self) -> list[tuple[SessionKey, _StampSession]]:
        return list(self._lru.items())

    def __len__(self) -> int:
        return len(self._lru)


class StampReflector:
    """Stateful RFC 8762 Session-Reflector (unauthenticated, or authenticated with ``key``).

    Authenticated mode also refuses replays (:mod:`netcheck.responder.replay`):
    the request's timestamp must be within the window, its sequence number new in its
    session, and its HMAC not answered before (from whatever source)."""

    name = "stamp"

    def __init__(self, config: Config) -> None:
        self.key = config.key
        self.sessions = SessionTable(config.max_sessions, config.max_sessions_per_source)
        self.replay = ReplayGuard(config.replay_window_s) if config.key else None
        self.replays = 0
        self.short_sessions = 0
        sync = clock_sync()
        self.estimate: ErrorEstimate = error_estimate(sync.synchronized, sync.error_s)

    @property
    def total_sessions(self) -> int:
        return self.sessions.created

    def handle(self, data: bytes, peer: tuple[str, int], rx_real_ns: int, ttl: int) -> bytes | None:
        try:  # unauthenticated: fixed-offset fast path, same octets (wire.stamp_fast)
            request = None if self.key is None else parse_sender(data, self.key)
            ssid = request_ssid(data) if request is None else request.ssid
        except StampError as exc:
            raise ValueError(str(exc)) from None
        now = time.monotonic()
        state = self.sessions.get((peer[0], peer[1], ssid), now)
        if request is not None and not self._fresh(request, data, state, peer[0]):
            return None
        state.last_mono = now
        seq = state.next_seq & 0xFFFF_FFFF
        state.next_seq += 1
        rx_ts, tx_ts = ntp_from_ns(rx_real_ns), ntp_from_ns(plat.real_ns())
        if request is None:
            return reflect_unauth(data, receive_ts=rx_ts, send_ts=tx_ts, ttl=ttl, reflector_seq=seq,
                                  estimate=self.estimate.to_int())
        reply = reflect(request, receive_ts=rx_ts, send_ts=tx_ts, ttl=ttl, reflector_seq=seq,
                        error_estimate=self.estimate)
        return reply.to_bytes(self.key)

    def _fresh(self, request: SenderPacket, data: bytes, state: _StampSession, source: str) -> bool:
        """Authenticated mode: timestamp window, per-session sequence, MAC seen once."""
        assert self.replay is not None
        if state.window is None:
            state.window = SeqWindow()
        why = self.replay.check(ns_from_timestamp(request.timestamp, request.error_estimate),
                                data[HMAC_OFFSET:HMAC_OFFSET + HMAC_LEN], source)
        if why is None and not state.window.accept(request.seq):
            why = f"sequence number {request.seq} already seen in this session"
        if why is not None:
            self.replays += 1
            log.debug("stamp: refused authenticated request: %s", why)
            return False
        return True

    def expire(self, now_mono: float, idle_s: float) -> None:
        for sid in self.sessions.idle(now_mono, idle_s):
            self._log_end(sid, self.sessions.pop(sid))

    def close(self) -> None:
        for sid, state in self.sessions.items():
            self._log_end(sid, state)
        if self.short_sessions:
            log.info("stamp: %d sessions of fewer than %d packets ended (not logged one by one)",
                     self.short_sessions, _LOG_MIN_PACKETS)
        if self.sessions.evicted:
            log.info("stamp: %d sessions evicted from the full session table (cap %d, %d per source)",
                     self.sessions.evicted, self.sessions.max_sessions, self.sessions.per_source)

    def _log_end(self, sid: SessionKey, state: _StampSession) -> None:
        if state.next_seq < _LOG_MIN_PACKETS:  # a flood of one-packet sessions: one summary line
            self.short_sessions += 1
            return
        mode = "authenticated" if self.key else "unauthenticated"
        log.info(
            "stamp session %s:%d ssid %d (%s): %d packets reflected in %.1f s",
            sid[0], sid[1], sid[2], mode, state.next_seq, state.last_mono - state.first_mono,
        )


#: Service name -> handler factory. Future far-end services register here.
HANDLERS: dict[str, Callable[[Config], Handler]] = {"stamp": StampReflector}


# --------------------------------------------------------------------------------------
# Rate limit
# --------------------------------------------------------------------------------------


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
            plat.enable_recv_ttl(sock)
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
        self._stop = Stopper()
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
        """Every service at once: each loop wakes now, not at its next poll."""
        self._stop.stop()
        for s in self._side:
            s.stop()

    def serve(self) -> Counters:
        """The receive loop; returns the counters after :meth:`stop`."""
        mode = "authenticated (HMAC-SHA-256)" if self.config.key else "unauthenticated"
        log.info("responder listening on %s:%d, STAMP %s", *self.address, mode)
        next_expiry = time.monotonic() + 1.0
        side = [threading.Thread(target=s.serve, name=f"netcheck-{type(s).__name__}", daemon=True)
                for s in self._side]
        for t in side:
            t.start()
        self._stop.register(self._sel)  # after the services: ``address`` is the first key's
        try:
            while not self._stop.is_set():
                for key, _ in self._sel.select(0.2):
                    if not self._stop.is_wake(key):
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
                data, anc, peer = plat.recv_anc(sock, _BUF)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue  # e.g. ICMP error queued on the socket; keep serving
            rx = kernel_rx_ns(anc) or plat.real_ns()
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
        except ValueError:  # garbage (the handlers' contract): dropped, counted
            c.garbage += 1
            return
        except Exception:  # a handler bug: still never stops the server, but logged
            c.handler_errors += 1
            if c.handler_errors <= 10:  # a flood must not turn into a log flood
                    log.exception("%s handler failed on a %d-octet datagram from %s", handler.name,
                              len(data), peer[0])
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
        self._stop.close()
        c = self.counters
        log.info("responder stopped: %d received, %d replied, %d garbage, %d rate-limited, %d sessions, "
                 "%d handler errors", c.received, c.replied, c.garbage, c.rate_limited, c.sessions,
                 c.handler_errors)


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
