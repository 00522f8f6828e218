"""TLS on an open TCP port: who signed the certificate the site is shown?

A firewall or proxy doing TLS inspection terminates the connection itself and presents a
certificate from its own CA. Phones and UC clients that pin or verify the provider's
certificate then fail to register or provision, although "port 443 is open". A TCP
connect cannot tell; a handshake can: this probe completes one with SNI = the host name,
verifies the chain against the system trust store (or ``cafile``) and reports the issuer
and subject either way, so the report names the device that intercepts.

Verification failure is data, never fatal: the certificate is then fetched again without
verification to read its issuer (decoded with ``cryptography`` when installed).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass
from typing import Any

from netcheck.probes._common import Context, Timer, error, ms
from netcheck.result import ErrorKind, Measurement, Value


@dataclass(frozen=True)
class Spec:
    """TLS handshake with ``host:port``; ``server_name`` is the SNI / name to verify
    (default ``host``), ``cafile`` an extra trust anchor (a provider's private CA)."""

    id: str
    host: str
    port: int
    server_name: str | None = None
    cafile: str | None = None
    timeout_s: float = 5.0


async def run(spec: Spec, ctx: Context) -> Measurement:
    """Verified handshake; on a verification error, an unverified one to read the issuer."""
    timer = Timer()
    name = spec.server_name or spec.host
    label = f"{spec.host}:{spec.port}/tls"
    verifying = ssl.create_default_context(cafile=spec.cafile)
    values: dict[str, Value] = {"server_name": name}
    try:
        info = await _handshake(spec, verifying, name, ctx)
        values.update(info, verified=True, verify_error=None)
    except ssl.SSLCertVerificationError as exc:
        values.update(verified=False, verify_error=exc.verify_message or str(exc))
        try:
            values.update(await _handshake(spec, _unverified(), name, ctx))
        except (OSError, TimeoutError, ssl.SSLError) as exc2:
            return _failed(timer, spec, label, exc2)
    except (OSError, TimeoutError, ssl.SSLError) as exc:
        return _failed(timer, spec, label, exc)
    values["intercepted_hint"] = not values["verified"]
    return timer.measurement(id=spec.id, probe="tls", target=label, method="tls-handshake",
                             values=values)


def _unverified() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def _handshake(
    spec: Spec, context: ssl.SSLContext, name: str, ctx: Context
) -> dict[str, Value]:
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    _reader, writer = await asyncio.wait_for(
        asyncio.open_connection(spec.host, spec.port, ssl=context, server_hostname=name),
        timeout=max(ctx.timeout(spec.timeout_s), 0.001),
    )
    try:
        sslobj: ssl.SSLObject = writer.get_extra_info("ssl_object")
        der = sslobj.getpeercert(binary_form=True) or b""
        return {
            "handshake_ms": ms(loop.time() - t0),
            "tls_version": sslobj.version(),
            "cipher": (sslobj.cipher() or ("",))[0],
            **describe_certificate(der, sslobj.getpeercert() or None),
        }
    finally:
        writer.close()
        with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):
            await asyncio.wait_for(writer.wait_closed(), 1.0)


def describe_certificate(der: bytes, parsed: dict[str, Any] | None) -> dict[str, Value]:
    """Issuer and subject CN/O: from the verified dict, else decoded from DER."""
    if parsed:
        return {
            "issuer_cn": _rdn(parsed.get("issuer", ()), "commonName"),
            "issuer_o": _rdn(parsed.get("issuer", ()), "organizationName"),
            "subject_cn": _rdn(parsed.get("subject", ()), "commonName"),
        }
    try:
        from cryptography import x509
        from cryptography.x509.oid import NameOID
    except ImportError:  # pragma: no cover - cryptography ships with the test extras
        return {"issuer_cn": None, "issuer_o": None, "subject_cn": None}
    cert = x509.load_der_x509_certificate(der)

    def attr(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
        found = name.get_attributes_for_oid(oid)
        return str(found[0].value) if found else None

    return {
        "issuer_cn": attr(cert.issuer, NameOID.COMMON_NAME),
        "issuer_o": attr(cert.issuer, NameOID.ORGANIZATION_NAME),
        "subject_cn": attr(cert.subject, NameOID.COMMON_NAME),
    }


def _rdn(rdns: Any, key: str) -> str | None:
    for rdn in rdns:
        for k, v in rdn:
            if k == key:
                return str(v)
    return None


def _failed(timer: Timer, spec: Spec, label: str, exc: BaseException) -> Measurement:
    """Map the low-level exception to one error kind (STYLE.md: one place per probe)."""
    if isinstance(exc, TimeoutError):
        kind, detail = ErrorKind.TIMEOUT, f"no TLS handshake within {spec.timeout_s:g} s"
    elif isinstance(exc, ConnectionRefusedError):
        kind, detail = ErrorKind.REFUSED, "connection refused"
    elif isinstance(exc, ConnectionResetError | ssl.SSLError):
        kind, detail = ErrorKind.RESET, f"handshake failed: {exc}"
    else:
        kind, detail = ErrorKind.UNREACHABLE, str(exc)
    return timer.measurement(id=spec.id, probe="tls", target=label, method="tls-handshake",
                             error=error(kind, detail))
