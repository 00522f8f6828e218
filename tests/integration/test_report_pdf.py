"""PDF via WeasyPrint, read back with poppler (pdftotext, pdftoppm, pdfinfo).

Needs: pip weasyprint; Debian libpango-1.0-0 libpangoft2-1.0-0 poppler-utils
fonts-dejavu-core. Skipped with a reason where they are missing.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from netcheck.result import RunResult, from_json
from tests import docgen

RESULTS = Path(__file__).resolve().parents[1] / "data" / "results" / "v1"
pytest.importorskip("weasyprint", reason="PDF needs WeasyPrint (pip install weasyprint)")
if not (shutil.which("pdftotext") and shutil.which("pdftoppm") and shutil.which("pdfinfo")):
    pytest.skip("poppler-utils (pdftotext/pdftoppm/pdfinfo) not installed", allow_module_level=True)

from netcheck.reports import integrity, pdf  # noqa: E402

# (fixture, lang) -> strings pdftotext must find: verdict, customer, key values
EXPECT = {
    ("no-go-lab", "en"): ["NO-GO", "Praxis Dr. Özdemir", "Measured 82.06 ms", "5.333 %"],
    ("no-go-lab", "de"): [
        "NO-GO",
        "Praxis Dr. Özdemir",
        "Gemessen 82,06 ms",
        "5,333 %",
        "Blockierende Befunde",
    ],
    ("go", "en"): ["GO", "Müller & Söhne GmbH", "Nothing: every required check passed."],
    ("go", "de"): ["GO", "Müller & Söhne GmbH", "Nichts: alle Pflichtpunkte sind erfüllt."],
    ("incomplete", "en"): ["INCOMPLETE", "Stadtwerke Beispielstadt", "Open items"],
    ("incomplete", "de"): ["UNVOLLSTÄNDIG", "Stadtwerke Beispielstadt", "Offene Punkte"],
    ("no-go", "de"): ["NO-GO", "Bäckerei Schmidt KG", "refused 8443"],  # schema 1: stored English
    ("stimme-no-go", "de"): ["NO-GO", "Bäckerei Schmidt KG", "abgewiesen"],
}


def _load(name: str) -> RunResult:
    """A stored schema-1 document (v1/NAME.json) or one made by today's code (PROFILE-KIND)."""
    path = RESULTS / f"{name}.json"
    return from_json(path.read_bytes()) if path.exists() else docgen.named(name)


def _text(path: Path, *args: str) -> str:
    out = subprocess.run(
        ["pdftotext", "-layout", *args, str(path), "-"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout


def _pages(path: Path) -> int:
    info = subprocess.run(
        ["pdfinfo", str(path)], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    found = re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE)
    assert found and "A4" in info
    return int(found.group(1))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    out = tmp_path_factory.mktemp("pdf")
    paths = {}
    for name, lang in EXPECT:
        path = out / f"{name}.{lang}.pdf"
        path.write_bytes(pdf.render(_load(name), lang))
        paths[(name, lang)] = path
    return paths


@pytest.mark.parametrize(("name", "lang"), sorted(EXPECT))
def test_pdf_text_has_verdict_customer_and_values(rendered: dict, name: str, lang: str) -> None:
    text = _text(rendered[(name, lang)])
    for needle in EXPECT[(name, lang)]:
        assert needle in text, needle


@pytest.mark.parametrize(("name", "lang"), [("no-go-lab", "de"), ("incomplete", "en")])
def test_every_page_has_header_footer_and_renders(
    rendered: dict, name: str, lang: str, tmp_path: Path
) -> None:
    path = rendered[(name, lang)]
    pages = _pages(path)
    assert pages >= 2
    sha = integrity.digest(from_json((RESULTS / f"{name}.json").read_bytes()))
    customer = from_json((RESULTS / f"{name}.json").read_bytes()).site.customer
    word = "Seite" if lang == "de" else "Page"
    for page in range(1, pages + 1):
        text = _text(path, "-f", str(page), "-l", str(page))
        assert customer in text.splitlines()[0]  # running header
        assert f"{word} {page} / {pages}" in text
        assert f"sha256:{sha}" in text
    subprocess.run(
        ["pdftoppm", "-png", "-r", "40", str(path), str(tmp_path / "p")], check=True, timeout=120
    )
    pngs = sorted(tmp_path.glob("p-*.png"))
    assert len(pngs) == pages and all(p.stat().st_size > 2000 for p in pngs)


def test_verify_reads_the_digest_back_from_the_pdf(rendered: dict) -> None:
    raw = (RESULTS / "no-go-lab.json").read_bytes()
    report = rendered[("no-go-lab", "de")].read_bytes()
    assert integrity.verify(raw, report).ok
    assert not integrity.verify((RESULTS / "go.json").read_bytes(), report).ok


def test_renderer_fetches_nothing() -> None:
    """A document that references a stylesheet, an image and a font on a local server:
    the refusing fetcher records each URL and no connection ever reaches the server."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    accepted: list[object] = []

    def accept() -> None:
        for _ in range(10):  # bounded: about 2 s
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            accepted.append(conn)
            conn.close()

    thread = threading.Thread(target=accept)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    document = (
        f'<html><head><link rel="stylesheet" href="{base}/a.css"><style>'
        f"@font-face {{ font-family: X; src: url({base}/x.woff) }}</style></head>"
        f'<body><img src="{base}/x.png"><p>hello</p></body></html>'
    )
    fetcher = pdf.refusing_fetcher()
    data = pdf.render_html(document, fetcher)
    thread.join()
    server.close()
    assert data.startswith(b"%PDF")
    assert accepted == []
    assert {f"{base}/a.css", f"{base}/x.png"} <= set(fetcher.refused)
