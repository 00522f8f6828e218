"""Firewall, NAT and SIP ALG checks (issue 5): STUN reachability, NAT mapping behaviour and
binding lifetime, TLS interception, SIP ALG. Measurement ids: see netcheck/plan/firewall.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from netcheck import ids
from netcheck.evaluate._core import REMEDIES, Base, base, check, failed, msg, not_measured, remedy, source
from netcheck.profile import Profile, Role
from netcheck.result import Bound, Check, ErrorKind, Item, Measurement, Msg, Op, Param, Qty, Site, Status
from netcheck.wire import sip

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
                            by_id.get(ids.stun(transport, name)))
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
    m = by_id.get(ids.stun("udp", name))
    if m is not None and m.ok and m.values.get("reachable"):
        yield _mapping(m)
    lt = by_id.get(ids.stun_lifetime(name))
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
        m = by_id.get(ids.tls(i))
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


#: The SIP ALG findings (netcheck.probes.sip_alg.findings_of) the check names, each with
#: its phrase ``sip.finding.<code>`` in the catalogue.
SIP_FINDINGS = ("intercepts", "rewrites_headers", "rewrites_sdp", "stale_content_length",
                "mangles_message", "rewrites_registrations", "rewrites_answers", "rewrites_unseen",
                "drops_unparseable", "drops_invites", "drops_registrations")
#: Why a leg of the mirror has no answer (``sip.leg.<code>``).
SIP_LEG_GAPS = ("not_served", "silent", "silent_served", "key_rejected", "key_required", "error")
#: What the OPTIONS answer shows (``sip.options.<code>``, netcheck.probes.sip_alg).
SIP_OPTIONS_EVIDENCE = ("via_rewritten", "private_received", "public_received", "no_received",
                        "nat_unknown", "no_nat", "other_received", "unparseable")


def _sip_alg(profile: Profile, by_id: dict[str, Measurement]) -> Check:
    """Mirror legs first (every planned port/transport must answer unchanged for PASS);
    OPTIONS (RFC 3581) when no leg of the mirror answered or none was planned."""
    src = source(profile, profile.sip.source if profile.sip else None)
    b = base("sip.alg", "title.sip.alg", required=True, group="firewall", source=src)
    b["limit_key"] = "limit.sip_unmodified"
    legs = sorted((m for k, m in by_id.items() if k.startswith(ids.SIP_LEG_PREFIXES)),
                  key=_leg_order)
    options = by_id.get(ids.SIP_OPTIONS)
    if any(m.values.get("mirror_reachable") for m in legs):
        mirrored = _sip_mirror({**b, "evidence": [m.id for m in legs], "method": "sip-mirror"}, legs)
        if (mirrored.status is not Status.FAIL and options is not None and options.ok
                and options.values.get("evidence") in ("private_received", "via_rewritten")):
            # an ALG that acts only towards the provider's server (some track registered
            # providers' addresses): the OPTIONS evidence of a rewrite outweighs a clean mirror
            clean = msg("note.sip_mirror_clean",
                        legs=[_leg(m) for m in legs if m.values.get("mirror_reachable")])
            return _sip_options({**b, "evidence": [*(m.id for m in legs), options.id],
                                 "method": options.method}, options, (clean,))
        return mirrored
    gaps = (msg("note.sip_mirror_gap", why=_gaps(legs)),) if legs else ()
    if options is not None:
        return _sip_options({**b, "evidence": [*(m.id for m in legs), options.id],
                             "method": options.method}, options, gaps)
    if not legs:
        return check(b, Status.NOT_MEASURED, "reason.sip_alg_needs_responder")
    return check({**b, "evidence": [m.id for m in legs], "method": legs[0].method},
                 Status.NOT_MEASURED, "reason.sip_alg.not_measured", why=_gaps(legs))


def _leg_order(m: Measurement) -> tuple[int, bool]:
    _, transport, port = [*m.id.split(":"), "", ""][:3]
    return (int(port) if port.isdigit() else 0, transport != "udp")


def _leg(m: Measurement) -> str:
    """``UDP 5060``: the transport and port of one mirror leg (verbatim protocol names)."""
    _, transport, port = [*m.id.split(":"), "", ""][:3]
    return f"{transport.upper()} {port}".strip()


def _findings(m: Measurement) -> list[str]:
    found = m.values.get("findings")
    return [str(f) for f in found] if isinstance(found, list) else []


def _describe(m: Measurement) -> list[Item]:
    """One leg's ALG findings as catalogue phrases (header names and SDP line types are
    protocol text, passed verbatim)."""
    inv = [str(r["field"]) for r in (*_rewrites(m), *_rewrites(m, "large_rewrites"))]
    reg = [str(r["field"]) for r in _rewrites(m, "register_rewrites")]
    fields: dict[str, list[str]] = {
        "rewrites_headers": [f for f in dict.fromkeys(inv)
                             if f not in ("framing", "message", "body") and not f.startswith("sdp")],
        "rewrites_sdp": [f.removeprefix("sdp ") for f in dict.fromkeys(inv)
                         if f.startswith("sdp") or f == "body"],
        "rewrites_registrations": list(dict.fromkeys(reg)) or ["digest"],
        "rewrites_answers": _answer_received(m),
    }
    return [msg(f"sip.finding.{f}", fields=[*fields.get(f, [])],
                answer=str(m.values.get("intercepted_by") or "SIP"))
            for f in _findings(m) if f in SIP_FINDINGS]


def _answer_received(m: Measurement) -> list[str]:
    """``received=<addr>`` of the mirror's SIP-shaped answer as it arrived (RFC 3581): an ALG
    that maps the public address back shows the private one there."""
    via = m.values.get("answer_via")
    received = sip.via_params(via)[1].get("received") if isinstance(via, str) else None
    return [f"received={received}"] if received else ["Via"]


def _gaps(legs: list[Measurement]) -> list[Item]:
    """Why each unanswered leg has no answer (not served, silent, key)."""
    out: list[Item] = []
    for m in legs:
        if m.values.get("mirror_reachable"):
            continue
        served, note = m.values.get("mirror_served"), m.values.get("mirror_note")
        if m.error is not None and m.error.kind in (ErrorKind.DNS, ErrorKind.INTERNAL):
            out.append(msg("sip.leg.error", leg=_leg(m), detail=m.error.detail))
            continue
        code = (str(note) if note in SIP_LEG_GAPS else "not_served" if served is False
                else "silent_served" if served else "silent")
        port = _leg(m).split()[-1]
        out.append(msg(f"sip.leg.{code}", leg=_leg(m), port=int(port) if port.isdigit() else 0))
    return out


def _sip_mirror(b: Base, legs: list[Measurement]) -> Check:
    answered: list[Item] = [_leg(m) for m in legs if m.values.get("mirror_reachable")]
    missing = [m for m in legs if not m.values.get("mirror_reachable")]
    notes = (msg("note.sip_mirror_gap", why=_gaps(legs)),) if missing else ()
    groups: dict[str, list[Item]] = {}  # legs with the same findings share one phrase
    phrases: dict[str, list[Item]] = {}
    for m in legs:
        if (d := _describe(m)):
            groups.setdefault(repr(d), []).append(_leg(m))
            phrases[repr(d)] = d
    if groups:
        found: list[Item] = [msg("sip.on_legs", legs=ls, what=phrases[c]) for c, ls in groups.items()]
        alg_legs: list[Item] = [leg for ls in groups.values() for leg in ls]
        return check({**b, "measured_key": "measured.rewritten"}, Status.FAIL,
                     "reason.sip_alg.found", fix=remedy("sip_alg", fields=alg_legs),
                     notes=notes, found=found, answered=answered)
    if missing:
        return _sip_partial(b, legs, missing, answered)
    large = [m for m in legs if "large_message_lost" in _findings(m)]
    if large:
        octets = large[0].values.get("large_message_octets")
        return failed({**b, "measured_key": "measured.large_lost"}, True, "reason.sip_alg.large_lost",
                      remedy("sip_large", octets=octets if isinstance(octets, int) else "> 1500"),
                      answered=answered, leg=_leg(large[0]))
    inspect: list[Item] = [_leg(m) for m in legs if "drops_non_sip_answers" in _findings(m)]
    if inspect:
        return check({**b, "measured_key": "measured.sip_inspected"}, Status.WARN,
                     "reason.sip_alg.inspected", answered=answered, legs=inspect)
    return check({**b, "measured_key": "measured.unmodified"}, Status.PASS, "reason.sip_alg.none",
                 legs=answered)


def _sip_partial(b: Base, legs: list[Measurement], missing: list[Measurement],
                 answered: list[Item]) -> Check:
    """Some legs clean, some unanswered: never PASS. An answer on one transport of a port
    and silence on the other is how a SIP-aware middlebox that drops SIP shows (WARN)."""
    clean_ports = {str(leg).split()[-1] for leg in answered}
    lopsided = [m for m in missing if _leg(m).split()[-1] in clean_ports
                and m.values.get("mirror_served") is not False and not m.values.get("mirror_note")]
    key, status = (("reason.sip_alg.lopsided", Status.WARN) if lopsided
                   else ("reason.sip_alg.partial", Status.NOT_MEASURED))
    silent: list[Item] = [_leg(m) for m in missing]
    return check({**b, "measured_key": "measured.sip_partial"}, status, key, answered=answered,
                 missing=silent, why=_gaps(legs))


def _sip_options(b: Base, m: Measurement, gaps: tuple[Msg, ...]) -> Check:
    """OPTIONS with rport to the provider's SIP server (RFC 3581)."""
    v = m.values
    if not m.ok:  # no answer from the SIP server (or its name does not resolve)
        detail = m.error.detail if m.error is not None else ""
        return check(b, Status.NOT_MEASURED, "reason.sip_alg.options_no_answer", notes=gaps,
                     detail=detail)
    code = str(v.get("evidence_detail") or "unparseable")
    note = msg(f"sip.options.{code if code in SIP_OPTIONS_EVIDENCE else 'unparseable'}",
               sent=str(v.get("via_sent_by") or ""), back=str(v.get("via_returned_sent_by") or ""),
               received=str(v.get("received") or ""), local=str(v.get("local_address") or ""),
               mapped=str(v.get("mapped_address") or ""))
    target = str(v.get("server") or m.target)  # the provider's SIP server, host:port
    if v.get("evidence") in ("private_received", "via_rewritten"):
        return check({**b, "measured_key": "measured.rewritten"}, Status.FAIL,
                     "reason.sip_alg.options_found", fix=remedy("sip_alg", fields="Via"),
                     notes=gaps, target=target, note=note)
    if v.get("evidence") == "public_received":
        return check({**b, "measured_key": "measured.unmodified"}, Status.PASS,
                     "reason.sip_alg.options_clean", notes=gaps, target=target, note=note)
    return check(b, Status.NOT_MEASURED, "reason.sip_alg.options_unsure", notes=gaps,
                 target=target, note=note)


def _rewrites(m: Measurement, key: str = "rewrites") -> list[dict[str, Any]]:
    """The SIP ALG probe's rewrite records (dicts with ``field``) of one measurement."""
    rewrites = m.values.get(key)
    return [r for r in rewrites if isinstance(r, dict)] if isinstance(rewrites, list) else []
