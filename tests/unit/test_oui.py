"""OUI table: prefixes from the IEEE MA-L registry (see netcheck/wire/oui.py for the sources)."""

from __future__ import annotations

import pytest

from netcheck.wire import oui


@pytest.mark.parametrize(
    ("mac", "label"),
    [
        ("00:90:33:12:34:56", "innovaphone"),  # IEEE MA-L 00-90-33 innovaphone AG
        ("00-15-65-aa-bb-cc", "Yealink"),  # 00-15-65 Xiamen Yealink Network Technology
        ("0004.1312.3456", "Snom"),  # 00-04-13 snom technology GmbH
        ("7C2F80000001", "Gigaset"),  # 7C-2F-80 Gigaset Communications GmbH
        ("00:0b:82:f6:1e:68", "Grandstream"),  # eltex recording: lldpRemPortId.0.55.11 (GXP1625)
        ("00:04:f2:c6:70:78", "Poly/Polycom"),  # procurve recording: lldpRemPortId.0.44.2
        ("0c:38:3e:00:00:01", "Fanvil"),  # 0C-38-3E Fanvil Technology
        ("00:1a:e8:00:00:01", "Unify"),  # 00-1A-E8 Unify Software and Solutions
        ("08:00:0f:00:00:01", "Mitel"),  # 08-00-0F Mitel Corporation
        ("00:04:0d:00:00:01", "Avaya"),  # 00-04-0D Avaya Inc
        ("00:d0:95:00:00:01", "Alcatel-Lucent Enterprise"),  # 00-D0-95 Alcatel-Lucent Ent.
        ("00:00:0c:00:00:01", "Cisco"),  # 00-00-0C Cisco Systems
    ],
)
def test_lookup_by_registry_prefix(mac: str, label: str) -> None:
    vendor = oui.lookup(mac)
    assert vendor is not None and vendor.label == label


def test_prefix_named_differently_in_the_two_copies_is_left_out() -> None:
    # 00-80-9F: "Alcatel Business Systems" in Wireshark's copy, "ALE International" in nmap's
    assert oui.lookup("00:80:9f:00:00:01") is None


def test_lookup_accepts_raw_octets() -> None:
    vendor = oui.lookup(bytes.fromhex("009033000001"))
    assert vendor is not None and vendor.key == "innovaphone"


@pytest.mark.parametrize("mac", ["02:11:22:00:00:01", "00:90:33", "zz:90:33:00:00:01", b"\x00\x90"])
def test_unknown_or_malformed_is_none(mac: str | bytes) -> None:
    assert oui.lookup(mac) is None


def test_only_phone_makers_identify_a_phone_alone() -> None:
    """Vendors that also make switches/routers must not turn every MAC into a phone."""
    alone = {v.key for v in oui.VENDORS if v.phone_only}
    assert alone == {"innovaphone", "yealink", "snom", "gigaset", "fanvil"}


def test_prefixes_are_unique_and_well_formed() -> None:
    seen: dict[str, str] = {}
    for vendor in oui.VENDORS:
        for prefix in vendor.prefix_set():
            assert len(prefix) == 6 and int(prefix, 16) >= 0
            assert prefix not in seen, f"{prefix} in {seen.get(prefix)} and {vendor.key}"
            seen[prefix] = vendor.key
