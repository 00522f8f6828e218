"""The one place that makes untrusted text safe to show on a terminal, in a text file or in
Markdown (issue 21).

Strings that came from the network (a TLS certificate's Organization, an SNMP sysDescr, a
SIP header, an LLDP system name) or from the user (``--technician``) may carry control
characters: ``ESC [ 31 m`` recolours the technician's terminal, ``ESC ] 52`` can write the
clipboard, a carriage return or newline forges a report line, and the Unicode bidi
overrides reorder what is read ("Trojan Source", CVE-2021-42574). They are rendered
visibly instead, as ``\\x1b`` / ``\\u202e``, so the evidence stays readable and exact.

HTML has its own escaping (Jinja2 autoescape); this is for everything printed as text.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["visible", "visible_lines"]

#: C0 controls, DEL, C1 controls (ECMA-48: ESC and CSI 0x9b start escape sequences), the
#: Unicode line/paragraph separators and the bidi embedding/override/isolate marks.
_UNSAFE: Final = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_BUT_NEWLINE: Final = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: object) -> str:
    """``text`` with every control character shown as an escape (one line, always)."""
    return _UNSAFE.sub(_escape, str(text))


def visible_lines(text: str) -> str:
    """A multi-line text with its line breaks kept and every other control character
    shown as an escape (for output whose own layout uses newlines; one regex pass, so a
    35,040-line history table costs milliseconds)."""
    return _UNSAFE_BUT_NEWLINE.sub(_escape, text)
