"""The one place that knows what this OS's sockets and clocks offer (Linux, macOS, Windows).

Probes ask this module instead of calling Linux-only socket features themselves:

================================  =================  ==================  ====================
feature                           Linux              macOS (no sudo)     Windows (no admin)
================================  =================  ==================  ====================
``recvmsg`` + ancillary data      yes                yes                 no (``recvfrom``)
kernel rx timestamps              ``SO_TIMESTAMPNS``  no (user space)     no (user space)
DS octet read-back                ``IP_RECVTOS``     ``IP_RECVTOS``      no
ICMP errors per destination       ``IP_RECVERR``     connected sockets   connected sockets
readiness                         ``epoll``          ``kqueue``/``poll``  ``select``
ICMP echo without privileges      ping socket        ping socket (+IPv4   ``IcmpSendEcho``
                                                     header delivered)    (iphlpapi)
================================  =================  ==================  ====================

Everything is *detected* once, by trying or by looking for the attribute (never by OS
name alone, except where only the OS name tells: a Darwin ping socket delivers the IPv4
header, a Linux one does not). :func:`caps` returns the detected :class:`Caps`;
:func:`using` replaces them for a block (the simulated-platform tests do, after removing
the attributes from the ``socket`` / ``select`` modules, so detection really finds them
missing and the portable code paths run).

Clocks: :func:`mono_ns` is ``time.monotonic_ns`` where that clock has sub-microsecond
resolution, else ``time.perf_counter_ns`` (Windows before Python 3.13 serves
``monotonic`` from ``GetTickCount64``, 15.6 ms steps; ``perf_counter`` is
``QueryPerformanceCounter``). Every send and receive time of the call engines is read
from it, so one run never mixes two clocks.
"""

from __future__ import annotations

import contextlib
import select
import selectors
import socket
import struct
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

__all__ = [
    "PORT_UNREACHABLE",
    "Caps",
    "ErrQueue",
    "IcmpError",
    "PingSocket",
    "caps",
    "detect",
    "enable_errqueue",
    "enable_recv_tos",
    "enable_recv_ttl",
    "enable_rx_timestamps",
    "errqueue_recv",
    "mark",
    "mono_ns",
    "new_selector",
    "open_ping_socket",
    "real_ns",
    "recv_anc",
    "recv_meta",
    "recv_stamped",
    "rx_clock_label",
    "using",
]

#: Linux socket option / control message numbers Python's socket module does not export.
SO_TIMESTAMPNS_LINUX: Final = 35
IP_RECVTTL_LINUX: Final = 12
IP_RECVERR_LINUX: Final = 11
IPV6_RECVERR_LINUX: Final = 25
MSG_ERRQUEUE_LINUX: Final = 0x2000
_TIMESPEC: Final = struct.Struct("@qq")
_FINE_NS: Final = 1e-6  # a clock coarser than 1 us cannot time a 20 ms call's jitter


@dataclass(frozen=True)
class Caps:
    """What this platform offers the probes; each field is detected, see :func:`detect`.

    ``system``: ``sys.platform`` ("linux", "darwin", "win32"...). ``ping_ip_header``: an
    unprivileged ICMP socket delivers the IPv4 header before the ICMP message (Darwin).
    ``icmp_api``: the Windows ICMP helper API (``IcmpSendEcho`` in iphlpapi.dll), the
    no-admin ICMP echo on Windows. ``mono_clock``: the name of the clock :func:`mono_ns`
    reads; ``fine_realtime``: ``time.time_ns`` has sub-microsecond steps (else the
    realtime-monotonic offset is sampled once per run, never re-sampled, so it cannot jump).
    ``tos_marking``: the stack applies the DS octet an application sets with ``IP_TOS``
    (Windows ignores it unless a Policy-based QoS rule marks the program's traffic).
    """

    system: str
    recvmsg: bool
    rx_timestamps: bool
    recv_tos: bool
    recv_ttl: bool
    tos_marking: bool
    error_queue: bool
    epoll: bool
    kqueue: bool
    poll: bool
    raw_icmp: bool
    ping_socket: bool
    ping_ip_header: bool
    icmp_api: bool
    admin: bool
    mono_clock: str
    fine_realtime: bool

    @property
    def windows(self) -> bool:
        return self.system == "win32"

    @property
    def selector(self) -> str:
        """The readiness mechanism :func:`new_selector` uses."""
        if self.epoll:
            return "epoll"
        if self.kqueue:
            return "kqueue"
        return "poll" if self.poll else "select"

    @property
    def icmp_echo(self) -> str | None:
        """How ICMP echo is sent here without asking for more rights, best first; None
        when it cannot be (the message says which right to grant)."""
        if self.icmp_api:  # Windows: the documented way, with or without Administrator
            return "windows-icmp-api"
        if self.raw_icmp:
            return "raw-socket"
        return "ping-socket" if self.ping_socket else None


def detect(system: str | None = None) -> Caps:
    """Look at this interpreter and OS: attributes, and sockets opened and closed."""
    system = system or sys.platform
    has_msg = hasattr(socket.socket, "recvmsg") and hasattr(socket, "CMSG_SPACE")
    linux = system.startswith("linux")
    return Caps(
        system=system,
        recvmsg=has_msg,
        rx_timestamps=has_msg and linux,
        recv_tos=has_msg and hasattr(socket, "IP_RECVTOS"),
        recv_ttl=has_msg and linux,
        tos_marking=system != "win32",
        error_queue=has_msg and linux and hasattr(socket, "MSG_ERRQUEUE"),
        epoll=hasattr(select, "epoll"),
        kqueue=hasattr(select, "kqueue"),
        poll=hasattr(select, "poll"),
        raw_icmp=can_open(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
        ping_socket=can_open(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP),
        ping_ip_header=system == "darwin",
        icmp_api=system == "win32" and _icmp_api_present(),
        admin=_is_admin(),
        mono_clock=_pick_clock()[0],
        fine_realtime=time.get_clock_info("time").resolution <= _FINE_NS,
    )


def can_open(family: int, kind: int, proto: int) -> bool:
    """Whether this process may open such a socket (privileges, OS support)."""
    try:
        socket.socket(family, kind, proto).close()
    except OSError:
        return False
    return True


def _is_admin() -> bool:
    import os

    if hasattr(os, "geteuid"):
        return os.geteuid() == 0
    try:  # Windows
        import ctypes

        return bool(ctypes.windll.shell32.IsUserAnAdmin())  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return False


def _icmp_api_present() -> bool:
    from netcheck.platform import winicmp

    return winicmp.available()


def _pick_clock() -> tuple[str, Callable[[], int]]:
    """``monotonic`` when it is fine-grained (Linux, macOS, Windows from Python 3.13),
    else ``perf_counter`` (QueryPerformanceCounter on Windows; monotonic by definition)."""
    if time.get_clock_info("monotonic").resolution <= _FINE_NS:
        return "time.monotonic_ns", time.monotonic_ns
    return "time.perf_counter_ns", time.perf_counter_ns


# --------------------------------------------------------------------------------------
# The capabilities in effect
# --------------------------------------------------------------------------------------

_current: Caps | None = None
_mono: Callable[[], int] = _pick_clock()[1]


def caps() -> Caps:
    """The capabilities in effect (detected on first use)."""
    global _current
    if _current is None:
        _current = detect()
    return _current


@contextlib.contextmanager
def using(c: Caps, clock: Callable[[], int] | None = None) -> Iterator[Caps]:
    """Run a block with ``c`` in effect (tests: a simulated platform); restores after."""
    global _current, _mono
    saved, saved_clock = _current, _mono
    _current, _mono = c, clock or _mono
    try:
        yield c
    finally:
        _current, _mono = saved, saved_clock


def mono_ns() -> int:
    """Nanoseconds on this run's monotonic clock (see the module docstring)."""
    return _mono()


_real_offset: dict[Callable[[], int], int] = {}


def real_ns() -> int:
    """Wall-clock ns for timestamps that go on the wire (STAMP T2/T3): ``time.time_ns``
    where it is fine-grained, else the run's monotonic clock plus an offset to the wall
    clock sampled once (Windows before Python 3.13 steps ``time.time`` by 15.6 ms, which
    would show up as jitter of each one-way direction)."""
    if caps().fine_realtime:
        return time.time_ns()
    clock = _mono
    offset = _real_offset.get(clock)
    if offset is None:
        offset = _real_offset[clock] = time.time_ns() - clock()
    return clock() + offset


def rx_clock_label(kernel: bool) -> str:
    """Which clock stamped received packets, for the result (``rx_clock``)."""
    if kernel:
        return "kernel SO_TIMESTAMPNS (CLOCK_REALTIME, mapped to the monotonic clock)"
    c = caps()
    call = "recvmsg" if c.recvmsg else "recv"
    return f"user-space {c.mono_clock}() after {call} ({c.system}: no kernel receive timestamps)"


def with_(c: Caps, **changes: object) -> Caps:
    """A copy of ``c`` with some fields changed (typed wrapper of dataclasses.replace)."""
    return replace(c, **changes)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# Receiving
# --------------------------------------------------------------------------------------


def enable_rx_timestamps(sock: socket.socket) -> bool:
    """Ask the kernel for receive timestamps; False where the OS does not offer them."""
    if not caps().rx_timestamps:
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS_LINUX, 1)
    except OSError:
        return False
    return True


def enable_recv_tos(sock: socket.socket) -> bool:
    """Deliver each datagram's DS octet (IP_RECVTOS); False where it cannot be read back."""
    if not caps().recv_tos:
        return False
    try:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_RECVTOS, 1)
    except OSError:
        return False
    return True


def enable_recv_ttl(sock: socket.socket) -> bool:
    """Deliver each datagram's TTL (IP_RECVTTL, Linux); False elsewhere."""
    if not caps().recv_ttl:
        return False
    try:
        sock.setsockopt(socket.IPPROTO_IP, IP_RECVTTL_LINUX, 1)
    except OSError:
        return False
    return True


def _anc_size() -> int:
    return int(socket.CMSG_SPACE(_TIMESPEC.size) + socket.CMSG_SPACE(4) * 3)


def kernel_rx_ns(ancdata: Sequence[tuple[int, int, bytes]]) -> int | None:
    """CLOCK_REALTIME ns of the SCM_TIMESTAMPNS control message, or None."""
    for level, kind, data in ancdata:
        if (
            level == socket.SOL_SOCKET
            and kind == SO_TIMESTAMPNS_LINUX
            and len(data) >= _TIMESPEC.size
        ):
            sec, nsec = _TIMESPEC.unpack_from(data)
            return int(sec) * 1_000_000_000 + int(nsec)
    return None


def recv_stamped(sock: socket.socket, bufsize: int) -> tuple[bytes, int | None]:
    """One datagram and its kernel receive time (CLOCK_REALTIME ns) where the platform
    stamps packets, else None (the caller reads :func:`mono_ns` at once). Raises like
    ``recv`` (BlockingIOError when nothing is queued)."""
    if caps().rx_timestamps:
        data, anc, _flags, _addr = sock.recvmsg(bufsize, _anc_size())
        return data, kernel_rx_ns(anc)
    return sock.recv(bufsize), None


@dataclass(frozen=True)
class Meta:
    """A received datagram with what the platform could tell about it: kernel receive
    time (realtime ns), DS octet, TTL; each None where it cannot be read here."""

    data: bytes
    source: tuple[str, int]
    kernel_ns: int | None = None
    tos: int | None = None
    ttl: int | None = None


def recv_anc(sock: socket.socket, bufsize: int) -> tuple[bytes, list[tuple[int, int, bytes]], Any]:
    """(data, ancillary data, source) of one datagram; the ancillary list is empty where
    the platform has no ``recvmsg`` (Windows). Raises like ``recvfrom``."""
    if not caps().recvmsg:
        data, source = sock.recvfrom(bufsize)
        return data, [], source
    data, anc, _flags, source = sock.recvmsg(bufsize, _anc_size())
    return data, anc, source


def recv_meta(sock: socket.socket, bufsize: int) -> Meta:
    """``recvfrom`` plus the ancillary data this platform delivers (see :class:`Meta`)."""
    data, anc, source = recv_anc(sock, bufsize)
    tos = ttl = None
    tos_kinds = (
        socket.IP_TOS,
        getattr(socket, "IP_RECVTOS", -1),
    )  # Linux: IP_TOS; Darwin: IP_RECVTOS
    for level, kind, value in anc:
        if level == socket.IPPROTO_IP and kind in tos_kinds and value:
            tos = value[0]
        elif level == socket.IPPROTO_IP and kind == socket.IP_TTL and value:
            ttl = int.from_bytes(value[:4], "little") & 0xFF if len(value) >= 4 else value[0]
    return Meta(data, source, kernel_rx_ns(anc), tos, ttl)


def mark(sock: socket.socket, family: int, dscp: int, ttl: int | None = None) -> bool:
    """DSCP in the upper six bits of the TOS / Traffic Class octet (RFC 2474) and, if given,
    the TTL / hop limit. Best effort: False when the OS refused or lacks the option (no
    ``IPV6_TCLASS`` in some builds); Windows accepts ``IP_TOS`` but does not apply it
    (:attr:`Caps.tos_marking`)."""
    v6 = family == socket.AF_INET6
    level = socket.IPPROTO_IPV6 if v6 else socket.IPPROTO_IP
    tos_opt = getattr(socket, "IPV6_TCLASS", None) if v6 else socket.IP_TOS
    ttl_opt = getattr(socket, "IPV6_UNICAST_HOPS", None) if v6 else socket.IP_TTL
    ok = True
    for opt, value in ((tos_opt, (dscp << 2) & 0xFC), (ttl_opt, ttl)):
        if value is None:
            continue
        try:
            if opt is None:
                raise OSError("option not offered by this platform")
            sock.setsockopt(level, opt, value)
        except OSError:
            ok = False
    return ok


def new_selector() -> selectors.BaseSelector:
    """The best readiness selector this platform has (epoll, kqueue, poll, select)."""
    kind = caps().selector
    if kind == "epoll":
        return selectors.EpollSelector()
    if kind == "kqueue":
        kq: selectors.BaseSelector = selectors.KqueueSelector()  # type: ignore[attr-defined,unused-ignore]
        return kq
    if kind == "poll":
        return selectors.PollSelector()
    return selectors.SelectSelector()


# --------------------------------------------------------------------------------------
# ICMP errors of UDP sends (RFC 1122 4.1.3.3)
# --------------------------------------------------------------------------------------

#: How a UDP socket reports an ICMP port unreachable for an earlier datagram (RFC 1122
#: 4.1.3.3): ECONNREFUSED on Linux and macOS, WSAECONNRESET (10054) on Windows.
PORT_UNREACHABLE: Final = (ConnectionRefusedError, ConnectionResetError)

_EE: Final = struct.Struct("=IBBBBII")
_SO_EE_ORIGIN_ICMP: Final = 2
_SO_EE_ORIGIN_ICMP6: Final = 3


@dataclass(frozen=True)
class IcmpError:
    """One ICMP error a UDP send drew (Linux ``sock_extended_err``): the destination the
    failed datagram was sent to, the ICMP(v6) type and code, who sent the error (None when
    the kernel itself raised it, ``SO_EE_ORIGIN_LOCAL``), and the failed datagram's payload
    as the kernel returns it (to match the error to the probe that drew it)."""

    dest: tuple[str, int]
    icmp_type: int
    code: int
    offender: str | None
    payload: bytes = b""

    def describe(self) -> str:
        """``"198.18.0.1 type 3 code 3"`` (``"local ..."`` for a local error)."""
        return f"{self.offender or 'local'} type {self.icmp_type} code {self.code}"


class ErrQueue:
    """Per-destination ICMP errors of an unconnected UDP socket (Linux ``IP_RECVERR`` /
    ``IPV6_RECVERR``; no root needed).

    ``active`` is False where the platform has no error queue: then the sender learns of
    ICMP errors only through connected sockets (``ConnectionRefusedError`` on the next
    call, without the offender's address), which :mod:`netcheck.probes.udp_ports` uses.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.active = enable_errqueue(sock)

    def read(self, limit: int = 512, bufsize: int = 2048) -> list[IcmpError]:
        """The queued errors, oldest first (at most ``limit``; never blocks)."""
        out: list[IcmpError] = []
        if not self.active:
            return out
        for _ in range(limit):
            try:
                data, anc, dest = errqueue_recv(self.sock, bufsize)
            except OSError:  # BlockingIOError: the queue is empty
                break
            err = parse_recverr(anc, dest)
            if err is not None:
                out.append(replace(err, payload=bytes(data)))
        return out


_MSG_DONTWAIT: Final = 0x40  # linux/socket.h: read the queue without blocking


def enable_errqueue(sock: socket.socket) -> bool:
    """Queue ICMP errors of this UDP socket's sends with their details (Linux
    ``IP_RECVERR`` / ``IPV6_RECVERR``); False where the platform has no error queue."""
    if not caps().error_queue:
        return False
    v6 = sock.family == socket.AF_INET6
    level, opt = (
        (socket.IPPROTO_IPV6, IPV6_RECVERR_LINUX) if v6 else (socket.IPPROTO_IP, IP_RECVERR_LINUX)
    )
    try:
        sock.setsockopt(level, opt, 1)
    except OSError:
        return False
    return True


def errqueue_recv(
    sock: socket.socket, bufsize: int = 2048
) -> tuple[bytes, list[tuple[int, int, bytes]], Any]:
    """One entry of the error queue, never blocking: (the failed datagram's payload, its
    control messages, its destination). BlockingIOError when the queue is empty; for a
    socket :func:`enable_errqueue` accepted (parse with :func:`parse_recverr`)."""
    data, anc, _flags, dest = sock.recvmsg(bufsize, 512, MSG_ERRQUEUE_LINUX | _MSG_DONTWAIT)
    return data, anc, dest


_RECVERR: Final = {
    (socket.IPPROTO_IP, IP_RECVERR_LINUX): (4, 4),
    (socket.IPPROTO_IPV6, IPV6_RECVERR_LINUX): (8, 16),
}


def parse_recverr(ancdata: Sequence[tuple[int, int, bytes]], dest: Any) -> IcmpError | None:
    """The ``IP_RECVERR`` / ``IPV6_RECVERR`` control message as :class:`IcmpError`
    (``sock_extended_err``, linux/errqueue.h, then the offender's ``sockaddr_in`` /
    ``sockaddr_in6``), None when there is none."""
    for level, kind, data in ancdata:
        where = _RECVERR.get((level, kind))
        if where is None or len(data) < _EE.size:
            continue
        _errno, origin, icmp_type, code, _pad, _info, _data = _EE.unpack_from(data)
        at, size = where
        who = None
        if (
            origin in (_SO_EE_ORIGIN_ICMP, _SO_EE_ORIGIN_ICMP6)
            and len(data) >= _EE.size + at + size
        ):
            raw = data[_EE.size + at : _EE.size + at + size]
            who = socket.inet_ntop(socket.AF_INET if size == 4 else socket.AF_INET6, raw)
        return IcmpError((str(dest[0]), int(dest[1])), icmp_type, code, who)
    return None


# --------------------------------------------------------------------------------------
# ICMP echo sockets
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PingSocket:
    """An ICMP socket and how to read it: ``raw`` (every ICMP packet of the host arrives,
    so filter by identifier); ``ip_header`` (IPv4 header before the ICMP message: raw
    sockets everywhere, Darwin ping sockets); ``keeps_ident`` (the kernel leaves our echo
    identifier alone; Linux ping sockets replace it with the socket's port)."""

    sock: socket.socket
    raw: bool
    ip_header: bool
    keeps_ident: bool


def open_ping_socket(family: int) -> PingSocket:
    """A raw ICMP socket when allowed, else a ping socket; raises PermissionError when
    neither can be opened (Windows without Administrator: use :mod:`winicmp`)."""
    v6 = family == socket.AF_INET6
    proto = socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP
    try:
        return PingSocket(socket.socket(family, socket.SOCK_RAW, proto), True, not v6, True)
    except PermissionError:
        pass
    try:
        sock = socket.socket(family, socket.SOCK_DGRAM, proto)
    except OSError as exc:
        raise PermissionError(f"no ICMP socket without privileges here: {exc}") from exc
    linux = caps().system.startswith("linux")
    return PingSocket(sock, False, caps().ping_ip_header and not v6, not linux)
