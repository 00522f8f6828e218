"""The shipped Grafana dashboard and alert rules use only metrics the exporter exposes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from netcheck.agent import metrics
from netcheck.agent import store as st
from tests.unit.test_store import T0, make_result, record

ROOT = Path(__file__).resolve().parents[2]
NAME = re.compile(r"\bnetcheck_[a-z_]+")


def exposed() -> set[str]:
    exporter = metrics.Exporter("demo")
    exporter.observe(record(T0, make_result(mos=4.1)))
    exporter.observe(record(T0 + 900, None, st.Outcome.FAILED, error="x"))
    text = generate_latest(exporter.registry).decode()
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


def test_dashboard_and_rules_reference_exported_metrics() -> None:
    names = exposed()
    dashboard = (ROOT / "contrib/grafana/netcheck-agents.json").read_text()
    json.loads(dashboard)
    rules = yaml.safe_load((ROOT / "contrib/prometheus/netcheck-alerts.yml").read_text())
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    used = set(NAME.findall(dashboard)) | {n for e in exprs for n in NAME.findall(e)}
    assert used, "no netcheck metric referenced"
    assert used <= names, f"referenced but not exported: {sorted(used - names)}"


def test_exporter_values_follow_the_record() -> None:
    exporter = metrics.Exporter("demo")
    exporter.observe(record(T0, make_result(jitter=31.0, mos=3.7)))
    text = generate_latest(exporter.registry).decode()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(text) for s in f.samples}
    platform = (("probe", "icmp"), ("profile", "demo"), ("target", "platform"))
    assert samples[("netcheck_jitter_ms", platform)] == 31.0
    assert samples[("netcheck_mos", platform)] == 3.7
    assert samples[("netcheck_verdict", (("kind", "full"), ("profile", "demo")))] == 1.0  # NO-GO
    gateway = (("probe", "icmp"), ("profile", "demo"), ("target", "gateway"))
    assert ("netcheck_mos", gateway) not in samples  # not measured: absent, never 0
    fail = (("check", "end_to_end.jitter_ms@platform"), ("profile", "demo"), ("status", "FAIL"))
    assert samples[("netcheck_check_status", fail)] == 1.0
    assert samples[("netcheck_runs_total", (("kind", "full"), ("outcome", "completed"),
                                            ("profile", "demo")))] == 1.0
