"""Replay protection for the responder's keyed services (STAMP, port echo, control).

An HMAC proves who built a request, not that it is new: a captured authenticated packet
stays valid forever and can be sent again from any (spoofed) source. RFC 8762 section 4.4
leaves replay to the session (sequence numbers, timestamps); this module gives every keyed
service the same two rules:

1. **Timestamp window.** The request's own (authenticated) send time must lie within
   ``window_s`` of the responder's clock, either way. A capture is useless after that.
2. **Seen once.** Inside the window, each request is answered once: the first 8 octets of
   its MAC are remembered until its timestamp leaves the window. This catches a replay
   from a *different* source address too, which a per-session sequence check cannot.

Memory is bounded: at most ``capacity`` remembered MACs. When valid keyed traffic fills
the table before entries age out (a keyed capacity ramp: 20,000 requests/s), the entry
with the earliest send time is evicted and its send time becomes a *floor for the source
address it came from*: nothing that source sends at or before its floor is accepted any
more, so the evicted MAC cannot be replayed from there. The floor is per source because
sites' clocks differ: a global floor raised by a busy site whose clock runs ahead would
refuse every packet of a site whose clock is right (a false 100 % loss). The price, only
while the table overflows: an evicted request could be replayed once from another
(spoofed) source, a reply no larger than the request, as in unkeyed mode.

A per-session sequence check (RFC 4303 section 3.4.3's sliding window, 64 packets) is
:class:`SeqWindow`; the STAMP reflector applies it per (source, port, SSID) session.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from typing import Final

#: Default acceptance window either side of the responder's clock, seconds. Keyed mode
#: therefore needs the site's clock within 2 minutes of the responder's (NTP does far
#: better; one-way delay needs synchronised clocks anyway).
DEFAULT_WINDOW_S: Final = 120.0
#: Remembered MACs; ~180 octets each in CPython (set entry + heap tuple), so the table
#: stays near 12 MB (measured with tracemalloc: 12.0 MB at 65,536).
DEFAULT_CAPACITY: Final = 65_536
#: Packets a session may arrive out of order and still be accepted (RFC 4303 3.4.3 uses 64).
SEQ_WINDOW: Final = 64
_NS: Final = 1_000_000_000
_MAX_FLOORS: Final = 1_024


class ReplayGuard:
    """Accept each authenticated request once, and only while it is fresh."""

    def __init__(self, window_s: float = DEFAULT_WINDOW_S, capacity: int = DEFAULT_CAPACITY,
                 clock_ns: Callable[[], int] = time.time_ns) -> None:
        if not window_s > 0 or capacity < 1:
            raise ValueError(f"replay window must be > 0 s and capacity >= 1 (got {window_s}, {capacity})")
        self.window_ns, self.capacity, self.clock_ns = int(window_s * _NS), capacity, clock_ns
        self._seen: set[int] = set()  # first 8 octets of each remembered MAC
        self._by_time: list[tuple[int, int, str]] = []  # heap of (send time ns, MAC prefix, source)
        self.floors: dict[str, int] = {}  # source -> latest send time evicted inside the window
        self.rejected = 0

    def check(self, sent_ns: int, mac: bytes, source: str = "") -> str | None:
        """None when the request from ``source`` is fresh (and remember it), else why it
        is refused."""
        now = self.clock_ns()
        reason = self._reason(sent_ns, int.from_bytes(mac[:8], "big"), source, now)
        if reason is not None:
            self.rejected += 1
            return reason
        ident = int.from_bytes(mac[:8], "big")
        self._seen.add(ident)
        heapq.heappush(self._by_time, (sent_ns, ident, source))
        self._expire(now)
        return None

    def _reason(self, sent_ns: int, ident: int, source: str, now: int) -> str | None:
        if abs(now - sent_ns) > self.window_ns:
            return (f"timestamp {(sent_ns - now) / _NS:+.0f} s from the responder's clock "
                    f"(window ±{self.window_ns / _NS:g} s)")
        if sent_ns <= self.floors.get(source, 0):
            return "older than the replay table's floor"
        if ident in self._seen:
            return "replayed (already answered)"
        return None

    def _expire(self, now: int) -> None:
        """Forget MACs whose timestamp left the window; beyond capacity evict the earliest
        sent and raise the floor to its send time."""
        heap, oldest_ok = self._by_time, now - self.window_ns
        while heap and (heap[0][0] < oldest_ok or len(heap) > self.capacity):
            sent, ident, source = heapq.heappop(heap)
            self._seen.discard(ident)
            if sent >= oldest_ok:  # evicted while still inside the window
                self.floors[source] = max(self.floors.get(source, 0), sent)
        if len(self.floors) > _MAX_FLOORS:  # floors below the window protect nothing more
            self.floors = {s: f for s, f in self.floors.items() if f >= oldest_ok}

    def __len__(self) -> int:
        return len(self._seen)


class SeqWindow:
    """RFC 4303 3.4.3 anti-replay window over one session's sequence numbers."""

    __slots__ = ("bits", "top")

    def __init__(self) -> None:
        self.top = -1  # highest sequence number accepted so far
        self.bits = 0  # bit i set: top - i was accepted

    def accept(self, seq: int) -> bool:
        """True (and record) for a number not seen and not older than the window."""
        if seq > self.top:
            shift = seq - self.top
            self.bits = ((self.bits << shift) | 1) & ((1 << SEQ_WINDOW) - 1) if shift < SEQ_WINDOW else 1
            self.top = seq
            return True
        back = self.top - seq
        if back >= SEQ_WINDOW or self.bits >> back & 1:
            return False
        self.bits |= 1 << back
        return True
