"""Bandwidth a site needs, per direction: pure arithmetic, no I/O.

Per-call bit rate of a voice stream at layer 3 (what an IP link carries)::

    (codec payload + 12 RTP + 8 UDP + 20 IPv4) octets x 8 x packets per second

Header sizes: RTP fixed header 12 octets (RFC 3550 section 5.1, no CSRC, no extension),
UDP header 8 octets (RFC 768), IPv4 header 20 octets (RFC 791, no options; IPv6 would be
40, RFC 8200). G.711 at 20 ms: 160 + 12 + 8 + 20 = 200 octets x 50 pps = 80 kbit/s per
direction. Optionally layer 2 on top: an Ethernet frame adds 14 octets of header (IEEE
802.3 clause 3.1.1; what a Linux qdisc such as tbf counts, since skb->len includes the
MAC header) and on the wire also 4 FCS + 8 preamble/SFD + 12 inter-frame gap = 38.

What the site needs, per direction (:func:`requirement`):

- a profile with a per-extension figure (VSE NET: "at least 100 kbit/s permanently free,
  both directions, per extension in use") uses it: extensions x figure;
- otherwise (stimme) voice is sized from the profile's codec: extensions x per-call rate;
- package media (stimme: video 250 kbit/s, desktop sharing 500 kbit/s per user of the
  package) is added per user of each package, in both directions;
- ``concurrency`` (0 < c <= 1, default 1) is the share of extensions / package users
  active at once: the providers size per extension, so 1 is their rule; a lower figure is
  the integrator's planning assumption and the result says so. Counts round up.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from netcheck.analysis import emodel

RTP_HEADER: Final = 12  # RFC 3550 5.1
UDP_HEADER: Final = 8  # RFC 768
IPV4_HEADER: Final = 20  # RFC 791 (no options)
IPV6_HEADER: Final = 40  # RFC 8200
ETHERNET_HEADER: Final = 14  # IEEE 802.3: dst + src MAC + EtherType (what tbf counts on Linux)
ETHERNET_WIRE: Final = 38  # + 4 FCS + 8 preamble/SFD + 12 inter-frame gap


class BandwidthError(ValueError):
    """Site inputs that cannot be turned into a requirement (unknown package, bad ratio)."""


def packet_bytes(payload_bytes: int, *, ipv6: bool = False, l2_bytes: int = 0) -> int:
    """Octets of one RTP packet at layer 3 (plus ``l2_bytes`` of link overhead)."""
    ip = IPV6_HEADER if ipv6 else IPV4_HEADER
    return payload_bytes + RTP_HEADER + UDP_HEADER + ip + l2_bytes


def bitrate_kbps(packet_octets: int, interval_ms: float) -> float:
    """kbit/s (1000 bit/s) of one packet of ``packet_octets`` every ``interval_ms``."""
    return packet_octets * 8 * (1000.0 / interval_ms) / 1000.0


def codec_payload_bytes(codec: str, interval_ms: float = 20.0) -> int:
    """Payload octets per packet of ``codec`` (G.711 20 ms: 160)."""
    c = emodel.CODECS[codec]
    exact = c.payload_bytes(interval_ms)
    return exact if exact is not None else round(c.bitrate_kbps * interval_ms / 8)


def call_kbps(codec: str = "G.711", interval_ms: float = 20.0, *, ipv6: bool = False,
              l2_bytes: int = 0) -> float:
    """Bit rate of one call in one direction, headers included (G.711 20 ms: 80.0)."""
    size = packet_bytes(codec_payload_bytes(codec, interval_ms), ipv6=ipv6, l2_bytes=l2_bytes)
    return bitrate_kbps(size, interval_ms)


@dataclass(frozen=True)
class Requirement:
    """Free bandwidth the site needs per direction, and how it was derived (``basis``:
    one line per term, for the report)."""

    up_kbps: float
    down_kbps: float
    voice_calls: int
    per_call_kbps: float
    basis: tuple[str, ...] = field(default=())

    @property
    def max_kbps(self) -> float:
        return max(self.up_kbps, self.down_kbps)


def parse_package_mix(text: str) -> dict[str, int]:
    """``"video=10,desktop_sharing=5"`` -> ``{"video": 10, "desktop_sharing": 5}``."""
    out: dict[str, int] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        name, sep, count = item.partition("=")
        if not sep or not name.strip() or not count.strip().isdigit():
            raise BandwidthError(f"package mix {item!r}: expected NAME=COUNT")
        out[name.strip()] = int(count)
    return out


def requirement(
    extensions: int,
    *,
    per_extension_up_kbps: float | None = None,
    per_extension_down_kbps: float | None = None,
    packages_kbps: Mapping[str, float] | None = None,
    package_mix: Mapping[str, int] | None = None,
    concurrency: float = 1.0,
    codec: str = "G.711",
    interval_ms: float = 20.0,
    l2_bytes: int = 0,
) -> Requirement:
    """The bandwidth ``extensions`` need each way (see the module docstring for the rule)."""
    if not 0.0 < concurrency <= 1.0:
        raise BandwidthError(f"concurrency must be > 0 and <= 1 (got {concurrency:g})")
    if extensions < 0:
        raise BandwidthError(f"extensions must be >= 0 (got {extensions})")
    active = math.ceil(extensions * concurrency - 1e-9)
    per_call = call_kbps(codec, interval_ms, l2_bytes=l2_bytes)
    share = "" if concurrency == 1.0 else f" ({concurrency:g} of {extensions} at once)"
    if per_extension_up_kbps is not None or per_extension_down_kbps is not None:
        up_each, down_each = per_extension_up_kbps or 0.0, per_extension_down_kbps or 0.0
        basis = [f"{active} extensions{share} x {up_each:g}/{down_each:g} kbit/s (profile)"]
    else:
        up_each = down_each = per_call
        basis = [f"{active} calls{share} x {per_call:g} kbit/s ({codec}, {interval_ms:g} ms, "
                 f"RTP/UDP/IP headers)"]
    up, down = active * up_each, active * down_each
    for name, users in (package_mix or {}).items():
        known = packages_kbps or {}
        if name not in known:
            raise BandwidthError(
                f"package {name!r} is not in the profile (known: {', '.join(sorted(known)) or 'none'})")
        n = math.ceil(users * concurrency - 1e-9)
        up += n * known[name]
        down += n * known[name]
        basis.append(f"{n} x {name} {known[name]:g} kbit/s")
    return Requirement(up_kbps=round(up, 3), down_kbps=round(down, 3), voice_calls=active,
                       per_call_kbps=per_call, basis=tuple(basis))


def calls_for(kbps: float, per_call_kbps: float) -> int:
    """Whole calls needed to occupy ``kbps`` (rounded up)."""
    return 0 if kbps <= 0 else math.ceil(kbps / per_call_kbps - 1e-9)


def calls_in(link_kbps: float, per_call_kbps: float) -> int:
    """Whole calls a link of ``link_kbps`` carries (rounded down): the lab's truth."""
    return math.floor(link_kbps / per_call_kbps + 1e-9)
