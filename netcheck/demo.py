"""Local peers for ``--profile demo``: the demo measures real sockets on 127.0.0.1.

For each TCP port of the demo profile we listen on a free loopback port (never a fixed
one: the machine may already use 443) and remap the profile's port to it, so that the
whole pipeline — plan, probes, evaluation, reports — runs for real without any network.
A ``netcheck responder`` on a free loopback port answers the demo's STAMP call, so the demo
measures a real stream and a real MOS.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from netcheck.profile import Profile


@asynccontextmanager
async def peers(profile: Profile) -> AsyncIterator[dict[int, int]]:
    """Start one listener per TCP port of the profile; yield profile port -> real port."""
    servers: list[asyncio.Server] = []
    remap: dict[int, int] = {}
    try:
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
        for server in servers:
            server.close()
            await server.wait_closed()


@asynccontextmanager
async def responder() -> AsyncIterator[str]:
    """A STAMP responder on 127.0.0.1 (free port) in a background thread; yields HOST:PORT."""
    from netcheck import responder as resp

    with resp.running(resp.Config(bind="127.0.0.1", port=0)) as server:
        host, port = server.address
        yield f"{host}:{port}"


async def _close_quietly(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()
