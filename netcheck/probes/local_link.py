"""The measuring computer's own link: Wi-Fi or cable, signal, duplex-mismatch symptoms, VLAN.

Why: a measurement taken over Wi-Fi measures the Wi-Fi (retries, airtime contention) and
blames the LAN for it; a port with a duplex mismatch loses frames only under load (late
collisions on the half-duplex end, CRC / frame errors on the full-duplex end); and a
laptop plugged into the data VLAN measures a path the phones (voice VLAN) do not use.

Sources (Linux; per network namespace, so ``/proc/thread-self`` first, as
:mod:`netcheck.probes.link` does): ``/proc/net/wireless`` (Wireless Extensions table:
link quality, signal and noise level in dBm) and ``/sys/class/net/<if>/wireless`` or
``phy80211`` to tell Wi-Fi; ``/proc/net/dev`` error counters (rx ``frame`` errors, tx
``colls`` collisions and ``carrier`` errors) read twice, ``sample_s`` apart, so the result
holds both the totals and what grew during the run; ``/proc/net/vlan/config`` for the
802.1Q VLAN of the interface; psutil for speed, duplex and addresses. The Wi-Fi bit rate
is not in these files (only nl80211 has it): reported as unknown. Other systems: the
interface type and counters are unknown (``UNSUPPORTED``), never guessed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import sys
from pathlib import Path

import psutil

from netcheck.platform import capabilities
from netcheck.probes._common import Context, Timer, error
from netcheck.probes.link import default_route
from netcheck.probes.specs import LocalLinkSpec as Spec
from netcheck.result import ErrorKind, Measurement, Value

PROC_NET = (Path("/proc/thread-self/net"), Path("/proc/net"))
SYS_NET = Path("/sys/class/net")
COUNTERS = ("rx_errors", "rx_frame", "tx_errors", "tx_colls", "tx_carrier")


def supported() -> bool:
    """The capability check: these files exist on Linux only."""
    return sys.platform.startswith("linux")


async def run(spec: Spec, ctx: Context) -> Measurement:
    timer = Timer()
    iface = spec.interface or default_route()[1]
    target = iface or "default interface"
    if not supported():
        return timer.measurement(id=spec.id, probe="local_link", target=target, method="procfs",
                                 error=error(ErrorKind.UNSUPPORTED, f"link type and error counters are "
                                             f"not read on {sys.platform}: state unknown"))
    if iface is None or iface not in psutil.net_if_stats():
        return timer.measurement(id=spec.id, probe="local_link", target=target, method="procfs",
                                 error=error(ErrorKind.NO_TARGET, f"interface {target!r} not found"))
    before = read_counters(iface)
    await asyncio.sleep(min(spec.sample_s, ctx.remaining()))
    after = read_counters(iface)
    values = describe(iface) | {"counters": after, "counters_delta": _delta(before, after),
                                "sample_s": spec.sample_s}
    return timer.measurement(id=spec.id, probe="local_link", target=iface, method="procfs", values=values)


def _read(name: str) -> str | None:
    for base in PROC_NET:
        try:
            return (base / name).read_text()
        except OSError:
            continue
    return None


def parse_proc_wireless(text: str) -> dict[str, dict[str, float | None]]:
    """``/proc/net/wireless``: per interface link quality, signal and noise (dBm). Values
    with a trailing ``.`` are updated ones; ``-256`` means "not available" (wireless.h)."""
    out: dict[str, dict[str, float | None]] = {}
    for line in text.splitlines()[2:]:
        name, sep, rest = line.partition(":")
        fields = rest.split()
        if not sep or len(fields) < 4:
            continue
        quality, level, noise = (float(f.rstrip(".")) for f in fields[1:4])
        out[name.strip()] = {"link_quality": quality, "signal_dbm": level if level > -256 else None,
                             "noise_dbm": noise if noise > -256 else None}
    return out


def parse_proc_dev(text: str, iface: str) -> dict[str, int] | None:
    """``/proc/net/dev`` error counters of ``iface`` (receive: errs frame; transmit: errs
    colls carrier)."""
    for line in text.splitlines()[2:]:
        name, sep, rest = line.partition(":")
        f = rest.split()
        if sep and name.strip() == iface and len(f) >= 16:
            return {"rx_errors": int(f[2]), "rx_frame": int(f[5]), "tx_errors": int(f[10]),
                    "tx_colls": int(f[13]), "tx_carrier": int(f[14])}
    return None


def parse_vlan_config(text: str, iface: str) -> int | None:
    """``/proc/net/vlan/config`` rows ``eth0.100 | 100 | eth0``: the VLAN id of ``iface``."""
    for line in text.splitlines()[2:]:
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[0] == iface and parts[1].isdigit():
            return int(parts[1])
    return None


def read_counters(iface: str) -> dict[str, int] | None:
    text = _read("dev")
    return parse_proc_dev(text, iface) if text else None


def describe(iface: str) -> dict[str, Value]:
    wireless = parse_proc_wireless(_read("wireless") or "").get(iface)
    is_wifi = wireless is not None or any((SYS_NET / iface / d).exists() for d in ("wireless", "phy80211"))
    stats = psutil.net_if_stats().get(iface)
    addrs = psutil.net_if_addrs().get(iface, [])
    nets = [str(ipaddress.ip_interface(f"{a.address}/{a.netmask}")) for a in addrs
            if a.family == socket.AF_INET and a.netmask]
    return {
        "interface": iface, "type": "wifi" if is_wifi else "ethernet",
        "signal_dbm": wireless["signal_dbm"] if wireless else None,
        "noise_dbm": wireless["noise_dbm"] if wireless else None,
        "link_quality": wireless["link_quality"] if wireless else None,
        "wifi_rate_mbps": None,
        "speed_mbps": (stats.speed or None) if stats else None,
        "duplex": capabilities.duplex_name(stats.duplex) if stats else None,
        "vlan": parse_vlan_config(_read("vlan/config") or "", iface),
        "ipv4_networks": nets,
    }


def _delta(before: dict[str, int] | None, after: dict[str, int] | None) -> dict[str, int] | None:
    if before is None or after is None:
        return None
    return {k: after[k] - before[k] for k in COUNTERS}
