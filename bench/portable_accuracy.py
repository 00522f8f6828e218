"""What the portable code paths cost in accuracy: the same STAMP call through the impairment
link on Linux (kernel receive timestamps, epoll) and in simulated Windows and macOS mode
(no recvmsg / SO_TIMESTAMPNS: receive times read in user space after ``recv``; Windows also
without ``poll``, with 15.6 ms ``time.monotonic``), each against the link's truth log of its
own packets.

For each setting and mode the bridge is restarted with a fresh truth log (same seed), then
one netcheck STAMP call lan -> responder in dc (G.711, 50 pps). Reported per direction: mean
one-way delay, RFC 3550 jitter and loss, and their errors against the truth; plus the
sender's send-time error p99.

Run as root from the repo root: ``python -m bench.portable_accuracy`` (about 2 minutes).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.stream_lab import call, call_truth, start_responder
from tests.netlab.lab import RoutedLab, lab_support, routed_lab
from tests.simplatform import simulate

SETTINGS = [
    ("clean", ""),
    ("30 ms +- 5 ms", "delay=30ms jitter=5ms dist=uniform"),
    ("0.5 % random loss", "delay=10ms loss=0.5%"),
]
MODES = ("linux", "windows", "macos")
SEED = 4


def measure(lab: RoutedLab, spec: str, mode: str, seconds: int, port: int) -> dict[str, Any]:
    lab.set_impairment(spec, seed=SEED)
    with pytest.MonkeyPatch.context() as mp:
        sim = contextlib.nullcontext() if mode == "linux" else simulate(mode, mp)  # type: ignore[arg-type]
        with sim:
            m = call(lab, port, float(seconds))
    t = call_truth(lab, port)
    return {"values": m.values, "up": t.up, "down": t.down}


def _f(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def rows(name: str, mode: str, r: dict[str, Any]) -> list[str]:
    v, out = r["values"], []
    for tag, t in (("fwd", r["up"]), ("bwd", r["down"])):
        d, j, loss = v[f"owd_{tag}_mean_ms"], v[f"jitter_{tag}_ms"], v[f"loss_{tag}_pct"]
        out.append(
            f"| {name} | {mode} | {tag} | {_f(t.owd_mean_ms)} | {_f(d)} | {d - t.owd_mean_ms:+.3f} | "
            f"{_f(t.jitter_ms)} | {_f(j)} | {j - t.jitter_ms:+.3f} | {_f(t.loss_pct, 2)} | "
            f"{_f(loss, 2)} | {v['send_error_p99_ms']} |"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=int, default=10)
    args = ap.parse_args(argv)
    if reason := lab_support():
        print(f"skipped: {reason}")
        return 0
    lines = [
        "| setting | mode | dir | truth OWD ms | netcheck OWD ms | error | truth jitter ms | "
        "netcheck jitter ms | error | truth loss % | netcheck loss % | send error p99 ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    clocks = {}
    with routed_lab("", seed=SEED) as lab:
        _, port = start_responder(lab)
        for name, spec in SETTINGS:
            for mode in MODES:
                r = measure(lab, spec, mode, args.seconds, port)
                clocks[mode] = r["values"]["rx_clock"]
                lines += rows(name, mode, r)
    print("\n".join(lines))
    print()
    for mode, clock in clocks.items():
        print(f"- {mode}: rx_clock = {clock}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
