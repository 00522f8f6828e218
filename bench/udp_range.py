"""UDP range egress: netcheck's sweep vs nmap -sU on the same lab responder.

Lab: lan -> router (NAT, ``drop`` UDP 20000-20999) -> dc running ``netcheck responder
--udp-ranges 16384-32767``. Truth: 15,384 ports open, 1,000 dropped. Both tools sweep from
lan. netcheck proves each open port by its echo; nmap sends empty (or protocol) payloads,
which the responder ignores, so for nmap every open and every dropped port alike is
"open|filtered" — the point of the comparison is time *and* what can be concluded.

Run as root from the repo root: ``python -m bench.udp_range [--nmap-ports 16384-32767]``.
nmap is bounded by ``--nmap-timeout`` (default 600 s); when it does not finish, the script
says so and the smaller range can be passed with ``--nmap-ports``.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from netcheck.probes import udp_ports
from netcheck.probes._common import Context
from tests.integration.test_udp_ranges_netlab import start_responder
from tests.netlab.lab import RoutedLab, lab_support, routed_lab
from tests.netlab.netns import run_in_netns

RTP = (16384, 32767)
DROPPED = (20000, 20999)


def netcheck_sweep(lab: RoutedLab, port: int) -> tuple[float, dict[str, object]]:
    spec = udp_ports.Spec(id="udp:bench", host=lab.addr.dc, ranges=(RTP,), control_port=port)
    t0 = time.monotonic()
    m = run_in_netns(lab.ns.lan, asyncio.run,
                     udp_ports.run(spec, Context(deadline=time.monotonic() + 120)))
    return time.monotonic() - t0, dict(m.values)


def nmap_sweep(lab: RoutedLab, ports: str, timeout: float) -> tuple[float | None, str]:
    argv = ["nmap", "-n", "-Pn", "-sU", "-p", ports, "--max-retries", "1", "-T5", lab.addr.dc]
    t0 = time.monotonic()
    try:
        res = lab.exec(lab.ns.lan, argv, check=False, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"did not finish within {timeout:.0f} s"
    elapsed = time.monotonic() - t0
    states = re.findall(r"Not shown: (.*)", res.stdout) + re.findall(
        r"^\d+/udp\s+(\S+)", res.stdout, flags=re.M)
    return elapsed, "; ".join(sorted(set(states)))[:300] or res.stdout[-300:]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nmap-ports", default=f"{RTP[0]}-{RTP[1]}")
    ap.add_argument("--nmap-timeout", type=float, default=600.0)
    args = ap.parse_args()
    if reason := lab_support():
        print(f"skip: {reason}")
        return 0
    with routed_lab() as lab:
        port, _ = start_responder(lab, f"{RTP[0]}-{RTP[1]}")
        lab.router_firewall(drop_udp=[DROPPED])
        t_nc, v = netcheck_sweep(lab, port)
        print(f"netcheck udp_ports {RTP[0]}-{RTP[1]} ({RTP[1] - RTP[0] + 1} ports): {t_nc:.2f} s, "
              f"{v['sent']} datagrams, open {v.get('open')}, blocked {v.get('blocked')}")
        t_nm, summary = nmap_sweep(lab, args.nmap_ports, args.nmap_timeout)
        shown = f"{t_nm:.1f} s" if t_nm is not None else "n/a"
        print(f"nmap -sU -p {args.nmap_ports} --max-retries 1 -T5: {shown}; {summary}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
