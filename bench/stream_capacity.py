"""Stream capacity: how many concurrent emulated calls one netcheck process sustains.

N STAMP calls (G.711, 50 pps, 172-octet packets, slots interleaved over the 20 ms interval)
run on one thread of this process (:func:`netcheck.probes._callgen.run_calls`) against a
``netcheck responder`` in a *separate process* on 127.0.0.1 (its ``--rate-pps`` set to
100,000 per source so the bench measures the responder, not its limiter; the default stays
1000). N ramps through ``--ladder`` with ``--seconds`` per step and stops at the first step
that fails: replies missing (loopback drops nothing by itself, so every missing reply is
self-inflicted: sender or responder behind, or a socket buffer overflowed), or p99 send
error above ``--max-p99-ms`` (0.5 ms; ``--criterion loss`` keeps ramping until loss only).

Per step: calls, packets/s each way, send error p50/p99/max (actual send timestamp minus
its slot), replies missing, CPU % of this process and of the responder process (100 = one
core), the 1-minute load average at the end of the step and the hypervisor's steal time
during it (``/proc/stat``, % of both vCPUs), which explains late sends no scheduler can
prevent.

Run from the repo root: ``python -m bench.stream_capacity`` (< 1 minute). Loopback only;
the responder process is stopped by its PID at the end.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from netcheck.probes._callgen import run_calls
from netcheck.probes._stream_analysis import send_error_values

LADDER = (50, 100, 200, 300, 500, 700, 1000, 1500)
RESPONDER_RATE_PPS = 100_000  # > 50 pps x the largest ladder step
HZ = os.sysconf("SC_CLK_TCK")


def steal_ticks() -> int:
    """Steal time (USER_HZ ticks, all CPUs) from /proc/stat; 0 where unavailable."""
    try:
        return int(Path("/proc/stat").read_text().splitlines()[0].split()[8])
    except (OSError, IndexError, ValueError):
        return 0


def proc_ticks(pid: int) -> int:
    """utime + stime of process ``pid`` (USER_HZ ticks), 0 where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


def start_responder() -> tuple[subprocess.Popen[bytes], int]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = [sys.executable, "-m", "netcheck", "responder", "--bind", "127.0.0.1", "--port",
            str(port), "--rate-pps", str(RESPONDER_RATE_PPS)]
    proc = subprocess.Popen(argv, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    time.sleep(1.5)
    return proc, port


def step(n: int, seconds: float, port: int, responder_pid: int, sockets: str) -> dict[str, Any]:
    steal0, resp0 = steal_ticks(), proc_ticks(responder_pid)
    run = run_calls("127.0.0.1", port, n, duration_s=seconds, sockets=sockets,  # type: ignore[arg-type]
                    drain_s=0.5)
    steal, resp = steal_ticks() - steal0, proc_ticks(responder_pid) - resp0
    errs = send_error_values(run.send_error_ns)
    return {
        "calls": n, "pps": round(run.sent / seconds), "sent": run.sent,
        "missing": run.sent - run.answered,
        "p50": errs["send_error_p50_ms"], "p99": errs["send_error_p99_ms"],
        "max": errs["send_error_max_ms"],
        "cpu": round(100 * run.cpu_s / run.wall_s, 1),
        "resp_cpu": round(100 * resp / HZ / run.wall_s, 1),
        "load1": round(os.getloadavg()[0], 2),
        "steal": round(100 * steal / HZ / run.wall_s / 2, 1),
        "send_errors": sum(len(c.send_errors) for c in run.calls),
    }


def failed(row: dict[str, Any], criterion: str, max_p99_ms: float) -> str | None:
    if row["missing"] or row["send_errors"]:
        return f"{row['missing']} replies missing"
    if criterion == "both" and (row["p99"] or 0.0) > max_p99_ms:
        return f"p99 send error {row['p99']} ms > {max_p99_ms} ms"
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--ladder", default=",".join(map(str, LADDER)))
    ap.add_argument("--sockets", choices=("per_call", "shared"), default="per_call")
    ap.add_argument("--criterion", choices=("both", "loss"), default="both")
    ap.add_argument("--max-p99-ms", type=float, default=0.5)
    args = ap.parse_args(argv)
    print(f"start: load average {os.getloadavg()}, sockets={args.sockets}", flush=True)
    proc, port = start_responder()
    rows = []
    try:
        for n in (int(x) for x in args.ladder.split(",")):
            rows.append(step(n, args.seconds, port, proc.pid, args.sockets))
            print(rows[-1], flush=True)
            if reason := failed(rows[-1], args.criterion, args.max_p99_ms):
                print(f"stop at {n} calls: {reason}")
                break
            time.sleep(1.0)
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"\nsockets={args.sockets}, {args.seconds:g} s per step")
    print("| calls | pps each way | send error p50 ms | p99 ms | max ms | replies missing "
          "| CPU % sender | CPU % responder | load avg 1 min | steal % |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['calls']} | {r['pps']} | {r['p50']} | {r['p99']} | {r['max']} "
              f"| {r['missing']} | {r['cpu']} | {r['resp_cpu']} | {r['load1']} | {r['steal']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
