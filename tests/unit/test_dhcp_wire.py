"""DHCP DISCOVER building and OFFER parsing (netcheck.wire.dhcp).

Expected values: RFC 2131 §2 (BOOTP layout, broadcast flag 0x8000, magic cookie), RFC 2132
option numbers (53 message type: 1 DISCOVER, 2 OFFER; 54 server id; 6 DNS; 55 parameter
request list; 43, 66), RFC 3361 (120), RFC 5859 (150). OFFERs and frames are built or
decoded with scapy as an independent codec.
"""

from __future__ import annotations

import pytest
from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Dot1Q, Ether

from netcheck.probes.dhcp import random_chaddr, summarize
from netcheck.wire import dhcp

CHADDR = bytes.fromhex("02a1b2c3d4e5")
XID = 0x1234ABCD


def test_discover_decodes_in_scapy_with_broadcast_flag_and_phone_params() -> None:
    msg = BOOTP(dhcp.build_discover(XID, CHADDR))
    assert (msg.op, msg.xid, int(msg.flags), msg.chaddr[:6]) == (1, XID, 0x8000, CHADDR)
    opts: dict[str, object] = dict(o for o in msg[DHCP].options if isinstance(o, tuple))
    assert opts["message-type"] == 1
    assert {43, 66, 120, 150, 6} <= set(opts["param_req_list"])  # type: ignore[call-overload]


def test_discover_frame_ip_checksum_and_vlan_tag() -> None:
    frame = Ether(dhcp.discover_frame(CHADDR, dhcp.build_discover(XID, CHADDR), vlan=100))
    assert frame[Dot1Q].vlan == 100
    ip = frame[IP]
    assert (ip.src, ip.dst, frame[UDP].sport, frame[UDP].dport) == (
        "0.0.0.0",
        "255.255.255.255",
        68,
        67,
    )
    rebuilt = IP(bytes(ip))
    del rebuilt.chksum
    assert IP(bytes(rebuilt)).chksum == ip.chksum  # RFC 1071 checksum matches scapy's


def _offer_frame(options: list[object], xid: int = XID, vlan: int | None = None) -> bytes:
    bootp = BOOTP(
        op=2, xid=xid, yiaddr="192.168.77.114", siaddr="192.168.77.1", chaddr=CHADDR, flags=0x8000
    )
    l3 = (
        IP(src="192.168.77.1", dst="255.255.255.255")
        / UDP(sport=67, dport=68)
        / bootp
        / DHCP(options=options)
    )
    eth = Ether(dst="ff:ff:ff:ff:ff:ff", src="02:00:00:00:00:01")
    return bytes(eth / Dot1Q(vlan=vlan) / l3 if vlan is not None else eth / l3)


def test_offer_with_provisioning_options() -> None:
    frame = _offer_frame(
        [
            ("message-type", "offer"),
            ("server_id", "192.168.77.1"),
            ("name_server", "192.168.77.1"),
            ("tftp_server_name", b"http://192.168.77.1/prov"),
            ("tftp_server_address", "192.168.77.1"),
            ("vendor_specific", b"\x01\x04\xc0\xa8\x4d\x01"),
            "end",
        ],
        vlan=100,
    )
    payload, vlan = dhcp.bootp_from_frame(frame) or (b"", None)
    offer = dhcp.parse_offer(payload)
    assert vlan == 100
    assert (offer.xid, offer.message_type, offer.server_id, offer.yiaddr) == (
        XID,
        2,
        "192.168.77.1",
        "192.168.77.114",
    )
    assert offer.chaddr == CHADDR
    assert {6, 43, 53, 54, 66, 150} == set(offer.options)
    shown = summarize(offer, 1.5)
    assert shown["dns"] == ["192.168.77.1"]
    assert shown["option_values"] == {
        "6": ["192.168.77.1"],
        "54": ["192.168.77.1"],
        "150": ["192.168.77.1"],
        "66": "http://192.168.77.1/prov",
        "43": "0104c0a84d01",
    }


def test_repeated_option_is_concatenated_rfc3396() -> None:
    msg = dhcp.build_discover(XID, CHADDR)[:240]
    reply = bytes([2]) + msg[1:240] + bytes([6, 4, 10, 0, 0, 1, 6, 4, 10, 0, 0, 2, 255])
    assert dhcp.parse_offer(reply).ipv4_list(6) == ["10.0.0.1", "10.0.0.2"]


def test_errors_name_the_problem() -> None:
    good = _offer_frame([("message-type", "offer"), "end"])
    payload = (dhcp.bootp_from_frame(good) or (b"", None))[0]
    with pytest.raises(dhcp.DhcpError, match=r"short BOOTP message: 100 octets, need >= 240"):
        dhcp.parse_offer(payload[:100])
    with pytest.raises(dhcp.DhcpError, match="no DHCP magic cookie"):
        dhcp.parse_offer(payload[:236] + b"\x00\x00\x00\x00" + payload[240:])
    with pytest.raises(dhcp.DhcpError, match=r"op 1 is not BOOTREPLY"):
        dhcp.parse_offer(b"\x01" + payload[1:])
    with pytest.raises(dhcp.DhcpError, match=r"option 66 at offset 0 runs past the end"):
        dhcp.parse_offer(payload[:240] + bytes([66, 20, 65]))


def test_frames_not_for_the_client_port_are_ignored() -> None:
    frame = bytes(Ether() / IP(dst="255.255.255.255") / UDP(sport=68, dport=67) / b"x")
    assert dhcp.bootp_from_frame(frame) is None


def test_random_chaddr_is_locally_administered_unicast() -> None:
    for _ in range(50):
        first = random_chaddr()[0]
        assert first & 0x02 and not first & 0x01  # IEEE 802: U/L bit set, I/G bit clear
