"""LLDP / CDP listen: what the switch port this machine is plugged into says about itself.

Switch name, port, port VLAN, the LLDP-MED voice network policy (VLAN, 802.1p priority,
DSCP: ANSI/TIA-1057 §10.2.3), PoE (IEEE 802.3 clause 79 and TIA-1057 extended power) and the
port's MAU type (speed/duplex). Passive: nothing is sent.

The wait is bounded: LLDP's default transmit interval is 30 s (IEEE 802.1AB msgTxInterval),
so the full run waits 35 s (one interval plus margin); CDP's default is 60 s, so a
CDP-only switch may be missed and the result says which protocols were heard. Listening
stops at the first LLDPDU (LLDP-MED is what phones use); CDP frames heard before it are
decoded too. Frames are decoded by :mod:`netcheck.wire.lldp`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

from netcheck.probes import _rawl2
from netcheck.probes._common import Context, Timer, ms
from netcheck.probes.specs import LldpSpec as Spec
from netcheck.result import Measurement, Value
from netcheck.wire import lldp as wire


async def run(spec: Spec, ctx: Context) -> Measurement:
    """Phases: capability, interface, listen (worker thread), result."""
    timer = Timer()
    iface, problem = _rawl2.capture_interface(spec.interface, ctx.caps)
    target = iface or "default interface"
    if problem is not None or iface is None:
        return timer.measurement(
            id=spec.id, probe="lldp", target=target, method="lldp/cdp listen", error=problem
        )
    wait = max(0.2, ctx.timeout(spec.wait_s + 1.0) - 1.0)
    ctx.progress(f"listening for LLDP/CDP on {iface} for up to {wait:.0f} s")
    try:
        values = await asyncio.to_thread(_listen, iface, wait)
    except (OSError, ValueError) as exc:
        err = _rawl2.describe_error(exc, iface)
        return timer.measurement(
            id=spec.id, probe="lldp", target=iface, method="lldp/cdp listen", error=err
        )
    return timer.measurement(
        id=spec.id, probe="lldp", target=iface, method="lldp/cdp listen", values=values
    )


def _listen(iface: str, wait_s: float) -> dict[str, Value]:
    """Blocking capture (runs in a thread): LLDP ethertype socket + 802.2 socket for CDP."""
    found: dict[str, Any] = {"frames": 0}
    socks = [_open(iface, _rawl2.ETH_P_LLDP), _open(iface, _rawl2.ETH_P_802_2)]
    t0 = time.monotonic()
    try:
        _rawl2.receive(socks, t0 + wait_s, lambda frame, t: _take(frame, t - t0, found))
    finally:
        for sock in socks:
            sock.close()
    return summarize(
        found.get("lldp"), found.get("cdp"), found.get("first_s"), found["frames"], wait_s
    )


def _open(iface: str, ethertype: int) -> Any:
    sock = _rawl2.open_socket(iface, ethertype, promisc=False)
    try:
        joined = _rawl2.join_multicast(sock, iface, (wire.LLDP_MAC, wire.CDP_MAC))
    except OSError:
        joined = False
    if joined:
        return sock
    sock.close()
    return _rawl2.open_socket(iface, ethertype, promisc=True)


def _take(frame: bytes, elapsed_s: float, found: dict[str, Any]) -> bool:
    """Decode one frame; True (stop) at the first LLDPDU."""
    kind = wire.classify_frame(frame)
    if kind is None:
        return False
    found["frames"] += 1
    found.setdefault("first_s", elapsed_s)
    if kind[0] == "cdp":
        found.setdefault("cdp", wire.parse_cdp(kind[1]))
        return False
    found["lldp"] = wire.parse_lldp(kind[1])
    found["lldp_s"] = elapsed_s
    return True


def summarize(
    lldp: wire.LldpInfo | None,
    cdp: wire.CdpInfo | None,
    first_s: float | None,
    frames: int,
    wait_s: float,
) -> dict[str, Value]:
    """Top-level values the checks use, plus the full decode of each protocol."""
    voice = next((p for p in (lldp.med_policies if lldp else []) if p.app_type == 1), None)
    values: dict[str, Value] = {
        "protocols": [name for name, info in (("lldp", lldp), ("cdp", cdp)) if info is not None],
        "frames": frames,
        "wait_s": round(wait_s, 3),
        "first_frame_ms": ms(first_s) if first_s is not None else None,
        "system_name": (lldp.system_name if lldp else None) or (cdp.device_id if cdp else None),
        "port_id": (lldp.port_id if lldp else None) or (cdp.port_id if cdp else None),
        "port_description": lldp.port_description if lldp else None,
        "port_vlan": (lldp.port_vlan if lldp else None) or (cdp.native_vlan if cdp else None),
        "med_voice_policy": dataclasses.asdict(voice) if voice else None,
        "voice_vlan": (voice.vlan if voice else None) or (cdp.voice_vlan if cdp else None),
        "voice_dscp": voice.dscp if voice else None,
        "port_speed_mbps": lldp.speed_mbps if lldp else None,
        "port_duplex": (lldp.duplex if lldp else None) or (cdp.duplex if cdp else None),
        "lldp": _plain(lldp),
        "cdp": _plain(cdp),
    }
    return values


def _plain(info: object) -> dict[str, Any] | None:
    return dataclasses.asdict(info) if info is not None and dataclasses.is_dataclass(info) else None  # type: ignore[arg-type]
