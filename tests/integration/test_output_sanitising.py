"""Escape sequences from the network or the user reach no terminal and no text/Markdown
report raw (issue 21, item 2).

End to end: a real TLS server on loopback presents a certificate whose Organization is
``ESC[31mRED ESC[0m`` (ECMA-48 SGR: red text), ``netcheck run`` measures it with
``--technician`` text carrying an OSC 52 clipboard write, and the terminal output and the
.txt/.md reports must show both escaped.
"""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from netcheck.textsafe import visible, visible_lines

x509 = pytest.importorskip("cryptography.x509")
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EVIL_ORG = "\x1b[31mRED\x1b[0m"
EVIL_TECH = "Eve\x1b]52;c;cm0gLXJmIH4=\x07\r\nVERDICT: GO"


def test_visible_shows_controls_and_bidi_overrides_and_keeps_the_rest() -> None:
    assert visible(EVIL_ORG) == "\\x1b[31mRED\\x1b[0m"
    assert visible("a\tb\nc\x7f\x9b\u202egnp.exe") == "a\\x09b\\x0ac\\x7f\\x9b\\u202egnp.exe"
    assert visible("Grüße, 東京 — ok") == "Grüße, 東京 — ok"
    assert visible_lines("one\x1b[2J\ntwo") == "one\\x1b[2J\ntwo"


@pytest.fixture
def hostile_tls(tmp_path: Path) -> Iterator[int]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hostile"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, EVIL_ORG)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=2)).sign(key, hashes.SHA256()))
    pem = tmp_path / "hostile.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pem)
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            conn.settimeout(2.0)
            try:
                with ctx.wrap_socket(conn, server_side=True) as tconn:
                    tconn.recv(1)
            except OSError:
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(srv.getsockname()[1])
    finally:
        stop.set()
        thread.join(5)
        srv.close()


def test_certificate_and_technician_escapes_are_printed_escaped(tmp_path: Path, hostile_tls: int) -> None:
    for parent in ("demo", "stimme"):
        shutil.copy(ROOT / "profiles" / f"{parent}.yaml", tmp_path / f"{parent}.yaml")
    profile = tmp_path / "hostile.yaml"
    profile.write_text(
        "id: hostile\nname: hostile certificate\nextends: demo\ndemo: false\n"
        "targets:\n  stun: {host: null, source: demo}\n  sip_trunk: {host: null, source: demo}\n"
        f"ports:\n  - {{protocol: HTTPS, transport: tcp, port: {hostile_tls}, destination: platform, "
        "purpose: UC client, tls: true, source: demo}\n"
        "stream: {duration_s: 1, quick_duration_s: 1}\n")
    out = tmp_path / "out"
    res = subprocess.run(
        [sys.executable, "-m", "netcheck", "run", "--profile", str(profile), "--technician", EVIL_TECH,
         "--format", "text", "--format", "markdown", "--out", str(out)],
        capture_output=True, timeout=180, cwd=ROOT)
    assert res.returncode in (0, 1, 3), res.stderr.decode(errors="replace")
    text = [res.stdout, *(p.read_bytes() for p in sorted(out.glob("*.txt")))]
    markdown = [p.read_bytes() for p in sorted(out.glob("*.md"))]
    assert (len(text), len(markdown)) == (2, 1)
    for data in (*text, *markdown, res.stderr):
        assert b"\x1b" not in data and b"\x07" not in data and b"\r" not in data
    for data in text:
        assert b"issuer \\x1b[31mRED\\x1b[0m" in data  # the TLS check's reason
        assert b"Eve\\x1b]52;c;cm0gLXJmIH4=\\x07\\x0d\\x0aVERDICT: GO" in data  # one line
    # Markdown: the same, with CommonMark's own backslash escapes and no line break
    assert b"issuer \\x1b\\[31mRED\\x1b\\[0m" in markdown[0]
    assert b"| Eve\\x1b\\]52;c;cm0gLXJmIH4=\\x07  VERDICT: GO |" in markdown[0]
    raw = sorted(out.glob("*.json"))[0].read_text()
    assert "\\u001b[31mRED" in raw  # the JSON document keeps the exact evidence
