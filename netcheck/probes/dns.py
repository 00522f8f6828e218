"""DNS: does each target host name resolve, how fast, and to what.

The handover point of a hosted PBX is often defined as "what the SIP host name resolves to"
(REQUIREMENTS.md §2), so a name that fails to resolve is a failed requirement, and the
resolver's latency delays every call set-up.

The lookup is the run's shared one (``_names``): the DNS check reports the very answer
every other probe of the run used, and ``resolve_ms`` is that lookup's own duration.
"""

from __future__ import annotations

import socket

from netcheck.hostport import is_ip_literal
from netcheck.probes._common import Context, Timer, error, ms
from netcheck.probes._names import ResolveError
from netcheck.probes.specs import DnsSpec as Spec
from netcheck.result import ErrorKind, Measurement


async def run(spec: Spec, ctx: Context) -> Measurement:
    """Resolve with the system resolver (what the phones and softphones will use)."""
    timer = Timer()
    if is_ip_literal(spec.host):
        return timer.measurement(
            id=spec.id, probe="dns", target=spec.host, method="literal",
            values={"addresses": [spec.host], "resolve_ms": 0.0},
        )
    try:
        resolved = await ctx.names.resolve(spec.host, wait_s=max(ctx.timeout(spec.timeout_s), 0.001))
    except ResolveError as exc:
        kind = ErrorKind.TIMEOUT if exc.timeout else ErrorKind.DNS
        detail = f"resolver did not answer for {spec.host!r} in time" if exc.timeout else exc.detail
        return timer.measurement(id=spec.id, probe="dns", target=spec.host, method="getaddrinfo",
                                 error=error(kind, detail))
    addresses = sorted({addr for _, addr in resolved.addresses})
    return timer.measurement(
        id=spec.id, probe="dns", target=spec.host, method="getaddrinfo",
        values={"addresses": addresses, "resolve_ms": ms(resolved.elapsed_s)},
    )


def _reason(exc: BaseException) -> str:
    return exc.args[1] if isinstance(exc, socket.gaierror) and len(exc.args) > 1 else str(exc)
