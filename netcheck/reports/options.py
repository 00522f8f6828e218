"""How a report is rendered beyond its language: appendix, privacy, integrator block, time zone.

The options are written into every report (:func:`spec`, a base64url JSON string in the
HTML ``<meta name="netcheck-render">``, the PDF Keywords and the last line of Markdown and
text), so that ``netcheck report verify`` can render the same report again from the result
document and compare the two (:mod:`netcheck.reports.integrity`).

The integrator block comes from a small TOML file (``--integrator FILE``)::

    [integrator]
    name = "Beispiel IT-Service GmbH"
    contact = "Tel. 0221 123456 · service@beispiel-it.de"
    logo = "logo.png"          # PNG, JPEG or SVG next to the file; inlined, never fetched
    signoff = "Geprüft und freigegeben"
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import mimetypes
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

SPEC_VERSION = 1
_LOGO_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}
_LOGO_MAX_BYTES = 512 * 1024


class OptionsError(ValueError):
    """A render option or the integrator file is invalid (one line, names the file)."""


@dataclass(frozen=True)
class Integrator:
    """Who hands the report to the customer: name, contact line, logo, sign-off line."""

    name: str
    contact: str = ""
    signoff: str = ""
    logo_data_uri: str = ""  # data: URI of the logo (inline, so nothing is ever fetched)

    @property
    def logo_sha256(self) -> str:
        return hashlib.sha256(self.logo_data_uri.encode()).hexdigest() if self.logo_data_uri else ""


@dataclass(frozen=True)
class RenderOptions:
    """``appendix`` None means the format's default (off for PDF offers, on for HTML);
    ``private`` leaves this machine's host name, MAC and interface addresses out;
    ``timezone`` is an IANA name for the report's local times (None: this machine's)."""

    appendix: bool | None = None
    private: bool = False
    integrator: Integrator | None = None
    timezone: str | None = None
    #: The result digest to state; None: of the document as serialised now. ``report
    #: verify`` passes the digest the report states (a document read back from JSON can
    #: serialise differently, e.g. ``100`` as ``100.0``, while its content is the same).
    result_sha256: str | None = None

    def with_format_default(self, fmt: str) -> RenderOptions:
        """Resolve ``appendix`` for a format: PDF (an offer's attachment) leaves it out."""
        if self.appendix is not None:
            return self
        return replace(self, appendix=fmt not in ("pdf", "text"))


def load_integrator(path: Path) -> Integrator:
    """Read the ``[integrator]`` table of a TOML file (clear one-line errors)."""
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise OptionsError(f"{path}: cannot read integrator file: {exc}") from None
    table = data.get("integrator")
    if not isinstance(table, dict) or not isinstance(table.get("name"), str) or not table["name"].strip():
        raise OptionsError(f"{path}: needs an [integrator] table with name = \"...\"")
    unknown = set(table) - {"name", "contact", "logo", "signoff"}
    if unknown:
        raise OptionsError(f"{path}: [integrator] has unknown keys: {', '.join(sorted(unknown))}")
    for key in ("contact", "signoff", "logo"):
        if key in table and not isinstance(table[key], str):
            raise OptionsError(f"{path}: integrator.{key} must be a string")
    logo = _logo(path.parent / table["logo"]) if table.get("logo") else ""
    return Integrator(name=table["name"].strip(), contact=table.get("contact", ""), signoff=table.get("signoff", ""),
                      logo_data_uri=logo)


def _logo(path: Path) -> str:
    mime = _LOGO_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
    if mime not in _LOGO_TYPES.values():
        raise OptionsError(f"{path}: logo must be PNG, JPEG or SVG")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise OptionsError(f"{path}: cannot read logo: {exc.strerror}") from None
    if len(data) > _LOGO_MAX_BYTES:
        raise OptionsError(f"{path}: logo larger than {_LOGO_MAX_BYTES // 1024} KiB")
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def spec(lang: str, fmt: str, options: RenderOptions) -> str:
    """The render options as a compact token written into the report."""
    integrator = options.integrator
    body: dict[str, Any] = {"v": SPEC_VERSION, "lang": lang, "fmt": fmt, "appendix": bool(options.appendix),
                            "private": options.private, "tz": options.timezone}
    if integrator is not None:
        body["integrator"] = {"name": integrator.name, "contact": integrator.contact,
                              "signoff": integrator.signoff, "logo": integrator.logo_sha256}
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=True, sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_spec(token: str) -> tuple[str, str, RenderOptions]:
    """(lang, format, options) from :func:`spec`'s token; a logo is not recoverable (only its
    digest is written), so the re-rendered report is compared without it."""
    try:
        body = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise OptionsError(f"unreadable render options in the report: {exc}") from None
    if not isinstance(body, dict) or body.get("v") != SPEC_VERSION:
        raise OptionsError("the report's render options are of an unknown version")
    integrator = body.get("integrator")
    who = Integrator(name=str(integrator.get("name", "")), contact=str(integrator.get("contact", "")),
                     signoff=str(integrator.get("signoff", ""))) if isinstance(integrator, dict) else None
    tz = body.get("tz")
    options = RenderOptions(appendix=bool(body.get("appendix")), private=bool(body.get("private")),
                            integrator=who, timezone=tz if isinstance(tz, str) else None)
    return str(body.get("lang", "en")), str(body.get("fmt", "")), options
