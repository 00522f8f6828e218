"""Helpers to measure a stream through the lab's impairment link and read the link's truth.

Used by ``test_stream_netlab.py`` and ``bench/stream_accuracy.py``: a ``netcheck responder``
process in the dc namespace, the stream probe in the lan namespace, and the bridge's
ground-truth log reduced to the same packets (UDP to / from the responder's port).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from netcheck.plan.runs import ProbeRun
from netcheck.probes import stream
from netcheck.probes._common import Context
from netcheck.result import Measurement
from tests.netlab import truth
from tests.netlab.lab import Proc, RoutedLab
from tests.netlab.netns import run_in_netns

#: Accuracy targets of issue 4 (the benchmark's and the netlab test's tolerances).
DELAY_ERROR_MS = 0.5
JITTER_ERROR_FRACTION = 0.10
JITTER_ERROR_FLOOR_MS = 0.2
LOSS_ERROR_PP = 0.2
NOISE_FLOOR_MS = 0.05


def start_responder(lab: RoutedLab, rate_pps: int = 100_000) -> tuple[Proc, int]:
    """``netcheck responder`` in dc on a free UDP port (its own process, like a real far end)."""
    port = lab.free_port(lab.ns.dc)
    argv = [sys.executable, "-m", "netcheck", "responder", "--bind", lab.addr.dc, "--port", str(port),
            "--rate-pps", str(rate_pps)]
    proc = lab.popen(lab.ns.dc, argv, name="responder")
    lab.wait_for_port(lab.ns.dc, port, "udp", proc=proc)
    return proc, port


def call(lab: RoutedLab, port: int, duration_s: float, **kw: object) -> Measurement:
    """One STAMP call lan -> dc. The namespaces share the host's CLOCK_REALTIME, so the
    one-way delays are real (``assume_synchronized``)."""
    spec = stream.Spec(id="stream:dc", host=lab.addr.dc, port=port, duration_s=duration_s,
                       assume_synchronized=True, **kw)  # type: ignore[arg-type]
    ctx = Context(deadline=time.monotonic() + duration_s + 15.0)
    return run_in_netns(lab.ns.lan, lambda: asyncio.run(stream.run(spec, ctx)))


@dataclass(frozen=True)
class Truth:
    """What the link did to the call's requests (up) and replies (down)."""

    up: truth.TruthStats
    down: truth.TruthStats
    #: the link's one-way delay (ms) per request (sender's number) and per reply (reflector's
    #: number), None = lost
    up_ms: list[float | None]
    down_ms: list[float | None]


def call_runs(lab: RoutedLab, ports: list[int], seconds: float) -> list[ProbeRun]:
    """One STAMP call per responder port, as the runner's plan holds them (kind "call": they
    run together in the call engine); ids ``stream:0``, ``stream:1``..."""
    return [ProbeRun(f"stream:{i}", "stream",
                     stream.Spec(id=f"stream:{i}", host=lab.addr.dc, port=port, duration_s=seconds,
                                 assume_synchronized=True),
                     seconds + 10.0, f"call {i}", kind="call")
            for i, port in enumerate(ports)]


def call_truth(lab: RoutedLab, port: int) -> Truth:
    recs = lab.truth_records()
    up = truth.select(recs, direction="up", proto=17, dport=port)
    down = truth.select(recs, direction="down", proto=17, sport=port)
    # both logs keyed like the probe's series: requests by the sender's sequence number,
    # replies by the reflector's own (RFC 8762 4.3), the first 4 octets of each payload
    seq = functools.partial(truth.head_uint, offset=0, size=4)
    return Truth(truth.stats(up), truth.stats(down), truth_delays_ms(up, seq), truth_delays_ms(down, seq))


def jitter_tolerance_ms(true_ms: float, host_noise_ms: float = 0.0) -> float:
    """Issue 4: jitter error <= 10 % or 0.2 ms, whichever is larger, plus the jitter of the
    host's own timing noise on this very call (:func:`host_noise_jitter_ms`), which is
    neither the link's nor the probe's error and grows when the machine is busy."""
    return max(JITTER_ERROR_FRACTION * true_ms, JITTER_ERROR_FLOOR_MS) + host_noise_ms


def host_noise_jitter_ms(measured_ms: Sequence[float | None], truth_ms: Sequence[float | None]) -> float:
    """Bound on how far the measured RFC 3550 jitter can be from the link's truth because of
    delays the link did not add (the sender descheduled between stamping and sending, the
    bridge's own scheduling), computed from the per-packet residual r = measured - truth.

    J_n = 15/16 J_(n-1) + |D_n|/16 is a positive linear combination of the |D_i|, and
    |D_meas| <= |D_truth| + |D_r| (triangle inequality), so at every packet
    |J_meas,n - J_truth,n| <= J_r,n: the maximum of the residual's running jitter bounds the
    error of the final value and of any statistic of the running series. Packets missing on
    either side are skipped (the residual is paired by sequence number)."""
    residual = [m - t for m, t in zip(measured_ms, truth_ms, strict=False) if m is not None and t is not None]
    assert len(residual) >= 2, "no packet paired between the measurement and the truth log"
    centre = statistics.median(residual)
    # a wrong pairing would turn the link's own jitter into "noise" and loosen the test
    assert statistics.median(abs(r - centre) for r in residual) <= DELAY_ERROR_MS, "pairing by sequence failed"
    j = worst = 0.0
    for prev, cur in itertools.pairwise(residual):
        j += (abs(cur - prev) - j) / 16
        worst = max(worst, j)
    return worst


def truth_delays_ms(records: Sequence[truth.Record], key: Callable[[truth.Record], int | None]) -> list[float | None]:
    """Truth one-way delay (ms) per sequence number given by ``key``, None where not delivered."""
    by_seq = {key(r): truth.owd_s(r) for r in truth.originals(records)}
    top = max((s for s in by_seq if s is not None), default=-1)
    return [None if (d := by_seq.get(s)) is None else d * 1e3 for s in range(top + 1)]
