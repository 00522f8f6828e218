"""Write the hand-made vendor PoE / CDP recordings in this directory (run: python make_vendors.py).

The real recordings (../shared/testdata/snmp/librenms) hold CISCOSB, RADLAN (Eltex),
Huawei port, MikroTik and Cisco cpeExtMainPse rows, but no HP-ICF-POE port rows, no
TP-Link, Netonix or Juniper PoE, no Huawei slot budget, no Cisco per-port allocation
and no CDP phone. These files are written from the MIB definitions named in each first
line; the values are made up, the OIDs and encodings are the MIBs'. Phone MACs use real
phone-vendor OUIs (netcheck/oui.py) with made-up device parts.
"""

from __future__ import annotations

from make_handmade import PETH, QB, interface, line, mac, oid_mac, system, write

Rows = list[tuple[tuple[int, ...], str]]


def _doc(fn: object) -> str:
    """The writer's docstring on one line: the header of the file it writes."""
    return " ".join(str(getattr(fn, "__doc__", "")).split())


def hp_icf() -> None:
    """HP-ICF-POE-MIB: hpicfPoePethPsePortTable (AUGMENTS pethPsePortEntry) and
    hpicfPseFeaturesTable per stack member; 2 members with 14 W free each."""
    rows = system("HAND-MADE HP ProCurve style stack (HP-ICF-POE-MIB)", "1.3.6.1.4.1.11.2.3.7.11.181", "hp-stack")
    hp = "1.3.6.1.4.1.11.2.14.11.1.9.1"
    for member in (1, 2):
        for n in range(1, 5):
            i = (member - 1) * 4 + n
            rows += interface(i, f"{member}/{n}", 1000)
            rows.append(line(f"1.3.6.1.2.1.17.1.4.1.2.{i}", "2", i))
    # port 1: phone powered (4100 mW, on); port 2: deny(1); port 3: PowerMode disable(2)
    for i, power, oper, mode in ((1, 4100, 3, 1), (2, 0, 1, 1), (3, 0, 2, 2), (4, 0, 2, 1)):
        rows += [
            line(f"{hp}.1.1.8.1.{i}", "2", power),
            line(f"{hp}.1.1.9.1.{i}", "2", oper),
            line(f"{hp}.1.1.10.1.{i}", "2", mode),
        ]
    for entity in (1001, 2001):  # hpicfPseAvailablePower / UsedPower (allocated) / CurrentPowerDraw, W
        rows += [
            line(f"{hp}.6.1.4.{entity}", "2", 370),
            line(f"{hp}.6.1.5.{entity}", "2", 356),
            line(f"{hp}.6.1.8.{entity}", "2", 120),
        ]
    rows += interface(100, "DEFAULT_VLAN", 1000)  # HP's SVI: ifType 6, no connector
    rows.append(line("1.3.6.1.2.1.31.1.1.1.17.100", "2", 2))
    phone = mac("0004F2", 0x4401)  # Poly
    rows.append(line(f"{QB}.2.2.1.2.10.{oid_mac(phone)}", "2", 1))
    write("hp-icf-poe-handmade.snmprec", _doc(hp_icf), rows)


def aruba_cx() -> None:
    """ARUBAWIRED-POE-MIB arubaWiredPoePethPsePortTable (AUGMENTS pethPsePortEntry) on an
    AOS-CX 2-member stack: ports 1/1/1-2 and 2/1/1-2, PSE index (member, port)."""
    rows = system("HAND-MADE Aruba CX 6300 style stack (ARUBAWIRED-POE-MIB)", "1.3.6.1.4.1.47196.4.1.1.1.101", "cx")
    cx = "1.3.6.1.4.1.47196.4.1.1.3.8.1.1.1"
    # (member, port): drawn mW, reserved mW, oper deny(1)/off(2)/on(3), class0(1)..class8(9)
    table = {(1, 1): (5200, 7000, 3, 3), (1, 2): (0, 0, 2, 1), (2, 1): (51000, 60000, 3, 7), (2, 2): (0, 0, 1, 1)}
    for (member, port), (drawn, reserved, oper, cls) in table.items():
        i = member * 1000 + port
        rows += interface(i, f"{member}/1/{port}", 1000)
        rows += [
            line(f"{PETH}.1.1.3.{member}.{port}", "2", 1),
            line(f"{cx}.6.{member}.{port}", "2", reserved),
            line(f"{cx}.7.{member}.{port}", "2", drawn),
            line(f"{cx}.10.{member}.{port}", "2", oper),
            line(f"{cx}.12.{member}.{port}", "2", cls),
        ]
    for member, drawn_w in ((1, 6), (2, 52)):  # pethMainPsePower / ConsumptionPower, W
        rows += [line(f"{PETH}.3.1.1.2.{member}", "66", 370), line(f"{PETH}.3.1.1.4.{member}", "66", drawn_w)]
    write("aruba-cx-poe-handmade.snmprec", _doc(aruba_cx), rows)


def tplink() -> None:
    """TPLINK-POWER-OVER-ETHERNET-MIB tpPoePortConfigTable; dot1dBasePortIfIndex indexed
    by ifIndex (as TP-Link agents do) while the FDB uses port numbers; an SVI."""
    rows = system(
        "HAND-MADE TP-Link JetStream style switch (TPLINK-POWER-OVER-ETHERNET-MIB)", "1.3.6.1.4.1.11863.5.1", "tp-sw"
    )
    tp = "1.3.6.1.4.1.11863.6.56.1.1.2.1.1"
    for n in range(1, 7):
        i = 49152 + n
        speed = 10 if n == 4 else 1000
        rows += interface(i, f"gigabitEthernet 1/0/{n}", speed, duplex=None if n == 4 else 3)
        rows.append(line(f"1.3.6.1.2.1.17.1.4.1.2.{i}", "2", i))  # indexed by ifIndex
        rows.append(line(f"1.3.6.1.2.1.31.1.1.1.17.{i}", "2", 1))
    rows += interface(200, "Vlan1", 1000)  # an SVI with ifType 6 ...
    rows.append(line("1.3.6.1.2.1.31.1.1.1.17.200", "2", 2))  # ... and no connector
    # port, admin (tpPoePortStatus), power 0.1 W, class, power status
    for n, admin, power, cls, status in ((1, 1, 42, 2, 2), (2, 1, 0, 7, 3), (3, 0, 0, 7, 0), (4, 1, 55, 3, 2)):
        rows += [
            line(f"{tp}.1.{n}", "2", n),
            line(f"{tp}.2.{n}", "2", admin),
            line(f"{tp}.7.{n}", "2", power),
            line(f"{tp}.10.{n}", "2", cls),
            line(f"{tp}.11.{n}", "2", status),
        ]
    # Q-BRIDGE by port number: data VLAN 1 untagged on 1-6, voice VLAN 20 tagged on 1 and 4
    rows += [
        line(f"{QB}.4.3.1.1.1", "4", "data"),
        line(f"{QB}.4.3.1.2.1", "4x", "FC"),  # ports 1-6
        line(f"{QB}.4.3.1.4.1", "4x", "FC"),
        line(f"{QB}.4.3.1.1.20", "4", "voice"),
        line(f"{QB}.4.3.1.2.20", "4x", "90"),  # ports 1 and 4
        line(f"{QB}.4.3.1.4.20", "4x", "00"),
    ]
    rows += [line(f"{QB}.4.5.1.1.{n}", "2", 1) for n in range(1, 7)]  # dot1qPvid.<port number>
    for n, hexmac in ((1, mac("805EC0", 0x7001)), (4, mac("000B82", 0x7004)), (6, mac("021122", 0x7006))):
        rows.append(line(f"{QB}.2.2.1.2.1.{oid_mac(hexmac)}", "2", n))  # FDB port = front port number
    write("tplink-poe-handmade.snmprec", _doc(tplink), rows)


def netonix() -> None:
    """NETONIX-SWITCH-MIB poeStatusTable (index ifIndex) plus POWER-ETHERNET-MIB budget."""
    rows = system("HAND-MADE Netonix WISP switch (NETONIX-SWITCH-MIB)", "1.3.6.1.4.1.46242", "netonix")
    for i, status in ((1, "48V"), (2, "Off"), (3, "24V")):
        rows += interface(i, f"Port {i}", 1000)
        rows.append(line(f"1.3.6.1.4.1.46242.5.1.2.{i}", "4", status))
    rows += [line(f"{PETH}.3.1.1.2.1", "66", 150), line(f"{PETH}.3.1.1.4.1", "66", 12)]
    write("netonix-poe-handmade.snmprec", _doc(netonix), rows)


def huawei() -> None:
    """HUAWEI-POE-MIB hwPoePortTable (index ifIndex) and hwPoeSlotTable (mW)."""
    rows = system("HAND-MADE Huawei S-series style switch (HUAWEI-POE-MIB)", "1.3.6.1.4.1.2011.2.23.291", "hw-sw")
    hw = "1.3.6.1.4.1.2011.5.25.195"
    for n, enable, cls, ref, used in ((1, 1, 2, 7000, 4300), (2, 2, 0, 0, 0), (3, 1, 4, 30000, 21000)):
        i = 5 + n
        rows += interface(i, f"GigabitEthernet0/0/{n}", 1000)
        rows += [
            line(f"{hw}.3.1.3.{i}", "2", enable),
            line(f"{hw}.3.1.8.{i}", "2", cls),
            line(f"{hw}.3.1.9.{i}", "2", ref),
            line(f"{hw}.3.1.10.{i}", "2", used),
        ]
    rows += [
        line(f"{hw}.2.1.2.0", "2", 369600),  # hwPoeSlotMaximumPower mW
        line(f"{hw}.2.1.4.0", "2", 37000),  # hwPoeSlotReferencePower
        line(f"{hw}.2.1.5.0", "2", 25300),  # hwPoeSlotConsumingPower
    ]
    write("huawei-poe-handmade.snmprec", _doc(huawei), rows)


def juniper() -> None:
    """Juniper EX virtual chassis: POWER-ETHERNET-MIB pethPsePortTable numbered FPC + 1,
    port + 1 (ge-1/0/1 = 2.2), as Junos does, with ifIndex unrelated to it."""
    rows = system(
        "HAND-MADE Juniper EX2300-C virtual chassis (POWER-ETHERNET-MIB)", "1.3.6.1.4.1.2636.1.1.1.2.132", "ex-vc"
    )
    for fpc in (0, 1):
        for port in range(3):
            i = 513 + fpc * 10 + port
            rows += interface(i, f"ge-{fpc}/0/{port}", 1000)
            detect = 3 if (fpc, port) in ((0, 0), (1, 1)) else 2
            rows += [
                line(f"{PETH}.1.1.3.{fpc + 1}.{port + 1}", "2", 1),
                line(f"{PETH}.1.1.6.{fpc + 1}.{port + 1}", "2", detect),
                line(f"{PETH}.1.1.10.{fpc + 1}.{port + 1}", "2", 3 if detect == 3 else 1),
            ]
        rows += [line(f"{PETH}.3.1.1.2.{fpc + 1}", "66", 124), line(f"{PETH}.3.1.1.4.{fpc + 1}", "66", 7)]
    write("juniper-ex-handmade.snmprec", _doc(juniper), rows)


def cisco_cdp() -> None:
    """CISCO-CDP-MIB cache with a phone, CISCO-VTP-MIB trunk and VLAN names, and
    CISCO-POWER-ETHERNET-EXT-MIB per-port allocation and cpeExtMainPse budget."""
    rows = system(
        "HAND-MADE Cisco Catalyst style switch (CISCO-CDP-MIB, CISCO-VTP-MIB)", "1.3.6.1.4.1.9.1.2694", "cat-cdp"
    )
    cdp, vtp, cpe = "1.3.6.1.4.1.9.9.23.1.2.1.1", "1.3.6.1.4.1.9.9.46", "1.3.6.1.4.1.9.9.402.1"
    for n, if_index in enumerate(range(10101, 10104), start=1):
        rows += interface(if_index, f"Gi1/0/{n}", 1000)
        rows += [
            line(f"1.3.6.1.4.1.9.9.46.1.6.1.1.14.{if_index}", "2", 1 if n == 3 else 2),
            line(f"{PETH}.1.1.3.1.{n}", "2", 1),
            line(f"{PETH}.1.1.6.1.{n}", "2", 3 if n == 1 else 2),
            line(f"{cpe}.2.1.1.1.{n}", "2", 1),
            line(f"{cpe}.2.1.7.1.{n}", "66", 15400 if n == 1 else 0),  # cpeExtPsePortPwrAllocated mW
            line(f"{cpe}.2.1.9.1.{n}", "66", 5100 if n == 1 else 0),  # cpeExtPsePortPwrConsumption mW
        ]
        if n < 3:
            rows.append(line(f"1.3.6.1.4.1.9.9.68.1.2.2.1.2.{if_index}", "2", 10))
    # Gi1/0/3 trunks: native VLAN 1, VLANs 1, 10, 20 enabled (bit n = VLAN n, MSB first)
    bitmap = bytearray(128)
    for vlan in (1, 10, 20):
        bitmap[vlan // 8] |= 0x80 >> (vlan % 8)
    rows += [
        line(f"{vtp}.1.6.1.1.5.10103", "2", 1),
        line(f"{vtp}.1.6.1.1.4.10103", "4x", bitmap.hex().upper()),
    ]
    for vlan, name in ((1, "default"), (10, "data"), (20, "voice")):
        rows.append(line(f"{vtp}.1.3.1.1.4.1.{vlan}", "4", name))
    # CDP: a Cisco IP phone on Gi1/0/1 (caps 0x490: host, phone, two-port MAC relay), a switch on Gi1/0/3
    for key, dev, port, platform, caps, ip in (
        ("10101.1", "SEP00EBD5A1B2C3", "Port 1", "Cisco IP Phone 8845", "00000490", "0A140007"),
        ("10103.2", "dist-sw1.example", "GigabitEthernet1/0/24", "cisco WS-C3850-24T", "00000029", "0A000001"),
    ):
        rows += [
            line(f"{cdp}.3.{key}", "2", 1),
            line(f"{cdp}.4.{key}", "4x", ip),
            line(f"{cdp}.6.{key}", "4", dev),
            line(f"{cdp}.7.{key}", "4", port),
            line(f"{cdp}.8.{key}", "4", platform),
            line(f"{cdp}.9.{key}", "4x", caps),
        ]
    rows += [
        line(f"{PETH}.3.1.1.2.1", "66", 370),
        line(f"{PETH}.3.1.1.4.1", "66", 5),
        line(f"{cpe}.3.1.2.1", "4", "Switch 1 - Power Supply A"),
        line(f"{cpe}.3.1.4.1", "66", 364000),  # cpeExtMainPseUsedPower mW: allocated
        line(f"{cpe}.3.1.5.1", "66", 6000),  # cpeExtMainPseRemainingPower mW
    ]
    write("cisco-cdp-handmade.snmprec", _doc(cisco_cdp), rows)


if __name__ == "__main__":
    hp_icf()
    aruba_cx()
    tplink()
    netonix()
    huawei()
    juniper()
    cisco_cdp()
