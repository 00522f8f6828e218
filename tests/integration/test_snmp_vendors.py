"""Vendor PoE tables, PSE budgets, CDP, ports and phones, audited live from snmpsim
(served by the ``snmp_agent`` fixture): the LibreNMS recordings (real devices) and the
hand-made ones of tests/data/snmp/make_vendors.py (written from the MIBs each names).
Every expected value names the OID (and value) of the recording it comes from.
"""

from __future__ import annotations

from typing import Any

from netcheck import evaluate, profile
from netcheck.result import Check, Measurement, Site, Status
from tests.integration._snmp import audit

MCB = profile.load("managed-com-business")


def audited(port: int, community: str) -> Measurement:
    m = audit(port, community)
    assert m.ok, m.error
    return m


def port_named(m: Measurement, name: str) -> dict[str, Any]:
    return next(p for p in m.values["ports"] if p["name"] == name)  # type: ignore[union-attr]


def lan(m: Measurement, extensions: int | None = None) -> dict[str, Check]:
    checks = evaluate.evaluate(MCB, [m], Site(extensions=extensions))
    return {c.id.split("@")[0]: c for c in checks if c.group == "lan"}


# ------------------------------------------------------------------ real recordings


def test_c9200l_stack_budget_is_cisco_allocation_per_member(snmp_agent: int) -> None:
    m = audited(snmp_agent, "iosxe_c9200l")
    pse = {p["group"]: p for p in m.values["pse"]}  # type: ignore[union-attr]
    # cpeExtMainPseUsedPower.1-3 = 26100/52200/89700 mW, RemainingPower = 713900/687800/650300 mW
    assert [pse[g]["allocated_w"] for g in "123"] == [26.1, 52.2, 89.7]
    assert [pse[g]["free_w"] for g in "123"] == [713.9, 687.8, 650.3]
    # pethMainPseConsumptionPower.1-3 = 9/19/24 W is kept but not what admits phones
    assert [pse[g]["consumption_w"] for g in "123"] == [9, 19, 24]
    assert all(p["basis"].startswith("Cisco allocation") for p in pse.values())
    # per member: 713.9 // 15.4 + 687.8 // 15.4 + 650.3 // 15.4 = 46 + 44 + 42 = 132 phones;
    # pooling the watts (2052 W // 15.4 = 133) would pass 133 -- the false PASS to avoid
    assert lan(m, extensions=132)["lan.pse_budget"].status is Status.PASS
    budget = lan(m, extensions=133)["lan.pse_budget"]
    assert budget.status is Status.FAIL and budget.measured == 132


def test_c9200l_without_if_mib_says_interfaces_not_exposed(snmp_agent: int) -> None:
    m = audited(snmp_agent, "iosxe_c9200l")  # the recording has no ifTable rows
    speed = lan(m)["lan.speed"]
    assert speed.status is Status.NOT_MEASURED and "does not expose its interfaces" in speed.reason


def test_vrp_5720_huawei_port_poe(snmp_agent: int) -> None:
    m = audited(snmp_agent, "vrp_5720")
    poe = [p["poe"] for p in m.values["ports"] if p["poe"]]  # type: ignore[union-attr]
    assert len(poe) == 48  # hwPoePortEnable.6 .. .53: 48 rows, indexed by ifIndex
    first = next(p for p in m.values["ports"] if p["if_index"] == 6)  # type: ignore[union-attr]
    # hwPoePortEnable.6 = 1 (enable), hwPoePortConsumingPower.6 = 0 mW, ReferencePower.6 = 0
    assert first["poe"]["admin_enabled"] is True and first["poe"]["power_mw"] == 0
    assert first["poe"]["detection"] == "searching" and first["poe"]["source"] == "HUAWEI-POE-MIB"
    assert m.values["exposed"]["poe_port"] is True  # type: ignore[index]


def test_cbs350_ciscosb_rl_poe(snmp_agent: int) -> None:
    m = audited(snmp_agent, "ciscosb_cbs350-4x")
    gi7 = port_named(m, "gi1/0/7")  # ifName.7
    # rlPethPsePortOutputPower.1.7 = 6852 mW (CISCOSB-POE-MIB, 1.3.6.1.4.1.9.6.1.101.108.1.1.5)
    assert gi7["poe"]["power_mw"] == 6852 and gi7["poe"]["detection"] == "deliveringPower"
    assert gi7["poe"]["source"] == "CISCOSB-POE-MIB"
    # ports of the absent stack members 3 and 4 are notPresent(6): not audited as ports
    assert len(m.values["ports"]) == 52  # type: ignore[arg-type]
    assert not any(p["oper_status"] == "notPresent" for p in m.values["ports"])  # type: ignore[union-attr]


def test_eltex_radlan_poe_powers_all_three_grandstream_phones(snmp_agent: int) -> None:
    m = audited(snmp_agent, "eltex-mes23xx_mes2324p")
    phones = {p["port"]: p for p in m.values["phones"]}  # type: ignore[union-attr]
    # gi1/0/7: LLDP telephone; gi1/0/13 and gi1/0/14: the only MAC on the port, OUI 00-0B-82
    # (dot1qTpFdbPort.*.0.11.130.246.20.19 = 61, ...20.22 = 62)
    assert {k: v["basis"] for k, v in phones.items()} == {
        "gi1/0/7": "lldp",
        "gi1/0/13": "oui-candidate",
        "gi1/0/14": "oui-candidate",
    }
    assert phones["gi1/0/13"]["mac"] == "00:0b:82:f6:14:13"
    # rlPethPsePortOutputPower.1.55 = 1000, .1.61 = 1100, .1.62 = 1100 mW (RADLAN-POE-MIB)
    assert [port_named(m, n)["poe"]["power_mw"] for n in ("gi1/0/7", "gi1/0/13", "gi1/0/14")] == [1000, 1100, 1100]
    assert lan(m)["lan.poe"].status is Status.PASS


def test_routeros_mikrotik_poe_out(snmp_agent: int) -> None:
    m = audited(snmp_agent, "routeros_rb760igs")
    ether5 = port_named(m, "ether5")
    # mtxrPOEStatus.5 = 2 (waitingForLoad), mtxrPOEPower.5 = 0 (0.1 W units)
    assert ether5["poe"]["detection"] == "searching" and ether5["poe"]["admin_enabled"] is True
    assert ether5["poe"]["power_mw"] == 0 and ether5["poe"]["source"] == "MIKROTIK-MIB"


def test_procurve_hp_budget(snmp_agent: int) -> None:
    m = audited(snmp_agent, "procurve")
    [pse] = m.values["pse"]  # type: ignore[misc]
    # hpicfPseAvailablePower.1001 = 1440 W, hpicfPseUsedPower.1001 = 96 W, CurrentPowerDraw = 94 W
    assert (pse["power_w"], pse["allocated_w"], pse["consumption_w"], pse["free_w"]) == (1440, 96, 94, 1344)


def test_ios_2960x_cdp_vlan_names_trunks_and_speed(snmp_agent: int) -> None:
    m = audited(snmp_agent, "ios_2960x")
    gi3 = port_named(m, "Gi1/0/3")  # ifName.10103
    [ap] = gi3["neighbours"]
    # cdpCacheDeviceId.10103.1 = acme-fr-ap-011, cdpCachePlatform = "cisco AIR-AP2702I-UXK9",
    # cdpCacheCapabilities = 00000026 (bridge, source-route bridge, IGMP), address AC1B3154
    assert (ap["protocol"], ap["chassis_id"], ap["model"]) == ("cdp", "acme-fr-ap-011", "cisco AIR-AP2702I-UXK9")
    assert ap["caps_enabled"] == ["bridge", "sourceRouteBridge", "igmp"] and ap["telephone"] is False
    assert ap["ip"] == "172.27.49.84" and ap["port_id"] == "GigabitEthernet0"
    assert sum(len(p["neighbours"]) for p in m.values["ports"]) == 7  # type: ignore[union-attr]
    # the AP's own MAC alone on the port is no phone candidate (CDP says it is no phone)
    assert m.values["phones"] == []
    names = {v["id"]: v["name"] for v in m.values["vlans"]}  # type: ignore[union-attr]
    assert names[99] == "VLAN0099" and names[1] == "default"  # vtpVlanName.1.99, .1.1
    # no vmVlan.10103 row (vmMembershipTable lists access ports) but vlanTrunkPortNativeVlan.10103
    # = 534: a trunk with native VLAN 534; its enabled VLANs are not in the recording
    assert (gi3["pvid"], gi3["untagged_vlans"], gi3["tagged_vlans"]) == (534, [534], None)
    assert port_named(m, "Gi1/0/1")["untagged_vlans"] == [525]  # vmVlan.10101 = 525
    speed = lan(m)["lan.speed"]
    # ifHighSpeed = 10 with dot3StatsDuplexStatus full on an up port: FAIL on speed
    assert speed.status is Status.FAIL and any("10 Mbit/s" in x for x in speed.measured)  # type: ignore[union-attr]


# ------------------------------------------------------------------ hand-made recordings


def test_hp_icf_ports_and_members_never_pooled(snmp_agent: int) -> None:
    m = audited(snmp_agent, "hp-icf-poe-handmade")
    # hpicfPoePethPsePortActualPower.1.1 = 4100 mW, OperStatus.1.1 = on(3)
    assert port_named(m, "1/1")["poe"]["power_mw"] == 4100
    assert port_named(m, "1/1")["poe"]["detection"] == "deliveringPower"
    assert port_named(m, "1/2")["poe"]["detection"] == "otherFault"  # OperStatus.1.2 = deny(1)
    assert port_named(m, "1/3")["poe"]["admin_enabled"] is False  # PowerMode.1.3 = disable(2)
    # "DEFAULT_VLAN" ifIndex 100: ifType 6 but ifConnectorPresent.100 = false(2): an SVI
    assert len(m.values["ports"]) == 8  # type: ignore[arg-type]
    # hpicfPseAvailablePower 370 - hpicfPseUsedPower 356 = 14 W on each member: no phone
    # fits on either (15.4 W), although 28 W pooled would admit one
    budget = lan(m, extensions=2)["lan.pse_budget"]
    assert budget.status is Status.FAIL and budget.measured == 0


def test_aruba_cx_poe_by_member_and_port(snmp_agent: int) -> None:
    m = audited(snmp_agent, "aruba-cx-poe-handmade")
    p1, p2, p3, p4 = (port_named(m, n) for n in ("1/1/1", "1/1/2", "2/1/1", "2/1/2"))
    # arubaWiredPoePethPsePortPowerDrawn.1.1 = 5200 mW, ReservedPower = 7000, class2(3)
    assert (p1["poe"]["power_mw"], p1["poe"]["allocated_mw"], p1["poe"]["power_class"]) == (5200, 7000, 2)
    assert p1["poe"]["source"] == "POWER-ETHERNET-MIB + ARUBAWIRED-POE-MIB"
    # .2.1: class6(7), 51000 mW (802.3bt): index (member 2, port 1) is port 2/1/1, ifIndex 2001
    assert (p3["if_index"], p3["poe"]["power_class"], p3["poe"]["power_mw"]) == (2001, 6, 51000)
    assert p2["poe"]["power_class"] is None  # class0(1) while off(2): not valid, not reported
    assert p4["poe"]["detection"] == "otherFault"  # OperStatus.2.2 = deny(1)
    pse = {p["group"]: p for p in m.values["pse"]}  # type: ignore[union-attr]
    # member 2: pethMainPsePower.2 = 370 W, 52 W drawn, but 60 W reserved on 2/1/1: 310 W free
    assert (pse["2"]["allocated_w"], pse["2"]["free_w"]) == (60.0, 310.0)
    assert pse["2"]["basis_key"] == "aruba_reserved"
    assert (pse["1"]["allocated_w"], pse["1"]["free_w"]) == (7.0, 363.0)  # 370 - max(7, 6)
    assert pse["1"]["basis_key"] == "aruba_reserved"


def test_tplink_bridge_ports_poe_speed_and_svi(snmp_agent: int) -> None:
    m = audited(snmp_agent, "tplink-poe-handmade")
    assert [p["if_index"] for p in m.values["ports"]] == list(range(49153, 49159))  # type: ignore[union-attr]
    p1, p2, p3 = (port_named(m, f"gigabitEthernet 1/0/{n}") for n in (1, 2, 3))
    # tpPoePower.1 = 42 (0.1 W), tpPoeClass.1 = 2, tpPoePowerStatus.1 = on(2)
    assert (p1["poe"]["power_mw"], p1["poe"]["power_class"], p1["poe"]["detection"]) == (4200, 2, "deliveringPower")
    assert p2["poe"]["detection"] == "fault"  # tpPoePowerStatus.2 = overload(3)
    assert p3["poe"]["admin_enabled"] is False  # tpPoePortStatus.3 = 0 (disable)
    # dot1dBasePortIfIndex.49153 = 49153 (indexed by ifIndex); dot1qTpFdbPort.1.<mac> = 1
    # is front port 1 = ifIndex 49153, so the Yealink MAC is learned there
    assert p1["macs"] == [{"mac": "80:5e:c0:00:70:01", "vlan": 1}]
    phones = {p["port"]: p["basis"] for p in m.values["phones"]}  # type: ignore[union-attr]
    assert phones == {"gigabitEthernet 1/0/1": "oui", "gigabitEthernet 1/0/4": "oui-candidate"}
    # dot1qVlanStaticEgressPorts.20 = 0x90 (port numbers 1 and 4), untagged .20 = 0x00
    assert (p1["untagged_vlans"], p1["tagged_vlans"], p1["pvid"]) == ([1], [20], 1)
    assert port_named(m, "gigabitEthernet 1/0/2")["tagged_vlans"] == []
    assert lan(m)["lan.voice_vlan"].status is Status.PASS  # variant 2 on both phone ports
    # the phone port 1/0/4: ifHighSpeed.49156 = 10, no dot3StatsDuplexStatus row: speed
    # FAILs without waiting for the duplex
    speed = lan(m)["lan.speed"]
    assert speed.status is Status.FAIL and speed.measured == ["gigabitEthernet 1/0/4: 10 Mbit/s duplex unknown"]


def test_netonix_poe_status(snmp_agent: int) -> None:
    m = audited(snmp_agent, "netonix-poe-handmade")
    # poeStatus.1 = "48V", poeStatus.2 = "Off" (NETONIX-SWITCH-MIB)
    assert port_named(m, "Port 1")["poe"]["admin_enabled"] is True
    assert port_named(m, "Port 2")["poe"]["admin_enabled"] is False
    [pse] = m.values["pse"]  # type: ignore[misc]
    assert pse["free_w"] == 138  # pethMainPsePower.1 = 150 - pethMainPseConsumptionPower.1 = 12


def test_huawei_slot_budget_and_class(snmp_agent: int) -> None:
    m = audited(snmp_agent, "huawei-poe-handmade")
    [slot] = m.values["pse"]  # type: ignore[misc]
    # hwPoeSlotMaximumPower.0 = 369600 mW, ReferencePower.0 = 37000, ConsumingPower.0 = 25300
    assert (slot["power_w"], slot["allocated_w"], slot["free_w"]) == (369.6, 37.0, 332.6)
    g3 = port_named(m, "GigabitEthernet0/0/3")
    assert (g3["poe"]["power_class"], g3["poe"]["power_mw"]) == (4, 21000)  # hwPoePortPdClass.8, ConsumingPower.8
    assert port_named(m, "GigabitEthernet0/0/2")["poe"]["admin_enabled"] is False  # hwPoePortEnable.7 = 2


def test_juniper_pse_ports_by_fpc_and_port(snmp_agent: int) -> None:
    m = audited(snmp_agent, "juniper-ex-handmade")
    # pethPsePortDetectionStatus.2.2 = deliveringPower(3): FPC 1 + 1, port 1 + 1 = ge-1/0/1
    assert port_named(m, "ge-1/0/1")["poe"]["detection"] == "deliveringPower"
    assert port_named(m, "ge-1/0/0")["poe"]["detection"] == "searching"  # .2.1 = 2
    assert port_named(m, "ge-0/0/0")["poe"]["detection"] == "deliveringPower"  # .1.1 = 3
    assert len(m.values["pse"]) == 2  # type: ignore[arg-type]  # one pethMainPse row per member


def test_cisco_cdp_phone_trunk_and_allocation(snmp_agent: int) -> None:
    m = audited(snmp_agent, "cisco-cdp-handmade")
    [phone] = m.values["phones"]  # type: ignore[misc]
    # cdpCacheDeviceId.10101.1 = SEP00EBD5A1B2C3, Capabilities = 00000490 (phone bit 0x80)
    assert (phone["mac"], phone["basis"], phone["model"]) == ("00:eb:d5:a1:b2:c3", "cdp", "Cisco IP Phone 8845")
    assert phone["ip"] == "10.20.0.7"  # cdpCacheAddress.10101.1 = 0A140007
    gi1 = port_named(m, "Gi1/0/1")
    assert gi1["poe"]["allocated_mw"] == 15400 and gi1["poe"]["power_mw"] == 5100  # cpeExtPsePortPwr*.1.1
    gi3 = port_named(m, "Gi1/0/3")
    # vlanTrunkPortDynamicStatus.10103 = trunking(1), native VLAN 1, VlansEnabled bits 1, 10, 20
    assert (gi3["untagged_vlans"], gi3["tagged_vlans"], gi3["vlan_source"]) == ([1], [10, 20], "CISCO-VTP-MIB")
    [pse] = m.values["pse"]  # type: ignore[misc]
    # pethMainPse: 370 W, 5 W drawn; cpeExtMainPseRemainingPower.1 = 6000 mW: no phone fits
    assert pse["free_w"] == 6.0
    assert lan(m, extensions=2)["lan.pse_budget"].status is Status.FAIL
