"""TLS probe against a real TLS server on loopback with certificates made here.

Two cases: a self-signed certificate (what an intercepting proxy looks like to a machine
without its CA: verification fails, the issuer is the proxy's) and a certificate from a
private CA the probe is told to trust (verified, no interception hint). The expected
issuer/subject names are the ones this test writes into the certificates.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from netcheck.probes import tls
from netcheck.probes._common import Context
from netcheck.result import ErrorKind

x509 = pytest.importorskip("cryptography.x509")
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402


def _name(cn: str, org: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)])


def _cert(subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey,
          signer: ec.EllipticCurvePrivateKey, ca: bool) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(days=1))
               .not_valid_after(now + dt.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
    return builder.sign(signer, hashes.SHA256())


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return path


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Path]:
    ca_key, leaf_key, proxy_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca_name = _name("netcheck test CA", "netcheck tests")
    ca = _cert(ca_name, ca_name, ca_key, ca_key, ca=True)
    leaf = _cert(_name("localhost", "provider"), ca_name, leaf_key, ca_key, ca=False)
    proxy_name = _name("Inspecting Firewall CA", "Example Proxy Vendor")
    proxy = _cert(proxy_name, proxy_name, proxy_key, proxy_key, ca=False)
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return {"ca": tmp_path / "ca.pem", "leaf": _write(tmp_path / "leaf.pem", leaf, leaf_key),
            "proxy": _write(tmp_path / "proxy.pem", proxy, proxy_key)}


@pytest.fixture
def tls_server() -> Iterator[object]:
    """Factory: start a TLS server on 127.0.0.1 with a cert+key PEM; returns its port."""
    stops: list[tuple[threading.Event, threading.Thread, socket.socket]] = []

    def start(pem: Path) -> int:
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
                except (OSError, ssl.SSLError):
                    conn.close()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        stops.append((stop, thread, srv))
        return int(srv.getsockname()[1])

    yield start
    for stop, thread, srv in stops:
        stop.set()
        thread.join(5)
        srv.close()


def _run(spec: tls.Spec):  # type: ignore[no-untyped-def]
    return asyncio.run(tls.run(spec, Context(deadline=time.monotonic() + 10)))


def test_self_signed_proxy_certificate_is_flagged(pki, tls_server) -> None:  # type: ignore[no-untyped-def]
    port = tls_server(pki["proxy"])
    m = _run(tls.Spec(id="tls:0", host="127.0.0.1", port=port, server_name="localhost"))
    assert m.error is None
    v = m.values
    assert v["verified"] is False and v["intercepted_hint"] is True
    assert "self" in v["verify_error"] and "signed" in v["verify_error"]
    assert (v["issuer_cn"], v["issuer_o"]) == ("Inspecting Firewall CA", "Example Proxy Vendor")
    assert v["tls_version"] in ("TLSv1.2", "TLSv1.3")


def test_certificate_from_a_trusted_ca_verifies(pki, tls_server) -> None:  # type: ignore[no-untyped-def]
    port = tls_server(pki["leaf"])
    spec = tls.Spec(id="tls:0", host="127.0.0.1", port=port, server_name="localhost",
                    cafile=str(pki["ca"]))
    m = _run(spec)
    v = m.values
    assert v["verified"] is True and v["intercepted_hint"] is False
    assert (v["issuer_cn"], v["issuer_o"], v["subject_cn"]) == (
        "netcheck test CA", "netcheck tests", "localhost")
    assert v["handshake_ms"] > 0


def test_wrong_name_fails_verification(pki, tls_server) -> None:  # type: ignore[no-untyped-def]
    port = tls_server(pki["leaf"])
    m = _run(tls.Spec(id="tls:0", host="127.0.0.1", port=port, server_name="sip.example.net",
                      cafile=str(pki["ca"])))
    assert m.values["verified"] is False and "sip.example.net" in m.values["verify_error"]
    assert m.values["issuer_cn"] == "netcheck test CA"


def test_closed_port_is_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    m = _run(tls.Spec(id="tls:0", host="127.0.0.1", port=port))
    assert m.error is not None and m.error.kind is ErrorKind.REFUSED
