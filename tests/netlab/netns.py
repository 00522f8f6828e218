"""Run Python code of the test process inside a named network namespace.

Python 3.11 has no ``os.setns``, so libc ``setns(2)`` is called through ctypes. setns with
``CLONE_NEWNET`` changes the namespace of the *calling thread only*; every socket that
thread creates afterwards lives in the target namespace (and stays there even after the
thread switches back). Two entry points:

- :func:`run_in_netns` runs ``fn`` in a fresh thread that enters the namespace and then
  exits, so the caller's thread is never touched (the safe default);
- :func:`in_netns` switches the calling thread and restores it on exit (handy for a few
  socket calls inside a test; do not ``await`` across it, the event loop's other tasks
  would run in the wrong namespace).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

CLONE_NEWNET = 0x40000000
NETNS_RUN_DIR = Path("/run/netns")



def _setns_fd(fd: int) -> None:
    """Move the calling thread into the network namespace behind ``fd`` (Linux; libc is
    loaded here, not at import, so the suite still collects on Windows and macOS)."""
    if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns(CLONE_NEWNET) failed: {os.strerror(err)} (needs root)")


def _open_ns(name: str) -> int:
    """Open the bind-mounted namespace file created by ``ip netns add``."""
    return os.open(NETNS_RUN_DIR / name, os.O_RDONLY | os.O_CLOEXEC)


@contextlib.contextmanager
def in_netns(name: str) -> Iterator[None]:
    """Enter namespace ``name`` in the calling thread; restore the previous one on exit."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    target = _open_ns(name)
    try:
        _setns_fd(target)
        try:
            yield
        finally:
            _setns_fd(own)
    finally:
        os.close(target)
        os.close(own)


def run_in_netns(name: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call ``fn(*args, **kwargs)`` in a fresh thread inside namespace ``name``.

    The thread enters the namespace before calling ``fn`` and dies afterwards, so nothing
    leaks into the caller's namespace. Exceptions are re-raised in the caller.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            fd = _open_ns(name)
            try:
                _setns_fd(fd)
            finally:
                os.close(fd)
            box["result"] = fn(*args, **kwargs)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"netns-{name}", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["result"]  # type: ignore[no-any-return]


def run_async_in_netns(name: str, coro_factory: Callable[[], Awaitable[T]]) -> T:
    """Run a fresh asyncio loop inside namespace ``name`` and return the coroutine's value.

    The coroutine is created inside the namespace thread, so every socket its transports
    open belongs to that namespace.
    """

    async def main() -> T:
        return await coro_factory()

    return run_in_netns(name, asyncio.run, main())


def current_netns_inode() -> int:
    """Inode of the calling thread's network namespace (to tell namespaces apart)."""
    return os.stat("/proc/thread-self/ns/net").st_ino
