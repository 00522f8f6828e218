"""The agent's history: every run's result document plus extracted rows, in SQLite.

Durability contract: :meth:`Store.put` returns only after the run's transaction is
committed with ``synchronous=FULL`` in WAL mode, i.e. after the WAL has been fsync'ed
(https://www.sqlite.org/pragma.html#pragma_synchronous: in WAL mode NORMAL may lose the
last transactions on power loss, FULL does not). So "stored" as reported by the agent
survives a kill -9 *and* a power cut; the cost is one fsync per run (measured in
bench/RESULTS.md, ## Agent), which is nothing at one run per 15 minutes.

One transaction per run: the compressed document, one summary row (what ``history``
lists, so a year of runs is one indexed range scan), per-measurement metric rows and
per-check status rows (what the trend report aggregates without decoding documents).
The schema is versioned with ``PRAGMA user_version``; :data:`SCHEMA_VERSION` is the
version this code writes, and older files are migrated forward on open.
"""

from __future__ import annotations

import contextlib
import enum
import os
import sqlite3
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:  # imported where used: ``netcheck history`` needs neither (issue 22)
    from netcheck.result import Measurement, RunResult, Status

SCHEMA_VERSION = 1
#: Measurement values kept as metric rows (units in the names, STYLE.md §8); everything
#: else stays in the document only, which keeps a year of runs small.
METRIC_NAMES = (
    "one_way_delay_ms", "rtt_median_ms", "rtt_p95_ms", "jitter_ms", "loss_pct",
    "loss_worst_window_pct", "mos", "resolve_ms", "connect_median_ms",
)
#: Probe error kinds that mean "the far end did not answer" (an outage), as opposed to a
#: local limitation (permission, unsupported) that says nothing about availability.
OUTAGE_KINDS = frozenset({"timeout", "unreachable", "refused", "reset", "dns"})
#: Check groups whose evidence is a handover (internet) path.
HANDOVER_GROUPS = ("end_to_end", "handover")

_SCHEMA_V1 = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    started_ts REAL NOT NULL,          -- UTC epoch seconds
    finished_ts REAL NOT NULL,
    duration_s REAL NOT NULL,
    kind TEXT NOT NULL,                -- full | monitor
    outcome TEXT NOT NULL,             -- completed | failed | abandoned
    profile TEXT NOT NULL,
    host TEXT NOT NULL,
    verdict TEXT,                      -- NULL unless completed
    delay_ms REAL,                     -- worst handover path of the run (NULL = no data)
    jitter_ms REAL,
    loss_pct REAL,
    mos REAL,
    handover_up INTEGER,               -- 1 all handover paths answered, 0 one did not, NULL unknown
    n_fail INTEGER NOT NULL DEFAULT 0,
    n_warn INTEGER NOT NULL DEFAULT 0,
    n_not_measured INTEGER NOT NULL DEFAULT 0,
    failed_checks TEXT NOT NULL DEFAULT '',
    error TEXT
);
CREATE INDEX runs_started ON runs(started_ts);
-- documents apart from the summary rows: a year of runs scans ~10 MB of summaries, not
-- ~300 MB of interleaved documents
CREATE TABLE documents (
    run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    document BLOB NOT NULL             -- zlib(compact JSON of the RunResult)
);
CREATE TABLE series (id INTEGER PRIMARY KEY, measurement TEXT NOT NULL, name TEXT NOT NULL,
                     UNIQUE (measurement, name));
CREATE TABLE metrics (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    series_id INTEGER NOT NULL REFERENCES series(id),
    value REAL NOT NULL,
    PRIMARY KEY (run_id, series_id)
) WITHOUT ROWID;
CREATE TABLE check_names (id INTEGER PRIMARY KEY, check_id TEXT NOT NULL UNIQUE, title TEXT);
CREATE TABLE checks (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    check_ref INTEGER NOT NULL REFERENCES check_names(id),
    status INTEGER NOT NULL,           -- index into netcheck.result.Status
    required INTEGER NOT NULL,
    PRIMARY KEY (run_id, check_ref)
) WITHOUT ROWID;
CREATE TABLE events (id INTEGER PRIMARY KEY, ts REAL NOT NULL, kind TEXT NOT NULL,
                     detail TEXT NOT NULL);
CREATE INDEX events_ts ON events(ts);
"""
_MIGRATIONS = {1: _SCHEMA_V1}


class StoreError(Exception):
    """The store cannot be used (newer schema, not a database, locked by another agent)."""


class Outcome(enum.StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"  # the assessment raised or its process died: no document
    ABANDONED = "abandoned"  # stopped at its deadline or at shutdown


@dataclass(frozen=True)
class RunRecord:
    """What the agent stores for one scheduled run (``result`` only when completed)."""

    started_ts: float
    finished_ts: float
    kind: str
    outcome: Outcome
    profile: str
    host: str
    result: RunResult | None = None
    error: str | None = None


class RunRow(NamedTuple):
    """One line of ``history``: the summary columns of a stored run. A NamedTuple, not a
    frozen dataclass: ``history --since 365d`` builds 35,040 of them, and a tuple is built
    ~4x faster (issue 22: the whole command within 250 ms)."""

    id: int
    started_ts: float
    duration_s: float
    kind: str
    outcome: str
    profile: str
    host: str
    verdict: str | None
    delay_ms: float | None
    jitter_ms: float | None
    loss_pct: float | None
    mos: float | None
    handover_up: bool | None
    n_fail: int
    n_warn: int
    n_not_measured: int
    failed_checks: tuple[str, ...]
    error: str | None


@dataclass(frozen=True)
class CheckRow:
    run_id: int
    check_id: str
    title: str
    status: Status
    required: bool


@dataclass(frozen=True)
class Event:
    ts: float
    kind: str
    detail: str


_ROW_COLUMNS = (
    "id, started_ts, duration_s, kind, outcome, profile, host, verdict, delay_ms, jitter_ms, "
    "loss_pct, mos, handover_up, n_fail, n_warn, n_not_measured, failed_checks, error"
)


class HistoryExtent(NamedTuple):
    """Runs in a period and the extremes the ``history`` table's widths come from: the
    largest id, the longest kind and result, (min, max) of delay, jitter, loss and MOS
    (None when all NULL), and the first and last start (epoch seconds)."""

    runs: int
    max_id: int | None
    kind_len: int | None
    result_len: int | None
    numbers: tuple[tuple[float | None, float | None], ...]
    first_ts: float | None
    last_ts: float | None


#: The ``history`` table's text cells as SQL. Kind and result are the agent's own words
#: (full/monitor, verdict or outcome); the last cell holds error text from the run, in which
#: a newline is shown as ``\x0a`` (as :func:`netcheck.textsafe.visible` shows it): a stored
#: line break must not forge a line.
_H_KIND = "kind"
_H_RESULT = "coalesce(verdict, outcome)"
_H_UP = "CASE handover_up WHEN 1 THEN 'yes' WHEN 0 THEN 'NO' ELSE '-' END"
_H_TAIL = ("replace(CASE WHEN coalesce(failed_checks, '') != '' THEN replace(failed_checks, ',', ' ')"
           " ELSE coalesce(error, '') END, char(10), '\\x0a')")


def _until(until_ts: float | None) -> float:
    """The end of a [since, until) period; None: no end."""
    return until_ts if until_ts is not None else 1e18


class Store:
    """One SQLite file in WAL mode; one writer (the agent, see :func:`exclusive_lock`),
    any number of readers (``history``, ``report``)."""

    def __init__(self, path: Path | str, *, synchronous: str = "FULL") -> None:
        self.path = Path(path)
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=10.0)
            self._configure(synchronous)
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from None

    def _error(self, exc: sqlite3.Error) -> StoreError:
        """One clear line for the errors a file system causes (issue 21)."""
        code = getattr(exc, "sqlite_errorcode", None)
        if code == sqlite3.SQLITE_FULL or (code is not None and code & 0xFF == sqlite3.SQLITE_IOERR
                                           and _no_space(self.path)):
            return StoreError(f"{self.path}: the file system is full; nothing was stored "
                              "(free space, then restart)")
        if (code is not None and code & 0xFF == sqlite3.SQLITE_READONLY) or _read_only(self.path):
            return StoreError(f"{self.path}: the store is read-only (file system or permissions); "
                              "nothing was stored")
        return StoreError(f"{self.path}: {exc}")

    def _configure(self, synchronous: str) -> None:
        # auto_vacuum must be set before the first table exists; it lets retention hand
        # pages back to the file system in small steps (PRAGMA incremental_vacuum).
        self.db.execute("PRAGMA auto_vacuum=INCREMENTAL")
        mode = self.db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise StoreError(f"{self.path}: cannot switch to WAL (journal_mode={mode})")
        if synchronous.upper() not in ("FULL", "NORMAL", "OFF", "EXTRA"):
            raise ValueError(f"synchronous must be FULL/NORMAL/OFF/EXTRA (got {synchronous!r})")
        self.db.execute(f"PRAGMA synchronous={synchronous.upper()}")
        self.db.execute("PRAGMA foreign_keys=ON")

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path}: store schema {version} is newer than this netcheck "
                             f"({SCHEMA_VERSION}); upgrade netcheck")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self.transaction():
                for statement in _MIGRATIONS[target].split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version={target}")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error): the write lock is taken up front,
        so a concurrent reader never makes the commit fail half way. A full or read-only
        file system surfaces as :class:`StoreError` after the rollback: all of the
        transaction or nothing, never a partial row."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        try:
            yield self.db
            self.db.execute("COMMIT")
        except BaseException as exc:
            if self.db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self.db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise self._error(exc) from None
            raise

    # ------------------------------------------------------------------ writing

    def put(self, record: RunRecord) -> int:
        """Store one run in one transaction; the returned id is durable (module docstring)."""
        summary = summarize(record.result)
        doc = encode_document(record.result) if record.result is not None else None
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO runs (started_ts, finished_ts, duration_s, kind, outcome, profile,"
                " host, verdict, delay_ms, jitter_ms, loss_pct, mos, handover_up, n_fail, n_warn,"
                " n_not_measured, failed_checks, error)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (record.started_ts, record.finished_ts,
                 round(record.finished_ts - record.started_ts, 3), record.kind,
                 record.outcome.value, record.profile, record.host, *summary, record.error),
            )
            run_id = int(cur.lastrowid or 0)
            if record.result is not None:
                db.execute("INSERT INTO documents VALUES (?,?)", (run_id, doc))
                self._put_rows(run_id, record.result)
        return run_id

    def _put_rows(self, run_id: int, result: RunResult) -> None:
        rows = [(run_id, self._series_id(mid, name), value)
                for mid, name, value in metric_rows(result)]
        self.db.executemany("INSERT INTO metrics VALUES (?,?,?)", rows)
        codes = _status_codes()
        checks = [(run_id, self._check_ref(c.id, c.title), codes[c.status], int(c.required))
                  for c in result.checks]
        self.db.executemany("INSERT OR REPLACE INTO checks VALUES (?,?,?,?)", checks)

    def _series_id(self, measurement: str, name: str) -> int:
        self.db.execute("INSERT OR IGNORE INTO series (measurement, name) VALUES (?,?)",
                        (measurement, name))
        row = self.db.execute("SELECT id FROM series WHERE measurement=? AND name=?",
                              (measurement, name)).fetchone()
        return int(row[0])

    def _check_ref(self, check_id: str, title: str) -> int:
        self.db.execute("INSERT OR IGNORE INTO check_names (check_id, title) VALUES (?,?)",
                        (check_id, title))
        self.db.execute("UPDATE check_names SET title=? WHERE check_id=? AND title IS NOT ?",
                        (title, check_id, title))
        row = self.db.execute("SELECT id FROM check_names WHERE check_id=?", (check_id,)).fetchone()
        return int(row[0])

    def interrupted_runs(self) -> list[Event]:
        """``run_start`` notes without a stored run of the same start time: runs that were
        under way when the agent died (kill -9, crash, power loss)."""
        rows = self.db.execute(
            "SELECT ts, kind, detail FROM events e WHERE kind = 'run_start' AND NOT EXISTS"
            " (SELECT 1 FROM runs r WHERE r.started_ts = e.ts) ORDER BY ts").fetchall()
        return [Event(float(r[0]), str(r[1]), str(r[2])) for r in rows]

    def event(self, kind: str, detail: str, ts: float | None = None) -> None:
        """Note something about the agent itself (start, stop, clock jump, verdict change)."""
        with self.transaction() as db:
            db.execute("INSERT INTO events (ts, kind, detail) VALUES (?,?,?)",
                       (time.time() if ts is None else ts, kind, detail))

    def prune(self, older_than_ts: float, batch: int = 500) -> int:
        """Retention: delete runs started before ``older_than_ts`` in small transactions
        (the write lock is held for milliseconds, so readers and the next run never wait),
        then hand freed pages back. Returns the number of runs deleted."""
        deleted = 0
        while True:
            with self.transaction() as db:
                n = db.execute(
                    "DELETE FROM runs WHERE id IN (SELECT id FROM runs WHERE started_ts < ?"
                    " ORDER BY started_ts LIMIT ?)", (older_than_ts, batch)).rowcount
                db.execute("DELETE FROM events WHERE ts < ?", (older_than_ts,))
            deleted += n
            if n < batch:
                break
        if deleted:
            self.db.execute("PRAGMA incremental_vacuum")
        return deleted

    # ------------------------------------------------------------------ reading

    def runs(self, since_ts: float = 0.0, until_ts: float | None = None) -> list[RunRow]:
        """Summary rows of runs started in [since_ts, until_ts), oldest first."""
        rows = self.db.execute(
            f"SELECT {_ROW_COLUMNS} FROM runs WHERE started_ts >= ? AND started_ts < ?"
            " ORDER BY started_ts", (since_ts, _until(until_ts)))
        return [_run_row(r) for r in rows]

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """A read transaction: every query inside sees one committed state of the file
        (WAL), so a run the agent stores meanwhile cannot appear in one query and not in
        the next (``history``: the column widths and the lines)."""
        self.db.execute("BEGIN")
        try:
            yield
        finally:
            if self.db.in_transaction:
                self.db.execute("COMMIT")

    def history_extent(self, since_ts: float = 0.0, until_ts: float | None = None) -> HistoryExtent:
        """What the ``history`` table's column widths depend on, for runs started in
        [since_ts, until_ts), aggregated in SQL (no row leaves SQLite)."""
        row = self.db.execute(
            f"SELECT count(*), max(id), max(length({_H_KIND})), max(length({_H_RESULT})),"
            " min(delay_ms), max(delay_ms), min(jitter_ms), max(jitter_ms), min(loss_pct), max(loss_pct),"
            " min(mos), max(mos), min(started_ts), max(started_ts)"
            " FROM runs WHERE started_ts >= ? AND started_ts < ?",
            (since_ts, _until(until_ts))).fetchone()
        return HistoryExtent(row[0], row[1], row[2], row[3], tuple(zip(row[4:12:2], row[5:12:2], strict=True)),
                             row[12], row[13])

    def history_lines(self, since_ts: float = 0.0, until_ts: float | None = None, *, local_time: bool = True,
                      chunk: int = 4096) -> Iterator[list[tuple[Any, ...]]]:
        """The ``history`` table's cells, oldest first, in chunks (streamed, never all in
        memory): (null mask, id, start, kind, result, delay_ms, jitter_ms, loss_pct, mos,
        handover up as yes/NO/-, failed check ids or the error). The null mask has bit k
        set when number k is NULL (then the cell is "-"). ``local_time``: the start as
        this machine's local "YYYY-MM-DD HH:MM:SS" (SQLite's datetime in C, localtime_r as
        Python's ``time.localtime``; the caller checks the range it is exact in), else the
        epoch seconds. Newlines in the last cell come back as ``\\x0a`` (one table line
        per run, whatever an error message holds)."""
        # datetime() is strftime('%Y-%m-%d %H:%M:%S', ...) without parsing a format per row:
        # 22 vs 34 ms for a year of runs (issue 22)
        start = "datetime(CAST(started_ts AS INTEGER), 'unixepoch', 'localtime')" if local_time else "started_ts"
        cursor = self.db.execute(
            "SELECT (delay_ms IS NULL) + 2 * (jitter_ms IS NULL) + 4 * (loss_pct IS NULL) + 8 * (mos IS NULL),"
            f" id, {start}, {_H_KIND}, {_H_RESULT}, coalesce(delay_ms, '-'), coalesce(jitter_ms, '-'),"
            f" coalesce(loss_pct, '-'), coalesce(mos, '-'), {_H_UP}, {_H_TAIL}"
            " FROM runs WHERE started_ts >= ? AND started_ts < ? ORDER BY started_ts",
            (since_ts, _until(until_ts)))
        while rows := cursor.fetchmany(chunk):
            yield rows

    def last_run(self, *, completed: bool = False, kind: str | None = None) -> RunRow | None:
        where = ["1"]
        params: list[Any] = []
        if completed:
            where.append("outcome='completed'")
        if kind:
            where.append("kind=?")
            params.append(kind)
        row = self.db.execute(f"SELECT {_ROW_COLUMNS} FROM runs WHERE {' AND '.join(where)}"
                              " ORDER BY started_ts DESC, id DESC LIMIT 1", params).fetchone()
        return _run_row(row) if row else None

    def ids(self) -> set[int]:
        return {int(r[0]) for r in self.db.execute("SELECT id FROM runs")}

    def document(self, run_id: int) -> RunResult | None:
        row = self.db.execute("SELECT document FROM documents WHERE run_id=?",
                              (run_id,)).fetchone()
        if row is None or row[0] is None:
            return None
        return decode_document(row[0])

    def check_rows(self, since_ts: float = 0.0, until_ts: float | None = None) -> list[CheckRow]:
        rows = self.db.execute(
            "SELECT c.run_id, n.check_id, n.title, c.status, c.required FROM checks c"
            " JOIN runs r ON r.id = c.run_id JOIN check_names n ON n.id = c.check_ref"
            " WHERE r.started_ts >= ? AND r.started_ts < ? ORDER BY r.started_ts",
            (since_ts, _until(until_ts)))
        statuses = _statuses()
        return [CheckRow(r[0], r[1], r[2] or r[1], statuses[r[3]], bool(r[4])) for r in rows]

    def check_counts(self, since_ts: float = 0.0, until_ts: float | None = None
                     ) -> list[tuple[str, str, Status, int]]:
        """(check id, title, status, runs) over a period, counted in SQL: a year of checks
        (~400,000 rows) is aggregated without building a Python object per row."""
        rows = self.db.execute(
            "SELECT n.check_id, n.title, c.status, count(*) FROM runs r"
            " JOIN checks c ON c.run_id = r.id JOIN check_names n ON n.id = c.check_ref"
            " WHERE r.started_ts >= ? AND r.started_ts < ? GROUP BY c.check_ref, c.status",
            (since_ts, _until(until_ts)))
        statuses = _statuses()
        return [(str(a), str(b or a), statuses[c], int(d)) for a, b, c, d in rows]

    def metric_series(self, name: str, since_ts: float = 0.0,
                      until_ts: float | None = None) -> list[tuple[int, float, str, float]]:
        """(run_id, started_ts, measurement, value) of one metric name, oldest first."""
        rows = self.db.execute(
            "SELECT m.run_id, r.started_ts, s.measurement, m.value FROM metrics m"
            " JOIN series s ON s.id = m.series_id JOIN runs r ON r.id = m.run_id"
            " WHERE s.name = ? AND r.started_ts >= ? AND r.started_ts < ? ORDER BY r.started_ts",
            (name, since_ts, _until(until_ts)))
        return [(int(a), float(b), str(c), float(d)) for a, b, c, d in rows]

    def fault_segments(self, since_ts: float = 0.0, until_ts: float | None = None
                       ) -> list[tuple[int, float, str, str]]:
        """(run_id, started_ts, trace measurement, ``fault_segment.<segment>``), oldest first."""
        rows = self.db.execute(
            "SELECT m.run_id, r.started_ts, s.measurement, s.name FROM metrics m"
            " JOIN series s ON s.id = m.series_id JOIN runs r ON r.id = m.run_id"
            " WHERE s.name LIKE 'fault\\_segment.%' ESCAPE '\\' AND r.started_ts >= ? AND r.started_ts < ?"
            " ORDER BY r.started_ts",
            (since_ts, _until(until_ts)))
        return [(int(a), float(b), str(c), str(d)) for a, b, c, d in rows]

    def events(self, since_ts: float = 0.0) -> list[Event]:
        rows = self.db.execute("SELECT ts, kind, detail FROM events WHERE ts >= ? ORDER BY ts, id",
                               (since_ts,))
        return [Event(float(a), str(b), str(c)) for a, b, c in rows]

    def integrity_check(self) -> str:
        return str(self.db.execute("PRAGMA integrity_check").fetchone()[0])


def _run_row(r: Sequence[Any]) -> RunRow:
    failed = tuple(x for x in (r[16] or "").split(",") if x)
    up = None if r[12] is None else bool(r[12])
    return RunRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], up,
                  r[13], r[14], r[15], failed, r[17])


# ---------------------------------------------------------------------- extraction


def _statuses() -> list[Status]:
    """Check statuses in the order their index is stored (``checks.status``)."""
    from netcheck.result import Status

    return list(Status)


def _status_codes() -> dict[Status, int]:
    return {s: i for i, s in enumerate(_statuses())}


def encode_document(result: RunResult) -> bytes:
    """Compact JSON, zlib level 6: a demo document shrinks from ~23 kB to ~6 kB."""
    import msgspec

    return zlib.compress(msgspec.json.encode(result), 6)


def decode_document(blob: bytes) -> RunResult:
    import msgspec

    from netcheck.result import RunResult

    return msgspec.json.decode(zlib.decompress(blob), type=RunResult)


def handover_measurements(result: RunResult) -> list[Measurement]:
    """The measurements the evaluation used for handover/end-to-end paths (their checks'
    evidence), so the store needs no profile to know which targets are handover points."""
    ids = {e for c in result.checks if c.group in HANDOVER_GROUPS for e in c.evidence}
    return [m for m in result.measurements if m.id in ids]


def path_up(m: Measurement) -> bool | None:
    """Did the far end of a path answer? None when a local limit (permission,
    unsupported probe) means the run says nothing about the far end."""
    if m.ok:
        received = m.values.get("received")
        return True if received is None else bool(received)
    return False if m.error is not None and m.error.kind.value in OUTAGE_KINDS else None


SummaryCols = tuple[str | None, float | None, float | None, float | None, float | None,
                    int | None, int, int, int, str]


def summarize(result: RunResult | None) -> SummaryCols:
    """The ``runs`` summary columns: verdict, worst handover delay/jitter/loss, lowest MOS,
    availability, check counts and failed check ids."""
    from netcheck.result import Status

    if result is None:
        return (None, None, None, None, None, None, 0, 0, 0, "")
    paths = handover_measurements(result)
    ups = [u for u in (path_up(m) for m in paths) if u is not None]
    up = None if not ups else int(all(ups))
    counts = {s: sum(1 for c in result.checks if c.status is s) for s in Status}
    failed = ",".join(c.id for c in result.checks if c.status is Status.FAIL)
    return (result.verdict.value, _worst(paths, "one_way_delay_ms", max),
            _worst(paths, "jitter_ms", max), _worst(paths, "loss_pct", max),
            _worst(paths, "mos", min), up, counts[Status.FAIL], counts[Status.WARN],
            counts[Status.NOT_MEASURED], failed)


def _worst(paths: Iterable[Measurement], key: str, pick: Any) -> float | None:
    values = [float(v) for m in paths if m.ok
              and isinstance(v := m.values.get(key), int | float) and not isinstance(v, bool)]
    return pick(values) if values else None


def metric_rows(result: RunResult) -> Iterator[tuple[str, str, float]]:
    """(measurement id, metric name, value) for the kept metric names, plus ``up`` (1/0)
    for path measurements whose far end answered or not."""
    from netcheck.result import PATH_PROBES

    for m in result.measurements:
        for name in METRIC_NAMES:
            value = m.values.get(name)
            if _is_number(value):
                yield m.id, name, float(value)  # type: ignore[arg-type]
        if m.probe in PATH_PROBES and (up := path_up(m)) is not None:
            yield m.id, "up", float(up)
        yield from segment_rows(m)
    yield from fault_segment_rows(result)


#: Segment shares kept per run (netcheck.analysis.pathseg): which part of the path degrades when.
SEGMENT_METRICS = ("delay_ms", "jitter_ms", "loss_pct")


def segment_rows(m: Measurement) -> Iterator[tuple[str, str, float]]:
    """``segment.<name>.<metric>`` rows of a per-hop trace (``path_hops``)."""
    segments = m.values.get("segments") if m.probe == "path_hops" and m.ok else None
    for seg in segments if isinstance(segments, list) else []:
        for metric in SEGMENT_METRICS:
            value = seg.get(metric) if isinstance(seg, dict) and seg.get("measured") else None
            if isinstance(value, int | float) and not isinstance(value, bool):
                yield m.id, f"segment.{seg['segment']}.{metric}", float(value)


def fault_segment_rows(result: RunResult) -> Iterator[tuple[str, str, float]]:
    """An indicator row ``fault_segment.<segment>`` = 1 per path whose fault-location check
    named a segment (``fault_segment.none`` when it found none), keyed by the trace it
    judged: the history of *who* was at fault, run by run."""
    from netcheck.result import Status

    for c in result.checks:
        if c.id.startswith("faultloc@") and c.evidence and isinstance(c.measured, str) \
                and c.status in (Status.PASS, Status.WARN, Status.FAIL):
            yield c.evidence[0], f"fault_segment.{c.measured}", 1.0


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _no_space(path: Path) -> bool:
    """The file system holding ``path`` has no block left for us (SQLite reports ENOSPC
    while creating its ``-shm``/``-wal`` files as a plain I/O error)."""
    try:
        return os.statvfs(path.parent).f_bavail == 0
    except (OSError, AttributeError):  # AttributeError: no statvfs (Windows)
        return False


def _read_only(path: Path) -> bool:
    """The store's directory is on a read-only mount, or not writable for us (SQLite then
    says "unable to open database file": WAL needs its ``-wal``/``-shm`` files there)."""
    try:
        if os.statvfs(path.parent).f_flag & os.ST_RDONLY:
            return True
    except (OSError, AttributeError):
        pass
    return path.parent.is_dir() and not os.access(path.parent, os.W_OK)


# ---------------------------------------------------------------------- single instance


class LockHeld(StoreError):
    """Another agent holds the store's lock file."""


class InstanceLock:
    """An exclusive, non-blocking lock on ``<store>.lock`` held for the agent's lifetime.

    The kernel drops the lock when the process dies (even by kill -9), so a stale lock file
    never blocks a restart. POSIX: ``fcntl.flock``; Windows: ``msvcrt.locking`` on byte 0.
    The store path is resolved first, so a second agent reaching the same file through a
    symlink or another relative path meets the same lock.
    """

    def __init__(self, store_path: Path | str) -> None:
        self.path = Path(f"{Path(store_path).resolve()}.lock")
        self._fh: IO[str] | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fh = open(self.path, "a+")  # held until release()
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot create the lock file: {exc.strerror or exc}") from None
        try:
            _lock_file(fh)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            fh.close()
            raise LockHeld(f"another netcheck agent (pid {holder}) is using this store; "
                           f"lock file {self.path}") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()  # closing the descriptor releases the lock
            self._fh = None

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _lock_file(fh: IO[str]) -> None:
    if os.name == "nt":  # pragma: no cover - exercised on Windows only
        import msvcrt

        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
    else:
        import fcntl

        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
