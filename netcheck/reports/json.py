"""The result document itself, as indented JSON."""

from netcheck.result import RunResult, to_json


def render(result: RunResult, lang: str = "en") -> bytes:
    """The document is language-neutral; ``lang`` is accepted for the common signature."""
    return to_json(result)
