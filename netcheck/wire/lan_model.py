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
CISCO-VTP-MIB and CISCO-POWER-ETHERNET-EXT-MIB where the standard ones are missing,
CISCO-CDP-MIB beside LLDP, and the vendor PoE MIBs of :mod:`netcheck.wire.lan_poe`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from netcheck.wire import lan_poe, oui

__all__ = ["COLUMNS", "Rows", "Tables", "cdp_caps", "decode", "lldp_caps", "portlist"]

Rows = dict[tuple[int, ...], Any]
Tables = dict[str, Rows]

_LLDP = "1.0.8802.1.1.2.1"
_MED = "1.0.8802.1.1.2.1.5.4795.1"  # lldpXMedObjects: lldpExtensions.<TIA OUI 0x0012BB>.1
_CDP = "1.3.6.1.4.1.9.9.23.1.2.1.1"  # CISCO-CDP-MIB cdpCacheEntry (INDEX ifIndex, deviceIndex)

#: column name -> OID walked by the probe (one bulk walk each).
COLUMNS: dict[str, str] = {
    "ifDescr": "1.3.6.1.2.1.2.2.1.2",
    "ifType": "1.3.6.1.2.1.2.2.1.3",
    "ifSpeed": "1.3.6.1.2.1.2.2.1.5",
    "ifOperStatus": "1.3.6.1.2.1.2.2.1.8",
    "ifName": "1.3.6.1.2.1.31.1.1.1.1",
    "ifHighSpeed": "1.3.6.1.2.1.31.1.1.1.15",
    "ifConnectorPresent": "1.3.6.1.2.1.31.1.1.1.17",
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
    "dot1qVlanStaticName": "1.3.6.1.2.1.17.7.1.4.3.1.1",
    "vtpVlanName": "1.3.6.1.4.1.9.9.46.1.3.1.1.4",
    "vmVlan": "1.3.6.1.4.1.9.9.68.1.2.2.1.2",
    "vmVoiceVlanId": "1.3.6.1.4.1.9.9.68.1.5.1.1.1",
    "vlanTrunkPortDynamicStatus": "1.3.6.1.4.1.9.9.46.1.6.1.1.14",
    "vlanTrunkPortNativeVlan": "1.3.6.1.4.1.9.9.46.1.6.1.1.5",
    "vlanTrunkPortVlansEnabled": "1.3.6.1.4.1.9.9.46.1.6.1.1.4",
    "vlanTrunkPortVlansEnabled2k": "1.3.6.1.4.1.9.9.46.1.6.1.1.17",
    "vlanTrunkPortVlansEnabled3k": "1.3.6.1.4.1.9.9.46.1.6.1.1.18",
    "vlanTrunkPortVlansEnabled4k": "1.3.6.1.4.1.9.9.46.1.6.1.1.19",
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
    "cdpCacheAddressType": f"{_CDP}.3",
    "cdpCacheAddress": f"{_CDP}.4",
    "cdpCacheDeviceId": f"{_CDP}.6",
    "cdpCacheDevicePort": f"{_CDP}.7",
    "cdpCachePlatform": f"{_CDP}.8",
    "cdpCacheCapabilities": f"{_CDP}.9",
    **lan_poe.COLUMNS,
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


def decode(
    system: dict[str, Any], tables: Tables, switch_label: str, incomplete: dict[str, str] | None = None
) -> dict[str, Any]:
    """The whole audit of one switch as JSON-able data (see module docstring).
    ``incomplete``: columns whose walk stopped early (name -> why), from the probe."""
    exposed = {name: bool(rows) for name, rows in tables.items()}
    ports = _ports(tables)
    bridge = _bridge_ports(tables, ports)
    _mark_bridge_ports(tables, ports, bridge)
    unmapped: list[dict[str, Any]] = []
    poe_unmapped: dict[str, int] = {}
    pse: list[dict[str, Any]] = []
    vlans: list[dict[str, Any]] = []
    sections: list[tuple[str, Callable[[], None]]] = [
        ("vlan", lambda: _vlans(tables, ports, bridge)),
        ("vlan names", lambda: vlans.extend(_vlan_names(tables))),
        ("poe", lambda: poe_unmapped.update(_poe(tables, ports))),
        ("pse", lambda: pse.extend(lan_poe.budgets(tables))),
        ("lldp", lambda: _lldp(tables, ports, bridge, unmapped)),
        ("cdp", lambda: _cdp(tables, ports, unmapped)),
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
        "vlans": vlans,
        "pse": pse,
        "phones": _phones(port_list, switch["name"]),
        "unmapped_neighbours": unmapped,
        "poe_unmapped": poe_unmapped,
        "exposed": _exposure(exposed),
        "incomplete": dict(sorted((incomplete or {}).items())),
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
    46242: "Netonix",
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


#: Interface names of logical interfaces that some agents give ifType 6 (SVIs, LAGs,
#: loopbacks, CPU ports): they are never access ports.
_LOGICAL_NAME = re.compile(
    r"^(vlan|vl\d|vlanif|svi|vif|irb|bvi|loopback|lo\d|null|tunnel|port-?channel|po\d|trk|lag|bond|"
    r"br\d|bridge|cpu|stack|mgmt|management|inloopback|meth)",
    re.IGNORECASE,
)


def _ports(tables: Tables) -> dict[int, dict[str, Any]]:
    """Physical Ethernet ports: an Ethernet ifType, a connector (ifConnectorPresent,
    RFC 2863, where exposed) and not named like a logical interface."""
    types = tables.get("ifType", {})
    ports: dict[int, dict[str, Any]] = {}
    for idx, if_type in types.items():
        if len(idx) == 1 and as_int(if_type) in ETHERNET_TYPES and _physical(tables, idx[0]):
            ports[idx[0]] = _port(tables, idx[0])
    return ports


def _physical(tables: Tables, i: int) -> bool:
    """No port: ifConnectorPresent false (RFC 2863: an SVI or other interface without a
    physical connector, whatever its ifType); ifOperStatus notPresent(6) (the hardware is
    missing, e.g. ports of absent stack members); a logical interface's name."""
    if as_int(tables.get("ifConnectorPresent", {}).get((i,))) == 2:  # TruthValue false
        return False
    if as_int(tables.get("ifOperStatus", {}).get((i,))) == 6:
        return False
    names = (as_text(tables.get(c, {}).get((i,))) for c in ("ifName", "ifDescr"))
    return not any(n and _LOGICAL_NAME.match(n) for n in names)


def _port(tables: Tables, i: int) -> dict[str, Any]:
    def get(col: str) -> Any:
        return tables.get(col, {}).get((i,))

    duplex = as_int(get("dot3StatsDuplexStatus"))
    return {
        "if_index": i,
        "name": as_text(get("ifName")) or as_text(get("ifDescr")) or str(i),
        "descr": as_text(get("ifDescr")),
        "alias": as_text(get("ifAlias")),
        "oper_status": OPER_STATUS.get(as_int(get("ifOperStatus")) or 0),
        "bridge_port": None,
        "speed_mbps": _speed(as_int(get("ifHighSpeed")), as_int(get("ifSpeed"))),
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


def _speed(high: int | None, low: int | None) -> int | None:
    """Mbit/s from ifHighSpeed (Mbit/s), else ifSpeed (bit/s; 2^32-1 means "more than
    that", RFC 2863). 0 on both (or absent) is unknown, not 0 Mbit/s."""
    if high:
        return high
    if low and low != 4_294_967_295:
        return low // 1_000_000 or None
    return None


def _bridge_ports(tables: Tables, ports: dict[int, dict[str, Any]]) -> dict[int, int]:
    """Bridge port number -> ifIndex (dot1dBasePortIfIndex, RFC 4188). Fallbacks: without
    the table, the number itself (many small switches number both alike); when the agent
    indexed the table by ifIndex (seen on TP-Link: every row maps an ifIndex such as
    49153 to itself, while the FDB, PVID and PortLists use port numbers 1..n), port
    number n is the n-th of those interfaces as well."""
    mapping = {idx[0]: v for idx, v in tables.get("dot1dBasePortIfIndex", {}).items() if as_int(v) is not None and idx}
    if not mapping:
        return {i: i for i in ports}
    self_indexed = len(mapping) > 1 and all(k == v for k, v in mapping.items())
    used = {as_int(v) for col in ("dot1qTpFdbPort", "dot1dTpFdbPort") for v in tables.get(col, {}).values()}
    used |= {idx[0] for idx in tables.get("dot1qPvid", {}) if idx}
    unknown = {n for n in used if n and n not in mapping}  # numbers the agent uses but never mapped
    if self_indexed and unknown and min(mapping) > len(mapping):
        ordered = sorted(i for i in mapping.values() if i in ports)
        for number, if_index in enumerate(ordered, start=1):
            mapping.setdefault(number, if_index)
    return mapping


def _mark_bridge_ports(tables: Tables, ports: dict[int, dict[str, Any]], bridge: dict[int, int]) -> None:
    """``bridge_port``: whether the interface switches frames (a dot1dBasePortIfIndex
    row). Judged only on Q-BRIDGE switches, whose bridge table is global: there an
    Ethernet interface outside it is a routed port, a LAG member (the LAG is the bridge
    port) or an internal interface, and no access port. Cisco IOS lists bridge ports per
    VLAN context (community@vlan), so there it stays unknown (``None``)."""
    judged = bool(tables.get("dot1qPvid")) and bool(tables.get("dot1dBasePortIfIndex"))
    members = set(bridge.values())
    for i, port in ports.items():
        port["bridge_port"] = (i in members) if judged else None


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
        pvid = as_int(pvids.get((bport,)))
        port["pvid"] = pvid if pvid is not None else port["pvid"]
        if egress:
            tagged_set, untagged_set = members.get(if_index, (set(), set()))
            port["tagged_vlans"], port["untagged_vlans"] = sorted(tagged_set), sorted(untagged_set)
        port["vlan_source"] = "Q-BRIDGE-MIB"
    _cisco_voice(tables, ports)
    return True


def _cisco_vlans(tables: Tables, ports: dict[int, dict[str, Any]]) -> None:
    """Cisco IOS: access VLAN from vmVlan (CISCO-VLAN-MEMBERSHIP-MIB); on ports that
    trunk (vlanTrunkPortDynamicStatus trunking(1), CISCO-VTP-MIB) the native VLAN is
    untagged and the enabled VLANs (vlanTrunkPortVlansEnabled*) are tagged."""
    access, trunk = tables.get("vmVlan", {}), tables.get("vlanTrunkPortDynamicStatus", {})
    if not access and not tables.get("vmVoiceVlanId") and not trunk and not tables.get("vlanTrunkPortNativeVlan"):
        return
    for idx, vlan in access.items():
        if_index = idx[0] if len(idx) == 1 else -1
        port = ports.get(if_index)
        if port is None or as_int(vlan) is None:
            continue
        port["pvid"], port["untagged_vlans"], port["tagged_vlans"] = vlan, [vlan], []
        port["vlan_source"] = "CISCO-VLAN-MEMBERSHIP-MIB"
    for idx, status in trunk.items():
        port = ports.get(idx[0] if len(idx) == 1 else -1)
        if port is not None and as_int(status) == 1:
            _cisco_trunk(tables, idx, port)
    # vmMembershipTable lists the access ports only: a port missing from a populated
    # table that has a native VLAN in vlanTrunkPortTable is a trunk even when the agent
    # does not expose vlanTrunkPortDynamicStatus
    if access and not trunk:
        for idx in tables.get("vlanTrunkPortNativeVlan", {}):
            port = ports.get(idx[0] if len(idx) == 1 else -1)
            if port is not None and idx not in access:
                _cisco_trunk(tables, idx, port)
    _cisco_voice(tables, ports)


def _cisco_trunk(tables: Tables, idx: tuple[int, ...], port: dict[str, Any]) -> None:
    native = as_int(tables.get("vlanTrunkPortNativeVlan", {}).get(idx))
    enabled = _vlan_bitmap(tables, idx)
    port["pvid"] = native
    port["untagged_vlans"] = [native] if native is not None else None
    port["tagged_vlans"] = None if enabled is None else sorted(enabled - {native})
    port["vlan_source"] = "CISCO-VTP-MIB"


def _vlan_bitmap(tables: Tables, idx: tuple[int, ...]) -> set[int] | None:
    """vlanTrunkPortVlansEnabled (VLANs 0..1023, bit 0 = MSB of octet 0 = VLAN 0) and
    its 2k/3k/4k continuations (1024.., 2048.., 3072..), CISCO-VTP-MIB."""
    out: set[int] | None = None
    for offset, col in enumerate(("", "2k", "3k", "4k")):
        raw = as_bytes(tables.get(f"vlanTrunkPortVlansEnabled{col}", {}).get(idx))
        if raw is None:
            continue
        out = out or set()
        out |= {offset * 1024 + bit for bit in range(min(len(raw), 128) * 8) if _bit(raw, bit)}
    return None if out is None else {v for v in out if 1 <= v <= 4094}


def _vlan_names(tables: Tables) -> list[dict[str, Any]]:
    """VLAN id -> name: dot1qVlanStaticName (Q-BRIDGE-MIB, index VLAN) else vtpVlanName
    (CISCO-VTP-MIB, index management domain + VLAN)."""
    names: dict[int, str | None] = {}
    for col in ("dot1qVlanStaticName", "vtpVlanName"):
        for idx, value in tables.get(col, {}).items():
            if idx and 1 <= idx[-1] <= 4094:
                names.setdefault(idx[-1], as_text(value))
    return [{"id": vid, "name": names[vid]} for vid in sorted(names)]


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


def _poe(tables: Tables, ports: dict[int, dict[str, Any]]) -> dict[str, int]:
    """Per-port PoE: POWER-ETHERNET-MIB pethPsePortTable plus Cisco's per-port power,
    then the vendor tables of :mod:`netcheck.wire.lan_poe`. Returns, per table, how many rows
    matched no interface."""
    admin = tables.get("pethPsePortAdminEnable", {})
    detection = tables.get("pethPsePortDetectionStatus", {})
    classes = tables.get("pethPsePortPowerClassifications", {})
    cisco = tables.get("cpeExtPsePortPwrConsumption", {})
    keys: set[tuple[int, ...]] = {k for k in (*admin, *detection, *classes, *cisco) if len(k) == 2}
    where = _pse_port_map(tables, ports, keys)
    standard: dict[int, dict[str, Any]] = {}
    for key in sorted(keys):
        if where.get(key, -1) not in ports:
            continue
        cls, det, adm = (as_int(t.get(key)) for t in (classes, detection, admin))
        standard[where[key]] = {
            "admin_enabled": None if adm is None else adm == 1,
            "detection": DETECTION.get(det) if det is not None else None,
            "power_class": cls - 1 if cls is not None and 1 <= cls <= 5 else None,
            "power_mw": as_int(cisco.get(key)),
            "allocated_mw": None,
            "source": "POWER-ETHERNET-MIB",
            "pse_port": f"{key[0]}.{key[1]}",
        }
    unmapped = {"pethPsePortTable": len(keys) - len(standard)} if len(keys) > len(standard) else {}
    vendor, vendor_unmapped = lan_poe.vendor_ports(tables, ports, lambda _label, k: _pse_port_map(tables, ports, k))
    for i, port in ports.items():
        port["poe"] = lan_poe.merge(standard.get(i), vendor.get(i, []))
    return {**unmapped, **vendor_unmapped}


def _pse_port_map(
    tables: Tables, ports: dict[int, dict[str, Any]], keys: set[tuple[int, ...]]
) -> dict[tuple[int, ...], int]:
    """(pethPsePortGroupIndex, pethPsePortIndex) -> ifIndex. RFC 3621 leaves this to the
    agent, so the rules are tried in order and the first that places every row wins:
    Cisco's cpeExtPsePortEntPhyIndex through ENTITY-MIB's alias mapping; the port index
    being the ifIndex (most agents, RADLAN/CISCOSB rlPethPsePortTable; not when a port
    number repeats across groups, as on stacks that count 1..n per member); the interface
    name (unit/slot/port = group, port; Junos ``ge-F/0/N`` = FPC + 1, N + 1, as Juniper
    EX numbers its PSE ports); by position among the Ethernet ports (one group only)."""
    alias: dict[int, int] = {}
    for idx, value in tables.get("entAliasMappingIdentifier", {}).items():
        if_index = _last_arc(value)
        if idx and if_index in ports:
            alias[idx[0]] = if_index
    via_entity = {
        k: alias[as_int(v) or -1]
        for k, v in tables.get("cpeExtPsePortEntPhyIndex", {}).items()
        if (as_int(v) or -1) in alias and k in keys
    }
    if via_entity:
        return via_entity
    port_numbers = [k[1] for k in keys if len(k) == 2]
    unique = len(set(port_numbers)) == len(port_numbers) == len(keys)  # an ifIndex is unique
    if keys and unique and all(k[1] in ports for k in keys):
        return {k: k[1] for k in keys}
    by_name = _pse_by_name(ports)
    if keys and all(k in by_name for k in keys):
        return {k: by_name[k] for k in keys}
    if len({k[0] for k in keys}) == 1:
        ordered = sorted(ports)
        return {k: ordered[k[1] - 1] for k in keys if len(k) == 2 and 1 <= k[1] <= len(ordered)}
    return {}


_JUNOS_PORT = re.compile(r"^(?:ge|mge|xe|et)-(\d+)/0/(\d+)$")
_UNIT_PORT = re.compile(r"(\d+)[/:](?:\d+[/:])?(\d+)$")  # 1/0/5, 1/5, 1:5 (Extreme)


def _pse_by_name(ports: dict[int, dict[str, Any]]) -> dict[tuple[int, ...], int]:
    out: dict[tuple[int, ...], int] = {}
    for i, port in ports.items():
        name = port["name"] or ""
        junos, unit = _JUNOS_PORT.match(name), _UNIT_PORT.search(name)
        if junos:
            out.setdefault((int(junos.group(1)) + 1, int(junos.group(2)) + 1), i)
        elif unit:
            out.setdefault((int(unit.group(1)), int(unit.group(2))), i)
    return out


def _last_arc(value: Any) -> int | None:
    return int(value.rsplit(".", 1)[-1]) if isinstance(value, str) and value[-1:].isdigit() else None


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
        "protocol": "lldp",
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


# --------------------------------------------------------------------------- CDP

#: CDP capability bits (Cisco CDP specification, as cdpCacheCapabilities carries them:
#: a 32-bit field in network order). 0x80 is the VoIP phone bit.
CDP_CAPS = {
    0x01: "router",
    0x02: "bridge",
    0x04: "sourceRouteBridge",
    0x08: "switch",
    0x10: "host",
    0x20: "igmp",
    0x40: "repeater",
    0x80: "telephone",
    0x100: "remotelyManaged",
    0x200: "cvta",
    0x400: "twoPortMacRelay",
}
_SEP = re.compile(r"^SEP([0-9A-Fa-f]{12})$")


def cdp_caps(value: Any) -> list[str] | None:
    """cdpCacheCapabilities (CISCO-CDP-MIB, OCTET STRING of up to 4 octets) -> names."""
    raw = as_bytes(value)
    if raw is None:
        return None
    bits = int.from_bytes(raw[:4], "big")
    return [name for bit, name in CDP_CAPS.items() if bits & bit]


def _cdp(tables: Tables, ports: dict[int, dict[str, Any]], unmapped: list[dict[str, Any]]) -> None:
    """CDP cache neighbours (index cdpCacheIfIndex, cdpCacheDeviceIndex): the device id,
    its port, platform and capabilities; a Cisco phone's device id is ``SEP`` + its MAC."""
    keys = set(tables.get("cdpCacheDeviceId", {})) | set(tables.get("cdpCacheCapabilities", {}))
    for key in sorted(k for k in keys if len(k) == 2):
        neighbour = _cdp_neighbour(tables, key)
        port = ports.get(key[0])
        (port["neighbours"] if port is not None else unmapped).append(neighbour)


def _cdp_neighbour(tables: Tables, key: tuple[int, ...]) -> dict[str, Any]:
    def get(col: str) -> Any:
        return tables.get(col, {}).get(key)

    device = as_text(get("cdpCacheDeviceId"))
    caps = cdp_caps(get("cdpCacheCapabilities"))
    sep = _SEP.match(device or "")
    address = as_bytes(get("cdpCacheAddress"))
    ip = (
        ".".join(map(str, address))
        if as_int(get("cdpCacheAddressType")) == 1 and address and len(address) == 4
        else None
    )
    return {
        "protocol": "cdp",
        "chassis_id": device,
        "port_id": as_text(get("cdpCacheDevicePort")),
        "mac": oui.normalize_mac(sep.group(1)) if sep else None,
        "ip": ip,
        "sys_name": device,
        "sys_desc": None,
        "caps_enabled": caps,
        "caps_supported": None,
        "telephone": None if caps is None else "telephone" in caps,
        "manufacturer": "Cisco" if sep else None,
        "model": as_text(get("cdpCachePlatform")),
        "med_voice_policy": None,
    }


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
    """Phones, one entry per MAC (or per neighbour without one), with their basis:
    ``lldp`` / ``cdp`` / ``lldp+cdp`` (the neighbour announces the telephone capability), ``oui`` (a
    MAC of a phone-only vendor, oui.py, on an access port) or ``oui-candidate`` (the
    only MAC on an access port, from a vendor that also builds phones)."""
    phones: dict[str, dict[str, Any]] = {}
    for port in ports:
        for n in port["neighbours"]:
            if n["telephone"] and not _same_phone(phones, port, n):
                key = n["mac"] or f"{n['protocol']}:{port['if_index']}:{n['chassis_id']}"
                phones.setdefault(key, _phone(port, switch_name, n["mac"], n["protocol"], n))
        macs = port["macs"] or []
        if len(macs) > ACCESS_PORT_MAX_MACS:
            continue
        # a neighbour that announces itself as no phone (an AP, a switch) owns the MAC
        others = any(n["telephone"] is False for n in port["neighbours"])
        known = {p["mac"]: p for p in phones.values() if p["mac"]}
        for entry in macs:
            basis = _oui_basis(entry["mac"], 0 if others else len({m["mac"] for m in macs}))
            if entry["mac"] in known:
                known[entry["mac"]]["vlan"] = known[entry["mac"]]["vlan"] or entry["vlan"]
            elif basis:
                phones[entry["mac"]] = _phone(port, switch_name, entry["mac"], basis, None)
    return list(phones.values())


def _same_phone(phones: dict[str, dict[str, Any]], port: dict[str, Any], n: dict[str, Any]) -> bool:
    """A phone that speaks LLDP and CDP is one phone: a second announcement on the same
    port with the same MAC, or without one on either side, fills the first entry's gaps."""
    for phone in phones.values():
        if phone["if_index"] != port["if_index"] or not phone["basis"].startswith(("lldp", "cdp")):
            continue
        if phone["mac"] and n["mac"] and phone["mac"] != n["mac"]:
            continue
        phone["mac"] = phone["mac"] or n["mac"]
        phone["ip"] = phone["ip"] or n["ip"]
        phone["model"] = phone["model"] or _model(n)
        if n["protocol"] not in phone["basis"].split("+"):
            phone["basis"] = f"{phone['basis']}+{n['protocol']}"
        return True
    return False


def _oui_basis(mac: str, macs_on_port: int) -> str | None:
    vendor = oui.lookup(mac)
    if vendor is None:
        return None
    if vendor.phone_only:
        return "oui"
    return "oui-candidate" if macs_on_port == 1 else None


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
        "vlan": med.get("vlan") or fdb_vlan or port["voice_vlan"] or port["pvid"],
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
    "vlan_membership": (
        "dot1qVlanCurrentEgressPorts",
        "dot1qVlanStaticEgressPorts",
        "vmVlan",
        "vlanTrunkPortDynamicStatus",
    ),
    "pvid": ("dot1qPvid", "vmVlan"),
    "cisco_voice_vlan": ("vmVoiceVlanId",),
    "poe_port": (
        "pethPsePortAdminEnable",
        "cpeExtPsePortPwrConsumption",
        *(col for cols, _d, _k in lan_poe.PORT_TABLES.values() for col in cols),
    ),
    "poe_detection": ("pethPsePortDetectionStatus",),
    "poe_class": ("pethPsePortPowerClassifications", "hwPoePortPdClass", "tpPoeClass"),
    "pse_budget": lan_poe.BUDGET_TABLES,
    "lldp": ("lldpRemChassisId", "lldpRemSysCapEnabled"),
    "cdp": ("cdpCacheDeviceId", "cdpCacheCapabilities"),
    "vlan_names": ("dot1qVlanStaticName", "vtpVlanName"),
    "lldp_med_policy": ("lldpXMedRemMediaPolicyVlanID",),
    "fdb": ("dot1qTpFdbPort", "dot1dTpFdbPort"),
}


def _exposure(exposed: dict[str, bool]) -> dict[str, bool]:
    return {field: any(exposed.get(t, False) for t in cols) for field, cols in FIELD_TABLES.items()}
