"""Bench: 1,000,000 spoofed-source STAMP requests against the shipped responder (issue 21).

Every request comes from a new source address in 127.0.0.0/8 (raw socket, IP_HDRINCL;
needs root) and a random source port, so each one opens a new reflector session, as a
spoofing attacker on the internet would. Sending is paced by the responder's receive queue
so the responder handles every request (none dropped by the kernel). Reports the
responder's idle RSS, its peak RSS (VmHWM) over the flood, and its own shutdown counters.

Run (root, repo root): python -m bench.responder_flood [--count 1000000] [--tree DIR]
``--tree`` starts the responder of another checkout (e.g. the code before the session cap)
for a side-by-side figure.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--max-s", type=float, default=600.0, help="bound on the sending time")
    parser.add_argument("--tree", help="run the responder of this checkout instead")
    args = parser.parse_args()
    if args.tree:
        os.environ["NETCHECK_FLOOD_TREE"] = str(Path(args.tree).resolve())
    from tests.integration import _flood  # after the tree is chosen

    if not _flood.can_spoof():
        raise SystemExit("needs Linux and root (raw socket with IP_HDRINCL)")
    log = Path(tempfile.mkdtemp()) / "responder.log"
    r = _flood.run_flood(args.count, log, seed=args.seed, max_s=args.max_s)
    lines = len(r.log.splitlines())
    print(f"tree: {_flood.ROOT}")
    print(f"sent {r.sent} spoofed requests in {r.seconds:.1f} s ({r.sent / r.seconds:,.0f}/s)")
    print(f"responder RSS idle {r.rss_start_kb / 1024:.1f} MiB, peak {r.peak_rss_kb / 1024:.1f} MiB "
          f"(+{(r.peak_rss_kb - r.rss_start_kb) / 1024:.1f} MiB)")
    print(f"responder log: {lines} lines; last: {r.log.splitlines()[-1] if lines else ''}")


if __name__ == "__main__":
    main()
