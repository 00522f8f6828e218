"""Bench: ``netcheck run --plan`` start-up, two source trees side by side (issue 22, item 4).

Each tree is put first on PYTHONPATH (byte-compiled beforehand) and runs
``python -m netcheck run --profile PROFILE --plan``, the trees interleaved run by run so
that the shared VM's load falls on both alike. Reported per tree: the median whole-process
wall time (``time.perf_counter`` around the subprocess), the import time ``python -X
importtime`` gives (the sum of its top-level cumulative figures, median of the runs), the
cumulative figure of the module that builds the plan view, and how many modules (and
netcheck modules) the process loaded. The plan text must be the same from both trees.

Run: python -m bench.plan_startup --before DIR [--after DIR] [--runs 9] [--profile NAME]
(``git archive main | tar -x -C DIR`` makes a ``before`` tree.)
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

PLAN_MODULES = ("netcheck.run.assess", "netcheck.run.preview")  # who built the plan view, before / after
_COUNT = ("import sys; from netcheck.cli import main; sys.argv = ['netcheck', 'run', *sys.argv[1:], '--plan']\n"
          "try:\n    main()\nexcept SystemExit:\n    pass\n"
          "print(len(sys.modules), sum(m.split('.')[0] == 'netcheck' for m in sys.modules), file=sys.stderr)")


def _env(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree)}


def _run(tree: Path, argv: list[str]) -> subprocess.CompletedProcess[str]:
    """In ``tree`` (``-m`` puts the working directory first on sys.path)."""
    return subprocess.run([sys.executable, *argv], env=_env(tree), cwd=tree, capture_output=True, text=True,
                          check=True, timeout=60)


def _wall(tree: Path, args: list[str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = _run(tree, ["-m", "netcheck", *args])
    return time.perf_counter() - t0, proc.stdout


def _importtime(tree: Path, args: list[str]) -> tuple[float, float]:
    """(total import ms: the top-level cumulative figures summed; the plan view module's ms)."""
    proc = _run(tree, ["-X", "importtime", "-m", "netcheck", *args])
    total = view = 0.0
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self, cumulative, name = line.removeprefix("import time:").split("|")
        if not name.startswith("  "):  # depth 0: the interpreter's own top-level imports
            total += int(cumulative) / 1000.0
        if name.strip() in PLAN_MODULES:
            view = max(view, int(cumulative) / 1000.0)
    return total, view


def _modules(tree: Path, args: list[str]) -> str:
    proc = _run(tree, ["-c", _COUNT, *args[1:-1]])
    total, ours = proc.stderr.split()[-2:]
    return f"{total} ({ours} netcheck)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path, required=True)
    ap.add_argument("--after", type=Path, default=Path(__file__).resolve().parents[1])
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--profile", default="managed-com-business")
    a = ap.parse_args()
    args = ["run", "--profile", a.profile, "--plan"]
    trees = {"before": a.before.resolve(), "after": a.after.resolve()}
    for tree in trees.values():
        compileall.compile_dir(tree / "netcheck", quiet=1)
    outputs = {name: _wall(tree, args)[1] for name, tree in trees.items()}  # warm the page cache
    if outputs["before"] != outputs["after"]:
        raise SystemExit("the two trees print different plans")
    walls: dict[str, list[float]] = {n: [] for n in trees}
    imports: dict[str, list[tuple[float, float]]] = {n: [] for n in trees}
    for _ in range(max(1, min(a.runs, 50))):
        for name, tree in trees.items():
            walls[name].append(_wall(tree, args)[0])
            imports[name].append(_importtime(tree, args))
    print(f"python -m netcheck {' '.join(args)}: median of {a.runs}, load {os.getloadavg()[0]:.2f}")
    print("| tree | wall | imports (-X importtime) | plan view module | modules loaded |")
    print("|---|---|---|---|---|")
    for name, tree in trees.items():
        wall = statistics.median(walls[name]) * 1000.0
        total = statistics.median(t for t, _ in imports[name])
        view = statistics.median(v for _, v in imports[name])
        print(f"| {name} | {wall:.0f} ms | {total:.0f} ms | {view:.0f} ms | {_modules(tree, args)} |")


if __name__ == "__main__":
    main()
