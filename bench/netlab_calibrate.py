"""Calibrate the userspace impairment link against independent measurements.

For a clean link and three impairment settings, ping (iputils) and iperf3 (UDP) measure
across the bridge, and their figures are printed beside the bridge's ground-truth log:

- ping: per echo, ping's RTT minus the truth's link share (request OWD up + reply OWD
  down) is the residual the bridge does not account for (veth + stacks + ping itself);
  it must be small and constant across settings. Loss: ping's vs the echoes the truth
  log shows dropped in either direction.
- iperf3 -u (lan -> dc): receiver jitter (RFC 3550) and loss vs the truth for the same
  datagrams (UDP to the server port, up direction).
- noise: the same ping on a plain veth (no bridge) vs the clean bridge, and the bridge's
  scheduling error t_tx - (t_arr + delay).

Run as root from the repo root: ``python -m bench.netlab_calibrate`` (about 70 s).
Everything is bounded: ping -c/-i, iperf3 -t, subprocess timeouts.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.netlab import peers, truth
from tests.netlab.lab import RoutedLab, lab_support, routed_lab
from tests.netlab.spec import parse_spec

SETTINGS = [
    ("clean", ""),
    ("delay+jitter", "delay=20ms jitter=2ms dist=normal"),
    ("random loss", "delay=10ms loss=2%"),
    ("bursty loss (GE)", "delay=15ms jitter=1ms dist=uniform ge=p:0.02,r:0.25,h:0,k:1"),
]
SEED = 42


@dataclass
class PingRun:
    sent: int
    rtts_ms: dict[int, float]

    @property
    def loss_pct(self) -> float:
        return 100 * (self.sent - len(self.rtts_ms)) / self.sent


def run_ping(lab: RoutedLab, count: int, interval: float) -> PingRun:
    """iputils ping lan -> dc, bounded by count and a timeout; per-seq RTTs."""
    argv = ["ping", "-n", "-c", str(count), "-i", str(interval), "-W", "1", lab.addr.dc]
    out = lab.exec(lab.ns.lan, argv, check=False, timeout=count * interval + 15).stdout
    rtts = {int(m[1]): float(m[2]) for m in re.finditer(r"icmp_seq=(\d+) .*time=([\d.]+) ms", out)}
    sent = int(re.search(r"(\d+) packets transmitted", out)[1])  # type: ignore[index]
    return PingRun(sent, rtts)


def run_iperf(lab: RoutedLab, port: int, seconds: int, rate: str) -> dict[str, float]:
    """iperf3 UDP lan -> dc; receiver-side jitter and loss from the JSON report."""
    argv = [
        "iperf3",
        "-c",
        lab.addr.dc,
        "-p",
        str(port),
        "-u",
        "-b",
        rate,
        "-l",
        "1000",
        "-t",
        str(seconds),
        "-J",
    ]
    res = lab.exec(lab.ns.lan, argv, timeout=seconds + 20)
    s = json.loads(res.stdout)["end"]["sum"]
    return {
        "jitter_ms": s["jitter_ms"],
        "lost_pct": s["lost_percent"],
        "packets": s["packets"],
        "lost": s["lost_packets"],
    }


def ping_vs_truth(run: PingRun, recs: list[truth.Record]) -> dict[str, float]:
    """Residual (ping RTT - truth link share) stats and both loss figures."""
    link = truth.icmp_echo_truth(recs)
    resid = [
        run.rtts_ms[s] - v * 1e3 for s, v in link.items() if v is not None and s in run.rtts_ms
    ]
    truth_lost = sum(1 for v in link.values() if v is None)
    shares = [v * 1e3 for v in link.values() if v is not None]
    return {
        "ping_avg": statistics.fmean(run.rtts_ms.values()),
        "ping_sd": statistics.stdev(run.rtts_ms.values()),
        "truth_avg": statistics.fmean(shares),
        "truth_sd": statistics.stdev(shares),
        "resid_mean": statistics.fmean(resid),
        "resid_sd": statistics.stdev(resid),
        "ping_loss": run.loss_pct,
        "truth_loss": 100 * truth_lost / len(link),
        "expected_loss": 100 * _rtt_loss(SPEC_NOW),
    }


SPEC_NOW = ""


def _rtt_loss(spec_text: str) -> float:
    """An echo survives only if request (up) and reply (down) survive."""
    spec = parse_spec(spec_text)
    return 1 - (1 - spec.up.expected_loss) * (1 - spec.down.expected_loss)


def main(argv: list[str] | None = None) -> int:
    global SPEC_NOW
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--count", type=int, default=500, help="pings per setting")
    ap.add_argument("--interval", type=float, default=0.02)
    ap.add_argument("--iperf-seconds", type=int, default=5)
    ap.add_argument("--iperf-rate", default="1M")
    args = ap.parse_args(argv)
    reason = lab_support()
    if reason:
        print(f"skipped: {reason}")
        return 0
    with routed_lab() as plain:
        base = run_ping(plain, args.count, args.interval)
    print(
        f"plain veth ping: avg {statistics.fmean(base.rtts_ms.values()):.3f} ms, "
        f"sd {statistics.stdev(base.rtts_ms.values()):.3f} ms, loss {base.loss_pct:.1f} %"
    )
    rows = []
    with routed_lab("", seed=SEED) as lab:
        srv = peers.start_iperf3(lab, lab.ns.dc, lab.addr.dc)
        for name, spec in SETTINGS:
            SPEC_NOW = spec
            lab.set_impairment(spec, seed=SEED)
            p = ping_vs_truth(run_ping(lab, args.count, args.interval), lab.truth_records())
            log_mark = len(lab.truth_records())
            ip = run_iperf(lab, srv.port, args.iperf_seconds, args.iperf_rate)
            recs = lab.truth_records()[log_mark:]
            t = truth.stats(truth.select(recs, direction="up", proto=17, dport=srv.port))
            clean_noise = truth.stats(truth.select(lab.truth_records(), proto=1))
            rows.append((name, spec, p, ip, t, clean_noise))
    print_tables(rows)
    return 0


def print_tables(rows: list[tuple]) -> None:  # type: ignore[type-arg]
    print(
        "\n| setting | spec | ping avg RTT ms | truth link RTT ms | residual ms (mean ± sd)"
        " | ping sd / truth sd ms | ping loss % | truth loss % | expected loss % |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, spec, p, _, _, _ in rows:
        print(
            f"| {name} | `{spec or '(none)'}` | {p['ping_avg']:.3f} | {p['truth_avg']:.3f} | "
            f"{p['resid_mean']:.3f} ± {p['resid_sd']:.3f} | {p['ping_sd']:.3f} / "
            f"{p['truth_sd']:.3f} | {p['ping_loss']:.1f} | {p['truth_loss']:.1f} | "
            f"{p['expected_loss']:.1f} |"
        )
    print(
        "\n| setting | iperf3 datagrams | iperf3 jitter ms | truth jitter ms | iperf3 loss % |"
        " truth loss % | truth OWD mean ms | bridge sched. error mean / max us |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, _, _, ip, t, _ in rows:
        print(
            f"| {name} | {ip['packets']} | {ip['jitter_ms']:.3f} | {t.jitter_ms:.3f} | "
            f"{ip['lost_pct']:.2f} | {t.loss_pct:.2f} | {t.owd_mean_ms:.3f} | "
            f"{t.sched_err_mean_us:.0f} / {t.sched_err_max_us:.0f} |"
        )
    name, _, _, _, _, n = rows[0]
    print(
        f"\nclean bridge ICMP one-way (both directions): mean {n.owd_mean_ms:.3f} ms, "
        f"sd {n.owd_stdev_ms:.3f} ms, max {n.owd_max_ms:.3f} ms, "
        f"RFC 3550 jitter {n.jitter_ms:.4f} ms"
    )


if __name__ == "__main__":
    sys.exit(main())
