"""Vendor PoE decoding and CDP capabilities (sans-I/O): exact MIB encodings, precedence of
the standard table, and hostile tables that must degrade, never raise."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from netcheck.wire import lan_model, lan_poe
from tests import snmprec


def test_cdp_caps_phone_bit() -> None:
    # CISCO-CDP-MIB cdpCacheCapabilities: 32 bits in network order; 0x80 = VoIP phone
    # a Cisco IP phone: host, phone, two-port MAC relay (its PC port)
    assert lan_model.cdp_caps(bytes.fromhex("00000490")) == ["host", "telephone", "twoPortMacRelay"]
    assert lan_model.cdp_caps(bytes.fromhex("00000029")) == ["router", "switch", "igmp"]
    assert lan_model.cdp_caps(b"") == [] and lan_model.cdp_caps(7) is None


def test_standard_facts_win_vendor_fills_the_gaps() -> None:
    standard = {"admin_enabled": True, "detection": "searching", "power_class": None, "source": "POWER-ETHERNET-MIB"}
    vendor = [{"admin_enabled": False, "detection": "deliveringPower", "power_class": 2, "source": "X"}]
    merged = lan_poe.merge(standard, vendor)
    assert merged is not None
    assert (merged["admin_enabled"], merged["detection"], merged["power_class"]) == (True, "searching", 2)
    assert merged["source"] == "POWER-ETHERNET-MIB + X"  # X filled the class
    assert lan_poe.merge(None, []) is None


def test_tplink_front_port_numbers_map_by_position() -> None:
    """tpPoePortConfigTable is indexed by front port number; with ifIndex 49153.. the
    number is the position among the physical ports."""
    tables: lan_model.Tables = {
        "ifType": {(49153,): 6, (49154,): 6},
        "ifName": {(49153,): b"gigabitEthernet 1/0/1", (49154,): b"gigabitEthernet 1/0/2"},
        "tpPoePortStatus": {(1,): 1, (2,): 0, (9,): 1},
        "tpPoePower": {(1,): 42},
        "tpPoePowerStatus": {(1,): 2},
    }
    r = lan_model.decode({}, tables, "tp")
    first, second = r["ports"]
    assert first["poe"]["power_mw"] == 4200 and first["poe"]["detection"] == "deliveringPower"
    assert second["poe"]["admin_enabled"] is False
    assert r["poe_unmapped"] == {"tpPoePortConfigTable": 1}  # port 9: no such port


def test_stack_port_numbers_per_member_map_by_name_not_as_ifindex() -> None:
    """pethPsePortTable of a 2-member stack counting ports 1..2 per member: (2, 1) is
    Gi2/0/1 (ifIndex 3), although ifIndex 1 exists too."""
    names = {(1,): b"Gi1/0/1", (2,): b"Gi1/0/2", (3,): b"Gi2/0/1", (4,): b"Gi2/0/2"}
    tables: lan_model.Tables = {
        "ifType": dict.fromkeys(names, 6),
        "ifName": names,
        "pethPsePortDetectionStatus": {(1, 1): 2, (1, 2): 2, (2, 1): 3, (2, 2): 2},
    }
    r = lan_model.decode({}, tables, "stack")
    assert [p["poe"]["detection"] for p in r["ports"]] == ["searching", "searching", "deliveringPower", "searching"]


def test_budget_prefers_the_admission_figure() -> None:
    tables: lan_model.Tables = {
        "pethMainPsePower": {(1,): 740},
        "pethMainPseConsumptionPower": {(1,): 9},
        "cpeExtMainPseUsedPower": {(1,): 26100},
        "cpeExtMainPseRemainingPower": {(1,): 713900},
    }
    [g] = lan_poe.budgets(tables)
    assert (g["free_w"], g["allocated_w"], g["consumption_w"]) == (713.9, 26.1, 9)
    assert g["basis"] == "Cisco allocation (cpeExtMainPseRemainingPower)"


_values = st.one_of(st.integers(-(2**33), 2**33), st.binary(max_size=12), st.text(max_size=8), st.none())
_index = st.lists(st.integers(0, 70000), max_size=4).map(tuple)
_tables = st.dictionaries(
    st.sampled_from(sorted(lan_model.COLUMNS)),
    st.dictionaries(_index, _values, max_size=6),
    max_size=25,
)


@settings(max_examples=300, deadline=None)
@given(_tables)
def test_hostile_tables_never_raise(tables: dict[str, Any]) -> None:
    r = lan_model.decode({"sysDescr": b"x", "sysObjectID": "1.3.6.1.4.1.9"}, tables, "fuzz")
    assert set(r) >= {"ports", "pse", "phones", "exposed", "malformed", "incomplete"}


def test_zero_speed_is_unknown_and_svis_are_not_ports() -> None:
    """ifHighSpeed 0 without ifSpeed, or ifSpeed 2^32-1 ("more than that", RFC 2863) with
    ifHighSpeed 0, is an unknown speed, never 0 Mbit/s. An ifType-6 "Vlan10" and a port
    without a connector (ifConnectorPresent false) are no access ports."""
    tables: lan_model.Tables = {
        "ifType": {(1,): 6, (2,): 6, (3,): 6, (4,): 6, (5,): 6},
        "ifName": {(1,): b"ge1", (2,): b"ge2", (3,): b"ge3", (4,): b"Vlan10", (5,): b"x5"},
        "ifHighSpeed": {(1,): 0, (2,): 0, (3,): 1000},
        "ifSpeed": {(2,): 4_294_967_295},
        "ifConnectorPresent": {(5,): 2},
    }
    r = lan_model.decode({}, tables, "sw")
    assert [(p["name"], p["speed_mbps"]) for p in r["ports"]] == [("ge1", None), ("ge2", None), ("ge3", 1000)]


def test_interfaces_outside_the_bridge_are_no_access_ports() -> None:
    """zynos_xs1930-12hp: ifType 6 on swp00-swp11 and on enif0/swif0/swif2/cmif0
    (ifIndex 20000-20003), but dot1dBasePortIfIndex.1-12 = 1-12 only (Q-BRIDGE switch,
    dot1qPvid present): the four internal interfaces switch no frames."""
    system, tables = snmprec.tables(snmprec.recording("zynos_xs1930-12hp"))
    r = lan_model.decode(system, tables, "zynos")
    outside = [p["name"] for p in r["ports"] if p["bridge_port"] is False]
    assert outside == ["enif0", "swif0", "swif2", "cmif0"]
    # Cisco IOS lists bridge ports per VLAN context: not judged there
    system, tables = snmprec.tables(snmprec.recording("ios_2960x"))
    assert {p["bridge_port"] for p in lan_model.decode(system, tables, "c")["ports"]} == {None}


def test_a_phone_speaking_lldp_and_cdp_is_one_phone() -> None:
    """LLDP gives the phone's IP (chassis id subtype networkAddress, no MAC); CDP gives
    SEP<MAC>; the FDB holds that MAC (Cisco OUI 00-EB-D5): one phone, basis lldp+cdp."""
    mac = bytes.fromhex("00EBD5A1B2C3")
    tables: lan_model.Tables = {
        "ifType": {(1,): 6},
        "ifName": {(1,): b"Gi1/0/1"},
        "lldpLocPortId": {(1,): b"Gi1/0/1"},
        "lldpRemChassisIdSubtype": {(0, 1, 1): 5},
        "lldpRemChassisId": {(0, 1, 1): bytes.fromhex("010A140007")},
        "lldpRemSysCapEnabled": {(0, 1, 1): b"\x04\x00"},  # telephone
        "cdpCacheDeviceId": {(1, 1): b"SEP00EBD5A1B2C3"},
        "cdpCacheCapabilities": {(1, 1): bytes.fromhex("00000490")},
        "cdpCachePlatform": {(1, 1): b"Cisco IP Phone 8845"},
        "dot1dTpFdbPort": {tuple(mac): 1},
    }
    [phone] = lan_model.decode({}, tables, "sw")["phones"]
    assert (phone["mac"], phone["ip"], phone["basis"]) == ("00:eb:d5:a1:b2:c3", "10.20.0.7", "lldp+cdp")
    assert phone["model"] == "Cisco IP Phone 8845"
