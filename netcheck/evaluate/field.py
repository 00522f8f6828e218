"""Field mode (no responder): what the provider's own servers and the path already proved.

Two kinds of evidence stand in for the responder's port sweep of a port-table row:

- **Credited answers.** A STUN answer (RFC 8489) from ``host:3478`` over UDP or TCP, or a
  SIP answer (RFC 3261) from ``host:5060``, crossed the site firewall both ways: that port
  is open towards that host. A port proven so needs no further test (high confidence: a
  real answer, not an inference).
- **Site egress by TTL** (probe ``udp_egress``, measurement ``egress``): sampled ports of a
  range sent with a TTL that expires one hop beyond the site's edge router; an ICMP Time
  Exceeded from beyond the edge proves the datagram left the site, silence through every
  retry while the path answered other datagrams (the control port's) means the site
  firewall dropped it. Medium confidence: it proves the site lets the port out, not that
  the provider's side accepts it, and only for the sampled ports.

:func:`scope` lists what no field method can prove, for the result's ``scope``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from netcheck import ids
from netcheck.evaluate._core import EN, Base, check, failed, msg, remedy
from netcheck.hostport import split_target
from netcheck.profile import Profile, Role
from netcheck.result import Check, Confidence, Item, Measurement, Msg, Param, Scope, ScopeItem, Status

#: the path methods, best first (method names as the stream probe reports them)
PATH_METHOD_ORDER = ["stamp", "stun-50pps", "icmp-50pps", "sip-options-5pps"]

Credit = tuple[str, int, str, Msg, str]  # (host or address, port, transport, how, measurement id)


def credits(by_id: dict[str, Measurement]) -> list[Credit]:
    """Every (host, port, transport) that a server answered through the site firewall, with
    how it answered (a catalogue phrase) and the measurement."""
    out: list[Credit] = []
    for m in by_id.values():
        if not m.ok:
            continue
        v = m.values
        if m.probe == "stun" and v.get("reachable") and m.method.startswith("stun-"):
            host, port = split_target(m.target)
            transport = str(v.get("transport") or m.method.removeprefix("stun-"))
            how = msg("credit.stun", server=str(v.get("server")))
            for h in {host, split_target(str(v.get("server") or ""))[0]} - {""}:
                out.append((h, port, transport, how, m.id))
        elif m.probe == "stream" and m.method == "stun-50pps" and (v.get("received") or 0):
            host, port = split_target(m.target)
            received = v.get("received")
            how = msg("credit.stream", server=f"{v.get('address')}:{port}",
                      n=received if isinstance(received, int) else 0)
            for h in {host, str(v.get("address") or "")} - {""}:
                out.append((h, port, "udp", how, m.id))
        elif m.probe == "sip_alg" and v.get("server_answered"):
            host, port = split_target(m.target)
            transport = m.target.rsplit("/", 1)[-1] if "/" in m.target else "udp"
            out.append((host, port, transport, msg("credit.sip", status=str(v.get("status_line") or "?")), m.id))
    return out


def credited_row(b: Base, host: str, addresses: Iterable[str], lo: int, hi: int,
                 transport: str, by_id: dict[str, Measurement]) -> Check | None:
    """PASS when a server answered on every port of the row (a range of more than a few
    ports is never fully credited); None otherwise."""
    names = {host, *addresses}
    got = {c[1]: c for c in credits(by_id) if c[0] in names and c[2] == transport and lo <= c[1] <= hi}
    if not got or len(got) < hi - lo + 1:
        return None
    first = got[min(got)]
    b = {**b, "evidence": sorted({c[4] for c in got.values()}), "method": "credited-answer",
         "confidence": Confidence.HIGH, "measured_key": "state.open"}
    return check(b, Status.PASS, "reason.port_credited", transport=transport.upper(),
                 ports=str(lo) if lo == hi else f"{lo}-{hi}", how=first[3], evidence=first[4])


def egress_row(b: Base, row: int, required: bool, host: str, ports: str,
               purpose: str, by_id: dict[str, Measurement]) -> Check | None:
    """The TTL site-egress result of port-table row ``row``; None when it was not tested."""
    m = by_id.get(ids.EGRESS)
    if m is None:
        return None
    b = {**b, "evidence": [m.id], "method": m.method, "confidence": Confidence.MEDIUM}
    unsure = {**b, "confidence": Confidence.NONE}
    if not m.ok:
        err = m.error
        return check(unsure, Status.NOT_MEASURED, "reason.egress_failed", ports=ports,
                     kind=msg(f"error.{err.kind.value}") if err else "", detail=err.detail if err else "")
    rows: dict[str, dict[str, Any]] = m.values.get("rows") or {}  # type: ignore[assignment]
    r = rows.get(str(row))
    if r is None:
        return None
    v = m.values
    where: dict[str, Param] = dict(ports=ports, beyond=str(v.get("beyond_edge") or "?"), hop=_int(v.get("test_ttl")),
                                   edge=str(v.get("edge") or "?"), sampled=_ports(r.get("sampled")))
    if r.get("blocked"):
        blocked = _ports(r["blocked"])
        key = "reason.egress_blocked_dest" if v.get("test_hop_is_destination") else "reason.egress_blocked"
        fix = remedy("udp_blocked", ports=ports, host=host, purpose=purpose, blocked=blocked)
        params = {**where, "blocked": blocked, "control": _int(v.get("control_port"))}
        return failed({**b, "measured_key": "measured.blocked"}, required, key, fix, params=params)
    if r.get("state") == "open":
        b["measured_key"] = "measured.sampled_open"
        opened = {**where, "n": len(r["open"]), "total": len(r["sampled"])}
        whole = len(r["sampled"]) >= _span(ports)  # a small range: every port was tried
        return check(b, Status.PASS, "reason.egress_open_all" if whole else "reason.egress_open", params=opened)
    return check(unsure, Status.NOT_MEASURED, "reason.egress_unknown", params=where)


def _span(ports: str) -> int:
    """How many ports ``"16384-32767"`` / ``"5060"`` names (0 if unreadable)."""
    lo, _, hi = ports.partition("-")
    if not lo.isdigit() or not (hi or lo).isdigit():
        return 0
    return int(hi or lo) - int(lo) + 1


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def _ports(values: object) -> list[Item]:
    return [int(p) for p in values] if isinstance(values, list) else []  # ports: ints, never grouped


def scope(profile: Profile, by_id: dict[str, Measurement], checks: list[Check],
          responder: bool) -> Scope:
    """What this run could not prove without a responder, listed so a GO shows its limits."""
    if responder:
        return Scope(mode="responder", path_methods=PATH_METHOD_ORDER)
    items: list[ScopeItem] = []
    if _owd_limited(profile):
        items.append(_item("scope.one_way_delay"))
    for c in checks:
        if c.id.startswith("port.udp.") and c.confidence == "medium" and c.status is Status.PASS:
            items.append(_item("scope.udp_range", ports=c.id.split(".")[2].split("@")[0]))
    if profile.bandwidth is not None:
        items.append(_item("scope.downstream"))
    alg = next((c for c in checks if c.id == "sip.alg"), None)
    if alg is not None and alg.confidence != "high":
        items.append(_item("scope.sip_alg"))
    return Scope(mode="field", path_methods=PATH_METHOD_ORDER, not_proven=items)


def _owd_limited(profile: Profile) -> bool:
    groups = (profile.limits.end_to_end, profile.limits.handover)
    return any(g is not None and g.one_way_delay_ms is not None for g in groups) and bool(
        profile.targets_with_role(Role.HANDOVER))


def _item(key: str, **params: Param) -> ScopeItem:
    return ScopeItem(key=key, text=EN.msg(key, params), params=dict(params))
