"""The low-CPU send schedule is chosen by the user (``run``/``agent --low-cpu``: one field of
the run input), reaches every call of the plan (and the agent's child run), and is never
silent: a call on it is at most medium confidence, the reason naming its measured p99 send
error."""

from __future__ import annotations

import msgspec
from click.testing import CliRunner

from netcheck.agent import agent
from netcheck.cli import cli
from netcheck.plan import core as plan
from netcheck.probes import stream
from netcheck.run import inputs, preview


def _calls(low_cpu: bool) -> list[stream.Spec]:
    request = inputs.resolve(inputs.RunInput(profile="demo", responder="127.0.0.1", low_cpu=low_cpu))
    # a default gateway: the layer-2 call to it is planned too (without the responder)
    runs = plan.build(request.profile, preview.options_for(request, "127.0.0.1", {}, request.responder))
    return [r.spec for r in runs if r.probe == "stream"]


def test_the_option_reaches_every_call_of_the_plan() -> None:
    low, default = _calls(True), _calls(False)
    assert "stream:gateway" in {s.id for s in low} and len(low) >= 2 and len(low) == len(default)
    assert all(s.low_cpu for s in low) and not any(s.low_cpu for s in default)


def test_the_agent_hands_it_to_its_child_run() -> None:
    spec = agent.RunSpec(input=inputs.RunInput(profile="demo", low_cpu=True))
    decoded = msgspec.json.decode(msgspec.json.encode(spec), type=agent.RunSpec)  # the child's decoding
    assert decoded.input.low_cpu is True


def test_run_takes_the_option() -> None:
    out = CliRunner().invoke(cli, ["run", "--profile", "demo", "--plan", "--low-cpu"])
    assert out.exit_code == 0, out.output
    assert "stream:platform" in out.output


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
