"""Local peers for ``--profile demo``: the demo measures real sockets on 127.0.0.1.

For each TCP port of the demo profile we listen on a free loopback port (never a fixed
one: the machine may already use 443) and remap the profile's port to it, so that the
whole pipeline — plan, probes, evaluation, reports — runs for real without any network.
A ``netcheck responder`` on a free loopback port answers the demo's STAMP call, so the demo
measures a real stream and a real MOS, and a minimal STUN server (RFC 8489 Binding, UDP
and TCP on one free port, remapped from 3478) answers the STUN probe.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from netcheck.probes.specs import STUN_PORT as STUN_PORT  # RFC 8489: remapped like the TCP ports
from netcheck.profile import Profile


@asynccontextmanager
async def peers(profile: Profile) -> AsyncIterator[dict[int, int]]:
    """Start one listener per TCP port of the profile and a STUN server; yield profile
    port -> real port (the STUN server's under :data:`STUN_PORT`). ``run --plan`` shows
    these ports before they start (:func:`netcheck.run.preview.planned_remap`)."""
    servers: list[asyncio.Server] = []
    remap: dict[int, int] = {}
    udp: asyncio.DatagramTransport | None = None
    try:
        udp, tcp, remap[STUN_PORT] = await _stun_server()
        servers.append(tcp)
        for rule in profile.ports:
            if "tcp" not in rule.transports:
                continue
            lo, hi = rule.range
            for port in range(lo, hi + 1):
                server = await asyncio.start_server(_close_quietly, "127.0.0.1", 0)
                servers.append(server)
                remap[port] = server.sockets[0].getsockname()[1]
        yield remap
    finally:
        if udp is not None:
            udp.close()
        for server in servers:
            server.close()
            await server.wait_closed()


async def _stun_server() -> tuple[asyncio.DatagramTransport, asyncio.Server, int]:
    """STUN over UDP and TCP on the same free loopback port (retried if TCP's is taken)."""
    loop = asyncio.get_running_loop()
    for _ in range(20):
        udp, _proto = await loop.create_datagram_endpoint(_StunUdp, local_addr=("127.0.0.1", 0))
        port = int(udp.get_extra_info("sockname")[1])
        try:
            tcp = await asyncio.start_server(_stun_tcp, "127.0.0.1", port)
        except OSError:
            udp.close()
            continue
        return udp, tcp, port
    raise OSError("no free loopback port for the demo STUN server")


def stun_answer(data: bytes, source: tuple[str, int]) -> bytes | None:
    """The Binding success response (XOR-MAPPED-ADDRESS = the request's source) to a Binding
    request, else None: the whole of a STUN server that a reachability test needs."""
    from netcheck.wire import stun

    try:
        request = stun.parse(data)
    except stun.StunError:
        return None
    if request.method != stun.Method.BINDING or request.cls != stun.Class.REQUEST:
        return None
    mapped = stun.encode_address((source[0], source[1]), request.transaction_id)
    return stun.Message(stun.Method.BINDING, stun.Class.SUCCESS, request.transaction_id,
                        ((stun.Attr.XOR_MAPPED_ADDRESS, mapped),)).to_bytes()


class _StunUdp(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.DatagramTransport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        answer = stun_answer(data, addr)
        if answer is not None:
            self.transport.sendto(answer, addr)


async def _stun_tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """RFC 8489 section 6.2.2: over TCP the messages are framed by their length field."""
    peer = writer.get_extra_info("peername")
    try:
        while header := await reader.readexactly(20):
            length = int.from_bytes(header[2:4], "big")
            answer = stun_answer(header + await reader.readexactly(length), peer)
            if answer is None:
                break
            writer.write(answer)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


@asynccontextmanager
async def responder() -> AsyncIterator[str]:
    """A STAMP responder on 127.0.0.1 (free port) in a background thread; yields HOST:PORT."""
    from netcheck.responder import server as resp

    with resp.running(resp.Config(bind="127.0.0.1", port=0)) as server:
        host, port = server.address
        yield f"{host}:{port}"


async def _close_quietly(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()
