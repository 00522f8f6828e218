"""The result document itself, as indented JSON."""

from netcheck.result import RunResult, to_json


def render(result: RunResult) -> bytes:
    return to_json(result)
