"""Phone inventory: the phones the switch audit found, as rows and as CSV.

Rendered from measurements only (a result document or a fresh audit), so
``netcheck inventory --result RESULT.json`` and the live command print the same. The CSV
columns fit a provider's MAC-based provisioning import (REQUIREMENTS.md §2, §3): MAC,
vendor, model, IP, switch, port, VLAN, PoE class.
"""

from __future__ import annotations

import csv
import io
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
    return sorted(rows, key=lambda r: (str(r["switch"]), str(r["port"]), str(r["mac"])))


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
