"""The field-mode test scenarios run at once: does concurrency change what they measure?

tests/integration/test_field_netlab.py runs its nine ``netcheck run``s at the same time,
each in a field lab of its own, started ``--stagger`` seconds apart. This prints, per
scenario, the verdict and the figures a busy machine would move first: the call's p95
running jitter, round-trip IPDV p95, loss, RTT median and p99, and the sender's own send
error p99 (how late packets left against their schedule), plus the uplink capacity of the
rate-limited scenario. Compare ``--workers 1`` (one after the other) with ``--workers 9``
and different ``--stagger`` values.

Run as root from the repo root: ``python -m bench.field_concurrency --workers 9 --stagger 3``
(about 90 s; ``--workers 1`` about 6 min).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.test_field_netlab import SCENARIOS, run_scenario


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=len(SCENARIOS), help="scenarios at once")
    ap.add_argument("--stagger", type=float, default=3.0, help="seconds between starts")
    args = ap.parse_args()
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        futures = {name: pool.submit(run_scenario, sc, (i % args.workers) * args.stagger)
                   for i, (name, sc) in enumerate(SCENARIOS.items())}
        runs = {name: f.result() for name, f in futures.items()}
    print(f"workers {args.workers}, stagger {args.stagger} s: wall {time.monotonic() - t0:.1f} s")
    for name, run in runs.items():
        if run.proc is None:
            print(f"{name}: lab failed: {run.error}")
            continue
        doc = json.loads(run.proc.stdout)
        cols = [name, doc["verdict"]]
        for m in doc["measurements"]:
            v = m["values"] or {}
            if m["id"].startswith("stream:"):
                cols.append(f'{m["id"]} {m["method"]} jitter={v.get("jitter_ms")} '
                            f'ipdv_p95={v.get("ipdv_rt_p95_ms")} loss={v.get("loss_pct")} '
                            f'rtt_med={v.get("rtt_median_ms")} rtt_p99={v.get("rtt_p99_ms")} '
                            f'send_err_p99={v.get("send_error_p99_ms")}')
            elif m["id"] == "capacity":
                cols.append(f'capacity_up={v.get("capacity_up_kbps")}')
        print(" | ".join(cols), flush=True)


if __name__ == "__main__":
    main()
