"""Markdown report, for tickets and e-mail."""

from __future__ import annotations

from netcheck.result import Check, RunResult, Status


def render(result: RunResult) -> bytes:
    s, env = result.site, result.environment
    out = [
        f"# netcheck report: **{result.verdict.value}**",
        "",
        f"- Profile: {_esc(result.profile.name)} (`{result.profile.id}`)",
        f"- Customer: {_esc(s.customer or '-')}; site: {_esc(s.site or '-')}; technician: {_esc(s.technician or '-')}",
        f"- Run: {env.started_utc} to {env.finished_utc} ({env.duration_s:.1f} s), netcheck {env.netcheck_version}",
        "- Result: " + ", ".join(f"{k} {v}" for k, v in result.summary.items() if v),
        "",
    ]
    fails = [c for c in result.checks if c.status is Status.FAIL]
    if fails:
        out += ["## Blocking findings", ""]
        out += [f"- **{_esc(c.title)}**: {_esc(c.reason)}" + (f"  \n  Fix: {_esc(c.remediation.text)}" if c.remediation else "") for c in fails]
        out.append("")
    out += ["## Requirements", "", "| Status | Requirement | Measured | Limit | Method |", "|---|---|---|---|---|"]
    out += [_row(c) for c in result.checks]
    if result.profile.sources:
        out += ["", "## Sources", ""] + [f"- `{k}`: {_esc(v)}" for k, v in result.profile.sources.items()]
    return ("\n".join(out) + "\n").encode()


def _row(c: Check) -> str:
    measured = "-" if c.measured is None else str(c.measured)
    title = c.title + ("" if c.required else " (optional)")
    return f"| {c.status.value} | {_esc(title)} | {_esc(measured)} | {_esc(c.limit or '-')} | {_esc(c.method or '-')} |"


def _esc(text: str) -> str:
    """Network-sourced strings are data: neutralise table pipes and inline HTML."""
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")
