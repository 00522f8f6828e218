"""Simulated platforms: run netcheck on Linux as it runs on Windows (no Administrator) or
macOS (no sudo), with the Linux-only socket features really gone.

:func:`simulate` changes the interpreter, not netcheck:

- ``socket.socket`` becomes a subclass on which ``recvmsg``/``sendmsg`` do not exist
  (Windows), ICMP sockets behave as on the target (Windows: raw needs Administrator,
  ``SOCK_DGRAM``/``IPPROTO_ICMP`` does not exist; macOS: raw needs root, a ping socket
  delivers the IPv4 header before the ICMP message and keeps our echo identifier: it is
  emulated with a raw socket, which does both, so the test must run as root);
- Linux-only names are deleted from ``socket`` and ``select`` (``CMSG_SPACE``,
  ``MSG_ERRQUEUE``, ``IP_RECVERR``, ``SO_TIMESTAMPNS``, ``epoll``, and on Windows
  ``poll``), and ``selectors.DefaultSelector`` is what the target would pick;
- on Windows ``time.monotonic`` / ``time.time`` (and their ``_ns``) step by 15.625 ms
  (GetTickCount64 / GetSystemTimeAsFileTime, Python < 3.13) and ``time.get_clock_info``
  says so: a measurement timed with them comes out as a multiple of 15.625 ms;
- then :func:`netcheck.platform.detect` runs for the target's ``sys.platform`` and its
  result is put in effect. Windows gets a stand-in for iphlpapi.dll (:class:`IcmpApiStandIn`)
  that answers ``IcmpSendEcho`` with a real echo over a raw socket and fills the
  ICMP_ECHO_REPLY buffer the way Windows does, so netcheck's ctypes parsing runs.

Code that bypasses the platform layer fails here as it would on the target: an
``AttributeError`` for ``recvmsg`` or ``select.epoll``, a header-prefixed ICMP reply.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import select
import selectors
import socket
import struct
import time
import types
from collections.abc import Iterator
from typing import Any, Literal

import pytest

from netcheck import platform as plat
from netcheck.platform import winicmp

Target = Literal["windows", "macos"]
TICK_NS = 15_625_000  # GetTickCount64's step: 1/64 s
SYSTEM = {"windows": "win32", "macos": "darwin"}
_LINUX_ONLY_SOCKET = ("MSG_ERRQUEUE", "IP_RECVERR", "SO_TIMESTAMPNS", "TCP_INFO")
_NO_RECVMSG_SOCKET = ("CMSG_SPACE", "CMSG_LEN", "IP_RECVTOS")  # Windows: no recvmsg at all


class _Absent:
    """A descriptor that makes an attribute absent, on the class and on instances."""

    def __init__(self, name: str, target: str) -> None:
        self.name, self.target = name, target

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        raise AttributeError(f"socket has no {self.name} on {self.target} (simulated)")


def _socket_class(target: Target, original: type[socket.socket]) -> type[socket.socket]:
    """``socket.socket`` as the target offers it."""

    class SimSocket(original):  # type: ignore[valid-type,misc]
        def __init__(
            self, family: int = -1, type: int = -1, proto: int = -1, fileno: int | None = None
        ) -> None:
            if fileno is None and proto in (socket.IPPROTO_ICMP, socket.IPPROTO_ICMPV6):
                if type == socket.SOCK_RAW:
                    raise PermissionError(
                        13, f"raw ICMP needs admin rights on {target} (simulated)"
                    )
                if target == "windows":
                    raise OSError(10043, "protocol not supported (simulated Windows)")
                type = socket.SOCK_RAW  # as Darwin's ping socket: IPv4 header, our identifier
            super().__init__(family, type, proto, fileno)

    if target == "windows":
        _winsock_errors(SimSocket)
        SimSocket.recvmsg = _Absent("recvmsg", target)  # type: ignore[method-assign,assignment]
        SimSocket.sendmsg = _Absent("sendmsg", target)  # type: ignore[method-assign,assignment]
        SimSocket.recvmsg_into = _Absent("recvmsg_into", target)  # type: ignore[method-assign,assignment]
    SimSocket.__name__ = SimSocket.__qualname__ = "socket"
    return SimSocket


def _winsock_errors(cls: type[socket.socket]) -> None:
    """Winsock reports an ICMP port unreachable on a UDP socket as WSAECONNRESET (10054),
    not ECONNREFUSED: recv/send raise ConnectionResetError there."""

    def wrap(name: str) -> None:
        method = getattr(cls, name)

        def call(self: socket.socket, *args: Any) -> Any:
            try:
                return method(self, *args)
            except ConnectionRefusedError as exc:
                if self.type != socket.SOCK_DGRAM:
                    raise
                raise ConnectionResetError(10054, "WSAECONNRESET (simulated Windows)") from exc

        setattr(cls, name, call)

    for name in ("recv", "recvfrom", "send", "sendto"):
        wrap(name)


def _coarse_clock_info(real: Any) -> Any:
    """Python < 3.13 on Windows: monotonic and time() step by 15.625 ms."""

    def get_clock_info(name: str) -> Any:
        info = real(name)
        if name in ("monotonic", "time"):
            return types.SimpleNamespace(
                implementation=f"{info.implementation} (simulated Windows)",
                monotonic=info.monotonic,
                adjustable=info.adjustable,
                resolution=0.015625,
            )
        return info

    return get_clock_info


@contextlib.contextmanager
def simulate(target: Target, mp: pytest.MonkeyPatch) -> Iterator[plat.Caps]:
    """Run a block as on ``target``; yields the capabilities netcheck detected there."""
    plat.caps()  # this host's own, detected before anything is removed (threads may ask)
    original = socket.socket
    mp.setattr(socket, "socket", _socket_class(target, original))
    for name in _LINUX_ONLY_SOCKET + (_NO_RECVMSG_SOCKET if target == "windows" else ()):
        if hasattr(socket, name):
            mp.delattr(socket, name)
    gone = ("epoll", "devpoll") + (("poll",) if target == "windows" else ())
    for name in gone:
        if hasattr(select, name):
            mp.delattr(select, name)
    pick = selectors.SelectSelector if target == "windows" else selectors.PollSelector
    mp.setattr(selectors, "DefaultSelector", pick)
    if target == "windows":
        mp.setattr(time, "get_clock_info", _coarse_clock_info(time.get_clock_info))
        fine_ns = time.monotonic_ns
        mp.setattr(time, "monotonic_ns", lambda: fine_ns() // TICK_NS * TICK_NS)
        mp.setattr(time, "monotonic", lambda: fine_ns() // TICK_NS * TICK_NS / 1e9)
        wall_ns = time.time_ns  # GetSystemTimeAsFileTime: the same 1/64 s steps
        mp.setattr(time, "time_ns", lambda: wall_ns() // TICK_NS * TICK_NS)
        mp.setattr(time, "time", lambda: wall_ns() // TICK_NS * TICK_NS / 1e9)
    stack = contextlib.ExitStack()
    with stack:
        if target == "windows":
            stack.enter_context(winicmp.use_api(lambda: IcmpApiStandIn(original)))
        caps = plat.with_(plat.detect(SYSTEM[target]), admin=False)
        stack.enter_context(plat.using(caps, time.perf_counter_ns if target == "windows" else None))
        yield caps


class IcmpApiStandIn:
    """iphlpapi.dll's ICMP functions on Linux, for the simulated Windows: ``IcmpSendEcho``
    sends one real echo request (raw socket, root) and fills the reply buffer with an
    ICMP_ECHO_REPLY as 64-bit Windows does (Address, IP_STATUS, RoundTripTime in whole ms,
    DataSize, Data pointer, Options with the TTL), returning the number of replies (0 on
    timeout)."""

    _ids = itertools.count(0x5A01)  # next() on a count is atomic under the GIL

    def __init__(self, socket_class: type[socket.socket]) -> None:
        self.socket_class = socket_class

    def IcmpCreateFile(self) -> int:
        sock = self.socket_class(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        # ICMP_FILTER (linux/icmp.h, SOL_RAW): deliver echo replies only, so other ICMP
        # traffic of the host cannot fill this socket's buffer between two echoes
        sock.setsockopt(255, 1, struct.pack("I", 0xFFFFFFFF & ~1))
        handle = next(IcmpApiStandIn._ids)
        _HANDLES[handle] = sock
        return handle

    def IcmpCloseHandle(self, handle: int) -> int:
        _HANDLES.pop(handle).close()
        return 1

    def IcmpSendEcho(
        self,
        handle: int,
        dest: int,
        data: Any,
        size: int,
        _opts: Any,
        buf: Any,
        buf_size: int,
        timeout_ms: int,
    ) -> int:
        sock, ident = _HANDLES[handle], handle & 0xFFFF
        address = socket.inet_ntoa(int(dest).to_bytes(4, "little"))
        payload = ctypes.string_at(data, size)
        seq = next(IcmpApiStandIn._ids) & 0xFFFF
        sock.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            while sock.recv(65535):  # replies to other programs, queued since the last echo
                pass
        t0 = time.perf_counter()
        sock.sendto(_echo(ident, seq, payload), (address, 0))
        while (left := t0 + timeout_ms / 1000 - time.perf_counter()) > 0:
            sock.settimeout(left)
            try:
                packet, (src, _) = sock.recvfrom(65535)
            except TimeoutError:
                break
            ihl = (packet[0] & 0x0F) * 4
            kind, _c, _s, rid, rseq = struct.unpack_from("!BBHHH", packet, ihl)
            if kind == 0 and rid == ident and rseq == seq:
                rtt_ms = int((time.perf_counter() - t0) * 1000)
                head = winicmp.IcmpEchoReplyHead(
                    Address=int.from_bytes(socket.inet_aton(src), "little"),
                    Status=0,
                    RoundTripTime=rtt_ms,
                    DataSize=len(packet) - ihl - 8,
                )
                # then (64-bit layout) the Data pointer and IP_OPTION_INFORMATION: TTL first
                raw = bytes(head) + bytes(8) + bytes([packet[8], 0, 0, 0]) + bytes(12)
                ctypes.memmove(buf, raw, min(buf_size, len(raw)))
                return 1
        return 0


_HANDLES: dict[int, socket.socket] = {}


def _echo(ident: int, seq: int, payload: bytes) -> bytes:
    from netcheck.probes._stream_sessions import build_echo

    return build_echo(ident, seq, payload)
