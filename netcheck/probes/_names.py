"""Name resolution shared by every probe of one run.

Why one resolver per run: each probe used to call ``getaddrinfo`` itself, on its own share
of its deadline. One lost DNS packet then made a TCP check NOT_MEASURED while the DNS check
of the same run passed, and on a loaded machine the executor that runs ``getaddrinfo``
queued long enough for every probe to report "dns: cannot resolve" — even for IP literals.
Here a name is looked up once per run (the first probe that needs it starts the lookup,
the others await the same task), with the run's own DNS budget (:data:`LOOKUP_TIMEOUT_S`,
longer than glibc's default 5 s x 2 attempts), not a probe's remaining seconds; and an IP
literal never reaches the resolver. The DNS *check* (``probes/dns.py``) still measures
resolution by itself: that is what it is for.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from dataclasses import dataclass
from typing import Final

__all__ = ["LOOKUP_TIMEOUT_S", "Names", "ResolveError", "Resolved"]

#: The budget of one name lookup within a run (system resolver incl. its own retries).
LOOKUP_TIMEOUT_S: Final = 12.0


class ResolveError(Exception):
    """The name could not be resolved (``detail`` is one line for the Measurement)."""

    def __init__(self, detail: str, *, timeout: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.timeout = timeout  # no answer in time (else: the resolver said no)


@dataclass(frozen=True)
class Resolved:
    """The addresses of one name, in the system resolver's order (RFC 6724 preference)."""

    host: str
    addresses: tuple[tuple[int, str], ...]  # (address family, address text)
    elapsed_s: float

    def first(self, family: int = 0) -> tuple[int, str]:
        """The first address of ``family`` (0 = any); ResolveError when there is none."""
        for fam, addr in self.addresses:
            if family in (0, fam):
                return fam, addr
        kind = {int(socket.AF_INET): "IPv4", int(socket.AF_INET6): "IPv6"}.get(family, "usable")
        raise ResolveError(f"{self.host!r} has no {kind} address")


def literal(host: str) -> Resolved | None:
    """An IP address written out resolves to itself without DNS (None for a name)."""
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    return Resolved(host, ((int(family), str(ip)),), 0.0)


class Names:
    """The run's name cache: one lookup task per name, shared by every probe."""

    def __init__(self, timeout_s: float = LOOKUP_TIMEOUT_S) -> None:
        self._timeout_s = timeout_s
        self._tasks: dict[str, asyncio.Task[Resolved]] = {}

    def prefetch(self, hosts: list[str]) -> None:
        """Start the lookups of ``hosts`` now, so later probes find them done."""
        for host in hosts:
            if host and literal(host) is None:
                self._task(host)

    async def resolve(self, host: str, wait_s: float | None = None) -> Resolved:
        """The addresses of ``host``; waits at most ``wait_s`` (the caller's time left) for a
        lookup in flight, which goes on for the next caller if this one gives up."""
        fixed = literal(host)
        if fixed is not None:
            return fixed
        if not host:
            raise ResolveError("no host name given")
        task = self._task(host)
        try:
            return await asyncio.wait_for(asyncio.shield(task), timeout=wait_s)
        except TimeoutError:
            raise ResolveError(f"cannot resolve {host!r}: no answer within {wait_s:g} s", timeout=True) from None

    def _task(self, host: str) -> asyncio.Task[Resolved]:
        task = self._tasks.get(host)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._lookup(host))
            task.add_done_callback(_retrieve)  # a failed lookup nobody awaits is not an error
            self._tasks[host] = task
        return task

    async def _lookup(self, host: str) -> Resolved:
        loop = asyncio.get_running_loop()
        t0 = time.perf_counter()  # fine-grained everywhere (Windows' monotonic: 15.6 ms)
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, None, type=socket.SOCK_STREAM), timeout=self._timeout_s
            )
        except TimeoutError:
            raise ResolveError(f"cannot resolve {host!r}: no answer within {self._timeout_s:g} s",
                               timeout=True) from None
        except (OSError, UnicodeError) as exc:
            why = exc.args[1] if isinstance(exc, socket.gaierror) and len(exc.args) > 1 else str(exc)
            raise ResolveError(f"cannot resolve {host!r}: {why}") from None
        seen: dict[tuple[int, str], None] = {}
        for family, _, _, _, sockaddr in infos:
            seen[(int(family), str(sockaddr[0]))] = None
        return Resolved(host, tuple(seen), round(time.perf_counter() - t0, 6))


def _retrieve(task: asyncio.Task[Resolved]) -> None:
    if not task.cancelled():
        task.exception()
