"""Message catalogues (``i18n/en.json``, ``i18n/de.json``) and language-aware formatting.

Every user-facing string of the reports and every check's text comes from a catalogue key,
so a language is one JSON file. The evaluator names keys and typed params
(:class:`netcheck.result.Msg`, :class:`~netcheck.result.Qty`, ...) and renders the English
text once for readers of the JSON; reports render the same keys in their language
(:meth:`Catalogue.msg`). Nothing is ever translated by recognising English sentences.
A key missing in a language falls back to English (and an English miss to the key
itself), so a report never fails on a key a colleague added without a German text;
``tests/unit/test_check_keys.py`` fails on such gaps.

Numbers follow the language: English ``1,234.5``, German ``1.234,5`` (DIN 5008 decimal
comma). Dates are UTC as in the result document: English ``21 Nov 2026, 15:44 UTC``,
German ``21.11.2026, 15:44 UTC``.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from importlib import resources
from typing import Any

from netcheck.result import Msg, Param, Qty, Role

LANGUAGES = ("en", "de")
DEFAULT = "en"
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@functools.cache
def _load(lang: str) -> dict[str, str]:
    text = resources.files("netcheck.i18n").joinpath(f"{lang}.json").read_text("utf-8")
    data: dict[str, str] = json.loads(text)
    return data


def keys(lang: str) -> set[str]:
    """The keys a language's catalogue defines (for the gap test)."""
    return set(_load(lang))


class Catalogue:
    """Strings and number/date formatting for one language."""

    def __init__(self, lang: str = DEFAULT, timezone: str | None = None) -> None:
        if lang not in LANGUAGES:
            raise ValueError(
                f"unknown report language {lang!r}; choose one of {', '.join(LANGUAGES)}"
            )
        self.lang = lang
        self.zone = zone(timezone)
        self._own = _load(lang)
        self._en = _load(DEFAULT)

    def has(self, key: str) -> bool:
        """True when this language itself (not the English fallback) defines ``key``."""
        return key in self._own

    def t(self, key: str, **params: Any) -> str:
        """The text for ``key`` with ``params`` filled in; English, then the key, as fallback."""
        template = self._own.get(key) or self._en.get(key) or key
        if not params:
            return template
        try:
            return template.format(**params)
        except (KeyError, IndexError, ValueError):
            return template

    def msg(self, key: str | Msg, params: Mapping[str, Param] | None = None) -> str:
        """A catalogue phrase with typed params formatted for this language."""
        if isinstance(key, Msg):
            return self.msg(key.key, key.params)
        return self.t(key, **{k: self.param(v) for k, v in (params or {}).items()})

    def param(self, value: Param | float | None) -> str:
        """One typed param as text: ports/ids/counts (``int``) never grouped, quantities in
        the language's number format with their unit, target names translated."""
        if isinstance(value, bool) or value is None:
            return self.num(value)
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            return self.num(value)
        if isinstance(value, str):
            return value
        if isinstance(value, Qty):
            return self.param_qty(value.value, value.unit)
        if isinstance(value, Role):
            return self.target(value.name)
        if isinstance(value, Msg):
            return self.msg(value)
        return ", ".join(self.param(v) for v in value)

    def param_qty(self, value: float, unit: str) -> str:
        """A quantity: four significant digits (a limit of 338.8 W stays 338.8; a measured
        82.061 ms reads 82.06), the language's separators, then the unit (none for MOS)."""
        if not math.isfinite(value):
            return self.t("field.none")
        return f"{self._separators(_significant(value))} {unit}".strip()

    def target(self, name: str) -> str:
        """A profile target's name in this language (``platform`` -> ``Plattform``)."""
        key = f"target.{name}"
        return self.t(key) if self.has(key) else name

    # ------------------------------------------------------------------ numbers

    def num(self, value: float | int | None, digits: int | None = None) -> str:
        """A number for people: a few significant decimals, the language's separators."""
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return self.t("field.none")
        if isinstance(value, bool):
            return self.t("label.yes" if value else "label.no")
        if digits is None:
            digits = _auto_digits(float(value)) if isinstance(value, float) else 0
        text = f"{value:,.{digits}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return self._separators(text)

    def _separators(self, text: str) -> str:
        if self.lang == "de":
            return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
        return text

    def decimals_in(self, text: str) -> str:
        """Localise decimal points inside generated text such as a limit ``< 0.1 %``;
        also typeset ``<=``/``>=`` as the mathematical signs."""
        text = text.replace("<=", "≤").replace(">=", "≥")
        if self.lang == "de":
            text = re.sub(r"(?<=\d)\.(?=\d)", ",", text)
        return text

    # ------------------------------------------------------------------ dates

    def datetime(self, iso_utc: str | None) -> str:
        """Local time with its zone: ``2026-11-21T15:44:14.380Z`` in Europe/Berlin ->
        ``21 Nov 2026, 16:44 CET (UTC+01:00)`` (en) or ``21.11.2026, 16:44 Uhr CET
        (UTC+01:00)`` (de); the zone is the renderer's ``timezone`` (see :func:`zone`)."""
        when = parse_utc(iso_utc)
        if when is None:
            return iso_utc or self.t("field.none")
        local = when.astimezone(self.zone)
        offset = local.strftime("%z")
        utc = f"UTC{offset[:3]}:{offset[3:]}" if offset not in ("+0000", "") else "UTC"
        name = local.tzname() or ""
        zone_text = utc if name in ("", "UTC") or name.startswith(("+", "-", "UTC")) else f"{name} ({utc})"
        if self.lang == "de":
            return f"{local:%d.%m.%Y, %H:%M} Uhr {zone_text}"
        return f"{local.day} {_MONTHS_EN[local.month - 1]} {local.year}, {local:%H:%M} {zone_text}"

    def date(self, iso_utc: str | None) -> str:
        """The date alone (page headers), in the report's time zone."""
        when = parse_utc(iso_utc)
        when = when.astimezone(self.zone) if when else None
        if when is None:
            return iso_utc or ""
        if self.lang == "de":
            return f"{when:%d.%m.%Y}"
        return f"{when.day} {_MONTHS_EN[when.month - 1]} {when.year}"

    def duration(self, seconds: float | None) -> str:
        if seconds is None:
            return self.t("field.none")
        if seconds < 120:
            return f"{self.num(round(seconds, 1), 1)} s"
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min {rest} s"


def zone(name: str | None) -> tzinfo:
    """The report's time zone: an IANA name (``Europe/Berlin``), ``UTC``, a fixed offset
    ``+01:00``, or None for this machine's local zone. zoneinfo is imported here: the
    evaluator reads this catalogue too, and ``run --plan`` has no time to show (issue 22)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not name:
        local = datetime.now().astimezone().tzinfo
        return local or UTC
    if re.fullmatch(r"[+-]\d{2}:\d{2}", name):
        sign = 1 if name[0] == "+" else -1
        return timezone(sign * timedelta(hours=int(name[1:3]), minutes=int(name[4:6])))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}; give an IANA name such as Europe/Berlin") from None


def zone_token(tz: tzinfo, when: datetime) -> str:
    """A name for ``tz`` that :func:`zone` reads back: the IANA key, else the UTC offset at
    ``when`` (so a re-render on another machine prints the same times)."""
    key = getattr(tz, "key", None)
    if isinstance(key, str):
        return key
    offset = when.astimezone(tz).strftime("%z") or "+0000"
    return f"{offset[:3]}:{offset[3:]}"


def parse_utc(iso: str | None) -> datetime | None:
    """Parse the result document's UTC timestamps (ISO 8601 with ``Z``)."""
    if not iso:
        return None
    try:
        when = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def _significant(value: float, digits: int = 4) -> str:
    """``value`` rounded to ``digits`` significant digits, grouped, no exponent, no trailing
    zeros: 82.061 -> "82.06", 12345.0 -> "12,345", 0.0004 -> "0.0004"."""
    if value == 0:
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    text = f"{round(value, decimals):,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _auto_digits(value: float) -> int:
    """Decimals so that a value shows about three significant digits (82.1, 0.631, 5.33)."""
    size = abs(value)
    if size == 0 or size >= 100:
        return 0
    if size >= 10:
        return 1
    if size >= 1:
        return 2
    return 3
