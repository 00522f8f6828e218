"""Field mode accuracy: the STUN Binding stream (no responder) against the impairment link's
ground truth, side by side with ping on the same link in the same session.

Field lab (tests/netlab/field_lab.py): lan -> impairment bridge -> site router (NAT) -> ISP
router -> provider (coturn on 3478). For each setting the bridge is restarted with a fresh
truth log, then, one after the other: netcheck's ``stun-50pps`` call (G.711 size, 50 pps,
30 s) to coturn, and ``ping -i 0.02`` for the same count to the provider. Each is compared
with the truth of *its own* packets:

- round-trip loss: a request lost on the way up or its answer lost on the way down, so the
  truth is ``1 - answers delivered down / requests sent up`` (the bridge logs both);
- mean RTT: netcheck's mean against the link's mean up + mean down delay (the rest is the
  veths, the stacks and coturn: the residual column).

Run as root from the repo root: ``python -m bench.field_stun`` (about 4 minutes).
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from netcheck.probes import stream
from netcheck.probes._common import Context
from tests.netlab import truth
from tests.netlab.field_lab import FieldLab, field_lab
from tests.netlab.lab import lab_support
from tests.netlab.netns import run_in_netns

SETTINGS = [
    ("clean", ""),
    ("20 ms +- 2 ms", "delay=20ms jitter=2ms dist=normal"),
    ("2 % random loss", "delay=10ms loss=2%"),
    ("bursty loss (GE)", "delay=10ms ge=p:0.005,r:0.245"),
]
SEED = 16
SECONDS = 30.0


def stun_call(lab: FieldLab) -> Any:
    spec = stream.Spec(id="stream:bench", host=lab.addr.dc, port=3478, method="stun", duration_s=SECONDS)
    ctx = Context(deadline=time.monotonic() + SECONDS + 15)
    return run_in_netns(lab.ns.lan, lambda: asyncio.run(stream.run(spec, ctx)))


def ping(lab: FieldLab, count: int) -> dict[str, float]:
    argv = ["ping", "-n", "-q", "-c", str(count), "-i", "0.02", "-W", "2", lab.addr.dc]
    out = lab.exec(lab.ns.lan, argv, check=False, timeout=count * 0.02 + 20).stdout
    sent, received = map(int, re.search(r"(\d+) packets transmitted, (\d+) received", out).groups())  # type: ignore[union-attr]
    stats = re.search(r"= ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms", out)
    return {"rtt_avg_ms": float(stats[2]) if stats else float("nan"), "loss_pct": 100 * (sent - received) / sent}


def measure(lab: FieldLab, spec: str) -> dict[str, Any]:
    lab.set_impairment(spec, seed=SEED)
    m = stun_call(lab)
    recs = lab.truth_records()
    up = truth.stats(truth.select(recs, direction="up", proto=17, dport=3478))
    down = truth.stats(truth.select(recs, direction="down", proto=17, sport=3478))
    p = ping(lab, int(SECONDS * 50))
    recs = lab.truth_records()
    echo = truth.icmp_echo_truth(recs)
    rt_truth = 100.0 * (1 - down.delivered / up.sent) if up.sent else float("nan")
    link_rtt = (up.owd_mean_ms or 0.0) + (down.owd_mean_ms or 0.0)
    return {"m": m.values, "method": m.method, "up": up, "down": down, "rt_truth_loss": rt_truth,
            "link_rtt": link_rtt, "ping": p,
            "echo_truth_loss": 100 * sum(v is None for v in echo.values()) / max(1, len(echo))}


def main() -> int:
    reason = lab_support()
    if reason:
        print(f"skipped: {reason}")
        return 0
    rows = []
    with field_lab("") as lab:
        for name, spec in SETTINGS:
            r = measure(lab, spec)
            v = r["m"]
            rows.append(
                f"| {name} | `{spec or '(none)'}` | {v.get('sent')} | {v.get('loss_pct'):.2f} | "
                f"{r['rt_truth_loss']:.2f} | {v.get('rtt_mean_ms'):.3f} | {r['link_rtt']:.3f} | "
                f"{v.get('rtt_mean_ms') - r['link_rtt']:.3f} | {v.get('jitter_ms'):.3f} | "
                f"{r['ping']['loss_pct']:.2f} | {r['echo_truth_loss']:.2f} | {r['ping']['rtt_avg_ms']:.3f} |")
            print(rows[-1], flush=True)
    print("\n| setting | spec | STUN requests | STUN loss % | truth RT loss % | STUN RTT mean ms | "
          "truth link RTT ms | residual ms | STUN jitter (RTT) ms | ping loss % | truth echo loss % | "
          "ping RTT avg ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
