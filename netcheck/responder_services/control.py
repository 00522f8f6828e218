"""The responder's TCP control service (same port number as STAMP, TCP): coverage and
exposure.

One JSON object per line in, one per line out, then the connection closes:

- ``{"op": "coverage"}`` -> ``{"ranges": [[lo, hi], ...], "mode": "sockets", "rate_pps": N,
  "seen_as": "198.18.0.1"}``: which UDP ports the range echo really serves, so the probe
  never calls an unserved port "blocked";
- ``{"op": "exposure", "ports": [80, 443, ...]}`` -> ``{"seen_as": ADDR, "ports": {"80":
  "open", "443": "closed", ...}}``: the responder connects back to the *requesting*
  address (as it sees it: the site's public address) on those ports, VSE NET's "no
  administrative access to phones from the internet".

Why TCP: the handshake proves the source address, so the connect-back can only ever target
the requester itself (a UDP request could be spoofed and turn the responder into a port
scanner for hire). The target is never taken from the request. At most ``MAX_PORTS`` ports,
one exposure test per source address per ``EXPOSURE_INTERVAL_S``. With a key, every
request carries ``"mac"``: HMAC-SHA-256 (hex) over ``op`` and the port list (:func:`mac`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import json
import selectors
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

#: Phone admin and SIP ports that must not be reachable from the internet (VSE NET):
#: HTTP/HTTPS web admin, SSH, Telnet, alternative HTTP(S), SIP, SIPS.
DEFAULT_EXPOSURE_PORTS: Final = (80, 443, 22, 23, 8080, 8443, 5060, 5061)
MAX_PORTS: Final = 32
EXPOSURE_INTERVAL_S: Final = 10.0
CONNECT_TIMEOUT_S: Final = 1.5
_MAX_REQUEST: Final = 4096


def mac(key: bytes, op: str, ports: list[int]) -> str:
    """HMAC-SHA-256 over ``"op:port,port,..."`` (hex)."""
    text = f"{op}:{','.join(str(p) for p in ports)}".encode()
    return hmac.new(key, text, hashlib.sha256).hexdigest()


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
                 connect: Callable[[str, int, float], str] = connect_state) -> None:
        self.sock, self.key, self.coverage, self.connect = sock, key, coverage, connect
        self.last_exposure: dict[str, float] = {}
        self.exposures = 0
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def serve(self) -> None:
        self.sock.setblocking(False)
        with selectors.DefaultSelector() as sel:
            sel.register(self.sock, selectors.EVENT_READ)
            while not self._stop.is_set():
                if sel.select(0.2):
                    with contextlib.suppress(BlockingIOError, InterruptedError):
                        conn, peer = self.sock.accept()
                        threading.Thread(target=self._one, args=(conn, peer[0]),
                                         daemon=True).start()
        self.sock.close()

    def _one(self, conn: socket.socket, source: str) -> None:
        with conn:
            conn.settimeout(3.0)
            try:
                line = _read_line(conn)
                reply = self.handle(json.loads(line), source)
            except (OSError, ValueError) as exc:
                reply = {"error": f"bad request: {exc}"}
            with contextlib.suppress(OSError):
                conn.sendall(json.dumps(reply).encode() + b"\n")

    def handle(self, request: dict[str, Any], source: str) -> dict[str, Any]:
        """The answer to one request from ``source`` (the TCP peer address)."""
        op = request.get("op")
        ports = request.get("ports") or []
        if not isinstance(ports, list) or not all(isinstance(p, int) and 0 < p < 65536
                                                  for p in ports):
            return {"error": "ports must be a list of 1-65535"}
        if self.key and not hmac.compare_digest(str(request.get("mac", "")),
                                                mac(self.key, str(op), ports)):
            return {"error": "authentication failed"}
        if op == "coverage":
            return {**self.coverage(), "seen_as": source}
        if op == "exposure":
            return self._exposure(source, ports or list(DEFAULT_EXPOSURE_PORTS))
        return {"error": f"unknown op {op!r}"}

    def _exposure(self, source: str, ports: list[int]) -> dict[str, Any]:
        if len(ports) > MAX_PORTS:
            return {"error": f"at most {MAX_PORTS} ports"}
        now = time.monotonic()
        last = self.last_exposure.get(source)
        if last is not None and now - last < EXPOSURE_INTERVAL_S:
            return {"error": f"one exposure test per {EXPOSURE_INTERVAL_S:g} s per address"}
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
        if len(buf) > _MAX_REQUEST:
            raise ValueError("request too long")
    return buf.split(b"\n", 1)[0]


def request(host: str, port: int, op: str, ports: list[int], key: bytes | None,
            timeout: float) -> dict[str, Any]:
    """Client side (blocking): send one request, return the decoded answer. Raises OSError
    / ValueError for network trouble or garbage; the probes turn those into errors."""
    body: dict[str, Any] = {"op": op, "ports": ports}
    if key:
        body["mac"] = mac(key, op, ports)
    with socket.create_connection((host, port), timeout=timeout) as conn:
        conn.settimeout(timeout)
        conn.sendall(json.dumps(body).encode() + b"\n")
        buf = b""
        while b"\n" not in buf:
            chunk = conn.recv(65536)
            if not chunk:
                break
            buf += chunk
    answer = json.loads(buf.split(b"\n", 1)[0] or b"null")
    if not isinstance(answer, dict):
        raise ValueError("control reply is not a JSON object")
    return answer


def open_side(config: Any, port: int) -> list[Any]:
    """The services that run beside the STAMP socket, opened now (so setup errors reach the
    caller before serving): the UDP range echo when ``config.udp_ranges`` is set, and this
    control service on TCP ``port`` when ``config.control`` (skipped with a log line when
    the TCP port is taken). Each has ``serve()`` (blocking) and ``stop()``."""
    import logging

    from netcheck.responder_services.udp_ranges import RangeConfig, RangeEcho

    side: list[Any] = []
    echo = None
    if config.udp_ranges:
        echo = RangeEcho(RangeConfig(ranges=config.udp_ranges, bind=config.bind, key=config.key,
                                     rate_pps=config.udp_rate_pps, mode=config.udp_mode))
        side.append(echo)

    def coverage() -> dict[str, Any]:
        if echo is None:
            return {"ranges": [], "mode": None, "rate_pps": None}
        return {"ranges": [list(r) for r in echo.coverage], "mode": echo.mode,
                "rate_pps": echo.cfg.rate_pps}

    if config.control:
        family = socket.AF_INET6 if ":" in config.bind else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((config.bind, port))
            sock.listen(16)
        except OSError as exc:
            sock.close()
            logging.getLogger("netcheck.responder").warning(
                "control service (coverage, exposure) not started: TCP %d: %s", port, exc)
        else:
            side.append(Control(sock, config.key, coverage))
    return side
