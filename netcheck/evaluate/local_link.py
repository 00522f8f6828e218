"""The measuring computer's own link (probe ``local_link``): Wi-Fi, duplex mismatch, VLAN.

All informative (``required`` False): they say why LAN figures may not be the phones'
figures, and what to change before measuring again.

- ``link.wifi``: measuring over Wi-Fi. -67 dBm is the minimum signal the voice-over-WLAN
  design guides (Cisco, Aruba) plan for; weaker means retries and roaming gaps.
- ``link.duplex``: half duplex, or the symptoms of a duplex mismatch during the run —
  receive frame (CRC/alignment) errors and collisions (IEEE 802.3 clause 4: a full-duplex
  end never sees collisions; its half-duplex peer sees late collisions, and the full-
  duplex end receives the damaged frames).
- ``link.voice_segment``: this computer in another VLAN / subnet than the phones: the
  voice VLAN the switch announces (LLDP-MED / CDP) or the subnet a DHCP server offers on
  the voice VLAN, against this computer's VLAN and addresses.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from netcheck import ids
from netcheck.evaluate._core import Qty, base, check, failed, msg, not_measured, remedy
from netcheck.profile import Profile
from netcheck.result import Check, Item, Measurement, Msg, Site, Status

WIFI_MIN_DBM = -67.0

# Remedies, titles and reasons: netcheck/i18n/{en,de}.json (remedy.*, title.*, reason.*).


def checks(profile: Profile, by_id: dict[str, Measurement], site: Site) -> Iterator[Check]:
    m = by_id.get(ids.LOCAL_LINK)
    if m is None:
        return
    yield wifi_check(m)
    yield duplex_check(m)
    segment = voice_segment_check(m, by_id)
    if segment is not None:
        yield segment


def _base(cid: str, m: Measurement) -> dict[str, object]:
    b = base(cid, f"title.{cid}", required=False, group="lan")
    b.update(evidence=[m.id], method=m.method)
    return b


def wifi_check(m: Measurement) -> Check:
    b = _base("link.wifi", m)
    if not m.ok:
        return not_measured(b, m)
    if m.values.get("type") != "wifi":
        b["measured_key"] = "measured.link_wired"
        return check(b, Status.PASS, "reason.link_wired", measured="ethernet", interface=m.target)
    b["measured_key"] = "measured.link_wifi"
    dbm = m.values.get("signal_dbm")
    signal: Item = Qty(float(dbm), "dBm") if isinstance(dbm, float | int) else msg("link.signal_unknown")
    weak = isinstance(dbm, float | int) and dbm < WIFI_MIN_DBM
    key = "reason.link_wifi_weak" if weak else "reason.link_wifi"
    fix = remedy("link_wifi", signal=signal)
    return failed(b, False, key, fix, measured="wifi", interface=m.target, signal=signal,
                  minimum=Qty(WIFI_MIN_DBM, "dBm"))


def duplex_check(m: Measurement) -> Check:
    b = _base("link.duplex", m)
    if not m.ok:
        return not_measured(b, m)
    duplex, delta = m.values.get("duplex"), m.values.get("counters_delta")
    if duplex is None and not isinstance(delta, dict):
        return not_measured(b, None, msg("link.no_counters"))
    counts: dict[str, int] = delta if isinstance(delta, dict) else {}
    window = Qty(float(m.values.get("sample_s") or 0.0), "s")  # type: ignore[arg-type]
    grew = {k: v for k, v in counts.items() if k in SYMPTOMS and v > 0}
    key = f"duplex.{duplex if duplex in ('full', 'half') else 'unknown'}"
    if duplex == "half" or grew:
        symptoms: list[Item] = [msg("link.half_duplex")] if duplex == "half" else []
        symptoms += [msg(f"link.counter.{k}", n=v, window=window) for k, v in sorted(grew.items())]
        b["measured_key"] = key
        return failed(b, False, "reason.link_duplex_bad", remedy("link_duplex", interface=m.target),
                      measured=str(duplex), interface=m.target, symptoms=symptoms)
    if duplex != "full":  # no symptoms, but the duplex itself is not known: not a pass
        return check(b, Status.NOT_MEASURED, "reason.link_duplex_unknown", interface=m.target, window=window)
    b["measured_key"] = key
    return check(b, Status.PASS, "reason.link_duplex_ok", measured=str(duplex), interface=m.target, duplex=msg(key),
                 window=window)


#: /proc/net/dev counters that grow with a duplex mismatch or a bad cable
SYMPTOMS = ("rx_frame", "tx_colls", "tx_carrier")


def voice_segment_check(m: Measurement, by_id: dict[str, Measurement]) -> Check | None:
    """None when the phones' segment is unknown (no voice VLAN heard, no voice-VLAN DHCP)."""
    if not m.ok:
        return None
    b = _base("link.voice_segment", m)
    lldp = by_id.get(ids.LLDP)
    voice_vlan = lldp.values.get("voice_vlan") if lldp and lldp.ok else None
    own_vlan = m.values.get("vlan")
    where: Msg = msg("link.vlan", vlan=own_vlan) if isinstance(own_vlan, int) else msg("link.native_vlan")
    nets = [ipaddress.ip_interface(n) for n in m.values.get("ipv4_networks") or []]  # type: ignore[union-attr]
    offered = _voice_offer(by_id)
    if lldp is not None and isinstance(voice_vlan, int) and voice_vlan != own_vlan:
        fix = remedy("link_voice_segment", phones=msg("link.vlan", vlan=voice_vlan), vlan=voice_vlan,
                     interface=m.target)
        return failed({**b, "evidence": [m.id, lldp.id]}, False, "reason.link_vlan_other", fix,
                      measured=own_vlan if isinstance(own_vlan, int) else None, interface=m.target, where=where,
                      vlan=voice_vlan)
    if offered is not None and not any(n.ip in offered[1] for n in nets):
        fix = remedy("link_voice_segment", phones=str(offered[1]), vlan=offered[0], interface=m.target)
        return failed(b, False, "reason.link_subnet_other", fix, measured=str(nets[0]) if nets else None,
                      interface=m.target, networks=[str(n) for n in nets] or msg("field.none"),
                      subnet=str(offered[1]), vlan=offered[0])
    if voice_vlan is None and offered is None:
        return None
    return check(b, Status.PASS, "reason.link_voice_ok", measured=own_vlan if isinstance(own_vlan, int) else None,
                 interface=m.target, where=where)


def _voice_offer(by_id: dict[str, Measurement]) -> tuple[int, ipaddress.IPv4Network | ipaddress.IPv6Network] | None:
    """(VLAN, subnet) of the first DHCP offer heard on a voice VLAN (``dhcp:vlanN``)."""
    for key, m in sorted(by_id.items()):
        offers = m.values.get("offers")
        if m.probe != "dhcp" or not key.startswith(ids.DHCP_VLAN_PREFIX) or not m.ok or not isinstance(offers, list):
            continue
        for offer in offers:
            if isinstance(offer, dict) and offer.get("yiaddr") and offer.get("subnet_mask"):
                net = ipaddress.ip_interface(f"{offer['yiaddr']}/{offer['subnet_mask']}").network
                return int(key.removeprefix("dhcp:vlan")), net
    return None
