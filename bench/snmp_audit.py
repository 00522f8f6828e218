"""Time the SNMP switch audit of the hand-made 48-port PoE switch against snmpsim on
loopback, and net-snmp's ``snmpbulkwalk`` of the same subtrees against the same agent.

    python -m bench.snmp_audit [--rounds 5]

snmpbulkwalk runs once per column (as a technician would script it), with ``-Cc`` (snmpsim
serves recordings in text order, so OIDs may not increase), the audit's max-repetitions
and the same timeout/retries. Each round runs both, one after the other, so they share
the machine's load; a round where either fails is reported as failed, not dropped, and
the run goes on. Prints a Markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from netcheck.probes import snmp_switch
from netcheck.probes._common import Context
from netcheck.result import Measurement
from netcheck.wire import lan_model

HERE = Path(__file__).resolve().parent
RECORDING = HERE.parent / "tests" / "data" / "snmp" / "poe48-handmade.snmprec"
COMMUNITY = RECORDING.stem


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_snmpsim(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    venv_then_path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    exe = os.environ.get("NETLAB_SNMPSIM") or shutil.which("snmpsim-command-responder", path=venv_then_path)
    if not exe:
        sys.exit("snmpsim-command-responder not found (pip install snmpsim pysmi)")
    data, cache = workdir / "data", workdir / "cache"
    data.mkdir()
    cache.mkdir()
    shutil.copy2(RECORDING, data / RECORDING.name)
    port = free_port()
    proc = subprocess.Popen(
        [
            exe,
            f"--data-dir={data}",
            f"--cache-dir={cache}",
            f"--agent-udpv4-endpoint=127.0.0.1:{port}",
            "--log-level=error",
        ],
        env={**os.environ, "SNMPSIM_ALLOW_ROOT": "true"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        if audit(port, ("ifType",)).ok:
            return proc, port
        time.sleep(0.2)
    proc.terminate()
    sys.exit("snmpsim did not answer")


def audit(port: int, columns: tuple[str, ...] = tuple(lan_model.COLUMNS)) -> Measurement:
    spec = snmp_switch.Spec(
        id="bench",
        target=snmp_switch.SnmpTarget("127.0.0.1", port, community=COMMUNITY),
        timeout_s=0.5,
        retries=1,
        columns=columns,
    )
    return asyncio.run(snmp_switch.run(spec, Context(deadline=time.monotonic() + 30)))


def bulkwalk(port: int) -> int:
    """Varbinds read by snmpbulkwalk, one process per subtree; -1 if any walk failed."""
    lines = 0
    for oid in lan_model.COLUMNS.values():
        out = subprocess.run(
            [
                "snmpbulkwalk",
                "-v2c",
                "-c",
                COMMUNITY,
                "-Cc",
                f"-Cr{snmp_switch.MAX_REPETITIONS}",
                "-On",
                "-t",
                "0.5",
                "-r",
                "1",
                f"127.0.0.1:{port}",
                oid,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0 and "Timeout" in out.stderr:
            return -1
        lines += sum(1 for line in out.stdout.splitlines() if line.startswith(f".{oid}."))
    return lines


@dataclass
class Round:
    audit_s: float | None  # None: the round failed (recorded, not timed)
    walk_s: float | None
    note: str = ""


def one_round(port: int) -> tuple[Round, Measurement | None]:
    """Audit then snmpbulkwalk, back to back against the same agent. A failed audit or
    walk (timeout under load, an exception) marks the round instead of ending the run."""
    note, m = "", None
    t0 = time.monotonic()
    try:
        m = audit(port)
        audit_s: float | None = time.monotonic() - t0 if m.ok else None
        if not m.ok:
            note = f"audit failed: {m.error.kind.value if m.error else '?'}"
    except Exception as exc:  # a bench keeps going; the round says what broke
        audit_s, note = None, f"audit raised {type(exc).__name__}"
    t0 = time.monotonic()
    rows = bulkwalk(port)
    walk_s = time.monotonic() - t0 if rows >= 0 else None
    if rows < 0:
        note = (note + "; " if note else "") + "snmpbulkwalk timed out"
    return Round(audit_s, walk_s, note), m


def summary(values: list[float]) -> str:
    if not values:
        return "no successful round"
    return f"{statistics.median(values):.2f} s (min {min(values):.2f}, max {max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    results: list[Round] = []
    last: Measurement | None = None
    with tempfile.TemporaryDirectory(prefix="netcheck-bench-snmp-") as tmp:
        proc, port = start_snmpsim(Path(tmp))
        try:
            audit(port)  # warm-up: the responder opens its file, the engine is built
            for _ in range(rounds):
                r, m = one_round(port)
                results.append(r)
                last = m if m is not None and m.ok else last
        finally:
            proc.terminate()
            proc.wait(timeout=5)
    print("| round | netcheck audit | snmpbulkwalk, same subtrees | note |")
    print("|---|---|---|---|")
    for n, r in enumerate(results, start=1):
        a = f"{r.audit_s:.2f} s" if r.audit_s is not None else "failed"
        w = f"{r.walk_s:.2f} s" if r.walk_s is not None else "failed"
        print(f"| {n} | {a} | {w} | {r.note} |")
    a_ok = [r.audit_s for r in results if r.audit_s is not None]
    w_ok = [r.walk_s for r in results if r.walk_s is not None]
    paired = [r.audit_s / r.walk_s for r in results if r.audit_s is not None and r.walk_s]
    print()
    print(f"netcheck audit: median {summary(a_ok)}; {len(a_ok)}/{rounds} rounds ok")
    print(f"snmpbulkwalk -Cc -Cr{snmp_switch.MAX_REPETITIONS}, one per column: median {summary(w_ok)}")
    if paired:
        print(f"audit / snmpbulkwalk per round: median {statistics.median(paired):.2f}")
    if last is not None:
        v = last.values
        print(
            f"{v['requests']} requests, {len(v['ports'])} ports, {len(v['phones'])} phones, "
            f"{len(lan_model.COLUMNS)} columns"
        )


if __name__ == "__main__":
    main()
