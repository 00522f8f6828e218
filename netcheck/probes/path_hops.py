"""Per-hop path probe (traceroute at the voice DSCP): where on the path delay, jitter and loss start.

Method: UDP datagrams marked with the voice DSCP (EF, RFC 3246; IP_TOS / IPV6_TCLASS =
DSCP << 2) to high, closed ports of the target (the traceroute convention, 33434 up), with
TTL / hop limit 1, 2, ... Router n answers the probe with TTL n with ICMP Time Exceeded
(RFC 792 / RFC 4443); the target answers with Port Unreachable. Each probe has its own
destination port, which the ICMP error quotes, so every answer is matched to its probe.
Where UDP does not reach the target (a firewall drops UDP to closed ports) and raw sockets
are allowed, the same trace runs with ICMP Echo Requests (RFC 792 / RFC 4443), matched by
identifier and sequence number, and is kept when it gets further (``method`` says which).

Two receive paths, chosen by what this machine allows (the capability check is
:func:`receive_modes`):
- ``raw``: a raw ICMP / ICMPv6 socket (root, CAP_NET_RAW) sees each error with the
  *quoted* header of the probe as the router received it — so the DSCP it arrived with
  (re-marking per hop) and RFC 4884 lengths are visible;
- ``recverr`` (Linux, no privileges): ``IP_RECVERR`` / ``IPV6_RECVERR`` on the UDP socket;
  the kernel queues each ICMP error with its origin, type, code and offender address
  (``MSG_ERRQUEUE``). The quoted header is not available, so DSCP per hop is "not visible".

Pacing: routers limit how many Time Exceeded messages they send (Linux 1/s per
destination with a burst of 6, ``net.ipv4.icmp_ratelimit``; vendors similar). The probe
sends each TTL at most once per ``interval_s`` (default 1 s) and staggers the TTLs inside a
round, so a default run asks no router for more than one answer a second. Loss that a hop
shows but later hops do not is reported as local to that hop (rate limiting), not as path
loss (:mod:`netcheck.analysis.pathseg`).

Path MTU: after the trace, one connected socket with "don't fragment" (``IP_PMTUDISC_DO``)
sends a datagram of the route's MTU to the target until the target answers (RFC 1191 /
RFC 8201; the kernel lowers the MTU on each "fragmentation needed"); the kernel's path MTU
(``IP_MTU``) is the result, confirmed when the target's answer came back.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import secrets
import select
import socket
import struct
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from netcheck.analysis import pathseg
from netcheck.probes._common import Context, Timer, error, resolve
from netcheck.probes.specs import PathHopsSpec as Spec
from netcheck.result import Confidence, ErrorKind, Measurement, ProbeError, Value
from netcheck.wire import icmperr
from netcheck.wire.icmperr import IcmpError, Kind

#: Linux socket options Python does not export (linux/in.h, linux/in6.h).
IP_RECVERR, IPV6_RECVERR = 11, 25
IP_MTU_DISCOVER, IP_MTU, IPV6_MTU_DISCOVER, IPV6_MTU = 10, 14, 23, 24
PMTUDISC_DO = 2
MAGIC = b"NCHP"
PMTU_BUDGET_S = 4.0  # kept free of the trace's deadline for the path MTU exchange
PERMISSION_HINT = (
    "per-hop probing needs the ICMP errors routers send back: run as root/Administrator or "
    "grant CAP_NET_RAW (raw ICMP socket); on Linux it also works unprivileged (IP_RECVERR)"
)


@dataclass(frozen=True)
class Sent:
    """One probe: its round, TTL, destination port and monotonic send time (ns)."""

    round: int
    ttl: int
    port: int
    sent_ns: int


@dataclass
class Trace:
    """What came back: per probe port, (answer, receive time ns)."""

    sent: list[Sent] = field(default_factory=list)
    answers: dict[int, tuple[IcmpError, int]] = field(default_factory=dict)
    dest_ttl: int | None = None


def receive_modes(caps: dict[str, bool]) -> list[str]:
    """Receive paths this machine offers, best first (the platform capability check)."""
    modes = ["raw"] if caps.get("raw_icmp", False) else []
    if sys.platform.startswith("linux"):
        modes.append("recverr")
    return modes


async def run(spec: Spec, ctx: Context) -> Measurement:
    """Resolve, open, trace (UDP, ICMP where allowed), measure the path MTU, summarise."""
    timer = Timer()
    address, family, err = await _resolve(spec.host, ctx)
    modes = [m for m in receive_modes(ctx.caps) if spec.mode in ("auto", m)]
    if spec.protocol == "icmp":
        modes = [m for m in modes if m == "raw"]
    if err is None and not modes:
        err = error(ErrorKind.PERMISSION, PERMISSION_HINT)
    if err is not None:
        return timer.measurement(id=spec.id, probe="path_hops", target=spec.host, method="udp-ttl", error=err)
    reserve = PMTU_BUDGET_S if spec.pmtu and ctx.remaining() > 2 * PMTU_BUDGET_S else 0.0
    try:
        trace, method = await _traces(spec, address, family, modes, ctx, reserve)
    except OSError as exc:
        err = error(ErrorKind.PERMISSION, f"{exc}; {PERMISSION_HINT}")
        return timer.measurement(id=spec.id, probe="path_hops", target=spec.host, method="udp-ttl", error=err)
    pmtu = await asyncio.to_thread(path_mtu, address, family, time.monotonic() + min(PMTU_BUDGET_S, ctx.remaining())) \
        if spec.pmtu and trace.dest_ttl else (None, False)
    values, series = summarize(spec, address, family, method, trace, pmtu)
    err = None if trace.answers else error(
        ErrorKind.TIMEOUT, f"no hop answered towards {address} (ICMP errors filtered on the way back?)")
    return timer.measurement(id=spec.id, probe="path_hops", target=spec.host, method=method,
                             values=values, series=series, error=err,
                             confidence=_confidence(values))


def _confidence(values: dict[str, Value]) -> Confidence:
    """High when the trace reached the target with enough probes sent per hop to tell a
    segment's loss from noise (``pathseg.FULL_ROUNDS``); a short trace (a quick run, or cut
    short by its deadline) or one that stopped short of the target is medium."""
    full = (pathseg.probes_per_hop(values.get("hops")) or 0) >= pathseg.FULL_ROUNDS
    return Confidence.HIGH if values["reached"] and full else Confidence.MEDIUM


async def _traces(spec: Spec, address: str, family: int, modes: list[str], ctx: Context,
                  reserve: float) -> tuple[Trace, str]:
    """The UDP trace, or the ICMP one (asked for, or UDP did not reach the target and an
    ICMP echo trace with raw sockets reached further); the method names which."""
    protocols = ["icmp"] if spec.protocol == "icmp" else ["udp"]
    if spec.protocol == "auto" and "raw" in modes:
        protocols.append("icmp")
    best: tuple[Trace, str] | None = None
    for protocol in protocols:
        if best is not None and (best[0].dest_ttl or ctx.remaining() - reserve < spec.wait_s + 1):
            break
        ctx.progress(f"per-hop trace to {address} ({protocol}, {spec.rounds} rounds)")
        with _open(modes, family, icmp=protocol == "icmp") as io:
            deadline = time.monotonic() + ctx.remaining() - reserve
            trace = await asyncio.to_thread(_trace, io, address, spec, deadline)
            method = f"{protocol}-ttl-{io.mode}"
        if best is None or _further(trace, best[0]):
            best = (trace, method)
    assert best is not None
    return best


def _further(new: Trace, old: Trace) -> bool:
    """The new trace reached the target and the old did not, or it got more answers."""
    if bool(new.dest_ttl) != bool(old.dest_ttl):
        return bool(new.dest_ttl)
    return len(new.answers) > len(old.answers)


async def _resolve(host: str, ctx: Context) -> tuple[str, int, ProbeError | None]:
    """The target's address from the run's shared name cache (one resolver per run, within
    the probe's deadline), and its IP version."""
    found, err = await resolve(ctx, host)
    if err is not None or found is None:
        return "", 0, err or error(ErrorKind.DNS, f"cannot resolve {host!r}")
    family, address = found
    return address, 6 if family == socket.AF_INET6 else 4, None


# --------------------------------------------------------------------------- socket I/O
class _Io:
    """The send socket (UDP, DSCP set) and the receive path (raw ICMP or the error queue)."""

    def __init__(self, mode: str, family: int, send: socket.socket, recv: socket.socket, *, icmp: bool = False) -> None:
        self.mode, self.family, self.send_sock, self.recv_sock = mode, family, send, recv
        self.local_port = send.getsockname()[1]
        self.icmp = icmp  # probes are ICMP echo requests sent on the raw socket
        self.ident = secrets.randbits(16)

    def __enter__(self) -> _Io:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.send_sock.close()
        if self.recv_sock is not self.send_sock:
            self.recv_sock.close()

    def send(self, address: str, port: int, ttl: int, dscp: int, payload: bytes) -> None:
        level, ttl_opt, tos_opt = (
            (socket.IPPROTO_IP, socket.IP_TTL, socket.IP_TOS) if self.family == 4
            else (socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, socket.IPV6_TCLASS))
        sock = self.recv_sock if self.icmp else self.send_sock
        sock.setsockopt(level, ttl_opt, ttl)
        sock.setsockopt(level, tos_opt, (dscp << 2) & 0xFC)
        if self.icmp:  # the probe key travels as the echo sequence number
            payload, port = icmperr.echo_request(self.ident, port, payload, family=self.family), 0
        with contextlib.suppress(OSError):  # an unreachable route is a lost probe, not a crash
            sock.sendto(payload, (address, port))

    def receive(self) -> Iterator[tuple[IcmpError, int, int | None]]:
        """Every queued answer: (message, receive time ns, quoted destination port)."""
        for _ in range(256):
            try:
                got = self._read_one()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            if got is not None:
                yield got

    def _match(self, msg: IcmpError, now: int) -> tuple[IcmpError, int, int | None] | None:
        """(message, time, probe key) when ``msg`` answers one of our probes: an error
        quoting our UDP port or our echo identifier, or an echo reply with our identifier."""
        if self.icmp and msg.kind is Kind.ECHO_REPLY:
            return (msg, now, msg.seq) if msg.ident == self.ident else None
        q = msg.quoted
        if q is None:
            return None
        if self.icmp:
            ours = q.proto in (icmperr.ICMP4, icmperr.ICMP6) and q.sport == self.ident
        else:
            ours = q.proto == icmperr.UDP and q.sport == self.local_port
        return (msg, now, q.dport) if ours else None

    def _read_one(self) -> tuple[IcmpError, int, int | None] | None:
        if self.mode == "raw":
            data, peer = self.recv_sock.recvfrom(2048)
            now = time.monotonic_ns()
            try:
                msg = icmperr.parse_ipv4_packet(data) if self.family == 4 else \
                    icmperr.parse_icmp(data, family=6, source=str(peer[0]).split("%")[0])
            except icmperr.IcmpParseError:
                return None
            return self._match(msg, now)
        data, anc, _flags, peer = self.recv_sock.recvmsg(2048, 512, socket.MSG_ERRQUEUE)
        now = time.monotonic_ns()
        for level, kind, cdata in anc:
            if (level, kind) in ((socket.IPPROTO_IP, IP_RECVERR), (socket.IPPROTO_IPV6, IPV6_RECVERR)):
                with contextlib.suppress(icmperr.IcmpParseError):
                    found = icmperr.parse_recverr(cdata, family=self.family)
                    return (found, now, int(peer[1])) if found is not None else None
        return None


def _open(modes: list[str], family: int, *, icmp: bool = False) -> _Io:
    """The first receive path that opens (raw may fail without CAP_NET_RAW); ``icmp``: echo
    probes, which need the raw one."""
    af = socket.AF_INET if family == 4 else socket.AF_INET6
    last: OSError | None = None
    for mode in [m for m in modes if m == "raw"] if icmp else modes:
        send = socket.socket(af, socket.SOCK_DGRAM)
        try:
            send.bind(("0.0.0.0", 0) if family == 4 else ("::", 0))
            recv = _recv_socket(mode, family, send)
        except OSError as exc:
            send.close()
            last = exc
            continue
        recv.setblocking(False)
        return _Io(mode, family, send, recv, icmp=icmp)
    raise last or OSError(errno.EPERM, "no receive path")


def _recv_socket(mode: str, family: int, send: socket.socket) -> socket.socket:
    if mode == "raw":
        if family == 4:
            return socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        return socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    level, opt = (socket.IPPROTO_IP, IP_RECVERR) if family == 4 else (socket.IPPROTO_IPV6, IPV6_RECVERR)
    send.setsockopt(level, opt, 1)
    return send


# --------------------------------------------------------------------------- the trace
def _trace(io: _Io, address: str, spec: Spec, deadline: float) -> Trace:
    """Blocking (a worker thread): the paced rounds; stops sending beyond the target once
    it has answered."""
    trace, limit, start = Trace(), spec.max_hops, time.monotonic()
    stagger = min(spec.interval_s / spec.max_hops, 0.05)
    by_port: dict[int, Sent] = {}
    for rnd in range(spec.rounds):
        for ttl in range(1, spec.max_hops + 1):
            if ttl > limit:
                break
            due = start + rnd * spec.interval_s + (ttl - 1) * stagger
            if not _wait_until(io, due, deadline, trace, by_port, address):
                return trace
            port = spec.base_port + len(trace.sent)
            sent = Sent(rnd, ttl, port, time.monotonic_ns())
            payload = MAGIC + struct.pack("!HH", rnd, ttl)
            io.send(address, port, ttl, spec.dscp, payload.ljust(max(spec.size, len(payload)), b"\0"))
            trace.sent.append(sent)
            by_port[port] = sent
            limit = min(limit, trace.dest_ttl or limit)
    # wait for the last answers, but not for answers that have all come (a run's length
    # is the rounds, not the rounds plus an idle wait: issue 22)
    _wait_until(io, min(deadline, time.monotonic() + spec.wait_s), deadline, trace, by_port, address,
                all_answered=True)
    return trace


def _wait_until(io: _Io, when: float, deadline: float, trace: Trace, by_port: dict[int, Sent],
                address: str, all_answered: bool = False) -> bool:
    """Collect answers until ``when`` (``all_answered``: or until every probe sent has its
    answer); False once the run's deadline has passed."""
    while True:
        now = time.monotonic()
        if now >= deadline:
            return False
        if now >= when or (all_answered and len(trace.answers) >= len(trace.sent)):
            return True
        ready = select.select([io.recv_sock], [], [io.recv_sock], min(when, deadline) - now)
        if ready[0] or ready[2]:
            for msg, t_ns, port in io.receive():
                _record(trace, by_port, msg, t_ns, port, address)


def _record(trace: Trace, by_port: dict[int, Sent], msg: IcmpError, t_ns: int, port: int | None,
            address: str) -> None:
    sent = by_port.get(port) if port is not None else None
    if sent is None or sent.port in trace.answers:
        return
    trace.answers[sent.port] = (msg, t_ns)
    if msg.kind is Kind.PORT_UNREACHABLE or msg.source == address:
        trace.dest_ttl = min(trace.dest_ttl or sent.ttl, sent.ttl)


# --------------------------------------------------------------------------- path MTU
def path_mtu(address: str, family: int, deadline: float) -> tuple[int | None, bool]:
    """The kernel's path MTU to ``address`` after full-size "don't fragment" datagrams;
    True when the target's answer to one of that size came back (confirmed)."""
    if not sys.platform.startswith("linux"):
        return None, False
    af, level = (socket.AF_INET, socket.IPPROTO_IP) if family == 4 else (socket.AF_INET6, socket.IPPROTO_IPV6)
    opts = (IP_MTU_DISCOVER, IP_MTU, IP_RECVERR) if family == 4 else (IPV6_MTU_DISCOVER, IPV6_MTU, IPV6_RECVERR)
    overhead = 28 if family == 4 else 48  # IP + UDP headers
    with socket.socket(af, socket.SOCK_DGRAM) as s:
        s.setsockopt(level, opts[0], PMTUDISC_DO)
        s.setsockopt(level, opts[2], 1)
        s.connect((address, 33433))
        mtu: int | None = None
        for _ in range(6):
            mtu = s.getsockopt(level, opts[1])
            with contextlib.suppress(OSError):
                s.send(b"\0" * (mtu - overhead))
            answer = _errqueue_answer(s, family, deadline)
            if answer is None:
                return mtu, False
            if answer.kind is Kind.PORT_UNREACHABLE:
                return s.getsockopt(level, opts[1]), True
    return mtu, False


def _errqueue_answer(s: socket.socket, family: int, deadline: float) -> IcmpError | None:
    while (left := deadline - time.monotonic()) > 0:
        readable, _w, _x = select.select([s], [], [], min(left, 1.0))  # POLLERR reads as readable
        if not readable:
            if left <= 1.0:
                return None
            continue
        with contextlib.suppress(OSError):
            _d, anc, _f, _p = s.recvmsg(2048, 512, socket.MSG_ERRQUEUE)
            for level, kind, cdata in anc:
                if kind in (IP_RECVERR, IPV6_RECVERR) and level in (socket.IPPROTO_IP, socket.IPPROTO_IPV6):
                    msg = icmperr.parse_recverr(cdata, family=family)
                    if msg is not None:
                        return msg
    return None


# --------------------------------------------------------------------------- summary
def hop_samples(trace: Trace, spec: Spec) -> tuple[list[pathseg.HopSamples], dict[int, Counter[int]],
                                                     dict[int, Counter[str]]]:
    """Per TTL up to the target: one RTT per round (None = no answer), the DSCP values the
    quoted headers showed, and every address that answered."""
    last = trace.dest_ttl or max((s.ttl for s in trace.sent), default=0)
    rtts: dict[int, list[float | None]] = {t: [] for t in range(1, last + 1)}
    dscps: dict[int, Counter[int]] = {t: Counter() for t in rtts}
    addrs: dict[int, Counter[str]] = {t: Counter() for t in rtts}
    for s in trace.sent:
        if s.ttl not in rtts:
            continue
        answer = trace.answers.get(s.port)
        rtts[s.ttl].append(round((answer[1] - s.sent_ns) / 1e6, 3) if answer else None)
        if answer:
            addrs[s.ttl][answer[0].source] += 1
            if answer[0].quoted is not None:
                dscps[s.ttl][answer[0].quoted.dscp] += 1
    hops = [pathseg.HopSamples(t, addrs[t].most_common(1)[0][0] if addrs[t] else None, tuple(rtts[t]))
            for t in rtts]
    return hops, dscps, addrs


def summarize(spec: Spec, address: str, family: int, method: str, trace: Trace,
              pmtu: tuple[int | None, bool]) -> tuple[dict[str, Value], dict[str, list[float | None]]]:
    mode = method.rsplit("-", 1)[-1]
    hops, dscps, addrs = hop_samples(trace, spec)
    gateway = spec.gateway if spec.gateway else (_default_gateway() if family == 4 else None)
    reached = trace.dest_ttl is not None
    persistent = {p.ttl: p.loss_pct for p in pathseg.points(hops)}
    rows = [_hop_row(h, dscps[h.ttl], addrs[h.ttl], persistent.get(h.ttl), spec.dscp, mode) for h in hops]
    remarks = [r["ttl"] for r in rows if r["dscp_remarked"]]
    values: dict[str, Value] = {
        "address": address, "family": family, "dscp_sent": spec.dscp, "receive_mode": mode,
        "protocol": method.split("-", 1)[0],
        "dscp_visible": mode == "raw", "rounds": spec.rounds, "interval_s": spec.interval_s,
        "reached": reached, "hop_count": trace.dest_ttl, "gateway": gateway,
        "provider_networks": list(spec.provider_networks), "hops": rows,
        "first_remark_ttl": remarks[0] if remarks else None,
        "pmtu_bytes": pmtu[0], "pmtu_confirmed": pmtu[1],
        "segments": pathseg.segments(hops, gateway=gateway, target=address, reached=reached,
                                     provider_nets=spec.provider_networks),
    }
    series: dict[str, list[float | None]] = {f"rtt_ms@ttl{h.ttl}": list(h.rtts_ms) for h in hops}
    return values, series


def _hop_row(hop: pathseg.HopSamples, dscps: Counter[int], addrs: Counter[str], persistent: float | None,
             dscp_sent: int, mode: str) -> dict[str, Value]:
    row: dict[str, Value] = {"ttl": hop.ttl, "address": hop.address, "addresses": sorted(addrs)}
    row.update(pathseg.hop_summary(hop))
    loss = row["loss_pct"]
    row["loss_persistent_pct"] = persistent
    local = float(loss) - persistent if isinstance(loss, float | int) and persistent is not None else None
    row["loss_local_pct"] = None if local is None else round(local, 3)
    seen = dscps.most_common(1)[0][0] if dscps else None
    row["dscp_seen"] = seen
    row["dscp_values"] = sorted(dscps)
    row["dscp_remarked"] = (seen != dscp_sent) if seen is not None and mode == "raw" else None
    return row


def _default_gateway() -> str | None:
    from netcheck.probes.link import default_route

    return default_route()[0]
