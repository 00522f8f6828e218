"""Capacity estimate vs the tbf truth for four line rates, and QoS with/without priority.

For each rate (default 1000, 2000, 4000 and 10000 kbit/s) the routed lab's router gets a
tbf on both directions (burst 3000 octets, latency 50 ms); the capacity probe ramps G.711 calls (DSCP
EF) against a ``netcheck responder`` process in dc without a requirement (up to the
probe's default cap, ``specs.DEFAULT_MAX_CALLS``).
Truth: tbf counts the IP packet plus the 14-octet Ethernet header, so a call is
(160 + 12 + 8 + 20 + 14) x 8 x 50 = 85.6 kbit/s and the line carries floor(rate / 85.6)
calls; the layer-3 figure floor(rate / 80) is shown beside it. Then the QoS probe on a
2000 kbit/s htb uplink with and without the EF priority class. Reports time per run.

Run as root from the repo root: ``python -m bench.capacity`` (about 2.5 minutes).
Traffic stays inside the lab's namespaces.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from netcheck.analysis import bandwidth
from netcheck.probes import capacity, qos
from netcheck.probes._common import Context
from tests.integration._qos_lab import priority_uplink
from tests.integration.stream_lab import start_responder
from tests.netlab.lab import routed_lab
from tests.netlab.netns import run_async_in_netns

PER_CALL_TBF = bandwidth.call_kbps("G.711", 20.0, l2_bytes=bandwidth.ETHERNET_HEADER)


def capacity_row(rate: int, step_s: float) -> dict[str, object]:
    with routed_lab() as lab:
        _, port = start_responder(lab)
        lab.rate_limit(rate, burst_bytes=3000)
        spec = capacity.Spec(id="capacity", host=lab.addr.dc, port=port, start_calls=4,
                             step_s=step_s, duration_s=55.0)
        t0 = time.monotonic()
        m = run_async_in_netns(
            lab.ns.lan, lambda: capacity.run(spec, Context(deadline=time.monotonic() + 60))
        )
        took = time.monotonic() - t0
    truth = bandwidth.calls_in(rate, PER_CALL_TBF)
    up = int(m.values.get("calls_up_max") or 0)  # type: ignore[call-overload]
    return {
        "rate": rate, "truth": truth, "truth_l3": bandwidth.calls_in(rate, 80.0), "up": up,
        "down": m.values.get("calls_down_max"), "bound": m.values.get("calls_up_bound"),
        "err_pct": round(100.0 * (up - truth) / truth, 1), "steps": m.values.get("step_count"),
        "repeats": sum(1 for s in m.values.get("steps") or [] if s.get("repeated")),  # type: ignore[union-attr]
        "seconds": round(took, 1), "error": m.error,
    }


def qos_row(prioritise: bool) -> dict[str, object]:
    with routed_lab() as lab:
        _, port = start_responder(lab)
        priority_uplink(lab, 2000, prioritise=prioritise)
        spec = qos.Spec(id="qos", host=lab.addr.dc, port=port, baseline_s=2.0, step_s=2.5,
                        bulk_start_kbps=1000.0, bulk_max_kbps=4000.0, duration_s=25.0)
        t0 = time.monotonic()
        m = run_async_in_netns(lab.ns.lan, lambda: qos.run(spec, Context(deadline=time.monotonic() + 30)))
        took = time.monotonic() - t0
    v = m.values
    keys = ("saturated", "bulk_kbps", "base_voice_loss_pct", "base_voice_rtt_ms", "base_voice_mos",
            "load_voice_loss_pct", "load_voice_jitter_ms", "load_voice_rtt_ms", "load_voice_mos",
            "load_canary_loss_pct", "load_canary_rtt_ms", "voice_served_first")
    return {"priority": prioritise, **{k: v.get(k) for k in keys}, "seconds": round(took, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rates", default="1000,2000,4000,10000", help="tbf rates in kbit/s")
    ap.add_argument("--step", type=float, default=2.0, help="seconds per ramp step")
    args = ap.parse_args(argv)
    print("| tbf kbit/s | truth calls (85.6 kbit/s) | L3 calls (80) | netcheck up | down | bound "
          "| error | steps (repeats) | time s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for rate in (int(r) for r in args.rates.split(",")):
        r = capacity_row(rate, args.step)
        print(f"| {r['rate']} | {r['truth']} | {r['truth_l3']} | {r['up']} | {r['down']} | {r['bound']} "
              f"| {r['err_pct']:+} % | {r['steps']} ({r['repeats']}) | {r['seconds']} |"
              + (f" error: {r['error']}" if r["error"] else ""))
    print()
    for prioritise in (True, False):
        print(qos_row(prioritise))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
