"""The result document itself, as indented JSON."""

from netcheck.reports.options import RenderOptions
from netcheck.result import RunResult, to_json


def render(result: RunResult, lang: str = "en", options: RenderOptions | None = None) -> bytes:
    """The document itself (language-neutral, always with every raw measurement);
    ``lang`` and ``options`` are accepted for the common signature."""
    return to_json(result)
