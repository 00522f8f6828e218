"""ICMP echo: round-trip delay, jitter and loss to one host (icmplib).

Why ICMP at all: it is the one measurement every provider's handover point and every
default gateway answers without a cooperating peer. Its limits are stated in the result:
one-way delay is *estimated* as RTT/2, and routers may deprioritise ICMP.

Privileges: raw ICMP sockets need root / Administrator / CAP_NET_RAW; Linux and macOS also
offer unprivileged "ping sockets" (Linux only within ``net.ipv4.ping_group_range``). We try
the privileged mode when the capabilities allow it, else the unprivileged one, else we
return a PERMISSION error saying which setting to grant.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from itertools import pairwise

from netcheck.analysis.stats import worst_sliding_loss
from netcheck.probes._common import Context, Timer, Why, error, ms, percentile, resolve
from netcheck.result import ErrorKind, Measurement, ProbeError, Value

#: The jitter statistic of this probe, named in its values (a short ping series would leave
#: RFC 3550's 1/16-gain estimator mostly in its start-up, so all |D| are averaged).
JITTER_STATISTIC = "mean |D| of consecutive round trips (RFC 3550 6.4.1 D, averaged)"

PERMISSION_HINT = (
    "ICMP needs raw sockets: run as root/Administrator, grant CAP_NET_RAW "
    "(setcap cap_net_raw+ep on the interpreter), or allow unprivileged ping sockets "
    "(sysctl net.ipv4.ping_group_range='0 2147483647')"
)


@dataclass(frozen=True)
class Spec:
    """Echo ``count`` requests to ``host`` every ``interval_s``; judge loss per ``window_s``."""

    id: str
    host: str
    count: int = 20
    interval_s: float = 0.2
    timeout_s: float = 1.0
    window_s: float | None = None
    payload_size: int = 56


@dataclass(frozen=True)
class Echo:
    """One request: its sequence number, send offset (s from start) and RTT (None = lost)."""

    seq: int
    sent_s: float
    rtt_ms: float | None


async def run(spec: Spec, ctx: Context) -> Measurement:
    """Resolve, open an ICMP socket, exchange echoes, summarise."""
    from icmplib import exceptions as icmp_exc

    timer = Timer()
    address, err = await _resolve(spec.host, ctx)
    if err:
        return timer.measurement(id=spec.id, probe="icmp", target=spec.host, method="icmp", error=err)
    try:
        echoes, method = await _exchange(address, spec, ctx)
    except icmp_exc.SocketPermissionError:
        err = error(ErrorKind.PERMISSION, PERMISSION_HINT)
        return timer.measurement(id=spec.id, probe="icmp", target=spec.host, method="icmp", error=err)
    except (icmp_exc.ICMPLibError, OSError) as exc:
        err = error(ErrorKind.UNREACHABLE, f"{spec.host}: {exc}")
        return timer.measurement(id=spec.id, probe="icmp", target=spec.host, method="icmp", error=err)
    values, series = summarize(echoes, spec.window_s)
    values["address"] = address
    err = error(ErrorKind.TIMEOUT, f"no echo reply from {address}") if not values["received"] else None
    return timer.measurement(
        id=spec.id, probe="icmp", target=spec.host, method=method, values=values,
        series=series, error=err, confidence="estimate" if not err else "none",
        confidence_reason=Why("icmp_rtt_half") if not err else None,
    )


async def _resolve(host: str, ctx: Context) -> tuple[str, ProbeError | None]:
    """The run's shared lookup (an IP literal never goes to DNS)."""
    addr, err = await resolve(ctx, host)
    return (addr[1] if addr else ""), err


async def _exchange(address: str, spec: Spec, ctx: Context) -> tuple[list[Echo], str]:
    """Send ``count`` echoes, one at a time, timed with ``time.perf_counter`` (fine-grained
    on every OS; ``time.monotonic`` steps by 15.6 ms on Windows before Python 3.13)."""
    from icmplib import AsyncSocket, ICMPRequest, ICMPv4Socket, ICMPv6Socket, is_ipv6_address
    from icmplib import exceptions as icmp_exc

    privileged = bool(ctx.caps.get("raw_icmp", True))
    family = ICMPv6Socket if is_ipv6_address(address) else ICMPv4Socket
    try:
        raw = family(privileged=privileged)
    except icmp_exc.SocketPermissionError:
        if not privileged:
            raise
        privileged = False
        raw = family(privileged=False)
    method = "icmp-privileged" if privileged else "icmp-unprivileged"
    echoes: list[Echo] = []
    # random, not derived from a memory address: identical processes (the agent's children,
    # parallel runs) lay out memory alike, and a raw socket sees every echo reply on the host
    ident = secrets.randbelow(0x10000)
    start = time.perf_counter()
    with AsyncSocket(raw) as sock:
        for seq in range(spec.count):
            if ctx.remaining() <= 0:
                break
            await _sleep_until(start + seq * spec.interval_s)
            request = ICMPRequest(address, id=ident, sequence=seq, payload_size=spec.payload_size)
            echoes.append(await _echo(sock, request, seq, start, ctx.timeout(spec.timeout_s)))
            ctx.progress(f"icmp {address}: {seq + 1}/{spec.count}")
    return echoes, method


async def _echo(sock: object, request: object, seq: int, start: float, timeout: float) -> Echo:
    from icmplib import exceptions as icmp_exc

    t0 = time.perf_counter()
    try:
        sock.send(request)  # type: ignore[attr-defined]
        reply = await sock.receive(request, max(timeout, 0.001))  # type: ignore[attr-defined]
        t1 = time.perf_counter()
        reply.raise_for_status()
        return Echo(seq, t0 - start, ms(t1 - t0))
    except (icmp_exc.TimeoutExceeded, icmp_exc.ICMPError):
        return Echo(seq, t0 - start, None)


async def _sleep_until(when: float) -> None:
    import asyncio

    delay = when - time.perf_counter()
    if delay > 0:
        await asyncio.sleep(delay)


def summarize(
    echoes: list[Echo], window_s: float | None
) -> tuple[dict[str, Value], dict[str, list[float | None]]]:
    """Loss, RTT percentiles and jitter of an echo series.

    ``jitter_ms`` is the mean absolute difference between the RTTs of consecutive replies
    (the |D(i-1,i)| of RFC 3550 §6.4.1, averaged instead of smoothed by 1/16, so that a
    short series is judged on all its samples). ``one_way_delay_ms`` is median RTT / 2.
    """
    rtts = [e.rtt_ms for e in echoes if e.rtt_ms is not None]
    sent, received = len(echoes), len(rtts)
    diffs = [abs(b - a) for a, b in pairwise(rtts)]
    median = percentile(rtts, 50)
    values: dict[str, Value] = {
        "sent": sent,
        "received": received,
        "loss_pct": round(100.0 * (sent - received) / sent, 3) if sent else None,
        "rtt_min_ms": min(rtts) if rtts else None,
        "rtt_median_ms": _r(median),
        "rtt_mean_ms": _r(sum(rtts) / received) if rtts else None,
        "rtt_p95_ms": _r(percentile(rtts, 95)),
        "rtt_max_ms": max(rtts) if rtts else None,
        "jitter_ms": _r(sum(diffs) / len(diffs)) if diffs else None,
        "jitter_statistic": JITTER_STATISTIC,
        "one_way_delay_ms": _r(median / 2) if median is not None else None,
    }
    if window_s:
        windows = loss_windows(echoes, window_s)
        values["loss_window_s"] = window_s
        values["loss_windows_pct"] = windows
        values.update(worst_window(echoes, window_s))
    return values, {"rtt_ms": [e.rtt_ms for e in echoes]}


def loss_windows(echoes: list[Echo], window_s: float) -> list[float]:
    """Loss in % per consecutive window of ``window_s`` by send time (VSE NET's "10 s burst
    interval" rule: one bad window fails)."""
    buckets: dict[int, list[bool]] = {}
    for e in echoes:
        buckets.setdefault(int(e.sent_s // window_s), []).append(e.rtt_ms is None)
    return [round(100.0 * sum(b) / len(b), 3) for _, b in sorted(buckets.items())]


def worst_window(echoes: list[Echo], window_s: float) -> dict[str, Value]:
    """The worst sliding window of ``window_s`` (``stats.worst_sliding_loss``: the rule
    holds for any interval, not only for intervals counted from the start) and where it was."""
    ordered = sorted(echoes, key=lambda e: e.sent_s)
    w = worst_sliding_loss([round(e.sent_s * 1e9) for e in ordered], [e.rtt_ms is None for e in ordered], window_s)
    if w is None:
        return {"loss_worst_window_pct": None}
    return {
        "loss_worst_window_pct": _r(w.loss_pct),
        "loss_worst_window_start_s": _r(w.start_s),
        "loss_worst_window_end_s": _r(w.end_s),
        "loss_worst_window_partial": w.partial,
    }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
