"""The CLI end to end: `netcheck run --profile demo` is itself a test, plus the input errors
that must give one `error:` line and exit code 2 (never a traceback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from netcheck.result import SCHEMA_PATH, from_json, json_schema

NETCHECK = [sys.executable, "-m", "netcheck"]
Proc = subprocess.CompletedProcess[str]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*NETCHECK, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def main_in_process(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                    *args: str) -> subprocess.CompletedProcess[str]:
    """The console entry point (``netcheck.cli.main``, the same error handling as the
    installed command) in this process: argument errors need no interpreter start-up."""
    from netcheck.cli import main

    monkeypatch.setattr(sys, "argv", ["netcheck", *args])
    monkeypatch.chdir(Path(__file__).parents[2])
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        main()
    out = capsys.readouterr()
    code = stop.value.code
    return subprocess.CompletedProcess(args, code if isinstance(code, int) else 1, out.out, out.err)


def test_demo_runs_the_whole_pipeline_to_go(demo_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    proc, out = demo_run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "VERDICT: GO" in proc.stdout
    assert "Traceback" not in proc.stderr
    results = list(out.glob("netcheck-demo-*.json"))
    assert len(results) == 1
    doc = json.loads(results[0].read_text())
    jsonschema.validate(doc, json.loads(SCHEMA_PATH.read_text()))
    result = from_json(results[0].read_bytes())
    assert result.site.customer == "ACME GmbH" and result.site.extensions == 12
    assert result.verdict.value == "GO"
    assert {m.probe for m in result.measurements} >= {"tcp_ports", "dns"}
    assert not list(out.glob(".*"))  # no temp file left behind by the atomic write


def test_shipped_schema_is_the_generated_one() -> None:
    """`python -m netcheck.result` regenerates it; a changed model must ship a new schema."""
    assert json.loads(SCHEMA_PATH.read_text()) == json.loads(json.dumps(json_schema(), sort_keys=True))


def test_report_renders_from_the_document(demo_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, out = demo_run
    result_file = next(out.glob("*.json"))
    md = run("report", str(result_file), "--format", "markdown")
    assert md.returncode == 0 and "# netcheck report: **GO**" in md.stdout and "ACME GmbH" in md.stdout
    txt = run("report", str(result_file), "--format", "text")
    assert "VERDICT: GO" in txt.stdout


@pytest.fixture(scope="module")
def demo_json_run(tmp_path_factory: pytest.TempPathFactory) -> Proc:
    """``netcheck run --profile demo --quick --json``, run once for the tests that read it
    (a run costs ~20 s of waiting on its probes)."""
    out = tmp_path_factory.mktemp("json")
    return run("run", "--profile", "demo", "--quick", "--json", "--out", str(out))


def test_json_mode_prints_only_the_document(demo_json_run: Proc) -> None:
    proc = demo_json_run
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["verdict"] == "GO"


def test_plan_sends_nothing_and_lists_probes() -> None:
    proc = run("run", "--profile", "stimme", "--plan")
    assert proc.returncode == 0
    assert "tcp_ports" in proc.stdout and "46.189.64.189" in proc.stdout
    assert "total: up to " in proc.stdout
    not_measured = proc.stdout.split("not measured:", 1)[1]
    # field mode: without a responder the UDP ranges are sampled by the TTL site-egress test
    assert "udp_egress" in proc.stdout and "port.udp.16384-32767@platform" not in not_measured
    assert "port.udp.5060@sip_trunk (optional)" in not_measured and "--target sip_trunk=HOST" in not_measured
    assert "NAT UDP binding lifetime: not searched" in not_measured


def test_plan_shows_exactly_what_run_measures(demo_json_run: Proc) -> None:
    """Same inputs, same plan code: the ids --plan lists are the measurements run makes."""
    planned = run("run", "--profile", "demo", "--quick", "--plan")
    assert planned.returncode == 0
    rows = planned.stdout.split("total:", 1)[0].splitlines()[1:]
    ids = {line.split()[0] for line in rows}
    measured = {m["id"] for m in json.loads(demo_json_run.stdout)["measurements"]}
    assert ids == measured


@pytest.mark.parametrize(("args", "fragment"), [
    (["run", "--profile", "no-such-profile"], "no such profile"),
    (["run", "--profile", "tests/data/profiles/invalid/negative-limit.yaml"],
     "negative-limit.yaml:6:17: limits.end_to_end.jitter_ms.max: must be > 0 (got -5)"),
    (["run", "--profile", "stimme", "--target", "nope=1.2.3.4"], "has no target 'nope'"),
    (["run", "--profile", "stimme", "--target", "platform"], "expected NAME=HOST"),
    (["run", "--profile", "generic-voip"], "--target handover=HOST"),
    (["run", "--profile", "generic-voip", "--plan"], "--target handover=HOST"),
    (["report", "pyproject.toml"], "not a netcheck result document"),
    (["report", "missing.json"], "missing.json"),
    (["profiles", "validate", "tests/data/profiles/invalid/yaml-syntax.yaml"], "YAML syntax"),
    (["profiles", "show", "nope"], "no such profile"),
])
def test_input_errors_are_one_line_exit_2(args: list[str], fragment: str, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    proc = main_in_process(capsys, monkeypatch, *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0]
    assert "Traceback" not in proc.stderr


def test_usage_error_exit_2(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    proc = main_in_process(capsys, monkeypatch, "run")
    assert proc.returncode == 2 and "--profile" in proc.stderr


def test_profiles_list_and_show(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    listing = main_in_process(capsys, monkeypatch, "profiles", "list")
    assert listing.returncode == 0
    assert {"stimme", "managed-com-business", "teams", "ringcentral", "generic-voip", "demo"} <= {
        line.split()[0] for line in listing.stdout.splitlines()
    }
    shown = json.loads(main_in_process(capsys, monkeypatch, "profiles", "show", "demo").stdout)
    assert shown["extends"] == "stimme" and shown["limits"]["end_to_end"]["jitter_ms"]["max"] == 20


def test_doctor_reports_privileges_and_tools() -> None:
    proc = run("doctor", "--json")
    assert proc.returncode == 0
    info = json.loads(proc.stdout)
    assert set(info["privileges"]) >= {"root", "raw_icmp", "unprivileged_icmp", "raw_packet"}
    assert "lo" in {i["name"] for i in info["interfaces"]}


def test_help_and_version_import_no_heavy_modules() -> None:
    """`--help`/`--version` must stay fast: scapy, pysnmp, icmplib load only inside probes."""
    code = ("import sys; from netcheck.cli import cli; "
            "import netcheck.plan.core, netcheck.run.assess; "
            "heavy = ('scapy', 'pysnmp', 'icmplib', 'rich', 'jinja2', 'weasyprint'); "
            "print(','.join(m for m in heavy if m in sys.modules))")
    heavy = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout.strip()
    assert heavy == ""
    assert run("--version").stdout.strip() == "netcheck, version 0.1.0"


#: what ``run --plan`` never needs (issue 22): the event loop, the runner and the demo's peers,
#: the probes' code and engines (psutil only reads interfaces), the report machinery
_RUN_MACHINERY = ("asyncio", "psutil", "netcheck.run.assess", "netcheck.run.runner", "netcheck.run.demo",
                  "netcheck.reports", "netcheck.probes._common", "netcheck.probes._stream_mux",
                  "netcheck.probes._stream_analysis", "netcheck.probes._stream_engine", "netcheck.probes._callgen",
                  "netcheck.clock", "netcheck.wire.lan_model")


@pytest.mark.parametrize("args", [
    ("--profile", "managed-com-business"),
    # every site input: every probe kind is planned (calls, load tests, iperf3, SNMP audit)
    ("--profile", "managed-com-business", "--responder", "127.0.0.1", "--extensions", "10",
     "--iperf3", "127.0.0.1", "--switch", "127.0.0.1", "--voice-vlan", "20"),
    ("--profile", "demo", "--quick"),
], ids=["bare", "every-input", "demo"])
def test_plan_imports_only_profile_plan_and_evaluator(args: tuple[str, ...]) -> None:
    """``run --plan`` loads the profile, the plan (the probes' Specs, not their code) and
    the evaluator; no run machinery (it took 0.4 s, most of it imports it never used)."""
    from netcheck import probes

    # a planned switch audit's Spec lists the MIB columns it reads (wire.lan_model)
    machinery = tuple(m for m in _RUN_MACHINERY if "--switch" not in args or m != "netcheck.wire.lan_model")
    code = ("import sys; from netcheck.cli import main; sys.argv = ['netcheck', 'run', *sys.argv[1:], '--plan']\n"
            "try:\n    main()\nexcept SystemExit as stop:\n    assert not stop.code, stop.code\n"
            f"heavy = {machinery + tuple(info.module for info in probes.PROBES.values())!r}\n"
            "print('LOADED:' + ','.join(m for m in sys.modules\n"
            "                           if any(m == h or m.startswith(h + '.') for h in heavy)))")
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "NETCHECK_SNMP_COMMUNITY": "public"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"plan for profile {args[1]} ") and "total: up to " in proc.stdout
    if "--switch" in args:
        assert {"snmp_switch", "capacity", "qos", "iperf3", "bufferbloat"} <= set(proc.stdout.split())
    assert proc.stdout.splitlines()[-1] == "LOADED:"


def test_schema_descriptions_do_not_depend_on_the_msgspec_version() -> None:
    """msgspec < 0.19 embeds class docstrings raw, 0.19+ dedents them: the shipped schema
    carries ``inspect.cleandoc`` of each docstring, which both produce after cleaning."""
    import inspect

    import msgspec

    from netcheck import result

    defs = json_schema()["$defs"]
    structs = {n: c for n, c in vars(result).items()
               if isinstance(c, type) and issubclass(c, msgspec.Struct) and c.__doc__ and n in defs}
    assert structs, "no documented Struct found in the schema's $defs"
    for name, cls in structs.items():
        assert defs[name]["description"] == inspect.cleandoc(cls.__doc__ or ""), name
