"""PoE per port and PSE power budgets from the standard and the vendor MIBs (sans-I/O).

Every decoder reads its own table into one per-port model (the keys of :data:`EMPTY`):
``admin_enabled`` (the port may power a device), ``detection`` (RFC 3621 vocabulary:
``deliveringPower``, ``searching``, ``disabled``, ``fault``, ``otherFault``), ``power_class``
(IEEE 802.3 class 0..8), ``power_mw`` (drawn now), ``allocated_mw`` (what the PSE set
aside), ``source`` (the MIBs that contributed). The standard POWER-ETHERNET-MIB (RFC
3621) comes first; a vendor table fills only what is still unknown, so two tables never
fight over a fact.

Budgets are per PSE group (one per stack member / slot), never pooled: a phone draws from
the member it is plugged into. Each group states the figure the PSE *admits* new devices
by where the vendor gives it (Cisco cpeExtMainPse and HP: allocated power; Huawei:
reference power; else the sum of the ports' Cisco allocation or Aruba CX reservation when
it exceeds the power drawn), else the power drawn (RFC 3621
``pethMainPseConsumptionPower``), and says which.

Index → ifIndex: RFC 3621 leaves the (group, port) index to the agent; see
:func:`netcheck.wire.lan_model._pse_port_map`. Huawei, MikroTik and Netonix index by ifIndex.
Rows that map to no interface are counted in ``unmapped`` so the audit can say that data
existed but was not decoded.

Juniper EX publishes per-port PoE only in the standard pethPsePortTable, numbered FPC + 1,
port + 1 (the mapping is in :func:`netcheck.wire.lan_model._pse_port_map`). Not decoded (no
definition verified while building this): TP-Link's global tpPoeSystem scalars, Moxa's
PoE table, ARUBAWIRED-POE-MIB's module and main-PSE tables.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["BUDGET_TABLES", "COLUMNS", "EMPTY", "PORT_TABLES", "budgets", "merge", "vendor_ports"]

Rows = dict[tuple[int, ...], Any]
Tables = dict[str, Rows]

_CPE = "1.3.6.1.4.1.9.9.402.1"  # CISCO-POWER-ETHERNET-EXT-MIB cpeExtMIBObjects
_RL_SB = "1.3.6.1.4.1.9.6.1.101.108"  # CISCOSB-POE-MIB rlPoe (Cisco small business)
_RL = "1.3.6.1.4.1.89.108"  # RADLAN-POE-MIB rlPoe (Eltex, Dell, Allied, … RADLAN lineage)
_HP = "1.3.6.1.4.1.11.2.14.11.1.9.1"  # HP-ICF-POE-MIB hpicfPoe (ProCurve / Aruba-OS switches)
_CX = "1.3.6.1.4.1.47196.4.1.1.3.8.1.1.1"  # ARUBAWIRED-POE-MIB arubaWiredPoePethPsePortEntry (AOS-CX)
_HW = "1.3.6.1.4.1.2011.5.25.195"  # HUAWEI-POE-MIB hwPoeMIB
_TP = "1.3.6.1.4.1.11863.6.56.1.1.2.1.1"  # TPLINK-POWER-OVER-ETHERNET-MIB tpPoePortConfigEntry
_MT = "1.3.6.1.4.1.14988.1.1.15.1.1"  # MIKROTIK-MIB mtxrPOEEntry
_NX = "1.3.6.1.4.1.46242.5.1"  # NETONIX-SWITCH-MIB poeStatusEntry

#: column name -> OID (walked like :data:`netcheck.wire.lan_model.COLUMNS`).
COLUMNS: dict[str, str] = {
    # CISCO-POWER-ETHERNET-EXT-MIB cpeExtPsePortEntry (AUGMENTS pethPsePortEntry)
    "cpeExtPsePortEnable": f"{_CPE}.2.1.1",  # auto(1) static(2) limit(3) disable(4)
    "cpeExtPsePortPwrAllocated": f"{_CPE}.2.1.7",  # mW
    # cpeExtMainPseEntry (INDEX pethMainPseGroupIndex)
    "cpeExtMainPseDescr": f"{_CPE}.3.1.2",
    "cpeExtMainPseUsedPower": f"{_CPE}.3.1.4",  # mW allocated to the group's ports
    "cpeExtMainPseRemainingPower": f"{_CPE}.3.1.5",  # mW still admissible
    # CISCOSB-POE-MIB / RADLAN-POE-MIB rlPethPsePortEntry (INDEX group, port)
    "rlSbPethPsePortOutputPower": f"{_RL_SB}.1.1.5",  # mW
    "rlSbPethPsePortOperPowerLimit": f"{_RL_SB}.1.1.9",  # mW
    "rlSbPethPsePortOperStatus": f"{_RL_SB}.1.1.12",  # TruthValue: powering
    "rlPethPsePortOutputPower": f"{_RL}.1.1.5",
    "rlPethPsePortOperPowerLimit": f"{_RL}.1.1.9",
    "rlPethPsePortOperStatus": f"{_RL}.1.1.12",
    # HP-ICF-POE-MIB hpicfPoePethPsePortEntry (AUGMENTS pethPsePortEntry)
    "hpicfPoePethPsePortActualPower": f"{_HP}.1.1.8",  # mW
    "hpicfPoePethPsePortOperStatus": f"{_HP}.1.1.9",  # deny(1) off(2) on(3)
    "hpicfPoePethPsePortPowerMode": f"{_HP}.1.1.10",  # enable(1) disable(2) disableWithFiber(6)
    # hpicfPseFeaturesEntry (INDEX entPhysicalIndex: one row per stack member)
    "hpicfPseAvailablePower": f"{_HP}.6.1.4",  # W
    "hpicfPseUsedPower": f"{_HP}.6.1.5",  # W allocated
    "hpicfPseCurrentPowerDraw": f"{_HP}.6.1.8",  # W drawn
    # ARUBAWIRED-POE-MIB arubaWiredPoePethPsePortEntry (AUGMENTS pethPsePortEntry)
    "arubaWiredPoePethPsePortReservedPower": f"{_CX}.6",  # mW
    "arubaWiredPoePethPsePortPowerDrawn": f"{_CX}.7",  # mW
    "arubaWiredPoePethPsePortOperStatus": f"{_CX}.10",  # deny(1) off(2) on(3)
    "arubaWiredPoePethPsePortPowerClassification": f"{_CX}.12",  # class0(1) .. class8(9)
    # HUAWEI-POE-MIB hwPoePortEntry (INDEX hwPoePortIfIndex)
    "hwPoePortEnable": f"{_HW}.3.1.3",  # EnabledStatus enable(1) disable(2)
    "hwPoePortPdClass": f"{_HW}.3.1.8",
    "hwPoePortReferencePower": f"{_HW}.3.1.9",  # mW guaranteed
    "hwPoePortConsumingPower": f"{_HW}.3.1.10",  # mW
    # hwPoeSlotEntry (INDEX hwPoeSlotId)
    "hwPoeSlotMaximumPower": f"{_HW}.2.1.2",  # mW
    "hwPoeSlotReferencePower": f"{_HW}.2.1.4",  # mW
    "hwPoeSlotConsumingPower": f"{_HW}.2.1.5",  # mW
    # TPLINK-POWER-OVER-ETHERNET-MIB tpPoePortConfigEntry (INDEX port number)
    "tpPoePortStatus": f"{_TP}.2",  # enable(1) disable(0)
    "tpPoePower": f"{_TP}.7",  # 0.1 W
    "tpPoeClass": f"{_TP}.10",  # class0..class4, class-not-defined(7)
    "tpPoePowerStatus": f"{_TP}.11",
    # MIKROTIK-MIB mtxrPOEEntry (INDEX mtxrPOEInterfaceIndex = ifIndex)
    "mtxrPOEStatus": f"{_MT}.3",
    "mtxrPOEPower": f"{_MT}.6",  # 0.1 W
    # NETONIX-SWITCH-MIB poeStatusEntry (INDEX poeStatusIndex = ifIndex)
    "netonixPoeStatus": f"{_NX}.2",  # DisplayString: Off, 24V, 48V, 24VH, 48VH
}

EMPTY: dict[str, Any] = {
    "admin_enabled": None,
    "detection": None,
    "power_class": None,
    "power_mw": None,
    "allocated_mw": None,
    "source": None,
    "pse_port": None,
}

#: tpPoePowerStatus (TPLINK-POWER-OVER-ETHERNET-MIB) -> RFC 3621 detection.
_TP_STATUS = {0: "searching", 1: "searching", 2: "deliveringPower", 3: "fault", 4: "fault", 5: "otherFault"}
_TP_STATUS.update(dict.fromkeys((6, 7, 8, 9), "otherFault"))
#: mtxrPOEStatus (MIKROTIK-MIB): disabled(1) waitingForLoad(2) poweredOn(3) overload(4).
_MT_STATUS = {1: "disabled", 2: "searching", 3: "deliveringPower", 4: "fault"}
_HP_STATUS = {1: "otherFault", 2: "searching", 3: "deliveringPower"}  # deny is a refusal


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value.decode("utf-8", "replace").strip() if isinstance(value, bytes) else None


def _drawn(enabled: bool, power_mw: int | None) -> str | None:
    """Detection from the power drawn, for tables without a status column: power flows
    = deliveringPower; enabled and 0 mW = searching (no device takes power)."""
    if power_mw is None:
        return None
    return "deliveringPower" if power_mw > 0 else ("searching" if enabled else "disabled")


def _scaled(value: Any, factor: int) -> int | None:
    v = _int(value)
    return None if v is None else v * factor


# --------------------------------------------------------------------------- per port

PortMap = Callable[[str, set[tuple[int, ...]]], dict[tuple[int, ...], int]]


def _by_ifindex(ports: set[int]) -> PortMap:
    def where(_table: str, keys: set[tuple[int, ...]]) -> dict[tuple[int, ...], int]:
        return {k: k[-1] for k in keys if k and k[-1] in ports}

    return where


def _cisco_ext(t: Tables, key: tuple[int, ...]) -> dict[str, Any]:
    enable = _int(t.get("cpeExtPsePortEnable", {}).get(key))
    return {
        "admin_enabled": None if enable is None else enable != 4,
        "allocated_mw": _int(t.get("cpeExtPsePortPwrAllocated", {}).get(key)),
        "source": "CISCO-POWER-ETHERNET-EXT-MIB",
    }


def _radlan(prefix: str, mib: str) -> Callable[[Tables, tuple[int, ...]], dict[str, Any]]:
    def decode(t: Tables, key: tuple[int, ...]) -> dict[str, Any]:
        power = _int(t.get(f"{prefix}OutputPower", {}).get(key))
        oper = _int(t.get(f"{prefix}OperStatus", {}).get(key))
        delivering = oper == 1 or (power or 0) > 0
        return {
            "detection": "deliveringPower" if delivering else ("searching" if oper == 2 else None),
            "power_mw": power,
            "allocated_mw": _int(t.get(f"{prefix}OperPowerLimit", {}).get(key)) if delivering else None,
            "source": mib,
        }

    return decode


def _hp(t: Tables, key: tuple[int, ...]) -> dict[str, Any]:
    mode = _int(t.get("hpicfPoePethPsePortPowerMode", {}).get(key))
    oper = _int(t.get("hpicfPoePethPsePortOperStatus", {}).get(key))
    return {
        "admin_enabled": None if mode is None else mode == 1,
        "detection": _HP_STATUS.get(oper or 0),
        "power_mw": _int(t.get("hpicfPoePethPsePortActualPower", {}).get(key)),
        "source": "HP-ICF-POE-MIB",
    }


def _aruba_cx(t: Tables, key: tuple[int, ...]) -> dict[str, Any]:
    """AOS-CX: class 0..8 (802.3bt) where RFC 3621 stops at class 4."""
    cls = _int(t.get("arubaWiredPoePethPsePortPowerClassification", {}).get(key))
    detection = _HP_STATUS.get(_int(t.get("arubaWiredPoePethPsePortOperStatus", {}).get(key)) or 0)
    powered = detection == "deliveringPower"  # the class is valid only while powering
    return {
        "detection": detection,
        "power_class": cls - 1 if powered and cls is not None and 1 <= cls <= 9 else None,
        "power_mw": _int(t.get("arubaWiredPoePethPsePortPowerDrawn", {}).get(key)),
        "allocated_mw": _int(t.get("arubaWiredPoePethPsePortReservedPower", {}).get(key)),
        "source": "ARUBAWIRED-POE-MIB",
    }


def _huawei(t: Tables, key: tuple[int, ...]) -> dict[str, Any]:
    enable = _int(t.get("hwPoePortEnable", {}).get(key))
    power = _int(t.get("hwPoePortConsumingPower", {}).get(key))
    cls = _int(t.get("hwPoePortPdClass", {}).get(key))
    return {
        "admin_enabled": None if enable is None else enable == 1,
        "detection": _drawn(enable == 1, power),
        "power_class": cls if cls is not None and 0 <= cls <= 8 and (power or 0) > 0 else None,
        "power_mw": power,
        "allocated_mw": _int(t.get("hwPoePortReferencePower", {}).get(key)),
        "source": "HUAWEI-POE-MIB",
    }


def _tplink(t: Tables, key: tuple[int, ...]) -> dict[str, Any]:
    admin, cls = _int(t.get("tpPoePortStatus", {}).get(key)), _int(t.get("tpPoeClass", {}).get(key))
    return {
        "admin_enabled": None if admin is None else admin == 1,
        "detection": _TP_STATUS.get(_int(t.get("tpPoePowerStatus", {}).get(key)) or -1),
        "power_class": cls if cls is not None and 0 <= cls <= 4 else None,
        "power_mw": _scaled(t.get("tpPoePower", {}).get(key), 100),
        "source": "TPLINK-POWER-OVER-ETHERNET-MIB",
    }


def _mikrotik(t: Tables, key: tuple[int, ...]) -> dict[str, Any]:
    status = _int(t.get("mtxrPOEStatus", {}).get(key))
    return {
        "admin_enabled": None if status is None else status != 1,
        "detection": _MT_STATUS.get(status or 0),
        "power_mw": _scaled(t.get("mtxrPOEPower", {}).get(key), 100),
        "source": "MIKROTIK-MIB",
    }


def _netonix(t: Tables, key: tuple[int, ...]) -> dict[str, Any]:
    """Netonix ports give passive 24/48 V or 802.3af/at; the status text says only the
    output mode, so it tells whether PoE is on, not whether a device draws power."""
    status = _text(t.get("netonixPoeStatus", {}).get(key))
    return {
        "admin_enabled": None if not status else status.lower() != "off",
        "detection": "disabled" if status and status.lower() == "off" else None,
        "source": "NETONIX-SWITCH-MIB",
    }


#: table label -> (columns whose keys are the port rows, decoder, index kind). Index
#: kinds: "pse" (pethPsePortTable's group, port), "ifindex", "port" (front port number).
PORT_TABLES: dict[str, tuple[tuple[str, ...], Callable[[Tables, tuple[int, ...]], dict[str, Any]], str]] = {
    "cpeExtPsePortTable": (("cpeExtPsePortEnable", "cpeExtPsePortPwrAllocated"), _cisco_ext, "pse"),
    "CISCOSB rlPethPsePortTable": (
        ("rlSbPethPsePortOutputPower", "rlSbPethPsePortOperStatus"),
        _radlan("rlSbPethPsePort", "CISCOSB-POE-MIB"),
        "pse",
    ),
    "RADLAN rlPethPsePortTable": (
        ("rlPethPsePortOutputPower", "rlPethPsePortOperStatus"),
        _radlan("rlPethPsePort", "RADLAN-POE-MIB"),
        "pse",
    ),
    "hpicfPoePethPsePortTable": (
        ("hpicfPoePethPsePortActualPower", "hpicfPoePethPsePortOperStatus"),
        _hp,
        "pse",
    ),
    "arubaWiredPoePethPsePortTable": (
        ("arubaWiredPoePethPsePortPowerDrawn", "arubaWiredPoePethPsePortOperStatus"),
        _aruba_cx,
        "pse",
    ),
    "hwPoePortTable": (("hwPoePortEnable", "hwPoePortConsumingPower"), _huawei, "ifindex"),
    "tpPoePortConfigTable": (("tpPoePortStatus", "tpPoePowerStatus"), _tplink, "port"),
    "mtxrPOETable": (("mtxrPOEStatus", "mtxrPOEPower"), _mikrotik, "ifindex"),
    "Netonix poeStatusTable": (("netonixPoeStatus",), _netonix, "ifindex"),
}


def vendor_ports(
    tables: Tables, ports: dict[int, dict[str, Any]], pse_map: PortMap
) -> tuple[dict[int, list[dict[str, Any]]], dict[str, int]]:
    """ifIndex -> the vendor facts found for it (one dict per table), and per table the
    number of rows that matched no interface."""
    found: dict[int, list[dict[str, Any]]] = {}
    unmapped: dict[str, int] = {}
    for label, (cols, decode, kind) in PORT_TABLES.items():
        keys = {k for c in cols for k in tables.get(c, {}) if k}
        if not keys:
            continue
        where = _locate(kind, label, keys, ports, pse_map)
        for key in keys:
            if key in where:
                found.setdefault(where[key], []).append(decode(tables, key))
        if len(where) < len(keys):
            unmapped[label] = len(keys) - len(where)
    return found, unmapped


def _locate(
    kind: str, label: str, keys: set[tuple[int, ...]], ports: dict[int, dict[str, Any]], pse_map: PortMap
) -> dict[tuple[int, ...], int]:
    if kind == "ifindex":
        return _by_ifindex(set(ports))(label, keys)
    if kind == "pse":
        return pse_map(label, keys)
    ordered = sorted(ports)  # front port number: ifIndex when it is one, else position
    if all(len(k) == 1 and k[0] in ports for k in keys):
        return {k: k[0] for k in keys}
    return {k: ordered[k[0] - 1] for k in keys if len(k) == 1 and 1 <= k[0] <= len(ordered)}


def merge(standard: dict[str, Any] | None, vendor: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The standard facts first; each vendor table fills only what is still ``None``;
    ``source`` names every MIB that contributed a fact."""
    if standard is None and not vendor:
        return None
    out = {**EMPTY, **(standard or {})}
    sources = [out["source"]] if out["source"] else []
    for facts in vendor:
        filled = False
        for key, value in facts.items():
            if key != "source" and out.get(key) is None and value is not None:
                out[key], filled = value, True
        if filled and facts.get("source") and facts["source"] not in sources:
            sources.append(facts["source"])
    out["source"] = " + ".join(sources) or None
    return out


# --------------------------------------------------------------------------- budgets

#: Columns a PSE budget can rest on (for the exposure map).
BUDGET_TABLES = (
    "pethMainPsePower",
    "cpeExtMainPseRemainingPower",
    "hpicfPseAvailablePower",
    "hwPoeSlotMaximumPower",
)

_PSE_OPER = {1: "on", 2: "off", 3: "faulty"}


def budgets(tables: Tables) -> list[dict[str, Any]]:
    """One entry per PSE group / stack member / slot, each with ``free_w`` (what the PSE
    still admits) and ``basis`` (which figure that rests on, in English; ``basis_key``
    names it for the report catalogues: ``pse_basis.<key>``)."""
    groups = _standard_groups(tables)
    _cisco_allocation(tables, groups)
    _port_allocation(tables, groups)
    out = list(groups.values())
    out += _hp_members(tables)
    out += _huawei_slots(tables)
    return out


def _group(group: str, label: str | None = None) -> dict[str, Any]:
    return {
        "group": group,
        "label": label,
        "power_w": None,
        "allocated_w": None,
        "consumption_w": None,
        "free_w": None,
        "basis": None,
        "basis_key": None,
        "oper_status": None,
    }


def _standard_groups(tables: Tables) -> dict[tuple[int, ...], dict[str, Any]]:
    """POWER-ETHERNET-MIB pethMainPseTable: power and consumption in W (RFC 3621)."""
    power = tables.get("pethMainPsePower", {})
    used = tables.get("pethMainPseConsumptionPower", {})
    oper = tables.get("pethMainPseOperStatus", {})
    groups: dict[tuple[int, ...], dict[str, Any]] = {}
    for idx in sorted(set(power) | set(used)):
        if not idx:
            continue
        g = _group(str(idx[0]))
        g["power_w"], g["consumption_w"] = _int(power.get(idx)), _int(used.get(idx))
        g["oper_status"] = _PSE_OPER.get(_int(oper.get(idx)) or 0)
        if g["power_w"] is not None and g["consumption_w"] is not None:
            g["free_w"] = g["power_w"] - g["consumption_w"]
            g["basis"] = "POWER-ETHERNET-MIB power drawn (pethMainPseConsumptionPower)"
            g["basis_key"] = "drawn"
        groups[idx] = g
    return groups


def _cisco_allocation(tables: Tables, groups: dict[tuple[int, ...], dict[str, Any]]) -> None:
    """Cisco admits a device by allocation, not by the power drawn: a port is granted
    its class maximum (or the CDP/LLDP request) whatever it draws, so the remaining
    allocation is what new phones can get (CISCO-POWER-ETHERNET-EXT-MIB
    cpeExtMainPseUsedPower / cpeExtMainPseRemainingPower, mW)."""
    used, remaining = tables.get("cpeExtMainPseUsedPower", {}), tables.get("cpeExtMainPseRemainingPower", {})
    for idx in sorted(set(used) | set(remaining)):
        rem, alloc = _int(remaining.get(idx)), _int(used.get(idx))
        if not idx or rem is None:
            continue
        g = groups.setdefault(idx, _group(str(idx[0])))
        g["label"] = _text(tables.get("cpeExtMainPseDescr", {}).get(idx)) or g["label"]
        g["allocated_w"] = None if alloc is None else alloc / 1000
        g["free_w"] = rem / 1000
        g["basis"] = "Cisco allocation (cpeExtMainPseRemainingPower)"
        g["basis_key"] = "cisco_allocation"


#: Per-port allocation columns indexed like pethPsePortTable (group, port), mW: their sum
#: per group is what the PSE has granted where the agent gives no group total.
_PORT_ALLOCATION = {
    "cpeExtPsePortPwrAllocated": ("cisco_port_allocation", "Cisco port allocation (cpeExtPsePortPwrAllocated)"),
    "arubaWiredPoePethPsePortReservedPower": (
        "aruba_reserved",
        "Aruba reserved power (arubaWiredPoePethPsePortReservedPower)",
    ),
}


def _port_allocation(tables: Tables, groups: dict[tuple[int, ...], dict[str, Any]]) -> None:
    """A group judged only by the power drawn, whose ports carry an allocation: free =
    budget minus the larger of the allocations' sum and the power drawn (the basis names
    the one that binds)."""
    for col, (key, text) in _PORT_ALLOCATION.items():
        sums: dict[tuple[int, ...], int] = {}
        for idx, value in tables.get(col, {}).items():
            mw = _int(value)
            if len(idx) == 2 and mw is not None and mw >= 0:
                sums[idx[:1]] = sums.get(idx[:1], 0) + mw
        for gidx, total in sums.items():
            g = groups.get(gidx)
            if g is None or g["power_w"] is None or g["basis_key"] not in (None, "drawn"):
                continue
            g["allocated_w"] = total / 1000
            if g["allocated_w"] > (g["consumption_w"] or 0):  # else the power drawn binds
                g["free_w"] = g["power_w"] - g["allocated_w"]
                g["basis"], g["basis_key"] = text, key


def _hp_members(tables: Tables) -> list[dict[str, Any]]:
    """HP-ICF-POE-MIB hpicfPseFeaturesTable, one row per stack member (W): available
    power minus the power allocated to its ports (hpicfPseUsedPower)."""
    avail, used = tables.get("hpicfPseAvailablePower", {}), tables.get("hpicfPseUsedPower", {})
    draw = tables.get("hpicfPseCurrentPowerDraw", {})
    out = []
    for idx in sorted(avail):
        a, u = _int(avail.get(idx)), _int(used.get(idx))
        g = _group(f"entity {idx[-1]}" if idx else "?")
        g["power_w"], g["allocated_w"], g["consumption_w"] = a, u, _int(draw.get(idx))
        if a is not None and u is not None:
            g["free_w"], g["basis"] = a - u, "HP allocation (hpicfPseUsedPower)"
            g["basis_key"] = "hp_allocation"
        out.append(g)
    return out


def _huawei_slots(tables: Tables) -> list[dict[str, Any]]:
    """HUAWEI-POE-MIB hwPoeSlotTable (mW): maximum power minus the larger of the
    reference (guaranteed) and the consuming power."""
    maximum = tables.get("hwPoeSlotMaximumPower", {})
    ref, used = tables.get("hwPoeSlotReferencePower", {}), tables.get("hwPoeSlotConsumingPower", {})
    out = []
    for idx in sorted(maximum):
        m, r, c = (_int(t.get(idx)) for t in (maximum, ref, used))
        g = _group(f"slot {idx[-1]}" if idx else "?")
        g["power_w"] = None if m is None else m / 1000
        g["allocated_w"] = None if r is None else r / 1000
        g["consumption_w"] = None if c is None else c / 1000
        known = [x for x in (r, c) if x is not None]
        taken = max(known) if known else None
        if m is not None and taken is not None:
            g["free_w"], g["basis"] = (m - taken) / 1000, "Huawei reference power (hwPoeSlotReferencePower)"
            g["basis_key"] = "huawei_reference"
        out.append(g)
    return out
