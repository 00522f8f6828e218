"""Catalogues, number/date formatting and German check texts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netcheck import i18n
from netcheck.evaluate import REMEDIES
from netcheck.i18n import Catalogue
from netcheck.reports import checktext
from netcheck.result import from_json
from tests import docgen

RESULTS = Path(__file__).resolve().parents[1] / "data" / "results" / "v1"
I18N = Path(i18n.__file__).parent


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
    en = json.loads((I18N / "en.json").read_text("utf-8"))
    listed = [(k[len("remedy.") :], v) for k, v in en.items() if k.startswith("remedy.")]
    for key, text in [*listed, *REMEDIES.items()]:
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
    assert Catalogue("de", "UTC").datetime(stamp) == "21.11.2026, 15:45 Uhr UTC"
    assert Catalogue("en", "UTC").datetime(stamp) == "21 Nov 2026, 15:45 UTC"
    # local time with its zone (issue 18): Cologne in November is CET, UTC+1
    assert Catalogue("de", "Europe/Berlin").datetime(stamp) == "21.11.2026, 16:45 Uhr CET (UTC+01:00)"
    assert Catalogue("de").decimals_in("< 0.1 %") == "< 0,1 %"
    assert Catalogue("en").decimals_in("<= 150 ms") == "≤ 150 ms"
    assert Catalogue("de").duration(30.714) == "30,7 s"


def test_unknown_language_is_an_error_and_missing_key_falls_back() -> None:
    with pytest.raises(ValueError, match="unknown report language"):
        Catalogue("fr")
    assert Catalogue("de").t("no.such.key") == "no.such.key"


def test_german_texts_of_a_typed_no_go() -> None:
    """managed-com-business NO-GO (tests/docgen.py): the handover RTT check, in German, by key."""
    result = docgen.document("managed-com-business", "no-go")
    de = Catalogue("de")
    rtt = next(c for c in result.checks if c.id.startswith("handover.rtt_ms@"))
    assert checktext.title(rtt, de) == "Übergabepunkt: Umlaufzeit (Median), Ziel Übergabepunkt (sip.managed-com.de)"
    assert checktext.reason(rtt, de) == "Umlaufzeit (Median) 131,5 ms, Grenzwert ≤ 50 ms"
    assert checktext.fix(rtt.remediation, de).startswith("Laufzeit zu Übergabepunkt (sip.managed-com.de) senken")
    loss = next(c for c in result.checks if c.id.startswith("handover.loss_pct@"))
    assert checktext.reason(loss, de) == (
        "Paketverlust 6,7 % (schlechtestes Intervall von 10 s; von 11,96 s bis 21,96 s nach Gesprächsbeginn, "
        "Senderichtung; dazu verspätet (vom Jitterpuffer mit 60 ms verworfen) 1,07 %), Grenzwert < 1 %"
    )
    port = next(c for c in result.checks if c.id.startswith("port.tcp.5060@"))
    assert checktext.fix(port.remediation, de).endswith("festgestellt: abgewiesen 5060.")
    # English reports print the same keys in English, which is also the stored text
    assert checktext.reason(rtt, Catalogue("en")) == rtt.reason
    assert checktext.title(rtt, Catalogue("en")) == rtt.title


def test_schema_1_text_is_printed_as_stored() -> None:
    """A document an agent stored before keys existed: its English sentences print as they
    are (the report labels them; nothing is guessed from English text)."""
    c = _load("no-go-lab").checks[0]
    assert checktext.is_legacy(c)
    assert checktext.title(c, Catalogue("de")) == c.title
    assert checktext.reason(c, Catalogue("de")) == c.reason


def test_a_key_this_build_does_not_know_prints_the_stored_english() -> None:
    """A document from a newer netcheck names a key these catalogues lack: the report prints
    the document's English text, never the bare key."""
    import msgspec

    c = docgen.document("teams", "go").checks[0]
    newer = msgspec.structs.replace(c, title_key="title.from_the_future", reason_key="reason.from_the_future")
    assert checktext.title(newer, Catalogue("de")) == c.title
    assert checktext.reason(newer, Catalogue("de")) == c.reason
