"""DNS: does each target host name resolve, how fast, and to what.

The handover point of a hosted PBX is often defined as "what the SIP host name resolves to"
(REQUIREMENTS.md §2), so a name that fails to resolve is a failed requirement, and the
resolver's latency delays every call set-up.
"""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass

from netcheck.probes._common import Context, Timer, error, is_ip_literal, ms
from netcheck.result import ErrorKind, Measurement


@dataclass(frozen=True)
class Spec:
    id: str
    host: str
    timeout_s: float = 5.0


async def run(spec: Spec, ctx: Context) -> Measurement:
    """Resolve with the system resolver (what the phones and softphones will use)."""
    timer = Timer()
    if is_ip_literal(spec.host):
        return timer.measurement(
            id=spec.id, probe="dns", target=spec.host, method="literal",
            values={"addresses": [spec.host], "resolve_ms": 0.0},
        )
    loop = asyncio.get_running_loop()
    t0 = time.monotonic()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(spec.host, None, type=socket.SOCK_STREAM),
            timeout=ctx.timeout(spec.timeout_s),
        )
    except TimeoutError:
        err = error(ErrorKind.TIMEOUT, f"resolver did not answer for {spec.host!r} in time")
        return timer.measurement(id=spec.id, probe="dns", target=spec.host, method="getaddrinfo", error=err)
    except (socket.gaierror, UnicodeError) as exc:
        err = error(ErrorKind.DNS, f"cannot resolve {spec.host!r}: {_reason(exc)}")
        return timer.measurement(id=spec.id, probe="dns", target=spec.host, method="getaddrinfo", error=err)
    addresses = sorted({str(info[4][0]) for info in infos})
    return timer.measurement(
        id=spec.id, probe="dns", target=spec.host, method="getaddrinfo",
        values={"addresses": addresses, "resolve_ms": ms(time.monotonic() - t0)},
    )


def _reason(exc: BaseException) -> str:
    return exc.args[1] if isinstance(exc, socket.gaierror) and len(exc.args) > 1 else str(exc)
