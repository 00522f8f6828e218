"""Bench: profile parse time before/after libyaml (issue 22 item 4, issue 21 item 4).

"before" is the loader as it was: PyYAML's pure-Python composer and a new SafeLoader per
scalar (reimplemented here in ten lines so the figure stays reproducible); "pure" and
"libyaml" are today's loader (node budget, depth/alias pre-check, one constructor) with
the pure-Python and the C parser. Each figure is the median of ``--repeat`` parses of
every shipped profile's YAML (the parse only: merging and type checks are the same code).

Run: python -m bench.profile_load [--repeat 50]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import yaml

from netcheck import profile as prof


def before(text: str) -> Any:
    """The loader before issue 21/22: compose (pure Python), then one new loader per scalar."""
    def build(node: yaml.Node) -> Any:
        if isinstance(node, yaml.MappingNode):
            return {str(yaml.SafeLoader("").construct_object(k)): build(v) for k, v in node.value}
        if isinstance(node, yaml.SequenceNode):
            return [build(n) for n in node.value]
        return yaml.SafeLoader("").construct_object(node)

    return build(yaml.compose(text, Loader=yaml.SafeLoader))


def now(loader: type[yaml.SafeLoader]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        prof._LOADER = loader
        return prof._compose("bench", text).data

    return parse


def median_ms(fn: Callable[[str], Any], texts: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for text in texts:
            fn(text)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    texts = [p.read_text() for p in prof.shipped()]
    fast = getattr(yaml, "CSafeLoader", None)
    rows = [("before (pure composer, loader per scalar)", before),
            ("now, pure-Python parser", now(yaml.SafeLoader))]
    if fast is not None:
        rows.append(("now, libyaml (CSafeLoader)", now(fast)))
    print(f"{len(texts)} shipped profiles, {sum(map(len, texts))} bytes, median of {args.repeat}")
    for label, fn in rows:
        print(f"  {label:<44} {median_ms(fn, texts, args.repeat):7.2f} ms")


if __name__ == "__main__":
    main()
