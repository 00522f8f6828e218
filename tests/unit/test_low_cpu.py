"""The low-CPU send schedule is chosen by the user (``run``/``agent --low-cpu``: one field of
the run input), reaches every call of the plan (and the agent's child run), and is never
silent: a call on it is at most medium confidence, the reason naming its measured p99 send
error."""

from __future__ import annotations

import click
import msgspec

from netcheck import cli as cli_module
from netcheck.agent import agent
from netcheck.plan import core as plan
from netcheck.probes import stream
from netcheck.run import inputs, preview
from tests.unit.test_run_inputs import OUTPUT_ONLY

#: the options of ``run`` (and ``agent``) that make the run input
_RUN_INPUT_OPTIONS = {p.name for p in cli_module.run.params if p.name} - OUTPUT_ONLY


def _calls(low_cpu: bool, inp: inputs.RunInput | None = None) -> list[stream.Spec]:
    request = inputs.resolve(inp or inputs.RunInput(profile="demo", responder="127.0.0.1", low_cpu=low_cpu))
    # a default gateway: the layer-2 call to it is planned too (without the responder)
    runs = plan.build(request.profile, preview.options_for(request, "127.0.0.1", {}, request.responder))
    return [r.spec for r in runs if r.probe == "stream"]


def _run_input(command: click.Command, args: list[str]) -> inputs.RunInput:
    """The run input the command makes of ``args`` (click's own parsing, then the CLI's)."""
    params = command.make_context(command.name, args).params
    measured = {k: v for k, v in params.items() if k in _RUN_INPUT_OPTIONS}
    return cli_module._run_input(measured)  # type: ignore[no-any-return]


def test_the_option_reaches_every_call_of_the_plan() -> None:
    low, default = _calls(True), _calls(False)
    assert "stream:gateway" in {s.id for s in low} and len(low) >= 2 and len(low) == len(default)
    assert all(s.low_cpu for s in low) and not any(s.low_cpu for s in default)


def test_the_agent_hands_it_to_its_child_run() -> None:
    """``agent --low-cpu`` as its command parses it, through the RunSpec the agent sends its
    child, the child's decoding and resolution, to the calls the child plans."""
    inp = _run_input(cli_module.agent, ["--profile", "demo", "--responder", "127.0.0.1", "--low-cpu"])
    spec = agent.RunSpec(input=inp, kind="full")
    decoded = msgspec.json.decode(msgspec.json.encode(spec), type=agent.RunSpec)  # the child's decoding
    calls = _calls(True, decoded.input)
    assert len(calls) >= 2 and all(s.low_cpu for s in calls)


def test_run_takes_the_option() -> None:
    assert _run_input(cli_module.run, ["--profile", "demo", "--low-cpu"]).low_cpu is True
    assert _run_input(cli_module.run, ["--profile", "demo"]).low_cpu is False


def test_a_low_cpu_call_names_its_send_error() -> None:
    values = {"send_error_p99_ms": 0.0734, "send_schedule": "low-cpu", "one_way_delay_estimated": False,
              "rx_kernel_timestamps": True}
    level, why = stream._confidence(values, None)
    assert level == "medium" and why is not None
    text = why.values()["confidence_reason"]
    assert text.startswith("sent on the low-CPU schedule") and "0.073 ms (p99)" in text
    # a late sender is low whatever the schedule
    late = stream._confidence({**values, "send_error_p99_ms": 2.5}, None)
    assert late[0] == "low" and late[1] is not None and late[1].key == "sender_late"
    # the default schedule keeps its own rules
    assert stream._confidence({**values, "send_schedule": "default"}, None) == ("high", None)
