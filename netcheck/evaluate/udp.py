"""Checks that need the responder's cooperation (issue 5): UDP egress per port-table row
(called from :mod:`netcheck.evaluate.ports`, so the row stays in the port table), DSCP
read-back (``qos.dscp``) and the connect-back exposure test (``lan.exposure``).

Measurement ids (see :mod:`netcheck.plan.firewall`): ``udp:<port-row-index>``, ``dscp``,
``exposure``. Never PASS what was not measured: a port the responder does not serve is
"not covered", and without a responder each check is NOT_MEASURED with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from netcheck import ids
from netcheck.evaluate._core import REMEDIES, Base, base, check, failed, msg, not_measured, remedy, source
from netcheck.profile import Profile
from netcheck.result import Bound, Check, Item, Measurement, Msg, Op, Param, Qty, Site, Status

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

_MAX_SHOWN = 12


def shown(ranges: list[str]) -> Msg:
    """The first ranges, and how many more: a remediation line must stay readable."""
    more = len(ranges) - _MAX_SHOWN
    head = ", ".join(ranges[:_MAX_SHOWN])
    return msg("list.more", items=head, more=more) if more > 0 else msg("list.all", items=head)


def udp_row(b: Base, required: bool, m: Measurement | None, host: str, port: str, purpose: str) -> Check:
    """One UDP row of the port table from its ``udp_ports`` measurement."""
    if m is None:
        return check(b, Status.NOT_MEASURED, "reason.udp_needs_responder")
    if not m.ok:
        return not_measured(b, m)
    b = {**b, "evidence": [m.id], "method": m.method}
    v = m.values
    counts: dict[str, int] = v.get("counts") or {}  # type: ignore[assignment]
    total_v = v.get("ports_total")
    total, opened = (total_v if isinstance(total_v, int) else 0), counts.get("open", 0)
    via = msg("udp.via", responder=str(v.get("responder")), host=host)
    coverage = str(v.get("coverage") or "")
    if opened == 0 and coverage.startswith("unknown"):
        return check(b, Status.NOT_MEASURED, "reason.udp_unknown_coverage", fix=remedy("udp_coverage", ports=port),
                     ports=port, coverage=coverage)
    blocked: list[str] = v.get("blocked") or []  # type: ignore[assignment]
    if blocked:
        return _blocked(b, required, v, blocked, host, port, purpose, via)
    uncovered: list[str] = v.get("not_covered") or []  # type: ignore[assignment]
    if uncovered or opened < total:
        return check({**b, "measured_key": "measured.n_of_total_open"}, Status.NOT_MEASURED,
                     "reason.udp_not_covered", fix=remedy("udp_coverage", ports=port), ports=port, n=opened,
                     total=total, via=via, uncovered=shown(uncovered))
    rtt = v.get("rtt_median_ms")
    return check({**b, "measured_key": "measured.n_of_total_open"}, Status.PASS, "reason.udp_open", ports=port,
                 n=opened, total=total, via=via, rtt=Qty(float(rtt), "ms") if isinstance(rtt, int | float) else "?")


def _blocked(b: Base, required: bool, v: dict[str, Any], blocked: list[str], host: str, port: str,
             purpose: str, via: Msg) -> Check:
    counts = v.get("counts") or {}
    n = counts.get("rejected", 0) + counts.get("no_answer", 0)
    parts: list[Item] = []
    if v.get("rejected"):
        parts.append(msg("udp.rejected", ports=shown(v["rejected"])))
    if v.get("no_answer"):
        rounds = v.get("rounds")
        parts.append(msg("udp.no_answer", rounds=rounds if isinstance(rounds, int) else 0,
                         ports=shown(v["no_answer"])))
    total = v.get("ports_total")
    fix = remedy("udp_blocked", ports=port, host=host, purpose=purpose, blocked=shown(blocked))
    return failed({**b, "measured_key": "measured.blocked"}, required, "reason.udp_blocked", fix, ports=port,
                  blocked=shown(blocked), n=n, total=total if isinstance(total, int) else 0, parts=parts, via=via)


def checks(profile: Profile, by_id: dict[str, Measurement], site: Site) -> Iterator[Check]:
    qos = profile.qos
    if qos and qos.voice_dscp is not None:
        yield _dscp(profile, qos.voice_dscp, qos.priority_required, by_id.get(ids.DSCP))
    if profile.lan and profile.lan.no_admin_exposure:
        yield _exposure(profile, by_id.get(ids.EXPOSURE))


def _dscp(profile: Profile, want: int, required: bool, m: Measurement | None) -> Check:
    b = base("qos.dscp", "title.qos.dscp", required=required, group="qos",
             source=source(profile, profile.qos.source if profile.qos else None), dscp=want)
    if m is None:
        return check(b, Status.NOT_MEASURED, "reason.dscp_needs_responder")
    if not m.ok or m.values.get("up_dscp") is None:
        return not_measured(b, m, msg("reason.dscp_nothing_back"))
    b = {**b, "evidence": [m.id], "method": m.method, "bound": Bound(op=Op.EQ, value=want)}
    up, down = m.values.get("up_dscp"), m.values.get("down_dscp")
    seen: dict[str, Param] = dict(up=up if isinstance(up, int) else "?", down=down if isinstance(down, int) else "?")
    if up != want and m.values.get("sender_marks") is False:  # Windows ignores IP_TOS
        return not_measured(b, None, msg("reason.dscp_sender_unmarked", dscp=want, **seen))
    if up != want:
        host = str(m.values.get("responder"))
        return failed(b, required, "reason.dscp_remarked_out", measured=up,
                      fix=remedy("dscp_bleached", sent=want, received=seen["up"], host=host), params=seen)
    if down is None:  # no IP_RECVTOS read-back on this OS: the way back is unknown, not 0
        return check(b, Status.PASS, "reason.dscp_kept_out_unread_in", measured=up, params=seen)
    if down != want:
        return check(b, Status.WARN, "reason.dscp_remarked_in", measured=up, params=seen)
    return check(b, Status.PASS, "reason.dscp_kept", measured=up, params=seen)


def _exposure(profile: Profile, m: Measurement | None) -> Check:
    lan = profile.lan
    b = base("lan.exposure", "title.lan.exposure", required=True, group="lan",
             source=source(profile, lan.source if lan else None))
    if m is None:
        return check(b, Status.NOT_MEASURED, "reason.exposure_needs_responder")
    if not m.ok:
        return not_measured(b, m)
    b = {**b, "evidence": [m.id], "method": m.method}
    states: dict[str, str] = m.values.get("ports") or {}  # type: ignore[assignment]
    address = str(m.values.get("seen_as"))
    opened = [p for p, s in states.items() if s == "open"]
    if opened:
        ports = ", ".join(opened)
        return failed({**b, "measured_key": "measured.open_ports"}, True, "reason.exposure_open",
                      remedy("admin_exposed", ports=ports, address=address), ports=ports, address=address)
    summary: list[Item] = [msg("port_state", port=p, state=msg(f"state.{s}")) for p, s in states.items()]
    return check({**b, "measured_key": "measured.none_open"}, Status.PASS, "reason.exposure_closed",
                 ports=", ".join(states), address=address, states=summary)
