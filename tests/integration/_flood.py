"""Flood the shipped responder with spoofed-source STAMP requests (issue 21), bounded.

Used by tests/integration/test_responder_flood.py (a count that exceeds the session cap
many times) and bench/responder_flood.py (1,000,000 requests). The requests leave one raw
socket (``IP_HDRINCL``, needs root or CAP_NET_RAW) with source addresses spread over
127.0.0.0/8 and random source ports: to the responder every datagram is a new session
from a new source, as a spoofing attacker on the internet would make it. Everything
stays on loopback; replies go to 127.x.y.z addresses nobody listens on.

Sending is paced by the responder's own receive queue (``/proc/net/udp``), so the count
sent is the count the responder had to handle, not the count the kernel dropped.
"""

from __future__ import annotations

import os
import random
import re
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

#: The tree whose responder is started (bench/responder_flood.py --tree runs an older one).
ROOT = Path(os.environ.get("NETCHECK_FLOOD_TREE") or Path(__file__).resolve().parents[2])
STAMP_UNAUTH_LEN = 44  # RFC 8762 4.2.1
_QUEUE_HIGH = 64 * 1024  # octets (skb truesize) queued at the responder before we pause
_BURST = 100  # datagrams between two looks at the queue: < rmem_max (208 KiB default) in all


@dataclass(frozen=True)
class FloodResult:
    sent: int
    seconds: float
    rss_start_kb: int
    peak_rss_kb: int  # VmHWM of the responder process over its life
    log: str  # the responder's stderr (its shutdown line carries its counters)

    def counter(self, name: str) -> int:
        """A figure of the responder's shutdown line, e.g. ``counter("sessions")``."""
        stopped = [x for x in self.log.splitlines() if "responder stopped:" in x]
        m = re.search(rf"(\d+) {name}", stopped[-1] if stopped else "")
        if m is None:
            raise AssertionError(f"no {name!r} in the responder's log:\n{self.log[-2000:]}")
        return int(m.group(1))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_responder(port: int, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    """``netcheck responder`` as shipped, on 127.0.0.1:port, its stderr to ``log`` (a file:
    a pipe nobody reads could block it); returns once it serves."""
    with log.open("wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "netcheck", "responder", "--bind", "127.0.0.1",
                                 "--port", str(port), *extra], cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=fh)
    end = time.monotonic() + 60
    while time.monotonic() < end and proc.poll() is None:
        if "responder listening on" in log.read_text(errors="replace"):
            return proc
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise AssertionError(f"responder did not start: {log.read_text(errors='replace')}")


def status_kb(pid: int, field: str) -> int:
    """VmRSS / VmHWM of a process in kB (proc(5))."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for pid {pid}")


def rx_queue(port: int) -> int:
    """Octets waiting in the receive queue of the UDP socket bound to 127.0.0.1:port."""
    local = f"0100007F:{port:04X}"
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        cols = line.split()
        if cols[1] == local:
            return int(cols[4].split(":")[1], 16)
    return 0


def stamp_request(seq: int) -> bytes:
    """An unauthenticated Session-Sender packet (RFC 8762 4.2.1), SSID 0, 44 octets."""
    return struct.pack("!IQHH", seq, 0xE000_0000_0000_0000, 0x0001, 0) + bytes(28)


def spoofed(src: str, sport: int, dport: int, payload: bytes) -> bytes:
    """IPv4 + UDP headers (RFC 791, RFC 768) around ``payload``; the kernel fills the IP
    checksum and length (raw(7), IP_HDRINCL); UDP checksum 0 = none (RFC 768)."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp) + len(payload), 0, 0, 64,
                     socket.IPPROTO_UDP, 0, socket.inet_aton(src), socket.inet_aton("127.0.0.1"))
    return ip + udp + payload


def source(i: int) -> str:
    """The i-th spoofed source: 127.1.0.0 upwards, never 127.0.0.x."""
    return f"127.{1 + (i >> 16) % 254}.{(i >> 8) & 0xFF}.{i & 0xFF}"


def flood(port: int, count: int, seed: int, max_s: float) -> tuple[int, float]:
    """Send up to ``count`` spoofed requests in at most ``max_s``; (sent, seconds)."""
    rng = random.Random(seed)
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    t0 = time.monotonic()
    sent = 0
    try:
        while sent < count and time.monotonic() - t0 < max_s:
            if rx_queue(port) > _QUEUE_HIGH:
                time.sleep(0.002)
                continue
            for _ in range(min(_BURST, count - sent)):
                pkt = spoofed(source(sent), rng.randrange(1024, 65536), port, stamp_request(sent))
                raw.sendto(pkt, ("127.0.0.1", 0))
                sent += 1
    finally:
        raw.close()
    while rx_queue(port) and time.monotonic() - t0 < max_s + 10:  # let it drain
        time.sleep(0.01)
    return sent, time.monotonic() - t0


def run_flood(count: int, log: Path, seed: int = 21, max_s: float = 120.0) -> FloodResult:
    """Start the responder, flood it, stop it with SIGTERM, return the figures."""
    port = free_port()
    proc = start_responder(port, log)
    try:
        rss0 = status_kb(proc.pid, "VmRSS")
        sent, seconds = flood(port, count, seed, max_s)
        peak = status_kb(proc.pid, "VmHWM")
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return FloodResult(sent, seconds, rss0, peak, log.read_text(errors="replace"))


def can_spoof() -> bool:
    return sys.platform.startswith("linux") and os.geteuid() == 0
