"""Report render time (issue 18, item 7: a GO report's PDF in <= 2 s on this machine),
side by side with the HTML render it is typeset from.

For every shipped profile's typical GO document (tests/docgen.py: today's plan and
evaluator), in German, renders HTML (Jinja2) and PDF (WeasyPrint, from that HTML) ``--repeat``
times after one warm-up (the first render pays for imports and font loading) and prints the
median and maximum wall time per profile, the page count, and the NO-GO document of the
largest profile for comparison. Nothing is sent anywhere; CPU only.

    python -m bench.report_render [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from netcheck.reports import html, pdf
from tests import docgen


def _timed(fn: Callable[[], bytes], repeat: int) -> tuple[float, float, bytes]:
    fn()  # warm-up: imports, fonts, template compilation
    times, data = [], b""
    for _ in range(repeat):
        t0 = time.perf_counter()
        data = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), max(times), data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--lang", default="de")
    args = parser.parse_args()
    names = [f"{pid}-go" for pid in docgen.shipped_ids()] + ["managed-com-business-no-go"]
    print(f"| document ({args.lang}) | checks | HTML median / max s | PDF median / max s | PDF bytes |")
    print("|---|---|---|---|---|")
    for name in names:
        doc = docgen.named(name)
        h_med, h_max, _ = _timed(lambda d=doc: html.render(d, args.lang), args.repeat)
        p_med, p_max, data = _timed(lambda d=doc: pdf.render(d, args.lang), args.repeat)
        print(f"| {name} | {len(doc.checks)} | {h_med:.3f} / {h_max:.3f} | {p_med:.2f} / {p_max:.2f} | {len(data)} |")


if __name__ == "__main__":
    main()
