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
import functools
import socket
import ssl
import threading
from typing import Any

from netcheck.probes._common import Context, Timer, error, ms, resolve
from netcheck.probes._tcpinfo import handshake_rtt_ms
from netcheck.probes.specs import TlsSpec as Spec
from netcheck.result import ErrorKind, Measurement, Value


async def run(spec: Spec, ctx: Context) -> Measurement:
    """Verified handshake; on a verification error, an unverified one to read the issuer."""
    timer = Timer()
    name = spec.server_name or spec.host
    label = f"{spec.host}:{spec.port}/tls"
    verifying = await contexts(spec.cafile)
    addr, err = await resolve(ctx, spec.host)
    if addr is None:
        return timer.measurement(id=spec.id, probe="tls", target=label, method="tls-handshake", error=err)
    values: dict[str, Value] = {"server_name": name, "address": addr[1]}
    try:
        info = await _handshake(spec, addr, verifying, name, ctx)
        values.update(info, verified=True, verify_error=None)
    except ssl.SSLCertVerificationError as exc:
        values.update(verified=False, verify_error=exc.verify_message or str(exc))
        try:
            values.update(await _handshake(spec, addr, _unverified(), name, ctx))
        except (OSError, TimeoutError, ssl.SSLError) as exc2:
            return _failed(timer, spec, label, exc2)
    except (OSError, TimeoutError, ssl.SSLError) as exc:
        return _failed(timer, spec, label, exc)
    values["intercepted_hint"] = not values["verified"]
    return timer.measurement(id=spec.id, probe="tls", target=label, method="tls-handshake",
                             values=values)


async def prepare(specs: list[Spec]) -> None:
    """Build the verifying contexts the runs will need, before any timer starts."""
    for cafile in {s.cafile for s in specs}:
        await contexts(cafile)


async def contexts(cafile: str | None) -> ssl.SSLContext:
    """The verifying context for ``cafile``, built once per process in a worker thread.

    Why: ``ssl.create_default_context`` loads the system trust store (about 0.5 s of CPU on
    a busy machine). Built on the event loop for every probe, it stalled every other probe's
    timers — TCP connect times of 74-167 ms on a 0.1 ms path."""
    return await asyncio.to_thread(_verifying, cafile)


_BUILD_LOCK = threading.Lock()


@functools.cache
def _verifying_cached(cafile: str | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=cafile)


def _verifying(cafile: str | None) -> ssl.SSLContext:
    with _BUILD_LOCK:  # one build even when several probes ask at once
        return _verifying_cached(cafile)


@functools.cache
def _unverified() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def _handshake(
    spec: Spec, addr: tuple[int, str], context: ssl.SSLContext, name: str, ctx: Context
) -> dict[str, Value]:
    """TCP connect, then the TLS handshake over it: each timed from when its own socket
    work starts (resolution and context building are done before)."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(addr[0], socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        t0 = loop.time()
        await asyncio.wait_for(loop.sock_connect(sock, (addr[1], spec.port)),
                               timeout=max(ctx.timeout(spec.timeout_s), 0.001))
        t1 = loop.time()
        connect_ms = handshake_rtt_ms(sock) or ms(t1 - t0)
        _reader, writer = await asyncio.wait_for(
            asyncio.open_connection(sock=sock, ssl=context, server_hostname=name),
            timeout=max(ctx.timeout(spec.timeout_s), 0.001),
        )
    except BaseException:
        sock.close()
        raise
    try:
        sslobj: ssl.SSLObject = writer.get_extra_info("ssl_object")
        der = sslobj.getpeercert(binary_form=True) or b""
        return {
            "connect_ms": connect_ms,
            "handshake_ms": ms(loop.time() - t1),
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
