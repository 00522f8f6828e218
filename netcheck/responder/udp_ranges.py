"""UDP range echo: the responder receives on *every* port of whole ranges (issue 5).

Two ways to receive on 16,384+ ports, measured on the reference VM (bench/RESULTS.md):

- ``sockets`` (default): one UDP socket per port, all in one epoll selector. Binding
  16,384 sockets takes 0.08 s and 18 MB RSS; it needs one file descriptor per port, so
  RLIMIT_NOFILE is raised to what the ranges need (within the hard limit). It needs no
  privileges for ports >= 1024 and no firewall rules, replies leave from the very port the
  request arrived on, and the responder knows that port exactly (``rx_port`` in the
  reply). A port another program already holds cannot be bound: it is left out of the
  coverage the responder reports, so the probe calls it "not covered", never "blocked".
- ``redirect``: one socket and an nftables ``redirect`` rule (nat prerouting) that maps
  every destination port of the ranges to it; conntrack rewrites the reply's source port
  back to the original one, so the probe still sees the reply from port P. Needs root and
  nft, and cannot tell which port a datagram came in on (``rx_port`` 0; the probe relies
  on the reply's source port). Used when the ranges need more descriptors than the hard
  limit allows (e.g. RingCentral's 20000-64999), or when asked for. (``SO_ORIGINAL_DST``
  is TCP-only; TPROXY + ``IP_RECVORIGDSTADDR`` would need a transparent socket bound per
  reply port to answer from it, which is the sockets mode with extra steps.)

Every reply is the request's size (no amplification), at most one per request, and a
per-source token bucket (``rate_pps``, explicit because a sweep legitimately needs a few
thousand per second) bounds what one source gets. With a key, unauthenticated requests are
dropped, and so are replays (stale send time, or an HMAC already answered). The DS octet
each request arrived with is returned (``IP_RECVTOS``), and the reply is sent with the DS
octet the request asks for, so DSCP is read back both ways.
"""

from __future__ import annotations

import contextlib
import logging
import resource
import selectors
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from typing import Final

from netcheck import platform as plat
from netcheck.responder.ratelimit import RateLimiter
from netcheck.responder.replay import DEFAULT_WINDOW_S, ReplayGuard
from netcheck.responder.stopper import Stopper
from netcheck.wire import portecho

log = logging.getLogger(__name__)

DEFAULT_RATE_PPS: Final = 5000.0
_FD_MARGIN: Final = 256
_TABLE: Final = "netcheck_responder"
IPV6_TCLASS: Final = getattr(socket, "IPV6_TCLASS", 67)
IPV6_RECVTCLASS: Final = getattr(socket, "IPV6_RECVTCLASS", 66)


class RangeSetupError(RuntimeError):
    """The ranges cannot be served here; the message says what to change."""


@dataclass(frozen=True)
class RangeConfig:
    ranges: tuple[tuple[int, int], ...]
    bind: str = "0.0.0.0"
    key: bytes | None = field(default=None, repr=False)
    rate_pps: float = DEFAULT_RATE_PPS
    mode: str = "auto"  # auto | sockets | redirect
    replay_window_s: float = DEFAULT_WINDOW_S

    @property
    def port_count(self) -> int:
        return sum(hi - lo + 1 for lo, hi in self.ranges)


@dataclass
class RangeCounters:
    received: int = 0
    replied: int = 0
    garbage: int = 0
    rate_limited: int = 0
    replayed: int = 0  # keyed mode: stale or already answered requests, dropped
    handler_errors: int = 0  # bugs, not garbage: must stay 0


class RangeEcho:
    """Serve the port echo on the configured ranges until :meth:`stop`."""

    def __init__(self, cfg: RangeConfig) -> None:

        self.cfg = cfg
        self.counters = RangeCounters()
        self.limiter = RateLimiter(cfg.rate_pps, cfg.rate_pps)
        self.replay = ReplayGuard(cfg.replay_window_s) if cfg.key else None
        self.family = socket.AF_INET6 if ":" in cfg.bind else socket.AF_INET
        self.socks: dict[socket.socket, int] = {}  # socket -> port it serves (0 = redirect)
        self.coverage: list[tuple[int, int]] = []
        self._nft_table: str | None = None
        self._stop = Stopper()
        self.mode = self._choose_mode()
        try:
            self._open_redirect() if self.mode == "redirect" else self._open_sockets()
        except BaseException:
            self.close()
            raise
        log.info("udp range echo (%s mode, %g pps per source): serving %s", self.mode,
                 cfg.rate_pps, ",".join(f"{a}-{b}" for a, b in self.coverage) or "nothing")

    # -- setup ------------------------------------------------------------------------
    def _choose_mode(self) -> str:
        if self.cfg.mode in ("sockets", "redirect"):
            return self.cfg.mode
        need = self.cfg.port_count + _FD_MARGIN
        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or hard >= need:
            return "sockets"
        if redirect_possible() is None:
            return "redirect"
        return "sockets"  # _open_sockets explains what to change

    def _open_sockets(self) -> None:
        raise_fd_limit(self.cfg.port_count + _FD_MARGIN)
        ports = [p for lo, hi in self.cfg.ranges for p in range(lo, hi + 1)]
        busy: list[int] = []
        for port in ports:
            try:
                self.socks[self._socket(port)] = port
            except OSError:
                busy.append(port)
        served = sorted(set(ports) - set(busy))
        self.coverage = _ranges(served)
        if busy:
            log.warning("udp ranges: %d ports in use by other programs, not served: %s",
                        len(busy), ",".join(f"{a}-{b}" for a, b in _ranges(busy)))

    def _open_redirect(self) -> None:
        why = redirect_possible()
        if why:
            raise RangeSetupError(f"redirect mode: {why}")
        sock = self._socket(0)
        self.socks[sock] = 0
        port = int(sock.getsockname()[1])
        self._nft_table = f"{_TABLE}_{port}"
        ports = ", ".join(f"{lo}-{hi}" for lo, hi in self.cfg.ranges)
        _nft(f"table inet {self._nft_table} {{\n chain pre {{\n"
             "  type nat hook prerouting priority dstnat; policy accept;\n"
             f"  udp dport {{ {ports} }} redirect to :{port}\n }}\n}}\n")
        self.coverage = list(self.cfg.ranges)
        log.info("udp ranges: nftables table inet %s redirects %s to port %d",
                 self._nft_table, ports, port)

    def _socket(self, port: int) -> socket.socket:
        sock = socket.socket(self.family, socket.SOCK_DGRAM)
        try:
            if self.family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVTCLASS, 1)
            else:
                plat.enable_recv_tos(sock)  # where the OS reads it back (not Windows)
            sock.bind((self.cfg.bind, port))
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        return sock

    # -- serving ----------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.stop()

    def serve(self) -> None:
        with selectors.DefaultSelector() as sel:
            for sock in self.socks:
                sel.register(sock, selectors.EVENT_READ)
            self._stop.register(sel)
            while not self._stop.is_set():
                for key, _ in sel.select():
                    if not self._stop.is_wake(key):
                        self._drain(key.fileobj)  # type: ignore[arg-type]
        self.close()
        self._stop.close()

    def _drain(self, sock: socket.socket, limit: int = 64) -> None:
        for _ in range(limit):
            try:
                data, anc, peer = plat.recv_anc(sock, 256)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            try:
                reply = self.answer(data, peer[0], self.socks.get(sock, 0), _tos(anc))
            except Exception:  # a bug must cost one datagram, never the echo thread
                self.counters.handler_errors += 1
                if self.counters.handler_errors <= 10:
                    log.exception("udp range echo failed on a %d-octet datagram", len(data))
                continue
            if reply is not None:
                self._send(sock, reply[0], reply[1], peer)

    def answer(self, data: bytes, source: str, rx_port: int, tos: int) -> tuple[bytes, int] | None:
        """(reply bytes, DS octet to send it with), or None to stay silent."""
        c = self.counters
        c.received += 1
        if not self.limiter.allow(source, time.monotonic()):
            c.rate_limited += 1
            return None
        try:
            request = portecho.parse(data, self.cfg.key)
        except portecho.EchoError:
            c.garbage += 1
            return None
        if request.kind is not portecho.Kind.REQUEST:
            c.garbage += 1
            return None
        if self.replay is not None and self.replay.check(request.sent_ns, portecho.mac_of(data), source):
            c.replayed += 1
            return None
        reply = request.reply(rx_port, tos).to_bytes(self.cfg.key)
        if len(reply) > len(data):  # never amplify (cannot happen: same layout and key)
            return None
        return reply, request.tos_reply & 0xFC

    def _send(self, sock: socket.socket, reply: bytes, tos: int, peer: tuple[str, int]) -> None:
        level, name = ((socket.IPPROTO_IPV6, IPV6_TCLASS) if self.family == socket.AF_INET6
                       else (socket.IPPROTO_IP, socket.IP_TOS))
        with contextlib.suppress(OSError):
            sock.sendmsg([reply], [(level, name, tos.to_bytes(4, "little"))], 0, peer)
            self.counters.replied += 1

    def close(self) -> None:
        if self.socks:
            c = self.counters
            log.info("udp range echo stopped: %d received, %d replied, %d garbage, "
                     "%d rate-limited, %d replayed, %d handler errors", c.received, c.replied,
                     c.garbage, c.rate_limited, c.replayed, c.handler_errors)
        for sock in self.socks:
            sock.close()
        self.socks.clear()
        if self._nft_table:
            with contextlib.suppress(RangeSetupError):
                _nft(f"delete table inet {self._nft_table}\n")
            self._nft_table = None


def _tos(ancdata: list[tuple[int, int, bytes]]) -> int:
    """The received IPv4 TOS (IP_TOS cmsg, 1 octet) or IPv6 Traffic Class (int)."""
    for level, kind, data in ancdata:
        if (level, kind) in ((socket.IPPROTO_IP, socket.IP_TOS),
                             (socket.IPPROTO_IPV6, IPV6_TCLASS)) and data:
            return data[0] if len(data) < 4 else int.from_bytes(data[:4], "little") & 0xFF
    return 0


def _ranges(ports: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for p in sorted(ports):
        if out and out[-1][1] == p - 1:
            out[-1] = (out[-1][0], p)
        else:
            out.append((p, p))
    return out


def raise_fd_limit(need: int) -> None:
    """Raise the soft RLIMIT_NOFILE to ``need`` (within the hard limit), or explain."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft >= need:
        return
    if hard != resource.RLIM_INFINITY and hard < need:
        raise RangeSetupError(
            f"sockets mode needs {need} file descriptors (one per port) but the hard limit "
            f"is {hard}: raise it (ulimit -Hn {need} as root, or LimitNOFILE={need} in the "
            "systemd unit), or run as root with nftables for --udp-mode redirect")
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


def redirect_possible() -> str | None:
    """None when redirect mode can work here, else why not."""
    import os
    import sys

    if not sys.platform.startswith("linux"):
        return "needs Linux (nftables)"
    if os.geteuid() != 0:
        return "needs root (CAP_NET_ADMIN) to install the nftables redirect rule"
    if shutil.which("nft") is None:
        return "needs the nft command (Debian: apt-get install nftables)"
    return None


def _nft(ruleset: str) -> None:
    try:
        res = subprocess.run(["nft", "-f", "-"], input=ruleset, text=True, capture_output=True,
                             timeout=10.0, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RangeSetupError(f"nft: {exc}") from None
    if res.returncode != 0:
        raise RangeSetupError(f"nft refused the redirect rule: {res.stderr.strip()[:300]}")
