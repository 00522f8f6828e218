"""Latency under load (bufferbloat): RTT to the ISP's first router, idle and while the
uplink, then the downlink, is saturated by an iperf3 transfer.

Why the first ISP hop: it is the nearest point past the site router's queue. A router with
a deep, unmanaged queue on its uplink lets a bulk upload fill that queue; every packet
behind it — voice included — then waits as long as the queue takes to drain (hundreds of
ms on a slow line). An RTT that rises under load while the line is otherwise healthy is
the site edge's queue, not the ISP.

Method: ICMP echo (icmplib) to the first ISP hop every ``interval_s`` in two classes, each
its own loop with one request outstanding: marked with the voice DSCP (EF) and best
effort (CS0);
phases: ``idle_s`` idle, ``load_s`` iperf3 TCP upload, ``load_s`` iperf3 TCP download
(``-R``), ``streams`` parallel TCP streams as the public bufferbloat tests use (one
stream's receive window may be too small to fill a deep queue). The load is bounded in
time (``-t``) and in bytes: iperf3 is capped at ``max_bytes`` per direction spread over
``load_s`` (``-b``), killed at the deadline, and
the bytes it moved are reported. When the transfer reached the cap, the line was maybe
not saturated and the result says so.

Grade (per direction, on the EF series — what a call experiences): added latency = median
RTT under load (first second of each phase skipped: TCP slow start) minus median idle RTT,
graded like the public bufferbloat tests (Waveform): A+ < 5 ms, A < 30 ms, B < 60 ms,
C < 200 ms, D < 400 ms, else F.

The first ISP hop is taken from ``ping_host``, else found with a one-round per-hop trace
to the iperf3 server (:mod:`netcheck.probes.path_hops`).
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from dataclasses import dataclass, field

from netcheck.probes import iperf3, path_hops
from netcheck.probes._common import Context, Timer, error, percentile
from netcheck.probes.specs import BufferbloatSpec as Spec
from netcheck.probes.specs import Iperf3Spec, PathHopsSpec
from netcheck.result import ErrorKind, Measurement, Value

#: (upper bound of added latency in ms, grade), Waveform's bufferbloat grading
GRADES = ((5.0, "A+"), (30.0, "A"), (60.0, "B"), (200.0, "C"), (400.0, "D"))
WARMUP_S = 1.0
#: An echo unanswered after this long counts as lost; under load it is slower than any answered one.
ECHO_TIMEOUT_S = 2.0


@dataclass
class Pinger:
    """Background echo loop of one DSCP class (its own thread: the event loop runs iperf3
    meanwhile, and a slow best-effort class must not hold up the voice class's samples)."""

    host: str
    spec: Spec
    privileged: bool
    dscp: int
    stop: threading.Event
    samples: list[tuple[float, int, float | None]] = field(default_factory=list)  # (t, dscp, rtt ms)
    failure: str | None = None

    def run(self) -> None:
        from icmplib import ICMPRequest, ICMPv4Socket, ICMPv6Socket, is_ipv6_address
        from icmplib import exceptions as icmp_exc

        family = ICMPv6Socket if is_ipv6_address(self.host) else ICMPv4Socket
        try:
            sock = family(privileged=self.privileged)
        except (icmp_exc.SocketPermissionError, OSError) as exc:
            self.failure = str(exc)
            return
        seq, ident, dscp = 0, (id(self) >> 4) & 0xFFFF, self.dscp
        with sock:
            while not self.stop.is_set() and seq < 100_000:
                req = ICMPRequest(self.host, id=ident, sequence=seq & 0xFFFF, traffic_class=dscp << 2)
                t0 = time.monotonic()
                try:
                    sock.send(req)
                    sock.receive(req, ECHO_TIMEOUT_S).raise_for_status()
                    rtt: float | None = round((time.monotonic() - t0) * 1000.0, 3)
                except (icmp_exc.ICMPLibError, OSError):
                    rtt = None
                self.samples.append((t0, dscp, rtt))
                seq += 1
                self.stop.wait(max(0.0, t0 + self.spec.interval_s - time.monotonic()))


async def run(spec: Spec, ctx: Context) -> Measurement:
    """Find the first ISP hop, ping it idle / under upload / under download, grade."""
    timer = Timer()
    binary = shutil.which("iperf3")
    if binary is None:
        return _fail(timer, spec, ErrorKind.UNSUPPORTED, "iperf3 not installed (Debian/Ubuntu: apt install iperf3)")
    host = spec.ping_host or await _first_isp_hop(spec, ctx)
    if host is None:
        return _fail(timer, spec, ErrorKind.NO_TARGET, "no ISP hop answered a per-hop trace towards "
                     f"{spec.load_host}; name it (ping_host) to measure latency under load")
    stop = threading.Event()
    pingers = [Pinger(host, spec, bool(ctx.caps.get("raw_icmp", True)), d, stop) for d in (spec.dscp, 0)]
    threads = [threading.Thread(target=p.run, name="bufferbloat-ping", daemon=True) for p in pingers]
    for t in threads:
        t.start()
    try:
        phases = await _phases(spec, binary, ctx)
    finally:
        stop.set()
        for t in threads:
            await asyncio.to_thread(t.join, ECHO_TIMEOUT_S + 1.0)
    failure = next((p.failure for p in pingers if p.failure), None)
    if failure:
        return _fail(timer, spec, ErrorKind.PERMISSION, f"ICMP echo to {host}: {failure}")
    samples = sorted(pingers[0].samples + pingers[1].samples)
    values = summarize(spec, host, phases, samples)
    err = None if values.get("idle_rtt_median_ms") is not None else error(
        ErrorKind.TIMEOUT, f"the first ISP hop {host} answered no echo request")
    return timer.measurement(id=spec.id, probe="bufferbloat", target=host, method="icmp-under-iperf3-load",
                             values=values, error=err, series=_series(samples))


def _fail(timer: Timer, spec: Spec, kind: ErrorKind, detail: str) -> Measurement:
    return timer.measurement(id=spec.id, probe="bufferbloat", target=spec.load_host,
                             method="icmp-under-iperf3-load", error=error(kind, detail))


async def _first_isp_hop(spec: Spec, ctx: Context) -> str | None:
    trace = PathHopsSpec(id=f"{spec.id}:trace", host=spec.load_host, rounds=1, pmtu=False, max_hops=12)
    sub = Context(deadline=min(ctx.deadline, time.monotonic() + 8.0), caps=ctx.caps)
    m = await path_hops.run(trace, sub)
    segs = m.values.get("segments")
    if not isinstance(segs, list):
        return None
    edge = next((s for s in segs if s.get("segment") == "site_edge" and s.get("measured")), None)
    return str(edge["to_address"]) if edge else None


async def _phases(spec: Spec, binary: str, ctx: Context) -> dict[str, dict[str, Value]]:
    """Idle, then each load direction: its monotonic window and iperf3's figures."""
    out: dict[str, dict[str, Value]] = {}
    t0 = time.monotonic()
    await asyncio.sleep(min(spec.idle_s, ctx.remaining()))
    out["idle"] = {"start": t0, "end": time.monotonic()}
    cap_bps = int(spec.max_bytes * 8 / spec.load_s)  # all streams together; iperf3 -b is per stream
    for direction in spec.directions:
        if ctx.remaining() < spec.load_s + 2:
            break
        load = Iperf3Spec(id="load", host=spec.load_host, port=spec.load_port, duration_s=spec.load_s,
                           reverse=direction == "down", streams=spec.streams)
        argv = [*load.argv(binary), "-b", str(cap_bps // spec.streams)]
        ctx.progress(f"bufferbloat: {direction}link load {spec.load_s:g} s")
        figures, problem, start = await _load(argv, load, spec, ctx)
        out[direction] = {"start": start, "end": time.monotonic(), "cap_bps": cap_bps, "problem": problem,
                          "throughput_kbps": figures.get("throughput_kbps")}
    return out


BUSY_RETRIES = 3
TRANSIENT = ("busy", "Connection refused")


async def _load(argv: list[str], load: Iperf3Spec, spec: Spec, ctx: Context
                ) -> tuple[dict[str, Value], str | None, float]:
    """One bounded iperf3 run (figures, problem, its monotonic start). Between two tests an
    iperf3 server is briefly not there: it answers "busy" while it finishes the previous
    test and refuses connections while it re-opens its listening socket (it serves one test
    at a time). Both are retried up to ``BUSY_RETRIES`` times, 1 s apart."""
    problem: str | None = None
    start = time.monotonic()
    for _ in range(BUSY_RETRIES):
        start = time.monotonic()
        try:
            raw = await iperf3._execute(argv, ctx.timeout(spec.load_s + 5.0))
        except TimeoutError:
            return {}, "iperf3 did not finish in time", start
        figures, problem = iperf3.parse(raw, load)
        transient = problem is not None and any(t in problem for t in TRANSIENT)
        if not transient or ctx.remaining() < spec.load_s + 3:
            return figures, problem, start
        await asyncio.sleep(1.0)
    return {}, problem, start


def grade(added_ms: float | None) -> str | None:
    """A+ .. F for the added latency (None: not measured)."""
    if added_ms is None:
        return None
    return next((g for bound, g in GRADES if added_ms < bound), "F")


def _median(samples: list[tuple[float, int, float | None]], start: float, end: float, dscp: int,
            *, lost_is_slow: bool = False) -> float | None:
    """Median RTT of one class in a window. Under load (``lost_is_slow``) an echo that
    timed out counts as slower than every answered one (a queue that drops is no better
    than one that delays); if that makes the median a lost echo, the result is the timeout."""
    window = [r for t, d, r in samples if start <= t < end and d == dscp]
    if lost_is_slow:
        ranked = sorted(ECHO_TIMEOUT_S * 1000.0 if r is None else r for r in window)
        value = percentile(ranked, 50) if ranked else None
    else:
        value = percentile([r for r in window if r is not None], 50)
    return None if value is None else round(value, 3)


def summarize(spec: Spec, host: str, phases: dict[str, dict[str, Value]],
              samples: list[tuple[float, int, float | None]]) -> dict[str, Value]:
    idle = phases["idle"]
    values: dict[str, Value] = {"ping_host": host, "load_host": spec.load_host, "dscp": spec.dscp,
                                "load_s": spec.load_s, "max_bytes_per_direction": spec.max_bytes}
    base = {d: _median(samples, float(idle["start"]), float(idle["end"]), d)  # type: ignore[arg-type]
            for d in (spec.dscp, 0)}
    values["idle_rtt_median_ms"] = base[spec.dscp]
    values["idle_rtt_median_be_ms"] = base[0]
    for direction in spec.directions:
        ph = phases.get(direction)
        if ph is None or ph.get("problem"):  # no load ran: nothing to grade
            values[f"{direction}_grade"] = None
            values[f"{direction}_load_problem"] = ph.get("problem") if ph else "no time left for this phase"
            continue
        start, end = float(ph["start"]) + WARMUP_S, float(ph["end"])  # type: ignore[arg-type]
        for dscp, suffix in ((spec.dscp, ""), (0, "_be")):
            loaded, idle_rtt = _median(samples, start, end, dscp, lost_is_slow=True), base[dscp]
            added = None if loaded is None or idle_rtt is None else round(max(0.0, loaded - idle_rtt), 3)
            values[f"{direction}_rtt_median{suffix}_ms"] = loaded
            values[f"{direction}_added{suffix}_ms"] = added
            values[f"{direction}_grade{suffix}"] = grade(added)
        kbps = ph.get("throughput_kbps")
        values[f"{direction}_load_kbps"] = kbps
        values[f"{direction}_load_problem"] = ph.get("problem")
        cap = float(ph["cap_bps"])  # type: ignore[arg-type]
        values[f"{direction}_load_capped"] = isinstance(kbps, float | int) and kbps * 1000 >= 0.9 * cap
        values[f"{direction}_load_bytes"] = round(kbps * 125 * spec.load_s) if isinstance(kbps, float | int) else None
    return values


def _series(samples: list[tuple[float, int, float | None]]) -> dict[str, list[float | None]]:
    """RTT samples per class, bounded to 600 each (a minute at 10/s)."""
    return {"rtt_ef_ms": [r for _t, d, r in samples if d != 0][:600],
            "rtt_be_ms": [r for _t, d, r in samples if d == 0][:600]}
