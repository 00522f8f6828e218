"""Issue 18, done-when: the reports a customer receives, for every shipped profile's typical
GO, NO-GO and INCOMPLETE document (made by today's code, tests/docgen.py), in German and
English, as HTML and PDF:

- no untranslated sentence in German (text netcheck writes; provider text quoted from the
  profile — its name, sources, port purposes — stays as the provider wrote it);
- a GO fits in 3 A4 pages, a NO-GO in 5 (pdfinfo), without the appendix;
- no port number is digit-grouped ("5.060" reads as a decimal in German);
- ``report verify`` exits 1 and names the difference when a report's verdict, a number or a
  finding was edited; a signed report verifies with the public key and fails after one
  byte changed; a result whose stored verdict was edited is refused.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from netcheck.cli import cli
from netcheck.reports import html, verify
from netcheck.result import RunResult, to_json
from tests import docgen
from tests.unit.test_check_keys import ENGLISH as ENGLISH_WORD
from tests.unit.test_check_keys import unquoted

pytest.importorskip("weasyprint", reason="PDF needs WeasyPrint (pip install weasyprint)")
if not (shutil.which("pdfinfo") and shutil.which("pdftotext")):
    pytest.skip("poppler-utils (pdfinfo/pdftotext) not installed", allow_module_level=True)

from netcheck.reports import pdf

DOCS = docgen.all_documents()
MAX_PAGES = {"go": 3, "no-go": 5, "incomplete": 5}


def _kind(name: str) -> str:
    return next(k for k in sorted(docgen.KINDS, key=len, reverse=True) if name.endswith(f"-{k}"))


def _pages(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, timeout=60, check=True).stdout
    found = re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE)
    assert found and "A4" in info
    return int(found.group(1))


def _provider_text(doc: RunResult) -> list[str]:
    """Text quoted from the profile (the provider's words), not written by netcheck."""
    purposes = [str(c.params.get("purpose")) for c in doc.checks if isinstance(c.params.get("purpose"), str)]
    return [doc.profile.name, *doc.profile.sources.values(), *purposes]


def _netcheck_text(page: bytes, fmt: str, doc: RunResult) -> str:
    """The report's text as one string (PDF lines break inside phrases), without the style
    sheet, the HTML extractor's class tokens and the text quoted from the profile."""
    lines = [re.sub(r"\[[^\]]*\] ?", "", line) for line in verify.text_of(page, fmt)]
    text = " ".join(line for line in lines if "{" not in line and "}" not in line)
    text = re.sub(r"-\s+(?=[a-zäöü])", "", text)  # words hyphenated at a line end
    for quoted in sorted(_provider_text(doc), key=len, reverse=True):
        text = text.replace(quoted, " ")
    return text


def _grouped_ports(text: str, doc: RunResult) -> list[str]:
    ports = {int(p) for c in doc.checks if c.id.startswith("port.")
             for p in re.findall(r"\d+", str(c.params.get("port", ""))) if int(p) >= 1000}
    forms = [f for p in ports for f in (f"{p:,}", f"{p:,}".replace(",", "."))]
    return [f for f in forms if re.search(rf"(?<![\d.,]){re.escape(f)}(?![\d])", text)]


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    out = tmp_path_factory.mktemp("delivery")
    paths = {}
    for name, doc in DOCS.items():
        for lang in ("de", "en"):
            path = out / f"{name}.{lang}.pdf"
            path.write_bytes(pdf.render(doc, lang))
            paths[(name, lang)] = path
    return paths


@pytest.mark.parametrize("name", sorted(DOCS))
def test_german_html_and_pdf_have_no_english_sentence(pdfs: dict[tuple[str, str], Path], name: str) -> None:
    doc = DOCS[name]
    page = html.render(doc, "de").split(b'id="appendix"')[0]  # raw data keys are data, not sentences
    for fmt, data in (("html", page), ("pdf", pdfs[(name, "de")].read_bytes())):
        text = unquoted(_netcheck_text(data, fmt, doc))
        english = [text[max(0, m.start() - 60):m.end() + 60] for m in ENGLISH_WORD.finditer(text)]
        assert not english, f"{name} {fmt}: English in the German report: {english[:5]}"


@pytest.mark.parametrize("name", sorted(DOCS))
@pytest.mark.parametrize("lang", ["de", "en"])
def test_page_count_and_ungrouped_ports(pdfs: dict[tuple[str, str], Path], name: str, lang: str) -> None:
    path = pdfs[(name, lang)]
    assert _pages(path) <= MAX_PAGES[_kind(name)], f"{name} {lang}: {_pages(path)} pages"
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    page = html.render(DOCS[name], lang).decode()
    assert not _grouped_ports(text, DOCS[name]) and not _grouped_ports(page, DOCS[name])


# ------------------------------------------------------------------ integrity


def _files(tmp_path: Path, name: str, fmt: str, lang: str = "de") -> tuple[Path, Path]:
    doc = DOCS[name]
    result = tmp_path / "RESULT.json"
    result.write_bytes(to_json(doc))
    report = tmp_path / f"REPORT.{fmt}"
    res = CliRunner().invoke(cli, ["report", str(result), "--format", fmt, "--lang", lang, "-o", str(report)])
    assert res.exit_code == 0, res.output
    return result, report


def _verify(result: Path, report: Path, *extra: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, ["report", "verify", str(result), str(report), *extra])
    return res.exit_code, res.output


@pytest.mark.parametrize("fmt", ["html", "markdown", "pdf"])
def test_untouched_report_verifies_by_content(tmp_path: Path, fmt: str) -> None:
    result, report = _files(tmp_path, "managed-com-business-no-go", fmt)
    code, out = _verify(result, report)
    assert code == 0 and "content matches" in out, out


@pytest.mark.parametrize(
    ("fmt", "old", "new", "named"),
    [
        # the verdict band turned into a green GO (word and colour class)
        ("html", b'<section class="verdict NO-GO" id="verdict">\n  <div class="word">NO-GO</div>',
         b'<section class="verdict GO" id="verdict">\n  <div class="word">GO</div>', "GO"),
        # a measured number: 131,5 ms round-trip time made 31,5 ms
        ("html", b"131,5 ms", b"31,5 ms", "31,5 ms"),
        # a finding removed from the markdown list
        ("markdown", b"kein SIP-ALG auf dem Weg", b"SIP ok", "SIP ok"),
    ],
)
def test_edited_report_fails_naming_the_difference(tmp_path: Path, fmt: str, old: bytes, new: bytes,
                                                   named: str) -> None:
    result, report = _files(tmp_path, "managed-com-business-no-go", fmt)
    data = report.read_bytes()
    assert old in data
    report.write_bytes(data.replace(old, new))
    code, out = _verify(result, report)
    assert code == 1 and "differs from the result" in out and named in out, out


def test_pdf_of_another_result_fails(tmp_path: Path) -> None:
    _result, report = _files(tmp_path, "stimme-go", "pdf")
    other = tmp_path / "OTHER.json"
    other.write_bytes(to_json(DOCS["stimme-no-go"]))
    code, out = _verify(other, report)
    assert code == 1 and "mismatch" in out


def test_signed_report_verifies_and_fails_after_one_byte(tmp_path: Path) -> None:
    runner = CliRunner()
    key, pub = tmp_path / "k.pem", tmp_path / "k.pub"
    assert runner.invoke(cli, ["report", "keygen", str(key), str(pub)]).exit_code == 0
    result = tmp_path / "RESULT.json"
    result.write_bytes(to_json(DOCS["teams-go"]))
    report = tmp_path / "REPORT.pdf"
    res = runner.invoke(cli, ["report", str(result), "--format", "pdf", "-o", str(report), "--sign-key", str(key)])
    assert res.exit_code == 0 and (tmp_path / "REPORT.pdf.sig").exists(), res.output
    assert runner.invoke(cli, ["report", "sign", str(result), "--key", str(key)]).exit_code == 0
    code, out = _verify(result, report, "--public-key", str(pub))
    assert code == 0 and out.count("good signature") == 2, out
    data = bytearray(report.read_bytes())
    data[len(data) // 2] ^= 0x01  # one byte in the middle of the PDF
    report.write_bytes(bytes(data))
    code, out = _verify(result, report, "--public-key", str(pub))
    assert code == 1 and "REPORT.pdf: bad signature" in out, out


def test_result_with_edited_verdict_is_refused(tmp_path: Path) -> None:
    doc = DOCS["managed-com-business-no-go"]
    result = tmp_path / "RESULT.json"
    result.write_bytes(to_json(doc).replace(b'"verdict": "NO-GO"', b'"verdict": "GO"', 1))
    res = CliRunner().invoke(cli, ["report", str(result), "--format", "html"])
    assert res.exit_code != 0 and "says GO but its checks give NO-GO" in res.output
