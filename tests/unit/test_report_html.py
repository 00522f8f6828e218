"""HTML and Markdown reports rendered from the stored lab result documents."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from netcheck.reports import html, markdown, text, view
from netcheck.result import from_json
from tests import docgen

RESULTS = Path(__file__).resolve().parents[1] / "data" / "results" / "v1"
CUSTOMERS = {
    "go": "Müller &amp; Söhne GmbH",
    "no-go": "Bäckerei Schmidt KG",
    "incomplete": "Stadtwerke Beispielstadt",
    "no-go-lab": "Praxis Dr. Özdemir",
}
VERDICT = {
    ("go", "en"): "GO",
    ("go", "de"): "GO",
    ("no-go", "en"): "NO-GO",
    ("no-go", "de"): "NO-GO",
    ("incomplete", "en"): "INCOMPLETE",
    ("incomplete", "de"): "UNVOLLSTÄNDIG",
    ("no-go-lab", "en"): "NO-GO",
    ("no-go-lab", "de"): "NO-GO",
}
SVG_NS = 'xmlns="http://www.w3.org/2000/svg"'


def _load(name: str):  # type: ignore[no-untyped-def]
    """A stored schema-1 document (v1/NAME.json) or one made by today's code (PROFILE-KIND)."""
    if (RESULTS / f"{name}.json").exists():
        return from_json((RESULTS / f"{name}.json").read_bytes())
    return docgen.named(name)


def _html(name: str, lang: str) -> str:
    return html.render(_load(name), lang).decode()


@pytest.mark.parametrize(("name", "lang"), sorted(VERDICT))
def test_verdict_and_customer_in_both_languages(name: str, lang: str) -> None:
    page = _html(name, lang)
    banner = re.search(
        r'<section class="verdict ([A-Z-]+)"[^>]*>\s*<div class="word">([^<]+)<', page
    )
    assert banner is not None
    assert banner.group(1) == _load(name).verdict.value
    assert banner.group(2) == VERDICT[(name, lang)]
    assert CUSTOMERS[name] in page
    assert f'<html lang="{lang}">' in page


class _Tags(HTMLParser):
    """Every element and attribute as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [(k, v or "") for k, v in attrs]


def _tags(page: str) -> _Tags:
    parser = _Tags()
    parser.feed(page)
    return parser


@pytest.mark.parametrize("name", [*sorted(CUSTOMERS), "malicious"])
def test_html_is_self_contained(name: str) -> None:
    """Nothing to load and nothing to run: no script/img/iframe/link/object element, no
    src/href/event-handler attribute, no external URL (the SVG namespace is a name, not a
    load), no url() or @import in the CSS."""
    page = _html(name, "de")
    parsed = _tags(page)
    assert not {"script", "img", "iframe", "link", "object", "embed", "image", "use"} & set(
        parsed.tags
    )
    assert [
        k for k, _ in parsed.attrs if k in ("src", "href", "xlink:href") or k.startswith("on")
    ] == []
    bare = page.replace(SVG_NS, "")
    assert "http://" not in bare and "https://" not in bare
    assert "@import" not in page and "url(" not in page


def test_hostile_strings_are_escaped_everywhere() -> None:
    """malicious.json carries <script> and attribute-breaking payloads in customer, site,
    technician, a check title/reason/remedy, a measurement target/value, an SNMP sysDescr,
    a switch name, a phone model and a provider source."""
    for lang in ("en", "de"):
        page = _html("malicious", lang)
        assert "<script" not in page.lower() and "<img" not in page and "<svg onload" not in page
        assert "onerror=alert(1)>" not in page  # only as escaped text: onerror=alert(1)&gt;
        assert "&lt;script&gt;alert(1)&lt;/script&gt; Evil &amp; Co GmbH" in page
        assert "Cisco IOS &lt;script&gt;alert(1)&lt;/script&gt;" in page  # sysDescr
        assert "IP232 &lt;script&gt;" in page  # phone inventory
        assert "&lt;/style&gt;" in page  # the technician cannot close the style element
        assert "s3cr3t-community" not in page and "[redacted]" in page


def test_markdown_neutralises_hostile_strings() -> None:
    doc = markdown.render(_load("malicious"), "en").decode()
    assert not re.search(r"(?<!\\)<(script|img|/style)", doc)  # every < is backslash-escaped
    assert r"\<script\>alert(1)\</script\> Evil & Co GmbH" in doc
    assert "s3cr3t" not in doc


def test_findings_come_first_with_measured_limit_and_fix() -> None:
    page = _html("managed-com-business-no-go", "en")
    assert page.index('id="findings"') < page.index('id="requirements"') < page.index('id="charts"')
    assert "Measured 131.5 ms · required ≤ 50 ms" in page
    assert "Measured 6.7 % · required &lt; 1 %" in page
    assert "Fix:</b> Reduce delay to handover point (sip.managed-com.de)" in page
    de = _html("managed-com-business-no-go", "de")
    assert "Gemessen 131,5 ms · gefordert ≤ 50 ms" in de
    rows = {r.id: r for _, group in view.build(_load("managed-com-business-no-go"), "de").groups for r in group}
    port = rows["port.tcp.5060@handover"]  # optional row: a WARN with its fix
    assert (port.measured, port.limit) == ("abgewiesen 5060", "offen")
    assert port.fix and port.fix.startswith("Ausgehend TCP 5060 zu sip.managed-com.de („SIP signalling")


def test_requirements_table_has_method_and_confidence() -> None:
    report = view.build(_load("no-go-lab"), "en")
    rows = {r.id: r for _, rows in report.groups for r in rows}
    assert rows["handover.rtt_ms@handover"].method == "ICMP echo (fallback)"
    assert rows["handover.rtt_ms@handover"].confidence == "estimate"
    assert rows["port.tcp.443@handover"].method == "TCP connect"
    assert len(rows) == len(_load("no-go-lab").checks)


def test_incomplete_lists_open_items() -> None:
    report = view.build(_load("managed-com-business-incomplete"), "de")
    titles = [r.title for r in report.open_items]
    assert "PoE (802.3af) an jedem Telefon-Port" in titles
    assert "Sprache vor anderem Verkehr priorisiert" in titles
    assert not report.findings


def test_loss_chart_marks_failing_windows_and_limit() -> None:
    """managed-com-business NO-GO: loss_windows_pct [0.4, 6.7, 0.2] against "< 1 %": one red
    bar, a dashed limit line; lost packets (100 of 1500) marked on the delay chart."""
    charts = view.build(_load("managed-com-business-no-go"), "de").charts
    loss = next(c.svg for c in charts if c.title.startswith("Paketverlust"))
    assert loss.count('fill="#c62828"/>') == 1
    assert "6,7 %" in loss and "0,4 %" in loss and "stroke-dasharray" in loss and "&lt; 1 %" in loss
    delay = next(c.svg for c in charts if c.title == "Umlaufzeit: Übergabepunkt (198.51.100.7)")
    assert delay.count("<rect") == 100 + 1  # 100 lost packets, the worst window shaded
    assert "≤ 50 ms" in delay and "schlechtestes Intervall: 6,7 %" in delay


def test_port_matrix_and_no_chart_without_data() -> None:
    charts = view.build(_load("go"), "en").charts
    matrix = next(c.svg for c in charts if c.title == "Outbound port matrix")
    assert matrix.count("<text") >= 4 * 2 and "TCP 443" in matrix and "open" in matrix
    assert not [c for c in charts if c.title.startswith("PoE")]  # no switch audit in go.json


def test_poe_chart_and_inventory_from_switch_audit() -> None:
    report = view.build(_load("malicious"), "en")
    poe = next(c.svg for c in report.charts if c.title.startswith("PoE"))
    assert "96 / 370 W" in poe and "<svg onload" not in poe.replace("<svg xmlns", "")
    assert report.inventory is not None
    cols, rows = report.inventory
    assert cols[:3] == ["mac", "vendor", "model"] and rows[0][0] == "00:90:33:aa:bb:01"


def test_text_report_in_german() -> None:
    out = text.render(_load("incomplete"), "de").decode()
    assert "ERGEBNIS: UNVOLLSTÄNDIG" in out and "Stadtwerke Beispielstadt" in out
    assert f"sha256:{view.build(_load('incomplete')).sha256}" in out.splitlines()


def test_capacity_statement_and_chart_from_the_keys_the_capacity_probe_writes() -> None:
    """Issue 13: the statement read ``supported_calls``/``needed_calls``, which no probe
    writes; it now reads the ramp's ``calls_up_max``/``calls_down_max`` and the need from
    ``required_*_kbps`` / ``call_kbps`` (netcheck/probes/capacity.py::summarise)."""
    report = view.build(_load("managed-com-business-go"), "de")
    assert report.capacity == ["Die gemessene Verbindung trägt 19 gleichzeitige G.711-Gespräche.",
                               "12 Nebenstellen benötigen 14 gleichzeitige Gespräche."]
    assert any(c.title == "Gleichzeitige Gespräche: möglich und benötigt" for c in report.charts)
    jitter = next(c for c in report.charts if c.title.startswith("Jitter"))
    assert "Laufender Jitter" in jitter.caption  # the stream's interval_ms (20 ms) spaces the samples
    assert ">30</text>" in jitter.svg or ">25</text>" in jitter.svg  # 1,500 packets x 20 ms = 30 s axis
