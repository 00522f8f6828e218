"""Report renderers: one module per format, each ``render(result, lang="en") -> bytes``.

Renderers read only the result document. One failing renderer does not stop the others
(:func:`render_all`)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # light: ``netcheck history`` imports netcheck.reports.history only
    from netcheck.reports.options import RenderOptions
    from netcheck.result import RunResult

#: format -> (module, file extension)
FORMATS: dict[str, tuple[str, str]] = {
    "json": ("netcheck.reports.json", "json"),
    "text": ("netcheck.reports.text", "txt"),
    "markdown": ("netcheck.reports.markdown", "md"),
    "html": ("netcheck.reports.html", "html"),
    "pdf": ("netcheck.reports.pdf", "pdf"),
}
#: Report languages (catalogues in netcheck/reports/i18n/).
LANGUAGES = ("en", "de")

Renderer = Callable[..., bytes]  # render(result, lang="en", options: RenderOptions | None = None) -> bytes


def get(fmt: str) -> Renderer:
    module = importlib.import_module(FORMATS[fmt][0])
    fn: Renderer = module.render
    return fn


def render_all(result: RunResult, formats: list[str], lang: str = "en",
               options: RenderOptions | None = None) -> dict[str, bytes | Exception]:
    out: dict[str, bytes | Exception] = {}
    for fmt in formats:
        try:
            out[fmt] = get(fmt)(result, lang, options)
        except Exception as exc:  # one broken renderer must not cost the others
            import logging

            logging.getLogger("netcheck.reports").debug("renderer %s failed", fmt, exc_info=True)
            out[fmt] = exc
    return out
