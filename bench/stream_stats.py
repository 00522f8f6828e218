"""Speed of the stream statistics: how long `summarize_stream` takes per 30 s call.

Speed is measured here, not asserted in a unit test (a timed test fails on a busy machine).
Run: `python -m bench.stream_stats` — prints ms per 1,500-packet stream (50 pps x 30 s).
"""

from __future__ import annotations

import random
import statistics
import time

from netcheck.analysis.stats import PacketRecord, summarize_stream


def _stream(seed: int = 1, n: int = 1500) -> list[PacketRecord]:
    rng = random.Random(seed)
    out = []
    for seq in range(n):
        send = seq * 20_000_000
        delay_ms = None if rng.random() < 0.01 else 20 + rng.random() * 5
        out.append(PacketRecord(seq, send, None if delay_ms is None else send + int(delay_ms * 1e6)))
    return out


def main(streams: int = 200) -> None:
    packets = _stream()
    times = []
    for _ in range(streams):
        t0 = time.perf_counter()
        summarize_stream(packets)
        times.append(time.perf_counter() - t0)
    print(f"summarize_stream, 1,500 packets: median {statistics.median(times) * 1e3:.2f} ms, "
          f"max {max(times) * 1e3:.2f} ms over {streams} streams "
          f"({sum(times):.2f} s in all)")


if __name__ == "__main__":
    main()
