"""Fault location in the multi-hop lab (tests/netlab/multihop.py): lan -> site router ->
isp1 -> isp2 -> provider, impairment placed on one link at a time.

Truth: the impairment bridge's seeded log. Each UDP probe carries ``NCHP`` + round + TTL in
its first payload octets, which the log records (``head``), so the probes the bridge
dropped upstream are known exactly; every ICMP answer a hop beyond the link sends crosses
the link downstream, and the log says which of those it dropped. With the routers' own
ICMP rate limiting off (the lab's default), a hop beyond the impaired link must answer
exactly ``sent - dropped up - dropped down`` probes. The segment the result blames must
be the one that holds the impaired link, in all four placements.

ICMP rate limiting: nftables ``limit rate over 1/second`` on Time Exceeded output (its
drop counter is the truth), or the kernel's own ``net.ipv4.icmp_ratelimit`` on a middle
hop, must show as loss local to that hop, never as path loss.
"""

from __future__ import annotations

import asyncio
import statistics
import struct
import time
from collections.abc import Iterator

import pytest

from netcheck.evaluate import faultloc
from netcheck.i18n import Catalogue
from netcheck.probes import path_hops
from netcheck.probes._common import Context
from netcheck.reports import html, svg
from netcheck.result import Check, Measurement, Msg, Status
from tests.netlab.fixtures import require_netlab
from tests.netlab.multihop import LINKS, MultiHopLab, multihop_lab
from tests.netlab.netns import run_in_netns
from tests.netlab.truth import DELIVERED, owd_s
from tests.unit.test_store import make_result

pytestmark = pytest.mark.netlab

#: lab link -> the segment that holds it, and the TTL of the first hop beyond it
PLACEMENTS = {"lan": ("lan", 1), "edge": ("site_edge", 2), "isp": ("isp", 3), "prov": ("provider", 4)}
IMPAIRMENT = "delay=40ms jitter=5ms loss=10%"
ROUNDS = 40


@pytest.fixture(scope="module")
def lab() -> Iterator[MultiHopLab]:
    """One lab for the module; each test moves the bridge (or clears it) as it needs."""
    require_netlab()
    with multihop_lab("lan", "") as lab:
        yield lab


def trace(lab: MultiHopLab, *, rounds: int = ROUNDS, interval_s: float = 0.1, mode: str = "raw",
          host: str | None = None, pmtu: bool = False) -> Measurement:
    spec = path_hops.Spec(id="path_hops:sbc", host=host or lab.target, rounds=rounds, interval_s=interval_s,
                          mode=mode, pmtu=pmtu, max_hops=8)
    ctx = Context(deadline=time.monotonic() + rounds * interval_s + 15, caps={"raw_icmp": True})
    return run_in_netns(lab.ns["lan"], asyncio.run, path_hops.run(spec, ctx))


def hop(m: Measurement, ttl: int) -> dict[str, object]:
    return next(h for h in m.values["hops"] if h["ttl"] == ttl)  # type: ignore[union-attr]


def _probe_key(record: dict[str, object]) -> tuple[int, int] | None:
    head = bytes.fromhex(str(record.get("head") or ""))
    if record.get("proto") != 17 or not head.startswith(path_hops.MAGIC):
        return None
    rnd, ttl = struct.unpack_from("!HH", head, 4)
    return rnd, ttl


def expected_answers(lab: MultiHopLab, m: Measurement) -> dict[int, tuple[int, int]]:
    """Per TTL: (fewest, most) answers the probe can have received according to the
    bridge's log. Exact for a router hop. For the target a range: in the first round the
    probe also sends TTLs beyond it (it does not know the path length yet), and the log
    cannot tell their Port Unreachable answers from those to the target's own TTL."""
    records = lab.truth_records()
    dropped_up = [k for r in records if r["dir"] == "up" and r["decision"] not in DELIVERED
                  and (k := _probe_key(r)) is not None]
    crossed_up = {k for r in records if r["dir"] == "up" and (k := _probe_key(r)) is not None}
    dest = int(m.values["hop_count"])  # type: ignore[arg-type]
    out = {}
    for h in m.values["hops"]:  # type: ignore[union-attr]
        ttl, addr = int(h["ttl"]), str(h["address"])
        sent = int(h["sent"])
        if not any(k[1] == ttl for k in crossed_up):
            out[ttl] = (sent, sent)  # the probes of this TTL never reached the bridge
            continue
        lost_up = sum(1 for k in dropped_up if k[1] == ttl)
        lost_down = sum(1 for r in records if r["dir"] == "down" and r.get("proto") == 1
                        and r["decision"] not in DELIVERED and r.get("src") == addr)
        overshoot = sum(1 for k in crossed_up if k[1] > dest) if ttl == dest else 0
        out[ttl] = (sent - lost_up - lost_down, sent - lost_up - max(0, lost_down - overshoot))
    return out


def report_html(m: Measurement, check: Check) -> str:
    """The HTML report of a run holding this trace and its fault-location check."""

    base = make_result()
    doc = _with(base, m, check)
    return html.render_text(doc, "en")


def truth_rtt_ms(lab: MultiHopLab) -> float:
    """Median up + median down one-way delay the bridge applied (ms)."""
    records = [r for r in lab.truth_records() if r["decision"] == "forward" and r.get("proto") in (1, 17)]
    up = [owd_s(r) for r in records if r["dir"] == "up"]
    down = [owd_s(r) for r in records if r["dir"] == "down"]
    return 1000 * (statistics.median([x for x in up if x is not None])
                   + statistics.median([x for x in down if x is not None]))


@pytest.mark.parametrize("link", list(PLACEMENTS))
def test_impairment_is_attributed_to_its_segment(lab: MultiHopLab, link: str) -> None:
    segment, first_ttl = PLACEMENTS[link]
    lab.move_impairment(link, IMPAIRMENT, seed=11 + len(link))
    m = trace(lab)
    assert m.error is None and m.values["reached"] is True and m.values["hop_count"] == 4
    expected = expected_answers(lab, m)
    for ttl in range(1, 5):
        got = hop(m, ttl)
        assert got["address"] == lab.addr(["rtr", "isp1", "isp2", "prov"][ttl - 1])
        low, high = expected[ttl]
        assert low <= int(got["received"]) <= high, (ttl, got, expected)  # type: ignore[call-overload]
        if ttl < first_ttl:
            assert got["received"] == ROUNDS  # before the impaired link nothing is lost
    segs = {s["segment"]: s for s in m.values["segments"]}  # type: ignore[union-attr]
    shares = {name: s["delay_ms"] for name, s in segs.items()}
    assert max(shares, key=shares.__getitem__) == segment
    assert segs[segment]["delay_ms"] == pytest.approx(truth_rtt_ms(lab), abs=4.0)
    found = faultloc.findings(m.values["segments"])  # type: ignore[arg-type]
    assert {f.metric for f in found if f.segment == segment} >= {"loss_pct", "delay_ms"}
    check = faultloc.fault_check("sbc", lab.target, m)
    assert check.status is Status.WARN and check.measured == segment
    assert check.remediation is not None and check.remediation.key == f"faultloc_{segment}"
    assert check.params["segment"] == Msg(key=f"faultloc.segment.{segment}")
    assert check.reason_key in ("reason.faultloc", "reason.faultloc_local")  # _local: a hop above the path's loss
    page = report_html(m, check)  # the report highlights the same segment, and only it
    label = Catalogue("en").t(f"faultloc.segment.{segment}")
    assert f'fill="{svg.RED}" font-weight="bold">{label} \u26a0</text>' in page
    assert page.count("\u26a0</text>") == 1


@pytest.mark.parametrize(("how", "node", "ttl"), [("nft", "isp1", 2), ("sysctl", "isp2", 3)])
def test_icmp_rate_limiting_is_not_loss(lab: MultiHopLab, how: str, node: str, ttl: int) -> None:
    """Probes at 5 per second per hop; the limited hop answers ~1/s: local, not path loss."""
    lab.set_impairment("", seed=1)  # clean bridge, fresh truth log
    if how == "nft":
        lab.icmp_rate_limit(node, 1)
    else:
        lab.exec(lab.ns[node], ["sysctl", "-qw", "net.ipv4.icmp_ratelimit=1000"])
    try:
        m = trace(lab, rounds=20, interval_s=0.2)
        drops = lab.rate_limited_drops(node)
    finally:
        lab.icmp_rate_limit(node, None)
        lab.exec(lab.ns[node], ["sysctl", "-qw", "net.ipv4.icmp_ratelimit=0"])
    limited = hop(m, ttl)
    assert float(limited["loss_pct"]) >= 40.0  # the limit really bit (else the test proves nothing)
    if how == "nft":  # exact: every probe without an answer is one the rule dropped
        assert 20 - int(limited["received"]) == drops
    assert limited["loss_persistent_pct"] == 0.0
    assert limited["loss_local_pct"] == limited["loss_pct"]
    assert all(s.get("loss_pct") == 0.0 for s in m.values["segments"])  # type: ignore[union-attr]
    assert hop(m, 4)["received"] == 20
    check = faultloc.fault_check("sbc", lab.target, m)
    assert check.status is Status.PASS and check.measured == "none"
    assert f"hop {ttl} (" in check.reason


def test_ipv6_trace_unprivileged_and_path_mtu(lab: MultiHopLab) -> None:
    """IPv6 through the same routers with the error-queue receive path (no raw socket),
    and the path MTU after lowering the ISP link's MTU to 1400 (RFC 8201 Packet Too Big)."""
    lab.set_impairment("", seed=1)
    for node, dev in (("isp1", "b0"), ("isp2", "a0")):
        lab.ip(lab.ns[node], "link", "set", "dev", dev, "mtu", "1400")
    try:
        m = trace(lab, rounds=5, interval_s=0.1, mode="recverr", host=LINKS["prov"].b[3], pmtu=True)
    finally:
        for node, dev in (("isp1", "b0"), ("isp2", "a0")):
            lab.ip(lab.ns[node], "link", "set", "dev", dev, "mtu", "1500")
    assert m.method == "udp-ttl-recverr" and m.values["family"] == 6
    assert [hop(m, t)["address"] for t in range(1, 5)] == [
        lab.addr(n, 6) for n in ("rtr", "isp1", "isp2", "prov")]
    assert m.values["dscp_visible"] is False and hop(m, 2)["dscp_seen"] is None
    assert (m.values["pmtu_bytes"], m.values["pmtu_confirmed"]) == (1400, True)


@pytest.fixture
def iperf3_in_prov(lab: MultiHopLab) -> Iterator[int]:
    from tests.netlab import peers

    peer = peers.start_iperf3(lab, lab.ns["prov"], lab.target)
    try:
        yield peer.port
    finally:
        lab.stop(peer.proc)


@pytest.mark.parametrize("ef_priority", [False, True])
def test_bufferbloat_on_a_deep_site_queue(lab: MultiHopLab, iperf3_in_prov: int, ef_priority: bool) -> None:
    """4 Mbit/s each way behind a 1 MB FIFO (2 s of queue). Without priority, EF echoes
    to the ISP's first router wait behind the bulk transfer: a bufferbloat finding. With an
    htb priority class for EF, voice passes the queue and only best effort is delayed."""
    from netcheck.evaluate import faultloc as fl
    from netcheck.probes import bufferbloat

    lab.clear_impairment()  # plain veths: the bridge's offload settings change TCP's windows
    lab.site_queue(4000, ef_priority=ef_priority)
    try:
        spec = bufferbloat.Spec(id="bufferbloat", load_host=lab.target, load_port=iperf3_in_prov,
                                idle_s=2.0, load_s=5.0, max_bytes=20_000_000)
        ctx = Context(deadline=time.monotonic() + 40, caps={"raw_icmp": True})
        m = run_in_netns(lab.ns["lan"], asyncio.run, bufferbloat.run(spec, ctx))
    finally:
        lab.site_queue(None)
    v = m.values
    assert m.error is None and v["ping_host"] == lab.addr("isp1"), (m.error, v)  # found by the one-round trace
    for direction in ("up", "down"):
        assert v[f"{direction}_load_problem"] is None, v
        assert 3000 <= float(v[f"{direction}_load_kbps"]) <= 4200, v  # type: ignore[arg-type]
    assert v["up_load_capped"] is False, v  # the cap (32 Mbit/s) was not what limited the load
    bad = ("C", "D", "F")  # >= 60 ms added
    assert v["up_grade_be"] in bad and v["down_grade_be"] in bad, v  # best effort waits in the queue either way
    checks = {c.id: c for c in fl.bufferbloat_checks(m)}
    if ef_priority:
        assert v["up_grade"] in ("A+", "A") and v["down_grade"] in ("A+", "A"), v  # < 30 ms: voice passes
        assert [c.status for c in checks.values()] == [Status.PASS, Status.PASS]
    else:
        assert v["up_grade"] in bad, v
        up = checks["bufferbloat.up"]
        assert up.status is Status.WARN and up.remediation is not None
        assert up.remediation.key == "bufferbloat" and "strict-priority" in up.remediation.text


def test_silent_path_is_a_bounded_timeout_and_not_measured(lab: MultiHopLab) -> None:
    """Every ICMP answer dropped on the way in: a TIMEOUT saying so, within the pacing plus
    the wait for the last answers of both traces (UDP, then the ICMP echo fallback); the
    fault check is NOT_MEASURED, never PASS."""
    lab.clear_impairment()
    ns = lab.ns["lan"]
    lab.exec(ns, ["nft", "-f", "-"], input=(
        "table inet silent {\n chain in {\n  type filter hook input priority filter;\n"
        "  meta l4proto { icmp, ipv6-icmp } drop\n }\n}\n"))
    try:
        started = time.monotonic()
        m = trace(lab, rounds=3, interval_s=0.1)
        took = time.monotonic() - started
    finally:
        lab.exec(ns, ["nft", "delete", "table", "inet", "silent"])
    assert m.error is not None and m.error.kind.value == "timeout" and "no hop answered" in m.error.detail
    wait = path_hops.Spec(id="x", host="x").wait_s
    assert m.values["reached"] is False and took < 2 * (3 * 0.1 + 8 * 0.0125 + wait) + 1.5  # UDP, then ICMP echo
    check = faultloc.fault_check("sbc", lab.target, m)
    assert check.status is Status.NOT_MEASURED


def test_udp_dropped_at_the_target_falls_back_to_icmp_echo(lab: MultiHopLab) -> None:
    """The provider drops UDP to closed ports silently: the UDP trace never reaches it,
    the ICMP echo trace does (hop 4 answers with Echo Replies), and the result says so."""
    lab.clear_impairment()
    ns = lab.ns["prov"]
    lab.exec(ns, ["nft", "-f", "-"], input=(
        "table inet noudp {\n chain in {\n  type filter hook input priority filter;\n"
        "  udp dport 33000-65535 drop\n }\n}\n"))
    try:
        spec = path_hops.Spec(id="path_hops:sbc", host=lab.target, rounds=5, interval_s=0.1, pmtu=False, max_hops=6)
        ctx = Context(deadline=time.monotonic() + 25, caps={"raw_icmp": True})
        m = run_in_netns(lab.ns["lan"], asyncio.run, path_hops.run(spec, ctx))
        udp_only = run_in_netns(lab.ns["lan"], asyncio.run, path_hops.run(
            path_hops.Spec(id="u", host=lab.target, rounds=3, interval_s=0.1, pmtu=False, max_hops=6,
                           protocol="udp"), Context(deadline=time.monotonic() + 15, caps={"raw_icmp": True})))
    finally:
        lab.exec(ns, ["nft", "delete", "table", "inet", "noudp"])
    assert udp_only.values["reached"] is False and udp_only.method == "udp-ttl-raw"
    assert m.method == "icmp-ttl-raw" and m.values["protocol"] == "icmp"
    assert m.values["reached"] is True and m.values["hop_count"] == 4
    assert [hop(m, t)["address"] for t in range(1, 5)] == [lab.addr(n) for n in ("rtr", "isp1", "isp2", "prov")]
    assert all(hop(m, t)["received"] == 5 for t in range(1, 5))
    assert hop(m, 4)["dscp_seen"] is None  # an Echo Reply quotes nothing
    assert hop(m, 2)["dscp_seen"] == 46  # a Time Exceeded quotes the echo as it arrived


def _with(base, m, check):  # type: ignore[no-untyped-def]
    """``base`` plus one measurement and its check, with verdict and counts derived again."""
    import msgspec

    from netcheck.result import summary_of, verdict_of

    checks = [*base.checks, check]
    return msgspec.structs.replace(base, measurements=[*base.measurements, m], checks=checks,
                                   verdict=verdict_of(checks), summary=summary_of(checks))
