"""Plain-text report for the terminal and for logs: verdict first, then findings."""

from __future__ import annotations

from netcheck.result import Check, RunResult, Status

MARK = {Status.PASS: "PASS", Status.WARN: "WARN", Status.FAIL: "FAIL",
        Status.NOT_MEASURED: "N/M ", Status.SKIPPED: "SKIP"}


def render(result: RunResult) -> bytes:
    return "\n".join(lines(result)).encode() + b"\n"


def lines(result: RunResult) -> list[str]:
    site = result.site
    out = [
        f"netcheck {result.environment.netcheck_version} — profile {result.profile.name} ({result.profile.id})",
        f"customer: {site.customer or '-'}   site: {site.site or '-'}   "
        f"extensions: {site.extensions if site.extensions is not None else '-'}",
        f"run: {result.environment.started_utc} .. {result.environment.finished_utc} "
        f"({result.environment.duration_s:.1f} s)",
        "",
        f"VERDICT: {result.verdict.value}   " + "  ".join(f"{k}={v}" for k, v in result.summary.items() if v),
        "",
    ]
    blocking = [c for c in result.checks if c.status is Status.FAIL]
    if blocking:
        out.append("Blocking findings:")
        for c in blocking:
            out.append(f"  - {c.title}: {c.reason}")
            if c.remediation:
                out.append(f"    fix: {c.remediation.text}")
        out.append("")
    out.append("Checks:")
    out += [_row(c) for c in result.checks]
    return out


def _row(c: Check) -> str:
    req = "" if c.required else " (optional)"
    return f"  [{MARK[c.status]}] {c.title}{req}: {c.reason}"
