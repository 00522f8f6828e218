"""Bench: the agent's idle footprint between runs (RSS and CPU), with psutil.

Starts ``netcheck agent`` on the loopback demo profile (quick) with the metrics server on,
lets it complete its first run, then samples the agent process (not its per-run child,
which exists only during a run) while it waits for the next slot: RSS and CPU share over
the idle window. A Prometheus scrape every 15 s during the window is included, as in
production.

Run: python bench/agent_footprint.py [--idle 60]
"""

from __future__ import annotations

import argparse
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

from netcheck.agent import store as st


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--idle", type=float, default=60.0, help="idle seconds to sample")
    args = ap.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as d:
        db = Path(d) / "agent.db"
        proc = subprocess.Popen([sys.executable, "-m", "netcheck", "agent", "--profile", "demo",
                                 "--quick", "--every", "1h", "--jitter", "1s", "--store", str(db),
                                 "--metrics-port", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            end = time.monotonic() + 120
            while time.monotonic() < end:
                if db.exists():
                    with st.Store(db) as store:
                        if store.runs():
                            break
                time.sleep(0.5)
            time.sleep(2.0)  # the child is gone; the agent is idle until the next hour
            p = psutil.Process(proc.pid)
            assert not p.children(), "a run is still in progress"
            cpu0, t0 = p.cpu_times(), time.monotonic()
            rss = []
            while time.monotonic() - t0 < args.idle:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
                rss.append(p.memory_info().rss)
                time.sleep(15.0 if args.idle >= 30 else 1.0)
            cpu1, elapsed = p.cpu_times(), time.monotonic() - t0
            used = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
            print(f"idle window {elapsed:.0f} s, {len(rss)} scrapes")
            print(f"idle RSS: max {max(rss) / 2**20:.1f} MiB (USS "
                  f"{p.memory_full_info().uss / 2**20:.1f} MiB)")
            print(f"idle CPU: {100 * used / elapsed:.3f} % of one core "
                  f"({used * 1000:.0f} ms CPU in {elapsed:.0f} s)")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
