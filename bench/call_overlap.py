"""Two calls one after the other vs. together in the one call engine (issue 22), side by side.

One routed lab through the impairment bridge, two ``netcheck responder`` processes in dc
(two ports: the truth log tells the calls apart). For each setting and round, the bridge
restarts with a fresh truth log and the runner runs the two STAMP calls (G.711, 50 pps):

- ``serial``: each call alone (the runner's old schedule: one call, then the other);
- ``overlap``: both calls planned as kind "call": the runner starts them together and the
  call engine staggers their packets half an interval apart.

Per call: the sender's own send-time error (actual T1 minus the slot, every packet: p50,
p99, max) and the error against the link's truth of that call's own packets (one-way
delay median, RFC 3550 jitter final value, loss per direction, packet for packet), and the
wall time of the pair.

Run as root from the repo root: ``python -m bench.call_overlap`` (about 2.5 min).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from netcheck.run import runner
from tests.integration.stream_lab import call_runs, call_truth, host_noise_jitter_ms, start_responder
from tests.netlab.lab import RoutedLab, lab_support, routed_lab
from tests.netlab.netns import run_async_in_netns

SETTINGS = [
    ("clean bridge", ""),
    ("20 ms +- 4 ms, 3 % loss up", "delay=20ms jitter=4ms dist=uniform up:loss=3%"),
    ("30 ms, 5 ms jitter, GE loss", "delay=30ms jitter=5ms dist=normal ge=p:0.005,r:0.25"),
]
SEED = 22


def measure(lab: RoutedLab, spec: str, ports: list[int], seconds: float, mode: str) -> dict[str, Any]:
    lab.set_impairment(spec, seed=SEED)
    plan = call_runs(lab, ports, seconds)
    t0 = time.monotonic()
    if mode == "overlap":
        ms = run_async_in_netns(lab.ns.lan, lambda: runner.run_all(plan, {}, lambda _e: None))
    else:
        ms = [run_async_in_netns(lab.ns.lan, lambda r=r: runner.run_all([r], {}, lambda _e: None))[0]
              for r in plan]
    wall = time.monotonic() - t0
    calls = []
    for m, port in zip(ms, ports, strict=True):
        t, v = call_truth(lab, port), m.values
        calls.append({
            "ok": m.ok,
            "send_p50": v["send_error_p50_ms"], "send_p99": v["send_error_p99_ms"], "send_max": v["send_error_max_ms"],
            "owd_err": [v[f"owd_{d}_median_ms"] - s.owd_median_ms for d, s in (("fwd", t.up), ("bwd", t.down))],
            "jitter_err": [v[f"jitter_{d}_final_ms"] - s.jitter_ms for d, s in (("fwd", t.up), ("bwd", t.down))],
            "jitter_true": [t.up.jitter_ms, t.down.jitter_ms],
            "host_noise": [_noise(m.series[f"owd_{d}_ms"], ms_) for d, ms_ in (("fwd", t.up_ms), ("bwd", t.down_ms))],
            "loss_err_pkts": [(v["sent_fwd"] - v["received_fwd"]) - t.up.lost,
                              (v["sent_bwd"] - v["received_bwd"]) - t.down.lost],
            "lost_true": [t.up.lost, t.down.lost],
        })
    return {"mode": mode, "wall_s": wall, "calls": calls}


def _noise(measured: list[float | None], truth_ms: list[float | None]) -> float | None:
    """The host's own timing noise on this call (stream_lab.host_noise_jitter_ms), None where
    the series cannot be paired by sequence (a reply lost on the way back)."""
    try:
        return host_noise_jitter_ms(measured, truth_ms)
    except AssertionError:
        return None


def _n(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _f(x: float, digits: int = 3) -> str:
    return f"{x:+.{digits}f}" if x else f"{0:.{digits}f}"


def report(results: list[dict[str, Any]], seconds: float) -> str:
    out = [f"Two {seconds:g} s STAMP calls (G.711, 50 pps) per row; send error = T1 - slot, every packet; "
           "errors against the bridge's truth of each call's own packets (fwd / bwd).", "",
           "| setting | round | schedule | pair wall s | call | send error p50 / p99 / max ms | "
           "OWD median error ms | jitter error ms (truth) | host noise bound ms | loss error pkts (truth lost) |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        for i, c in enumerate(r["calls"]):
            out.append(
                f"| {r['setting']} | {r['round']} | {r['mode']} | {r['wall_s']:.1f} | {i} | "
                f"{c['send_p50']:.4f} / {c['send_p99']:.3f} / {c['send_max']:.2f} | "
                f"{_f(c['owd_err'][0])} / {_f(c['owd_err'][1])} | "
                f"{_f(c['jitter_err'][0])} / {_f(c['jitter_err'][1])} "
                f"({c['jitter_true'][0]:.3f} / {c['jitter_true'][1]:.3f}) | "
                f"{_n(c['host_noise'][0])} / {_n(c['host_noise'][1])} | "
                f"{c['loss_err_pkts'][0]} / {c['loss_err_pkts'][1]} ({c['lost_true'][0]} / {c['lost_true'][1]}) |")
    out.append("")
    for mode in ("serial", "overlap"):
        calls = [c for r in results if r["mode"] == mode for c in r["calls"]]
        p99 = [c["send_p99"] for c in calls]
        jit = [abs(e) for c in calls for e in c["jitter_err"]]
        loss = [abs(e) for c in calls for e in c["loss_err_pkts"]]
        walls = [r["wall_s"] for r in results if r["mode"] == mode]
        out.append(f"- {mode}: send error p99 median {statistics.median(p99):.3f} ms (max {max(p99):.3f}); "
                   f"|jitter error| max {max(jit):.3f} ms; |loss error| max {max(loss)} packets; "
                   f"pair wall median {statistics.median(walls):.1f} s")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", type=Path, help="also write the raw values here")
    args = ap.parse_args(argv)
    if (why := lab_support()) is not None:
        print(f"cannot run: {why}", file=sys.stderr)
        return 2
    results: list[dict[str, Any]] = []
    with routed_lab("", seed=SEED) as lab:
        ports = [start_responder(lab)[1], start_responder(lab)[1]]
        for name, spec in SETTINGS:
            for rnd in range(1, args.rounds + 1):
                # alternate which goes first, so neither schedule always meets the quieter moment
                for mode in (("serial", "overlap") if rnd % 2 else ("overlap", "serial")):
                    r = measure(lab, spec, ports, args.seconds, mode)
                    results.append({"setting": name, "round": rnd, **r})
                    print(f"{name} round {rnd} {mode}: {r['wall_s']:.1f} s", file=sys.stderr)
    print(report(results, args.seconds))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
