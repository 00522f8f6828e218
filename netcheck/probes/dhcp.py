"""DHCP: which servers answer on this segment, and what they hand out. Never keeps a lease.

The hosted-PBX requirement (VSE NET, REQUIREMENTS.md §2) is "a DHCP server with private IP
addresses, a DNS server, and without DHCP options": phones that get option 66/150/43/120
try to provision from a local server instead of the provider's. Two answering servers mean
a rogue (or forgotten) DHCP server, which hands phones a wrong gateway at random.

How, and why so:
- DISCOVER only, never REQUEST: a server commits a binding only on REQUEST (RFC 2131
  §4.3.2), so nothing is leased and the pool is not drained;
- a random ``xid`` and a random *locally administered* ``chaddr`` (RFC 2131 §2, IEEE 802
  U/L bit): the real client's lease and binding (keyed by its MAC/client id) are never
  touched or collided with, and our replies are told apart from anybody else's;
- the Ethernet source stays the NIC's own MAC (a random source MAC could trip switch
  port-security), and the broadcast flag makes servers broadcast the OFFER, since it is
  addressed to a ``chaddr`` the NIC would not accept;
- the wait is bounded (6 s by default, :data:`DEFAULT_WAIT_S`): every OFFER within it is
  kept, one per server id; the DISCOVER is sent twice (at 0 and, as RFC 2131 4.1 retransmits,
  after 4 s or half a shorter wait; same xid) against a lost frame;
- the machine's own lease on the interface (``_dhcp_lease``) is reported beside the offers:
  evidence that a server serves this LAN even when its OFFER came too late;
- the parameter request list asks for what a desk phone asks for, including 43/66/120/150,
  because servers commonly send only requested options.

``vlan`` probes the voice VLAN tagged through the 802.1Q sub-interface ``<iface>.<vlan>``
(which must exist; the probe does not change the host's network configuration).
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import time
from typing import Any

from netcheck.probes import _dhcp_lease, _rawl2
from netcheck.probes._common import Context, Timer, ms
from netcheck.probes.specs import DhcpSpec as Spec
from netcheck.result import ErrorKind, Measurement, ProbeError, Value
from netcheck.wire import dhcp as wire

#: Options shown by value in the result (the provisioning ones and the basic network ones).
_SHOWN = {1: "ip", 3: "ip", 6: "ip", 54: "ip", 150: "ip", 66: "text", 43: "hex", 120: "hex"}


#: RFC 2131 section 4.1: a client retransmits its DISCOVER after 4 s (then 8, 16 ... s).
RFC2131_FIRST_RETRANSMIT_S = 4.0


async def run(spec: Spec, ctx: Context) -> Measurement:
    """Phases: capability, interface, exchange (worker thread), result."""
    timer = Timer()
    base, problem = _rawl2.capture_interface(spec.interface, ctx.caps)
    iface = f"{base}.{spec.vlan}" if base and spec.vlan is not None else base
    target = iface or "default interface"
    method = "dhcp-discover"  # the VLAN is in the target (eth0.100) and in values["vlan"]
    if problem is not None or iface is None:
        return timer.measurement(
            id=spec.id, probe="dhcp", target=target, method=method, error=problem
        )
    wait = max(0.2, ctx.timeout(spec.wait_s + 1.0) - 1.0)
    ctx.progress(f"DHCP DISCOVER on {iface}, collecting offers for {wait:.1f} s")
    try:
        values = await asyncio.to_thread(_exchange, iface, wait)
    except (OSError, ValueError) as exc:
        err = _rawl2.describe_error(exc, iface)
        if spec.vlan is not None and err.kind is ErrorKind.NO_TARGET:
            parent = iface.rsplit(".", 1)[0]
            hint = f"ip link add link {parent} name {iface} type vlan id {spec.vlan}"
            err = ProbeError(kind=ErrorKind.NO_TARGET, detail=f"{err.detail}; create it: {hint}")
        return timer.measurement(id=spec.id, probe="dhcp", target=iface, method=method, error=err)
    values["vlan"] = spec.vlan
    values.update(lease_values(iface))
    return timer.measurement(id=spec.id, probe="dhcp", target=iface, method=method, values=values)


def lease_values(iface: str) -> dict[str, Value]:
    """The DHCP lease this machine holds on ``iface`` for an address it has now (evidence
    that a DHCP server serves this LAN even if no OFFER came within the wait)."""
    import psutil

    addrs = {a.address for a in psutil.net_if_addrs().get(iface, []) if a.family == socket.AF_INET}
    found = _dhcp_lease.find_lease(iface, addrs)
    lease = found.lease
    return {
        "lease_known": found.known,
        "lease": None if lease is None else {"address": lease.address, "server": lease.server,
                                             "source": lease.source},
    }


def random_chaddr() -> bytes:
    """Random unicast MAC with the locally administered bit set (first octet xxxxxx10)."""
    raw = bytearray(secrets.token_bytes(6))
    raw[0] = (raw[0] & 0xFC) | 0x02
    return bytes(raw)


def _exchange(iface: str, wait_s: float) -> dict[str, Value]:
    """Send DISCOVER, collect OFFERs until the wait ends (blocking; runs in a thread)."""
    xid, chaddr = secrets.randbits(32), random_chaddr()
    sock = _rawl2.open_socket(iface, _rawl2.ETH_P_IP, promisc=False)
    try:
        frame = wire.discover_frame(_own_mac(sock, iface), wire.build_discover(xid, chaddr))
        t0 = time.monotonic()
        offers: dict[str, dict[str, Value]] = {}
        sent = 0
        for deadline in (t0 + retransmit_after_s(wait_s), t0 + wait_s):
            sock.send(frame)
            sent += 1
            _rawl2.receive(
                [sock], deadline, lambda data, t: _collect(data, t - t0, xid, chaddr, offers)
            )
    finally:
        sock.close()
    firsts = [o["delay_ms"] for o in offers.values() if isinstance(o["delay_ms"], float)]
    return {
        "interface": iface,
        "xid": f"0x{xid:08x}",
        "chaddr": chaddr.hex(":"),
        "wait_s": round(wait_s, 3),
        "discovers_sent": sent,
        "offer_count": len(offers),
        "servers": sorted(offers),
        "offers": [offers[k] for k in sorted(offers)],
        "first_offer_ms": min(firsts, default=None),
    }


def retransmit_after_s(wait_s: float) -> float:
    """When to send the second DISCOVER: RFC 2131 section 4.1's first retransmission after
    4 s (a client's own timing, so servers are built for it) when the wait leaves at least
    a second for its answer, else half the wait."""
    if wait_s >= RFC2131_FIRST_RETRANSMIT_S + 1.0:
        return RFC2131_FIRST_RETRANSMIT_S
    return wait_s / 2


def _own_mac(sock: Any, iface: str) -> bytes:
    """The NIC's MAC: from the AF_PACKET socket name on Linux, else scapy's lookup."""
    name: tuple[Any, ...] = getattr(getattr(sock, "ins", None), "getsockname", lambda: ())()
    if len(name) >= 5 and len(name[4]) == 6:
        return bytes(name[4])
    from scapy.arch import get_if_hwaddr

    return bytes.fromhex(get_if_hwaddr(iface).replace(":", ""))


def _collect(
    frame: bytes, elapsed_s: float, xid: int, chaddr: bytes, offers: dict[str, dict[str, Value]]
) -> bool:
    """Keep a matching OFFER (same xid and chaddr), first one per server; never stop early."""
    found = wire.bootp_from_frame(frame)
    if found is None:
        return False
    try:
        offer = wire.parse_offer(found[0])
    except wire.DhcpError:
        return False
    if offer.xid != xid or offer.chaddr[:6] != chaddr or offer.message_type != wire.OFFER:
        return False
    server = offer.server_id or offer.siaddr
    offers.setdefault(server, summarize(offer, ms(elapsed_s), found[1]))
    return False


def summarize(offer: wire.Offer, delay_ms: float, vlan: int | None = None) -> dict[str, Value]:
    """The result document's view of one OFFER (option numbers per RFC 2132)."""
    lease = offer.options.get(51)
    return {
        "server_id": offer.server_id,
        "yiaddr": offer.yiaddr,
        "delay_ms": delay_ms,
        "subnet_mask": next(iter(offer.ipv4_list(1)), None),
        "routers": offer.ipv4_list(3),
        "dns": offer.ipv4_list(6),
        "lease_s": int.from_bytes(lease, "big") if lease else None,
        "options": sorted(offer.options),
        "option_values": _shown(offer),
        "tag_vlan": vlan,
    }


def _shown(offer: wire.Offer) -> dict[str, Value]:
    out: dict[str, Value] = {}
    for num, kind in _SHOWN.items():
        raw = offer.options.get(num)
        if raw is None:
            continue
        if kind == "ip" and len(raw) % 4 == 0:
            out[str(num)] = offer.ipv4_list(num)
        elif kind == "text":
            out[str(num)] = raw.decode("ascii", "replace").rstrip("\x00")
        else:
            out[str(num)] = raw.hex()
    return out
