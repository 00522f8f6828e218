"""UDP egress on whole port ranges, proven port by port against a ``netcheck responder``.

A silent UDP port looks the same open or blocked, so without a cooperating far end nothing
can be concluded (the check says so). With a responder serving the ranges
(``netcheck responder --udp-ranges 16384-32767,...``) every port is tested, not a sample:
one small datagram per port (:mod:`netcheck.wire.portecho`, a per-run token and the port it
was sent to in the payload), paced at ``rate_pps``; a port is ``open`` only when the echo
comes back *from that port* with that token and port number. Unanswered ports are sent
again twice at half the rate (loss is not blocking; a path that drops a burst at the first
rate gets a gentler retry), and only then called blocked.

States per port (compressed into ranges, "20000-20999"):

- ``open``: echoed;
- ``rejected``: an ICMP destination-unreachable came back (RFC 1122 4.1.3.3) from an
  address other than the responder: a firewall REJECT rule. Linux reads it, with the
  offender's address, from the ``IP_RECVERR`` error queue of the sweep socket; elsewhere
  (macOS, Windows) the retry rounds send each unanswered port on a connected socket, where
  the error surfaces as ``ECONNREFUSED`` / ``WSAECONNRESET`` without the offender's
  address (``icmp_method`` says which was used);
- ``no_answer``: silence after every try: dropped on the way (or its reply was);
- ``not_covered``: the responder does not serve the port (its coverage, asked first over
  the TCP control service, or an ICMP port-unreachable from the responder itself): neither
  open nor blocked.

The sweep loop runs in a worker thread with a non-blocking socket (no event-loop hops per
datagram): 16,384 ports take about 6 s at 3,000 pps on a clean path.
"""

from __future__ import annotations

import asyncio
import secrets
import selectors
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Final

from netcheck import platform as plat
from netcheck.probes._common import Context, Timer, compress_ranges, resolve
from netcheck.probes.specs import UDP_SWEEP_RATE_PPS as DEFAULT_RATE_PPS
from netcheck.probes.specs import UdpPortsSpec as Spec
from netcheck.result import Measurement, Value
from netcheck.wire import portecho

_CONNECTED_BATCH: Final = 256  # sockets open at once
CONNECTED_FIRST_MAX: Final = 1024  # up to this many ports, every round on connected sockets
UNKNOWN_OFFENDER: Final = "unknown"
STATES: Final = ("open", "rejected", "no_answer", "not_covered")


@dataclass
class Sweep:
    """What the sweep saw: port -> RTT (s) for echoed ports, port -> ICMP offender."""

    answered: dict[int, float] = field(default_factory=dict)
    icmp: dict[int, str] = field(default_factory=dict)
    sent: int = 0
    rounds: int = 0
    rate_pps: list[float] = field(default_factory=list)
    icmp_method: str = "IP_RECVERR error queue"


async def run(spec: Spec, ctx: Context) -> Measurement:
    """Resolve, ask coverage, sweep every port, summarise per state."""
    timer = Timer()
    label = f"{spec.host} udp/{','.join(f'{a}-{b}' if a != b else str(a) for a, b in spec.ranges)}"
    addr, err = await resolve(ctx, spec.host, socket.AF_INET)
    if addr is None:
        return timer.measurement(id=spec.id, probe="udp_ports", target=label, method="udp-echo", error=err)
    address = addr[1]
    coverage = await asyncio.to_thread(ask_coverage, address, spec.control_port, spec.key,
                                       ctx.timeout(3.0))
    served, cov_note, rate = _served(spec, coverage)
    ports = [p for lo, hi in spec.ranges for p in range(lo, hi + 1)]
    deadline = time.monotonic() + max(0.0, ctx.remaining() - 0.5)
    ctx.progress(f"udp {spec.host}: {len(ports)} ports at {rate:g} pps")
    sw = await asyncio.to_thread(sweep, address, [p for p in ports if served(p)], key=spec.key,
                                 rate_pps=rate, retries=spec.retries, deadline=deadline)
    values = summarize(ports, sw, address, served)
    values.update(coverage=cov_note, responder=address, stands_for=spec.stands_for)
    return timer.measurement(id=spec.id, probe="udp_ports", target=label, method="udp-echo",
                             values=values)


def ask_coverage(address: str, port: int, key: bytes | None, timeout: float) -> dict[str, Any]:
    """The responder's coverage answer, or ``{"error": ...}`` when it cannot be asked."""
    from netcheck.probes import _control as control

    try:
        return control.request(address, port, "coverage", [], key, max(timeout, 0.1))
    except (OSError, ValueError) as exc:
        return {"error": f"control TCP {port}: {exc}"}


def _served(spec: Spec, coverage: dict[str, Any]) -> tuple[Any, str, float]:
    """(port -> served?, a note for the result, the rate to send at)."""
    ranges = coverage.get("ranges")
    if coverage.get("error") or not isinstance(ranges, list):
        note = f"unknown ({coverage.get('error') or 'no ranges in the answer'}); all ports tried"
        return (lambda _p: True), note, spec.rate_pps
    spans = [(int(a), int(b)) for a, b in ranges]
    rate = spec.rate_pps
    if coverage.get("rate_pps"):  # stay under the responder's per-source limit
        rate = min(rate, 0.9 * float(coverage["rate_pps"]))
    shown = ",".join(f"{a}-{b}" for a, b in spans) or "none"
    return (lambda p: any(a <= p <= b for a, b in spans)), f"responder serves {shown}", rate


def sweep(address: str, ports: list[int], *, key: bytes | None = None,
          rate_pps: float = DEFAULT_RATE_PPS, retries: int = 2,
          deadline: float | None = None) -> Sweep:
    """Blocking sweep (run it in a thread): every port once, then the unanswered ones again
    ``retries`` times at half the rate."""
    deadline = deadline or time.monotonic() + 60.0
    token = secrets.randbits(64)
    sw = Sweep()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        errq = plat.ErrQueue(sock)
        sock.setblocking(False)
        rx = _Receiver(sock, address, token, key, sw, errq)
        try:
            _rounds(address, ports, token, key, rate_pps, retries, rx, deadline)
        finally:
            rx.sel.close()
    if not errq.active:
        sw.icmp_method = "connected sockets (no error queue on this OS; offender unknown)"
    return sw


def connected_pass(address: str, ports: list[int], token: int, key: bytes | None, rate: float,
                   deadline: float, sw: Sweep) -> None:
    """A round where the OS has no error queue: one try per port at ``rate``, each on its
    own connected socket, in batches: an echo marks the port open; ``ConnectionRefusedError``
    (``ConnectionResetError`` on Windows) means an ICMP port unreachable came back, from an
    address the OS does not tell. Firewalls rate-limit ICMP errors (Linux: a burst of 6,
    then 1/s per destination), so ranges of up to ``CONNECTED_FIRST_MAX`` ports use it from
    the first round on; larger ones only for the retries, after a fast first round."""
    for i in range(0, len(ports), _CONNECTED_BATCH):
        if time.monotonic() >= deadline:
            return
        with plat.new_selector() as sel:
            try:
                _send_batch(sel, address, ports[i : i + _CONNECTED_BATCH], token, key, rate)
                _collect_batch(sel, token, key, min(deadline, time.monotonic() + _settle_s(sw)), sw)
            finally:
                for k in list(sel.get_map().values()):
                    k.fileobj.close()  # type: ignore[union-attr]


def _send_batch(sel: selectors.BaseSelector, address: str, ports: list[int], token: int,
                key: bytes | None, rate: float) -> None:
    """One connected socket per port, one request each, paced at ``rate``."""
    t0 = time.monotonic()
    for k, port in enumerate(ports):
        time.sleep(max(0.0, t0 + k / rate - time.monotonic()))
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sel.register(s, selectors.EVENT_READ, (port, time.perf_counter()))
        s.setblocking(False)
        s.connect((address, port))
        try:
            s.send(portecho.Echo(portecho.Kind.REQUEST, port, token).to_bytes(key))
        except OSError:
            pass  # a full buffer or an early ICMP error: the read tells


def _collect_batch(sel: selectors.BaseSelector, token: int, key: bytes | None, until: float,
                   sw: Sweep) -> None:
    """Read each socket once it is readable (an echo, or a pending ICMP error) until
    ``until`` or every socket has told."""
    while sel.get_map() and (left := until - time.monotonic()) > 0:
        for k, _ in sel.select(min(left, 0.05)):
            sock, (port, sent) = k.fileobj, k.data
            assert isinstance(sock, socket.socket)
            if _read_connected(sock, port, token, key, sent, sw):
                sel.unregister(sock)
                sock.close()


def _read_connected(sock: socket.socket, port: int, token: int, key: bytes | None, sent: float,
                    sw: Sweep) -> bool:
    """Record what came back on ``port``'s socket; True when it told (echo or ICMP)."""
    try:
        data = sock.recv(256)
    except plat.PORT_UNREACHABLE:
        sw.icmp[port] = f"{UNKNOWN_OFFENDER} type 3 code 3"
        return True
    except OSError:
        return False
    try:
        reply = portecho.parse(data, key)
    except portecho.EchoError:
        return False
    if reply.kind is portecho.Kind.REPLY and reply.token == token and reply.port == port:
        sw.answered.setdefault(port, time.perf_counter() - sent)
        return True
    return False


def _rounds(address: str, ports: list[int], token: int, key: bytes | None, rate_pps: float,
            retries: int, rx: _Receiver, deadline: float) -> None:
    sw, pending = rx.sw, list(ports)
    for attempt in range(retries + 1):
        if not pending or time.monotonic() >= deadline:
            break
        rate = rate_pps / (2 if attempt else 1)
        sw.rounds += 1
        sw.rate_pps.append(rate)
        if not rx.errq.active and (attempt or len(pending) <= CONNECTED_FIRST_MAX):
            connected_pass(address, pending, token, key, rate, deadline, sw)
        else:
            _send_round(rx.sock, address, pending, token, key, rate, rx, deadline, sw)
            rx.settle(min(deadline, time.monotonic() + _settle_s(sw)))
        pending = [p for p in pending if p not in sw.answered]


def _send_round(sock: socket.socket, address: str, ports: list[int], token: int,
                key: bytes | None, rate: float, rx: _Receiver, deadline: float, sw: Sweep) -> None:
    t0, i = time.monotonic(), 0
    while i < len(ports):
        now = time.monotonic()
        if now >= deadline:
            return
        due = min(len(ports), int((now - t0) * rate) + 1)
        while i < due:
            port = ports[i]
            rx.sent_at[port] = time.perf_counter()
            try:
                sock.sendto(portecho.Echo(portecho.Kind.REQUEST, port, token).to_bytes(key),
                            (address, port))
                sw.sent += 1
            except BlockingIOError:
                break  # send buffer full: retry this port on the next tick
            except OSError:
                rx.errors()  # a queued ICMP error surfaced on send; the port moves on
            i += 1
        rx.wait(max(0.0, min(0.005, t0 + i / rate - time.monotonic())))


def _settle_s(sw: Sweep) -> float:
    """Wait for late echoes: 3x the slowest RTT seen (p95), at least 0.3 s, at most 2 s."""
    rtts = sorted(sw.answered.values())
    p95 = rtts[int(0.95 * (len(rtts) - 1))] if rtts else 0.5
    return min(2.0, max(0.3, 3.0 * p95))


class _Receiver:
    """Drain echoes and queued ICMP errors from the sweep socket."""

    def __init__(self, sock: socket.socket, address: str, token: int, key: bytes | None,
                 sw: Sweep, errq: plat.ErrQueue) -> None:
        self.sock, self.address, self.token, self.key, self.sw = sock, address, token, key, sw
        self.errq = errq
        self.sent_at: dict[int, float] = {}
        # epoll/kqueue/poll, not select() where there is a choice: the fd may be above
        # FD_SETSIZE. A queued ICMP error makes the socket readable (recv raises).
        self.sel = plat.new_selector()
        self.sel.register(sock, selectors.EVENT_READ)

    def wait(self, timeout: float) -> None:
        if self.sel.select(timeout):
            self.drain()

    def settle(self, until: float) -> None:
        while (left := until - time.monotonic()) > 0:
            self.wait(min(left, 0.05))

    def drain(self, limit: int = 512) -> None:
        for _ in range(limit):
            try:
                data, (src, sport) = self.sock.recvfrom(256)[:2]
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.errors()
                continue
            self._echo(data, src, sport)

    def _echo(self, data: bytes, src: str, sport: int) -> None:
        try:
            reply = portecho.parse(data, self.key)
        except portecho.EchoError:
            return
        ok = (src == self.address and reply.kind is portecho.Kind.REPLY
              and reply.token == self.token and reply.port == sport
              and reply.rx_port in (0, sport))
        if ok and sport not in self.sw.answered:
            now = time.perf_counter()
            self.sw.answered[sport] = now - self.sent_at.get(sport, now)

    def errors(self) -> None:
        """Read the error queue: which destination port drew which ICMP error, from whom."""
        for e in self.errq.read():
            self.sw.icmp[e.dest[1]] = e.describe()


def summarize(ports: list[int], sw: Sweep, responder: str, served: Any) -> dict[str, Value]:
    """Ports per state as compressed ranges, counts, timing."""
    by_state: dict[str, list[int]] = {s: [] for s in STATES}
    icmp_from: dict[str, int] = {}
    for port in ports:
        offender = sw.icmp.get(port, "")
        if port in sw.answered:
            state = "open"
        elif not served(port) or offender.startswith(f"{responder} type 3 code 3"):
            state = "not_covered"  # the responder itself has nothing on the port
        elif offender:
            state = "rejected"
            icmp_from[offender] = icmp_from.get(offender, 0) + 1
        else:
            state = "no_answer"
        by_state[state].append(port)
    values: dict[str, Value] = {s: compress_ranges(p) for s, p in by_state.items() if p}
    values["blocked"] = compress_ranges(by_state["rejected"] + by_state["no_answer"])
    values["counts"] = {s: len(p) for s, p in by_state.items() if p}
    values["ports_total"] = len(ports)
    values["icmp_from"] = icmp_from
    rtts = sorted(sw.answered.values())
    values["rtt_median_ms"] = round(rtts[len(rtts) // 2] * 1000, 3) if rtts else None
    values.update(sent=sw.sent, rounds=sw.rounds, rate_pps=sw.rate_pps, icmp_method=sw.icmp_method)
    return values
