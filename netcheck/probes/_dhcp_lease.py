"""Does this machine hold a DHCP lease on an interface? Read from the OS's DHCP clients.

Why: a DISCOVER that gets no OFFER within the wait does not prove that the LAN has no DHCP
server (servers that ping an address before offering it answer seconds later; a lost
frame), but a lease the machine holds *right now* for an address it still has on that
interface proves one serves this LAN. The DHCP check must then not say "no DHCP server".

Where leases are kept (read-only, best effort, each source named in the result):
- systemd-networkd: ``/run/systemd/netif/leases/<ifindex>`` (``ADDRESS=``, ``SERVER_ADDRESS=``)
- NetworkManager's internal client: ``/var/lib/NetworkManager/internal-*-<iface>.lease`` (same format)
- ISC dhclient (also NetworkManager with dhcp=dhclient): ``lease { interface "..."; fixed-address
  ...; option dhcp-server-identifier ...; expire N YYYY/MM/DD HH:MM:SS; }`` in
  ``/var/lib/dhcp/``, ``/var/lib/dhclient/``, ``/var/lib/NetworkManager/``
Other systems (macOS ``ipconfig getpacket``, Windows ``GetAdaptersInfo``) are not read here
yet: the answer is then "unknown", and the check says so instead of guessing.
"""

from __future__ import annotations

import datetime as dt
import glob
import re
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Lease", "LeaseLookup", "find_lease", "parse_dhclient", "parse_networkd"]

_DHCLIENT_DIRS = ("/var/lib/dhcp", "/var/lib/dhclient", "/var/lib/NetworkManager")


@dataclass(frozen=True)
class Lease:
    """One lease: the address, the server that granted it, where it was read."""

    interface: str
    address: str
    server: str | None
    source: str


@dataclass(frozen=True)
class LeaseLookup:
    """``lease`` found (or None); ``known`` False when this OS's clients are not read."""

    lease: Lease | None
    known: bool


def find_lease(interface: str, addresses: set[str], root: Path = Path("/")) -> LeaseLookup:
    """A current lease on ``interface`` for one of the ``addresses`` it has now."""
    if not sys.platform.startswith("linux"):
        return LeaseLookup(None, known=False)
    for lease in _linux_leases(interface, root):
        if lease.address in addresses:
            return LeaseLookup(lease, known=True)
    return LeaseLookup(None, known=True)


def _linux_leases(interface: str, root: Path) -> list[Lease]:
    found: list[Lease] = []
    try:
        index = socket.if_nametoindex(interface)
    except OSError:
        index = None
    if index is not None:
        found += _kv_lease(root / f"run/systemd/netif/leases/{index}", interface)
    for path in sorted(glob.glob(str(root / f"var/lib/NetworkManager/internal-*-{interface}.lease"))):
        found += _kv_lease(Path(path), interface)
    for directory in _DHCLIENT_DIRS:
        for path in sorted(glob.glob(str(root / directory.lstrip("/") / "*.lease*"))):
            found += _read(Path(path), lambda text, p: parse_dhclient(text, p, interface))
    return found


def _kv_lease(path: Path, interface: str) -> list[Lease]:
    return _read(path, lambda text, p: parse_networkd(text, p, interface))


def _read(path: Path, parse: Callable[[str, str], list[Lease]]) -> list[Lease]:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    return parse(text, str(path))


def parse_networkd(text: str, source: str, interface: str) -> list[Lease]:
    """systemd-networkd / NetworkManager-internal lease: KEY=VALUE lines."""
    kv = dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))
    address = kv.get("ADDRESS")
    if not address:
        return []
    return [Lease(interface, address.strip(), (kv.get("SERVER_ADDRESS") or "").strip() or None, source)]


_BLOCK = re.compile(r"lease\s*\{(.*?)\}", re.S)


def parse_dhclient(text: str, source: str, interface: str, now: dt.datetime | None = None) -> list[Lease]:
    """ISC dhclient lease blocks for ``interface`` that have not expired (``expire`` is UTC,
    ``never`` never expires; dhclient.leases(5))."""
    now = now or dt.datetime.now(dt.UTC)
    out = []
    for block in _BLOCK.findall(text):
        iface = re.search(r'interface\s+"([^"]+)"', block)
        addr = re.search(r"fixed-address\s+([\d.]+)", block)
        if not addr or (iface and iface.group(1) != interface) or _expired(block, now):
            continue
        server = re.search(r"option\s+dhcp-server-identifier\s+([\d.]+)", block)
        out.append(Lease(interface, addr.group(1), server.group(1) if server else None, source))
    return out


def _expired(block: str, now: dt.datetime) -> bool:
    m = re.search(r"expire\s+(?:\d+\s+(\d{4})/(\d{1,2})/(\d{1,2})\s+(\d{1,2}):(\d{2}):(\d{2})|never)", block)
    if m is None or m.group(1) is None:
        return False
    y, mo, d, h, mi, s = (int(x) for x in m.groups())
    return dt.datetime(y, mo, d, h, mi, s, tzinfo=dt.UTC) <= now
