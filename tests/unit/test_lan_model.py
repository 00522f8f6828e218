"""Switch-audit decoding on the rows of real recordings (shared/testdata/snmp/librenms) and
of our hand-made ones (tests/data/snmp). Expected values are quoted from the recording
lines named in each test."""

from __future__ import annotations

from typing import Any

import pytest

from netcheck.wire import lan_model
from tests import snmprec


def audit(name: str) -> dict[str, Any]:
    path = snmprec.recording(name)
    if not path.exists():
        pytest.fail(f"recording {path} missing from the repository")
    system, tables = snmprec.tables(path)
    return lan_model.decode(system, tables, name)


def port(result: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in result["ports"] if p["name"] == name)


# ----------------------------------------------------------------- value decoders


@pytest.mark.parametrize(
    ("raw", "caps"),
    [
        (b"24 00 2 5", ["bridge", "telephone"]),  # eltex lldpRemSysCapEnabled.0.55.11
        (b"04 5", ["telephone"]),  # procurve lldpRemSysCapEnabled.0.44.2
        (b"00", []),  # procurve lldpRemSysCapEnabled.0.31.1
        (b"\x24\x00", ["bridge", "telephone"]),  # the same BITS as an agent sends them
        (b"\x80", ["other"]),
    ],
)
def test_lldp_capabilities(raw: bytes, caps: list[str]) -> None:
    assert lldp_model_caps(raw) == caps


def lldp_model_caps(raw: bytes) -> list[str] | None:
    return lan_model.lldp_caps(raw)


def test_lldp_caps_not_octets_is_none() -> None:
    assert lan_model.lldp_caps(5) is None


def test_portlist_msb_is_port_one_and_trailing_bytes_ignored() -> None:
    # linksys dot1qVlanCurrentEgressPorts.0.1 starts 000000000000EEDF40 and continues with
    # recorded text ("\n00 00 ..."); only known bridge ports count.
    raw = bytes.fromhex("000000000000EEDF40") + b"\n00 00 00"
    # 0xEE = ports 49-51, 53-55; 0xDF = 57, 58, 60-64; 0x40 = 66
    assert lan_model.portlist(raw, range(1, 67)) == {49, 50, 51, 53, 54, 55, 57, 58, 60, 61, 62, 63, 64, 66}


def test_portlist_of_non_octets_is_empty() -> None:
    assert lan_model.portlist(None, range(1, 9)) == set()


# ----------------------------------------------------------------- real recordings


def test_eltex_grandstream_phone_from_lldp() -> None:
    r = audit("eltex-mes23xx_mes2324p")
    phone = r["phones"][0]
    assert phone["mac"] == "00:0b:82:f6:1e:68"  # lldpRemPortId.0.55.11 = 000B82F61E68 (subtype 3)
    assert phone["ip"] == "10.119.31.14"  # lldpRemChassisId.0.55.11 = 010A771F0E (subtype 5)
    assert phone["port"] == "gi1/0/7"  # lldpLocPortId.55 = ifName.55 = gi1/0/7
    assert phone["vendor"] == "Grandstream"  # IEEE OUI 00-0B-82
    assert phone["vlan"] == 331  # dot1qTpFdbPort.331.0.11.130.246.30.104 = 55
    assert phone["model"] == "GXP1625 1.0.4.128"  # lldpRemSysDesc.0.55.11
    assert phone["basis"] == "lldp"
    # gi1/0/7 has two neighbours: .55.6 (caps "80 00 0" = other) and the phone .55.11
    n = port(r, "gi1/0/7")["neighbours"][1]
    assert port(r, "gi1/0/7")["neighbours"][0]["caps_enabled"] == ["other"]
    assert n["caps_enabled"] == ["bridge", "telephone"] and n["telephone"] is True


def test_procurve_polycom_phone_and_pvid() -> None:
    r = audit("procurve")
    [phone] = r["phones"]
    assert phone["mac"] == "00:04:f2:c6:70:78"  # lldpRemPortId.0.44.2
    assert phone["ip"] == "10.56.32.113"  # lldpRemChassisId.0.44.2 = 010A382071
    assert phone["port"] == "44" and phone["vendor"] == "Poly/Polycom"
    assert port(r, "44")["pvid"] == 10  # dot1qPvid.44 = 10
    assert r["exposed"]["poe_port"] is False  # only HP-ICF-POE per-slot rows, no RFC 3621 ports


def test_ios_2960x_cisco_poe_and_vlan() -> None:
    r = audit("ios_2960x")
    [pse] = r["pse"]  # pethMainPsePower.1 = 370, pethMainPseConsumptionPower.1 = 115 (no cpeExtMainPse)
    assert (pse["group"], pse["power_w"], pse["consumption_w"], pse["free_w"]) == ("1", 370, 115, 255)
    # cpeExtPsePortPwrAllocated.1.* sum to 64400 mW, less than the 115 W drawn: drawn binds
    assert pse["basis"].startswith("POWER-ETHERNET-MIB power drawn") and pse["allocated_w"] == 64.4
    gi = port(r, "Gi1/0/1")
    # cpeExtPsePortPwrConsumption.1.1 = 2509 mW; cpeExtPsePortEntPhyIndex.1.1 = 1010;
    # entAliasMappingIdentifier.1010.0 = ifIndex.10101 (ifName Gi1/0/1)
    assert gi["poe"]["power_mw"] == 2509
    assert gi["pvid"] == 525 and gi["vlan_source"] == "CISCO-VLAN-MEMBERSHIP-MIB"  # vmVlan.10101
    assert gi["duplex"] == "full" and gi["speed_mbps"] == 100  # dot3StatsDuplexStatus, ifHighSpeed
    assert r["exposed"]["lldp"] is False and r["phones"] == []


def test_linksys_standard_poe_admin_and_qbridge_membership() -> None:
    r = audit("linksys-ss_lgs318p")
    assert port(r, "gi1")["poe"]["admin_enabled"] is False  # pethPsePortAdminEnable.1.49 = 2
    assert port(r, "gi14")["poe"]["admin_enabled"] is True  # pethPsePortAdminEnable.1.62 = 1
    assert port(r, "gi1")["poe"]["detection"] is None  # not in the recording: not guessed
    # dot1qVlanCurrentEgressPorts/UntaggedPorts.0.1 = 000000000000EEDF40...: bridge ports
    # 49 and 62 are members, 52 is not (dot1dBasePortIfIndex maps 49->49, 52->52, 62->62)
    assert 1 in port(r, "gi1")["untagged_vlans"] and 1 in port(r, "gi14")["untagged_vlans"]
    assert 1 not in port(r, "gi4")["untagged_vlans"]


def test_zynos_pse_budget_only() -> None:
    r = audit("zynos_xs1930-12hp")
    assert r["pse"][0]["power_w"] == 375 and r["pse"][0]["consumption_w"] == 11  # pethMainPse*.1
    assert r["exposed"]["duplex"] is False and r["exposed"]["lldp"] is False


def test_routeros_neighbours_on_port_zero_are_kept_unmapped() -> None:
    r = audit("routeros_rb760igs")
    # lldpRemChassisId.0.0.1 ...: local port number 0 matches no interface
    assert r["unmapped_neighbours"] and all(not p["neighbours"] for p in r["ports"])


# ----------------------------------------------------------------- hand-made recordings


def test_poe48_handmade_detection_class_and_med_policy() -> None:
    r = audit("poe48-handmade")
    # 48 front ports; ifIndex 100 "vlan10" has ifType 6 but is an SVI, not an access port
    assert len(r["ports"]) == 48 and len(r["phones"]) == 28
    assert port(r, "ge1/0/7")["poe"]["power_class"] == 4  # pethPsePortPowerClassifications.1.7 = 5
    assert port(r, "ge1/0/8")["poe"]["detection"] == "fault"  # pethPsePortDetectionStatus.1.8 = 4
    policy = port(r, "ge1/0/1")["neighbours"][0]["med_voice_policy"]
    assert policy == {"vlan": 20, "priority": 5, "dscp": 46, "tagged": True, "unknown": False}
    assert port(r, "ge1/0/1")["tagged_vlans"] == [20] and port(r, "ge1/0/1")["untagged_vlans"] == [10]
    by_basis = {p["port"]: p["basis"] for p in r["phones"]}
    assert by_basis["ge1/0/25"] == "oui" and "ge1/0/48" not in by_basis  # uplink: 12 MACs


def test_cisco_voice_vlan_handmade() -> None:
    r = audit("cisco-voice-handmade")
    assert port(r, "Gi1/0/1")["voice_vlan"] == 20  # vmVoiceVlanId.10101 = 20
    assert port(r, "Gi1/0/3")["voice_vlan"] is None  # vmVoiceVlanId.10103 = 4096 (none)
    assert port(r, "Gi1/0/4")["tagged_vlans"] is None  # trunk: tagged set not listed
    assert port(r, "Gi1/0/1")["poe"]["power_mw"] == 4200


# ----------------------------------------------------------------- degrade, never crash


def test_nothing_exposed() -> None:
    r = lan_model.decode({}, {}, "10.0.0.2")
    assert r["ports"] == [] and r["phones"] == [] and not any(r["exposed"].values())
    assert r["switch"]["name"] == "10.0.0.2"


def test_odd_tables_do_not_crash() -> None:
    tables: lan_model.Tables = {
        "ifType": {(1,): 6, (2,): "six", (): 6},
        "ifName": {(1,): 42},
        "dot1qPvid": {(1,): b"x"},
        "dot1qVlanCurrentEgressPorts": {(0, 10): 7},
        "pethPsePortAdminEnable": {(1,): 1, (1, 99): 1},
        "cpeExtPsePortEntPhyIndex": {(1, 1): "x"},
        "entAliasMappingIdentifier": {(5, 0): 12},
        "lldpRemChassisId": {(0, 1, 1): 5, (0,): b"x"},
        "lldpRemSysCapEnabled": {(0, 1, 1): b"\xff\xff\xff"},
        "lldpXMedRemMediaPolicyVlanID": {(0, 1, 1): 20, (0, 1, 1, 3, 1): "x"},
        "dot1qTpFdbPort": {(10, 1, 2): 1, (10, 0, 1, 2, 3, 4, 999): 1},
    }
    r = lan_model.decode({"sysDescr": 5, "sysObjectID": b"\x01"}, tables, "odd")
    assert [p["if_index"] for p in r["ports"]] == [1]
    assert r["ports"][0]["name"] == "1"  # ifName not text: falls back to the index
