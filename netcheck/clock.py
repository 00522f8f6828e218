"""Clock facts shared by both ends of a STAMP session (the near end's probes and the far
end's responder): whether the kernel disciplines CLOCK_REALTIME to UTC and how well, and
the RFC 4656 4.1.2 Error Estimate that carries it on the wire.

Kept here, not in the probes, so that the responder needs nothing of the near end's code
(ARCHITECTURE.md: the two ends share only ``wire`` and ``clock``). Receive timestamps
(``SO_TIMESTAMPNS``) are the platform layer's: :func:`netcheck.platform.enable_rx_timestamps`.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import struct
from dataclasses import dataclass
from typing import Final

from netcheck import platform as plat
from netcheck.wire.stamp import ErrorEstimate

_TIME_ERROR: Final = 5
_STA_UNSYNC: Final = 0x0040


@dataclass(frozen=True)
class ClockSync:
    """Whether the kernel says CLOCK_REALTIME is disciplined to UTC, and its error bound."""

    synchronized: bool
    error_s: float


def clock_sync() -> ClockSync:
    """Read ``adjtimex(2)`` (Linux): synchronised when the state is not TIME_ERROR and
    STA_UNSYNC is clear; error = ``esterror`` (synchronised) or ``maxerror`` (µs).
    Elsewhere: unknown, reported as not synchronised with a 1 s error."""
    if not plat.caps().system.startswith("linux") or struct.calcsize("l") != 8:
        return ClockSync(False, 1.0)
    buf = ctypes.create_string_buffer(256)  # struct timex is 208 octets on LP64
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        state = libc.adjtimex(buf)
        maxerror, esterror = struct.unpack_from("@ll", buf, 24)
        (status,) = struct.unpack_from("@i", buf, 40)
        synced = state not in (-1, _TIME_ERROR) and not status & _STA_UNSYNC
        return ClockSync(synced, (esterror if synced else maxerror) / 1e6)
    return ClockSync(False, 1.0)


def error_estimate(synchronized: bool, error_s: float) -> ErrorEstimate:
    """RFC 4656 4.1.2 Error Estimate for an error of ``error_s`` seconds: the smallest
    Scale whose Multiplier (1..255) covers it; Multiplier * 2^(Scale - 32) >= error_s."""
    error_s = max(error_s, 2.0**-32)
    scale = max(0, math.ceil(math.log2(error_s / 255.0)) + 32)
    scale = min(scale, 63)
    multiplier = min(255, max(1, math.ceil(error_s / 2.0 ** (scale - 32))))
    return ErrorEstimate(synchronized=synchronized, scale=scale, multiplier=multiplier)
