"""``netcheck responder --sip-ports``: documented in --help, bad input is one line."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from netcheck.cli import cli


def test_help_documents_the_sip_mirror() -> None:
    out = CliRunner().invoke(cli, ["responder", "--help"]).output
    assert "--sip-ports" in out and "5060,5090" in out and "SIP mirror" in out


@pytest.mark.parametrize(("value", "message"), [
    ("5000-5100", "--sip-ports: at most 64 ports (got 101); the probe tests the first port "
     "of each SIP row of the profile"),
    ("sip", "--sip-ports: 'sip': expected PORT or LOW-HIGH"),
    ("0", "--sip-ports: '0': ports must be 1-65535 and LOW <= HIGH"),
])
def test_bad_sip_ports_are_one_line_errors(value: str, message: str) -> None:
    result = CliRunner().invoke(cli, ["responder", "--sip-ports", value])
    assert result.exit_code != 0
    assert result.output.strip().splitlines() == [f"error: {message}"]
