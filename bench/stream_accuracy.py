"""Stream accuracy: netcheck's delay, jitter and loss against the impairment link's ground truth,
side by side with ping and iperf3 on the same link in the same session.

For each setting the bridge is restarted with a fresh truth log, then, one after the other:
a netcheck STAMP call lan -> responder in dc (G.711, 50 pps), ``ping -i 0.02`` to dc, and
``iperf3 -u`` at the call's rate and packet size. Each tool is compared with the truth of
*its own* packets (selected from the log by protocol and port):

- netcheck: per direction, mean one-way delay, RFC 3550 jitter and loss;
- ping: RTT/2 against the mean of the link's up and down delays, ping's mdev against the
  link's RFC 3550 jitter (the figure people read off ping), echo loss;
- iperf3: its receiver jitter (RFC 3550) and loss, up direction.

Targets (issue 4): delay error <= 0.5 ms, jitter error <= 10 % or 0.2 ms, loss error
<= 0.2 pp, noise floor (netcheck jitter on the clean link) <= 0.05 ms.

Run as root from the repo root: ``python -m bench.stream_accuracy`` (about 3 minutes).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.stream_lab import call, jitter_tolerance_ms, start_responder
from tests.netlab import peers, truth
from tests.netlab.lab import RoutedLab, lab_support, routed_lab

SETTINGS = [
    ("clean", ""),
    ("30 ms +- 5 ms", "delay=30ms jitter=5ms dist=uniform"),
    ("80 ms, 20 ms jitter", "delay=80ms jitter=20ms dist=normal"),
    ("0.5 % random loss", "delay=10ms loss=0.5%"),
    ("2 % bursty loss", "delay=10ms ge=p:0.005,r:0.245"),
    ("reordering 2 %", "delay=30ms jitter=1ms reorder=2%"),
]
SEED = 4


def run_ping(lab: RoutedLab, count: int) -> dict[str, float]:
    argv = ["ping", "-n", "-q", "-c", str(count), "-i", "0.02", "-W", "2", lab.addr.dc]
    out = lab.exec(lab.ns.lan, argv, check=False, timeout=count * 0.02 + 20).stdout
    sent, received = map(int, re.search(r"(\d+) packets transmitted, (\d+) received", out).groups())  # type: ignore[union-attr]
    stats = re.search(r"= ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms", out)
    avg, mdev = (float(stats[2]), float(stats[4])) if stats else (float("nan"), float("nan"))
    return {"rtt_avg_ms": avg, "mdev_ms": mdev, "loss_pct": 100 * (sent - received) / sent}


def run_iperf(lab: RoutedLab, port: int, seconds: int) -> dict[str, float]:
    """UDP at a G.711 call's rate: 172-octet datagrams, 50 per second (68.8 kbit/s)."""
    argv = ["iperf3", "-c", lab.addr.dc, "-p", str(port), "-u", "-b", "68800", "-l", "172",
            "-t", str(seconds), "-J"]
    s = json.loads(lab.exec(lab.ns.lan, argv, timeout=seconds + 30).stdout)["end"]["sum"]
    return {"jitter_ms": s["jitter_ms"], "loss_pct": s["lost_percent"], "packets": s["packets"]}


def measure(lab: RoutedLab, name: str, spec: str, seconds: int, resp_port: int, iperf_port: int) -> dict[str, Any]:
    lab.set_impairment(spec, seed=SEED)
    m = call(lab, resp_port, float(seconds))
    p = run_ping(lab, seconds * 50)
    ip = run_iperf(lab, iperf_port, seconds)
    recs = lab.truth_records()
    up = truth.stats(truth.select(recs, direction="up", proto=17, dport=resp_port))
    down = truth.stats(truth.select(recs, direction="down", proto=17, sport=resp_port))
    icmp = [truth.stats(truth.select(recs, direction=d, proto=1)) for d in ("up", "down")]
    echo = truth.icmp_echo_truth(recs)
    iperf_up = truth.stats(truth.select(recs, direction="up", proto=17, dport=iperf_port))
    return {"name": name, "spec": spec, "netcheck": m.values, "ping": p, "iperf3": ip,
            "truth_up": up, "truth_down": down, "truth_icmp": icmp, "truth_echo_loss_pct":
            100 * sum(v is None for v in echo.values()) / max(1, len(echo)), "truth_iperf": iperf_up}


def _f(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def netcheck_rows(r: dict[str, Any]) -> list[str]:
    v = r["netcheck"]
    rows = []
    for tag, t in (("fwd", r["truth_up"]), ("bwd", r["truth_down"])):
        d_err = v[f"owd_{tag}_mean_ms"] - t.owd_mean_ms
        j_err = v[f"jitter_{tag}_final_ms"] - t.jitter_ms
        l_err = v[f"loss_{tag}_pct"] - t.loss_pct
        ok = abs(d_err) <= 0.5 and abs(j_err) <= jitter_tolerance_ms(t.jitter_ms) and abs(l_err) <= 0.2
        rows.append(
            f"| {r['name']} | {tag} | {_f(t.owd_mean_ms)} | {_f(v[f'owd_{tag}_mean_ms'])} | {d_err:+.3f} | "
            f"{_f(t.jitter_ms)} | {_f(v[f'jitter_{tag}_final_ms'])} | {j_err:+.3f} | {_f(t.loss_pct, 2)} | "
            f"{_f(v[f'loss_{tag}_pct'], 2)} | {l_err:+.2f} | {'yes' if ok else '**no**'} |"
        )
    return rows


def others_row(r: dict[str, Any]) -> str:
    p, ip, ti = r["ping"], r["iperf3"], r["truth_iperf"]
    up, down = r["truth_icmp"]
    link_owd = (up.owd_mean_ms + down.owd_mean_ms) / 2 if up.owd_mean_ms and down.owd_mean_ms else None
    link_jit = statistics.fmean([x.jitter_ms for x in (up, down) if x.jitter_ms is not None] or [0.0])
    return (
        f"| {r['name']} | {_f(p['rtt_avg_ms'] / 2)} | {_f(link_owd)} | {_f(p['mdev_ms'])} | {_f(link_jit)} | "
        f"{_f(p['loss_pct'], 2)} | {_f(r['truth_echo_loss_pct'], 2)} | {_f(ip['jitter_ms'])} | {_f(ti.jitter_ms)} | "
        f"{_f(ip['loss_pct'], 2)} | {_f(ti.loss_pct, 2)} |"
    )


def report(results: list[dict[str, Any]], seconds: int) -> str:
    lines = [
        f"netcheck STAMP call, G.711 50 pps, {seconds} s per setting; truth = the bridge's log of the same packets.",
        "",
        "| setting | dir | truth OWD ms | netcheck OWD ms | error | truth jitter ms | netcheck jitter ms | error |"
        " truth loss % | netcheck loss % | error pp | within targets |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines += netcheck_rows(r)
    clean = results[0]["netcheck"]
    lines += [
        "",
        f"Noise floor (clean link): netcheck jitter fwd {_f(clean['jitter_fwd_final_ms'], 4)} ms, "
        f"bwd {_f(clean['jitter_bwd_final_ms'], 4)} ms (truth {_f(results[0]['truth_up'].jitter_ms, 4)} / "
        f"{_f(results[0]['truth_down'].jitter_ms, 4)} ms); sender send-time error p50/p99/max "
        f"{clean['send_error_p50_ms']} / {clean['send_error_p99_ms']} / {clean['send_error_max_ms']} ms.",
        "",
        "Same link, same session, other tools (each against the truth of its own packets):",
        "",
        "| setting | ping RTT/2 ms | link OWD ms | ping mdev ms | link jitter ms | ping loss % | echo loss truth % |"
        " iperf3 jitter ms | truth jitter ms | iperf3 loss % | truth loss % |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [others_row(r) for r in results]
    lines += ["", "netcheck MOS per setting: " + ", ".join(
        f"{r['name']}: {r['netcheck']['mos']} (R {r['netcheck']['r_factor']})" for r in results)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--json", type=Path, help="also write the raw values here")
    args = ap.parse_args(argv)
    if reason := lab_support():
        print(f"skipped: {reason}")
        return 0
    with routed_lab("", seed=SEED) as lab:
        _, resp_port = start_responder(lab)
        srv = peers.start_iperf3(lab, lab.ns.dc, lab.addr.dc)
        results = [measure(lab, n, s, args.seconds, resp_port, srv.port) for n, s in SETTINGS]
    print(report(results, args.seconds))
    if args.json:
        args.json.write_text(json.dumps(results, default=lambda o: o.__dict__, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
