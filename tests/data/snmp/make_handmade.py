"""Write the hand-made snmpsim recordings in this directory (run: python make_handmade.py).

No real recording we have carries per-port PoE detection/class (POWER-ETHERNET-MIB,
RFC 3621 pethPsePortTable), Cisco's vmVoiceVlanId (CISCO-VLAN-MEMBERSHIP-MIB) or LLDP-MED
media policy rows (LLDP-EXT-MED-MIB, ANSI/TIA-1057), so these files are written from
the MIB definitions. Every file says so in its first line. The phone MACs use real
phone-vendor OUIs (netcheck/oui.py) with made-up device parts.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
LLDP, MED = "1.0.8802.1.1.2.1", "1.0.8802.1.1.2.1.5.4795.1"
PETH, QB = "1.3.6.1.2.1.105.1", "1.3.6.1.2.1.17.7.1"
VENDORS = [("009033", "innovaphone", "IP232"), ("805EC0", "Yealink", "SIP-T54W"), ("000413", "Snom", "D785")]


def line(oid: str, tag: str, value: object) -> tuple[tuple[int, ...], str]:
    return tuple(int(x) for x in oid.split(".")), f"{oid}|{tag}|{value}"


def text(s: str) -> str:
    return s


def write(name: str, header: str, rows: list[tuple[tuple[int, ...], str]]) -> None:
    body = "\n".join(r for _, r in sorted(rows))
    (HERE / name).write_text(f"# HAND-MADE recording (not from a device): {header}\n{body}\n")


def system(descr: str, object_id: str, name: str) -> list[tuple[tuple[int, ...], str]]:
    return [
        line("1.3.6.1.2.1.1.1.0", "4", descr),
        line("1.3.6.1.2.1.1.2.0", "6", object_id),
        line("1.3.6.1.2.1.1.5.0", "4", name),
    ]


def interface(i: int, name: str, mbps: int, up: bool = True, duplex: int | None = 3) -> list:
    rows = [
        line(f"1.3.6.1.2.1.2.2.1.2.{i}", "4", name),
        line(f"1.3.6.1.2.1.2.2.1.3.{i}", "2", 6),
        line(f"1.3.6.1.2.1.2.2.1.5.{i}", "66", min(mbps * 1_000_000, 4294967295)),
        line(f"1.3.6.1.2.1.2.2.1.8.{i}", "2", 1 if up else 2),
        line(f"1.3.6.1.2.1.31.1.1.1.1.{i}", "4", name),
        line(f"1.3.6.1.2.1.31.1.1.1.15.{i}", "66", mbps),
        line(f"1.3.6.1.2.1.31.1.1.1.18.{i}", "4", f"desk {i}"),
    ]
    if duplex is not None:
        rows.append(line(f"1.3.6.1.2.1.10.7.2.1.19.{i}", "2", duplex))
    return rows


def portlist(ports: list[int], octets: int = 8) -> str:
    bits = bytearray(octets)
    for p in ports:
        bits[(p - 1) // 8] |= 0x80 >> ((p - 1) % 8)
    return bits.hex().upper()


def mac(prefix: str, n: int) -> str:
    return f"{prefix}{n:06X}"


def oid_mac(hexmac: str) -> str:
    return ".".join(str(b) for b in bytes.fromhex(hexmac))


def lldp_phone(port: int, rem: int, hexmac: str, ip: str, model: str, vlan: int) -> list:
    key = f"0.{port}.{rem}"
    addr = "01" + "".join(f"{int(x):02X}" for x in ip.split("."))
    return [
        line(f"{LLDP}.4.1.1.4.{key}", "2", 5),
        line(f"{LLDP}.4.1.1.5.{key}", "4x", addr),
        line(f"{LLDP}.4.1.1.6.{key}", "2", 3),
        line(f"{LLDP}.4.1.1.7.{key}", "4x", hexmac),
        line(f"{LLDP}.4.1.1.9.{key}", "4", f"{model}-{port}"),
        line(f"{LLDP}.4.1.1.10.{key}", "4", f"{model} firmware 13r1"),
        line(f"{LLDP}.4.1.1.11.{key}", "4x", "2400"),
        line(f"{LLDP}.4.1.1.12.{key}", "4x", "0400"),
        # lldpXMedRemMediaPolicyTable, app type voice(1) as BITS in the index: length 1, 0x40
        line(f"{MED}.3.2.1.2.{key}.1.64", "2", vlan),
        line(f"{MED}.3.2.1.3.{key}.1.64", "2", 5),
        line(f"{MED}.3.2.1.4.{key}.1.64", "2", 46),
        line(f"{MED}.3.2.1.5.{key}.1.64", "2", 2),
        line(f"{MED}.3.2.1.6.{key}.1.64", "2", 1),
        line(f"{MED}.3.3.1.6.{key}", "4", model),
    ]


def poe48() -> None:
    """48 PoE ports (group 1): phones with LLDP on 1-24 (voice VLAN 20 tagged, data VLAN 10
    untagged), phones found only by OUI on 25-28, PCs on 29-40, empty 41-46, uplink 48.
    Faults to find: port 5 at 100 Mbit/s half duplex, port 6 at 10 Mbit/s, port 7 class 4
    (802.3at) under an 802.3af profile, port 8 PoE fault, port 25 PoE disabled, ports
    25-28 without the voice VLAN."""
    rows = system(
        "HAND-MADE 48-port PoE+ access switch (RFC 3621 / Q-BRIDGE / LLDP-MED model)",
        "1.3.6.1.4.1.8072.3.2.10",
        "poe48-sw",
    )
    for i in range(1, 49):
        mbps = {5: 100, 6: 10}.get(i, 1000)
        rows += interface(i, f"ge1/0/{i}", mbps, up=i <= 40 or i == 48, duplex=2 if i == 5 else 3)
        rows += [line(f"1.3.6.1.2.1.17.1.4.1.2.{i}", "2", i), line(f"{QB}.4.5.1.1.{i}", "2", 10)]
        phone = i <= 28
        rows += [
            line(f"{PETH}.1.1.3.1.{i}", "2", 2 if i == 25 else 1),
            line(f"{PETH}.1.1.6.1.{i}", "2", 4 if i == 8 else (3 if phone and i != 25 else 2)),
            line(f"{PETH}.1.1.10.1.{i}", "2", 5 if i == 7 else (3 if phone else 1)),
        ]
    rows += interface(100, "vlan10", 1000)
    voice_ports, all_ports = [*range(1, 25), 48], list(range(1, 49))
    for vlan, name, egress, untagged in ((10, "data", all_ports, all_ports[:47]), (20, "voice", voice_ports, [])):
        rows += [
            line(f"{QB}.4.3.1.1.{vlan}", "4", name),
            line(f"{QB}.4.3.1.2.{vlan}", "4x", portlist(egress)),
            line(f"{QB}.4.3.1.4.{vlan}", "4x", portlist(untagged)),
            line(f"{QB}.4.2.1.4.0.{vlan}", "4x", portlist(egress)),
            line(f"{QB}.4.2.1.5.0.{vlan}", "4x", portlist(untagged)),
        ]
    rows += [
        line(f"{PETH}.3.1.1.2.1", "66", 370),
        line(f"{PETH}.3.1.1.3.1", "2", 1),
        line(f"{PETH}.3.1.1.4.1", "66", 160),
    ]
    for i in range(1, 49):
        rows += [line(f"{LLDP}.3.7.1.3.{i}", "4", f"ge1/0/{i}")]
    for i in range(1, 29):
        prefix, _vendor, model = VENDORS[i % 3]
        hexmac = mac(prefix, 0x100 + i)
        if i <= 24:
            rows += lldp_phone(i, 1, hexmac, f"10.20.0.{i}", model, 20)
            rows.append(line(f"{QB}.2.2.1.2.20.{oid_mac(hexmac)}", "2", i))
        else:
            rows.append(line(f"{QB}.2.2.1.2.10.{oid_mac(hexmac)}", "2", i))
    for i in list(range(1, 25)) + list(range(29, 41)):  # PCs behind phones, PCs alone
        rows.append(line(f"{QB}.2.2.1.2.10.{oid_mac(mac('021122', i))}", "2", i))
    for n in range(12):  # uplink: many MACs, incl. a Snom phone on another switch
        rows.append(line(f"{QB}.2.2.1.2.10.{oid_mac(mac('0004' + '13', 0x900 + n))}", "2", 48))
    write("poe48-handmade.snmprec", poe48.__doc__.split("\n")[0].strip(), rows)


def cisco_voice() -> None:
    """Cisco IOS style: vmVlan access VLAN 10, vmVoiceVlanId 20 on Gi1/0/1-2, 4096 (none)
    on Gi1/0/3, Gi1/0/4 a trunk; per-port PoE from CISCO-POWER-ETHERNET-EXT-MIB."""
    rows = system(
        "HAND-MADE Cisco IOS style switch (CISCO-VLAN-MEMBERSHIP-MIB voice VLAN)",
        "1.3.6.1.4.1.9.1.1208",
        "cisco-voice-sw",
    )
    for n, if_index in enumerate(range(10101, 10105), start=1):
        rows += interface(if_index, f"Gi1/0/{n}", 1000)
        rows += [
            line(f"1.3.6.1.4.1.9.9.68.1.2.2.1.2.{if_index}", "2", 10),
            line(f"1.3.6.1.4.1.9.9.68.1.5.1.1.1.{if_index}", "2", 20 if n <= 2 else 4096),
            line(f"1.3.6.1.4.1.9.9.46.1.6.1.1.14.{if_index}", "2", 1 if n == 4 else 2),
            line(f"1.3.6.1.2.1.105.1.1.1.3.1.{n}", "2", 1),
            line(f"1.3.6.1.4.1.9.9.402.1.2.1.9.1.{n}", "66", 4200 if n <= 2 else 0),
            line(f"1.3.6.1.4.1.9.9.402.1.2.1.11.1.{n}", "2", 1000 + n),
            line(f"1.3.6.1.2.1.47.1.3.2.1.2.{1000 + n}.0", "6", f"1.3.6.1.2.1.2.2.1.1.{if_index}"),
        ]
    rows += [
        line(f"{PETH}.3.1.1.2.1", "66", 370),
        line(f"{PETH}.3.1.1.3.1", "2", 1),
        line(f"{PETH}.3.1.1.4.1", "66", 9),
    ]
    for n, if_index in ((1, 10101), (2, 10102)):
        hexmac = mac("805EC0", n)
        rows.append(line(f"1.3.6.1.2.1.17.4.3.1.2.{oid_mac(hexmac)}", "2", n))
        rows.append(line(f"1.3.6.1.2.1.17.1.4.1.2.{n}", "2", if_index))
    write("cisco-voice-handmade.snmprec", cisco_voice.__doc__.split("\n")[0].strip(), rows)


def xss() -> None:
    """Markup in every text the switch controls, for the report renderers' escaping."""
    evil = "<script>alert(1)</script>"
    rows = system(f"Evil switch {evil} & co", "1.3.6.1.4.1.8072.3.2.10", f"sw{evil}")
    rows += interface(1, f"ge1{evil}", 1000) + interface(2, "ge2", 1000)
    rows += lldp_phone(1, 1, mac("009033", 7), "10.20.0.7", f"IP{evil}", 20)
    rows += [
        line("1.3.6.1.2.1.17.1.4.1.2.1", "2", 1),
        line("1.3.6.1.2.1.17.1.4.1.2.2", "2", 2),
        line(f"{LLDP}.3.7.1.3.1", "4", f"ge1{evil}"),
    ]
    write(
        "xss-switch.snmprec", f"sysDescr/sysName/ifName/LLDP texts contain {evil} (SNMPv2-MIB, IF-MIB, LLDP-MIB)", rows
    )


if __name__ == "__main__":
    poe48()
    cisco_voice()
    xss()
