"""Bench: one year of 15-minute runs in the agent's store; time the history queries.

Builds 35,040 result documents from one real demo result (``netcheck run --profile demo
--quick --json``, run here once on loopback), varying started time, jitter, loss, MOS and
verdict per run, and stores them through ``Store.put`` (the agent's own path). Then times:
``Store.runs`` for 7 and 365 days (what ``netcheck history`` queries), the trend report
aggregation for 7 and 365 days, and the write cost of synchronous=FULL vs NORMAL.

Run: python bench/agent_history.py [--runs 35040] [--db /tmp/netcheck-year.db] [--keep]
     python bench/agent_history.py --reuse --db /tmp/netcheck-year.db [--before REV]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgspec

from netcheck.agent import store as st
from netcheck.agent import trends
from netcheck.result import RunResult, Status, Verdict, from_json

STEP = 900.0
NEWLINE = b"\n"


def demo_document() -> RunResult:
    out = subprocess.run([sys.executable, "-m", "netcheck", "run", "--profile", "demo", "--quick",
                          "--json", "--out", tempfile.mkdtemp()], capture_output=True, check=False)
    return from_json(out.stdout)


def variant(base: RunResult, ts: float, rng: random.Random) -> RunResult:
    """The demo document with this run's time and plausible values (busy hour 16:00 worse)."""
    busy = time.gmtime(ts).tm_hour == 16
    jitter = rng.uniform(18, 40) if busy else rng.uniform(0.5, 6)
    loss = rng.uniform(0.5, 3) if busy and rng.random() < 0.3 else 0.0
    measurements = []
    for m in base.measurements:
        if m.probe == "stream":
            values = {**m.values, "jitter_ms": round(jitter, 3), "loss_pct": round(loss, 3),
                      "mos": round(4.4 - jitter / 40 - loss / 3, 2)}
            m = msgspec.structs.replace(m, values=values)
        measurements.append(m)
    checks = [msgspec.structs.replace(c, status=Status.FAIL) if busy and "jitter" in c.id
              and c.group == "end_to_end" and jitter > 20 else c for c in base.checks]
    verdict = Verdict.NO_GO if any(c.status is Status.FAIL for c in checks) else base.verdict
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ts))
    env = msgspec.structs.replace(base.environment, started_utc=stamp, finished_utc=stamp)
    return msgspec.structs.replace(base, verdict=verdict, measurements=measurements,
                                   checks=checks, environment=env)


def fill(db: Path, n: int, base: RunResult, now: float) -> float:
    rng = random.Random(9)
    t0 = time.perf_counter()
    with st.Store(db, synchronous="OFF") as s:  # bulk fill; the agent itself uses FULL
        for i in range(n):
            ts = now - (n - i) * STEP
            s.put(st.RunRecord(started_ts=ts, finished_ts=ts + 12, kind="full",
                               outcome=st.Outcome.COMPLETED, profile="demo", host="bench",
                               result=variant(base, ts, rng)))
    return time.perf_counter() - t0


def timed(fn, repeat: int = 7) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), out


def write_cost(base: RunResult, mode: str, n: int = 50) -> float:
    with tempfile.TemporaryDirectory() as d, st.Store(Path(d) / "w.db", synchronous=mode) as s:
        rng = random.Random(1)
        t0 = time.perf_counter()
        for i in range(n):
            s.put(st.RunRecord(started_ts=i * STEP, finished_ts=i * STEP + 1, kind="full",
                               outcome=st.Outcome.COMPLETED, profile="demo", host="b",
                               result=variant(base, i * STEP, rng)))
        return (time.perf_counter() - t0) * 1000 / n


def timed_children(commands: dict[str, tuple[list[str], dict[str, str] | None]], repeat: int
                    ) -> dict[str, tuple[list[float], list[float], bytes]]:
    """Each command ``repeat`` times, interleaved (same load for all): wall and CPU ms."""
    out: dict[str, tuple[list[float], list[float], bytes]] = {k: ([], [], b"") for k in commands}
    for _ in range(repeat):
        for name, (argv, env) in commands.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            # from a neutral directory: ``-m`` puts the working directory first on sys.path
            done = subprocess.run(argv, stdout=subprocess.PIPE, env=env, check=True, cwd=tempfile.gettempdir())
            wall = (time.perf_counter() - t0) * 1e3
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1e3
            walls, cpus, _ = out[name]
            walls.append(wall)
            cpus.append(cpu)
            out[name] = (walls, cpus, done.stdout)
    return out


def _checkout(rev: str) -> Path:
    """``netcheck/`` of git revision ``rev`` in a temporary directory, byte-compiled (as an
    installed package is), for the before/after comparison in one run."""
    root = Path(tempfile.mkdtemp(prefix="netcheck-before-"))
    archive = subprocess.run(["git", "archive", rev, "netcheck"], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive, check=True)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(root / "netcheck")], check=True,
                   stdout=subprocess.DEVNULL)
    return root


def whole_process(db: Path, before: str | None = None, repeat: int = 9) -> None:
    """``netcheck history --since 365d`` as a user runs it (byte-compiled, as installed),
    beside sqlite3 printing the same summary columns of the same rows (the floor: no Python
    start-up, no formatting) and, with ``before``, the same command of that git revision;
    interleaved, so all see the same load. Median wall and CPU (user + system) ms."""
    # the whole package the command runs (this machine sets PYTHONDONTWRITEBYTECODE: what is not
    # compiled here is compiled again on every run)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(st.__file__).parents[1])], check=True,
                   stdout=subprocess.DEVNULL)
    since = time.time() - 365 * 86400
    cmd = [sys.executable, "-m", "netcheck", "history", "--since", "365d", "--store", str(db.resolve())]
    commands: dict[str, tuple[list[str], dict[str, str] | None]] = {"netcheck": (cmd, None)}
    old = _checkout(before) if before else None
    if old is not None:
        commands[f"netcheck {before}"] = (cmd, {**os.environ, "PYTHONPATH": str(old)})
    if shutil.which("sqlite3"):
        sql = (f"SELECT id, started_ts, kind, verdict, delay_ms, jitter_ms, loss_pct, mos, handover_up, "
               f"failed_checks FROM runs WHERE started_ts >= {since} ORDER BY started_ts")
        commands["sqlite3"] = (["sqlite3", "-readonly", str(db.resolve()), sql], None)
    try:
        results = timed_children(commands, repeat)
    finally:
        if old is not None:
            shutil.rmtree(old)
    load = os.getloadavg()[0]
    for name, (walls, cpus, _) in results.items():
        print(f"whole process, history --since 365d: {name}: wall {statistics.median(walls):.0f} ms, "
              f"CPU {statistics.median(cpus):.0f} ms (median of {repeat}; wall min {min(walls):.0f} ms)")
    if old is not None:
        ours = results["netcheck"][2]
        same = ours == results[f"netcheck {before}"][2]
        print(f"output identical to {before}'s: {'yes' if same else 'NO'} ({ours.count(NEWLINE)} lines); "
              f"load average {load:.2f}")


def query_ms(db: Path, now: float, repeat: int = 7) -> tuple[float, int]:
    """The ``history --since 365d`` query alone (extremes + every line's cells, as the
    command streams them), in this process: median ms of ``repeat``, and the rows."""
    since = now - 365 * 86400
    with st.Store(db) as s:
        def query() -> int:
            with s.snapshot():
                s.history_extent(since, now)
                return sum(len(rows) for rows in s.history_lines(since, now))

        ms, n = timed(query, repeat)
    return ms, int(n)  # type: ignore[call-overload]


def in_process(db: Path, now: float) -> None:
    """The query alone and the whole table text, in this process: median of 7."""
    from netcheck.reports import history as hist

    since = now - 365 * 86400
    ms, n = query_ms(db, now)
    print(f"history --since 365d query in-process (extremes + {n} rows of cells): {ms:.1f} ms (median of 7)")
    with st.Store(db) as s:
        ms, _ = timed(lambda: "".join(hist.table(s, since, now)))
        print(f"history --since 365d table text in-process (query + formatting): {ms:.1f} ms (median of 7)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=35_040)
    ap.add_argument("--db", type=Path, default=Path(tempfile.gettempdir()) / "netcheck-year.db")
    ap.add_argument("--reuse", action="store_true", help="time an existing --db (no fill, no prune)")
    ap.add_argument("--before", metavar="REV", help="also time `history` of this git revision (same run)")
    ap.add_argument("--keep", action="store_true", help="leave the year in --db (skip the prune timing)")
    args = ap.parse_args()
    if args.reuse:
        in_process(args.db, time.time())
        whole_process(args.db, args.before)
        return
    base = demo_document()
    raw = len(msgspec.json.encode(base))
    print(f"demo document: {raw} bytes JSON, {len(st.encode_document(base))} bytes stored (zlib)")
    now = time.time()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{args.db}{suffix}").unlink(missing_ok=True)
    print(f"fill {args.runs} runs: {fill(args.db, args.runs, base, now):.1f} s; "
          f"file {args.db.stat().st_size / 1e6:.1f} MB")
    with st.Store(args.db) as s:
        for days in (7, 365):
            since = now - days * 86400
            ms, rows = timed(lambda since=since: s.runs(since, now))
            print(f"history --since {days}d: {len(rows)} rows, {ms:.1f} ms (median of 7)")  # type: ignore[arg-type]
        for days in (7, 365):
            since = now - days * 86400

            def report(since: float = since) -> trends.Trend:
                return trends.build(s.runs(since, now), s.check_counts(since, now),
                                    since_ts=since, until_ts=now, promise_pct=99.8)

            ms, t = timed(report, 3)
            print(f"trend report data --since {days}d: {ms:.0f} ms (median of 3), "
                  f"busy hour {t.busy_hour}")  # type: ignore[union-attr]
    in_process(args.db, now)
    whole_process(args.db, args.before)
    if args.keep:
        return
    with st.Store(args.db) as s:
        t0 = time.perf_counter()
        s.prune(now - 30 * 86400)
        print(f"retention prune to 30 d: {(time.perf_counter() - t0):.1f} s")
    for mode in ("FULL", "NORMAL"):
        print(f"put() with synchronous={mode}: {write_cost(base, mode):.2f} ms per run")


if __name__ == "__main__":
    main()
