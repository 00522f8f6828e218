"""Per-source token buckets: every responder service answers a source at most at its rate,
with bounded memory under a flood of spoofed sources (issue 21)."""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Final

MAX_RATE_SOURCES: Final = 10_000


class RateLimiter:
    """Token bucket per source address: ``rate`` tokens/s up to ``burst``; one per request.

    At most ``max_sources`` buckets: beyond that, buckets that are full again (quiet
    sources) are dropped, then the least recently used, so a flood from spoofed addresses
    costs bounded memory. A forgotten source starts again with a full bucket."""

    def __init__(self, rate: float, burst: float, max_sources: int = MAX_RATE_SOURCES) -> None:
        if not (math.isfinite(rate) and rate > 0 and math.isfinite(burst)):
            raise ValueError(f"rate must be a finite number > 0 (got {rate}, burst {burst})")
        self.rate, self.burst, self.max_sources = rate, max(burst, 1.0), max_sources
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, source: str, now: float) -> bool:
        tokens, last = self._buckets.get(source, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[source] = (tokens - 1.0 if allowed else tokens, now)
        self._buckets.move_to_end(source)
        if len(self._buckets) > self.max_sources:
            self._prune(now)
        return allowed

    def _prune(self, now: float) -> None:
        """Forget sources whose bucket is full again (they have been quiet), then the
        least recently seen ones down to 90 % of the cap."""
        full = [s for s, (t, last) in self._buckets.items() if t + (now - last) * self.rate >= self.burst]
        for s in full:
            del self._buckets[s]
        while len(self._buckets) > self.max_sources * 9 // 10:
            self._buckets.popitem(last=False)

    def __len__(self) -> int:
        return len(self._buckets)
