"""PDF report: the HTML report typeset by WeasyPrint (A4, running header with customer
and date, page numbers, the result's SHA-256 in the footer and in the PDF's Keywords).

WeasyPrint is a maintained, pure-Python CSS Paged Media renderer (it needs Debian's pango
libraries, ``libpango-1.0-0 libpangoft2-1.0-0``). The report must render offline and
must never reach out to the network — a string from a scanned device could otherwise make
the renderer fetch a URL — so every fetch goes to :class:`RefusingFetcher`, which refuses
everything (WeasyPrint 70 takes a ``URLFetcher`` instance for this; it then logs and
skips the resource). The HTML has no external resources in the first place.
"""

from __future__ import annotations

import logging
from typing import Any

from netcheck.reports import html
from netcheck.reports.options import RenderOptions
from netcheck.result import RunResult

log = logging.getLogger("netcheck.reports.pdf")


def _fetcher_base() -> type:
    from weasyprint.urls import URLFetcher

    return URLFetcher  # type: ignore[no-any-return]


def refusing_fetcher() -> Any:
    """A WeasyPrint URL fetcher that refuses every URL and remembers what was asked."""

    class RefusingFetcher(_fetcher_base()):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(allowed_protocols=("data",), allow_redirects=False, timeout=0.001)
            self.refused: list[str] = []

        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith("data:"):  # the integrator's inlined logo: no network involved
                return super().fetch(url, headers)
            self.refused.append(url)
            log.warning("refused to fetch %s while rendering the PDF", url[:200])
            raise ValueError(f"netcheck reports load nothing: refused {url[:200]}")

    return RefusingFetcher()


def render(result: RunResult, lang: str = "en", options: RenderOptions | None = None) -> bytes:
    return render_html(html.render_text(result, lang, options, fmt="pdf"))


def render_html(document: str, fetcher: Any = None) -> bytes:
    """Typeset an HTML string (already self-contained) as PDF, fetching nothing."""
    from weasyprint import HTML

    pdf: bytes = HTML(
        string=document, url_fetcher=fetcher or refusing_fetcher(), media_type="print"
    ).write_pdf()
    return pdf
