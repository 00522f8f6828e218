"""Per-hop trace: netcheck's path_hops beside nmap's traceroute, in the multi-hop lab.

Setup (root): tests/netlab/multihop.py with the impairment bridge on the ISP link
(isp1 -> isp2) at ``SPEC``, seed 42. Measured per tool: wall time, hops found, RTT of hops 3
and 4 (the two beyond the impaired link), and for path_hops the loss per hop and the ISP
segment's delay share, against the bridge's truth (median up + median down one-way delay).

Run: ``python -m bench.path_hops`` (about 40 s; all traffic stays in the lab).
"""

from __future__ import annotations

import asyncio
import re
import statistics
import time

from netcheck.probes import path_hops
from netcheck.probes._common import Context
from tests.netlab.multihop import multihop_lab
from tests.netlab.netns import run_in_netns
from tests.netlab.truth import owd_s

SPEC = "delay=20ms jitter=2ms loss=5%"


def _trace(lab, rounds: int, interval_s: float):  # type: ignore[no-untyped-def]
    spec = path_hops.Spec(id="bench", host=lab.target, rounds=rounds, interval_s=interval_s, pmtu=False, max_hops=8)
    ctx = Context(deadline=time.monotonic() + rounds * interval_s + 20, caps={"raw_icmp": True})
    t0 = time.monotonic()
    m = run_in_netns(lab.ns["lan"], asyncio.run, path_hops.run(spec, ctx))
    return m, time.monotonic() - t0


def _nmap(lab):  # type: ignore[no-untyped-def]
    t0 = time.monotonic()
    out = lab.exec(lab.ns["lan"], ["nmap", "-sn", "-n", "--traceroute", lab.target], timeout=60).stdout
    wall = time.monotonic() - t0
    hops = {int(a): float(b) for a, b in re.findall(r"^(\d+)\s+([\d.]+) ms", out, re.M)}
    return hops, wall


def _truth_ms(lab) -> float:  # type: ignore[no-untyped-def]
    recs = [r for r in lab.truth_records() if r["decision"] == "forward" and r.get("proto") in (1, 17)]
    up = [x for r in recs if r["dir"] == "up" and (x := owd_s(r)) is not None]
    down = [x for r in recs if r["dir"] == "down" and (x := owd_s(r)) is not None]
    return 1000 * (statistics.median(up) + statistics.median(down))


def main() -> None:
    with multihop_lab("isp", SPEC, seed=42) as lab:
        print(f"impairment on link isp1 -> isp2: {SPEC}")
        print("| tool | probes per hop | wall s | hops | hop 3 RTT ms | hop 4 RTT ms | loss % hops 1-4 "
              "| ISP delay share ms |")
        print("|---|---|---|---|---|---|---|---|")
        for rounds, interval in ((10, 0.2), (10, 1.0)):
            m, wall = _trace(lab, rounds, interval)
            hops = {h["ttl"]: h for h in m.values["hops"]}  # type: ignore[union-attr]
            seg = next(s for s in m.values["segments"] if s["segment"] == "isp")  # type: ignore[union-attr]
            loss = " / ".join(f"{hops[t]['loss_pct']:g}" for t in sorted(hops))
            print(f"| path_hops (interval {interval:g} s) | {rounds} | {wall:.1f} | {len(hops)} | "
                  f"{hops[3]['rtt_median_ms']} (median) | {hops[4]['rtt_median_ms']} (median) | {loss} | "
                  f"{seg['delay_ms']} |")
        nm, wall = _nmap(lab)
        print(f"| nmap -sn --traceroute | 1 | {wall:.1f} | {len(nm)} | {nm.get(3)} | {nm.get(4)} | - | - |")
        print(f"truth: link RTT (median up + median down one-way delay) {_truth_ms(lab):.3f} ms")


if __name__ == "__main__":
    main()
