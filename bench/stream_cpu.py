"""Stream CPU: one netcheck call's CPU beside IRTT's, and what the low-CPU schedule costs in accuracy.

Part 1, CPU (loopback, any user): the same call three ways, one after the other in each round
(the order rotates per round so that neither tool always follows the other): ``irtt client``
(Debian's irtt 0.9, its default compensating timer) against ``irtt server``; a netcheck STAMP
call on the default schedule (adaptive busy-wait before each send); a netcheck call with
``low_cpu`` (sleep-only, spin at most 0.05 ms). Same interval (20 ms), same UDP payload (172
octets: a G.711 20 ms RTP packet), same duration. Each client runs in its own process, each
server in a separate process on 127.0.0.1 for the whole bench (``netcheck responder`` for
netcheck, ``irtt server`` for IRTT).

CPU of a client = the CPU time on the clock of all its threads (``/proc/PID/task/*/schedstat``,
ns) over the same window for every client: from 2 s after the call started until 1 s before
its end, so start-up (Python's imports, Go's runtime) is not counted; the whole process's
CPU (``wait4`` rusage, start-up included) is printed beside it. Send-schedule error: netcheck's
own figures (per packet, send timestamp minus slot). IRTT times each wait from the previous
send rather than from fixed slots (it drifts: fewer packets than slots in the same time),
so for it: the deviation of each inter-send interval from 20 ms, from the client send
stamps in its JSON, and its own ``timer_error`` (mean / max).

Part 2, accuracy (``--lab``, root): a routed netlab whose lan link runs through the
impairment bridge; for each setting one call per schedule, each against the bridge's truth
log of its own packets (RFC 3550 jitter and loss per direction, tests/integration/stream_lab).

Run from the repo root: ``python -m bench.stream_cpu [--seconds 30] [--rounds 3] [--lab]``.
Loopback and lab namespaces only; the servers are stopped by their PIDs at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

INTERVAL_MS = 20.0
PAYLOAD = 172  # stamp_packet_size(160, False): 12-octet RTP header + 160 octets of G.711
WARM_S = 2.0
TAIL_S = 1.0
MODES = ("irtt", "netcheck default", "netcheck low-cpu")
LAB_SETTINGS = [
    ("20 ms +- 4 ms, 1 % loss", "delay=20ms jitter=4ms dist=uniform loss=1%"),
    ("2 % bursty loss", "delay=10ms ge=p:0.005,r:0.245"),
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_ns(pid: int) -> int:
    """CPU time of every thread of ``pid`` so far (ns, ``/proc/PID/task/*/schedstat``)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue  # a thread that ended between listing and reading
    return total


def client_main(host: str, port: int, seconds: float, low_cpu: bool) -> None:
    """``--client``: one netcheck call; says when it starts, prints its values as JSON."""
    from netcheck.probes import stream
    from netcheck.probes._common import Context

    spec = stream.Spec(id="stream:bench", host=host, port=port, duration_s=seconds, low_cpu=low_cpu)
    print("start", flush=True)
    m = asyncio.run(stream.run(spec, Context(deadline=time.monotonic() + seconds + 15)))
    print(json.dumps({"ok": m.ok, "confidence": m.confidence, **m.values}), flush=True)


def _window(pid: int, t_start: float, seconds: float) -> float:
    """CPU seconds of ``pid`` between ``t_start + WARM_S`` and the call's end minus TAIL_S."""
    time.sleep(max(0.0, t_start + WARM_S - time.monotonic()))
    c0 = cpu_ns(pid)
    time.sleep(seconds - WARM_S - TAIL_S)
    return (cpu_ns(pid) - c0) / 1e9


def _rusage_s(proc: subprocess.Popen[Any]) -> float:
    _, _, ru = os.wait4(proc.pid, 0)
    proc.returncode = 0  # reaped here; Popen must not wait for it again
    return float(ru.ru_utime + ru.ru_stime)


def run_netcheck(port: int, seconds: float, low_cpu: bool) -> dict[str, Any]:
    argv = [sys.executable, "-m", "bench.stream_cpu", "--client", "127.0.0.1", str(port), str(seconds),
            "low" if low_cpu else "default"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "start"
    window = _window(proc.pid, time.monotonic(), seconds)
    out = proc.stdout.read()
    total = _rusage_s(proc)
    v = json.loads(out.strip().splitlines()[-1])
    return {"cpu_s": window, "cpu_total_s": total, "p50": v["send_error_p50_ms"], "p99": v["send_error_p99_ms"],
            "max": v["send_error_max_ms"], "sent": v["sent"], "loss": v["loss_pct"], "jitter": v["jitter_ms"],
            "confidence": v["confidence"], "reason": v.get("confidence_reason", "")}


def run_irtt(port: int, seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "irtt.json"
        argv = ["irtt", "client", "-Q", "-i", f"{INTERVAL_MS:g}ms", "-d", f"{seconds:g}s", "-l", str(PAYLOAD),
                "-o", str(out), f"127.0.0.1:{port}"]
        proc = subprocess.Popen(argv)
        window = _window(proc.pid, time.monotonic(), seconds)
        total = _rusage_s(proc)
        doc = json.loads(out.read_text())
    sends = [rt["timestamps"]["client"]["send"]["monotonic"] for rt in doc["round_trips"]
             if "send" in rt["timestamps"]["client"]]
    # IRTT times each wait from the previous send, not from fixed slots (it sent 1,492-1,496
    # of 1,500 packets in 30 s in the first run): its per-packet figure is its own timer
    # error; here the inter-send interval's deviation from 20 ms, from its send stamps
    dev = sorted(abs(b - a - INTERVAL_MS * 1e6) / 1e6 for a, b in itertools.pairwise(sends))
    s = doc["stats"]
    return {"cpu_s": window, "cpu_total_s": total, "p50": round(statistics.median(dev), 4),
            "p99": round(dev[min(len(dev) - 1, int(0.99 * len(dev)))], 4), "max": round(dev[-1], 4),
            "sent": s["packets_sent"], "loss": s["packet_loss_percent"],
            "jitter": round(s["ipdv_round_trip"].get("mean", 0) / 1e6, 4),
            "timer_error_mean_ms": round(s["timer_error"]["mean"] / 1e6, 4),
            "timer_error_max_ms": round(s["timer_error"]["max"] / 1e6, 4)}


def cpu_part(seconds: float, rounds: int) -> list[dict[str, Any]]:
    if not shutil.which("irtt"):
        sys.exit("irtt is not installed (Debian package irtt)")
    nc_port, irtt_port = free_port(), free_port()
    responder = subprocess.Popen([sys.executable, "-m", "netcheck", "responder", "--bind", "127.0.0.1",
                                  "--port", str(nc_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    irtt_server = subprocess.Popen(["irtt", "server", "-b", f"127.0.0.1:{irtt_port}"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows: list[dict[str, Any]] = []
    try:
        time.sleep(1.5)
        for r in range(rounds):
            order = MODES[r % 3:] + MODES[:r % 3]
            for mode in order:
                load = os.getloadavg()[0]
                if mode == "irtt":
                    row = run_irtt(irtt_port, seconds)
                else:
                    row = run_netcheck(nc_port, seconds, low_cpu=mode.endswith("low-cpu"))
                rows.append({"round": r + 1, "mode": mode, "load": round(load, 2), **row})
                print(json.dumps(rows[-1]), flush=True)
    finally:
        for p in (responder, irtt_server):
            p.terminate()
            p.wait(5)
    return rows


def cpu_report(rows: list[dict[str, Any]], seconds: float) -> str:
    window = seconds - WARM_S - TAIL_S
    lines = [f"{seconds:g} s calls, CPU over the {window:g} s window (% of one core = CPU s / window s x 100).", "",
             "| round | client | load avg | CPU % (window) | CPU s whole process | send error p50 / p99 / max ms"
             " (irtt: inter-send interval - 20 ms; its own timer error mean / max in the notes) |"
             " sent | loss % | jitter figure ms (irtt: mean round-trip IPDV; netcheck: jitter_ms) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['round']} | {r['mode']} | {r['load']} | {100 * r['cpu_s'] / window:.2f} | "
                     f"{r['cpu_total_s']:.2f} | {r['p50']} / {r['p99']} / {r['max']} | {r['sent']} | {r['loss']} | "
                     f"{r['jitter']} |")
    lines += ["", "irtt timer error (its own figure) mean / max ms: " + ", ".join(
        f"{r['timer_error_mean_ms']} / {r['timer_error_max_ms']}" for r in rows if r["mode"] == "irtt")]
    med = {m: statistics.median(r["cpu_s"] for r in rows if r["mode"] == m) for m in MODES}
    lines += ["", "Median CPU % (window): " + ", ".join(f"{m} {100 * c / window:.2f}" for m, c in med.items()),
              f"netcheck / irtt: default {med['netcheck default'] / med['irtt']:.2f}x, "
              f"low-cpu {med['netcheck low-cpu'] / med['irtt']:.2f}x"]
    return "\n".join(lines)


def lab_part(seconds: float) -> str:
    from tests.integration.stream_lab import call, call_truth, start_responder
    from tests.netlab.lab import lab_support, routed_lab

    if reason := lab_support():
        return f"lab part skipped: {reason}"
    lines = ["| setting | schedule | dir | truth jitter ms | netcheck jitter ms | error | truth loss % | "
             "netcheck loss % | error pp | send error p50 / p99 / max ms | confidence |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    with routed_lab("", seed=4) as lab:
        for name, spec in LAB_SETTINGS:
            for low in (False, True):
                lab.set_impairment(spec, seed=4)
                _, port = start_responder(lab)
                m = call(lab, port, seconds, low_cpu=low)
                t = call_truth(lab, port)
                v = m.values
                for tag, link in (("fwd", t.up), ("bwd", t.down)):
                    j, lo = v[f"jitter_{tag}_final_ms"], v[f"loss_{tag}_pct"]
                    lines.append(
                        f"| {name} | {'low-cpu' if low else 'default'} | {tag} | {link.jitter_ms:.3f} | {j:.3f} | "
                        f"{j - link.jitter_ms:+.3f} | {link.loss_pct:.2f} | {lo:.2f} | {lo - link.loss_pct:+.2f} | "
                        f"{v['send_error_p50_ms']} / {v['send_error_p99_ms']} / {v['send_error_max_ms']} | "
                        f"{m.confidence} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--client"]:
        client_main(args[1], int(args[2]), float(args[3]), args[4] == "low")
        return 0
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--lab", action="store_true", help="also the accuracy part in a netlab (root)")
    ap.add_argument("--lab-seconds", type=float, default=10.0)
    ns = ap.parse_args(args)
    rows = cpu_part(ns.seconds, ns.rounds)
    print(cpu_report(rows, ns.seconds))
    if ns.lab:
        print()
        print(lab_part(ns.lab_seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
