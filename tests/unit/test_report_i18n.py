"""Catalogues, number/date formatting and German check texts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netcheck.evaluate import REMEDIES
from netcheck.reports import checktext, i18n
from netcheck.reports.i18n import Catalogue
from netcheck.result import from_json

RESULTS = Path(__file__).resolve().parents[1] / "data" / "results"
I18N = Path(i18n.__file__).with_name("i18n")


def _load(name: str):  # type: ignore[no-untyped-def]
    return from_json((RESULTS / f"{name}.json").read_bytes())


def test_catalogues_define_the_same_keys() -> None:
    en = json.loads((I18N / "en.json").read_text("utf-8"))
    de = json.loads((I18N / "de.json").read_text("utf-8"))
    assert sorted(set(en) - set(de)) == []
    assert sorted(set(de) - set(en)) == []


def test_every_remedy_key_has_a_german_text() -> None:
    """Lists the gaps: a remedy registered in netcheck.evaluate without ``remedy.<key>`` in
    de.json falls back to English in German reports."""
    missing = sorted(k for k in REMEDIES if f"remedy.{k}" not in i18n.keys("de"))
    assert missing == [], f"add German texts for: {', '.join(missing)}"


def test_german_remedy_placeholders_match_english() -> None:
    import string

    de = json.loads((I18N / "de.json").read_text("utf-8"))
    for key, text in REMEDIES.items():
        if f"remedy.{key}" in de:
            names = {f for _, f, _, _ in string.Formatter().parse(text) if f}
            german = {f for _, f, _, _ in string.Formatter().parse(de[f"remedy.{key}"]) if f}
            assert german == names, key


@pytest.mark.parametrize(
    ("lang", "value", "text"),
    [
        ("en", 82.061, "82.1"),
        ("de", 82.061, "82,1"),
        ("de", 5.333, "5,33"),
        ("en", 0.631, "0.631"),
        ("de", 12345.0, "12.345"),
        ("en", 12345.0, "12,345"),
        ("de", 0, "0"),
        ("de", None, "\u2013"),
    ],
)
def test_numbers_use_the_languages_separators(lang: str, value: float, text: str) -> None:
    assert Catalogue(lang).num(value) == text


def test_dates_and_limits_are_formatted_for_the_language() -> None:
    stamp = "2026-11-21T15:45:13.307Z"  # environment.started_utc of no-go-lab.json
    assert Catalogue("de").datetime(stamp) == "21.11.2026, 15:45 UTC"
    assert Catalogue("en").datetime(stamp) == "21 Nov 2026, 15:45 UTC"
    assert Catalogue("de").decimals_in("< 0.1 %") == "< 0,1 %"
    assert Catalogue("en").decimals_in("<= 150 ms") == "≤ 150 ms"
    assert Catalogue("de").duration(30.714) == "30,7 s"


def test_unknown_language_is_an_error_and_missing_key_falls_back() -> None:
    with pytest.raises(ValueError, match="unknown report language"):
        Catalogue("fr")
    assert Catalogue("de").t("no.such.key") == "no.such.key"


def test_german_texts_of_a_real_no_go() -> None:
    """no-go-lab.json: the RTT check against the handover point, in German."""
    result = _load("no-go-lab")
    de = Catalogue("de")
    rtt = next(c for c in result.checks if c.id.startswith("handover.rtt_ms@"))
    assert checktext.title(rtt, de) == "Übergabepunkt: Umlaufzeit (Median) zu handover (198.18.0.2)"
    assert checktext.reason(rtt, de) == "Umlaufzeit (Median) 82,1 ms, Grenzwert ≤ 50 ms"
    assert checktext.fix(rtt.remediation, de).startswith("Laufzeit zu handover (198.18.0.2) senken")
    loss = next(c for c in result.checks if c.id.startswith("handover.loss_pct@"))
    assert checktext.reason(loss, de) == (
        "Paketverlust 6 % (schlechtestes 10-s-Intervall), Grenzwert < 1 %"
    )
    port = next(c for c in result.checks if c.id.startswith("port.tcp.443@"))
    assert checktext.fix(port.remediation, de) == (
        "Ausgehend TCP 443 zu 198.18.0.2 (provisioning) in Firewall/Proxy freigeben; "
        "festgestellt: abgewiesen 443."
    )
    # English reports print the document's own sentences unchanged
    assert checktext.reason(rtt, Catalogue("en")) == rtt.reason


def test_every_check_of_the_fixtures_has_a_german_title_and_reason() -> None:
    """Texts the rules do not recognise stay English; these fixtures must be fully German."""
    de = Catalogue("de")
    for name in ("go", "no-go", "incomplete", "no-go-lab"):
        for c in _load(name).checks:
            assert checktext.title(c, de) != c.title or c.title.startswith("DNS"), c.title
            assert checktext.reason(c, de) != c.reason, c.reason


def test_unrecognised_sentence_stays_english() -> None:
    import msgspec

    c = _load("go").checks[0]
    odd = msgspec.structs.replace(c, title="a brand-new check", reason="something new happened")
    assert checktext.title(odd, Catalogue("de")) == "a brand-new check"
    assert checktext.reason(odd, Catalogue("de")) == "something new happened"
