"""Compatibility alias: the catalogues moved to :mod:`netcheck.i18n` (the evaluator renders
its English check text from them too, and the evaluator does not import reports)."""

from netcheck.i18n import DEFAULT, LANGUAGES, Catalogue, keys, parse_utc

__all__ = ["DEFAULT", "LANGUAGES", "Catalogue", "keys", "parse_utc"]
