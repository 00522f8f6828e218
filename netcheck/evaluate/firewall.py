"""Firewall, NAT and SIP ALG checks (issue 5): STUN reachability, NAT mapping behaviour and
binding lifetime, TLS interception, SIP ALG. Measurement ids: see netcheck/firewall_plan.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from netcheck.evaluate._core import REMEDIES, failed, not_measured, remedy, source
from netcheck.profile import Profile, Role
from netcheck.result import Check, Measurement, Site, Status

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


def _base(cid: str, title: str, required: bool, src: str | None, group: str = "firewall") -> Any:
    return dict(id=cid, title=title, required=required, group=group, source=src)


def _stun(profile: Profile, name: str, host: str, transport: str, required: bool,
          m: Measurement | None) -> Check:
    src = source(profile, profile.targets[name].source)
    base = _base(f"stun.{transport}@{name}", f"STUN {transport.upper()} 3478 to {host}",
                 required, src)
    if m is None or not m.ok:
        return not_measured(base, "", m)
    base = {**base, "evidence": [m.id], "method": m.method}
    v = m.values
    if not v.get("reachable"):
        return failed(base, required, f"no STUN answer from {host} over {transport.upper()}",
                      remedy("stun_blocked", transport=transport.upper(), host=host),
                      measured="no answer")
    return Check(**base, status=Status.PASS, measured=v.get("rtt_ms"), unit="ms",
                 reason=f"STUN {transport.upper()} answered in {v.get('rtt_ms')} ms; public "
                 f"address {v.get('mapped_address')}" + _nat_note(v.get("behind_nat")))


def _nat_note(behind: object) -> str:
    return " (behind NAT)" if behind else ""


def _nat(profile: Profile, name: str, by_id: dict[str, Measurement]) -> Iterator[Check]:
    m = by_id.get(f"stun:udp:{name}")
    if m is not None and m.ok and m.values.get("reachable"):
        yield _mapping(m)
    lt = by_id.get(f"stun:lifetime:{name}")
    if lt is not None:
        yield _lifetime(profile, lt)


def _mapping(m: Measurement) -> Check:
    base = {**_base("nat.mapping", "NAT keeps one public port per phone socket", False, None),
            "evidence": [m.id], "method": "rfc5780"}
    mapping = m.values.get("mapping")
    if not m.values.get("rfc5780"):
        return Check(**base, status=Status.SKIPPED,
                     reason="the STUN server offers no OTHER-ADDRESS (RFC 5780): NAT behaviour "
                     "discovery not possible against it")
    if mapping is None:
        return Check(**base, status=Status.NOT_MEASURED,
                     reason="no answer from the STUN server's alternate address")
    filt = m.values.get("filtering")
    text = f"NAT mapping {mapping}, filtering {filt} (RFC 5780)"
    if mapping != "endpoint-independent":
        return failed(base, False, text, remedy("nat_symmetric", mapping=str(mapping)),
                      measured=str(mapping))
    return Check(**base, status=Status.PASS, measured=str(mapping), reason=text)


def _lifetime(profile: Profile, m: Measurement) -> Check:
    sip = profile.sip
    interval, label = (None, "")
    if sip and sip.keepalive_s:
        interval, label = sip.keepalive_s, "SIP keep-alive interval"
    elif sip and sip.registration_s:
        interval, label = sip.registration_s, "SIP registration interval"
    base = {**_base("nat.binding_lifetime", "idle UDP NAT mapping outlives the SIP keep-alive",
                    interval is not None, source(profile, sip.source if sip else None)),
            "evidence": [m.id], "method": m.method, "unit": "s"}
    if not m.ok:
        return not_measured(base, "", m)
    lo, hi = m.values.get("lifetime_min_s"), m.values.get("lifetime_max_s")
    shown = f"between {lo:g} and {hi:g} s" if isinstance(hi, int | float) else f"over {lo:g} s"
    text = f"idle UDP mapping lifetime {shown}"
    if interval is None:
        return Check(**base, status=Status.SKIPPED, measured=lo,
                     reason=f"{text}; the profile names no keep-alive or registration interval")
    if isinstance(hi, int | float) and hi <= interval:
        return failed(base, True, f"{text}, shorter than the {label} of {interval:g} s",
                      remedy("nat_lifetime", lifetime=f"{hi:g}", interval=f"{interval:g}",
                             interval_name=label), measured=hi)
    if isinstance(lo, int | float) and lo >= interval:
        return Check(**base, status=Status.PASS, measured=lo, limit=f"> {interval:g} s",
                     reason=f"{text}, longer than the {label} of {interval:g} s")
    return Check(**base, status=Status.NOT_MEASURED, measured=lo,
                 reason=f"{text}: the search did not bracket the {label} of {interval:g} s")


def _tls(profile: Profile, by_id: dict[str, Measurement]) -> Iterator[Check]:
    for i, rule in enumerate(profile.ports):
        m = by_id.get(f"tls:{i}")
        host = profile.resolve_destination(rule.destination)
        if not rule.tls or m is None or not host:
            continue
        base = {**_base(f"tls.{rule.port}@{rule.destination}",
                        f"no TLS interception on {host}:{rule.port} ({rule.purpose})", False,
                        source(profile, rule.source)),
                "evidence": [m.id], "method": m.method}
        if not m.ok:
            yield not_measured(base, "", m)
            continue
        v = m.values
        issuer = v.get("issuer_o") or v.get("issuer_cn") or "unknown"
        if v.get("verified"):
            yield Check(**base, status=Status.PASS, measured=str(issuer),
                        reason=f"certificate verified, issued by {issuer} ({v.get('tls_version')})")
        else:
            err = str(v.get("verify_error"))
            yield failed(base, False, f"certificate not trusted: {err}; issuer {issuer}",
                         remedy("tls_inspection", host=host, port=str(rule.port), error=err,
                                issuer=str(issuer)), measured=str(issuer))


def _sip_alg(profile: Profile, by_id: dict[str, Measurement]) -> Check:
    src = source(profile, profile.sip.source if profile.sip else None)
    base = _base("sip.alg", "no SIP ALG on the path", True, src)
    ms_ = [m for k in ("sip_alg:udp", "sip_alg:tcp") if (m := by_id.get(k)) is not None]
    if not ms_:
        return Check(**base, status=Status.NOT_MEASURED,
                     reason="SIP ALG detection needs a netcheck responder (--responder) or a SIP "
                     "host in the profile; not run")
    base = {**base, "evidence": [m.id for m in ms_], "method": ms_[0].method}
    good = [m for m in ms_ if m.ok]
    if not good:
        return not_measured(base, "", ms_[0])
    if good[0].confidence != "high":
        return _sip_heuristic(base, good[0])
    fields = sorted({f"{r['field']} ({m.id.split(':')[1].upper()})" for m in good
                     for r in _rewrites(m)})
    if fields:
        return failed(base, True, f"SIP ALG found: rewritten {', '.join(fields)}",
                      remedy("sip_alg", fields=", ".join(fields)), measured="rewritten")
    broken = [m for m in good if m.values.get("large_message_ok") is False]
    if broken:
        octets = broken[0].values.get("large_message_octets") or "> 1500"
        return failed(base, True, "SIP passes unmodified, but a large SIP message did not",
                      remedy("sip_large", octets=str(octets)), measured="large message lost")
    shown = "/".join(m.id.split(":")[1].upper() for m in good)
    return Check(**base, status=Status.PASS, measured="unmodified",
                 reason=f"SIP crossed the path byte for byte ({shown} 5060, mirror)")


def _sip_heuristic(base: Any, m: Measurement) -> Check:
    v = m.values
    if v.get("alg_suspected"):
        return failed(base, True, f"SIP ALG suspected (heuristic, low confidence): the server "
                      f"saw Via {v.get('via_returned_sent_by')}, sent {v.get('via_sent_by')}",
                      remedy("sip_alg", fields="Via"), measured="rewritten")
    return Check(**base, status=Status.NOT_MEASURED,
                 reason="heuristic (SIP OPTIONS, low confidence) found no rewrite, which cannot "
                 "exclude an ALG; run with a netcheck responder (--responder) to prove it")


def _rewrites(m: Measurement) -> list[dict[str, Any]]:
    """The SIP ALG probe's rewrite records (dicts with ``field``) of one measurement."""
    rewrites = m.values.get("rewrites")
    return [r for r in rewrites if isinstance(r, dict)] if isinstance(rewrites, list) else []
