"""Checks that need the responder's cooperation (issue 5): UDP egress per port-table row
(called from :mod:`netcheck.evaluate.ports`, so the row stays in the port table), DSCP
read-back (``qos.dscp``) and the connect-back exposure test (``lan.exposure``).

Measurement ids (see :mod:`netcheck.firewall_plan`): ``udp:<port-row-index>``, ``dscp``,
``exposure``. Never PASS what was not measured: a port the responder does not serve is
"not covered", and without a responder each check is NOT_MEASURED with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from netcheck.evaluate._core import REMEDIES, failed, not_measured, remedy, source
from netcheck.profile import Profile
from netcheck.result import Check, Measurement, Site, Status

REMEDIES.update({
    "udp_blocked": "Open UDP {ports} outbound to {host} ({purpose}) on the firewall, and let "
    "the answers back in; blocked now: {blocked}.",
    "udp_coverage": "Start the responder with --udp-ranges {ports} (and allow TCP to its "
    "control port) so that every port can be proven.",
    "dscp_bleached": "Voice leaves with DSCP {sent} (EF) but arrives with {received}: stop the "
    "router/firewall from re-marking (\"DSCP bleaching\", \"reset ToS\", QoS policy "
    "\"set dscp default\") for UDP media to {host}, and trust DSCP 46 from the phones' "
    "VLAN on the switches.",
    "admin_exposed": "TCP {ports} at {address} answer from the internet: remove the port "
    "forwards / exposed host (DMZ) / UPnP mappings towards phones on the router, and allow "
    "phone administration only from the LAN or the provider's handover point.",
})

NO_RESPONDER = ("UDP egress can only be proven with a netcheck responder at the far end "
                "(a silent UDP port looks the same open or blocked); run with --responder "
                "HOST and start it with --udp-ranges; not measured in this run")
_MAX_SHOWN = 12


def shown(ranges: list[str]) -> str:
    """The first ranges, and how many more: a remediation line must stay readable."""
    head = ", ".join(ranges[:_MAX_SHOWN])
    more = len(ranges) - _MAX_SHOWN
    return f"{head} and {more} more ranges" if more > 0 else head


def udp_row(base: dict[str, Any], required: bool, m: Measurement | None, host: str,
            port: str, purpose: str) -> Check:
    """One UDP row of the port table from its ``udp_ports`` measurement."""
    if m is None:
        return Check(**base, status=Status.NOT_MEASURED, reason=NO_RESPONDER)
    if not m.ok:
        return not_measured(base, "", m)
    base = {**base, "evidence": [m.id], "method": m.method}
    v = m.values
    counts: dict[str, int] = v.get("counts") or {}  # type: ignore[assignment]
    total_v = v.get("ports_total")
    total, opened = (total_v if isinstance(total_v, int) else 0), counts.get("open", 0)
    via = f"via responder {v.get('responder')} standing in for {host}"
    coverage = str(v.get("coverage") or "")
    if opened == 0 and coverage.startswith("unknown"):
        return Check(**base, status=Status.NOT_MEASURED, remediation=remedy("udp_coverage", ports=port),
                     reason=f"UDP {port}: no port answered and the responder's coverage is "
                     f"{coverage}: either nothing serves these ports there or all are blocked")
    blocked: list[str] = v.get("blocked") or []  # type: ignore[assignment]
    if blocked:
        return _blocked(base, required, v, blocked, host, port, purpose, via)
    uncovered: list[str] = v.get("not_covered") or []  # type: ignore[assignment]
    if uncovered or opened < total:
        return Check(**base, status=Status.NOT_MEASURED, measured=f"{opened}/{total} open",
                     remediation=remedy("udp_coverage", ports=port),
                     reason=f"UDP {port}: {opened} of {total} ports open {via}; not covered by "
                     f"the responder: {shown(uncovered)}")
    return Check(**base, status=Status.PASS, measured=f"{opened}/{total} open",
                 reason=f"UDP {port}: every one of {total} ports answered {via} "
                 f"(median RTT {v.get('rtt_median_ms')} ms)")


def _blocked(base: dict[str, Any], required: bool, v: dict[str, Any], blocked: list[str],
             host: str, port: str, purpose: str, via: str) -> Check:
    counts = v.get("counts") or {}
    n = counts.get("rejected", 0) + counts.get("no_answer", 0)
    parts = []
    if v.get("rejected"):
        parts.append(f"rejected (ICMP) {shown(v['rejected'])}")
    if v.get("no_answer"):
        parts.append(f"no answer after {v.get('rounds')} tries {shown(v['no_answer'])}")
    reason = (f"UDP {port}: blocked {shown(blocked)} ({n} of {v.get('ports_total')} ports; "
              f"{'; '.join(parts)}) {via}")
    fix = remedy("udp_blocked", ports=port, host=host, purpose=purpose, blocked=shown(blocked))
    return failed(base, required, reason, fix, measured=f"blocked: {shown(blocked)}")


def checks(profile: Profile, by_id: dict[str, Measurement], site: Site) -> Iterator[Check]:
    qos = profile.qos
    if qos and qos.voice_dscp is not None:
        yield _dscp(profile, qos.voice_dscp, qos.priority_required, by_id.get("dscp"))
    if profile.lan and profile.lan.no_admin_exposure:
        yield _exposure(profile, by_id.get("exposure"))


def _dscp(profile: Profile, want: int, required: bool, m: Measurement | None) -> Check:
    base: dict[str, Any] = dict(id="qos.dscp", title=f"voice keeps DSCP {want} (EF) on the way",
                                required=required, group="qos",
                                source=source(profile, profile.qos.source if profile.qos else None))
    if m is None:
        return Check(**base, status=Status.NOT_MEASURED, reason="DSCP read-back needs a netcheck "
                     "responder serving a UDP media range (--responder, --udp-ranges); not run")
    if not m.ok or m.values.get("up_dscp") is None:
        return not_measured(base, "no marked packet came back", m)
    base = {**base, "evidence": [m.id], "method": m.method, "limit": str(want)}
    up, down = m.values.get("up_dscp"), m.values.get("down_dscp")
    text = f"sent DSCP {want}: arrived at the responder as {up}, back at the site as {down}"
    if up != want:
        host = m.values.get("responder")
        return failed(base, required, f"{text}: re-marked on the way out", measured=up,
                      fix=remedy("dscp_bleached", sent=want, received=up, host=host))
    if down != want:
        return Check(**base, status=Status.WARN, measured=up, reason=f"{text}: kept on the way "
                     "out; the way in re-marks (the provider's/ISP's side, informational)")
    return Check(**base, status=Status.PASS, measured=up, reason=f"{text}: kept both ways")


def _exposure(profile: Profile, m: Measurement | None) -> Check:
    lan = profile.lan
    base: dict[str, Any] = dict(id="lan.exposure", title="phones' admin ports not reachable from "
                                "the internet", required=True, group="lan",
                                source=source(profile, lan.source if lan else None))
    if m is None:
        return Check(**base, status=Status.NOT_MEASURED, reason="the connect-back test needs a "
                     "netcheck responder outside the site (--responder HOST); not run")
    if not m.ok:
        return not_measured(base, "", m)
    base = {**base, "evidence": [m.id], "method": m.method}
    states: dict[str, str] = m.values.get("ports") or {}  # type: ignore[assignment]
    address = m.values.get("seen_as")
    opened = [p for p, s in states.items() if s == "open"]
    if opened:
        ports = ", ".join(opened)
        return failed(base, True, f"reachable from outside at {address}: TCP {ports}",
                      remedy("admin_exposed", ports=ports, address=address),
                      measured=f"open: {ports}")
    summary = ", ".join(f"{p} {s}" for p, s in states.items())
    return Check(**base, status=Status.PASS, measured="none open",
                 reason=f"the responder reached none of TCP {', '.join(states)} at {address} "
                 f"({summary})")
