"""Render options of issue 18: privacy switch, integrator block, appendix default, the
render token that `report verify` reads back, and time zones."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from netcheck.reports import html, markdown
from netcheck.reports.options import OptionsError, RenderOptions, load_integrator, parse_spec, spec
from tests import docgen

DOC = docgen.document("managed-com-business", "go")
ENV = DOC.environment  # hostname techniker-laptop, MAC 1e:2a:3b:4c:5d:6e, 192.168.10.23/24


def test_private_report_leaves_out_hostname_mac_and_interface_addresses() -> None:
    public = html.render(DOC, "de", RenderOptions(appendix=True)).decode()
    assert ENV.hostname in public and "1e:2a:3b:4c:5d:6e" in public and "192.168.10.23/24" in public
    private = html.render(DOC, "de", RenderOptions(appendix=True, private=True)).decode()
    for secret in (ENV.hostname, "1e:2a:3b:4c:5d:6e", "192.168.10.23", "fe80::1e:2aff:fe3b:4c5d"):
        assert secret not in private, secret
    assert "Rechnername, MAC- und Schnittstellenadressen ausgelassen" in private
    # the SIP OPTIONS probe's Via carries the laptop's address: shown as "[dieser Rechner]:40312"
    assert "[dieser Rechner]:40312" in private


def test_appendix_is_off_for_pdf_and_on_for_html_by_default() -> None:
    assert RenderOptions().with_format_default("pdf").appendix is False
    assert RenderOptions().with_format_default("html").appendix is True
    assert 'id="appendix"' not in html.render_text(DOC, "en", RenderOptions(), fmt="pdf")
    assert 'id="appendix"' in html.render_text(DOC, "en", RenderOptions(), fmt="html")


def _integrator_file(tmp_path: Path, extra: str = "") -> Path:
    png = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGA"
                           "hKmMIQAAAABJRU5ErkJggg==")  # a 1x1 PNG
    (tmp_path / "logo.png").write_bytes(png)
    path = tmp_path / "integrator.toml"
    path.write_text('[integrator]\nname = "Beispiel IT-Service GmbH"\ncontact = "Tel. 0221 123456"\n'
                    f'logo = "logo.png"\nsignoff = "Geprüft und freigegeben"\n{extra}', "utf-8")
    return path


def test_integrator_block_with_logo_contact_and_signoff(tmp_path: Path) -> None:
    who = load_integrator(_integrator_file(tmp_path))
    page = html.render(DOC, "de", RenderOptions(integrator=who)).decode()
    assert "Beispiel IT-Service GmbH" in page and "Tel. 0221 123456" in page
    assert 'src="data:image/png;base64,' in page  # inlined: the renderer fetches nothing
    assert "Geprüft und freigegeben · Beispiel IT-Service GmbH" in page and "Ort, Datum" in page


def test_integrator_file_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(OptionsError, match=r"unknown keys: colour"):
        load_integrator(_integrator_file(tmp_path, 'colour = "red"\n'))
    bad = tmp_path / "bad.toml"
    bad.write_text("[integrator]\ncontact = 'x'\n")
    with pytest.raises(OptionsError, match=r"needs an \[integrator\] table with name"):
        load_integrator(bad)


def test_render_token_round_trips_and_is_in_every_format() -> None:
    options = RenderOptions(appendix=False, private=True, timezone="Europe/Berlin")
    lang, fmt, back = parse_spec(spec("de", "pdf", options))
    assert (lang, fmt, back.appendix, back.private, back.timezone) == ("de", "pdf", False, True, "Europe/Berlin")
    assert b"netcheck-render:" in html.render(DOC, "de") and b"netcheck-render:" in markdown.render(DOC, "de")


def test_report_times_are_local_with_their_zone() -> None:
    page = html.render(DOC, "de", RenderOptions(timezone="Europe/Berlin")).decode()
    assert "24.11.2026, 10:12 Uhr CET (UTC+01:00)" in page  # started 09:12:05 UTC


def test_verify_accepts_a_report_with_the_integrators_logo(tmp_path: Path) -> None:
    """The render token carries the integrator's text and only the logo's digest: the
    re-rendered report has no logo, and the logo is not text, so the content still matches."""
    from netcheck.reports import verify
    from netcheck.result import to_json

    who = load_integrator(_integrator_file(tmp_path))
    page = html.render(DOC, "de", RenderOptions(integrator=who))
    outcome = verify.verify(to_json(DOC), page)
    assert outcome.ok, outcome.message
    edited = page.replace(b"Tel. 0221 123456", b"Tel. 0221 999999")
    assert not verify.verify(to_json(DOC), edited).ok
