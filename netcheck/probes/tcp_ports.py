"""TCP egress: can the site open a connection to the provider on each port of the table?

Each port ends in one state, because each points at a different culprit:
``open`` (SYN-ACK), ``refused`` (RST: the path is open, nothing listens — or a firewall
rejects with RST), ``filtered`` (no answer before the timeout: a firewall drops),
``reset`` (accepted, then reset: typically a middlebox), ``unreachable`` (ICMP
unreachable / no route), ``blocked_locally`` (this machine's own firewall said no).
"""

from __future__ import annotations

import asyncio
import errno
import socket
import time
from collections.abc import Iterable

from netcheck.probes._common import Context, Timer, compress_ranges, ms, resolve
from netcheck.probes._tcpinfo import handshake_rtt_ms
from netcheck.probes.specs import TcpPortsSpec as Spec
from netcheck.result import Measurement, ProbeError, Value

STATES = ("open", "refused", "filtered", "reset", "unreachable", "blocked_locally")


async def run(spec: Spec, ctx: Context) -> Measurement:
    """Resolve, connect to every port (bounded concurrency), summarise per state."""
    timer = Timer()
    label = f"{spec.host} tcp/{','.join(compress_ranges(list(spec.ports)))}"
    address, family, err = await _resolve(spec.host, ctx)
    if err:
        return timer.measurement(id=spec.id, probe="tcp_ports", target=label, method="tcp-connect", error=err)
    gate = asyncio.Semaphore(spec.concurrency)

    async def one(port: int) -> tuple[int, str, float | None]:
        async with gate:
            state, rtt = await connect(address, family, spec.remap.get(port, port), ctx.timeout(spec.timeout_s))
            return port, state, rtt

    results = await asyncio.gather(*(one(p) for p in spec.ports))
    ctx.progress(f"tcp {spec.host}: {len(results)} ports")
    values = summarize(results)
    values["address"] = address
    return timer.measurement(id=spec.id, probe="tcp_ports", target=label, method="tcp-connect", values=values)


async def _resolve(host: str, ctx: Context) -> tuple[str, int, ProbeError | None]:
    """The run's shared lookup (an IP literal never goes to DNS)."""
    addr, err = await resolve(ctx, host)
    return (addr[1], addr[0], None) if addr else ("", 0, err)


async def connect(address: str, family: int, port: int, timeout: float) -> tuple[str, float | None]:
    """One non-blocking connect; returns (state, connect time in ms or None). The connect
    time is the kernel's handshake RTT where the OS reports it (``_tcpinfo``), else the
    time from starting the connect to the loop seeing it complete."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    t0 = time.perf_counter()
    try:
        await asyncio.wait_for(loop.sock_connect(sock, (address, port)), timeout=max(timeout, 0.001))
        rtt = handshake_rtt_ms(sock) or ms(time.perf_counter() - t0)
        return await _after_connect(sock, loop), rtt
    except TimeoutError:
        return "filtered", None
    except ConnectionRefusedError:
        return "refused", ms(time.perf_counter() - t0)
    except ConnectionResetError:
        return "reset", None
    except OSError as exc:
        return _os_state(exc), None
    finally:
        sock.close()


async def _after_connect(sock: socket.socket, loop: asyncio.AbstractEventLoop) -> str:
    """A middlebox that accepts and then resets shows up within a few milliseconds."""
    try:
        await asyncio.wait_for(loop.sock_recv(sock, 1), timeout=0.05)
    except ConnectionResetError:
        return "reset"
    except (TimeoutError, OSError):
        pass
    return "open"


def _os_state(exc: OSError) -> str:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "blocked_locally"
    if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EADDRNOTAVAIL):
        return "unreachable"
    if exc.errno == errno.ECONNRESET:
        return "reset"
    return "unreachable"


def summarize(results: Iterable[tuple[int, str, float | None]]) -> dict[str, Value]:
    """Ports per state as compressed ranges, counts, and the median connect time."""
    by_state: dict[str, list[int]] = {s: [] for s in STATES}
    rtts: list[float] = []
    for port, state, rtt in results:
        by_state[state].append(port)
        if state == "open" and rtt is not None:
            rtts.append(rtt)
    values: dict[str, Value] = {s: compress_ranges(p) for s, p in by_state.items() if p}
    values["counts"] = {s: len(p) for s, p in by_state.items() if p}
    values["ports_total"] = sum(len(p) for p in by_state.values())
    rtts.sort()
    values["connect_median_ms"] = rtts[len(rtts) // 2] if rtts else None
    return values
