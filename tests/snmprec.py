"""Read snmpsim ``.snmprec`` recordings (``OID|tag|value`` per line) into the values the
probe's walker produces, so decoding is tested on exactly what a recording serves.

Tags (snmpsim's numeric ASN.1 tags): 2 Integer32, 4 OCTET STRING (``4x`` = hex), 6 OID,
64 IpAddress, 65 Counter32, 66 Gauge32, 67 TimeTicks, 70 Counter64; ``#`` lines are
comments (our hand-made recordings say where they come from there).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from netcheck.wire.lan_model import COLUMNS, Tables

#: LibreNMS device recordings, copied unchanged into the repository (with their README:
#: source commit, licence, quirks) so a clean clone tests the switch audit on its own.
HANDMADE = Path(__file__).resolve().parent / "data" / "snmp"
LIBRENMS = HANDMADE / "librenms"
SYSTEM = {"sysDescr": "1.3.6.1.2.1.1.1.0", "sysObjectID": "1.3.6.1.2.1.1.2.0", "sysName": "1.3.6.1.2.1.1.5.0"}


def value(tag: str, text: str) -> Any:
    base = tag.split(":")[0]
    if base == "4x":
        return bytes.fromhex(text)
    if base == "4":
        return text.encode()
    if base == "64":
        return bytes(int(x) for x in text.split("."))
    if base == "6":
        return text
    if base in ("2", "65", "66", "67", "70"):
        return int(text)
    return None


def load(path: Path) -> dict[str, Any]:
    """OID -> value of one recording."""
    out: dict[str, Any] = {}
    for line in path.read_text(encoding="utf-8", errors="surrogateescape").splitlines():
        if not line or line.startswith("#"):
            continue
        oid, tag, text = line.split("|", 2)
        out[oid] = value(tag, text)
    return out


def tables(path: Path) -> tuple[dict[str, Any], Tables]:
    """(system scalars, column tables) as :func:`netcheck.wire.lan_model.decode` takes them."""
    data = load(path)
    system = {name: data.get(oid) for name, oid in SYSTEM.items()}
    cols: Tables = {}
    for name, base in COLUMNS.items():
        prefix = base + "."
        rows = {
            tuple(int(x) for x in oid[len(prefix) :].split(".")): v for oid, v in data.items() if oid.startswith(prefix)
        }
        if rows:
            cols[name] = rows
    return system, cols


def recording(name: str) -> Path:
    path = LIBRENMS / f"{name}.snmprec"
    return path if path.exists() else HANDMADE / f"{name}.snmprec"
