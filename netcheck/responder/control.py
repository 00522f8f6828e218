"""The responder's TCP control service (same port number as STAMP, TCP): coverage and
exposure.

One JSON object per line in, one per line out, then the connection closes:

- ``{"op": "coverage"}`` -> ``{"ranges": [[lo, hi], ...], "mode": "sockets", "rate_pps": N,
  "sip_mirror": {"udp": [5060], "tcp": [5060]}, "time_s": 1764480000.123, "seen_as":
  "198.18.0.1"}``: which UDP ports the range echo and which ports the SIP mirror really
  serve, so the probe never calls an unserved port "blocked"; ``time_s`` (the responder's
  clock) lets a keyed SIP probe stamp its requests in the mirror's time;
- ``{"op": "exposure", "ports": [80, 443, ...]}`` -> ``{"seen_as": ADDR, "ports": {"80":
  "open", "443": "closed", ...}}``: the responder connects back to the *requesting*
  address (as it sees it: the site's public address) on those ports, VSE NET's "no
  administrative access to phones from the internet".

Why TCP: the handshake proves the source address, so the connect-back can only ever target
the requester itself (a UDP request could be spoofed and turn the responder into a port
scanner for hire). The target is never taken from the request. At most ``MAX_PORTS`` ports,
one exposure test per source address per ``EXPOSURE_INTERVAL_S``. With a key, every
request carries ``"ts"`` (its send time, Unix seconds), a random ``"nonce"`` and ``"mac"``:
HMAC-SHA-256 (hex) over op, port list, ts and nonce (:func:`mac`); a request outside the
timestamp window or whose MAC was answered before is refused (no replays).

Hostile input: a request that is not one JSON object (garbage, ``[]``, ``"x"``, deep
nesting, over 4 KiB) is answered with a one-line error ``{"error": "<code>"}``, and like
every error reply it is never larger than the request that caused it (when the request is
shorter than the error line the connection is closed without one). Only the documented
answers (coverage, exposure) may be larger than their request. At most
``MAX_CONNECTIONS`` requests are served at once, ``MAX_PER_SOURCE`` from one address (so one
slow client cannot hold every slot); further connections are closed at once.
"""

from __future__ import annotations

import contextlib
import errno
import hmac
import json
import logging
import math
import selectors
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

from netcheck.responder.replay import DEFAULT_WINDOW_S, ReplayGuard
from netcheck.responder.stopper import Stopper
from netcheck.wire.control import (
    CONNECT_TIMEOUT_S,
    DEFAULT_EXPOSURE_PORTS,
    MAX_PORTS,
    MAX_REQUEST,
    RequestError,
    decode,
    error_line,
    mac,
)

EXPOSURE_INTERVAL_S: Final = 10.0
MAX_CONNECTIONS: Final = 64
MAX_PER_SOURCE: Final = 8
_MAX_SOURCES: Final = 10_000


def connect_state(address: str, port: int, timeout: float) -> str:
    """``open`` (handshake done), ``closed`` (RST), ``filtered`` (silence) or
    ``unreachable`` (ICMP error)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect((address, port))
        except TimeoutError:
            return "filtered"
        except ConnectionRefusedError:
            return "closed"
        except OSError as exc:
            return "filtered" if exc.errno == errno.ETIMEDOUT else "unreachable"
    return "open"


class Control:
    """Serve control requests on a listening TCP socket until :meth:`stop`."""

    def __init__(self, sock: socket.socket, key: bytes | None,
                 coverage: Callable[[], dict[str, Any]],
                 connect: Callable[[str, int, float], str] = connect_state,
                 window_s: float = DEFAULT_WINDOW_S) -> None:
        self.sock, self.key, self.coverage, self.connect = sock, key, coverage, connect
        self.replay = ReplayGuard(window_s) if key else None
        self.last_exposure: dict[str, float] = {}
        self.exposures = 0
        self.errors = 0  # requests answered with (or closed for) an error
        self.crashes = 0  # handler bugs: must stay 0
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._per_source: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = Stopper()

    def stop(self) -> None:
        self._stop.stop()

    def serve(self) -> None:
        self.sock.setblocking(False)
        with selectors.DefaultSelector() as sel:
            sel.register(self.sock, selectors.EVENT_READ)
            self._stop.register(sel)
            while not self._stop.is_set():
                if any(not self._stop.is_wake(key) for key, _ in sel.select()):
                    self._accept()
        self.sock.close()
        self._stop.close()

    def _accept(self) -> None:
        """One connection: admitted to a handler thread, or closed at once."""
        try:
            conn, peer = self.sock.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return
        except OSError:  # e.g. EMFILE under a connection flood: pause, never die
            time.sleep(0.05)
            return
        if not self._admit(peer[0]):
            conn.close()  # connection flood: refuse, never queue threads
            return
        try:
            threading.Thread(target=self._one, args=(conn, peer[0]), daemon=True).start()
        except RuntimeError:  # no thread to be had: this connection goes, the service stays
            conn.close()
            self._release(peer[0])

    def _admit(self, source: str) -> bool:
        with self._lock:
            if self._per_source.get(source, 0) >= MAX_PER_SOURCE:
                return False
            if not self._slots.acquire(blocking=False):
                return False
            self._per_source[source] = self._per_source.get(source, 0) + 1
            return True

    def _one(self, conn: socket.socket, source: str) -> None:
        try:
            with conn:
                conn.settimeout(3.0)
                self._serve_one(conn, source)
        finally:
            self._release(source)

    def _release(self, source: str) -> None:
        with self._lock:
            left = self._per_source.pop(source) - 1
            if left:
                self._per_source[source] = left
        self._slots.release()

    def _serve_one(self, conn: socket.socket, source: str) -> None:
        """Read one line, answer it; any failure becomes a short error line."""
        raw = b""
        try:
            raw = _read_line(conn)
            reply = json.dumps(self.handle(decode(raw), source)).encode() + b"\n"
        except RequestError as exc:  # too_long: more than MAX_REQUEST octets arrived
            reply = self._error(exc.code, MAX_REQUEST if exc.code == "too_long" else len(raw))
        except OSError:
            return  # the peer went away or was too slow: nothing to answer
        except Exception:  # a bug must cost one request, never the service
            self.crashes += 1
            logging.getLogger(__name__).exception("control request from %s", source)
            reply = self._error("internal", len(raw))
        with contextlib.suppress(OSError):
            if reply:
                conn.sendall(reply)

    def _error(self, code: str, request_len: int) -> bytes:
        self.errors += 1
        return error_line(code, request_len + 1)  # + the newline that ended the request

    def handle(self, request: dict[str, Any], source: str) -> dict[str, Any]:
        """The answer to one decoded request from ``source`` (the TCP peer address);
        raises :class:`RequestError` for a request that is refused."""
        op = request.get("op")
        ports = request.get("ports") or []
        if not isinstance(ports, list) or not all(type(p) is int and 0 < p < 65536 for p in ports):
            raise RequestError("ports")
        if self.key:
            self._authenticate(request, str(op), ports, source)
        if op == "coverage":
            return {**self.coverage(), "seen_as": source}
        if op == "exposure":
            return self._exposure(source, ports or list(DEFAULT_EXPOSURE_PORTS))
        raise RequestError("op")

    def _authenticate(self, request: dict[str, Any], op: str, ports: list[int], source: str) -> None:
        """HMAC over op, ports, ts and nonce; then the replay rules (window, seen once)."""
        assert self.key is not None and self.replay is not None
        ts, nonce, given = request.get("ts"), request.get("nonce"), request.get("mac")
        if not (isinstance(ts, int | float) and not isinstance(ts, bool) and math.isfinite(ts)
                and isinstance(nonce, str) and isinstance(given, str)):
            raise RequestError("auth")
        want = mac(self.key, op, ports, float(ts), nonce)
        if not hmac.compare_digest(given.encode(errors="replace"), want.encode()):
            raise RequestError("auth")
        with self._lock:
            if self.replay.check(int(ts * 1e9), bytes.fromhex(want), source) is not None:
                raise RequestError("replay")

    def _exposure(self, source: str, ports: list[int]) -> dict[str, Any]:
        if len(ports) > MAX_PORTS:
            raise RequestError("ports")
        now = time.monotonic()
        with self._lock:
            last = self.last_exposure.get(source)
            if last is not None and now - last < EXPOSURE_INTERVAL_S:
                raise RequestError("rate")
            if len(self.last_exposure) >= _MAX_SOURCES:  # forget addresses past their interval
                self.last_exposure = {a: t for a, t in self.last_exposure.items()
                                      if now - t < EXPOSURE_INTERVAL_S}
            self.last_exposure[source] = now
            self.exposures += 1
        with ThreadPoolExecutor(max_workers=len(ports)) as pool:
            states = list(pool.map(lambda p: self.connect(source, p, CONNECT_TIMEOUT_S), ports))
        return {"seen_as": source, "timeout_s": CONNECT_TIMEOUT_S,
                "ports": {str(p): s for p, s in zip(ports, states, strict=True)}}


def _read_line(conn: socket.socket) -> bytes:
    buf = b""
    while b"\n" not in buf:
        chunk = conn.recv(1024)
        if not chunk:
            break
        buf += chunk
        if len(buf) > MAX_REQUEST:
            raise RequestError("too_long")
    return buf.split(b"\n", 1)[0]


def without_ports(ranges: tuple[tuple[int, int], ...], ports: list[int]
                  ) -> tuple[tuple[int, int], ...]:
    """``ranges`` minus ``ports``: a UDP port the SIP mirror serves is not also echoed (one
    socket per port, and a redirect would steal the mirror's datagrams); the echo's
    coverage then says so and the sweep calls it "not covered", never "blocked"."""
    out: list[tuple[int, int]] = []
    for lo, hi in ranges:
        start = lo
        for p in sorted(q for q in set(ports) if lo <= q <= hi):
            if p > start:
                out.append((start, p - 1))
            start = p + 1
        if start <= hi:
            out.append((start, hi))
    return tuple(out)


def open_side(config: Any, port: int) -> list[Any]:
    """The services that run beside the STAMP socket, opened now (so setup errors reach the
    caller before serving): the SIP mirror on ``config.sip_ports`` (UDP and TCP), the UDP range
    echo on ``config.udp_ranges`` minus the mirror's ports, and this
    control service on TCP ``port`` when ``config.control`` (skipped with a log line when
    the TCP port is taken). Each has ``serve()`` (blocking) and ``stop()``."""
    from netcheck.responder.sip_mirror import MirrorServer
    from netcheck.responder.udp_ranges import RangeConfig, RangeEcho

    side: list[Any] = []
    mirror = (MirrorServer(config.bind, config.sip_ports, config.key,
                           window_s=config.replay_window_s) if config.sip_ports else None)
    if mirror is not None:
        side.append(mirror)
    echo = None
    ranges = without_ports(config.udp_ranges, mirror.served["udp"] if mirror else [])
    if ranges:
        try:
            echo = RangeEcho(RangeConfig(ranges=ranges, bind=config.bind, key=config.key,
                                         rate_pps=config.udp_rate_pps, mode=config.udp_mode,
                                         replay_window_s=config.replay_window_s))
        except BaseException:
            if mirror is not None:
                mirror.close()
            raise
        side.append(echo)

    def coverage() -> dict[str, Any]:
        sip_ports = mirror.served if mirror is not None else {"udp": [], "tcp": []}
        sip_info = {"sip_mirror": sip_ports, "time_s": round(time.time(), 3)}
        if echo is None:
            return {"ranges": [], "mode": None, "rate_pps": None, **sip_info}
        return {"ranges": [list(r) for r in echo.coverage], "mode": echo.mode,
                "rate_pps": echo.cfg.rate_pps, **sip_info}

    if config.control:
        family = socket.AF_INET6 if ":" in config.bind else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((config.bind, port))
            sock.listen(16)
        except OSError as exc:
            sock.close()
            logging.getLogger(__name__).warning(
                "control service (coverage, exposure) not started: TCP %d: %s", port, exc)
        else:
            side.append(Control(sock, config.key, coverage, window_s=config.replay_window_s))
    return side
