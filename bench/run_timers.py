"""Run timers under load: TCP/TLS connect times of a run with seven TLS ports, against the
path's round trip as iputils ping measures it, on an idle and on a saturated CPU.

Needs root (namespace lab). Run: `python -m bench.run_timers` — prints a Markdown table for
bench/RESULTS.md. The busy processes are bounded (60 s) and killed by PID.
"""

from __future__ import annotations

import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tests.integration.test_run_timers_netlab import _SERVER, _busy, _cert, _ping_rtt_ms, _run
from tests.netlab.lab import routed_lab

ROUNDS = 5
N_PORTS = 7


def _round(lab, ports: list[int], cert: Path) -> tuple[float, float, float, float, bool]:  # type: ignore[no-untyped-def]
    t0 = time.monotonic()
    ms = _run(lab, ports, cert)
    wall = time.monotonic() - t0
    tcp = ms[0].values.get("connect_median_ms")
    tls = [m.values.get("connect_ms") for m in ms[1:]]
    hs = [m.values.get("handshake_ms") for m in ms[1:]]
    ok = all(m.ok for m in ms) and ms[0].values.get("counts") == {"open": len(ports)}
    hs_median = statistics.median(float(x or 0.0) for x in hs)
    return float(tcp or 0.0), max(float(x or 0.0) for x in tls), hs_median, wall, ok


def main() -> None:
    with routed_lab(None) as lab, tempfile.TemporaryDirectory() as tmp:
        ports = sorted({lab.free_port(lab.ns.dc, "tcp") for _ in range(N_PORTS * 2)})[:N_PORTS]
        cert = _cert(Path(tmp) / "lab.pem", lab.addr.dc)
        script = Path(tmp) / "tls_server.py"
        script.write_text(_SERVER)
        proc = lab.popen(lab.ns.dc, [sys.executable, str(script), str(cert), lab.addr.dc, *map(str, ports)],
                         name="tls-server")
        for p in ports:
            lab.wait_for_port(lab.ns.dc, p, "tcp", proc=proc)
        rtt = _ping_rtt_ms(lab)
        print(f"path RTT (ping median): {rtt:.3f} ms")
        print("| CPU | TCP connect median ms | TLS connect max ms | TLS handshake median ms | run s | correct |")
        print("|---|---|---|---|---|---|")
        for label in ("idle", "saturated"):
            busy = _busy(os.cpu_count() or 2) if label == "saturated" else []
            try:
                for _ in range(ROUNDS):
                    tcp, tls, hs, wall, ok = _round(lab, ports, cert)
                    print(f"| {label} | {tcp:.3f} | {tls:.3f} | {hs:.2f} | {wall:.2f} | {ok} |")
            finally:
                for p in busy:
                    os.kill(p.pid, signal.SIGKILL)
                    p.wait(5)


if __name__ == "__main__":
    main()
