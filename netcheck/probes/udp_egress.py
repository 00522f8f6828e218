"""Site egress of UDP port ranges without a responder: does the site firewall let them out?

A silent UDP port looks the same open or blocked, so without a cooperating far end the
path itself has to answer. Each test datagram is sent with an IP TTL that expires one hop
*beyond* the site's edge router: the edge router filters it first (Linux ``ip_forward``
decrements the TTL and runs the FORWARD filter before handing the packet on; a packet
whose TTL expires *at* the edge would be answered before its firewall saw it), and the
first router outside answers with an ICMP Time Exceeded (RFC 792; RFC 1812 section 5.3.1).
So per sampled port:

- Time Exceeded from beyond the edge, or any answer from the destination itself (a STUN
  answer, ICMP port unreachable; when the destination is the hop right after the edge):
  **left the site** (open);
- an ICMP error from the edge or before (a firewall's reject): **blocked**;
- silence on every retry while ICMP from beyond the edge answered other datagrams of the
  same sweep (the control port's, other ranges'): **blocked by the site firewall**
  (dropped); when the hop after the edge is the destination itself, its firewall could
  have dropped it too, and the result says so;
- silence with no such ICMP at all: **unknown** (nothing beyond the edge answers; an
  application answer such as the control's STUN reply is no evidence for the path).

The hop is found first, traceroute-style towards the control destination: the site edge
is the last hop with a site-local address (RFC 1918, RFC 6598 is *outside*: carrier NAT,
link-local, ULA), and the test TTL the first answering hop after it.

Routers limit Time Exceeded to about one per second after a short burst (Linux: burst 6,
then ``net.ipv4.icmp_ratelimit`` 1000 ms per destination), so each range is *sampled* (both
ends, the middle, one random port), datagrams are paced by a token bucket that only
answers consume, and silent ports are retried. Each datagram is a 28-octet STUN Binding
request, so a STUN server that receives one answers it.

Errors are read from the socket's error queue (``IP_RECVERR``, Linux; no root needed,
through :mod:`netcheck.platform`); elsewhere the probe reports UNSUPPORTED and the rows stay
NOT_MEASURED.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import random
import select
import socket
import time
from dataclasses import dataclass, field, replace
from typing import Final

from netcheck import platform as plat
from netcheck.probes._common import Context, Timer, Why, error, resolve
from netcheck.probes.specs import EgressRow as Row
from netcheck.probes.specs import UdpEgressSpec as Spec
from netcheck.result import Confidence, ErrorKind, Measurement, ProbeError, Value
from netcheck.wire import stun

IP_RECVERR: Final = plat.IP_RECVERR_LINUX  # the error queue is netcheck.platform's
SO_EE_ORIGIN_ICMP: Final = 2  # linux/errqueue.h
ICMP_UNREACH: Final = 3
ICMP_TIME_EXCEEDED: Final = 11
_SITE_NETS: Final = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"))


@dataclass(frozen=True)
class Answer:
    """What came back for one datagram: ``kind`` "time-exceeded", "unreachable" (ICMP
    type 3, with ``code``) or "reply" (a datagram from the destination); ``source`` the
    router or host that sent it."""

    kind: str
    source: str
    code: int = 0
    rtt_s: float = 0.0


def sample_ports(lo: int, hi: int, n: int, rng: random.Random) -> list[int]:
    """Both ends, the middle, then random ports; the whole range when it is that small."""
    if hi - lo + 1 <= n:
        return list(range(lo, hi + 1))
    picked = list(dict.fromkeys([lo, hi, (lo + hi) // 2]))[:n]
    while len(picked) < n:
        p = rng.randint(lo + 1, hi - 1)
        if p not in picked:
            picked.append(p)
    return picked


def is_site_address(address: str) -> bool:
    """Addresses a site uses inside (RFC 1918, link-local); carrier NAT (RFC 6598) and
    everything else count as outside."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in n for n in _SITE_NETS) or (ip.version == 6 and (ip.is_link_local or ip in
                                                ipaddress.ip_network("fc00::/7")))


def parse_recverr(ancdata: list[tuple[int, int, bytes]]) -> tuple[int, int, str] | None:
    """(ICMP type, code, offender address) from an ``IP_RECVERR`` control message; None for
    a local error (no ICMP sender). Parsed by :func:`netcheck.platform.parse_recverr`."""
    err = plat.parse_recverr(ancdata, ("", 0))
    if err is None or err.offender is None:
        return None
    return err.icmp_type, err.code, err.offender


class Prober:
    """One UDP socket with ``IP_RECVERR``; sends TTL-limited datagrams one at a time and
    waits for what they provoke. Paced by a token bucket that answers drain."""

    def __init__(self, burst: int, rate_pps: float, stop_at: float) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if not plat.enable_errqueue(self.sock):
            self.sock.close()
            raise OSError("no ICMP error queue on this platform (IP_RECVERR: Linux)")
        self.sock.setblocking(False)
        self.sock.bind(("0.0.0.0", 0))
        self.burst, self.rate, self.stop_at = float(burst), rate_pps, stop_at
        self.tokens, self._refilled = float(burst), time.monotonic()
        self.sent = 0

    def close(self) -> None:
        self.sock.close()

    def left(self) -> float:
        return self.stop_at - time.monotonic()

    def _pace(self) -> None:
        """Wait for a token (never past the deadline): answers drained the bucket, time
        refills it at the routers' assumed rate."""
        while True:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self._refilled) * self.rate)
            self._refilled = now
            wait = (1.0 - self.tokens) / self.rate
            if wait <= 0 or self.left() <= 0:
                return
            time.sleep(min(wait, self.left()))

    def probe(self, dest: tuple[str, int], ttl: int, wait_s: float) -> Answer | None:
        """Send one datagram to ``dest`` with ``ttl``; the first answer within ``wait_s``
        (None, and nothing sent, once the deadline has passed)."""
        self._pace()
        if self.left() <= 0:
            return None
        self._flush()
        self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
        t0 = time.monotonic()
        try:
            self.sock.sendto(stun.binding_request().to_bytes(), dest)
        except OSError:
            return None
        self.sent += 1
        end = min(t0 + wait_s, self.stop_at)
        while (left := end - time.monotonic()) > 0:
            select.select([self.sock], [], [], left)
            got = self._read(dest)
            if got is not None:
                self.tokens -= 1.0
                return Answer(got.kind, got.source, got.code, time.monotonic() - t0)
        return None

    def _read(self, dest: tuple[str, int]) -> Answer | None:
        """The error queue first (ICMP about our datagrams), then ordinary replies."""
        while True:
            try:
                _data, anc, addr = plat.errqueue_recv(self.sock, 512)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
            parsed = parse_recverr(anc)
            if parsed is None or (addr and (addr[0], addr[1]) != dest):
                continue  # a late answer to an earlier datagram
            icmp_type, code, source = parsed
            kind = "time-exceeded" if icmp_type == ICMP_TIME_EXCEEDED else (
                "unreachable" if icmp_type == ICMP_UNREACH else f"icmp-{icmp_type}")
            return Answer(kind, source, code)
        try:
            _data, src = self.sock.recvfrom(2048)
        except OSError:
            return None
        if (src[0], src[1]) == dest:
            return Answer("reply", str(src[0]))
        return None

    def _flush(self) -> None:
        """Drop answers left over from earlier datagrams (they would be misattributed)."""
        with contextlib.suppress(OSError):
            while plat.errqueue_recv(self.sock, 512):
                pass
        with contextlib.suppress(OSError):
            while self.sock.recvfrom(2048):
                pass


@dataclass
class Path:
    """What hop discovery found: the answering address per TTL (None = silent)."""

    hops: list[str | None] = field(default_factory=list)
    destination_ttl: int | None = None
    edge_ttl: int = 0
    test_ttl: int | None = None
    rtt_s: float = 0.0


#: Consecutive silent hops after which discovery gives up on a destination port (a site
#: firewall that drops the port: only the edge itself answers, before its filter).
SILENT_HOPS = 3


def discover(p: Prober, dest: tuple[str, int], max_hops: int) -> Path:
    """Traceroute-style towards ``dest``: hops until the destination answers."""
    path = Path()
    for ttl in range(1, max_hops + 1):
        ans = p.probe(dest, ttl, 1.0) or p.probe(dest, ttl, 1.0)
        path.hops.append(ans.source if ans else None)
        if ans is None:
            if path.hops[-SILENT_HOPS:] == [None] * SILENT_HOPS:
                break
            continue
        path.rtt_s = max(path.rtt_s, ans.rtt_s)
        if ans.kind != "time-exceeded":
            path.destination_ttl = ttl if ans.source == dest[0] or ans.kind == "reply" else None
            break
    return choose_ttl(path)


def choose_ttl(path: Path) -> Path:
    """Edge = the last hop with a site address (hop 1 when none has one: a site with
    public addresses); test TTL = the first answering hop after it."""
    edge = 0
    for ttl, addr in enumerate(path.hops, start=1):
        if addr is None:
            continue
        if not is_site_address(addr):
            break
        edge = ttl
    path.edge_ttl = max(edge, 1)
    after = [t for t, a in enumerate(path.hops, start=1) if t > path.edge_ttl and a is not None]
    path.test_ttl = after[0] if after else None
    return path


def verdict(answer: Answer | None, path: Path, dest_addr: str) -> str:
    """open / blocked / silent for one datagram at the test TTL."""
    if answer is None:
        return "silent"
    if answer.kind in ("time-exceeded", "reply") or answer.source == dest_addr:
        return "open"
    edge_addrs = {a for a in path.hops[: path.edge_ttl] if a}
    return "blocked" if answer.source in edge_addrs or is_site_address(answer.source) else "open"


def sweep(spec: Spec, p: Prober, path: Path, dests: dict[str, str]
          ) -> tuple[dict[str, dict[str, Value]], dict[str, int]]:
    """Sample, send in rounds with the control after each, classify every sampled port.

    Silence means "blocked" only when ICMP from beyond the edge was seen in the same sweep
    (a Time Exceeded, or an unreachable from the destination when the hop after the edge is
    the destination itself): then the path answers, and a port that stays silent through
    every round was dropped before it. A mere application answer (STUN) of the control is
    no such evidence: a destination that sends no ICMP errors leaves silence unknown."""
    assert path.test_ttl is not None
    rng = random.Random(spec.seed)
    wait = max(0.25, min(1.0, 4.0 * path.rtt_s))
    samples = {r.row: sample_ports(r.lo, r.hi, spec.samples, rng) for r in spec.rows}
    state: dict[tuple[int, int], str] = {(r.row, port): "silent" for r in spec.rows for port in samples[r.row]}
    control = {"sent": 0, "answered": 0, "icmp_from_beyond": 0}
    control_dest = (dests[spec.control_host], spec.control_port)

    def send(dest: tuple[str, int], wait_s: float) -> str:
        answer = p.probe(dest, path.test_ttl or 0, wait_s)
        got = verdict(answer, path, dest[0])
        if got == "open" and answer is not None and answer.kind != "reply":
            control["icmp_from_beyond"] += 1
        return got

    for _ in range(spec.rounds):
        pending = [(r, port) for r in spec.rows for port in samples[r.row] if state[(r.row, port)] == "silent"]
        if not pending or p.left() < 1.0:
            break
        for r, port in pending:
            state[(r.row, port)] = send((dests[r.host], port), wait)
        control["sent"] += 1
        control["answered"] += send(control_dest, max(wait, 1.0)) == "open"
    rows: dict[str, dict[str, Value]] = {}
    for r in spec.rows:
        got = {port: state[(r.row, port)] for port in samples[r.row]}
        rows[str(r.row)] = _row_value(r, got, control["icmp_from_beyond"] > 0)
    return rows, control


def _row_value(r: Row, got: dict[int, str], path_answers: bool) -> dict[str, Value]:
    opened = [p for p, s in got.items() if s == "open"]
    blocked = [p for p, s in got.items() if s == "blocked" or (s == "silent" and path_answers)]
    unknown = [p for p, s in got.items() if s == "silent" and not path_answers]
    state = "blocked" if blocked else ("open" if len(opened) == len(got) else "unknown")
    why = None if state != "unknown" else (
        "no ICMP Time Exceeded (or unreachable from the destination) came back for any "
        "datagram, the control's included: the hop beyond the site edge does not answer")
    return {"host": r.host, "range": f"{r.lo}-{r.hi}" if r.hi > r.lo else str(r.lo),
            "sampled": list(got), "open": opened, "blocked": blocked, "unknown": unknown,
            "state": state, "why": why}


async def run(spec: Spec, ctx: Context) -> Measurement:
    """Resolve, find the hop past the site edge, sample every range."""
    timer = Timer()
    method = "ttl-site-egress"
    target = f"{len(spec.rows)} UDP rows (control {spec.control_host}:{spec.control_port})"
    if not plat.caps().error_queue:
        return timer.measurement(id=spec.id, probe="udp_egress", target=target, method=method,
                                 error=error(ErrorKind.UNSUPPORTED, "the site-egress test reads ICMP "
                                             "errors via IP_RECVERR (Linux); use a responder elsewhere"),
                                 confidence=Confidence.NONE)
    dests: dict[str, str] = {}
    for h in sorted({spec.control_host, *(r.host for r in spec.rows)}):
        addr, err = await resolve(ctx, h, socket.AF_INET)  # the run's one resolver (IPv4: IP_RECVERR)
        if addr is None:
            why = err or error(ErrorKind.UNSUPPORTED, f"{h}: no IPv4 address (the TTL test reads IPv4 ICMP)")
            return timer.measurement(id=spec.id, probe="udp_egress", target=target, method=method,
                                     error=why, confidence=Confidence.NONE)
        dests[h] = addr[1]
    ctx.progress(f"site egress: finding the hop past the site edge towards {spec.control_host}")
    values, err = await asyncio.to_thread(_measure, spec, dests, time.monotonic() + ctx.remaining() - 0.5)
    return timer.measurement(id=spec.id, probe="udp_egress", target=target, method=method,
                             values=values, error=err, confidence=Confidence.NONE if err else Confidence.MEDIUM,
                             confidence_reason=None if err else Why("ttl_sampled"))


def _find_hop(spec: Spec, p: Prober, dests: dict[str, str]) -> tuple[Spec, Path]:
    """Discover with the control port; if the site drops that one, with the first port of
    each row in turn (at most two more): the first that reaches past the edge becomes the
    control, so the control is always a port proven to leave the site."""
    if spec.ttl is not None:
        return spec, Path(test_ttl=spec.ttl)
    candidates = [(spec.control_host, spec.control_port)]
    candidates += [(r.host, r.lo) for r in spec.rows if (r.host, r.lo) not in candidates][:2]
    path = Path()
    for host, port in candidates:
        path = discover(p, (dests[host], port), spec.max_hops)
        if path.test_ttl is not None or p.left() < 5.0:
            return replace(spec, control_host=host, control_port=port), path
    return spec, path


def _measure(spec: Spec, dests: dict[str, str], stop_at: float) -> tuple[dict[str, Value], ProbeError | None]:
    try:
        p = Prober(spec.burst, spec.rate_pps, stop_at)
    except OSError as exc:
        return {}, error(ErrorKind.UNSUPPORTED, f"IP_RECVERR socket: {exc}")
    try:
        spec, path = _find_hop(spec, p, dests)
        control = (dests[spec.control_host], spec.control_port)
        values: dict[str, Value] = {
            "hops": list(path.hops), "edge_ttl": path.edge_ttl, "test_ttl": path.test_ttl,
            "edge": path.hops[path.edge_ttl - 1] if 0 < path.edge_ttl <= len(path.hops) else None,
            "beyond_edge": (path.hops[path.test_ttl - 1] if path.test_ttl and path.test_ttl <= len(path.hops)
                            else None),
            "destination_ttl": path.destination_ttl, "control_port": spec.control_port,
            "test_hop_is_destination": path.test_ttl is not None and path.test_ttl == path.destination_ttl,
            "control_host": spec.control_host,
        }
        if path.test_ttl is None:
            return values, error(ErrorKind.TIMEOUT, f"no hop beyond the site edge answered towards "
                                 f"{control[0]}:{control[1]} (hops {path.hops})")
        rows, ctl = sweep(spec, p, path, dests)
        values.update(rows=rows, control=ctl, datagrams_sent=p.sent)
        return values, None
    finally:
        p.close()
