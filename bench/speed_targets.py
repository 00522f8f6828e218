"""Issue 22's speed targets, side by side with their peers, in one run on this machine.

Each row is measured here, now, by the bench that owns it (same code, same method; see each
module's docstring for the details):

- whole ``netcheck run`` process, byte-compiled as installed (:mod:`bench.full_assessment`):
  ``--profile demo`` (aim <= 11 s), ``--profile demo --quick`` (aim <= 6 s), and
  managed-com-business in the namespace lab (handover + gateway calls, per-hop trace, LLDP,
  DHCP, link, TCP, SIP ALG, UDP sweep, call-load ramp, QoS under load; aim <= 60 s), with the
  calls' send error p99 beside each;
- SNMP switch audit vs ``snmpbulkwalk`` of the same subtrees, same agent, back to back
  (:mod:`bench.snmp_audit`; aim: audit <= snmpbulkwalk);
- ``netcheck history --since 365d`` over a year of 15-minute runs, whole process beside
  ``sqlite3`` printing the same columns, and the query in-process
  (:mod:`bench.agent_history`; aims <= 250 ms and <= 100 ms);
- one call's CPU in low-CPU mode vs IRTT's on loopback (:mod:`bench.stream_cpu`; aim <= 1.2x).

Run as root from the repo root (lab; irtt, snmpsim and sqlite3 installed):
``python -m bench.speed_targets`` (about 12 minutes; ``--rounds`` per row, default 3).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import agent_history, full_assessment, snmp_audit, stream_cpu
from tests.netlab.lab import lab_support, routed_lab

ROOT = Path(__file__).resolve().parents[1]
YEAR_DB = Path(tempfile.gettempdir()) / "netcheck-year.db"


@dataclass(frozen=True)
class Row:
    """One target: what was measured, its aim, the peer's figure in the same run."""

    target: str
    measured: float
    unit: str
    aim: float
    peer: str = ""
    note: str = ""

    @property
    def met(self) -> bool:
        return self.measured <= self.aim


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def runs(rounds: int, lab: bool) -> list[Row]:
    """Whole-process wall time of ``netcheck run``: demo, quick, and the lab assessment."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "netcheck")], check=True,
                   stdout=subprocess.DEVNULL)
    cases: list[tuple[str, list[str], float, str | None]] = [
        ("demo", ["--profile", "demo"], 11.0, None), ("demo --quick", ["--profile", "demo", "--quick"], 6.0, None)]
    out = [_run_row(name, args, aim, ns, rounds) for name, args, aim, ns in cases]
    if lab:
        if (why := lab_support()) is not None:
            print(f"no lab: {why}", file=sys.stderr)
        else:
            with routed_lab(None) as net:
                args = full_assessment.mcb_lab(net)
                out.append(_run_row("managed-com-business lab", args, 60.0, net.ns.lan, rounds))
    return out


def _run_row(name: str, args: list[str], aim: float, ns: str | None, rounds: int) -> Row:
    walls, p99s, verdicts = [], [], set()
    for _ in range(rounds):
        r = full_assessment.netcheck(ROOT, args, ns)
        walls.append(r["wall_s"])
        verdicts.add(r["verdict"])
        p99s += [v for v in r["send_p99"].values() if isinstance(v, int | float)]
        print(f"{name}: {r['wall_s']:.1f} s {r['verdict']}", file=sys.stderr)
    send = f"; calls' send error p99 max {max(p99s):.2f} ms" if p99s else ""
    return Row(f"`netcheck run` {name}, whole process", _median(walls), "s", aim,
               note=f"runs {', '.join(f'{w:.1f}' for w in walls)}; verdict {'/'.join(sorted(verdicts))}{send}")


def snmp(rounds: int) -> Row:
    """Audit and snmpbulkwalk of the same 95 subtrees, back to back against one snmpsim."""
    rows: list[snmp_audit.Round] = []
    with tempfile.TemporaryDirectory(prefix="netcheck-bench-snmp-") as tmp:
        proc, port = snmp_audit.start_snmpsim(Path(tmp))
        try:
            snmp_audit.audit(port)  # warm-up, as snmp_audit does
            rows = [snmp_audit.one_round(port)[0] for _ in range(rounds)]
        finally:
            proc.terminate()
            proc.wait(timeout=5)
    audit = _median([r.audit_s for r in rows if r.audit_s is not None])
    walk = _median([r.walk_s for r in rows if r.walk_s is not None])
    ok = sum(r.audit_s is not None for r in rows)
    return Row("SNMP switch audit (48-port PoE recording, snmpsim)", audit, "s", walk,
               peer=f"snmpbulkwalk {walk:.2f} s", note=f"aim: <= snmpbulkwalk; {ok}/{rounds} rounds ok")


def history(rounds: int) -> list[Row]:
    """A year of 15-minute runs (35,040, filled once through ``Store.put``), then the
    ``history --since 365d`` command and its query."""
    if not YEAR_DB.exists():
        print(f"filling {YEAR_DB} (one year of runs) ...", file=sys.stderr)
        agent_history.fill(YEAR_DB, 35_040, agent_history.demo_document(), time.time())
    now = time.time()
    since = now - 365 * 86400
    # in a fresh process, as the command runs it (not in this one, which holds the lab, SNMP
    # engine and everything else this bench loaded)
    code = (f"from bench.agent_history import query_ms; from pathlib import Path; "
            f"print(*query_ms(Path({str(YEAR_DB)!r}), {now}, {max(15, rounds)}))")
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    in_ms, n = float(child.stdout.split()[0]), int(child.stdout.split()[1])
    cmd = [sys.executable, "-m", "netcheck", "history", "--since", "365d", "--store", str(YEAR_DB)]
    sql = ("SELECT id, started_ts, kind, verdict, delay_ms, jitter_ms, loss_pct, mos, handover_up, failed_checks "
           f"FROM runs WHERE started_ts >= {since} ORDER BY started_ts")
    children = agent_history.timed_children(
        {"netcheck": (cmd, None), "sqlite3": (["sqlite3", "-readonly", str(YEAR_DB), sql], None)}, max(9, rounds))
    whole, floor = (_median(children[k][0]) for k in ("netcheck", "sqlite3"))
    return [Row("`netcheck history --since 365d`, whole process", whole, "ms", 250.0,
                peer=f"sqlite3, same rows and columns: {floor:.0f} ms", note=f"{n} runs"),
            Row("history query in-process (extremes + every line's cells)", in_ms, "ms", 100.0, note=f"{n} runs")]


def call_cpu(rounds: int, seconds: float) -> Row:
    """One 50 pps call's CPU in low-CPU mode against IRTT's, same loopback, rotating order."""
    rows = stream_cpu.cpu_part(seconds, rounds)
    low, irtt, default = (_median([r["cpu_s"] for r in rows if r["mode"] == mode])
                          for mode in ("netcheck low-cpu", "irtt", "netcheck default"))
    window = seconds - stream_cpu.WARM_S - stream_cpu.TAIL_S
    return Row("one call's CPU, low-CPU mode / IRTT's", low / irtt, "x", 1.2,
               peer=f"irtt {100 * irtt / window:.2f} % of a core; low-cpu {100 * low / window:.2f} %",
               note=f"default schedule {default / irtt:.2f}x")


def table(rows: list[Row]) -> str:
    out = ["| target | measured | aim | peer, same run | met | notes |", "|---|---|---|---|---|---|"]
    for r in rows:
        aim = f"<= {r.aim:.2f} {r.unit}" if r.unit != "ms" else f"<= {r.aim:.0f} ms"
        value = f"{r.measured:.0f} ms" if r.unit == "ms" else f"{r.measured:.2f} {r.unit}"
        out.append(f"| {r.target} | {value} | {aim} | {r.peer} | {'yes' if r.met else 'NO'} | {r.note} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cpu-seconds", type=float, default=30.0)
    ap.add_argument("--no-lab", action="store_true", help="skip the namespace lab run (needs root)")
    args = ap.parse_args(argv)
    for tool in ("irtt", "sqlite3", "snmpbulkwalk"):
        if not shutil.which(tool):
            print(f"{tool} is not installed", file=sys.stderr)
            return 2
    load0 = os.getloadavg()[0]
    rows = [*runs(args.rounds, not args.no_lab), snmp(args.rounds), *history(args.rounds),
            call_cpu(args.rounds, args.cpu_seconds)]
    print(table(rows))
    print(f"\nload average at start / end: {load0:.2f} / {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs")
    return 0 if all(r.met for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
