"""Whole-run time, before and after scheduling by contention (issue 22), side by side.

Each row runs the real ``netcheck run`` command twice in the same moment: *before* is the
code of a git revision (default ``main``, exported with ``git archive`` into a temporary
directory and put first on ``PYTHONPATH``), *after* is this working tree; rounds alternate
which goes first. Both trees are byte-compiled first, as an installed package is. Reported:
whole-process wall time, the verdict and every check's status (they must be the same: same
inputs, same verdicts), and the calls' send error.

Cases:

- ``demo`` and ``demo --quick``: the demo profile (loopback peers, the handover and the
  gateway call, per-hop trace, TCP, STUN);
- ``managed-com-business`` in a namespace lab (``--lab``): routed lab, plain veth; in the
  router namespace dnsmasq (DHCP on the LAN, option 6) and lldpd (LLDP-MED, the IEEE
  802.1AB default 30 s interval) on the LAN port, an htb uplink of 2 Mbit/s with an EF
  priority class (tests/integration/_qos_lab.py); in dc a ``netcheck responder`` (STAMP,
  SIP mirror, UDP echo on 5060). The run: handover call (STAMP via the responder) and
  gateway call (ICMP), per-hop trace, LLDP and DHCP on eth0, link, TCP 5060, SIP ALG, UDP
  sweep, exposure, call-load ramp (``--extensions 10``) and QoS under load.

Run as root from the repo root: ``python -m bench.full_assessment --lab`` (about 6 min).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration._qos_lab import priority_uplink
from tests.integration.test_udp_ranges_netlab import start_responder
from tests.netlab import peers
from tests.netlab.lab import RoutedLab, lab_support, routed_lab

ROOT = Path(__file__).resolve().parents[1]
MCB_EXTENSIONS = "10"  # 1000 kbit/s each way (100 per extension); the ramp stops at 1.25 x
UPLINK_KBIT = 2000  # the QoS bench's uplink (bench/RESULTS.md, "Capacity")


def export(rev: str, into: Path) -> Path:
    """The tree of ``rev`` (``git archive``), importable as ``netcheck``."""
    data = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=data, check=True)
    return into


def netcheck(tree: Path, args: Sequence[str], ns: str | None = None, timeout: float = 400) -> dict[str, Any]:
    """One ``netcheck run --json`` with ``tree`` first on the path; wall time of the process."""
    argv = [sys.executable, "-m", "netcheck", "run", *args, "--json"]
    if ns:
        argv = ["ip", "netns", "exec", ns, *argv]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    t0 = time.monotonic()
    res = subprocess.run(argv, capture_output=True, env=env, timeout=timeout, cwd=tempfile.gettempdir())
    wall = time.monotonic() - t0
    if res.returncode not in (0, 1, 3):
        raise RuntimeError(f"netcheck exited {res.returncode}: {res.stderr.decode()[-2000:]}")
    doc = json.loads(res.stdout)
    calls = {m["id"]: m["values"] for m in doc["measurements"] if m["probe"] == "stream" and m.get("values")}
    return {"wall_s": wall, "verdict": doc["verdict"], "checks": {c["id"]: c["status"] for c in doc["checks"]},
            "reasons": {c["id"]: c["reason"] for c in doc["checks"]},
            "send_p99": {k: v.get("send_error_p99_ms") for k, v in calls.items()},
            "durations": {m["id"]: round(m["duration_s"], 1) for m in doc["measurements"]}}


def mcb_lab(lab: RoutedLab) -> list[str]:
    """Stand up the managed-com-business site; the run's arguments."""
    priority_uplink(lab, UPLINK_KBIT)
    peers.start_dnsmasq(lab, lab.ns.rtr, lab.ifs.router_lan, pool=("10.77.1.100", "10.77.1.150"),
                        options={6: lab.addr.router_lan}, router=lab.addr.router_lan)
    peers.start_lldpd(lab, lab.ns.rtr, lab.ifs.router_lan, tx_interval_s=30)
    port, _ = start_responder(lab, "5060-5060")
    return ["--profile", "managed-com-business", "--target", f"handover={lab.addr.dc}",
            "--responder", f"{lab.addr.dc}:{port}", "--extensions", MCB_EXTENSIONS, "--interface", lab.ifs.lan]


def pair(name: str, rnd: int, trees: dict[str, Path], args: Sequence[str], ns: str | None) -> dict[str, Any]:
    order = ("before", "after") if rnd % 2 else ("after", "before")
    out: dict[str, Any] = {"case": name, "round": rnd}
    for which in order:
        out[which] = netcheck(trees[which], args, ns)
        print(f"{name} round {rnd} {which}: {out[which]['wall_s']:.1f} s {out[which]['verdict']}", file=sys.stderr)
    b, a = out["before"], out["after"]
    out["same_checks"] = b["checks"] == a["checks"] and b["verdict"] == a["verdict"]
    out["differ"] = sorted(k for k in set(b["checks"]) | set(a["checks"]) if b["checks"].get(k) != a["checks"].get(k))
    for k in out["differ"]:
        print(f"  {k}: before {b['reasons'].get(k)!r}\n  {k}: after {a['reasons'].get(k)!r}", file=sys.stderr)
    return out


def _p99(r: dict[str, Any]) -> str:
    return " / ".join(f"{v:.2f}" if isinstance(v, int | float) else "n/a" for v in r["send_p99"].values())


def report(rows: list[dict[str, Any]], rev: str) -> str:
    out = [f"before = `{rev}`, after = this tree; whole `netcheck run` process, wall time.", "",
           "| case | round | before s | after s | verdict before / after | same check statuses | "
           "call send error p99 ms before | after |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        b, a = r["before"], r["after"]
        same = "yes" if r["same_checks"] else "no: " + ", ".join(r["differ"])
        out.append(f"| {r['case']} | {r['round']} | {b['wall_s']:.1f} | {a['wall_s']:.1f} | {b['verdict']} / "
                   f"{a['verdict']} | {same} | {_p99(b)} | {_p99(a)} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--before", default="main", help="git revision to compare with")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--lab", action="store_true", help="also the managed-com-business lab run (root)")
    ap.add_argument("--no-demo", action="store_true", help="only the lab run")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="netcheck-before-") as tmp:
        trees = {"before": export(args.before, Path(tmp)), "after": ROOT}
        for tree in trees.values():  # as pip installs it: byte-compiled (else ~0.2 s of compiling per run
            # where PYTHONDONTWRITEBYTECODE is set, as on this machine)
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "netcheck")], check=True,
                           stdout=subprocess.DEVNULL)
        for rnd in range(1, 0 if args.no_demo else args.rounds + 1):
            rows.append(pair("demo", rnd, trees, ["--profile", "demo"], None))
            rows.append(pair("demo --quick", rnd, trees, ["--profile", "demo", "--quick"], None))
        if args.lab:
            if (why := lab_support()) is not None:
                print(f"no lab: {why}", file=sys.stderr)
                return 2
            with routed_lab(None) as lab:
                run_args = mcb_lab(lab)
                for rnd in range(1, args.rounds + 1):
                    rows.append(pair("managed-com-business lab", rnd, trees, run_args, lab.ns.lan))
    print(report(rows, args.before))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
