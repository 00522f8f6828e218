"""Stream capacity: how many concurrent emulated calls one netcheck process sustains.

N STAMP calls (G.711, 50 pps, one UDP socket each, slots staggered over the 20 ms interval)
run on one scheduler thread (:class:`netcheck.probes._stream_engine.Engine`) against a
``netcheck responder`` *process* on loopback, for ``--seconds``. Loopback loses nothing by
itself, so every missing reply is self-inflicted (sender or responder fell behind, or a
socket buffer overflowed). Reported per N: replies missing, send-time error p50 / p99 / max
(actual send timestamp minus the slot), the CPU time of this process, and the hypervisor's
steal time during the run (``/proc/stat``), which on a shared VM explains late sends that no
scheduler can prevent.

Run from the repo root: ``python -m bench.stream_capacity`` (about 1 minute). Loopback only.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from netcheck.probes._stream_analysis import send_error_values
from netcheck.probes._stream_engine import ClockMap, Engine, Schedule
from netcheck.probes._stream_sessions import StampCall

LADDER = (1, 50, 100, 200, 300, 400, 500, 600, 800, 1000)


def steal_ticks() -> int:
    """Steal time (USER_HZ ticks, all CPUs) from /proc/stat; 0 where unavailable."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
        return int(fields[8])
    except (OSError, IndexError, ValueError):
        return 0


def start_responder() -> tuple[subprocess.Popen[bytes], int]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = [sys.executable, "-m", "netcheck", "responder", "--bind", "127.0.0.1", "--port", str(port),
            "--rate-pps", "10000000"]
    proc = subprocess.Popen(argv, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    time.sleep(1.0)
    return proc, port


def run_calls(n: int, seconds: float, port: int) -> dict[str, float | int | None]:
    clock = ClockMap()
    count = round(seconds * 50)
    calls = []
    for _ in range(n):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 18)
        sock.connect(("127.0.0.1", port))
        calls.append(StampCall(sock, count=count, size=172, clock=clock))
    engine = Engine(calls, Schedule(count=count, interval_ns=20_000_000, drain_ns=500_000_000), clock)
    cpu0, steal0, t0 = time.process_time(), steal_ticks(), time.monotonic()
    report = engine.run(time.monotonic_ns() + int((seconds + 5) * 1e9))
    wall = time.monotonic() - t0
    cpu, steal = time.process_time() - cpu0, steal_ticks() - steal0
    for c in calls:
        c.sock.close()
    sent = n * count
    answered = sum(len({r.sender_seq for r in c.replies}) for c in calls)
    errs = send_error_values(report.send_error_ns)
    hz = os.sysconf("SC_CLK_TCK")
    return {"calls": n, "sent": sent, "missing": sent - answered, **errs,
            "cpu_pct": round(100 * cpu / wall, 1), "steal_pct_of_2_cpus": round(100 * steal / hz / wall / 2, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--ladder", default=",".join(map(str, LADDER)))
    args = ap.parse_args(argv)
    proc, port = start_responder()
    rows = []
    try:
        for n in (int(x) for x in args.ladder.split(",")):
            rows.append(run_calls(n, args.seconds, port))
            print(rows[-1], flush=True)
            time.sleep(1.0)
    finally:
        proc.terminate()
        proc.wait(10)
    print("\n| calls | packets sent | replies missing | send error p50 ms | p99 ms | max ms | CPU % (1 core = 100)"
          " | VM steal % |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['calls']} | {r['sent']} | {r['missing']} | {r['send_error_p50_ms']} | {r['send_error_p99_ms']} "
              f"| {r['send_error_max_ms']} | {r['cpu_pct']} | {r['steal_pct_of_2_cpus']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
