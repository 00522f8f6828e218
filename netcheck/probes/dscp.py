"""DSCP read-back: does voice keep its EF marking (DSCP 46, RFC 3246) across the path?

A marking can only be read where the packet arrives, so this needs the ``netcheck
responder``'s port echo (:mod:`netcheck.wire.portecho`) on a media port: the probe sends
``count`` datagrams marked ``dscp`` (IP_TOS = dscp << 2, RFC 2474 section 3) to one port of
the voice range, the responder returns in each reply the DS octet it received (upstream)
and sends the reply marked ``dscp`` too, which the probe reads with ``IP_RECVTOS``
(downstream). A router that "bleaches" (re-marks to 0) or re-marks to another class shows
up as a different value per direction. Values: ``up_dscp`` / ``down_dscp`` (the most
common received value), ``up_values`` / ``down_values`` (every distinct value seen).
"""

from __future__ import annotations

import asyncio
import secrets
import select
import socket
import time
from collections import Counter

from netcheck import platform as plat
from netcheck.probes._common import Context, Timer, error, resolve
from netcheck.probes.specs import DscpSpec as Spec
from netcheck.result import ErrorKind, Measurement, Value
from netcheck.wire import portecho


async def run(spec: Spec, ctx: Context) -> Measurement:
    timer = Timer()
    target = f"{spec.host} udp/{spec.port}"
    addr, err = await resolve(ctx, spec.host, socket.AF_INET)
    if addr is None:
        return timer.measurement(id=spec.id, probe="dscp", target=target, method="udp-echo-tos", error=err)
    address = addr[1]
    up, down = await asyncio.to_thread(exchange, address, spec, time.monotonic() + ctx.timeout(5.0))
    err = None if up else error(ErrorKind.TIMEOUT, f"no echo from {address} udp/{spec.port}: is "
                                "the responder running with --udp-ranges covering this port?")
    return timer.measurement(id=spec.id, probe="dscp", target=target, method="udp-echo-tos",
                             values=summarize(spec, address, up, down), error=err)


def exchange(address: str, spec: Spec, deadline: float) -> tuple[list[int], list[int]]:
    """Blocking: send the marked packets; (upstream DS octets, downstream DS octets)."""
    token, tos = secrets.randbits(64), (spec.dscp << 2) & 0xFC
    # encoded per send: in keyed mode each request carries its own send time (replay rule)
    request = portecho.Echo(portecho.Kind.REQUEST, spec.port, token, tos_reply=tos)
    up: list[int] = []
    down: list[int] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, tos)
        plat.enable_recv_tos(sock)  # False where the OS cannot read it back: down unknown
        sock.connect((address, spec.port))
        sock.setblocking(False)
        next_send, sent = time.monotonic(), 0
        while time.monotonic() < deadline and len(up) < spec.count:
            if sent < spec.count and time.monotonic() >= next_send:
                _send(sock, request.to_bytes(spec.key))
                sent, next_send = sent + 1, next_send + spec.interval_s
            elif sent >= spec.count and time.monotonic() > next_send + 1.0:
                break  # 1 s after the last packet: the rest is lost
            if select.select([sock], [], [], 0.005)[0]:
                _receive(sock, token, spec.key, up, down)
    return up, down


def _send(sock: socket.socket, request: bytes) -> None:
    try:
        sock.send(request)
    except OSError:
        pass  # an ICMP error surfaced on the connected socket; the packet counts as lost


def _receive(sock: socket.socket, token: int, key: bytes | None, up: list[int],
             down: list[int]) -> None:
    for _ in range(256):
        try:
            meta = plat.recv_meta(sock, 256)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            continue
        try:
            reply = portecho.parse(meta.data, key)
        except portecho.EchoError:
            continue
        if reply.kind is portecho.Kind.REPLY and reply.token == token:
            up.append(reply.tos_rx)
            if meta.tos is not None:  # never 0 for "unknown": that would read as bleached
                down.append(meta.tos)


def summarize(spec: Spec, address: str, up: list[int], down: list[int]) -> dict[str, Value]:
    """DSCP (octet >> 2) per direction: the most common value and every distinct one."""
    up_d, down_d = [t >> 2 for t in up], [t >> 2 for t in down]
    return {
        "sent_dscp": spec.dscp, "sent": spec.count, "received": len(up), "responder": address,
        "up_dscp": Counter(up_d).most_common(1)[0][0] if up_d else None,
        "down_dscp": Counter(down_d).most_common(1)[0][0] if down_d else None,
        "up_values": sorted(set(up_d)), "down_values": sorted(set(down_d)),
        "down_readable": plat.caps().recv_tos, "platform": plat.caps().system,
        "sender_marks": plat.caps().tos_marking,
    }
