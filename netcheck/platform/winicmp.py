"""ICMP echo on Windows without Administrator: the ICMP helper API of iphlpapi.dll.

Windows gives unprivileged programs no ICMP socket (raw sockets need Administrator and
``SOCK_DGRAM``/``IPPROTO_ICMP`` does not exist there), but ``IcmpSendEcho`` sends an echo
request and waits for the reply on behalf of any user; ``ping.exe`` uses it. Documented at
"IcmpSendEcho function (icmpapi.h)" and "ICMP_ECHO_REPLY structure (ipexport.h)".

Timing: the API's own ``RoundTripTime`` is whole milliseconds (0 on a LAN), too coarse for
jitter, so each echo is timed in user space with :func:`netcheck.platform.mono_ns`
(``QueryPerformanceCounter``, 100 ns steps) around the blocking call. That time includes
the API call itself (tens of microseconds); the result states it (``rx_clock``) and keeps
the API's millisecond figure beside it. IPv4 only (``Icmp6SendEcho2`` is not used).

The ctypes part is small on purpose: :class:`EchoReply` and :func:`parse_reply` are pure
and tested on Linux with the same ctypes structures (only the reply's fields whose offsets
are the same with 32- and 64-bit pointers are read); :class:`IcmpApi` only loads the DLL,
and the schedule (:func:`echo_series`) takes the API as a parameter, so a stand-in that
fills the reply buffer as Windows does runs it anywhere.
"""

from __future__ import annotations

import contextlib
import ctypes
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from netcheck import platform as plat

#: IP_STATUS values (ipexport.h) that a technician may see, with a readable name.
IP_SUCCESS: Final = 0
IP_STATUS: Final = {
    11001: "IP_BUF_TOO_SMALL",
    11002: "IP_DEST_NET_UNREACHABLE",
    11003: "IP_DEST_HOST_UNREACHABLE",
    11004: "IP_DEST_PROT_UNREACHABLE",
    11005: "IP_DEST_PORT_UNREACHABLE",
    11010: "IP_REQ_TIMED_OUT",
    11013: "IP_TTL_EXPIRED_TRANSIT",
    11050: "IP_GENERAL_FAILURE",
}
IP_REQ_TIMED_OUT: Final = 11010
RTT_RESOLUTION_MS: Final = 1.0  # ICMP_ECHO_REPLY.RoundTripTime is in milliseconds


class IpOptionInformation32(ctypes.Structure):
    """IP_OPTION_INFORMATION32 (ipexport.h): TTL and TOS of the request. IcmpSendEcho takes
    this layout on 64-bit Windows ("On a 64-bit platform, this parameter is in the form for
    an IP_OPTION_INFORMATION32 structure"), and on 32-bit it is IP_OPTION_INFORMATION."""

    _fields_ = (
        ("Ttl", ctypes.c_ubyte),
        ("Tos", ctypes.c_ubyte),
        ("Flags", ctypes.c_ubyte),
        ("OptionsSize", ctypes.c_ubyte),
        ("OptionsData", ctypes.c_uint32),  # UCHAR * POINTER_32; always NULL here
    )


class IcmpEchoReplyHead(ctypes.Structure):
    """The part of ICMP_ECHO_REPLY (ipexport.h) that is the same in its native and its
    ``ICMP_ECHO_REPLY32`` form: after it come the Data pointer (4 or 8 octets) and the
    reply's options, whose offsets differ, so they are not read."""

    _fields_ = (
        ("Address", ctypes.c_uint32),  # IPAddr: the IPv4 address in network byte order
        ("Status", ctypes.c_uint32),
        ("RoundTripTime", ctypes.c_uint32),  # milliseconds
        ("DataSize", ctypes.c_uint16),
        ("Reserved", ctypes.c_uint16),
    )


#: sizeof(ICMP_ECHO_REPLY) with 64-bit pointers: head 16, Data 8, IP_OPTION_INFORMATION 16.
ECHO_REPLY_MAX: Final = 40


@dataclass(frozen=True)
class EchoReply:
    """One parsed reply: who answered, the IP_STATUS, the API's RTT (whole ms), data size."""

    address: str
    status: int
    rtt_ms: int
    data_size: int

    @property
    def ok(self) -> bool:
        return self.status == IP_SUCCESS

    @property
    def status_name(self) -> str:
        return "IP_SUCCESS" if self.ok else IP_STATUS.get(self.status, f"IP_STATUS {self.status}")


def reply_buffer_size(payload_len: int) -> int:
    """Room for one reply, the echoed data and an ICMP error's 8 octets (IcmpSendEcho docs),
    with the larger (64-bit) reply layout and 16 octets to spare."""
    return ECHO_REPLY_MAX + payload_len + 8 + 16


def parse_reply(buf: bytes | bytearray | memoryview) -> EchoReply:
    """The first reply of a reply buffer (raises ValueError when it is too short)."""
    head = ctypes.sizeof(IcmpEchoReplyHead)
    if len(buf) < head:
        raise ValueError(f"reply buffer of {len(buf)} octets < ICMP_ECHO_REPLY")
    rep = IcmpEchoReplyHead.from_buffer_copy(bytes(buf[:head]))
    address = socket.inet_ntoa(int(rep.Address).to_bytes(4, "little"))
    return EchoReply(address, int(rep.Status), int(rep.RoundTripTime), int(rep.DataSize))


def ipaddr(address: str) -> int:
    """IPAddr of a dotted quad: the four octets in network order read as a little-endian
    ULONG (what ``inet_addr`` returns on x86/ARM Windows)."""
    return int.from_bytes(socket.inet_aton(address), "little")


class Api(Protocol):
    """The three iphlpapi functions used (``ctypes.WinDLL("iphlpapi")`` or a stand-in)."""

    def IcmpCreateFile(self) -> Any: ...
    def IcmpCloseHandle(self, handle: Any) -> Any: ...
    def IcmpSendEcho(self, *args: Any) -> Any: ...


def load() -> Api:
    """iphlpapi.dll with typed prototypes; raises OSError off Windows."""
    dll: Any = ctypes.WinDLL("iphlpapi", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
    dll.IcmpCreateFile.restype = ctypes.c_void_p
    dll.IcmpCloseHandle.argtypes = (ctypes.c_void_p,)
    dll.IcmpSendEcho.restype = ctypes.c_uint32
    dll.IcmpSendEcho.argtypes = (
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_void_p,
        ctypes.c_uint16,
        ctypes.c_void_p,
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_uint32,
    )
    return dll  # type: ignore[no-any-return]


def available() -> bool:
    """True when the ICMP API loads: on Windows (every supported version has iphlpapi.dll),
    or when a stand-in is installed (:func:`use_api`). ``ctypes.WinDLL`` is missing
    elsewhere (AttributeError)."""
    try:
        _factory()
    except (OSError, AttributeError):
        return False
    return True


class Pinger:
    """One ICMP handle; :meth:`echo` sends one request and blocks for its reply."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.handle = api.IcmpCreateFile()
        if self.handle in (None, 0, ctypes.c_void_p(-1).value):
            raise OSError("IcmpCreateFile failed")

    def echo(self, address: str, payload: bytes, timeout_ms: int, tos: int = 0) -> EchoReply | None:
        """One echo; None when no reply came within ``timeout_ms`` (or the API failed)."""
        opts = IpOptionInformation32(Ttl=128, Tos=tos & 0xFF)
        size = reply_buffer_size(len(payload))
        buf = ctypes.create_string_buffer(size)
        data = ctypes.create_string_buffer(payload, len(payload))
        n = self.api.IcmpSendEcho(
            self.handle,
            ipaddr(address),
            data,
            len(payload),
            ctypes.byref(opts),
            buf,
            size,
            max(1, timeout_ms),
        )
        if not n:
            return None
        return parse_reply(buf.raw)

    def close(self) -> None:
        self.api.IcmpCloseHandle(self.handle)


@dataclass
class EchoSeries:
    """Echoes on a schedule: per index, send and reply time (:func:`plat.mono_ns`), the
    API's own RTT (ms) and the first few non-success statuses."""

    t1_mono_ns: list[int | None]
    t4_mono_ns: list[list[int]]
    api_rtt_ms: list[int | None]
    send_error_ns: list[int] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    stopped_early: bool = False


def echo_series(
    address: str,
    *,
    count: int,
    interval_ns: int,
    payload: bytes,
    timeout_s: float,
    stop_at_ns: int,
    api: Callable[[], Api] = load,
    tos: int = 0,
    workers: int = 8,
) -> EchoSeries:
    """``count`` echoes to ``address``, one every ``interval_ns`` (blocking; run in a thread).

    Each echo blocks in the API until its reply or ``timeout_s``, so requests are handed to
    ``workers`` threads (one ICMP handle each) at their slots: a lost reply does not hold
    up the schedule. A reply is timed by the worker right after the call returns.
    """
    out = EchoSeries([None] * count, [[] for _ in range(count)], [None] * count)
    local = threading.local()
    pingers: list[Pinger] = []
    lock = threading.Lock()

    def one(k: int) -> None:
        pinger = getattr(local, "pinger", None)
        if pinger is None:
            pinger = local.pinger = Pinger(api())
            with lock:
                pingers.append(pinger)
        t1 = plat.mono_ns()
        out.t1_mono_ns[k] = t1
        reply = pinger.echo(address, payload, int(timeout_s * 1000), tos)
        t4 = plat.mono_ns()
        if reply is not None and reply.ok and reply.address == address:
            out.t4_mono_ns[k].append(t4)
            out.api_rtt_ms[k] = reply.rtt_ms
        elif reply is not None and len(out.statuses) < 5:
            out.statuses.append(f"{reply.address}: {reply.status_name}")

    t0 = plat.mono_ns() + 20_000_000
    futures = []
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="icmpapi") as pool:
        try:
            for k in range(count):
                due = t0 + k * interval_ns
                if due >= stop_at_ns:
                    out.stopped_early = True
                    break
                _sleep_until(due)
                out.send_error_ns.append(plat.mono_ns() - due)
                futures.append(pool.submit(one, k))
        finally:
            pool.shutdown(wait=True)
            for p in pingers:
                p.close()
    failed = {f"{type(e).__name__}: {e}" for f in futures if (e := f.exception()) is not None}
    out.statuses.extend(sorted(failed)[:5])  # the API failed: an error, never silent loss
    return out


def _sleep_until(due_ns: int) -> None:
    while (left := due_ns - plat.mono_ns()) > 200_000:
        time.sleep((left - 200_000) / 1e9)
    while plat.mono_ns() < due_ns:
        pass


_factory: Callable[[], Api] = load


def api_factory() -> Callable[[], Api]:
    """What opens the ICMP API: iphlpapi.dll, or the stand-in :func:`use_api` installed."""
    return _factory


@contextlib.contextmanager
def use_api(factory: Callable[[], Api]) -> Iterator[None]:
    """Use ``factory`` instead of iphlpapi.dll for a block (the simulated-Windows tests)."""
    global _factory
    saved, _factory = _factory, factory
    try:
        yield
    finally:
        _factory = saved
