"""Plumbing shared by the probes: the run context, deadlines, and Measurement building."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from netcheck.probes._names import Names, ResolveError
from netcheck.result import Confidence, ErrorKind, Measurement, ProbeError, Value

log = logging.getLogger("netcheck.probes")


def utc_now() -> str:
    """UTC ISO-8601 with milliseconds and a ``Z``, the document's one timestamp format."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Context:
    """What the runner hands every probe: one monotonic deadline (STYLE.md §3), a progress
    callback, what this machine allows (``caps``, from :mod:`netcheck.platform.capabilities`),
    and the run's shared name cache (``names``: each name resolved once per run). ``live``
    takes a running call's figures (:class:`netcheck.probes._stream_live.LiveCall`), at
    most once a second, from the loop (never from the sender thread)."""

    deadline: float
    progress: Callable[[str], None] = lambda _msg: None
    live: Callable[[Any], None] = lambda _snapshot: None
    caps: dict[str, bool] = field(default_factory=dict)
    names: Names = field(default_factory=Names)

    def remaining(self) -> float:
        """Seconds left before the deadline (never negative)."""
        return max(0.0, self.deadline - time.monotonic())

    def timeout(self, cap_s: float) -> float:
        """A socket timeout: ``cap_s`` or the time left, whichever is shorter."""
        return min(cap_s, self.remaining())


@dataclass(frozen=True)
class Why:
    """Why a measurement's confidence is not higher: catalogue key ``confidence_reason.<key>``
    and its millisecond params (reports translate it; the English text is kept beside it
    for readers of the JSON)."""

    key: str
    ms: dict[str, float] = field(default_factory=dict)

    def values(self) -> dict[str, Value]:
        from netcheck.i18n import Catalogue

        en = Catalogue("en")
        text = en.t(f"confidence_reason.{self.key}", **{k: en.param_qty(v, "ms") for k, v in self.ms.items()})
        return {"confidence_reason": text, "confidence_reason_key": self.key,
                "confidence_reason_ms": dict(self.ms)}


class Timer:
    """Start time (UTC text + monotonic) of one probe run, to stamp its Measurement."""

    def __init__(self) -> None:
        self.started_utc = utc_now()
        self._t0 = time.monotonic()

    def elapsed_s(self) -> float:
        return round(time.monotonic() - self._t0, 6)

    def measurement(
        self,
        *,
        id: str,
        probe: str,
        target: str,
        method: str,
        values: dict[str, Value] | None = None,
        series: dict[str, list[float | None]] | None = None,
        error: ProbeError | None = None,
        confidence: Confidence = Confidence.HIGH,
        confidence_reason: Why | None = None,
    ) -> Measurement:
        """``confidence_reason`` (why the confidence is not higher, and what to do) is kept
        in the values, so the document carries it beside the level."""
        return Measurement(
            id=id,
            probe=probe,
            target=target,
            method=method,
            started_utc=self.started_utc,
            duration_s=self.elapsed_s(),
            values={**(values or {}), **(confidence_reason.values() if confidence_reason else {})},
            series=series or {},
            error=error,
            confidence=confidence,
        )


async def resolve(ctx: Context, host: str, family: int = 0) -> tuple[tuple[int, str] | None, ProbeError | None]:
    """(family, address) of ``host`` from the run's name cache (an IP literal without DNS),
    or a DNS error; waits at most the probe's time left."""
    try:
        resolved = await ctx.names.resolve(host, wait_s=max(ctx.remaining(), 0.001))
        return resolved.first(family), None
    except ResolveError as exc:
        return None, error(ErrorKind.DNS, exc.detail)


def error(kind: ErrorKind, detail: str) -> ProbeError:
    return ProbeError(kind=kind, detail=detail)


def ms(seconds: float) -> float:
    """Seconds to milliseconds, rounded to the microsecond (what our clocks resolve)."""
    return round(seconds * 1000.0, 3)


def percentile(values: list[float], q: float) -> float | None:
    """Percentile ``q`` (0-100) of unsorted values, ``None`` for no data (type-7 linear
    interpolation, :func:`netcheck.analysis.stats.percentile`)."""
    from netcheck.analysis.stats import percentile as sorted_percentile

    return sorted_percentile(sorted(values), q / 100.0) if values else None


def compress_ranges(ports: list[int]) -> list[str]:
    """``[5060, 16384, 16385, 16386]`` -> ``["5060", "16384-16386"]``: how a technician
    wants to read a list of blocked ports."""
    out: list[str] = []
    for port in sorted(set(ports)):
        if out and _last_end(out[-1]) == port - 1:
            start = out[-1].split("-")[0]
            out[-1] = f"{start}-{port}"
        else:
            out.append(str(port))
    return out


def _last_end(item: str) -> int:
    return int(item.rsplit("-", 1)[-1])
