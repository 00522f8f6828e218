"""Bandwidth arithmetic (RFC 3550 / 768 / 791 header sizes) and the site requirement."""

from __future__ import annotations

import pytest

from netcheck.analysis import bandwidth as bw


def test_g711_call_is_80_kbit_per_direction() -> None:
    # RFC 3550 5.1 RTP 12 + RFC 768 UDP 8 + RFC 791 IPv4 20 + G.711 20 ms payload 160
    # = 200 octets x 8 bit x 50 pps = 80 000 bit/s
    assert bw.packet_bytes(160) == 200
    assert bw.call_kbps("G.711", 20.0) == 80.0


def test_layer2_overheads() -> None:
    # what tbf counts on Linux Ethernet (skb->len incl. the 14-octet MAC header): 214 x 400
    assert bw.call_kbps("G.711", 20.0, l2_bytes=bw.ETHERNET_HEADER) == pytest.approx(85.6)
    # on the wire: + FCS 4 + preamble 8 + IFG 12 = 38 -> 238 x 8 x 50 = 95.2 kbit/s
    assert bw.call_kbps("G.711", 20.0, l2_bytes=bw.ETHERNET_WIRE) == pytest.approx(95.2)
    assert bw.call_kbps("G.711", 20.0, ipv6=True) == 88.0  # 40-octet IPv6 header (RFC 8200)


def test_g729_call() -> None:
    # 8 kbit/s x 20 ms = 20 octets payload + 40 headers = 60 x 400 = 24 kbit/s
    assert bw.codec_payload_bytes("G.729A+VAD", 20.0) == 20
    assert bw.call_kbps("G.729A+VAD", 20.0) == 24.0


def test_vse_net_per_extension_requirement() -> None:
    # REQUIREMENTS.md 2: at least 100 kbit/s both directions per extension in use
    need = bw.requirement(25, per_extension_up_kbps=100, per_extension_down_kbps=100)
    assert (need.up_kbps, need.down_kbps, need.voice_calls) == (2500, 2500, 25)


def test_stimme_packages_on_top_of_codec_voice() -> None:
    # REQUIREMENTS.md 1: video 250 kbit/s, desktop sharing 500 kbit/s per package user
    packages = {"video": 250.0, "desktop_sharing": 500.0}
    need = bw.requirement(
        10, packages_kbps=packages, package_mix={"video": 3, "desktop_sharing": 2}
    )
    assert need.up_kbps == need.down_kbps == 10 * 80 + 3 * 250 + 2 * 500  # 2550
    half = bw.requirement(
        10, packages_kbps=packages, package_mix={"video": 3, "desktop_sharing": 2}, concurrency=0.5
    )
    assert half.up_kbps == 5 * 80 + 2 * 250 + 1 * 500  # counts round up: 1.5 -> 2, 1 -> 1
    assert "0.5 of 10 at once" in half.basis[0]


def test_requirement_input_errors() -> None:
    with pytest.raises(bw.BandwidthError, match="package 'fax' is not in the profile"):
        bw.requirement(1, packages_kbps={"video": 250}, package_mix={"fax": 1})
    with pytest.raises(bw.BandwidthError, match="concurrency must be > 0 and <= 1"):
        bw.requirement(1, concurrency=0.0)
    assert bw.parse_package_mix("video=10, desktop_sharing=5") == {
        "video": 10,
        "desktop_sharing": 5,
    }
    with pytest.raises(bw.BandwidthError, match="expected NAME=COUNT"):
        bw.parse_package_mix("video:10")


def test_calls_in_and_for() -> None:
    assert bw.calls_in(2000, 85.6) == 23  # the lab's truth for a 2 Mbit/s tbf
    assert bw.calls_in(2000, 80.0) == 25
    assert bw.calls_for(2500 * 1.25, 80.0) == 40
    assert bw.calls_for(0, 80.0) == 0
