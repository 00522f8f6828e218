"""The scheduled agent: run the assessment every N minutes for weeks, store every result.

Design (issue 9):

- **Monotonic schedule with jitter.** Slot *n* is due at ``start + n * period + offset_n``
  on a clock that never steps: ``CLOCK_BOOTTIME`` on Linux (it keeps counting during
  suspend, so a laptop that slept through four slots sees them as due), else
  ``time.monotonic`` (Windows' counts sleep too). ``offset_n`` is a random offset in
  ``[0, jitter)`` from a generator seeded with the host name, so a fleet spreads its runs
  while one host stays reproducible. Slots missed during a sleep or a long run are run
  **once**, and the count of skipped slots is noted in the store.
- **Clock jumps** of the wall clock (NTP step, manual change) are detected by comparing
  wall-clock and monotonic progress on every wake-up and noted; the schedule ignores them.
- **One assessment per child process** with a hard deadline (``--deadline``): a probe that
  hangs, a crash in a probe library, or a memory spike cannot take the agent with it, the
  run can be abandoned by killing the child, and heavy imports (scapy, pysnmp) never stay
  resident in the long-lived agent. Whatever happens, a run record is stored: completed
  (with its document), failed (the child died; its last error line) or abandoned
  (deadline, shutdown). A ``run_start`` note is committed before the child starts, so a
  run cut short by the agent's own death (kill -9, crash, power loss) is stored as
  abandoned at the next start.
- **The child dies with the agent.** It runs in its own process group; on Linux the
  kernel sends it SIGTERM when the agent dies (``PR_SET_PDEATHSIG``), everywhere a
  watchdog thread polls its parent; either way it kills its whole process group (tools it
  started included) at once. No orphan keeps probing.
- **SIGTERM/SIGINT**: stop scheduling; let the current run finish for up to ``--grace``,
  else kill it and store it as abandoned; exit 0.
- **Single instance** per store: :class:`netcheck.agent.store.InstanceLock`.
- **Verdict changes** (e.g. GO -> NO-GO) per run kind are logged, noted in the store and
  optionally POSTed to a webhook with retries, off the scheduling thread.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from netcheck.agent import store as st
from netcheck.run.inputs import RunInput
from netcheck.textsafe import visible

log = logging.getLogger("netcheck.agent.agent")

#: Longest sleep between wake-ups: bounds how late a resume or a clock jump is noticed.
TICK_S = 30.0
#: A wall clock that moved this much more (or less) than the monotonic clock was stepped.
CLOCK_JUMP_S = 2.0
#: Retention pruning runs at most this often.
PRUNE_EVERY_S = 3600.0
#: Probe kinds of the monitor subset, and the profile sections whose probes it leaves out.
MONITOR_DROPS = ("lan", "sip", "qos", "bandwidth")


def clock() -> float:
    """Seconds on a clock that never steps and, where the OS allows, counts suspend."""
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    if boottime is not None:
        return time.clock_gettime(boottime)
    return time.monotonic()


# --------------------------------------------------------------------------- schedule


class Scheduler:
    """Which slot is due next; a pure function of the clock readings it is given."""

    def __init__(self, period_s: float, jitter_s: float, start: float, seed: str) -> None:
        if period_s <= 0:
            raise ValueError(f"period must be > 0 s (got {period_s:g})")
        if not 0 <= jitter_s < period_s:
            raise ValueError(f"jitter must be in [0, period) (got {jitter_s:g} s)")
        self.period_s, self.jitter_s, self.start = period_s, jitter_s, start
        self._rng = random.Random(seed)
        self.slot = 0
        self._offset = self._draw()

    def _draw(self) -> float:
        return self._rng.uniform(0.0, self.jitter_s) if self.jitter_s else 0.0

    def due(self) -> float:
        """Clock reading at which the current slot should start."""
        return self.start + self.slot * self.period_s + self._offset

    def advance(self, now: float) -> int:
        """Move past the slot just run to the first slot still in the future; return how
        many slots were skipped (a long run, or a suspend: those are not run N times)."""
        first_future = int((now - self.start) // self.period_s) + 1
        nxt = max(self.slot + 1, first_future)
        skipped = nxt - self.slot - 1
        self.slot = nxt
        self._offset = self._draw()
        return skipped


@dataclass
class ClockWatch:
    """Notices wall-clock steps and suspends between two wake-ups."""

    wall: float = field(default_factory=time.time)
    steady: float = field(default_factory=clock)
    mono: float = field(default_factory=time.monotonic)

    def check(self, wall: float, steady: float, mono: float) -> list[tuple[str, str]]:
        notes = []
        step = (wall - self.wall) - (steady - self.steady)
        if abs(step) > CLOCK_JUMP_S:
            notes.append(("clock_jump", f"wall clock stepped by {step:+.1f} s"))
        slept = (steady - self.steady) - (mono - self.mono)
        if slept > CLOCK_JUMP_S:
            notes.append(("resumed", f"resumed after about {slept:.0f} s of suspend"))
        self.wall, self.steady, self.mono = wall, steady, mono
        return notes


# --------------------------------------------------------------------------- one run


class RunSpec(msgspec.Struct, frozen=True, kw_only=True):
    """What the child process runs (JSON on its stdin): the agent's run input and the kind
    of run. Never credentials: the input names key files; the child reads them."""

    input: RunInput
    kind: str = "full"  # full | monitor


@dataclass(frozen=True)
class RunOutcome:
    outcome: st.Outcome
    result: Any = None  # RunResult | None (decoded lazily to keep imports light)
    error: str | None = None


#: Environment variable telling the child its agent's pid (the parent-death check).
PARENT_ENV = "NETCHECK_AGENT_PID"
#: How often the child's watchdog checks that its agent is still alive.
WATCHDOG_S = 0.5


def run_child(spec: RunSpec, deadline_s: float, stop: threading.Event, grace_s: float,
              poll_s: float = 0.25) -> RunOutcome:
    """Run one assessment in a child process; kill it at the deadline, or ``grace_s`` after
    ``stop`` was set. A new session keeps a terminal's Ctrl-C away from the child."""
    proc = subprocess.Popen([sys.executable, "-m", "netcheck.agent.agent", "--child"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True,
                            env={**os.environ, PARENT_ENV: str(os.getpid())})
    payload: bytes | None = msgspec.json.encode(spec)
    t_end, stop_at = clock() + deadline_s, None
    while True:
        try:
            out, err = proc.communicate(payload, timeout=poll_s)
            break
        except subprocess.TimeoutExpired:
            payload = None
        if stop.is_set() and stop_at is None:
            stop_at = clock() + grace_s
        if stop_at is not None and clock() >= stop_at:
            _kill(proc)
            return RunOutcome(st.Outcome.ABANDONED, error=f"agent stopping; run not done "
                              f"within the {grace_s:g} s grace period")
        if clock() >= t_end:
            _kill(proc)
            return RunOutcome(st.Outcome.ABANDONED,
                              error=f"run exceeded its {deadline_s:g} s deadline")
    return _decode_child(proc.returncode, out, err)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the child (its handler takes its process group down), SIGKILL after 3 s."""
    proc.terminate()
    try:
        proc.communicate(timeout=3)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        proc.kill()
        proc.communicate()


def _kill_group(pgid: int) -> None:
    if hasattr(os, "killpg"):
        with contextlib.suppress(OSError):
            os.killpg(pgid, signal.SIGKILL)


def _decode_child(code: int, out: bytes, err: bytes) -> RunOutcome:
    from netcheck.result import from_json

    if code == 0:
        try:
            return RunOutcome(st.Outcome.COMPLETED, result=from_json(out))
        except ValueError as exc:
            return RunOutcome(st.Outcome.FAILED, error=f"unreadable result document: {exc}")
    lines = [x for x in err.decode(errors="replace").splitlines() if x.strip()]
    return RunOutcome(st.Outcome.FAILED,
                      error=(lines[-1] if lines else f"assessment exited with code {code}")[:500])


def monitor_profile(profile: Any) -> Any:
    """The monitor subset: path quality (stream/ICMP), ports and DNS. The sections whose
    probes are slow or intrusive (LAN audit, SIP ALG, QoS under load, capacity) are
    dropped, so their checks are absent instead of NOT_MEASURED, and the monitor verdict
    speaks for the subset only (runs are stored with kind "monitor")."""
    return msgspec.structs.replace(profile, **{name: None for name in MONITOR_DROPS})


def child_main() -> int:
    """``python -m netcheck.agent.agent --child``: one assessment; the document on stdout."""
    _die_with_parent()
    from netcheck.result import to_json
    from netcheck.run import assess, inputs

    try:  # e.g. a key file removed since the agent started: one line, stored with the run
        spec = msgspec.json.decode(sys.stdin.buffer.read(), type=RunSpec)
        profile = inputs.load_profile(spec.input)
        if spec.kind == "monitor":
            profile = monitor_profile(profile)
        request = inputs.resolve(spec.input, profile=profile)
    except (inputs.InputError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        print(f"error: run input: {exc}", file=sys.stderr)
        return 2
    result = assess.run(request)
    sys.stdout.buffer.write(to_json(result))
    return 0


def _die_with_parent() -> None:
    """End this child, and every process it started, when the agent dies (kill -9 too).

    Linux: ``PR_SET_PDEATHSIG`` (prctl(2)) has the kernel send SIGTERM at the agent's
    death. Portable fallback, and cover for the window before prctl ran: a daemon thread
    polls the parent pid. Both end in :func:`_end_group`, which SIGKILLs the child's own
    process group (``start_new_session``): a probe's helper tool dies with it."""
    parent = int(os.environ.get(PARENT_ENV, "0") or 0) or os.getppid()
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, lambda _s, _f: _end_group())
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            pr_set_pdeathsig = 1
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM))
    if os.getppid() != parent:  # the agent died before prctl took effect
        _end_group()
    threading.Thread(target=_watch_parent, args=(parent,), name="netcheck-parent-watch",
                     daemon=True).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCHDOG_S)
    _end_group()


def _end_group() -> None:
    """SIGKILL this process's group (itself included); plain exit where there are none."""
    if hasattr(os, "killpg") and os.getpgrp() == os.getpid():
        with contextlib.suppress(OSError):
            os.killpg(os.getpgrp(), signal.SIGKILL)
    os._exit(137)


# --------------------------------------------------------------------------- alerts


def verdict_changed(previous: str | None, current: str | None) -> bool:
    """A change worth an alert: between two known verdicts (a first run is not a change,
    a failed run has no verdict and is reported by its own metric)."""
    return previous is not None and current is not None and previous != current


@dataclass
class Webhook:
    """POST a JSON event, retrying with exponential backoff, in a daemon thread."""

    url: str
    attempts: int = 4
    backoff_s: float = 2.0
    timeout_s: float = 10.0
    _threads: list[threading.Thread] = field(default_factory=list)

    def send(self, payload: dict[str, Any]) -> threading.Thread:
        t = threading.Thread(target=self.send_sync, args=(payload,), daemon=True,
                             name="netcheck-webhook")
        self._threads = [x for x in self._threads if x.is_alive()] + [t]
        t.start()
        return t

    def send_sync(self, payload: dict[str, Any]) -> bool:
        body = json.dumps(payload).encode()
        for attempt in range(1, self.attempts + 1):
            req = urllib.request.Request(self.url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    if 200 <= resp.status < 300:
                        return True
            except (urllib.error.URLError, OSError) as exc:
                log.warning("webhook attempt %d/%d failed: %s", attempt, self.attempts, exc)
            if attempt < self.attempts:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
        log.error("webhook %s: giving up after %d attempts", self.url, self.attempts)
        return False

    def drain(self, timeout_s: float) -> None:
        end = time.monotonic() + timeout_s
        for t in self._threads:
            t.join(max(0.0, end - time.monotonic()))


# --------------------------------------------------------------------------- capabilities


def capability_notes(caps: dict[str, bool]) -> list[str]:
    """What this agent can and cannot measure with the privileges it was given (the
    systemd unit grants only CAP_NET_RAW; see docs/agent.md)."""
    notes = []
    if caps.get("raw_icmp"):
        notes.append("ICMP: raw sockets (CAP_NET_RAW or root)")
    elif caps.get("unprivileged_icmp"):
        notes.append("ICMP: unprivileged datagram sockets (no CAP_NET_RAW; fine for echo)")
    elif caps.get("windows_icmp_api"):
        notes.append("ICMP: the Windows ICMP API (IPv4 echo, no Administrator needed)")
    else:
        notes.append("ICMP path probes will be NOT_MEASURED: grant CAP_NET_RAW, or allow "
                     "ping sockets (sysctl net.ipv4.ping_group_range)")
    if not caps.get("raw_packet"):
        notes.append("LAN listening (LLDP/CDP/DHCP on AF_PACKET) skipped: needs CAP_NET_RAW")
    if caps.get("root"):
        notes.append("running as root: the agent needs only CAP_NET_RAW (docs/agent.md)")
    return notes


# --------------------------------------------------------------------------- the loop


@dataclass(frozen=True)
class Config:
    run: RunInput  # what every run measures (the same inputs as `netcheck run`)
    profile_id: str
    store_path: Path
    every_s: float
    jitter_s: float
    full_every_s: float | None = None  # None: every run is a full run
    deadline_s: float = 600.0
    grace_s: float = 20.0
    retention_s: float = 400 * 86400.0
    metrics_bind: str = "127.0.0.1"
    metrics_port: int | None = None
    webhook: str | None = None
    max_runs: int | None = None
    immediate: bool = False  # first run at once (--once), no jitter wait


class Agent:
    """Owns the store, the schedule, the metrics and the stop flag; one run at a time."""

    def __init__(self, cfg: Config, store: st.Store, metrics: Any = None,
                 runner: Callable[..., RunOutcome] = run_child,
                 wall: Callable[[], float] = time.time, steady: Callable[[], float] = clock) -> None:
        """``wall`` (timestamps of records) and ``steady`` (the schedule) are the two clock
        sources; tests shift the wall clock through ``wall`` to prove a jump neither skips
        nor doubles a run."""
        self.cfg, self.store, self.metrics, self.runner = cfg, store, metrics, runner
        self.wall, self.steady = wall, steady
        self.stop = threading.Event()
        self.host = socket.gethostname()
        self.webhook = Webhook(cfg.webhook) if cfg.webhook else None
        self._last_full: float | None = None
        self._last_prune = float("-inf")
        self.runs_done = 0

    def install_signal_handlers(self) -> None:
        def handler(signum: int, _frame: Any) -> None:
            if not self.stop.is_set():
                log.info("%s: stopping after the current run (grace %g s)",
                         signal.Signals(signum).name, self.cfg.grace_s)
            self.stop.set()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def loop(self) -> None:
        cfg = self.cfg
        sched = Scheduler(cfg.every_s, 0.0 if cfg.immediate else cfg.jitter_s, self.steady(),
                          seed=f"{self.host}:{cfg.store_path}")
        watch = ClockWatch(self.wall(), self.steady(), time.monotonic())
        while not self.stop.is_set():
            for kind, detail in watch.check(self.wall(), self.steady(), time.monotonic()):
                log.warning("%s", detail)
                self.store.event(kind, detail)
            wait = sched.due() - self.steady()
            if wait > 0:
                self.stop.wait(min(wait, TICK_S))
                continue
            self.run_once()
            if cfg.max_runs is not None and self.runs_done >= cfg.max_runs:
                break
            skipped = sched.advance(self.steady())
            if skipped:
                detail = f"{skipped} scheduled run(s) skipped (long run or suspend); ran once"
                log.warning("%s", detail)
                self.store.event("missed_slots", detail)
            self._maybe_prune()

    def _kind(self) -> str:
        full_every = self.cfg.full_every_s
        if full_every is None or self._last_full is None or self.steady() - self._last_full >= full_every:
            return "full"
        return "monitor"

    def run_once(self) -> int:
        cfg, kind = self.cfg, self._kind()
        spec = RunSpec(input=cfg.run, kind=kind)
        started, t0 = self.wall(), self.steady()
        # committed before the child exists: if the agent dies during the run, the next
        # start finds this note without a run and stores the run as abandoned
        self.store.event("run_start", json.dumps({"kind": kind, "pid": os.getpid()}), ts=started)
        try:
            out = self.runner(spec, cfg.deadline_s, self.stop, cfg.grace_s)
        except Exception as exc:  # the agent outlives any run
            log.exception("run failed to start")
            out = RunOutcome(st.Outcome.FAILED, error=f"{type(exc).__name__}: {exc}")
        finished = started + (self.steady() - t0)
        if kind == "full" and out.outcome is st.Outcome.COMPLETED:
            self._last_full = t0
        previous = self.store.last_run(completed=True, kind=kind)
        record = st.RunRecord(started_ts=started, finished_ts=finished, kind=kind,
                              outcome=out.outcome, profile=cfg.profile_id, host=self.host,
                              result=out.result, error=out.error)
        run_id = self.store.put(record)
        self.runs_done += 1
        verdict = out.result.verdict.value if out.result is not None else None
        log.info("run %d (%s) %s%s in %.1f s; stored", run_id, kind, verdict or out.outcome.value,
                 f": {visible(out.error)}" if out.error else "", finished - started)
        if self.metrics is not None:
            self.metrics.observe(record)
        self._alert(previous.verdict if previous else None, verdict, run_id, record)
        return run_id

    def recover(self) -> int:
        """Store every run the previous agent started but never stored (it was killed or
        crashed mid-run) as abandoned; returns how many."""
        lost = self.store.interrupted_runs()
        for note in lost:
            try:
                kind = str(json.loads(note.detail).get("kind", "full"))
            except (ValueError, AttributeError):
                kind = "full"
            self.store.put(st.RunRecord(
                started_ts=note.ts, finished_ts=note.ts, kind=kind, outcome=st.Outcome.ABANDONED,
                profile=self.cfg.profile_id, host=self.host,
                error="interrupted: the agent stopped during this run (killed, crashed or power "
                      "loss); found at the next start"))
            log.warning("run started at %s was interrupted by the agent's end; stored as abandoned",
                        time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(note.ts)))
        return len(lost)

    def _alert(self, previous: str | None, current: str | None, run_id: int,
               record: st.RunRecord) -> None:
        if not verdict_changed(previous, current) or record.result is None:
            return
        failed = [c.id for c in record.result.checks if c.status.value == "FAIL"]
        detail = f"verdict {previous} -> {current} ({record.kind} run {run_id})"
        if failed:
            detail += f"; failed: {', '.join(failed)}"
        log.warning("%s", detail)
        self.store.event("verdict_change", detail)
        if self.webhook:
            self.webhook.send({
                "event": "verdict_change", "from": previous, "to": current, "kind": record.kind,
                "profile": record.profile, "host": record.host, "run_id": run_id,
                "started_ts": record.started_ts, "failed_checks": failed,
            })

    def _maybe_prune(self) -> None:
        if self.steady() - self._last_prune < PRUNE_EVERY_S:
            return
        self._last_prune = self.steady()
        n = self.store.prune(self.wall() - self.cfg.retention_s)
        if n:
            log.info("retention: deleted %d run(s) older than %g days", n,
                     self.cfg.retention_s / 86400)


def serve(cfg: Config) -> None:
    """Run the agent until stopped. Raises ``st.StoreError``/``st.LockHeld``/``OSError``
    for the CLI to print as one line (exit 2)."""
    from netcheck.platform import capabilities

    with st.InstanceLock(cfg.store_path), st.Store(cfg.store_path) as store:
        metrics = _start_metrics(cfg, store)
        agent = Agent(cfg, store, metrics)
        agent.recover()
        agent.install_signal_handlers()
        for note in capability_notes(capabilities.privileges()):
            log.info("capabilities: %s", note)
        store.event("agent_start",
                    f"profile {cfg.profile_id}, every {cfg.every_s:g} s, pid {os.getpid()}")
        try:
            agent.loop()
        finally:
            with contextlib.suppress(st.StoreError):  # a full disk: the error that stopped us wins
                store.event("agent_stop", f"after {agent.runs_done} run(s)")
            if agent.webhook:
                agent.webhook.drain(5.0)
            if metrics is not None:
                metrics.shutdown()
        log.info("stopped after %d run(s)", agent.runs_done)


def _start_metrics(cfg: Config, store: st.Store) -> Any:
    if cfg.metrics_port is None:
        return None
    from netcheck.agent.metrics import Exporter

    exporter = Exporter(cfg.profile_id)
    exporter.restore(store)
    exporter.serve(cfg.metrics_bind, cfg.metrics_port)
    log.info("metrics on http://%s:%d/metrics", cfg.metrics_bind, exporter.port)
    return exporter


if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:
        sys.exit(child_main())
    sys.exit("usage: netcheck agent ... (this module's own entry point is internal: --child)")
