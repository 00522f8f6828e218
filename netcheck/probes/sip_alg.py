"""SIP ALG detection: does a middlebox rewrite SIP on its way out of the site?

Two methods, with different confidence:

- ``mirror`` (high confidence): against a netcheck responder running the SIP mirror
  (``netcheck.responder_services.sip_mirror``) on port 5060. An INVITE full of the site's
  private address (Via, Contact, From, SDP o=/c=/m=) is sent; the mirror returns the bytes
  it received; :func:`netcheck.wire.sip.compare` lists every field that changed. Also sent:
  a message larger than one UDP datagram (IP fragments, which some ALGs and firewalls drop
  or fail to reassemble) and, over TCP, a message split over two segments (ALGs that parse
  per segment mangle or drop it).
- ``options`` (low confidence): without a responder, an OPTIONS request to the provider's
  SIP server. The server copies our top Via into its answer and adds ``received``/``rport``
  (RFC 3581) with the source it saw. A sent-by in the answer different from what we sent
  means something rewrote it; an unchanged one proves little, because an ALG that rewrites
  the request usually rewrites the answer back. The result says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from dataclasses import dataclass
from typing import Any

from netcheck.probes._common import Context, Timer, error, resolve
from netcheck.responder_services.sip_mirror import unmask
from netcheck.result import ErrorKind, Measurement, Value
from netcheck.wire import sip

LARGE_PADDING = 2400  # INVITE of ~2.8 kB: two IPv4 fragments at MTU 1500


@dataclass(frozen=True)
class Spec:
    """Test the SIP path to ``host:port`` over ``transport`` ("udp" or "tcp")."""

    id: str
    host: str
    port: int = 5060
    transport: str = "udp"
    mode: str = "mirror"  # "mirror" (netcheck responder) or "options" (provider's server)
    wait_s: float = 1.0
    attempts: int = 2


async def run(spec: Spec, ctx: Context) -> Measurement:
    timer = Timer()
    label = f"{spec.host}:{spec.port}/{spec.transport}"
    method = f"sip-{spec.mode}-{spec.transport}"
    confidence = "high" if spec.mode == "mirror" else "low"
    addr, err = await resolve(ctx, spec.host, socket.AF_INET)
    if addr is None:
        return timer.measurement(id=spec.id, probe="sip_alg", target=label, method=method, error=err)
    address = (addr[1], spec.port)
    test = _mirror if spec.mode == "mirror" else _options
    values, err = await test(address, spec, ctx)
    return timer.measurement(id=spec.id, probe="sip_alg", target=label, method=method,
                             values=values, error=err, confidence=confidence)


# -- mirror mode --------------------------------------------------------------------------


async def _mirror(
    dest: tuple[str, int], spec: Spec, ctx: Context
) -> tuple[dict[str, Value], Any]:
    exchange = _udp_exchange if spec.transport == "udp" else _tcp_exchange
    normal = await exchange(dest, spec, ctx, 0)
    if normal is None:
        return {"mirror_reachable": False}, error(
            ErrorKind.TIMEOUT,
            f"no answer from the SIP mirror at {dest[0]}:{dest[1]}/{spec.transport}: is "
            "`netcheck responder --service sip_mirror` running there, and the port open?",
        )
    sent, back = normal
    rewrites = sip.compare(sent, back)
    values: dict[str, Value] = {
        "mirror_reachable": True,
        "alg_detected": bool(rewrites),
        "rewrites": [{"field": r.field, "sent": r.sent, "received": r.received} for r in rewrites],
    }
    big = await exchange(dest, spec, ctx, LARGE_PADDING)
    values["large_message_octets"] = len(big[0]) if big else None
    values["large_message_ok"] = big is not None and not sip.compare(*big)
    return values, None


async def _udp_exchange(
    dest: tuple[str, int], spec: Spec, ctx: Context, padding: int
) -> tuple[bytes, bytes] | None:
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        sock.connect(dest)
        ip, port = sock.getsockname()[:2]
        msg = sip.probe_invite(ip, port, dest[0], "UDP", padding=padding)
        for _ in range(spec.attempts):
            with contextlib.suppress(OSError):
                await loop.sock_sendall(sock, msg)
            try:
                data = await asyncio.wait_for(loop.sock_recv(sock, 65535),
                                              max(ctx.timeout(spec.wait_s), 0.001))
            except (TimeoutError, OSError):
                continue
            return msg, unmask(data)
    return None


async def _tcp_exchange(
    dest: tuple[str, int], spec: Spec, ctx: Context, padding: int
) -> tuple[bytes, bytes] | None:
    """Send the message in two writes 50 ms apart with Nagle off: two TCP segments,
    the split inside the header block, where a per-segment ALG parser trips."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(*dest),
                                                max(ctx.timeout(3.0), 0.001))
    except (OSError, TimeoutError):
        return None
    try:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ip, port = sock.getsockname()[:2]
        msg = sip.probe_invite(ip, port, dest[0], "TCP", padding=padding)
        cut = msg.index(b"\r\nContact:") + 5
        writer.write(msg[:cut])
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(msg[cut:])
        await writer.drain()
        wait = max(ctx.timeout(spec.wait_s * 2), 0.001)
        back = await asyncio.wait_for(_read_message(reader), wait)
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        return None
    finally:
        writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), 1.0)
    return (msg, back) if back else None


async def _read_message(reader: asyncio.StreamReader) -> bytes:
    buf = b""
    while len(buf) < 65535:
        chunk = await reader.read(65535)
        if not chunk:
            return buf
        buf += chunk
        total = sip.frame_length(unmask(buf))
        if total is not None:
            return unmask(buf[:total])
    return unmask(buf)


# -- options mode (no responder) ----------------------------------------------------------


async def _options(
    dest: tuple[str, int], spec: Spec, ctx: Context
) -> tuple[dict[str, Value], Any]:
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        sock.connect(dest)
        ip, port = sock.getsockname()[:2]
        msg = sip.probe_options(ip, port, dest[0])
        t0 = time.monotonic()
        for _ in range(spec.attempts):
            with contextlib.suppress(OSError):
                await loop.sock_sendall(sock, msg)
            try:
                data = await asyncio.wait_for(loop.sock_recv(sock, 65535),
                                              max(ctx.timeout(spec.wait_s), 0.001))
                return _options_values(msg, data, f"{ip}:{port}", time.monotonic() - t0), None
            except (TimeoutError, OSError):
                continue
    return {"server_answered": False}, error(
        ErrorKind.TIMEOUT, f"no answer to SIP OPTIONS from {dest[0]}:{dest[1]}/udp")


def _options_values(sent: bytes, data: bytes, local: str, rtt_s: float) -> dict[str, Value]:
    try:
        resp = sip.parse(data)
    except sip.SipError as exc:
        return {"server_answered": True, "alg_suspected": None, "parse_error": str(exc)}
    via_sent = sip.parse(sent).get("Via") or ""
    via_back = resp.get("Via") or ""
    sent_by = via_sent.split(";")[0]
    params = dict(p.partition("=")[::2] for p in via_back.split(";")[1:])
    return {
        "server_answered": True,
        "status_line": resp.start_line,
        "rtt_ms": round(rtt_s * 1000, 3),
        "local_address": local,
        "via_sent_by": sent_by,
        "via_returned_sent_by": via_back.split(";")[0],
        "received": params.get("received") or None,
        "rport": params.get("rport") or None,
        "alg_suspected": via_back.split(";")[0] != sent_by,
    }
