"""The kernel's own measurement of a TCP handshake's round trip, where the OS offers it.

Why: a connect timed in user space includes however long the event loop took to notice
the socket became writable. With TLS handshakes and other probes on the same loop that
adds milliseconds to a 0.1 ms path. The kernel timestamps the SYN and the SYN-ACK itself:
on Linux the first RTT sample initialises the smoothed RTT (RFC 6298 section 2.2, SRTT <-
R), so right after connect ``TCP_INFO.tcpi_rtt`` is the handshake's round trip in us.
Other systems: None, and the caller keeps its user-space time (and says so).
"""

from __future__ import annotations

import socket
import struct
from typing import Final

from netcheck import platform as plat

#: struct tcp_info (linux/tcp.h): 8 octets of u8 fields, then u32s; tcpi_rtt is the 16th.
_TCPI_RTT_OFFSET: Final = 8 + 15 * 4
_TCP_INFO_LEN: Final = 104


def handshake_rtt_ms(sock: socket.socket) -> float | None:
    """The connected socket's handshake RTT in ms (kernel-measured), or None where the OS
    does not say."""
    if not plat.caps().system.startswith("linux") or not hasattr(socket, "TCP_INFO"):
        return None
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_LEN)
    except OSError:
        return None
    if len(raw) < _TCPI_RTT_OFFSET + 4:
        return None
    (rtt_us,) = struct.unpack_from("=I", raw, _TCPI_RTT_OFFSET)
    return rtt_us / 1000.0 if rtt_us else None
