"""Userspace impairment link: forward Ethernet frames between two interfaces, impaired.

The kernel here has tbf/htb but no netem, so this bridge stands in for it. It is run as
its own process inside the ``imp`` namespace of the lab::

    python -m tests.netlab.impair --a a --b b --spec "delay=30ms loss=1%" --seed 7 \
        --log truth.jsonl --ready-file ready

Design, and why:

- AF_PACKET sockets, one receive socket per interface with ``PACKET_IGNORE_OUTGOING`` (our
  own transmissions must not loop back) and a separate send-only socket.
- One *process* per direction (``up`` = a->b, ``down`` = b->a): a thread per direction
  would share the GIL and a busy-waiting thread would delay the other by up to the
  interpreter's switch interval.
- Arrival times are kernel receive timestamps (``SO_TIMESTAMPNS``, CLOCK_REALTIME)
  converted to CLOCK_MONOTONIC (the clock every namespace shares), so the applied delay
  is counted from when the frame really arrived, not from when Python woke up.
- A heap ordered by due time, ``select`` until shortly before the head is due, then a
  busy-wait tail (``--spin-us``) for the last microseconds; timer slack is set to 1 ns.
- Every frame yields one ground-truth line (JSON): direction, arrival time, decision,
  intended delay and actual transmit time, plus enough header fields to match it to what
  a probe sent (see :mod:`tests.netlab.truth`).
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import heapq
import json
import os
import random
import select
import signal
import socket
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.netlab.spec import DirectionSpec, parse_spec

ETH_P_ALL = 0x0003
SO_TIMESTAMPNS = 35
SOL_PACKET = 263
PACKET_IGNORE_OUTGOING = 23
PR_SET_TIMERSLACK = 29
PR_SET_PDEATHSIG = 1
IDLE_S = 0.05
FLUSH_LINES = 512


@dataclass(frozen=True)
class Decision:
    """What happens to one copy of a frame: forwarded after ``delay_s``, or dropped."""

    kind: str  # "forward" | "dup" | "drop"
    delay_s: float = 0.0
    reason: str = ""  # for drops: "loss" | "ge" | "queue"


class Impairer:
    """Seeded, I/O-free decision engine for one direction.

    Random draws happen in a fixed order per frame, so one seed and one sequence of
    (arrival time, length) always give the same decisions: a run can be reproduced.
    """

    def __init__(self, spec: DirectionSpec, seed: str, floor_s: float = 0.0) -> None:
        self.spec = spec
        self.floor_s = floor_s
        self.rng = random.Random(seed)
        self.ge_bad = False
        self.link_free_s = 0.0

    def decide(self, t_arr_s: float, length: int) -> list[Decision]:
        """Decisions for a frame arriving at ``t_arr_s`` (first: original, then a dup)."""
        lost = self._bernoulli_loss()
        ge_lost = self._ge_loss()
        if lost or ge_lost:
            return [Decision("drop", reason="loss" if lost else "ge")]
        out = [self._scheduled("forward", t_arr_s, length)]
        if self.spec.dup and self.rng.random() < self.spec.dup:
            out.append(self._scheduled("dup", t_arr_s, length))
        return out

    def _bernoulli_loss(self) -> bool:
        return bool(self.spec.loss) and self.rng.random() < self.spec.loss

    def _ge_loss(self) -> bool:
        """Gilbert-Elliott: lose with 1-k (Good) or 1-h (Bad), then move the chain."""
        ge = self.spec.ge
        if ge is None:
            return False
        deliver_p = ge.h if self.ge_bad else ge.k
        lost = self.rng.random() >= deliver_p
        flip = self.rng.random() < (ge.r if self.ge_bad else ge.p)
        if flip:
            self.ge_bad = not self.ge_bad
        return lost

    def _scheduled(self, kind: str, t_arr_s: float, length: int) -> Decision:
        delay = max(self._draw_delay(), self.floor_s)
        if self.spec.rate_bps is None:
            return Decision(kind, delay)
        start = max(t_arr_s + delay, self.link_free_s)
        if start - (t_arr_s + delay) > self.spec.queue_s:
            return Decision("drop", reason="queue")
        self.link_free_s = start + length * 8 / self.spec.rate_bps
        return Decision(kind, self.link_free_s - t_arr_s)

    def _draw_delay(self) -> float:
        """Fixed delay plus a jitter draw, clamped at 0; reordered frames skip the delay."""
        s = self.spec
        if s.reorder and self.rng.random() < s.reorder:
            return 0.0
        if not s.jitter_s:
            return s.delay_s
        if s.dist == "uniform":
            j = self.rng.uniform(-s.jitter_s, s.jitter_s)
        elif s.dist == "pareto":
            j = s.jitter_s * (self.rng.paretovariate(3.0) - 1.0)
        else:
            j = self.rng.gauss(0.0, s.jitter_s)
        return max(0.0, s.delay_s + j)


def describe_frame(frame: bytes) -> dict[str, Any]:
    """Header fields that identify a frame: IPv4 proto/addresses/ports, ICMP id/seq,
    a hash of the L3 payload and the first 16 bytes of the UDP payload (sequence numbers
    of RTP/STAMP/iperf3 live there)."""
    info: dict[str, Any] = {"ethertype": int.from_bytes(frame[12:14], "big")}
    if info["ethertype"] != 0x0800 or len(frame) < 34:
        info["hash"] = hashlib.blake2b(frame[14:], digest_size=8).hexdigest()
        return info
    ihl = (frame[14] & 0x0F) * 4
    l4 = frame[14 + ihl :]
    info.update(
        proto=frame[23],
        src=socket.inet_ntoa(frame[26:30]),
        dst=socket.inet_ntoa(frame[30:34]),
        hash=hashlib.blake2b(l4, digest_size=8).hexdigest(),
    )
    if info["proto"] in (6, 17) and len(l4) >= 4:
        info["sport"], info["dport"] = struct.unpack("!HH", l4[:4])
    if info["proto"] == 17:
        info["head"] = l4[8:24].hex()
    elif info["proto"] == 1 and len(l4) >= 8:
        info["icmp_type"] = l4[0]
        info["icmp_id"], info["icmp_seq"] = struct.unpack("!HH", l4[4:8])
    return info


class TruthLog:
    """Buffered JSON-lines writer; whole chunks are appended with one ``write`` so the
    two direction processes never interleave inside a line."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.lines: list[str] = []

    def add(self, record: dict[str, Any]) -> None:
        self.lines.append(json.dumps(record, separators=(",", ":")))
        if len(self.lines) >= FLUSH_LINES:
            self.flush()

    def flush(self) -> None:
        if self.lines:
            os.write(self.fd, ("\n".join(self.lines) + "\n").encode())
            self.lines.clear()


def _realtime_offset_ns() -> int:
    """CLOCK_REALTIME - CLOCK_MONOTONIC, from the tightest of a few samples."""
    best: tuple[int, int] | None = None
    for _ in range(5):
        m0 = time.monotonic_ns()
        rt = time.clock_gettime_ns(time.CLOCK_REALTIME)
        m1 = time.monotonic_ns()
        if best is None or m1 - m0 < best[0]:
            best = (m1 - m0, rt - (m0 + m1) // 2)
    assert best is not None
    return best[1]


def open_rx(iface: str) -> socket.socket:
    """Receive socket for every frame arriving on ``iface`` (not our own transmissions)."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((iface, ETH_P_ALL))
    s.setblocking(False)
    return s


def open_tx(iface: str) -> socket.socket:
    """Send-only socket (protocol 0 receives nothing)."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    s.bind((iface, 0))
    return s


class Direction:
    """The forwarding loop of one direction: receive, decide, schedule, send, log."""

    def __init__(
        self,
        name: str,
        rx: socket.socket,
        tx: socket.socket,
        imp: Impairer,
        log: TruthLog,
        spin_ns: int,
    ) -> None:
        self.name, self.rx, self.tx, self.imp, self.log = name, rx, tx, imp, log
        self.spin_ns = spin_ns
        self.heap: list[tuple[int, int, str, bytes, int, int]] = []
        self.seq = 0
        self.stop = False
        self.offset_ns = _realtime_offset_ns()
        self.offset_at = time.monotonic_ns()

    def run(self) -> None:
        """Serve until SIGTERM; then log what was still queued as ``stopped``."""
        while not self.stop:
            self._wait_and_receive()
            self._send_due()
        for _, _, _, frame, t_arr, delay in self.heap:
            self._log(kind="stopped", frame=frame, t_arr=t_arr, delay=delay, t_tx=None)
        self.log.flush()

    def _wait_and_receive(self) -> None:
        now = time.monotonic_ns()
        wait_ns = self.heap[0][0] - now if self.heap else int(IDLE_S * 1e9)
        if wait_ns > self.spin_ns:
            ready, _, _ = select.select([self.rx], [], [], min(wait_ns - self.spin_ns, 5e7) / 1e9)
            if not ready and not self.heap:
                self._idle()
                return
        self._drain()

    def _idle(self) -> None:
        """Nothing queued: flush the log and refresh the clock offset (NTP may slew)."""
        self.log.flush()
        if time.monotonic_ns() - self.offset_at > 1_000_000_000:
            self.offset_ns = _realtime_offset_ns()
            self.offset_at = time.monotonic_ns()

    def _drain(self) -> None:
        for _ in range(256):
            try:
                frame, anc, _, addr = self.rx.recvmsg(65536, 64)
            except BlockingIOError:
                return
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            self._arrive(frame, self._arrival_ns(anc))

    def _arrival_ns(self, anc: list[tuple[int, int, bytes]]) -> int:
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
                sec, nsec = struct.unpack("qq", data[:16])
                return sec * 1_000_000_000 + nsec - self.offset_ns
        return time.monotonic_ns()

    def _arrive(self, frame: bytes, t_arr: int) -> None:
        self.seq += 1
        for d in self.imp.decide(t_arr / 1e9, len(frame)):
            delay = round(d.delay_s * 1e9)
            if d.kind == "drop":
                self._log(kind="drop", frame=frame, t_arr=t_arr, delay=0, t_tx=None, why=d.reason)
            else:
                heapq.heappush(self.heap, (t_arr + delay, self.seq, d.kind, frame, t_arr, delay))

    def _send_due(self) -> None:
        while self.heap:
            due = self.heap[0][0]
            if due - time.monotonic_ns() > self.spin_ns:
                return
            while time.monotonic_ns() < due:
                pass
            _, seq, kind, frame, t_arr, delay = heapq.heappop(self.heap)
            # Stamp before send(): on veth the peer's whole receive path (even the far
            # host's reply) may run inside this syscall, which is not link delay.
            t_tx: int | None = time.monotonic_ns()
            try:
                self.tx.send(frame)
            except OSError:  # e.g. EMSGSIZE for an offloaded super-frame
                kind, t_tx = "txerror", None
            self._log(kind=kind, frame=frame, t_arr=t_arr, delay=delay, t_tx=t_tx, seq=seq)

    def _log(
        self,
        *,
        kind: str,
        frame: bytes,
        t_arr: int,
        delay: int,
        t_tx: int | None,
        why: str = "",
        seq: int | None = None,
    ) -> None:
        rec: dict[str, Any] = {
            "dir": self.name,
            "seq": self.seq if seq is None else seq,
            "t_arr_ns": t_arr,
            "decision": kind,
            "delay_ns": delay,
            "t_tx_ns": t_tx,
            "len": len(frame),
        }
        if why:
            rec["why"] = why
        rec.update(describe_frame(frame))
        self.log.add(rec)


def _tighten_timing() -> None:
    """1 ns timer slack: ``select`` would otherwise wake up to 50 us late.

    SCHED_FIFO was tried and made things far worse (p90 +300 ms on 2 cores): a spinning
    real-time task keeps ksoftirqd, which moves the veth frames, off its CPU."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0)
    except OSError:
        pass


def _serve_direction(d: Direction, ready_fd: int) -> None:
    """Child side: die with the parent, stop on SIGTERM, report ready, serve."""

    def on_term(_sig: int, _frm: object) -> None:
        d.stop = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    _tighten_timing()
    os.write(ready_fd, b"1")
    os.close(ready_fd)
    d.run()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.netlab.impair", description=__doc__)
    p.add_argument("--a", required=True, help="lan-side interface (up = a -> b)")
    p.add_argument("--b", required=True, help="router-side interface (down = b -> a)")
    p.add_argument("--spec", default="", help='e.g. "delay=30ms jitter=5ms loss=0.5%%"')
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--log", type=Path, required=True, help="ground-truth JSON lines file")
    p.add_argument("--ready-file", type=Path, help="touched once both sockets are bound")
    p.add_argument("--spin-us", type=int, default=200, help="busy-wait tail before a send")
    p.add_argument(
        "--floor-us",
        type=int,
        default=1000,
        help="minimum applied delay: hides the wake-up latency (~0.2 ms here) behind a "
        "precisely timed send, so a clean link adds a constant instead of noise",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Bind the sockets, fork one process per direction, wait; SIGTERM stops both.

    The ready file is written only once both children serve, so a caller that waits for
    it never sends into a link that is not forwarding yet."""
    args = parse_args(argv)
    spec = parse_spec(args.spec)
    rx_a, rx_b, tx_a, tx_b = open_rx(args.a), open_rx(args.b), open_tx(args.a), open_tx(args.b)
    children: list[int] = []

    def forward(_sig: int, _frm: object) -> None:
        for pid in children:
            os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    ready_r, ready_w = os.pipe()
    for name, rx, tx in (("up", rx_a, tx_b), ("down", rx_b, tx_a)):
        imp = Impairer(spec.direction(name), f"{args.seed}-{name}", args.floor_us / 1e6)
        d = Direction(name, rx, tx, imp, TruthLog(args.log), args.spin_us * 1000)
        pid = os.fork()
        if pid == 0:
            os.close(ready_r)
            _serve_direction(d, ready_w)
            os._exit(0)
        children.append(pid)
    os.close(ready_w)
    got = b""
    while len(got) < len(children):
        chunk = os.read(ready_r, 2)
        if not chunk:
            break
        got += chunk
    if args.ready_file and len(got) == len(children):
        args.ready_file.write_text(json.dumps({"pid": os.getpid(), "children": children}))
    status = 0
    for pid in children:
        _, st = os.waitpid(pid, 0)
        status |= os.waitstatus_to_exitcode(st)
    return status


if __name__ == "__main__":
    sys.exit(main())
