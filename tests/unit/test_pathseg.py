"""Segmentation of a per-hop trace (netcheck.analysis.pathseg) and the fault-location judgement
(netcheck.evaluate.faultloc), on hand-made hop samples whose right answer is known."""

from __future__ import annotations

import pytest

from netcheck.analysis.pathseg import (
    HopSamples,
    boundaries,
    hop_summary,
    is_site_local,
    points,
    segments,
)
from netcheck.evaluate import faultloc
from netcheck.result import Measurement, Status

L = None  # a lost probe


def _hops(*rows: tuple[str | None, list[float | None]]) -> list[HopSamples]:
    return [HopSamples(i + 1, addr, tuple(rtts)) for i, (addr, rtts) in enumerate(rows)]


CLEAN = [1.0] * 20
PATH = ("192.168.1.1", "100.64.0.1", "203.0.113.1", "198.51.100.10")  # gw, ISP (CGNAT), ISP, target


def _segs(hops: list[HopSamples], **kw: object) -> dict[str, dict[str, object]]:
    out = segments(hops, gateway="192.168.1.1", target=PATH[-1], reached=True, **kw)  # type: ignore[arg-type]
    return {str(s["segment"]): s for s in out}


def test_hop_summary_statistics() -> None:
    s = hop_summary(HopSamples(1, "a", (10.0, 12.0, L, 11.0)))
    assert (s["sent"], s["received"], s["loss_pct"]) == (4, 3, 25.0)
    assert (s["rtt_min_ms"], s["rtt_median_ms"], s["rtt_max_ms"]) == (10.0, 11.0, 12.0)
    assert s["jitter_ms"] == 1.5  # |12-10|, |11-12| over consecutive answers


def test_rate_limited_middle_hop_is_not_path_loss() -> None:
    """Hop 2 answers one probe in four (ICMP rate limit); hops 3 and 4 answer all."""
    limited = [1.0 if i % 4 == 0 else L for i in range(20)]
    hops = _hops((PATH[0], CLEAN), (PATH[1], limited), (PATH[2], CLEAN), (PATH[3], CLEAN))
    assert [p.loss_pct for p in points(hops)] == [0.0, 0.0, 0.0, 0.0, 0.0]
    assert all(s["loss_pct"] == 0.0 for s in _segs(hops).values())
    assert faultloc.findings(list(_segs(hops).values())) == []


def test_loss_persisting_from_the_isp_hop_is_the_isps() -> None:
    lossy = [1.0 if i % 5 else L for i in range(20)]  # 20 %
    hops = _hops((PATH[0], CLEAN), (PATH[1], CLEAN), (PATH[2], lossy), (PATH[3], lossy))
    segs = _segs(hops)
    assert (segs["lan"]["loss_pct"], segs["site_edge"]["loss_pct"]) == (0.0, 0.0)
    assert (segs["isp"]["loss_pct"], segs["provider"]["loss_pct"]) == (20.0, 0.0)
    found = faultloc.findings(list(segs.values()))
    assert [(f.segment, f.metric) for f in found] == [("isp", "loss_pct")]


def test_loss_is_judged_where_it_starts_and_only_above_noise() -> None:
    """1 lost of 20 at the ISP hop is not told apart from noise (z < 1.645); the loss that
    then grows into the provider's segment is, and it starts there."""
    one = [L] + [1.0] * 19
    five = [L] * 5 + [1.0] * 15
    segs = _segs(_hops((PATH[0], CLEAN), (PATH[1], CLEAN), (PATH[2], one), (PATH[3], five)))
    assert segs["isp"]["loss_pct"] == 5.0 and float(segs["isp"]["loss_z"]) < 1.645  # type: ignore[arg-type]
    assert [f.segment for f in faultloc.findings(list(segs.values()))] == ["provider"]


def test_delay_of_a_slow_path_hop_does_not_persist() -> None:
    """Hop 2 answers late (control plane busy); later hops are fast: no delay share."""
    slow = [40.0] * 20
    hops = _hops((PATH[0], CLEAN), (PATH[1], slow), (PATH[2], [2.0] * 20), (PATH[3], [2.0] * 20))
    segs = _segs(hops)
    assert segs["site_edge"]["delay_ms"] == 1.0 and segs["isp"]["delay_ms"] == 0.0


def test_boundaries_with_provider_networks_and_private_site_hops() -> None:
    """An internal router (10.x) after the gateway is still the site; 100.64/10 is the ISP's
    (CGNAT); with provider prefixes the provider segment starts before its first hop."""
    addrs = ("192.168.1.1", "10.0.0.1", "100.64.0.1", "203.0.113.1", "198.51.100.1", "198.51.100.10")
    hops = [HopSamples(i + 1, a, tuple(CLEAN)) for i, a in enumerate(addrs)]
    pts = points(hops)
    b = boundaries(pts, gateway="192.168.1.1", target=addrs[-1], reached=True, provider_nets=("198.51.100.0/24",))
    spans = {k.value: (pts[v[0]].ttl, pts[v[1]].ttl) if v else None for k, v in b.items()}
    assert spans == {"lan": (0, 1), "site_edge": (1, 3), "isp": (3, 4), "provider": (4, 6)}
    no_prefix = boundaries(pts, gateway="192.168.1.1", target=addrs[-1], reached=True)
    assert (pts[no_prefix["provider"][0]].ttl, pts[no_prefix["isp"][1]].ttl) == (5, 5)  # type: ignore[index]


def test_unreached_target_has_no_provider_segment_and_silent_hops_are_skipped() -> None:
    hops = _hops((PATH[0], CLEAN), (None, [L] * 20), (PATH[2], CLEAN))
    segs = {s["segment"]: s for s in segments(hops, gateway=PATH[0], target=PATH[3], reached=False)}
    assert segs["provider"] == {"segment": "provider", "measured": False}
    assert (segs["site_edge"]["from_ttl"], segs["site_edge"]["to_ttl"]) == (1, 3)


def test_target_is_the_gateway() -> None:
    segs = {s["segment"]: s for s in segments(_hops(("192.168.1.1", CLEAN)), gateway="192.168.1.1",
                                               target="192.168.1.1", reached=True)}
    assert segs["lan"]["measured"] is True
    assert not any(segs[k]["measured"] for k in ("site_edge", "isp", "provider"))


def test_gateway_not_first_hop_not_found() -> None:
    """No answer from TTL 1 and no gateway address: the LAN share is not measured."""
    hops = [HopSamples(2, "203.0.113.1", tuple(CLEAN)), HopSamples(3, "198.51.100.10", tuple(CLEAN))]
    segs = {s["segment"]: s for s in segments(hops, gateway=None, target="198.51.100.10", reached=True)}
    assert segs["lan"]["measured"] is False and segs["site_edge"]["to_ttl"] == 2


@pytest.mark.parametrize(("address", "local"), [
    ("192.168.1.1", True), ("10.1.2.3", True), ("172.31.0.1", True), ("fd00::1", True), ("fe80::1", True),
    ("100.64.0.1", False), ("198.18.0.1", False), ("8.8.8.8", False), (None, False), ("bogus", False),
])
def test_site_local_addresses(address: str | None, local: bool) -> None:
    assert is_site_local(address) is local


def test_every_segment_has_its_remedy_in_both_catalogues() -> None:
    """remedy.faultloc_<segment> is built at run time from the segment name."""
    from netcheck.i18n import keys

    for lang in ("en", "de"):
        assert {f"remedy.faultloc_{s}" for s in faultloc.SEGMENTS} <= keys(lang)


@pytest.mark.parametrize(("rounds", "told"), [(5, 60.0), (10, 30.0), (20, 15.0), (30, 10.0), (2, 100.0), (1, None)])
def test_smallest_loss_a_trace_of_n_rounds_tells_apart(rounds: int, told: float | None) -> None:
    """Two-proportion z test (pooled), a lossless start against k of n lost at the far end:
    z = (k/n) / sqrt(p(1-p) 2/n) with p = k/2n, against 1.645 (one-sided 95 %). By hand:
    n = 10: k = 2 gives 1.49, k = 3 gives 1.88, so 30 %; n = 5: k = 2 gives 1.58, k = 3
    gives 2.07, so 60 %; n = 20: k = 2 gives 1.45, k = 3 gives 1.80, so 15 %; n = 30: k = 2
    gives 1.44, k = 3 gives 1.78, so 10 %; n = 2: k = 1 gives 1.15, k = 2 gives 2.00, so
    100 %; one probe cannot tell even total loss (z = 1.41)."""
    assert faultloc.smallest_told_loss_pct(rounds) == told


def test_the_segments_z_and_the_smallest_told_loss_agree() -> None:
    """A 5-round trace whose ISP hop loses 3 of 5 is a finding; 2 of 5 is not (same z)."""
    def isp_finding(lost: int) -> list[str]:
        lossy = [L] * lost + [1.0] * (5 - lost)
        segs = _segs(_hops((PATH[0], [1.0] * 5), (PATH[1], [1.0] * 5), (PATH[2], lossy), (PATH[3], lossy)))
        return [f.segment for f in faultloc.findings(list(segs.values()))]
    assert isp_finding(3) == ["isp"] and isp_finding(2) == []


def _trace_check(rounds: int, sent: int | None = None) -> str:
    """The fault check of a clean trace planned with ``rounds`` probes per hop, of which
    ``sent`` (default all) went out before the deadline."""
    n = rounds if sent is None else sent
    hops = _hops(*((address, [1.0] * n) for address in PATH))
    m = Measurement(id="path_hops:sbc", probe="path_hops", target=PATH[-1], method="udp-ttl-raw",
                    started_utc="2026-01-01T00:00:00.000Z", duration_s=float(rounds),
                    values={"rounds": rounds, "segments": list(_segs(hops).values()),  # type: ignore[dict-item]
                            "hops": [hop_summary(h) for h in hops]})  # type: ignore[dict-item]
    check = faultloc.fault_check("sbc", PATH[-1], m)
    assert check.status is Status.PASS
    return check.reason


def test_a_short_trace_says_how_much_loss_it_could_not_tell_apart() -> None:
    """A quick run's 5-round trace passes "no segment adds loss" only with the 60 % it
    could have told apart; a full 10-round trace needs no such note."""
    assert "only 5 probes per hop: the loss a segment adds is told apart from noise only from 60 % on" \
        in _trace_check(5)
    assert "probes per hop" not in _trace_check(10)
    # a 30-round trace its deadline stopped after 4 probes per hop says what it had: n = 4,
    # k = 2 gives z = 1.633 (just under 1.645), k = 3 gives 2.19, so 75 %
    assert "only 4 probes per hop: the loss a segment adds is told apart from noise only from 75 % on" \
        in _trace_check(30, sent=4)
