"""History aggregation: busy hour, worst windows, availability, failure shares.

Pure functions over the store's summary rows (:class:`netcheck.agent.store.RunRow`,
:class:`netcheck.agent.store.CheckRow`); no I/O, no clock, so every number in a trend report can
be recomputed from the rows it names. Definitions:

- **Per-hour-of-day profile**: runs grouped by the local hour they started in; per hour the
  median and 95th percentile (``netcheck.analysis.stats.percentile``, type 7) of the run's worst
  handover jitter and delay, the mean and maximum loss, the lowest MOS, and the share of
  completed runs that were NO-GO. The **busy hour** is the hour with the highest NO-GO
  share, ties broken by the highest p95 jitter: the hour a one-shot test at 10:00 misses.
- **Worst windows**: fixed windows (default one hour, aligned to the hour), ranked by NO-GO
  share, then worst jitter, then worst loss; only windows with a NO-GO or failed run count.
- **Availability of the handover point**: the share of runs in which every handover path
  answered (``runs.handover_up``), over runs where that is known. Runs that did not
  complete, or whose path probe was locally blocked, are not samples. It is compared with
  the profile's promise (stimme: 99.8 % per year, i.e. at most 17.5 h down per year); the
  resolution of a period is one sample, ``100 / samples`` percent, which the report says.
- **Fault segments by hour**: per local hour of day, how many runs the fault-location check
  blamed on each path segment (``fault_segment.<segment>`` rows of the store): whether the
  LAN, the site edge, the ISP or the provider degrades at the busy hour.
- **Failure share** of a check: runs in which it was FAIL / completed runs that contained
  it (a monitor run does not contain the LAN checks).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from netcheck.agent.store import CheckRow, RunRow
from netcheck.analysis.stats import percentile
from netcheck.result import Status

HOUR_S = 3600.0
#: (check id, title, status, number of runs), as ``Store.check_counts`` returns them
CheckCount = tuple[str, str, Status, int]
#: (run id, started ts, measurement id, metric name) of ``fault_segment.*`` indicator rows,
#: as ``Store.fault_segments`` returns them
SegmentRow = tuple[int, float, str, str]
YEAR_S = 365 * 86400.0


def local_hour(ts: float, tz: dt.tzinfo | None = None) -> int:
    """Hour of day of a UTC timestamp in ``tz`` (None: this machine's local time, with DST)."""
    return dt.datetime.fromtimestamp(ts, tz).hour


@dataclass(frozen=True)
class HourStats:
    hour: int
    runs: int
    completed: int
    nogo_share: float | None
    jitter_p50_ms: float | None
    jitter_p95_ms: float | None
    delay_p50_ms: float | None
    delay_p95_ms: float | None
    loss_mean_pct: float | None
    loss_max_pct: float | None
    mos_min: float | None


@dataclass(frozen=True)
class Window:
    start_ts: float
    end_ts: float
    runs: int
    nogo: int
    jitter_max_ms: float | None
    loss_max_pct: float | None
    mos_min: float | None
    failed_checks: tuple[tuple[str, int], ...]  # (check id, runs it failed in), most first


@dataclass(frozen=True)
class Availability:
    samples: int
    up: int
    down: int
    unknown: int
    pct: float | None
    promise_pct: float | None
    meets: bool | None
    resolution_pct: float | None
    allowed_down_per_year_h: float | None
    estimated_down_s: float | None  # down samples x median run interval


@dataclass(frozen=True)
class CheckShare:
    check_id: str
    title: str
    runs: int
    fail: int
    warn: int
    not_measured: int

    @property
    def fail_share(self) -> float:
        return self.fail / self.runs if self.runs else 0.0


@dataclass(frozen=True)
class Trend:
    since_ts: float
    until_ts: float
    profiles: tuple[str, ...]
    runs: int
    outcomes: dict[str, int]
    verdicts: dict[str, int]
    median_interval_s: float | None
    hours: tuple[HourStats, ...]
    busy_hour: int | None
    worst_windows: tuple[Window, ...]
    availability: Availability
    checks: tuple[CheckShare, ...]
    notes: tuple[str, ...] = field(default=())
    #: hour of day -> {segment: traced runs that blamed it} (``none``: a clean trace)
    fault_hours: dict[int, dict[str, int]] = field(default_factory=dict)


def build(rows: Sequence[RunRow], checks: Sequence[CheckCount], *, since_ts: float,
          until_ts: float, promise_pct: float | None = None,
          hour_of: Callable[[float], int] = local_hour, window_s: float = HOUR_S,
          worst_n: int = 5, notes: Sequence[str] = (), fault_segments: Sequence[SegmentRow] = ()) -> Trend:
    """The whole trend of a period from its stored rows (oldest first)."""
    completed = [r for r in rows if r.outcome == "completed"]
    interval = median_interval(rows)
    hours = hour_profile(rows, hour_of)
    return Trend(
        since_ts=since_ts, until_ts=until_ts,
        profiles=tuple(sorted({r.profile for r in rows})), runs=len(rows),
        outcomes=dict(Counter(r.outcome for r in rows)),
        verdicts=dict(Counter(r.verdict for r in completed if r.verdict)),
        median_interval_s=interval,
        hours=hours, busy_hour=busy_hour(hours),
        worst_windows=worst_windows(rows, window_s, worst_n),
        availability=availability(rows, promise_pct, interval),
        checks=check_shares(checks), notes=tuple(notes),
        fault_hours=fault_segments_by_hour(fault_segments, hour_of),
    )


def median_interval(rows: Sequence[RunRow]) -> float | None:
    gaps = sorted(b.started_ts - a.started_ts for a, b in itertools.pairwise(rows))
    return percentile(gaps, 0.5) if gaps else None


def _pct(values: list[float], fraction: float) -> float | None:
    return round(percentile(sorted(values), fraction), 3) if values else None


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def hour_profile(rows: Sequence[RunRow], hour_of: Callable[[float], int] = local_hour
                 ) -> tuple[HourStats, ...]:
    by_hour: dict[int, list[RunRow]] = defaultdict(list)
    for r in rows:
        by_hour[hour_of(r.started_ts)].append(r)
    return tuple(_hour(h, by_hour.get(h, [])) for h in range(24))


def _hour(hour: int, rows: list[RunRow]) -> HourStats:
    done = [r for r in rows if r.outcome == "completed"]
    jitter = [r.jitter_ms for r in done if r.jitter_ms is not None]
    delay = [r.delay_ms for r in done if r.delay_ms is not None]
    loss = [r.loss_pct for r in done if r.loss_pct is not None]
    mos = [r.mos for r in done if r.mos is not None]
    return HourStats(
        hour=hour, runs=len(rows), completed=len(done),
        nogo_share=_share(sum(r.verdict == "NO-GO" for r in done), len(done)),
        jitter_p50_ms=_pct(jitter, 0.5), jitter_p95_ms=_pct(jitter, 0.95),
        delay_p50_ms=_pct(delay, 0.5), delay_p95_ms=_pct(delay, 0.95),
        loss_mean_pct=round(sum(loss) / len(loss), 3) if loss else None,
        loss_max_pct=max(loss) if loss else None, mos_min=min(mos) if mos else None,
    )


def busy_hour(hours: Sequence[HourStats]) -> int | None:
    """The worst hour of the day (module docstring); None without completed runs."""
    ranked = [h for h in hours if h.completed]
    if not ranked:
        return None
    return max(ranked, key=lambda h: (h.nogo_share or 0.0, h.jitter_p95_ms or 0.0)).hour


def worst_windows(rows: Sequence[RunRow], window_s: float = HOUR_S, n: int = 5
                  ) -> tuple[Window, ...]:
    groups: dict[int, list[RunRow]] = defaultdict(list)
    for r in rows:
        groups[int(r.started_ts // window_s)].append(r)
    windows = [_window(k * window_s, window_s, g) for k, g in groups.items()]
    bad = [w for w in windows if w.nogo or w.failed_checks]
    bad.sort(key=lambda w: (-(w.nogo / w.runs), -(w.jitter_max_ms or 0.0),
                            -(w.loss_max_pct or 0.0), w.start_ts))
    return tuple(bad[:n])


def _window(start: float, length: float, rows: list[RunRow]) -> Window:
    jitter = [r.jitter_ms for r in rows if r.jitter_ms is not None]
    loss = [r.loss_pct for r in rows if r.loss_pct is not None]
    mos = [r.mos for r in rows if r.mos is not None]
    failed = Counter(c for r in rows for c in r.failed_checks)
    return Window(start_ts=start, end_ts=start + length, runs=len(rows),
                  nogo=sum(r.verdict == "NO-GO" for r in rows),
                  jitter_max_ms=max(jitter) if jitter else None,
                  loss_max_pct=max(loss) if loss else None, mos_min=min(mos) if mos else None,
                  failed_checks=tuple(sorted(failed.items(), key=lambda kv: (-kv[1], kv[0]))))


def availability(rows: Sequence[RunRow], promise_pct: float | None,
                 interval_s: float | None = None) -> Availability:
    up = sum(r.handover_up is True for r in rows)
    down = sum(r.handover_up is False for r in rows)
    samples = up + down
    pct = round(100.0 * up / samples, 3) if samples else None
    return Availability(
        samples=samples, up=up, down=down, unknown=len(rows) - samples, pct=pct,
        promise_pct=promise_pct,
        meets=None if pct is None or promise_pct is None else pct >= promise_pct,
        resolution_pct=round(100.0 / samples, 4) if samples else None,
        allowed_down_per_year_h=(None if promise_pct is None
                                 else round((100.0 - promise_pct) / 100.0 * YEAR_S / HOUR_S, 2)),
        estimated_down_s=down * interval_s if interval_s is not None else None,
    )


def count_checks(rows: Sequence[CheckRow]) -> list[CheckCount]:
    """Per-run check rows to (check id, title, status, runs), as ``Store.check_counts``."""
    n = Counter((r.check_id, r.title, r.status) for r in rows)
    return [(cid, title, status, k) for (cid, title, status), k in n.items()]


def check_shares(checks: Sequence[CheckCount]) -> tuple[CheckShare, ...]:
    """Per check id, most often failed first."""
    counts: dict[str, Counter[Status]] = defaultdict(Counter)
    titles: dict[str, str] = {}
    for cid, title, status, n in checks:
        counts[cid][status] += n
        titles[cid] = title
    shares = [CheckShare(cid, titles[cid], sum(n.values()), n[Status.FAIL], n[Status.WARN],
                         n[Status.NOT_MEASURED]) for cid, n in counts.items()]
    shares.sort(key=lambda s: (-s.fail_share, -s.fail, s.check_id))
    return tuple(shares)


def fault_segments_by_hour(rows: Sequence[SegmentRow], hour_of: Callable[[float], int] = local_hour
                           ) -> dict[int, dict[str, int]]:
    """Hour of day -> {segment: runs that blamed it} (``none`` = a clean trace), only hours
    with runs."""
    out: dict[int, Counter[str]] = defaultdict(Counter)
    for _run, ts, _measurement, name in rows:
        out[hour_of(ts)][name.removeprefix("fault_segment.")] += 1
    return {h: dict(c) for h, c in sorted(out.items())}


def worst_segment(counts: dict[str, int]) -> tuple[str, int, int] | None:
    """(segment blamed most, its runs, traced runs) of one hour; None without a blamed one."""
    blamed = {k: v for k, v in counts.items() if k != "none"}
    if not blamed:
        return None
    seg = max(sorted(blamed), key=blamed.__getitem__)
    return seg, blamed[seg], sum(counts.values())
