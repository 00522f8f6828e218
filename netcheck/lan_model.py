"""Switch audit model: SNMP table rows -> ports, VLANs, PoE, LLDP neighbours, MACs, phones.

Sans-I/O (STYLE.md §1): :data:`COLUMNS` says which MIB columns to walk; the probe
(:mod:`netcheck.probes.snmp_switch`) walks them and hands the rows to :func:`decode` as
``{column name: {index tuple: value}}`` where a value is ``int``, ``bytes`` (OCTET STRING,
IpAddress) or ``str`` (OBJECT IDENTIFIER, dotted). A column the agent does not expose is
simply absent or empty; every field that depends on it becomes ``None`` and is listed as
not exposed, never guessed. Tests feed the same function the rows of real recordings.

MIBs: IF-MIB (RFC 2863), EtherLike-MIB (RFC 3635), BRIDGE-MIB (RFC 4188), Q-BRIDGE-MIB
(RFC 4363), POWER-ETHERNET-MIB (RFC 3621), ENTITY-MIB (RFC 6933), LLDP-MIB (IEEE
802.1AB), LLDP-EXT-MED-MIB (ANSI/TIA-1057), and Cisco's CISCO-VLAN-MEMBERSHIP-MIB,
CISCO-VTP-MIB and CISCO-POWER-ETHERNET-EXT-MIB where the standard ones are missing.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from netcheck import oui

__all__ = ["COLUMNS", "Rows", "Tables", "decode", "lldp_caps", "portlist"]

Rows = dict[tuple[int, ...], Any]
Tables = dict[str, Rows]

_LLDP = "1.0.8802.1.1.2.1"
_MED = "1.0.8802.1.1.2.1.5.4795.1"  # lldpXMedObjects: lldpExtensions.<TIA OUI 0x0012BB>.1

#: column name -> OID walked by the probe (one bulk walk each).
COLUMNS: dict[str, str] = {
    "ifDescr": "1.3.6.1.2.1.2.2.1.2",
    "ifType": "1.3.6.1.2.1.2.2.1.3",
    "ifSpeed": "1.3.6.1.2.1.2.2.1.5",
    "ifOperStatus": "1.3.6.1.2.1.2.2.1.8",
    "ifName": "1.3.6.1.2.1.31.1.1.1.1",
    "ifHighSpeed": "1.3.6.1.2.1.31.1.1.1.15",
    "ifAlias": "1.3.6.1.2.1.31.1.1.1.18",
    "dot3StatsDuplexStatus": "1.3.6.1.2.1.10.7.2.1.19",
    "dot1dBasePortIfIndex": "1.3.6.1.2.1.17.1.4.1.2",
    "dot1dTpFdbPort": "1.3.6.1.2.1.17.4.3.1.2",
    "dot1qTpFdbPort": "1.3.6.1.2.1.17.7.1.2.2.1.2",
    "dot1qPvid": "1.3.6.1.2.1.17.7.1.4.5.1.1",
    "dot1qVlanCurrentEgressPorts": "1.3.6.1.2.1.17.7.1.4.2.1.4",
    "dot1qVlanCurrentUntaggedPorts": "1.3.6.1.2.1.17.7.1.4.2.1.5",
    "dot1qVlanStaticEgressPorts": "1.3.6.1.2.1.17.7.1.4.3.1.2",
    "dot1qVlanStaticUntaggedPorts": "1.3.6.1.2.1.17.7.1.4.3.1.4",
    "vmVlan": "1.3.6.1.4.1.9.9.68.1.2.2.1.2",
    "vmVoiceVlanId": "1.3.6.1.4.1.9.9.68.1.5.1.1.1",
    "vlanTrunkPortDynamicStatus": "1.3.6.1.4.1.9.9.46.1.6.1.1.14",
    "pethPsePortAdminEnable": "1.3.6.1.2.1.105.1.1.1.3",
    "pethPsePortDetectionStatus": "1.3.6.1.2.1.105.1.1.1.6",
    "pethPsePortPowerClassifications": "1.3.6.1.2.1.105.1.1.1.10",
    "pethMainPsePower": "1.3.6.1.2.1.105.1.3.1.1.2",
    "pethMainPseOperStatus": "1.3.6.1.2.1.105.1.3.1.1.3",
    "pethMainPseConsumptionPower": "1.3.6.1.2.1.105.1.3.1.1.4",
    "cpeExtPsePortPwrConsumption": "1.3.6.1.4.1.9.9.402.1.2.1.9",
    "cpeExtPsePortEntPhyIndex": "1.3.6.1.4.1.9.9.402.1.2.1.11",
    "entAliasMappingIdentifier": "1.3.6.1.2.1.47.1.3.2.1.2",
    "lldpLocPortId": f"{_LLDP}.3.7.1.3",
    "lldpLocPortDesc": f"{_LLDP}.3.7.1.4",
    "lldpRemChassisIdSubtype": f"{_LLDP}.4.1.1.4",
    "lldpRemChassisId": f"{_LLDP}.4.1.1.5",
    "lldpRemPortIdSubtype": f"{_LLDP}.4.1.1.6",
    "lldpRemPortId": f"{_LLDP}.4.1.1.7",
    "lldpRemSysName": f"{_LLDP}.4.1.1.9",
    "lldpRemSysDesc": f"{_LLDP}.4.1.1.10",
    "lldpRemSysCapSupported": f"{_LLDP}.4.1.1.11",
    "lldpRemSysCapEnabled": f"{_LLDP}.4.1.1.12",
    "lldpRemManAddrIfSubtype": f"{_LLDP}.4.2.1.3",
    "lldpXMedRemMediaPolicyVlanID": f"{_MED}.3.2.1.2",
    "lldpXMedRemMediaPolicyPriority": f"{_MED}.3.2.1.3",
    "lldpXMedRemMediaPolicyDscp": f"{_MED}.3.2.1.4",
    "lldpXMedRemMediaPolicyUnknown": f"{_MED}.3.2.1.5",
    "lldpXMedRemMediaPolicyTagged": f"{_MED}.3.2.1.6",
    "lldpXMedRemMfgName": f"{_MED}.3.3.1.5",
    "lldpXMedRemModelName": f"{_MED}.3.3.1.6",
}

#: ifType values of Ethernet-like ports (IANAifType-MIB): ethernetCsmacd, fastEther,
#: fastEtherFX, gigabitEthernet.
ETHERNET_TYPES = frozenset({6, 62, 69, 117})
OPER_STATUS = {1: "up", 2: "down", 3: "testing", 4: "unknown", 5: "dormant", 6: "notPresent", 7: "lowerLayerDown"}
DUPLEX = {1: "unknown", 2: "half", 3: "full"}  # dot3StatsDuplexStatus
DETECTION = {
    1: "disabled",
    2: "searching",
    3: "deliveringPower",
    4: "fault",
    5: "test",
    6: "otherFault",
}  # pethPsePortDetectionStatus (RFC 3621)
PSE_OPER = {1: "on", 2: "off", 3: "faulty"}
#: LLDP system capabilities, bit 0 = most significant bit of the first octet (802.1AB).
LLDP_CAPS = (
    "other",
    "repeater",
    "bridge",
    "wlanAccessPoint",
    "router",
    "telephone",
    "docsisCableDevice",
    "stationOnly",
    "cVlan",
    "sVlan",
    "twoPortMacRelay",
)
#: More MACs than this on one port: the port leads to another switch (an uplink), so a
#: MAC learned there does not tell where the device is plugged in.
ACCESS_PORT_MAX_MACS = 4

_DISPLAY_BITS = re.compile(rb"^[0-9A-Fa-f]{2}( [0-9A-Fa-f]{2})*( \d{1,2})*$")


# --------------------------------------------------------------------------- value helpers


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_bytes(value: Any) -> bytes | None:
    return value if isinstance(value, bytes) else None


def as_text(value: Any) -> str | None:
    """Printable text of an OCTET STRING (SnmpAdminString); control bytes become spaces."""
    raw = as_bytes(value)
    if raw is None:
        return None
    text = raw.decode("utf-8", errors="replace")
    return "".join(c if c.isprintable() else " " for c in text).strip()


def lldp_caps(value: Any) -> list[str] | None:
    """LLDP capability BITS -> names. Accepts the raw octets an agent sends and the
    net-snmp display text (``"24 00 2 5"``: hex octets, then bit numbers) that recordings
    store in a string."""
    raw = as_bytes(value)
    if raw is None:
        return None
    if _DISPLAY_BITS.match(raw.strip()):
        raw = bytes(int(tok, 16) for tok in raw.split() if len(tok) == 2)
    return [name for bit, name in enumerate(LLDP_CAPS) if _bit(raw, bit)]


def _bit(raw: bytes, bit: int) -> bool:
    return bit // 8 < len(raw) and bool(raw[bit // 8] & (0x80 >> (bit % 8)))


def portlist(value: Any, known: Iterable[int]) -> set[int]:
    """PortList (Q-BRIDGE-MIB): bit 0 (MSB of octet 0) = bridge port 1. Only ``known``
    bridge ports count, which also drops trailing bytes some agents and recordings
    append to the bitmap."""
    raw = as_bytes(value) or b""
    return {p for p in known if p >= 1 and _bit(raw, p - 1)}


def mac_text(raw: bytes | tuple[int, ...]) -> str | None:
    data = bytes(raw) if isinstance(raw, tuple) else raw
    return oui.normalize_mac(data) if len(data) == 6 and all(b < 256 for b in data) else None


# --------------------------------------------------------------------------- decode


def decode(system: dict[str, Any], tables: Tables, switch_label: str) -> dict[str, Any]:
    """The whole audit of one switch as JSON-able data (see module docstring)."""
    exposed = {name: bool(rows) for name, rows in tables.items()}
    ports = _ports(tables)
    bridge = _bridge_ports(tables, ports)
    unmapped: list[dict[str, Any]] = []
    sections: list[tuple[str, Callable[[], None]]] = [
        ("vlan", lambda: _vlans(tables, ports, bridge)),
        ("poe", lambda: _poe(tables, ports)),
        ("lldp", lambda: _lldp(tables, ports, bridge, unmapped)),
        ("fdb", lambda: _fdb(tables, ports, bridge)),
    ]
    malformed = []
    for name, step in sections:
        try:
            step()
        except (ValueError, TypeError, KeyError, IndexError) as exc:  # odd table: degrade
            malformed.append(f"{name}: {type(exc).__name__}: {exc}")
    switch = _switch(system, switch_label)
    port_list = [ports[i] for i in sorted(ports)]
    return {
        "switch": switch,
        "ports": port_list,
        "pse": _pse(tables),
        "phones": _phones(port_list, switch["name"]),
        "unmapped_neighbours": unmapped,
        "exposed": _exposure(exposed),
        "malformed": malformed,
    }


def _switch(system: dict[str, Any], label: str) -> dict[str, Any]:
    descr = as_text(system.get("sysDescr"))
    name = as_text(system.get("sysName"))
    object_id = system.get("sysObjectID") if isinstance(system.get("sysObjectID"), str) else None
    return {
        "name": name or label,
        "address": label,
        "descr": descr,
        "object_id": object_id,
        "vendor": _vendor(object_id, descr),
    }


#: sysObjectID enterprise number (IANA Private Enterprise Numbers) -> vendor.
_ENTERPRISES = {
    9: "Cisco",
    11: "HPE",
    25506: "HPE",
    14988: "MikroTik",
    35265: "Eltex",
    3955: "Linksys",
    890: "Zyxel",
    8691: "Moxa",
    2636: "Juniper",
    6027: "Force10",
    674: "Dell",
    4526: "Netgear",
    171: "D-Link",
    11863: "TP-Link",
    6486: "Alcatel-Lucent",
    1916: "Extreme",
    2011: "Huawei",
    25053: "Ruckus",
    47196: "Aruba",
    14823: "Aruba",
    41112: "Ubiquiti",
    6876: "VMware",
    8072: "net-snmp",
}


def _vendor(object_id: str | None, descr: str | None) -> str | None:
    if object_id and object_id.startswith("1.3.6.1.4.1."):
        enterprise = int(object_id.split(".")[6])
        if enterprise in _ENTERPRISES:
            return _ENTERPRISES[enterprise]
    return descr.split()[0] if descr else None


def _ports(tables: Tables) -> dict[int, dict[str, Any]]:
    types = tables.get("ifType", {})
    ports: dict[int, dict[str, Any]] = {}
    for idx, if_type in types.items():
        if len(idx) == 1 and as_int(if_type) in ETHERNET_TYPES:
            ports[idx[0]] = _port(tables, idx[0])
    return ports


def _port(tables: Tables, i: int) -> dict[str, Any]:
    def get(col: str) -> Any:
        return tables.get(col, {}).get((i,))

    high, low = as_int(get("ifHighSpeed")), as_int(get("ifSpeed"))
    speed = high if high else (low // 1_000_000 if low is not None else high)
    duplex = as_int(get("dot3StatsDuplexStatus"))
    return {
        "if_index": i,
        "name": as_text(get("ifName")) or as_text(get("ifDescr")) or str(i),
        "descr": as_text(get("ifDescr")),
        "alias": as_text(get("ifAlias")),
        "oper_status": OPER_STATUS.get(as_int(get("ifOperStatus")) or 0),
        "speed_mbps": speed,
        "duplex": DUPLEX.get(duplex) if duplex is not None else None,
        "pvid": None,
        "untagged_vlans": None,
        "tagged_vlans": None,
        "voice_vlan": None,
        "vlan_source": None,
        "poe": None,
        "neighbours": [],
        "macs": None,
    }


def _bridge_ports(tables: Tables, ports: dict[int, dict[str, Any]]) -> dict[int, int]:
    """Bridge port number -> ifIndex (dot1dBasePortIfIndex); without that table the two
    numberings are assumed equal, as on many small switches."""
    mapping = {idx[0]: v for idx, v in tables.get("dot1dBasePortIfIndex", {}).items() if as_int(v) is not None and idx}
    return mapping or {i: i for i in ports}


def _vlans(tables: Tables, ports: dict[int, dict[str, Any]], bridge: dict[int, int]) -> None:
    if _qbridge_vlans(tables, ports, bridge):
        return
    _cisco_vlans(tables, ports)


def _qbridge_vlans(tables: Tables, ports: dict[int, dict[str, Any]], bridge: dict[int, int]) -> bool:
    egress = tables.get("dot1qVlanCurrentEgressPorts") or tables.get("dot1qVlanStaticEgressPorts")
    untagged = tables.get("dot1qVlanCurrentUntaggedPorts") or tables.get("dot1qVlanStaticUntaggedPorts") or {}
    pvids = tables.get("dot1qPvid", {})
    if not egress and not pvids:
        return False
    members: dict[int, tuple[set[int], set[int]]] = defaultdict(lambda: (set(), set()))
    untagged_by_vlan = {idx[-1]: value for idx, value in untagged.items()}
    for idx, value in (egress or {}).items():
        vlan = idx[-1]
        eg, un = portlist(value, bridge), portlist(untagged_by_vlan.get(vlan), bridge)
        for bport in eg:
            tagged_set, untagged_set = members[bridge[bport]]
            (untagged_set if bport in un else tagged_set).add(vlan)
    for bport, if_index in bridge.items():
        port = ports.get(if_index)
        if port is None:
            continue
        port["pvid"] = as_int(pvids.get((bport,)))
        if egress:
            tagged_set, untagged_set = members.get(if_index, (set(), set()))
            port["tagged_vlans"], port["untagged_vlans"] = sorted(tagged_set), sorted(untagged_set)
        port["vlan_source"] = "Q-BRIDGE-MIB"
    _cisco_voice(tables, ports)
    return True


def _cisco_vlans(tables: Tables, ports: dict[int, dict[str, Any]]) -> None:
    """Cisco IOS: access VLAN from vmVlan; trunks (vlanTrunkPortDynamicStatus
    trunking(1)) carry tagged VLANs this audit does not list."""
    access, trunk = tables.get("vmVlan", {}), tables.get("vlanTrunkPortDynamicStatus", {})
    if not access and not tables.get("vmVoiceVlanId"):
        return
    for idx, vlan in access.items():
        if_index = idx[0] if len(idx) == 1 else -1
        port = ports.get(if_index)
        if port is None or as_int(vlan) is None:
            continue
        port["pvid"], port["untagged_vlans"] = vlan, [vlan]
        port["tagged_vlans"] = None if as_int(trunk.get((if_index,))) == 1 else []
        port["vlan_source"] = "CISCO-VLAN-MEMBERSHIP-MIB"
    _cisco_voice(tables, ports)


def _cisco_voice(tables: Tables, ports: dict[int, dict[str, Any]]) -> None:
    """vmVoiceVlanId: 1..4094 = tagged voice VLAN; 0 = 802.1p priority-tagged; 4095 =
    untagged; 4096 = none configured (CISCO-VLAN-MEMBERSHIP-MIB)."""
    for idx, value in tables.get("vmVoiceVlanId", {}).items():
        port, vvid = ports.get(idx[0] if len(idx) == 1 else -1), as_int(value)
        if port is None or vvid is None:
            continue
        port["voice_vlan"] = vvid if 1 <= vvid <= 4094 else None
        if port["vlan_source"] is None:
            port["vlan_source"] = "CISCO-VLAN-MEMBERSHIP-MIB"
        if port["voice_vlan"] and port["tagged_vlans"] is not None:
            port["tagged_vlans"] = sorted({*port["tagged_vlans"], vvid})


def _poe(tables: Tables, ports: dict[int, dict[str, Any]]) -> None:
    admin = tables.get("pethPsePortAdminEnable", {})
    detection = tables.get("pethPsePortDetectionStatus", {})
    classes = tables.get("pethPsePortPowerClassifications", {})
    cisco = tables.get("cpeExtPsePortPwrConsumption", {})
    keys: set[tuple[int, ...]] = {k for k in (*admin, *detection, *classes, *cisco) if len(k) == 2}
    where = _pse_port_map(tables, ports, keys)
    for key in sorted(keys):
        port = ports.get(where.get(key, -1))
        if port is None:
            continue
        cls, det, adm = (as_int(t.get(key)) for t in (classes, detection, admin))
        port["poe"] = {
            "admin_enabled": None if adm is None else adm == 1,
            "detection": DETECTION.get(det) if det is not None else None,
            "power_class": cls - 1 if cls is not None and 1 <= cls <= 5 else None,
            "power_mw": as_int(cisco.get(key)),
            "pse_port": f"{key[0]}.{key[1]}",
        }


def _pse_port_map(
    tables: Tables, ports: dict[int, dict[str, Any]], keys: set[tuple[int, ...]]
) -> dict[tuple[int, ...], int]:
    """(pethPsePortGroupIndex, pethPsePortIndex) -> ifIndex. RFC 3621 leaves this to the
    agent: Cisco ties it through cpeExtPsePortEntPhyIndex and ENTITY-MIB's alias mapping;
    most others number PSE ports like ifIndex; failing both, by position among the
    Ethernet ports (single-group switches only)."""
    alias: dict[int, int] = {}
    for idx, value in tables.get("entAliasMappingIdentifier", {}).items():
        if_index = _last_arc(value)
        if idx and if_index in ports:
            alias[idx[0]] = if_index
    via_entity = {
        k: alias[as_int(v) or -1]
        for k, v in tables.get("cpeExtPsePortEntPhyIndex", {}).items()
        if (as_int(v) or -1) in alias
    }
    if via_entity:
        return via_entity
    if keys and all(k[1] in ports for k in keys):
        return {k: k[1] for k in keys}
    if len({k[0] for k in keys}) == 1:
        ordered = sorted(ports)
        return {k: ordered[k[1] - 1] for k in keys if 1 <= k[1] <= len(ordered)}
    return {}


def _last_arc(value: Any) -> int | None:
    return int(value.rsplit(".", 1)[-1]) if isinstance(value, str) and value[-1:].isdigit() else None


def _pse(tables: Tables) -> list[dict[str, Any]]:
    power, oper = tables.get("pethMainPsePower", {}), tables.get("pethMainPseOperStatus", {})
    used = tables.get("pethMainPseConsumptionPower", {})
    return [
        {
            "group": idx[0],
            "power_w": as_int(power.get(idx)),
            "consumption_w": as_int(used.get(idx)),
            "oper_status": PSE_OPER.get(as_int(oper.get(idx)) or 0),
        }
        for idx in sorted(set(power) | set(used))
        if idx
    ]


# --------------------------------------------------------------------------- LLDP


def _lldp(
    tables: Tables, ports: dict[int, dict[str, Any]], bridge: dict[int, int], unmapped: list[dict[str, Any]]
) -> None:
    """Neighbours per port; those on a local port number no interface matches (e.g.
    RouterOS reports port 0) are kept in ``unmapped``."""
    local = _lldp_local_ports(tables, ports, bridge)
    med = _med_policies(tables)
    addresses = _management_addresses(tables)
    for key in sorted(tables.get("lldpRemChassisId", {}) | tables.get("lldpRemSysCapEnabled", {})):
        if len(key) != 3:
            continue
        port, neighbour = ports.get(local.get(key[1], -1)), _neighbour(tables, key, med, addresses)
        (port["neighbours"] if port is not None else unmapped).append(neighbour)


def _lldp_local_ports(tables: Tables, ports: dict[int, dict[str, Any]], bridge: dict[int, int]) -> dict[int, int]:
    """lldpLocPortNum -> ifIndex. 802.1AB does not fix the numbering: match the local
    port id / description to an interface name, else take it as an ifIndex, else as a
    bridge port."""
    by_name: dict[str, int] = {}
    for i, p in ports.items():
        for text in (p["name"], p["descr"]):
            if text:
                by_name.setdefault(text.lower(), i)
    out: dict[int, int] = {}
    nums = {k[0] for col in ("lldpLocPortId", "lldpLocPortDesc") for k in tables.get(col, {})}
    nums |= {k[1] for k in tables.get("lldpRemChassisId", {}) if len(k) == 3}
    for num in nums:
        names = [as_text(tables.get(c, {}).get((num,))) for c in ("lldpLocPortId", "lldpLocPortDesc")]
        match = next((by_name[n.lower()] for n in names if n and n.lower() in by_name), None)
        out[num] = match or (num if num in ports else bridge.get(num, -1))
    return out


def _neighbour(
    tables: Tables,
    key: tuple[int, ...],
    med: dict[tuple[int, ...], dict[str, Any]],
    addresses: dict[tuple[int, ...], str],
) -> dict[str, Any]:
    def get(col: str) -> Any:
        return tables.get(col, {}).get(key)

    chassis = _lldp_id(as_int(get("lldpRemChassisIdSubtype")), get("lldpRemChassisId"), mac=4, net=5)
    port_id = _lldp_id(as_int(get("lldpRemPortIdSubtype")), get("lldpRemPortId"), mac=3, net=4)
    enabled = lldp_caps(get("lldpRemSysCapEnabled"))
    supported = lldp_caps(get("lldpRemSysCapSupported"))
    caps = enabled if enabled else supported
    return {
        "chassis_id": chassis["text"],
        "port_id": port_id["text"],
        "mac": port_id["mac"] or chassis["mac"],
        "ip": chassis["ip"] or port_id["ip"] or addresses.get(key),
        "sys_name": as_text(get("lldpRemSysName")),
        "sys_desc": as_text(get("lldpRemSysDesc")),
        "caps_enabled": enabled,
        "caps_supported": supported,
        "telephone": None if caps is None else "telephone" in caps,
        "manufacturer": as_text(get("lldpXMedRemMfgName")),
        "model": as_text(get("lldpXMedRemModelName")),
        "med_voice_policy": med.get(key),
    }


def _lldp_id(subtype: int | None, value: Any, mac: int, net: int) -> dict[str, Any]:
    """Chassis/port id by subtype: macAddress -> MAC; networkAddress -> IANA address
    family octet (1 = IPv4) + address; anything else -> text."""
    raw = as_bytes(value) or b""
    out: dict[str, Any] = {"mac": None, "ip": None, "text": None}
    if subtype == mac and len(raw) == 6:
        out["mac"] = out["text"] = mac_text(raw)
    elif subtype == net and len(raw) == 5 and raw[0] == 1:
        out["ip"] = out["text"] = ".".join(str(b) for b in raw[1:])
    else:
        out["text"] = as_text(value)
    return out


def _management_addresses(tables: Tables) -> dict[tuple[int, ...], str]:
    """lldpRemManAddrTable: the address is in the index (subtype 1 = IPv4, length, octets)."""
    out: dict[tuple[int, ...], str] = {}
    for idx in tables.get("lldpRemManAddrIfSubtype", {}):
        if len(idx) == 9 and idx[3] == 1 and idx[4] == 4:
            out.setdefault(idx[:3], ".".join(map(str, idx[5:])))
    return out


def _med_policies(tables: Tables) -> dict[tuple[int, ...], dict[str, Any]]:
    """LLDP-MED voice policy per neighbour (index = remote key + PolicyAppType). The
    app type is BITS, so in an index it is length + octets (voice = bit 1 = 0x40);
    some agents index it as the plain number voice(1): both are accepted."""
    out: dict[tuple[int, ...], dict[str, Any]] = {}
    for idx, vlan in tables.get("lldpXMedRemMediaPolicyVlanID", {}).items():
        key, app = idx[:3], idx[3:]
        if not _is_voice_app(app):
            continue
        cols = ("Priority", "Dscp", "Unknown", "Tagged")
        pri, dscp, unknown, tagged = (as_int(tables.get(f"lldpXMedRemMediaPolicy{c}", {}).get(idx)) for c in cols)
        out[key] = {
            "vlan": as_int(vlan),
            "priority": pri,
            "dscp": dscp,
            "tagged": None if tagged is None else tagged == 1,
            "unknown": None if unknown is None else unknown == 1,
        }
    return out


def _is_voice_app(app: tuple[int, ...]) -> bool:
    if app == (1,):
        return True
    return len(app) >= 2 and app[0] == len(app) - 1 and bool(app[1] & 0x40)


# --------------------------------------------------------------------------- FDB, phones


def _fdb(tables: Tables, ports: dict[int, dict[str, Any]], bridge: dict[int, int]) -> None:
    """MAC table: dot1qTpFdbPort (index FDB id + MAC; the FDB id is the VLAN on the usual
    one-FDB-per-VLAN bridges) else dot1dTpFdbPort (index MAC). Bridge port 0 = unknown."""
    q, d = tables.get("dot1qTpFdbPort", {}), tables.get("dot1dTpFdbPort", {})
    rows = [(idx[0], idx[1:], v) for idx, v in q.items()] if q else [(None, idx, v) for idx, v in d.items()]
    if not rows:
        return
    for port in ports.values():
        port["macs"] = []
    for vlan, mac_idx, bport in rows:
        mac, found = mac_text(tuple(mac_idx)), ports.get(bridge.get(as_int(bport) or 0, -1))
        if mac and found is not None:
            found["macs"].append({"mac": mac, "vlan": vlan})


def _phones(ports: list[dict[str, Any]], switch_name: str) -> list[dict[str, Any]]:
    """Phones: LLDP neighbours with the telephone capability, plus MACs of phone-only
    vendors (oui.py) on access ports; one entry per MAC (or per neighbour without one)."""
    phones: dict[str, dict[str, Any]] = {}
    for port in ports:
        for n in port["neighbours"]:
            if n["telephone"]:
                key = n["mac"] or f"lldp:{port['if_index']}:{n['chassis_id']}"
                phones[key] = _phone(port, switch_name, n["mac"], "lldp", n)
        macs = port["macs"] or []
        if len(macs) > ACCESS_PORT_MAX_MACS:
            continue
        for entry in macs:
            vendor = oui.lookup(entry["mac"])
            if entry["mac"] in phones:
                phones[entry["mac"]]["vlan"] = phones[entry["mac"]]["vlan"] or entry["vlan"]
            elif vendor and vendor.phone_only:
                phones[entry["mac"]] = _phone(port, switch_name, entry["mac"], "oui", None)
    return list(phones.values())


def _phone(
    port: dict[str, Any], switch_name: str, mac: str | None, basis: str, n: dict[str, Any] | None
) -> dict[str, Any]:
    vendor = oui.lookup(mac) if mac else None
    fdb_vlan = next((m["vlan"] for m in port["macs"] or [] if m["mac"] == mac), None)
    med = (n or {}).get("med_voice_policy") or {}
    poe = port["poe"] or {}
    return {
        "mac": mac,
        "vendor": vendor.label if vendor else (n or {}).get("manufacturer"),
        "ip": (n or {}).get("ip"),
        "switch": switch_name,
        "port": port["name"],
        "if_index": port["if_index"],
        "vlan": med.get("vlan") or fdb_vlan or port["pvid"],
        "poe_class": poe.get("power_class"),
        "model": _model(n),
        "basis": basis,
    }


def _model(n: dict[str, Any] | None) -> str | None:
    if not n:
        return None
    return n.get("model") or n.get("sys_desc") or n.get("sys_name")


#: Which data each audit field rests on; a field whose tables are all absent is reported
#: as not exposed (and judged NOT_MEASURED).
FIELD_TABLES: dict[str, tuple[str, ...]] = {
    "ports": ("ifType",),
    "speed": ("ifHighSpeed", "ifSpeed"),
    "duplex": ("dot3StatsDuplexStatus",),
    "vlan_membership": ("dot1qVlanCurrentEgressPorts", "dot1qVlanStaticEgressPorts", "vmVlan"),
    "pvid": ("dot1qPvid", "vmVlan"),
    "cisco_voice_vlan": ("vmVoiceVlanId",),
    "poe_port": ("pethPsePortAdminEnable", "cpeExtPsePortPwrConsumption"),
    "poe_detection": ("pethPsePortDetectionStatus",),
    "poe_class": ("pethPsePortPowerClassifications",),
    "pse_budget": ("pethMainPsePower",),
    "lldp": ("lldpRemChassisId", "lldpRemSysCapEnabled"),
    "lldp_med_policy": ("lldpXMedRemMediaPolicyVlanID",),
    "fdb": ("dot1qTpFdbPort", "dot1dTpFdbPort"),
}


def _exposure(exposed: dict[str, bool]) -> dict[str, bool]:
    return {field: any(exposed.get(t, False) for t in cols) for field, cols in FIELD_TABLES.items()}
