"""LLDP / LLDP-MED / CDP decoding (netcheck.wire.lldp).

Sources of the expected values:
- RECORDED: a frame captured in the netlab from lldpd 1.0.16 started by
  ``tests.netlab.peers.start_lldpd`` (``configure system hostname netlab-switch``,
  ``configure med policy application voice vlan 100 priority voice dscp 46``, ``-M 4``,
  on switch port ``p-lan`` with br0 = 192.168.77.2); tshark 4.0 decodes the same policy TLV
  as "Tagged: No, VLAN Id: 100, L2 Priority: 5, DSCP Priority: 46".
- Frames built with scapy (an independent encoder) for the IEEE 802.1AB base TLVs and CDP;
  LLDP-MED TLVs written out bit by bit from ANSI/TIA-1057 §10.2.3 / §10.2.5.
"""

from __future__ import annotations

from scapy.contrib.cdp import (
    CDPMsgDeviceID,
    CDPMsgDuplex,
    CDPMsgNativeVLAN,
    CDPMsgPlatform,
    CDPMsgPortID,
    CDPMsgPower,
    CDPMsgVoIPVLANReply,
    CDPv2_HDR,
)
from scapy.contrib.lldp import (
    LLDPDUChassisID,
    LLDPDUEndOfLLDPDU,
    LLDPDUGenericOrganisationSpecific,
    LLDPDUPortDescription,
    LLDPDUPortID,
    LLDPDUSystemName,
    LLDPDUTimeToLive,
)
from scapy.layers.l2 import LLC, SNAP, Dot1Q, Dot3, Ether

from netcheck.wire import lldp

RECORDED = bytes.fromhex(
    "0180c200000ee6efa4457c8988cc020704e6efa4457c89040703e6efa4457c89060200040a0d6e65746c61622d"
    "7377697463680c5544656269616e20474e552f4c696e75782031322028626f6f6b776f726d29204c696e757820"
    "362e31382e34342d66632d7635393520233120534d5020505245454d50545f44594e414d4943204030207838365f"
    "36340e04009c0004100c0501c0a84d020200000002000805702d6c616efe0900120f030100000000fe0900120f01"
    "0080000036fe070012bb01003f04fe130012bb07362e31382e34342d66632d76353935fe080012bb020100c96e00"
    "00"
)

# TIA-1057 §10.2.3.1 network policy: app type 1 (voice), then U=0 T=1 X=0, VLAN 100,
# L2 priority 5, DSCP 46: 0 1 0 000001100100 101 101110 = 0x40C96E.
MED_POLICY_TAGGED = bytes.fromhex("0140c96e")
# TIA-1057 §10.2.5 extended power: type PD (01), source PSE (01), priority high (0010) =
# 0x52; power 130 x 0.1 W = 13.0 W.
MED_POWER = bytes.fromhex("520082")
# IEEE 802.3 clause 79.3.1 MAC/PHY: autoneg supported+enabled (0x03), advertised 0x6c01,
# operational MAU type 30 = 1000BASE-T full duplex (RFC 4836 dot3MauType).
MAC_PHY = bytes.fromhex("036c01001e")


def test_recorded_lldpd_frame_decodes_switch_port_and_med_policy() -> None:
    kind, body = lldp.classify_frame(RECORDED) or ("", b"")
    assert kind == "lldp"
    info = lldp.parse_lldp(body)
    assert info.system_name == "netlab-switch"
    assert info.port_description == "p-lan"
    assert info.port_id == "e6:ef:a4:45:7c:89" and info.port_id_subtype == 3
    assert info.ttl_s == 4  # lldpd: tx-interval 1 s x hold 4
    assert info.mgmt_addresses == ["192.168.77.2"]
    assert info.med_device_type == 4  # -M 4: network connectivity device
    assert info.med_policies == [lldp.NetworkPolicy(1, "voice", False, False, 100, 5, 46)]


def _lldp_frame(*org: tuple[int, int, bytes]) -> bytes:
    tlvs = [
        LLDPDUGenericOrganisationSpecific(org_code=oui, subtype=sub, data=data)
        for oui, sub, data in org
    ]
    frame = (
        Ether(dst=lldp.LLDP_MAC, src="02:00:00:00:00:01", type=0x88CC)
        / LLDPDUChassisID(subtype=4, id="02:00:00:00:00:01")
        / LLDPDUPortID(subtype=5, id=b"Gi1/0/7")
        / LLDPDUTimeToLive(ttl=120)
        / LLDPDUPortDescription(description=b"phone 7")
        / LLDPDUSystemName(system_name=b"sw-floor1")
    )
    for tlv in tlvs:
        frame = frame / tlv
    return bytes(frame / LLDPDUEndOfLLDPDU())


def test_med_tagged_policy_power_and_mac_phy() -> None:
    frame = _lldp_frame(
        (0x0012BB, 2, MED_POLICY_TAGGED),
        (0x0012BB, 4, MED_POWER),
        (0x00120F, 1, MAC_PHY),
        (0x0080C2, 1, (1).to_bytes(2, "big")),
    )
    info = lldp.parse_lldp(lldp.classify_frame(frame)[1])  # type: ignore[index]
    assert (info.chassis_id, info.port_id, info.system_name) == (
        "02:00:00:00:00:01",
        "Gi1/0/7",
        "sw-floor1",
    )
    assert info.med_policies == [lldp.NetworkPolicy(1, "voice", False, True, 100, 5, 46)]
    assert info.med_power == lldp.ExtendedPower("PD", 1, "high", 13.0)
    assert (info.autoneg, info.mau_type, info.speed_mbps, info.duplex) == (True, 30, 1000, "full")
    assert info.port_vlan == 1


def test_tagged_lldp_frame_is_classified() -> None:
    frame = bytes(
        Ether(dst=lldp.LLDP_MAC)
        / Dot1Q(vlan=100, type=0x88CC)
        / LLDPDUChassisID(subtype=7, id=b"sw")
        / LLDPDUEndOfLLDPDU()
    )
    assert lldp.classify_frame(frame) == ("lldp", frame[18:])


def test_truncated_tlv_stops_decoding_without_error() -> None:
    _kind, body = lldp.classify_frame(_lldp_frame((0x0012BB, 2, MED_POLICY_TAGGED))) or ("", b"")
    cut = body[: body.index(bytes.fromhex("0012bb02")) + 3]  # policy TLV header says 8, 3 left
    info = lldp.parse_lldp(cut)
    assert info.system_name == "sw-floor1" and info.med_policies == []


def test_short_med_policy_is_ignored_not_misread() -> None:
    info = lldp.parse_lldp(_lldp_frame((0x0012BB, 2, b"\x01\x40"))[14:])
    assert info.med_policies == [] and info.unknown_tlvs == 1


def test_non_discovery_frames_are_not_classified() -> None:
    assert lldp.classify_frame(b"\x01" * 13) is None
    assert lldp.classify_frame(bytes(Ether(type=0x0800) / (b"\x45" + bytes(40)))) is None


def test_cdp_frame_from_scapy() -> None:
    cdp = CDPv2_HDR(
        msg=[
            CDPMsgDeviceID(val=b"SEP-SW1"),
            CDPMsgPortID(iface=b"GigabitEthernet1/0/7"),
            CDPMsgPlatform(val=b"cisco WS-C2960X"),
            CDPMsgNativeVLAN(vlan=10),
            CDPMsgVoIPVLANReply(status=1, vlan=100),
            CDPMsgDuplex(duplex=1),
            CDPMsgPower(power=15400),
        ]
    )
    frame = bytes(
        Dot3(dst=lldp.CDP_MAC, src="02:00:00:00:00:02") / LLC() / SNAP(OUI=0x0C, code=0x2000) / cdp
    )
    kind, body = lldp.classify_frame(frame) or ("", b"")
    assert kind == "cdp"
    info = lldp.parse_cdp(body)
    assert (info.version, info.device_id, info.port_id) == (2, "SEP-SW1", "GigabitEthernet1/0/7")
    assert (info.platform, info.native_vlan, info.voice_vlan) == ("cisco WS-C2960X", 10, 100)
    assert (info.duplex, info.power_mw) == ("full", 15400)
