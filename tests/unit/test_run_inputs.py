"""The one typed run input (issue 13): ``run`` and ``agent`` take the same options, the input
survives the agent's trip to its child process, and every mistake is one line naming the option."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest

from netcheck import cli
from netcheck.run import inputs
from netcheck.run.inputs import InputError, RunInput, SnmpInput

#: options of `run` that are about output, not about what is measured
OUTPUT_ONLY = {"out_dir", "formats", "lang", "plan_only", "as_json", "appendix", "private",
               "integrator_file", "timezone", "sign_key"}


def _params(command: object) -> set[str]:
    return {p.name for p in command.params if p.name}  # type: ignore[attr-defined]


def test_agent_takes_every_measurement_option_of_run() -> None:
    run_inputs = _params(cli.run) - OUTPUT_ONLY
    assert run_inputs <= _params(cli.agent), run_inputs - _params(cli.agent)
    # and each of them reaches the run input (no option silently dropped on the way)
    kw = {name: None for name in run_inputs} | {"profile_name": "demo", "targets": (), "lldp_wait": 1.0,
                                               "dhcp_wait": 1.0, "switches": ()}
    inp = cli._run_input(kw)
    assert kw == {}, f"options not taken into the run input: {sorted(kw)}"
    assert isinstance(inp, RunInput) and inp.profile == "demo" and inp.lldp_wait_s == 1.0


def test_round_trip_through_the_agent_child_protocol() -> None:
    inp = RunInput(profile="stimme", targets={"handover": "[2001:db8::1]"}, customer="Müller GmbH",
                   quick=True, responder="[2001:db8::2]:8620", lldp_wait_s=12.5, voice_vlan=100,
                   capacity=False, package_mix="video=3", concurrency=0.5,
                   snmp=SnmpInput(switches=("sw1:1161",), community_file="/etc/netcheck/community"))
    assert inputs.from_json(inputs.to_json(inp)) == inp
    # credentials travel as file names only: no field can carry a key or a community
    fields = {f for cls in (RunInput, SnmpInput) for f in cls.__struct_fields__}
    assert {f for f in fields if re.search("key|community|auth|priv", f)} == {
        "responder_key_file", "community_file", "v3_auth_file", "v3_priv_file", "v3_auth_proto", "v3_priv_proto"}


@pytest.mark.parametrize("doc", [b'{"profile": "demo", "responder_key": "c2VjcmV0"}', b'{"quick": true}',
                                 b"[]", b"\xff"])
def test_a_bad_child_document_is_one_input_error(doc: bytes) -> None:
    with pytest.raises(InputError, match=r"^run input: "):
        inputs.from_json(doc)


@pytest.mark.parametrize(("inp", "message"), [
    (RunInput(profile="demo", responder="h:99999"), "--responder 'h:99999': port must be 1-65535"),
    (RunInput(profile="demo", iperf3="[::1]:x"), "--iperf3 '[::1]:x': port must be 1-65535"),
    (RunInput(profile="demo", package_mix="nosuch=2"), "--package-mix: profile 'demo' has no package nosuch"),
    (RunInput(profile="demo", targets={"nope": "h"}), "has no target 'nope'"),
    (RunInput(profile="no-such-profile"), "no such profile"),
    (RunInput(profile="demo", responder_key_file="/nonexistent/key"), "/nonexistent/key"),
    (RunInput(profile="demo", snmp=SnmpInput(switches=("sw1",))), "--switch needs SNMP credentials"),
    (RunInput(profile="demo", snmp=SnmpInput(switches=("sw 1",), community_file=__file__)),
     "--switch 'sw 1': not a host name"),
])
def test_resolution_errors_are_one_line_naming_the_option(inp: RunInput, message: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NETCHECK_SNMP_COMMUNITY", raising=False)
    with pytest.raises(InputError, match=re.escape(message)) as err:
        inputs.resolve(inp)
    assert "\n" not in str(err.value)


def test_resolved_request_carries_the_secrets_read_from_files(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    community = tmp_path / "community"
    community.write_text("s3cret-community\n")
    monkeypatch.delenv("NETCHECK_SNMP_COMMUNITY", raising=False)  # the file, not the environment
    req = inputs.resolve(RunInput(profile="demo", customer="ACME", extensions=12,
                                  snmp=SnmpInput(switches=("[::1]:1161", "127.0.0.1"),
                                                 community_file=str(community))))
    assert [(t.host, t.port, t.community) for t in req.switches] == [
        ("::1", 1161, "s3cret-community"), ("127.0.0.1", 161, "s3cret-community")]  # RFC 3417: port 161
    assert req.site.customer == "ACME" and req.site.extensions == 12
    assert "s3cret" not in repr(req)  # the request is never printed with its secrets
    assert msgspec.json.encode(req.input).find(b"s3cret") == -1


@pytest.mark.parametrize(("stdin", "line"), [
    (b'{"input": {"profile": "demo", "responder_key_file": "/nonexistent/key"}}',
     "error: run input: /nonexistent/key: No such file or directory"),
    (b'{"input": {"profile": 5}}', "error: run input: Expected `str`, got `int` - at `$.input.profile`"),
    (b"\x00garbage", "error: run input: "),
])
def test_the_agents_child_refuses_a_bad_input_in_one_line(stdin: bytes, line: str) -> None:
    """What the agent stores as the run's error (its child's last stderr line), e.g. a key
    file removed since the agent started: one line, exit code 2, nothing measured."""
    import subprocess
    import sys

    from netcheck.agent import agent as ag

    proc = subprocess.run([sys.executable, "-m", "netcheck.agent.agent", "--child"], input=stdin,
                          capture_output=True, timeout=60, check=False)
    assert proc.returncode == 2 and proc.stdout == b""
    assert proc.stderr.decode().splitlines() == [proc.stderr.decode().strip()]
    assert proc.stderr.decode().startswith(line)
    outcome = ag._decode_child(proc.returncode, proc.stdout, proc.stderr)
    assert outcome.error is not None and outcome.error.startswith(line)
