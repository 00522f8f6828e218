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
from typing import Any

from netcheck.evaluate._core import REMEDIES, failed, not_measured, remedy
from netcheck.profile import Profile
from netcheck.result import Check, Measurement, Site, Status

WIFI_MIN_DBM = -67.0

REMEDIES.update({
    "link_wifi": "This computer measured over Wi-Fi{signal}: connect it by cable to the phones' switch and "
    "measure again (Wi-Fi delay, jitter and loss would otherwise be blamed on the LAN).",
    "link_duplex": "Set both ends of {interface}'s link to auto-negotiation (or both to the same fixed "
    "speed and full duplex) and replace the cable if frame errors continue.",
    "link_voice_segment": "This computer is not in the phones' network ({phones}): measure from the voice "
    "VLAN (a port in VLAN {vlan}, or a tagged sub-interface, e.g. netcheck --interface {interface}.{vlan}).",
})


def checks(profile: Profile, by_id: dict[str, Measurement], site: Site) -> Iterator[Check]:
    m = by_id.get("local_link")
    if m is None:
        return
    yield wifi_check(m)
    yield duplex_check(m)
    segment = voice_segment_check(m, by_id)
    if segment is not None:
        yield segment


def _base(cid: str, title: str, m: Measurement) -> dict[str, Any]:
    return dict(id=cid, title=title, required=False, group="lan", evidence=[m.id], method=m.method)


def wifi_check(m: Measurement) -> Check:
    base = _base("link.wifi", "this computer is wired, not on Wi-Fi", m)
    if not m.ok:
        return not_measured(base, "", m)
    if m.values.get("type") != "wifi":
        return Check(**base, status=Status.PASS, measured="ethernet",
                     reason=f"{m.target} is a wired (Ethernet) interface")
    dbm = m.values.get("signal_dbm")
    weak = isinstance(dbm, float | int) and dbm < WIFI_MIN_DBM
    signal = f", signal {dbm:g} dBm" if isinstance(dbm, float | int) else ", signal unknown"
    reason = f"{m.target} is a Wi-Fi interface{signal}{' (below the -67 dBm voice minimum)' if weak else ''}; " \
        "Wi-Fi bit rate not given by the OS files read"
    return failed(base, False, reason, remedy("link_wifi", signal=signal), measured="wifi")


def duplex_check(m: Measurement) -> Check:
    base = _base("link.duplex", "this computer's link: full duplex, no mismatch symptoms", m)
    if not m.ok:
        return not_measured(base, "", m)
    duplex, delta = m.values.get("duplex"), m.values.get("counters_delta")
    if duplex is None and not isinstance(delta, dict):
        return not_measured(base, "the driver reports neither duplex nor error counters", None)
    counts: dict[str, int] = delta if isinstance(delta, dict) else {}
    grew = {k: v for k, v in counts.items() if k in ("rx_frame", "tx_colls", "tx_carrier") and v > 0}
    window = m.values.get("sample_s")
    if duplex == "half" or grew:
        parts = [f"{duplex} duplex"] if duplex == "half" else []
        parts += [f"{v} {k.replace('_', ' ')} in {window} s" for k, v in sorted(grew.items())]
        reason = f"{m.target}: {', '.join(parts)}: symptoms of a duplex mismatch or a bad cable"
        return failed(base, False, reason, remedy("link_duplex", interface=m.target), measured=duplex)
    return Check(**base, status=Status.PASS, measured=duplex,
                 reason=f"{m.target}: {duplex or 'unknown'} duplex, no frame errors or collisions in {window} s")


def voice_segment_check(m: Measurement, by_id: dict[str, Measurement]) -> Check | None:
    """None when the phones' segment is unknown (no voice VLAN heard, no voice-VLAN DHCP)."""
    if not m.ok:
        return None
    base = _base("link.voice_segment", "this computer measures from the phones' VLAN / subnet", m)
    lldp = by_id.get("lldp")
    voice_vlan = lldp.values.get("voice_vlan") if lldp and lldp.ok else None
    own_vlan = m.values.get("vlan")
    nets = [ipaddress.ip_interface(n) for n in m.values.get("ipv4_networks") or []]  # type: ignore[union-attr]
    offered = _voice_offer(by_id)
    if isinstance(voice_vlan, int) and voice_vlan != own_vlan:
        where = f"VLAN {own_vlan}" if own_vlan is not None else "the untagged (native) VLAN"
        reason = f"{m.target} is in {where}; the switch announces voice VLAN {voice_vlan}"
        fix = remedy("link_voice_segment", phones=f"voice VLAN {voice_vlan}", vlan=voice_vlan, interface=m.target)
        return failed(base | {"evidence": [m.id, lldp.id]}, False, reason, fix, measured=own_vlan)  # type: ignore[union-attr]
    if offered is not None and not any(n.ip in offered[1] for n in nets):
        reason = f"{m.target} ({', '.join(map(str, nets)) or 'no IPv4'}) is outside the phones' subnet {offered[1]} " \
            f"offered on voice VLAN {offered[0]}"
        fix = remedy("link_voice_segment", phones=str(offered[1]), vlan=offered[0], interface=m.target)
        return failed(base, False, reason, fix, measured=str(nets[0]) if nets else None)
    if voice_vlan is None and offered is None:
        return None
    return Check(**base, status=Status.PASS, measured=own_vlan,
                 reason=f"{m.target} is in the phones' VLAN/subnet (VLAN {own_vlan})")


def _voice_offer(by_id: dict[str, Measurement]) -> tuple[int, ipaddress.IPv4Network | ipaddress.IPv6Network] | None:
    """(VLAN, subnet) of the first DHCP offer heard on a voice VLAN (``dhcp:vlanN``)."""
    for key, m in sorted(by_id.items()):
        offers = m.values.get("offers")
        if m.probe != "dhcp" or not key.startswith("dhcp:vlan") or not m.ok or not isinstance(offers, list):
            continue
        for offer in offers:
            if isinstance(offer, dict) and offer.get("yiaddr") and offer.get("subnet_mask"):
                net = ipaddress.ip_interface(f"{offer['yiaddr']}/{offer['subnet_mask']}").network
                return int(key.removeprefix("dhcp:vlan")), net
    return None
