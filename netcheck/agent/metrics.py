"""Prometheus exposition of the agent's latest results (read from the stored run records).

A custom registry (no process/platform collectors: a fleet dashboard needs the network's
numbers, not the agent's Python heap), served by prometheus_client's WSGI app on
127.0.0.1 unless ``--metrics-bind`` says otherwise. The server is prometheus_client's
thread-per-connection one with two bounds it lacks (issue 21): at most
``MAX_CONNECTIONS`` connections at once (more are closed at once) and ``TIMEOUT_S`` per
connection, so idle or slow clients cannot pile up threads in an agent that runs for
months. Label sets stay small and bounded:
``profile``, ``target`` (the profile's target name: ``platform``, ``gateway``), ``probe``,
``check`` (the check id). Grafana dashboard and alert rules: ``contrib/grafana``,
``contrib/prometheus``.

Conventions: a value the run did not measure is *absent* (no sample), never 0; MOS is
exported only when a probe measured it (the RTP/STAMP stream), not estimated from ICMP.
``netcheck_verdict`` is the CLI's exit-code mapping: 0 GO, 1 NO-GO, 3 INCOMPLETE.
"""

from __future__ import annotations

import threading
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from netcheck.agent import store as st
from netcheck.result import PATH_PROBES, RunResult, Status, Verdict

VERDICT_VALUES = {v.value: v.exit_code for v in Verdict}
MAX_CONNECTIONS = 32
TIMEOUT_S = 5.0
#: metric name -> (measurement value key, help)
PATH_GAUGES = {
    "netcheck_delay_ms": ("one_way_delay_ms", "One-way delay to the target (ms); ICMP: RTT/2."),
    "netcheck_rtt_ms": ("rtt_median_ms", "Median round-trip time to the target (ms)."),
    "netcheck_jitter_ms": ("jitter_ms", "Jitter to the target (ms), as the probe defines it."),
    "netcheck_loss_pct": ("loss_pct", "Packet loss to the target over the run (%)."),
    "netcheck_loss_worst_window_pct": ("loss_worst_window_pct",
                                       "Packet loss in the worst window of the run (%)."),
    "netcheck_mos": ("mos", "MOS (ITU-T G.107 E-model) measured by the stream probe."),
}
PATH_LABELS = ("profile", "target", "probe")


class Exporter:
    """Gauges for one agent (one profile); :meth:`observe` after every stored run."""

    def __init__(self, profile: str) -> None:
        self.profile = profile
        self.registry = CollectorRegistry(auto_describe=True)
        self.port: int | None = None
        self._server: Any = None
        self._lock = threading.Lock()
        r = self.registry
        self.path = {name: Gauge(name, help_, PATH_LABELS, registry=r)
                     for name, (_key, help_) in PATH_GAUGES.items()}
        self.up = Gauge("netcheck_target_up", "1 if the target answered in the last run, else 0.",
                        PATH_LABELS, registry=r)
        self.check = Gauge("netcheck_check_status", "1 for the check's status in its latest run "
                           "(one-hot over PASS/WARN/FAIL/NOT_MEASURED/SKIPPED).",
                           ("profile", "check", "status"), registry=r)
        self.verdict = Gauge("netcheck_verdict", "Verdict of the latest completed run of this "
                             "kind: 0 GO, 1 NO-GO, 3 INCOMPLETE.", ("profile", "kind"), registry=r)
        self.last_run = Gauge("netcheck_last_run_timestamp_seconds",
                              "Start of the latest run (any outcome), Unix time.",
                              ("profile", "kind"), registry=r)
        self.last_ok = Gauge("netcheck_last_completed_run_timestamp_seconds",
                             "Start of the latest completed run, Unix time.",
                             ("profile", "kind"), registry=r)
        self.duration = Gauge("netcheck_run_duration_seconds", "Duration of the latest run.",
                              ("profile", "kind"), registry=r)
        self.runs = Counter("netcheck_runs", "Runs since the agent started, by outcome.",
                            ("profile", "kind", "outcome"), registry=r)

    def observe(self, record: st.RunRecord) -> None:
        """Update from one stored run record."""
        with self._lock:
            labels = (self.profile, record.kind)
            self.last_run.labels(*labels).set(record.started_ts)
            self.duration.labels(*labels).set(record.finished_ts - record.started_ts)
            self.runs.labels(*labels, record.outcome.value).inc()
            if record.result is not None:
                self.last_ok.labels(*labels).set(record.started_ts)
                self._result(record.kind, record.result)

    def _result(self, kind: str, result: RunResult) -> None:
        self.verdict.labels(self.profile, kind).set(VERDICT_VALUES[result.verdict.value])
        for gauge in (*self.path.values(), self.up):
            gauge.clear()  # a target that vanished from the plan must not linger
        for m in result.measurements:
            if m.probe not in PATH_PROBES:
                continue
            labels = (self.profile, m.id.partition(":")[2] or m.target, m.probe)
            for name, (key, _help) in PATH_GAUGES.items():
                value = m.values.get(key)
                if m.ok and isinstance(value, int | float) and not isinstance(value, bool):
                    self.path[name].labels(*labels).set(float(value))
            up = st.path_up(m)
            if up is not None:
                self.up.labels(*labels).set(float(up))
        for c in result.checks:  # checks absent from this run (monitor) keep their last state
            for status in Status:
                self.check.labels(self.profile, c.id, status.value).set(float(c.status is status))

    def restore(self, store: st.Store) -> None:
        """Fill the gauges from the latest stored run of each kind, so a restarted agent
        does not show an empty dashboard until its next run."""
        for kind in ("full", "monitor"):
            row = store.last_run(completed=True, kind=kind)
            if row is None:
                continue
            doc = store.document(row.id)
            with self._lock:
                labels = (self.profile, kind)
                self.last_run.labels(*labels).set(row.started_ts)
                self.last_ok.labels(*labels).set(row.started_ts)
                self.duration.labels(*labels).set(row.duration_s)
                if doc is not None:
                    self._result(kind, doc)

    def serve(self, bind: str, port: int) -> None:
        """Start the HTTP server thread; ``port`` 0 picks a free port (see ``self.port``)."""
        server = make_server(bind, port, make_wsgi_app(self.registry), _family_server(bind),
                             handler_class=_QuietHandler)
        threading.Thread(target=server.serve_forever, name="netcheck-metrics", daemon=True).start()
        self._server = server
        self.port = int(server.server_port)

    def shutdown(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class _QuietHandler(WSGIRequestHandler):
    """No access log; a connection that sends nothing for TIMEOUT_S is closed."""

    timeout = TIMEOUT_S

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _BoundedServer(ThreadingWSGIServer):
    """At most MAX_CONNECTIONS handler threads; further connections are closed at once."""

    request_queue_size = 128  # listen backlog: a burst is accepted (and refused) fast

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def _family_server(bind: str) -> type[_BoundedServer]:
    import socket

    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    return type("_Server", (_BoundedServer,), {"address_family": family})

