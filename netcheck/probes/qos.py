"""QoS under load: does voice keep its quality while bulk traffic fills the line?

Against a ``netcheck responder``, two STAMP calls run side by side on the call generator's
schedule (:class:`netcheck.probes._callgen.CallGen`, each call on its own socket): the
*voice* call marked DSCP EF (46, RFC 3246), as phones mark it, and a *canary* call marked
best effort (DSCP 0), otherwise identical. First both run alone (``baseline_s``: the
figures without load); then, step by step, a bulk UDP sender (DSCP 0,
``bulk_packet_bytes`` datagrams to ``host:bulk_port``, default 9, the discard port of RFC
863: the far end's kernel drops them, and answers at most with rate-limited ICMP) offers
``bulk_start_kbps``, doubling per step up to ``bulk_max_kbps`` while the calls run.

The canary proves the line is congested: as soon as it leaves the limits (loss incl.
jitter-buffer discards >= ``Limits.max_loss_pct``, or its round trip grows by
``saturation_delay_ms`` over the baseline, or its queue grows within the step), the bulk
stops and that step's voice figures are the "with load" figures. If voice is still within
the limits there, the path prioritises EF; if not, it does not (evaluate judges with the
profile's limits and shows both figure sets). A line the bulk cannot congest within
``bulk_max_kbps`` gives ``saturated = false``: nothing is proven either way.

Bounded: at most ``max_steps`` load steps of ``step_s`` seconds, never beyond
``bulk_max_kbps``, never past the probe's deadline; the bulk thread stops with each step.
The load goes up only (our uplink); a downstream test needs a far-end sender (iperf3 -R),
since the responder never sends more than it receives.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from dataclasses import dataclass

from netcheck.analysis import bandwidth, emodel
from netcheck.clock import clock_sync, error_estimate
from netcheck.probes._callgen import Call, CallGen, open_calls
from netcheck.probes._common import Context, Timer, error
from netcheck.probes._stream_analysis import send_error_values
from netcheck.probes._stream_engine import ClockMap
from netcheck.probes.capacity import (
    DRAIN_S,
    CallSetup,
    Direction,
    analyse_calls,
    resolve,
    set_dscp,
)
from netcheck.probes.specs import QosSpec as Spec
from netcheck.result import Confidence, ErrorKind, Measurement, Value

PRIORITY_SLACK_MS = 5.0


@dataclass(frozen=True)
class Phase:
    """One run of both calls: with ``bulk_kbps`` of load (0 = baseline)."""

    bulk_kbps: float
    bulk_sent_kbps: float
    voice_up: Direction
    voice_down: Direction
    voice_rtt_ms: float | None
    canary_up: Direction
    canary_down: Direction
    canary_rtt_ms: float | None
    send_error_p99_ms: float | None


# --------------------------------------------------------------------------------------
# Bulk sender
# --------------------------------------------------------------------------------------


class Bulk:
    """Paced UDP bulk in a thread: ``kbps`` (layer 3) of ``size``-octet datagrams."""

    def __init__(self, family: int, address: str, port: int, kbps: float, size: int) -> None:
        self.target, self.kbps, self.size = (address, port), kbps, size
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        set_dscp(self.sock, family, 0)
        self.stop = threading.Event()
        self.sent_bytes = 0
        self.elapsed_s = 0.0
        self._thread = threading.Thread(target=self._run, name="netcheck-qos-bulk", daemon=True)

    def __enter__(self) -> Bulk:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self._thread.join(2.0)
        self.sock.close()

    @property
    def sent_kbps(self) -> float:
        return 8 * self.sent_bytes / self.elapsed_s / 1000.0 if self.elapsed_s else 0.0

    def _run(self) -> None:
        """Token bucket at 2 ms ticks: sleep (releasing the GIL for the call scheduler),
        then send what the elapsed time allows; IP+UDP headers count (28 octets)."""
        payload = bytes(self.size)
        wire = self.size + bandwidth.UDP_HEADER + bandwidth.IPV4_HEADER
        rate = self.kbps * 1000.0 / 8.0  # octets per second at layer 3
        t0 = time.monotonic()
        while not self.stop.wait(0.002):
            self.elapsed_s = time.monotonic() - t0
            due = int(self.elapsed_s * rate / wire) - self.sent_bytes // wire
            for _ in range(max(0, min(due, 256))):
                with contextlib.suppress(BlockingIOError, OSError):
                    self.sock.sendto(payload, self.target)
                self.sent_bytes += wire


# --------------------------------------------------------------------------------------
# Phases
# --------------------------------------------------------------------------------------


def run_phase(spec: Spec, setup: CallSetup, bulk_kbps: float, seconds: float, stop_at: int) -> Phase:
    """Voice + canary for ``seconds``, with bulk load when ``bulk_kbps`` > 0 (blocking)."""
    count = max(4, round(seconds * 1000.0 / spec.interval_ms))
    with contextlib.ExitStack() as stack:
        calls, socks = [], []
        for dscp in (spec.dscp, 0):  # voice, canary: the same call but for the DS field
            (call,), (sock,) = _open(setup, count, dscp)
            stack.callback(sock.close)
            calls.append(call)
            socks.append(sock)
        bulk = None
        if bulk_kbps > 0:
            bulk = stack.enter_context(
                Bulk(setup.family, setup.address, spec.bulk_port, bulk_kbps, spec.bulk_packet_bytes))
            time.sleep(min(0.3, seconds / 10))  # the queue fills before the calls are judged
        gen = CallGen(calls, socks, interval_ns=round(spec.interval_ms * 1e6), clock=ClockMap(),
                      drain_ns=int(DRAIN_S * 1e9))
        run = gen.run(stop_at)  # one thread: voice and canary interleaved, half an interval apart
    voice, canary = run.calls
    vu, vd, vr = analyse_calls([voice], setup)
    cu, cd, cr = analyse_calls([canary], setup)
    p99 = send_error_values(run.send_error_ns).get("send_error_p99_ms")
    return Phase(bulk_kbps, bulk.sent_kbps if bulk else 0.0, vu, vd, vr, cu, cd, cr, p99)  # type: ignore[arg-type]


def _open(setup: CallSetup, count: int, dscp: int) -> tuple[list[Call], list[socket.socket]]:
    """One call on its own socket marked ``dscp`` (RFC 2474)."""
    sync = clock_sync()
    return open_calls(setup.family, (setup.address, setup.port), 1, count=count,
                      size=setup.size, dscp=dscp, key=setup.key,
                      estimate=error_estimate(sync.synchronized, sync.error_s))


def canary_congested(base: Phase, loaded: Phase, spec: Spec) -> list[str]:
    """Why the best-effort canary shows congestion (empty: the line is not congested)."""
    out = [f"canary {p}" for d in (loaded.canary_up, loaded.canary_down) for p in d.problems(spec.limits)
           if not p.startswith("MOS")]
    if base.canary_rtt_ms is not None and loaded.canary_rtt_ms is not None:
        grew = loaded.canary_rtt_ms - base.canary_rtt_ms
        if grew >= spec.saturation_delay_ms:
            out.append(f"canary round trip +{grew:.1f} ms")
    elif loaded.canary_rtt_ms is None:
        out.append("canary: no reply")
    return out


def _load_steps(spec: Spec, setup: CallSetup, base: Phase, stop_at: int,
                progress: object) -> tuple[list[Phase], list[str]]:
    """Double the bulk until the canary shows congestion (or the caps)."""
    phases: list[Phase] = []
    kbps = spec.bulk_start_kbps
    step_ns = int((spec.step_s + 1.0) * 1e9)
    for _ in range(spec.max_steps):
        if kbps > spec.bulk_max_kbps or time.monotonic_ns() + step_ns > stop_at:
            break
        if callable(progress):
            progress(f"voice under {kbps:g} kbit/s of bulk")
        phase = run_phase(spec, setup, kbps, spec.step_s, stop_at)
        phases.append(phase)
        why = canary_congested(base, phase, spec)
        if why:
            return phases, why
        kbps *= 2
        time.sleep(0.3)
    return phases, []


def _measure(spec: Spec, setup: CallSetup, stop_at: int, progress: object) -> tuple[Phase, list[Phase], list[str]]:
    if callable(progress):
        progress(f"voice and canary without load, {spec.baseline_s:g} s")
    base = run_phase(spec, setup, 0.0, spec.baseline_s, stop_at)
    if base.voice_rtt_ms is None:
        return base, [], []
    time.sleep(0.2)
    phases, why = _load_steps(spec, setup, base, stop_at, progress)
    return base, phases, why


# --------------------------------------------------------------------------------------
# The probe
# --------------------------------------------------------------------------------------


async def run(spec: Spec, ctx: Context) -> Measurement:
    """Resolve, baseline, load steps (worker thread), summarise."""
    timer = Timer()
    method = "stamp-ef-vs-be-under-bulk"
    if spec.codec not in emodel.CODECS:
        bad = error(ErrorKind.UNSUPPORTED, f"unknown codec {spec.codec!r}")
        return timer.measurement(id=spec.id, probe="qos", target=spec.host, method=method, error=bad)
    addr, err = await resolve(spec.host, ctx)
    if addr is None:
        return timer.measurement(id=spec.id, probe="qos", target=spec.host, method=method, error=err,
                                 confidence=Confidence.NONE)
    setup = CallSetup(addr[0], addr[1], spec.port, spec.packet_bytes(), spec.key, spec.interval_ms,
                      spec.codec, spec.jitter_buffer_ms)
    budget = min(spec.duration_s, max(0.0, ctx.remaining() - 1.0))
    stop_at = time.monotonic_ns() + int(budget * 1e9)
    try:
        base, phases, why = await asyncio.to_thread(_measure, spec, setup, stop_at, ctx.progress)
    except OSError as exc:
        err = error(ErrorKind.UNREACHABLE, f"{spec.host}: {exc.strerror or exc}")
        return timer.measurement(id=spec.id, probe="qos", target=spec.host, method=method, error=err,
                                 confidence=Confidence.NONE)
    if base.voice_rtt_ms is None:
        err = error(ErrorKind.TIMEOUT, f"no STAMP reply from {spec.host}:{spec.port} "
                    "(is a netcheck responder running there?)")
    values = summarise(spec, base, phases, why)
    conf = Confidence.NONE if err else (Confidence.HIGH if values["saturated"] else Confidence.LOW)
    return timer.measurement(id=spec.id, probe="qos", target=spec.host, method=method, values=values,
                             error=err, confidence=conf)


def _worse(a: Direction, b: Direction) -> Direction:
    return max((a, b), key=lambda d: (d.loss_pct if d.loss_pct is not None else 101.0, d.jitter_ms or 0.0))


def _figures(prefix: str, up: Direction, down: Direction, rtt: float | None) -> dict[str, Value]:
    """Loss (worse direction, lost + late), jitter (worse), MOS (lower), RTT median."""
    moses = [m for m in (up.mos, down.mos) if m is not None]
    jit = [j for j in (up.jitter_ms, down.jitter_ms) if j is not None]
    return {
        f"{prefix}_loss_pct": _r(_worse(up, down).loss_pct),
        f"{prefix}_loss_up_pct": _r(up.loss_pct), f"{prefix}_loss_down_pct": _r(down.loss_pct),
        f"{prefix}_jitter_ms": _r(max(jit)) if jit else None,
        f"{prefix}_mos": _r(min(moses), 2) if moses else None,
        f"{prefix}_rtt_ms": _r(rtt),
        f"{prefix}_queue_growth_ms": _r(max((d.queue_growth_ms for d in (up, down)
                                            if d.queue_growth_ms is not None), default=None)),
    }


def _r(v: float | None, digits: int = 3) -> float | None:
    return None if v is None else round(v, digits)


def _phase_value(p: Phase) -> dict[str, Value]:
    return {"bulk_kbps": p.bulk_kbps, "bulk_sent_kbps": round(p.bulk_sent_kbps, 1),
            **_figures("voice", p.voice_up, p.voice_down, p.voice_rtt_ms),
            **_figures("canary", p.canary_up, p.canary_down, p.canary_rtt_ms),
            "send_error_p99_ms": _r(p.send_error_p99_ms)}


def _priority(base: Phase, loaded: Phase) -> dict[str, Value]:
    """Queueing delay the load added to voice and to the canary (round-trip medians), and
    whether voice was served first: its increase at most half the canary's, or under
    ``PRIORITY_SLACK_MS`` (one bulk packet's serialisation on a slow line)."""
    def grew(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else round(b - a, 3)

    voice = grew(base.voice_rtt_ms, loaded.voice_rtt_ms)
    canary = grew(base.canary_rtt_ms, loaded.canary_rtt_ms)
    first = None
    if voice is not None and canary is not None:
        first = voice <= PRIORITY_SLACK_MS or voice <= 0.5 * canary
    return {"voice_delay_increase_ms": voice, "canary_delay_increase_ms": canary,
            "voice_served_first": first}


def summarise(spec: Spec, base: Phase, phases: list[Phase], why: list[str]) -> dict[str, Value]:
    """Baseline and loaded figures (the loaded phase is the first congested one, else the
    heaviest), whether the line was congested, and every phase."""
    loaded = phases[-1] if phases else None
    values: dict[str, Value] = {
        "codec": spec.codec, "voice_dscp": spec.dscp, "canary_dscp": 0, "bulk_dscp": 0,
        "bulk_port": spec.bulk_port, "bulk_direction": "up",
        "saturated": bool(why), "saturation_evidence": why,
        "bulk_kbps": loaded.bulk_kbps if loaded else None,
        "bulk_sent_kbps": round(loaded.bulk_sent_kbps, 1) if loaded else None,
        "bulk_max_kbps": spec.bulk_max_kbps,
        **{f"base_{k}": v for k, v in _figures("voice", base.voice_up, base.voice_down, base.voice_rtt_ms).items()},
        "phases": [_phase_value(p) for p in (base, *phases)],
    }
    if loaded is not None:
        values.update(_priority(base, loaded))
        values.update({f"load_{k}": v for k, v in
                       _figures("voice", loaded.voice_up, loaded.voice_down, loaded.voice_rtt_ms).items()})
        values.update({f"load_{k}": v for k, v in
                       _figures("canary", loaded.canary_up, loaded.canary_down, loaded.canary_rtt_ms).items()})
    return values
