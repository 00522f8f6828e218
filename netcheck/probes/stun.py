"""STUN: can the site reach the provider's STUN server, and what does its NAT do?

Three measurements, all against a standard STUN server (the provider's, or coturn):

- **Binding** (RFC 8489 section 3): over UDP or TCP; reachability, round-trip time of the
  request/response exchange, and the mapped (public) address. A mapped address different
  from the local one means the site is behind NAT.
- **NAT behaviour discovery** (RFC 5780 section 4.3 / 4.4) when the server announces an
  OTHER-ADDRESS: *mapping* (does the public port stay the same whatever the destination:
  endpoint-independent, address-dependent, address-and-port-dependent) and *filtering*
  (whom the NAT lets answer: anyone, only the contacted address, only the contacted
  address and port). Address-and-port-dependent mapping is "symmetric NAT", the classic
  cause of one-way audio without a TURN relay.
- **Binding lifetime** (RFC 5780 section 4.6): how long an idle UDP mapping survives. One
  socket per checkpoint opens a mapping at t=0; at its checkpoint a second socket asks the
  server to answer to the first socket's public port (RESPONSE-PORT). Each mapping is
  tested exactly once, because an inbound packet would refresh it; the checkpoints run in
  parallel, so the whole search lasts as long as the longest checkpoint. If the SIP
  keep-alive interval is longer than the lifetime, the phone loses its registration path
  and inbound calls or audio fail.

Retransmission follows RFC 8489 section 6.2.1 (RTO 500 ms, doubling), bounded by the
runner's deadline. RTT is taken only from requests answered on their first transmission
(Karn's rule: with a retransmitted request the answer's origin is ambiguous).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time

from netcheck import hostport
from netcheck.probes._common import Context, Timer, error, ms, percentile, resolve
from netcheck.probes.specs import StunSpec as Spec
from netcheck.result import ErrorKind, Measurement, ProbeError, Value
from netcheck.wire import stun

Address = tuple[str, int]


async def run(spec: Spec, ctx: Context) -> Measurement:
    """Resolve, then run the binding series, discovery or lifetime search."""
    timer = Timer()
    label = f"{hostport.join(spec.host, spec.port)}/{spec.transport}"
    method = "stun-lifetime" if spec.lifetime_checkpoints_s else f"stun-{spec.transport}"
    server, err = await _resolve(spec.host, spec.port, ctx)
    if server is None:
        return timer.measurement(id=spec.id, probe="stun", target=label, method=method, error=err)
    if spec.lifetime_checkpoints_s:
        values, err = await lifetime(server, spec, ctx)
        series: dict[str, list[float | None]] = {}
    elif spec.transport == "tcp":
        values, series = await _tcp_series(server, spec, ctx)
    else:
        values, series = await _udp_series(server, spec, ctx)
    values["server"] = f"{server[0]}:{server[1]}"
    return timer.measurement(
        id=spec.id, probe="stun", target=label, method=method, values=values, series=series,
        error=err,
    )


async def _resolve(host: str, port: int, ctx: Context) -> tuple[Address | None, ProbeError | None]:
    """The run's shared lookup (an IP literal never goes to DNS)."""
    addr, err = await resolve(ctx, host, socket.AF_INET)
    return ((addr[1], port) if addr else None), err


# -- UDP ---------------------------------------------------------------------------------


def _udp_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sock.bind(("0.0.0.0", 0))
    return sock


async def transact(
    sock: socket.socket, dest: Address, req: stun.Message, rto_s: float, retransmits: int,
    ctx: Context,
) -> tuple[stun.Message | None, float | None, Address | None]:
    """One UDP transaction: (response, RTT in s if answered on the first try, its source).

    Datagrams that are not a STUN response to this transaction are ignored."""
    loop = asyncio.get_running_loop()
    raw, rto = req.to_bytes(), rto_s
    for attempt in range(retransmits + 1):
        if ctx.remaining() <= 0:
            break
        try:
            await loop.sock_sendto(sock, raw, dest)
        except OSError:
            return None, None, None
        t0 = time.perf_counter()
        got = await _await_response(sock, req.transaction_id, min(rto, ctx.remaining()))
        if got is not None:
            rtt = time.perf_counter() - t0 if attempt == 0 else None
            return got[0], rtt, got[1]
        rto *= 2
    return None, None, None


async def _await_response(
    sock: socket.socket, txid: bytes, timeout: float
) -> tuple[stun.Message, Address] | None:
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            data, src = await asyncio.wait_for(loop.sock_recvfrom(sock, 2048), left)
        except (TimeoutError, OSError):
            return None  # OSError: ICMP port unreachable surfaced as ECONNREFUSED
        with contextlib.suppress(stun.StunError, ValueError):
            msg = stun.parse(data)
            if msg.transaction_id == txid and msg.cls is not stun.Class.REQUEST:
                return msg, (str(src[0]), int(src[1]))
    return None


async def _udp_series(
    server: Address, spec: Spec, ctx: Context
) -> tuple[dict[str, Value], dict[str, list[float | None]]]:
    with _udp_socket() as sock:
        rtts, first = await _series(sock, server, spec, ctx)
        values = _binding_values(first, rtts, _local_address(sock, server))
        if first is not None and spec.discovery and first.other_address:
            ctx.progress(f"stun {server[0]}: RFC 5780 NAT behaviour discovery")
            values.update(await discover(sock, server, first, spec, ctx))
    values["transport"] = "udp"
    return values, {"rtt_ms": [None if r is None else ms(r) for r in rtts]}


async def _series(
    sock: socket.socket, server: Address, spec: Spec, ctx: Context
) -> tuple[list[float | None], stun.Message | None]:
    rtts: list[float | None] = []
    first: stun.Message | None = None
    for _ in range(spec.count):
        resp, rtt, _src = await transact(
            sock, server, stun.binding_request(), spec.rto_s, spec.retransmits, ctx
        )
        first = first or (resp if resp is not None and resp.cls is stun.Class.SUCCESS else None)
        rtts.append(rtt if resp is not None else None)
        if resp is None and first is None and ctx.remaining() < spec.rto_s:
            break
    return rtts, first


def _local_address(sock: socket.socket, server: Address) -> Address:
    """The address the kernel picks towards the server (what a phone would announce)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(server)
            ip = str(probe.getsockname()[0])
        except OSError:
            ip = "0.0.0.0"
    return ip, int(sock.getsockname()[1])


def _binding_values(
    first: stun.Message | None, rtts: list[float | None], local: Address
) -> dict[str, Value]:
    got = [r * 1000.0 for r in rtts if r is not None]
    values: dict[str, Value] = {
        "reachable": first is not None,
        "requests": len(rtts),
        "answered": sum(1 for r in rtts if r is not None),
        "rtt_ms": round(p, 3) if (p := percentile(got, 50)) is not None else None,
        "rtt_min_ms": round(min(got), 3) if got else None,
        "local_address": f"{local[0]}:{local[1]}",
    }
    mapped = first.mapped_address if first else None
    if mapped is not None and first is not None:
        values.update(
            mapped_ip=mapped[0],
            mapped_port=mapped[1],
            mapped_address=f"{mapped[0]}:{mapped[1]}",
            behind_nat=mapped != local,
            software=first.software,
            rfc5780=first.other_address is not None,
        )
    return values


# -- RFC 5780 behaviour discovery ----------------------------------------------------------


async def discover(
    sock: socket.socket, server: Address, first: stun.Message, spec: Spec, ctx: Context
) -> dict[str, Value]:
    """Mapping (RFC 5780 4.3) and filtering (4.4) behaviour from one socket."""
    other = first.other_address
    mapped1 = first.mapped_address
    assert other is not None and mapped1 is not None
    out: dict[str, Value] = {"other_address": f"{other[0]}:{other[1]}"}

    async def mapped_via(dest: Address) -> Address | None:
        resp, _, _ = await transact(sock, dest, stun.binding_request(), spec.rto_s, 2, ctx)
        return resp.mapped_address if resp is not None else None

    mapped2 = await mapped_via((other[0], server[1]))  # test II: alternate IP, primary port
    if mapped2 is None:
        out["mapping"] = None
    elif mapped2 == mapped1:
        out["mapping"] = "endpoint-independent"
    else:
        mapped3 = await mapped_via(other)  # test III: alternate IP and port
        out["mapping"] = "address-dependent" if mapped3 == mapped2 else "address-and-port-dependent"
    out["filtering"] = await _filtering(sock, server, spec, ctx)
    return out


async def _filtering(sock: socket.socket, server: Address, spec: Spec, ctx: Context) -> str:
    """Ask the server to answer from another IP and port (test II), then another port
    only (test III); a NAT that drops the answer filters by address / by port."""

    async def answered(change_ip: bool, change_port: bool) -> bool:
        req = stun.binding_request(change_ip=change_ip, change_port=change_port)
        # one retransmission: an answer the NAT filters never comes, and waiting out the
        # full RFC 8489 schedule (39.5 s) for each negative test would dominate the run
        resp, _, _ = await transact(sock, server, req, spec.rto_s, 1, ctx)
        return resp is not None and resp.cls is stun.Class.SUCCESS

    if await answered(True, True):
        return "endpoint-independent"
    if await answered(False, True):
        return "address-dependent"
    return "address-and-port-dependent"


# -- binding lifetime (RFC 5780 4.6) --------------------------------------------------------


async def lifetime(
    server: Address, spec: Spec, ctx: Context
) -> tuple[dict[str, Value], ProbeError | None]:
    """Parallel checkpoints; the lifetime lies between the longest idle time that still
    delivered and the shortest that did not."""
    checkpoints = sorted(c for c in spec.lifetime_checkpoints_s if c > 0)
    socks = [_udp_socket() for _ in range(len(checkpoints) + 1)]
    try:
        ctx.progress(f"stun {server[0]}: UDP binding lifetime, up to {checkpoints[-1]:g} s")
        t0 = time.monotonic()
        mapped = await asyncio.gather(*(_open_mapping(s, server, spec, ctx) for s in socks))
        if None in mapped:
            return {"lifetime_checkpoints_s": checkpoints}, error(
                ErrorKind.TIMEOUT, f"no STUN answer from {server[0]}:{server[1]}/udp"
            )
        control = await _delivered(socks[0], mapped[0], server, 0.0, t0, spec, ctx)  # type: ignore[arg-type]
        if not control:
            return {"lifetime_checkpoints_s": checkpoints}, error(
                ErrorKind.UNSUPPORTED,
                "the STUN server does not honour RESPONSE-PORT (RFC 5780 section 7.5); the "
                "binding lifetime cannot be measured against it",
            )
        alive = await asyncio.gather(*(
            _delivered(s, m, server, c, t0, spec, ctx)  # type: ignore[arg-type]
            for s, m, c in zip(socks[1:], mapped[1:], checkpoints, strict=True)
        ))
    finally:
        for s in socks:
            s.close()
    return _lifetime_values(checkpoints, list(alive)), None


async def _open_mapping(
    sock: socket.socket, server: Address, spec: Spec, ctx: Context
) -> Address | None:
    resp, _, _ = await transact(sock, server, stun.binding_request(), spec.rto_s, 3, ctx)
    return resp.mapped_address if resp is not None else None


async def _delivered(
    sock: socket.socket, mapped: Address, server: Address, at_s: float, t0: float, spec: Spec,
    ctx: Context,
) -> bool:
    """At ``t0 + at_s``, from a fresh socket, request an answer to ``mapped``'s port; True
    if ``sock`` (idle until now) receives it. Sent three times within ~1 s against loss."""
    await asyncio.sleep(max(0.0, t0 + at_s - time.monotonic()))
    req = stun.binding_request()
    req = stun.Message(req.method, req.cls, req.transaction_id,
                       ((stun.Attr.RESPONSE_PORT, struct.pack("!HH", mapped[1], 0)),))
    loop = asyncio.get_running_loop()
    with _udp_socket() as helper:
        for _ in range(3):
            with contextlib.suppress(OSError):
                await loop.sock_sendto(helper, req.to_bytes(), server)
            if await _await_response(sock, req.transaction_id, min(0.4, ctx.remaining())):
                return True
    return False


def _lifetime_values(checkpoints: list[float], alive: list[bool]) -> dict[str, Value]:
    lived = [c for c, ok in zip(checkpoints, alive, strict=True) if ok]
    died = [c for c, ok in zip(checkpoints, alive, strict=True) if not ok]
    return {
        "lifetime_checkpoints_s": checkpoints,
        "lifetime_alive": alive,
        "lifetime_min_s": max(lived) if lived else 0.0,  # survived at least this long
        "lifetime_max_s": min(died) if died else None,  # None: outlived the whole search
    }


# -- TCP ----------------------------------------------------------------------------------


async def _tcp_series(
    server: Address, spec: Spec, ctx: Context
) -> tuple[dict[str, Value], dict[str, list[float | None]]]:
    """One connection, ``count`` Binding requests framed by their length (RFC 8489 6.2.2)."""
    t0 = time.perf_counter()
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(*server), timeout=ctx.timeout(3.0)
        )
    except (TimeoutError, OSError) as exc:
        state = "filtered" if isinstance(exc, TimeoutError) else type(exc).__name__
        return {"reachable": False, "transport": "tcp", "connect": state}, {}
    connect_ms = ms(time.perf_counter() - t0)
    rtts: list[float | None] = []
    first: stun.Message | None = None
    try:
        for _ in range(spec.count):
            resp, rtt = await _tcp_exchange(reader, writer, ctx)
            first = first or resp
            rtts.append(rtt)
        local = writer.get_extra_info("sockname")
    finally:
        writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), 1.0)
    values = _binding_values(first, rtts, (str(local[0]), int(local[1])))
    values.update(transport="tcp", connect_ms=connect_ms)
    return values, {"rtt_ms": [None if r is None else ms(r) for r in rtts]}


async def _tcp_exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, ctx: Context
) -> tuple[stun.Message | None, float | None]:
    req = stun.binding_request()
    t0 = time.perf_counter()
    try:
        writer.write(req.to_bytes())
        head = await asyncio.wait_for(reader.readexactly(stun.HEADER_LEN), ctx.timeout(2.0))
        size = stun.frame_length(head) or stun.HEADER_LEN
        body = await asyncio.wait_for(reader.readexactly(size - stun.HEADER_LEN), ctx.timeout(2.0))
        msg = stun.parse(head + body)
    except (TimeoutError, OSError, asyncio.IncompleteReadError, stun.StunError):
        return None, None
    if msg.transaction_id != req.transaction_id or msg.cls is not stun.Class.SUCCESS:
        return None, None
    return msg, time.perf_counter() - t0
