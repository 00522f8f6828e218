"""Firewall, NAT and SIP ALG checks (issue 5): STUN reachability, NAT mapping behaviour and
binding lifetime, TLS interception, SIP ALG. Measurement ids: see netcheck/firewall_plan.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from netcheck.evaluate._core import REMEDIES, Base, base, check, failed, msg, not_measured, remedy, source
from netcheck.profile import Profile, Role
from netcheck.result import Bound, Check, Measurement, Op, Param, Qty, Site, Status

REMEDIES.update({
    "stun_blocked": "Allow outbound {transport} 3478 to {host} (STUN/TURN, media negotiation) "
    "and the answers back; without it phones cannot learn their public address.",
    "nat_symmetric": "The NAT maps each destination to a new public port ({mapping}): media "
    "then needs a TURN relay. Enable endpoint-independent mapping (\"full cone\" / "
    "\"consistent NAT\" / disable \"symmetric NAT\" or port randomisation for the phones' "
    "subnet) on the router.",
    "nat_lifetime": "The router forgets an idle UDP mapping after {lifetime} s, before the "
    "{interval_name} of {interval} s: raise the router's UDP session timeout (e.g. \"UDP "
    "timeout\", nf_conntrack_udp_timeout) above {interval} s or shorten the phones' "
    "keep-alive / registration interval.",
    "tls_inspection": "The certificate on {host}:{port} is not trusted ({error}; issuer "
    "{issuer}): exempt {host} from TLS/HTTPS inspection on the proxy or firewall; phones and "
    "UC clients reject or pin certificates.",
    "sip_alg": "A SIP ALG rewrites SIP on the way out ({fields}). Disable it on the router / "
    "firewall: e.g. \"SIP ALG\" / \"SIP passthrough\" / \"SIP helper\" (Fritz!Box, "
    "Speedport, Draytek), Fortinet \"set sip-helper disable\" + \"default-voip-alg-mode "
    "kernel-helper-based\", Cisco ASA \"no inspect sip\", Linux \"nf_conntrack_sip\" helper.",
    "sip_large": "A SIP message of {octets} octets (larger than one UDP datagram) did not "
    "cross the path intact: allow IP fragments for UDP 5060, or use SIP over TCP/TLS.",
})


def checks(profile: Profile, by_id: dict[str, Measurement], site: Site) -> Iterator[Check]:
    for name, target in profile.targets_with_role(Role.STUN):
        if target.host:
            for transport in ("udp", "tcp"):
                # informational: the requirement itself is the 3478 row of the port table
                yield _stun(profile, name, target.host, transport, False,
                            by_id.get(f"stun:{transport}:{name}"))
            yield from _nat(profile, name, by_id)
    yield from _tls(profile, by_id)
    if profile.sip and not profile.sip.alg_allowed:
        yield _sip_alg(profile, by_id)


def _stun(profile: Profile, name: str, host: str, transport: str, required: bool,
          m: Measurement | None) -> Check:
    src = source(profile, profile.targets[name].source)
    b = base(f"stun.{transport}@{name}", "title.stun", required=required, group="firewall", source=src,
             transport=transport.upper(), port=3478, host=host)
    if m is None or not m.ok:
        return not_measured(b, m)
    b = {**b, "evidence": [m.id], "method": m.method}
    v = m.values
    if not v.get("reachable"):
        return failed({**b, "measured_key": "measured.no_answer"}, required, "reason.stun_no_answer",
                      remedy("stun_blocked", transport=transport.upper(), host=host))
    rtt = v.get("rtt_ms")
    nat = msg("note.behind_nat") if v.get("behind_nat") else ""
    return check({**b, "unit": "ms"}, Status.PASS, "reason.stun_ok", measured=rtt,
                 rtt=Qty(float(rtt), "ms") if isinstance(rtt, int | float) else "?",
                 address=str(v.get("mapped_address")), nat=nat)


def _nat(profile: Profile, name: str, by_id: dict[str, Measurement]) -> Iterator[Check]:
    m = by_id.get(f"stun:udp:{name}")
    if m is not None and m.ok and m.values.get("reachable"):
        yield _mapping(m)
    lt = by_id.get(f"stun:lifetime:{name}")
    if lt is not None:
        yield _lifetime(profile, lt)


def _mapping(m: Measurement) -> Check:
    b = {**base("nat.mapping", "title.nat.mapping", required=False, group="firewall"),
         "evidence": [m.id], "method": "rfc5780"}
    mapping = m.values.get("mapping")
    if not m.values.get("rfc5780"):
        return check(b, Status.SKIPPED, "reason.nat_no_rfc5780")
    if mapping is None:
        return check(b, Status.NOT_MEASURED, "reason.nat_no_alternate")
    b["measured_key"] = "measured.nat"
    params: dict[str, Param] = dict(mapping=msg(f"nat.{mapping}"), filtering=msg(f"nat.{m.values.get('filtering')}"))
    if mapping != "endpoint-independent":
        return failed(b, False, "reason.nat", remedy("nat_symmetric", mapping=msg(f"nat.{mapping}")),
                      measured=str(mapping), params=params)
    return check(b, Status.PASS, "reason.nat", measured=str(mapping), params=params)


def _lifetime(profile: Profile, m: Measurement) -> Check:
    sip = profile.sip
    interval, label = (None, "")
    if sip and sip.keepalive_s:
        interval, label = sip.keepalive_s, "sip.keepalive_interval"
    elif sip and sip.registration_s:
        interval, label = sip.registration_s, "sip.registration_interval"
    b = {**base("nat.binding_lifetime", "title.nat.binding_lifetime", required=interval is not None,
                group="firewall", source=source(profile, sip.source if sip else None)),
         "evidence": [m.id], "method": m.method, "unit": "s"}
    if not m.ok:
        return not_measured(b, m)
    lo, hi = m.values.get("lifetime_min_s"), m.values.get("lifetime_max_s")
    low = Qty(float(lo), "s") if isinstance(lo, int | float) else "?"
    shown = (msg("nat.lifetime_between", lo=low, hi=Qty(float(hi), "s")) if isinstance(hi, int | float)
             else msg("nat.lifetime_over", lo=low))
    if interval is None:
        return check(b, Status.SKIPPED, "reason.nat_lifetime_no_interval", measured=lo, lifetime=shown)
    params: dict[str, Param] = dict(lifetime=shown, what=msg(label), interval=Qty(interval, "s"))
    if isinstance(hi, int | float) and hi <= interval:
        return failed(b, True, "reason.nat_lifetime_short",
                      remedy("nat_lifetime", lifetime=Qty(float(hi), "s"), interval=Qty(interval, "s"),
                             interval_name=msg(label)), measured=hi, params=params)
    if isinstance(lo, int | float) and lo >= interval:
        return check({**b, "bound": Bound(op=Op.GT, value=interval, unit="s")}, Status.PASS,
                     "reason.nat_lifetime_long", measured=lo, params=params)
    return check(b, Status.NOT_MEASURED, "reason.nat_lifetime_open", measured=lo, params=params)


def _tls(profile: Profile, by_id: dict[str, Measurement]) -> Iterator[Check]:
    for i, rule in enumerate(profile.ports):
        m = by_id.get(f"tls:{i}")
        host = profile.resolve_destination(rule.destination)
        if not rule.tls or m is None or not host:
            continue
        b = {**base(f"tls.{rule.port}@{rule.destination}", "title.tls", required=False, group="firewall",
                    source=source(profile, rule.source), host=host, port=_port(rule.port), purpose=rule.purpose),
             "evidence": [m.id], "method": m.method}
        if not m.ok:
            yield not_measured(b, m)
            continue
        v = m.values
        issuer = str(v.get("issuer_o") or v.get("issuer_cn") or "?")
        if v.get("verified"):
            yield check(b, Status.PASS, "reason.tls_ok", measured=issuer, issuer=issuer,
                        version=str(v.get("tls_version")))
        else:
            err = str(v.get("verify_error"))
            yield failed(b, False, "reason.tls_untrusted",
                         remedy("tls_inspection", host=host, port=_port(rule.port), error=err, issuer=issuer),
                         measured=issuer, error=err, issuer=issuer)


def _port(port: int | str) -> Param:
    """A port (int, never digit-grouped) or a range as written in the profile."""
    return port if isinstance(port, int) else str(port)


def _sip_alg(profile: Profile, by_id: dict[str, Measurement]) -> Check:
    src = source(profile, profile.sip.source if profile.sip else None)
    b = base("sip.alg", "title.sip.alg", required=True, group="firewall", source=src)
    ms_ = [m for k in ("sip_alg:udp", "sip_alg:tcp") if (m := by_id.get(k)) is not None]
    if not ms_:
        return check(b, Status.NOT_MEASURED, "reason.sip_alg_needs_responder")
    b = {**b, "evidence": [m.id for m in ms_], "method": ms_[0].method}
    good = [m for m in ms_ if m.ok]
    if not good:
        return not_measured(b, ms_[0])
    if good[0].confidence != "high":
        return _sip_heuristic(b, good[0])
    fields = sorted({f"{r['field']} ({m.id.split(':')[1].upper()})" for m in good for r in _rewrites(m)})
    if fields:
        return failed({**b, "measured_key": "measured.rewritten"}, True, "reason.sip_alg_found",
                      remedy("sip_alg", fields=", ".join(fields)), fields=", ".join(fields))
    broken = [m for m in good if m.values.get("large_message_ok") is False]
    if broken:
        octets = broken[0].values.get("large_message_octets")
        return failed({**b, "measured_key": "measured.large_lost"}, True, "reason.sip_large_lost",
                      remedy("sip_large", octets=octets if isinstance(octets, int) else "> 1500"))
    shown = "/".join(m.id.split(":")[1].upper() for m in good)
    return check({**b, "measured_key": "measured.unmodified"}, Status.PASS, "reason.sip_alg_none",
                 transports=shown)


def _sip_heuristic(b: Base, m: Measurement) -> Check:
    v = m.values
    if v.get("alg_suspected"):
        return failed({**b, "measured_key": "measured.rewritten"}, True, "reason.sip_alg_suspected",
                      remedy("sip_alg", fields="Via"), seen=str(v.get("via_returned_sent_by")),
                      sent=str(v.get("via_sent_by")))
    return check(b, Status.NOT_MEASURED, "reason.sip_alg_heuristic_clean")
def _rewrites(m: Measurement) -> list[dict[str, Any]]:
    """The SIP ALG probe's rewrite records (dicts with ``field``) of one measurement."""
    rewrites = m.values.get("rewrites")
    return [r for r in rewrites if isinstance(r, dict)] if isinstance(rewrites, list) else []
