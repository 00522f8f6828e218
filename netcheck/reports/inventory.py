"""Phone inventory: the phones the switch audit found, as rows and as CSV.

``basis`` says why a row is a phone: ``lldp`` / ``cdp`` / ``lldp+cdp`` (the device announces the
telephone capability), ``oui`` (a MAC of a phone-only vendor) or ``oui-candidate`` (the
only MAC on an access port, from a vendor that also builds other devices: check it).

Rendered from measurements only (a result document or a fresh audit), so
``netcheck inventory --result RESULT.json`` and the live command print the same. The CSV
columns fit a provider's MAC-based provisioning import (REQUIREMENTS.md §2, §3): MAC,
vendor, model, IP, switch, port, VLAN, PoE class.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from typing import Any

from netcheck.result import Measurement

__all__ = ["COLUMNS", "phones", "to_csv"]

COLUMNS = ("mac", "vendor", "model", "ip", "switch", "port", "vlan", "poe_class", "basis")


def phones(measurements: Iterable[Measurement]) -> list[dict[str, Any]]:
    """Every phone of every audited switch, sorted by switch and port."""
    rows = []
    for m in measurements:
        if m.probe == "snmp_switch" and m.ok:
            found = m.values.get("phones")
            for phone in found if isinstance(found, list) else []:
                rows.append({col: phone.get(col) for col in COLUMNS})
    return sorted(rows, key=lambda r: (str(r["switch"]), _natural(r["port"]), str(r["mac"])))


def _natural(text: Any) -> list[tuple[int, str]]:
    """Port names in front-panel order: ``gi1/0/7`` before ``gi1/0/13``."""
    return [(int(p), "") if p.isdigit() else (0, p) for p in re.split(r"(\d+)", str(text)) if p]


def to_csv(rows: list[dict[str, Any]]) -> bytes:
    """RFC 4180 CSV with a header line; a cell that a spreadsheet would run as a formula
    (leading ``= + - @``) is prefixed with ``'`` since LLDP texts come from the devices."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_cell(row.get(col)) for col in COLUMNS])
    return out.getvalue().encode()


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
