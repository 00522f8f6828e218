"""Call generator: hundreds of concurrent emulated STAMP calls from one thread of one process.

Use :func:`run_calls` (blocking; from a probe, ``await asyncio.to_thread(run_calls, ...)``)::

    run = run_calls("192.0.2.10", 862, n_calls=300, codec="G.711", duration_s=5.0, dscp=46)
    for call in run.calls:  # same attributes as _stream_sessions.StampCall
        rt, fwd, bwd = _stream_analysis.stamp_records(call.t1_mono_ns, t1_real, call.replies)
    send_error_values(run.send_error_ns)  # the sender's own lateness, per packet

Why not :class:`netcheck.probes._stream_engine.Engine` (one call, or a few): its per-packet
cost (a ``wire.stamp`` dataclass built and parsed per packet, a ``select`` per slot, one
drain per socket) let one process carry ~100 calls before it fell behind. Here:

- **Packets** come from a per-call :class:`~netcheck.wire.stamp_fast.SenderTemplate` (fixed
  header built once by the reference codec, seq and timestamp patched with
  ``struct.pack_into``); replies are read with one ``struct.unpack_from`` at the RFC 8762
  4.3 offsets and kept as raw tuples; the :class:`StampReply` objects the analysis reads are
  built after the run (:attr:`Call.replies`), so no dataclass is made per packet while
  sending.
- **One schedule**: call ``i`` sends packet ``k`` at ``t0 + k * interval + i * interval / N``:
  the N calls' slots interleave, phase-offset so sends spread evenly over the interval
  (300 calls at 20 ms: one packet every 67 µs, never a burst of 300). The loop sends
  whatever is due, drains replies (non-blocking, batched, at least every
  millisecond even when behind), sleeps with ``time.sleep`` (``clock_nanosleep``: µs
  resolution, unlike ``epoll``'s 1 ms) until a margin before the next slot and busy-waits
  the margin. The margin adapts to how late this host wakes a sleeper (see
  :class:`_Waker`). Sending and receiving stay in one thread: a second Python thread would
  have to take the GIL from the busy-waiting sender (up to the 5 ms switch interval).
- **Honest timestamps**: each packet's T1 is ``plat.mono_ns()`` read immediately before
  it is stamped and sent, never the slot; the send-time error (T1 minus the slot) is kept
  for every packet, so a sender that falls behind shows up as send error, not as network
  delay. Replies carry kernel receive timestamps (``SO_TIMESTAMPNS``), so a reply that
  waits in the socket buffer while the loop sends is still timed on arrival.
- **Sockets**: ``"per_call"`` (default) gives each call its own UDP socket, i.e. its own
  5-tuple like a real RTP stream (flow-fair queues, ECMP and per-flow policers treat the
  calls as N flows); replies are found with one selector poll per drain (``epoll`` on
  Linux, kqueue/poll/select elsewhere: :func:`netcheck.platform.new_selector`). ``"shared"`` sends all
  calls from one socket and tells them apart by the RFC 8972 SSID (1..N; the netcheck
  responder keeps state per (address, port, SSID)): fewer syscalls, but one flow on the
  path and one receive buffer — use it only where flows do not matter (loopback
  benchmarks, a reflector on the LAN) and the reflector understands SSIDs.

The per-call records (:class:`Call`) have the attributes of ``StampCall`` (``t1_mono_ns``,
``t1_wire``, ``replies``, ``malformed``, ``refused``, ``send_errors``), so
:func:`netcheck.probes._stream_analysis.stamp_records` and the capacity probe's analysis
take them unchanged.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from netcheck import platform as plat
from netcheck.analysis import bandwidth
from netcheck.clock import clock_sync, error_estimate
from netcheck.platform import enable_rx_timestamps
from netcheck.platform.measurable import SELECT_MAX_SOCKETS
from netcheck.probes._stream_engine import ClockMap
from netcheck.probes._stream_sessions import StampReply
from netcheck.wire.stamp import (
    NTP_UNIX_OFFSET_S,
    ErrorEstimate,
    StampError,
    ns_from_timestamp,
    stamp_packet_size,
)
from netcheck.wire.stamp_fast import SenderTemplate, unpack_reflector

__all__ = ["Call", "CallGen", "CallsRun", "SocketMode", "open_calls", "run_calls"]

SocketMode = Literal["per_call", "shared"]

_NS: Final = 1_000_000_000
_NTP_OFFSET_NS: Final = NTP_UNIX_OFFSET_S * _NS
_U64: Final = 0xFFFF_FFFF_FFFF_FFFF
_RX_BUF: Final = 2048
_DRAIN_EVERY_NS: Final = 1_000_000
_RESAMPLE_NS: Final = 1_000_000_000
_SHARED_BUF: Final = 4 << 20


class Call:
    """One emulated call: its packet template and what it sent and got back.

    ``t1_mono_ns[k]`` / ``t1_wire[k]``: send time of packet ``k`` (CLOCK_MONOTONIC ns; raw
    NTP timestamp on the wire), None / 0 while unsent. Replies are kept raw while the call
    runs; :attr:`replies` turns them into ``StampReply`` (T2, T3 in Unix ns).
    """

    def __init__(self, *, count: int, size: int, ssid: int, key: bytes | None,
                 estimate: ErrorEstimate) -> None:
        self.count, self.size, self.ssid, self.key = count, size, ssid, key
        self.template = SenderTemplate(size, estimate=estimate, ssid=ssid, key=key)
        self.t1_mono_ns: list[int | None] = [None] * count
        self.t1_wire: list[int] = [0] * count
        self.raw: list[tuple[tuple[int, ...], int, int]] = []  # (fields, T4 mono, T4 real)
        self.answered = 0
        self.malformed = 0
        self.refused = 0
        self.send_errors: list[str] = []
        self.kernel_ts = False
        self._seen: set[int] = set()
        self._replies: list[StampReply] = []

    def take(self, data: bytes, rx_mono_ns: int, rx_real_ns: int) -> None:
        """Record one datagram received for this call (raw; malformed ones only counted)."""
        try:
            f = unpack_reflector(data, self.key)
        except StampError:
            self.malformed += 1
            return
        seq = f[5]
        if seq >= self.count or self.t1_wire[seq] != f[6] or f[3] != self.ssid:
            self.malformed += 1  # not an answer to a packet of ours
            return
        if seq not in self._seen:
            self._seen.add(seq)
            self.answered += 1
        self.raw.append((f, rx_mono_ns, rx_real_ns))

    @property
    def replies(self) -> list[StampReply]:
        """The replies as the stream analysis reads them (built once, after the run)."""
        if len(self._replies) != len(self.raw):
            self._replies = [_reply(f, mono, real) for f, mono, real in self.raw]
        return self._replies

    @property
    def sent(self) -> int:
        return sum(t is not None for t in self.t1_mono_ns)


_ESTIMATES: dict[int, ErrorEstimate] = {}


def _estimate(value: int) -> ErrorEstimate:
    est = _ESTIMATES.get(value)
    if est is None:
        est = _ESTIMATES[value] = ErrorEstimate.from_int(value)
    return est


def _reply(f: tuple[int, ...], mono: int, real: int) -> StampReply:
    est = _estimate(f[2])
    return StampReply(sender_seq=f[5], reflector_seq=f[0], t2_ns=ns_from_timestamp(f[4], est),
                      t3_ns=ns_from_timestamp(f[1], est), t4_mono_ns=mono, t4_real_ns=real,
                      ttl=f[8], estimate=est)


@dataclass
class CallsRun:
    """Result of :func:`run_calls` / :meth:`CallGen.run`.

    ``send_error_ns``: per packet, actual send time minus its slot (ns), in send order.
    ``cpu_s``: CPU time of this process during the run (all threads), ``wall_s`` its length.
    """

    calls: list[Call]
    send_error_ns: list[int] = field(default_factory=list)
    sockets: SocketMode = "per_call"
    started_mono_ns: int = 0
    last_send_mono_ns: int = 0
    stopped_early: bool = False
    cpu_s: float = 0.0
    wall_s: float = 0.0

    @property
    def sent(self) -> int:
        return sum(c.sent for c in self.calls)

    @property
    def answered(self) -> int:
        """Packets with at least one reply."""
        return sum(c.answered for c in self.calls)


class _Waker:
    """Sleep until a margin before a deadline, busy-wait the margin.

    The margin is the largest recent oversleep (decaying 5 % per sleep), at least
    ``min_spin_ns``, at most ``max_spin_ns``: ~0.1 ms on a quiet host; on a VM whose
    timers overshoot, the loop spins longer instead of sending late.
    """

    def __init__(self, min_spin_ns: int, max_spin_ns: int) -> None:
        self.min_spin, self.max_spin = min_spin_ns, max_spin_ns
        self.spin = min_spin_ns
        self._over = 0

    def sleep_toward(self, due: int, now: int) -> None:
        left = due - now - self.spin
        if left <= 20_000:
            return
        time.sleep(left / _NS)
        over = plat.mono_ns() - (now + left)
        self._over = max(over, self._over * 19 // 20)
        self.spin = min(max(self.min_spin, self._over), self.max_spin)


class CallGen:
    """Run ``calls`` on one interleaved schedule in the calling thread.

    ``socks``: one connected, non-blocking socket per call (``per_call``) or one for all
    (``shared``; calls told apart by SSID). Use :func:`run_calls` unless you open sockets
    yourself; call :meth:`run` from a worker thread. ``cancel`` stops it early.
    """

    def __init__(self, calls: Sequence[Call], socks: Sequence[socket.socket], *,
                 interval_ns: int, clock: ClockMap, drain_ns: int = 1_000_000_000,
                 lead_ns: int = 20_000_000, min_spin_ns: int = 100_000) -> None:
        if len(socks) not in (1, len(calls)) or not calls:
            raise ValueError("need one socket per call, or one shared socket")
        self.calls, self.socks = list(calls), list(socks)
        self.shared = len(socks) == 1 and len(calls) > 1
        self.interval_ns, self.clock = interval_ns, clock
        self.drain_ns, self.lead_ns = drain_ns, lead_ns
        self.cancel = threading.Event()
        self._waker = _Waker(min_spin_ns, max(min_spin_ns, interval_ns // 4))
        self._by_ssid = {c.ssid: c for c in self.calls}
        self._ssid_at = 14 if self.calls[0].key is None else 26  # RFC 8972 3 / RFC 8762 4.3.2
        self._by_fd = {s.fileno(): (s, c) for s, c in zip(self.socks, self.calls, strict=False)}
        for s in self.socks:
            kernel = enable_rx_timestamps(s)
            for c in self.calls:
                c.kernel_ts = kernel
        self._sel = plat.new_selector() if not self.shared else None
        self._last_resample = 0

    def run(self, stop_at_mono_ns: int) -> CallsRun:
        """Send every packet on its slot, receive replies, stop at ``stop_at_mono_ns``."""
        mode: SocketMode = "shared" if self.shared else "per_call"
        out = CallsRun(self.calls, sockets=mode)
        cpu0, wall0 = time.process_time(), time.monotonic()
        if self._sel is not None:
            for fd in self._by_fd:
                self._sel.register(fd, selectors.EVENT_READ)
        try:
            self._send_all(out, stop_at_mono_ns)
            self._drain_until(min(stop_at_mono_ns, out.last_send_mono_ns + self.drain_ns))
        finally:
            if self._sel is not None:
                self._sel.close()
        out.cpu_s, out.wall_s = time.process_time() - cpu0, time.monotonic() - wall0
        return out

    def _send_all(self, out: CallsRun, stop_at: int) -> None:
        calls, n, interval = self.calls, len(self.calls), self.interval_ns
        socks = self.socks * n if self.shared else self.socks
        offsets = [i * interval // n for i in range(n)]
        errors = out.send_error_ns
        out.started_mono_ns = t0 = plat.mono_ns() + self.lead_ns
        offset, last_rx, mono = self.clock.offset_ns, 0, plat.mono_ns
        for k in range(calls[0].count):
            base = t0 + k * interval
            for i in range(n):
                due = base + offsets[i]
                if due >= stop_at or self.cancel.is_set():
                    out.stopped_early = True
                    return
                now = mono()
                if now - last_rx >= _DRAIN_EVERY_NS or now < due:
                    self._receive()
                    last_rx = now = mono()
                    if now - self._last_resample >= _RESAMPLE_NS:
                        self.clock.refresh()
                        offset, self._last_resample = self.clock.offset_ns, now
                    if now < due:
                        self._waker.sleep_toward(due, now)
                        while mono() < due:
                            pass
                call = calls[i]
                t1 = mono()
                wire = (((t1 + offset + _NTP_OFFSET_NS) << 32) + _NS // 2) // _NS & _U64
                call.t1_mono_ns[k] = t1
                call.t1_wire[k] = wire
                try:
                    socks[i].send(call.template.fill(k, wire))
                except plat.PORT_UNREACHABLE:
                    call.refused += 1
                except OSError as exc:  # ENOBUFS, EAGAIN, unreachable: this packet is lost
                    if len(call.send_errors) < 5:
                        call.send_errors.append(f"{type(exc).__name__}: {exc}")
                errors.append(t1 - due)
            out.last_send_mono_ns = t1

    def _receive(self) -> None:
        """Drain what has arrived (bounded batches, never blocks)."""
        if self._sel is None:
            self._drain(self.socks[0], None, 512)
            return
        for key, _ev in self._sel.select(0):
            sock, call = self._by_fd[key.fd]
            self._drain(sock, call, 8)

    def _drain(self, sock: socket.socket, call: Call | None, limit: int) -> None:
        to_mono, by_ssid, recv = self.clock.to_mono, self._by_ssid, plat.recv_stamped
        for _ in range(limit):
            try:
                data, real = recv(sock, _RX_BUF)
            except (BlockingIOError, InterruptedError):
                return
            except plat.PORT_UNREACHABLE:
                if call is not None:
                    call.refused += 1
                else:
                    self.calls[0].refused += 1
                continue
            except OSError:
                return
            if real is None:
                mono = plat.mono_ns()
                real = self.clock.to_real(mono)
            else:
                mono = to_mono(real)
            at = self._ssid_at
            target = call if call is not None else by_ssid.get(int.from_bytes(data[at : at + 2]))
            if target is None:
                self.calls[0].malformed += 1
            else:
                target.take(data, mono, real)

    def _drain_until(self, end: int) -> None:
        calls = self.calls
        while not self.cancel.is_set() and (left := end - plat.mono_ns()) > 0:
            self._receive()
            if all(c.answered == c.count for c in calls):
                return
            time.sleep(min(left / _NS, 0.002))


# --------------------------------------------------------------------------------------
# Opening calls
# --------------------------------------------------------------------------------------


def packet_size(codec: str, interval_ms: float, authenticated: bool) -> int:
    """UDP payload of one packet: the codec's RTP packet (12 + payload), at least the STAMP
    base size; as :class:`netcheck.probes.stream.Spec` sizes its packets."""
    return stamp_packet_size(bandwidth.codec_payload_bytes(codec, interval_ms), authenticated)


def _open_socket(
    family: int, address: tuple[str, int], dscp: int, buf: int | None
) -> socket.socket:
    """Connected non-blocking UDP socket; DSCP in TOS / Traffic Class (RFC 2474), TTL 255
    so the reflector's copy tells the hop count (RFC 8762 4.3.1 Session-Sender TTL)."""
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        if buf:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buf)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, buf)
        plat.mark(sock, family, dscp, ttl=255)
        sock.connect(address)
    except OSError:
        sock.close()
        raise
    return sock


def open_calls(family: int, address: tuple[str, int], n_calls: int, *, count: int, size: int,
               dscp: int = 46, key: bytes | None = None, sockets: SocketMode = "per_call",
               estimate: ErrorEstimate | None = None) -> tuple[list[Call], list[socket.socket]]:
    """``n_calls`` calls of ``count`` packets and their socket(s); close the sockets after.

    Shared mode numbers the calls' SSIDs 1..N (RFC 8972); per-call mode leaves SSID 0
    (plain RFC 8762, any reflector), each call on its own socket.
    """
    if sockets == "shared" and n_calls > 0xFFFF:
        raise ValueError(f"shared socket: at most 65535 calls (16-bit SSID), got {n_calls}")
    if sockets == "per_call" and plat.caps().selector == "select" and n_calls > SELECT_MAX_SOCKETS:
        raise OSError(f"{n_calls} calls on their own sockets: select() on {plat.caps().system} "
                      f"watches at most {SELECT_MAX_SOCKETS}")
    est = estimate or ErrorEstimate()
    calls = [Call(count=count, size=size, ssid=i + 1 if sockets == "shared" else 0, key=key,
                  estimate=est) for i in range(n_calls)]
    socks: list[socket.socket] = []
    buf = _SHARED_BUF if sockets == "shared" else None
    try:
        for _ in range(1 if sockets == "shared" else n_calls):
            socks.append(_open_socket(family, address, dscp, buf))
    except OSError:
        for s in socks:
            s.close()
        raise
    return calls, socks


def run_calls(host: str, port: int, n_calls: int, *, codec: str = "G.711", duration_s: float = 10.0,
              interval_ms: float = 20.0, dscp: int = 46, key: bytes | None = None,
              sockets: SocketMode = "per_call", stop_at_mono_ns: int | None = None,
              drain_s: float = 1.0, clock: ClockMap | None = None) -> CallsRun:
    """Run ``n_calls`` concurrent STAMP calls to the reflector at ``host:port`` (blocking).

    Each call sends ``round(duration_s / interval)`` packets of the ``codec``'s RTP packet
    size at DSCP ``dscp``, unauthenticated or with HMAC ``key`` (RFC 8762 4.4); slots
    interleave over the interval (see the module docstring). Stops at ``stop_at_mono_ns``
    (CLOCK_MONOTONIC; e.g. the probe's deadline) if given, and listens ``drain_s`` after the
    last send for late replies. Raises OSError (resolution, socket) before sending anything;
    network loss is data. The reflector must allow ``n_calls * 1000 / interval_ms`` packets
    per second from this address (``netcheck responder --rate-pps``).
    """
    info = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
    family, address = int(info[0]), (str(info[4][0]), port)
    count = max(1, round(duration_s * 1000.0 / interval_ms))
    clock = clock or ClockMap()
    sync = clock_sync()
    calls, socks = open_calls(family, address, n_calls, count=count,
                              size=packet_size(codec, interval_ms, key is not None), dscp=dscp,
                              key=key, sockets=sockets,
                              estimate=error_estimate(sync.synchronized, sync.error_s))
    gen = CallGen(calls, socks, interval_ns=round(interval_ms * 1e6), clock=clock,
                  drain_ns=int(drain_s * _NS))
    stop = stop_at_mono_ns or plat.mono_ns() + int((duration_s + drain_s + 5.0) * _NS)
    try:
        return gen.run(stop)
    finally:
        for s in socks:
            s.close()
