"""Time the SNMP switch audit of the hand-made 48-port PoE switch against snmpsim on
loopback, and net-snmp's ``snmpbulkwalk`` of the same subtrees against the same agent.

    python -m bench.snmp_audit [--rounds 5]

snmpbulkwalk runs once per column (as a technician would script it), with ``-Cc`` (snmpsim
serves recordings in text order, so OIDs may not increase) and the audit's
max-repetitions. Prints a Markdown block for bench/RESULTS.md.
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
from pathlib import Path

from netcheck import lan_model
from netcheck.probes import snmp_switch
from netcheck.probes._common import Context

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


def audit(port: int, columns: tuple[str, ...] = tuple(lan_model.COLUMNS)) -> snmp_switch.Measurement:  # type: ignore[name-defined]
    spec = snmp_switch.Spec(
        id="bench",
        target=snmp_switch.SnmpTarget("127.0.0.1", port, community=COMMUNITY),
        timeout_s=0.5,
        retries=0,
        columns=columns,
    )
    return asyncio.run(snmp_switch.run(spec, Context(deadline=time.monotonic() + 30)))


def bulkwalk(port: int) -> int:
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
                f"127.0.0.1:{port}",
                oid,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        lines += sum(1 for line in out.stdout.splitlines() if line.startswith(f".{oid}."))
    return lines


def timed(fn: object, rounds: int) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(rounds):
        t0 = time.monotonic()
        result = fn()  # type: ignore[operator]
        times.append(time.monotonic() - t0)
    return times, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory(prefix="netcheck-bench-snmp-") as tmp:
        proc, port = start_snmpsim(Path(tmp))
        try:
            audit(port)  # warm-up
            a_times, m = timed(lambda: audit(port), rounds)
            w_times, rows = timed(lambda: bulkwalk(port), rounds)
        finally:
            proc.terminate()
            proc.wait(timeout=5)
    values = m.values  # type: ignore[attr-defined]
    print(
        f"netcheck audit: median {statistics.median(a_times):.2f} s (min {min(a_times):.2f}, "
        f"max {max(a_times):.2f}) over {rounds} rounds; {values['requests']} requests, "
        f"{len(values['ports'])} ports, {len(values['phones'])} phones, {len(lan_model.COLUMNS)} columns"
    )
    print(
        f"snmpbulkwalk -Cc -Cr{snmp_switch.MAX_REPETITIONS}, one per column: median "
        f"{statistics.median(w_times):.2f} s (min {min(w_times):.2f}, max {max(w_times):.2f}); {rows} varbinds"
    )


if __name__ == "__main__":
    main()
