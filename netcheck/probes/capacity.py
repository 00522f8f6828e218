"""Call-load capacity: how many concurrent emulated calls the path carries within limits.

Against a ``netcheck responder`` (STAMP, RFC 8762), N calls of the profile's codec run at
once (50 pps each, DSCP EF, packets the size of the codec's RTP packets) on the call
generator (:func:`netcheck.probes._callgen.run_calls`: one thread, one socket and so one
5-tuple per call like real RTP, pre-built packet templates, slots interleaved over one
interval; it carries hundreds of calls per process where the stream probe's older
``Engine`` fell behind at ~100, see ``bench/RESULTS.md``). N ramps in steps of ``step_s``
seconds: doubling from ``start_calls`` until a step leaves the limits or the requirement plus
``margin`` is carried, then bisecting between the last good and the first bad step. The
ramp never goes above ``max_calls`` nor above what the requirement needs plus the margin,
and stops at the probe's deadline (default 60 s), so a customer's line is not flooded.

Up and down separately, from one reflected stream: the stateful reflector numbers what it
received, so forward (up) and backward (down) loss are told apart per packet
(:mod:`netcheck.probes._stream_analysis`); delay growth and jitter are per direction too
(T2 - T1 up, T4 - T3 down). The reflector never sends more than it received (it does not
amplify), so the down direction carries at most what came up: once the up direction fails
at N calls, down is only known to carry the largest N at which up still held
(``calls_down_bound`` = "lower"). A line that is slower down than up is measured in both
directions (down fails first while up keeps climbing).

A step is "within limits" in a direction when, over all its calls:

- loss (lost + jitter-buffer discards) is below ``max_loss_pct``;
- the queue does not grow: the median delay of the last quarter of the step exceeds that
  of the first quarter by less than ``max_queue_growth_ms`` (a shaper's bucket and buffer
  hide an overload for a while before it drops; a growing queue shows it early);
- the worst call's jitter (``stats.JITTER_STATISTIC``: the p95 of its running RFC 3550
  estimate, the same whole-call statistic as the path check) is at most ``max_jitter_ms``;
- the E-model MOS (G.107, random loss) is at least ``min_mos`` (when set).

A step outside the limits is run once more; a direction fails only if it fails twice.

The responder's per-source rate limit (``netcheck responder --rate-pps``, default 1000)
must allow 50 x ``max_calls`` packets per second or the ramp measures the limiter; the
Measurement reports ``responder_pps_needed``.
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from netcheck import platform as plat
from netcheck.analysis import emodel
from netcheck.analysis.stats import (
    JITTER_STATISTIC,
    JitterSummary,
    PacketRecord,
    jitter_summary,
    rfc3550_jitter_series_ms,
)
from netcheck.probes import _stream_analysis as an
from netcheck.probes._callgen import run_calls
from netcheck.probes._common import Context, Timer, Why, error
from netcheck.probes._common import resolve as resolve_shared
from netcheck.probes._stream_sessions import StampReply
from netcheck.probes.specs import CallLimits as Limits
from netcheck.probes.specs import CapacitySpec as Spec
from netcheck.result import Confidence, ErrorKind, Measurement, ProbeError, Value

DRAIN_S = 0.4  # listen this long after a step's last send for late replies
_NS_PER_MS = 1_000_000.0


class CallRecord(Protocol):
    """What the analysis reads of one call: per packet its send time (CLOCK_MONOTONIC ns,
    None if unsent) and raw NTP timestamp (0 if unsent), and the replies. Both
    :class:`netcheck.probes._callgen.Call` and ``_stream_sessions.StampCall`` have it."""

    @property
    def t1_mono_ns(self) -> Sequence[int | None]: ...

    @property
    def t1_wire(self) -> Sequence[int]: ...

    @property
    def replies(self) -> Sequence[StampReply]: ...


# --------------------------------------------------------------------------------------
# One step: N calls for a few seconds, analysed per direction
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Direction:
    """One direction of one step, over all its calls."""

    sent: int
    lost: int
    late: int
    loss_pct: float | None
    jitter_ms: float | None
    jitter_max_ms: float | None
    jitter_mean_ms: float | None
    queue_growth_ms: float | None
    delay_median_ms: float | None
    mos: float | None

    def problems(self, lim: Limits) -> list[str]:
        """Why this direction is outside the limits (empty: within)."""
        out = []
        if self.loss_pct is None:
            out.append("nothing received")
            return out
        if self.loss_pct >= lim.max_loss_pct:
            out.append(f"loss {self.loss_pct:.2f} % >= {lim.max_loss_pct:g} %")
        if self.queue_growth_ms is not None and self.queue_growth_ms >= lim.max_queue_growth_ms:
            out.append(f"queue grew {self.queue_growth_ms:.1f} ms")
        if lim.max_jitter_ms is not None and (self.jitter_ms or 0.0) > lim.max_jitter_ms:
            out.append(f"jitter {self.jitter_ms:.1f} ms ({JITTER_STATISTIC}) > {lim.max_jitter_ms:g} ms")
        if lim.min_mos is not None and self.mos is not None and self.mos < lim.min_mos:
            out.append(f"MOS {self.mos:.2f} < {lim.min_mos:g}")
        return out


@dataclass(frozen=True)
class Step:
    """N calls for ``seconds``: both directions, the round trip, the sender's lateness."""

    calls: int
    seconds: float
    up: Direction
    down: Direction
    rtt_median_ms: float | None
    send_error_p99_ms: float | None
    problems_up: tuple[str, ...] = ()
    problems_down: tuple[str, ...] = ()
    repeated: bool = False

    @property
    def up_ok(self) -> bool:
        return not self.problems_up

    @property
    def down_ok(self) -> bool:
        return not self.problems_down

    def as_value(self) -> dict[str, Value]:
        return {
            "calls": self.calls, "seconds": round(self.seconds, 3),
            "up_ok": self.up_ok, "down_ok": self.down_ok,
            "loss_up_pct": _r(self.up.loss_pct), "loss_down_pct": _r(self.down.loss_pct),
            "jitter_up_ms": _r(self.up.jitter_ms), "jitter_down_ms": _r(self.down.jitter_ms),
            "jitter_up_max_ms": _r(self.up.jitter_max_ms), "jitter_down_max_ms": _r(self.down.jitter_max_ms),
            "queue_growth_up_ms": _r(self.up.queue_growth_ms),
            "queue_growth_down_ms": _r(self.down.queue_growth_ms),
            "mos_up": _r(self.up.mos, 2), "mos_down": _r(self.down.mos, 2),
            "rtt_median_ms": _r(self.rtt_median_ms), "send_error_p99_ms": _r(self.send_error_p99_ms),
            "problems_up": list(self.problems_up), "problems_down": list(self.problems_down),
            "repeated": self.repeated,
        }


def _r(v: float | None, digits: int = 3) -> float | None:
    return None if v is None else round(v, digits)


@dataclass(frozen=True)
class CallSetup:
    """How to open one emulated call (shared by the capacity and QoS probes)."""

    family: int
    address: str
    port: int
    size: int
    key: bytes | None
    interval_ms: float
    codec: str
    jitter_buffer_ms: float


def set_dscp(sock: socket.socket, family: int, dscp: int) -> None:
    """DSCP in the upper six bits of TOS / Traffic Class (RFC 2474), via the platform layer."""
    plat.mark(sock, family, dscp)


def analyse_calls(calls: Sequence[CallRecord],
                  setup: CallSetup) -> tuple[Direction, Direction, float | None]:
    """(up, down, RTT median ms) over ``calls``."""
    fwd: list[list[PacketRecord]] = []
    bwd: list[list[PacketRecord]] = []
    rtts: list[float] = []
    from netcheck.wire.stamp import ns_from_ntp

    for c in calls:
        t1_real = [ns_from_ntp(t) if t else 0 for t in c.t1_wire]
        rt, f, b = an.stamp_records(c.t1_mono_ns, t1_real, c.replies)
        fwd.append(f)
        bwd.append(b)
        rtts += [(r.recv_ns - r.send_ns) / _NS_PER_MS for r in rt if r.recv_ns is not None]
    rtt = statistics.median(rtts) if rtts else None
    one_way = rtt / 2.0 if rtt is not None else None
    return (direction(fwd, setup, one_way), direction(bwd, setup, one_way), rtt)


def direction(per_call: Sequence[Sequence[PacketRecord]], setup: CallSetup,
              one_way_ms: float | None) -> Direction:
    """Loss (with jitter-buffer discards), jitter, queue growth and MOS of one direction.

    Delays contain the offset between the two clocks, constant within a step: jitter
    (RFC 3550) and growth are differences, so they are exact; a packet is *late* when its
    delay exceeds its call's minimum by more than the jitter buffer (a fixed playout
    buffer, as in :func:`netcheck.probes._stream_analysis.mos_values`)."""
    sent = lost = late = 0
    jitters: list[JitterSummary] = []
    timeline: list[tuple[int, float]] = []  # (send_ns, delay above the call's minimum, ms)
    for recs in per_call:
        got = sorted((r for r in recs if r.recv_ns is not None), key=lambda r: r.recv_ns or 0)
        sent += len(recs)
        lost += len(recs) - len(got)
        if not got:
            continue
        base = min(r.recv_ns - r.send_ns for r in got)  # type: ignore[operator]
        for r in got:
            d = (r.recv_ns - r.send_ns - base) / _NS_PER_MS  # type: ignore[operator]
            late += d > setup.jitter_buffer_ms
            timeline.append((r.send_ns, d))
        summary = jitter_summary(rfc3550_jitter_series_ms([(r.send_ns, r.recv_ns) for r in got]))  # type: ignore[misc]
        if summary is not None:
            jitters.append(summary)
    loss = 100.0 * (lost + late) / sent if sent else None
    return Direction(
        sent=sent, lost=lost, late=late, loss_pct=loss,
        jitter_ms=max((j.judged_ms for j in jitters), default=None),
        jitter_max_ms=max((j.max_ms for j in jitters), default=None),
        jitter_mean_ms=statistics.fmean(j.judged_ms for j in jitters) if jitters else None,
        queue_growth_ms=queue_growth(timeline),
        delay_median_ms=statistics.median(d for _, d in timeline) if timeline else None,
        mos=_mos(setup, one_way_ms, loss),
    )


def queue_growth(timeline: Sequence[tuple[int, float]]) -> float | None:
    """Median delay of the last quarter of the step (by send time) minus the first's."""
    if len(timeline) < 8:
        return None
    ordered = [d for _, d in sorted(timeline)]
    q = len(ordered) // 4
    return statistics.median(ordered[-q:]) - statistics.median(ordered[:q])


def _mos(setup: CallSetup, one_way_ms: float | None, loss_pct: float | None) -> float | None:
    """G.107 MOS-CQE with random loss (BurstR 1): network delay = RTT/2 of the step."""
    if one_way_ms is None or loss_pct is None:
        return None
    t = emodel.mouth_to_ear_delay_ms(one_way_ms, setup.jitter_buffer_ms, setup.codec,
                                     packet_ms=setup.interval_ms)
    return emodel.rating(one_way_delay_ms=t, loss_pct=min(loss_pct, 100.0), codec=setup.codec).mos_cqe


def measure_step(setup: CallSetup, calls: int, seconds: float, dscp: int, limits: Limits,
                 stop_at_ns: int) -> Step:
    """Run ``calls`` concurrent calls for ``seconds`` and judge them (blocking).

    One socket per call (``sockets="per_call"``): N flows, as N phones would be, so
    flow-fair queues and per-flow policers on the path treat them as the real calls."""
    t0 = time.monotonic()
    run = run_calls(setup.address, setup.port, calls, codec=setup.codec, duration_s=seconds,
                    interval_ms=setup.interval_ms, dscp=dscp, key=setup.key, sockets="per_call",
                    stop_at_mono_ns=stop_at_ns, drain_s=DRAIN_S)
    up, down, rtt = analyse_calls(run.calls, setup)
    p99 = an.send_error_values(run.send_error_ns).get("send_error_p99_ms")
    return Step(calls, time.monotonic() - t0, up, down, rtt, p99,  # type: ignore[arg-type]
                tuple(up.problems(limits)), tuple(down.problems(limits)))


def measure_stun_step(setup: CallSetup, calls: int, seconds: float, dscp: int, limits: Limits,
                      stop_at_ns: int) -> Step:
    """Field mode: ``calls`` concurrent STUN Binding streams (RTP-sized requests, one
    socket each) to the provider's STUN server for ``seconds`` (blocking).

    The requests load the uplink as the calls would; the answers are small (~60 octets),
    so the way down is not loaded and its Direction stays empty (not measured). Loss and
    delay are of the round trip, judged as the uplink's (the downlink carries a fraction
    of the load)."""
    from netcheck.probes._stream_engine import ClockMap, Engine, Schedule
    from netcheck.probes._stream_sessions import StunCall

    t0 = time.monotonic()
    count = max(1, round(seconds * 1000.0 / setup.interval_ms))
    socks: list[socket.socket] = []
    try:
        for _ in range(calls):
            sock = socket.socket(setup.family, socket.SOCK_DGRAM)
            socks.append(sock)
            sock.setblocking(False)
            set_dscp(sock, setup.family, dscp)
            sock.connect((setup.address, setup.port))
        sessions = [StunCall(s, count=count, size=setup.size, call_id=os.urandom(4)) for s in socks]
        engine = Engine(sessions, Schedule(count=count, interval_ns=round(setup.interval_ms * 1e6),
                                           drain_ns=int(DRAIN_S * 1e9)), ClockMap())
        report = engine.run(stop_at_ns)
    finally:
        for sock in socks:
            sock.close()
    per_call = [an.icmp_records(s.t1_mono_ns, s.t4_mono_ns) for s in sessions]
    rtts = [(r.recv_ns - r.send_ns) / _NS_PER_MS for recs in per_call for r in recs if r.recv_ns is not None]
    rtt = statistics.median(rtts) if rtts else None
    up = direction(per_call, setup, rtt / 2.0 if rtt is not None else None)
    down = Direction(0, 0, 0, None, None, None, None, None, None, None)
    p99 = an.send_error_values(report.send_error_ns).get("send_error_p99_ms")
    return Step(calls, time.monotonic() - t0, up, down, rtt, p99,  # type: ignore[arg-type]
                tuple(up.problems(limits)), ())


# --------------------------------------------------------------------------------------
# The ramp: geometric, then bisection, per direction
# --------------------------------------------------------------------------------------


@dataclass
class Bracket:
    """What is known about one direction: carries ``lo`` calls, fails at ``hi``."""

    lo: int = 0
    hi: int | None = None
    capped: bool = False  # down only: the up direction failed first (lower bound)

    def decided(self, target: int, tolerance: float) -> bool:
        if self.capped or self.lo >= target:
            return True
        return self.hi is not None and self.hi - self.lo <= max(1, math.floor(self.lo * tolerance))

    def next_calls(self, start: int, target: int) -> int:
        if self.hi is None:
            return min(target, max(start, 2 * self.lo))
        return (self.lo + self.hi) // 2


@dataclass
class Ramp:
    """The ramp's state: both brackets and the steps run so far."""

    target: int
    start: int
    tolerance: float = 0.05
    up: Bracket = field(default_factory=Bracket)
    down: Bracket = field(default_factory=Bracket)
    steps: list[Step] = field(default_factory=list)

    def next_calls(self) -> int | None:
        """Calls for the next step, or None when both directions are decided."""
        for b in (self.up, self.down):
            if not b.decided(self.target, self.tolerance):
                n = b.next_calls(self.start, self.target)
                return n if n not in {s.calls for s in self.steps} else None
        return None

    def record(self, step: Step) -> None:
        self.steps.append(step)
        n = step.calls
        _update(self.up, n, step.up_ok)
        if step.up_ok:
            _update(self.down, n, step.down_ok)
        elif not step.down_ok:
            self.down.hi = min(self.down.hi or n, n)  # less than N came down and still failed
        up_done = self.up.decided(self.target, self.tolerance)
        if self.up.hi is not None and self.down.hi is None and (up_done or self.up.hi <= self.down.lo + 1):
            self.down.capped = True  # nothing more can be sent down than came up


def _update(b: Bracket, n: int, ok: bool) -> None:
    if ok:
        b.lo = max(b.lo, n)
    else:
        b.hi = n if b.hi is None else min(b.hi, n)


# --------------------------------------------------------------------------------------
# The probe
# --------------------------------------------------------------------------------------


async def run(spec: Spec, ctx: Context) -> Measurement:
    """Resolve, ramp in a worker thread, summarise."""
    timer = Timer()
    method = "stun-load" if spec.method == "stun" else ("stamp-load-auth" if spec.key else "stamp-load")
    if spec.codec not in emodel.CODECS:
        bad = error(ErrorKind.UNSUPPORTED, f"unknown codec {spec.codec!r}")
        return timer.measurement(id=spec.id, probe="capacity", target=spec.host, method=method, error=bad)
    addr, err = await resolve(spec.host, ctx)
    if addr is None:
        return timer.measurement(id=spec.id, probe="capacity", target=spec.host, method=method,
                                 error=err, confidence=Confidence.NONE)
    setup = CallSetup(addr[0], addr[1], spec.port, spec.packet_bytes(), spec.key, spec.interval_ms,
                      spec.codec, spec.jitter_buffer_ms)
    budget = min(spec.duration_s, max(0.0, ctx.remaining() - 1.0))
    stop_at = time.monotonic_ns() + int(budget * 1e9)
    ramp = Ramp(target=spec.target_calls(), start=max(1, spec.start_calls))
    ramp.down.capped = spec.method == "stun"  # STUN answers are small: nothing loads the way down
    try:
        await asyncio.to_thread(_ramp, spec, setup, ramp, stop_at, ctx.progress)
    except OSError as exc:
        err = error(ErrorKind.UNREACHABLE, f"{spec.host}: {exc.strerror or exc}")
    values = summarise(spec, ramp, budget)
    err = err or _ramp_error(spec, ramp)
    conf, conf_reason = _confidence(ramp, values, err)
    series: dict[str, list[float | None]] = {
        "step_calls": [float(s.calls) for s in ramp.steps],
        "step_loss_up_pct": [_r(s.up.loss_pct) for s in ramp.steps],
        "step_loss_down_pct": [_r(s.down.loss_pct) for s in ramp.steps],
    }
    return timer.measurement(id=spec.id, probe="capacity", target=spec.host, method=method,
                             values=values, series=series, error=err, confidence=conf,
                             confidence_reason=conf_reason)


def _confidence(ramp: Ramp, values: dict[str, Value], err: ProbeError | None) -> tuple[Confidence, Why | None]:
    """low when the ramp was cut by its deadline or the sender missed its schedule (p99 send
    error > 1 ms in a step: the calls then measure this machine's load, not the line)."""
    if err is not None:
        return Confidence.NONE, None
    if values.get("stopped_by_deadline"):
        return Confidence.LOW, Why("ramp_deadline")
    late = max((s.send_error_p99_ms for s in ramp.steps if s.send_error_p99_ms is not None), default=None)
    if late is not None and late > 1.0:
        return Confidence.LOW, Why("sender_late_step", {"late": round(late, 1)})
    return Confidence.HIGH, None


async def resolve(host: str, ctx: Context) -> tuple[tuple[int, str] | None, ProbeError | None]:
    """(family, address) of ``host`` from the run's shared name cache, or a DNS error."""
    return await resolve_shared(ctx, host)


def _ramp(spec: Spec, setup: CallSetup, ramp: Ramp, stop_at: int, progress: Callable[[str], None]) -> None:
    """Steps until both directions are decided or the time is up (blocking)."""
    step_ns = int((spec.step_s + spec.pause_s + 0.6) * 1e9)
    while (n := ramp.next_calls()) is not None:
        if time.monotonic_ns() + step_ns > stop_at:
            return
        progress(f"{n} concurrent calls ({n * spec.call_kbps():.0f} kbit/s each way)")
        measure = measure_stun_step if spec.method == "stun" else measure_step
        step = measure(setup, n, spec.step_s, spec.dscp, spec.limits, stop_at)
        if (not step.up_ok or not step.down_ok) and step.rtt_median_ms is not None \
                and time.monotonic_ns() + step_ns <= stop_at:
            time.sleep(spec.pause_s)
            step = confirmed(step, measure(setup, n, spec.step_s, spec.dscp, spec.limits, stop_at))
        ramp.record(step)
        if step.rtt_median_ms is None:
            return  # no reply at all: no responder, nothing to ramp
        time.sleep(spec.pause_s)  # let queues drain so the next step starts clean


def confirmed(first: Step, again: Step) -> Step:
    """A direction fails only if it failed twice at the same load: one transient (a
    cross-traffic burst, a descheduled VM) must not cut the capacity estimate. Each
    direction keeps the figures of a run in which it held, if there was one."""
    up = again if not first.up_ok and again.up_ok else first
    down = again if not first.down_ok and again.down_ok else first
    return Step(first.calls, first.seconds + again.seconds, up.up, down.down, first.rtt_median_ms,
                max(first.send_error_p99_ms or 0.0, again.send_error_p99_ms or 0.0),
                up.problems_up, down.problems_down, repeated=True)


def summarise(spec: Spec, ramp: Ramp, budget_s: float) -> dict[str, Value]:
    """The capacity figures per direction and the ramp's history."""
    per_call = spec.call_kbps()
    target = ramp.target
    undecided = ramp.next_calls() is not None
    values: dict[str, Value] = {
        "codec": spec.codec, "dscp": spec.dscp, "packet_bytes": spec.packet_bytes(),
        "call_kbps": round(per_call, 3),
        "call_kbps_basis": "(UDP payload + 8 UDP (RFC 768) + 20 IPv4 (RFC 791)) x 8 x pps",
        "target_calls": target, "margin": spec.margin,
        "required_up_kbps": spec.required_up_kbps, "required_down_kbps": spec.required_down_kbps,
        "requirement_basis": list(spec.requirement_basis),
        "responder_pps_needed": round(target * 1000.0 / spec.interval_ms),
        "steps": [s.as_value() for s in ramp.steps],
        "step_count": len(ramp.steps), "budget_s": round(budget_s, 3),
        "stopped_by_deadline": undecided,
    }
    for tag, b in (("up", ramp.up), ("down", ramp.down)):
        values[f"calls_{tag}_max"] = b.lo
        values[f"calls_{tag}_failed_at"] = b.hi
        values[f"capacity_{tag}_kbps"] = round(b.lo * per_call, 3)
        values[f"calls_{tag}_bound"] = _bound(b, target, undecided)
    if spec.method == "stun":
        values.update(calls_down_max=None, calls_down_failed_at=None, capacity_down_kbps=None,
                      calls_down_bound="not_measured", responder_pps_needed=None,
                      stun_server_pps=round(target * 1000.0 / spec.interval_ms))
    return values


def _bound(b: Bracket, target: int, undecided: bool) -> str:
    """exact: the limit was found; at_least: the target was carried (or down was capped by
    up, or time ran out before the limit was found)."""
    if b.hi is not None and not b.capped and b.lo < target and not undecided:
        return "exact"
    return "at_least"


def _ramp_error(spec: Spec, ramp: Ramp) -> ProbeError | None:
    if not ramp.steps:
        return error(ErrorKind.TIMEOUT, "no time for one load step before the deadline")
    first = ramp.steps[0]
    if first.rtt_median_ms is None:
        if spec.method == "stun":
            return error(ErrorKind.TIMEOUT, f"no STUN answer from {spec.host}:{spec.port}")
        return error(ErrorKind.TIMEOUT, f"no STAMP reply from {spec.host}:{spec.port} "
                     "(is a netcheck responder running there?)")
    return None
