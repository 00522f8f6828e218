"""Fault location: which segment of the path (LAN, site edge, ISP, provider) degrades voice,
and who fixes it. Pure: reads the ``path_hops`` measurements (per-hop trace + segment
shares from :mod:`netcheck.analysis.pathseg`), writes checks.

A segment is *degrading* for a metric when its share of that metric reaches the
threshold below. For loss the share must also be more than sampling noise: the
two-proportion z statistic of the loss at the segment's two ends must be at least 1.645
(one-sided 95 %), because a trace sends only tens of probes per hop. Where a problem
*starts* is the first degrading segment in path order (a loss that starts in the ISP
continues through the provider's segment; the provider is not to blame for it). The
segment named by the finding is the one whose worst share is furthest over its threshold.

These checks inform, they do not decide the verdict (``required`` False: a WARN): the
path checks judge the provider's limits; this says who must act on a failure.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from netcheck import ids
from netcheck.analysis import pathseg
from netcheck.evaluate._core import Qty, Role, base, check, failed, msg, not_measured, remedy
from netcheck.profile import Profile
from netcheck.profile import Role as TargetRole
from netcheck.result import Bound, Check, Item, Measurement, Msg, Op, Param, Site, Status

#: Loss share (percentage points) that counts: the providers' 1 % loss limit (REQUIREMENTS.md
#: sections 1, 2, 6) — one segment alone must not use it up.
LOSS_PCT = 1.0
#: One-sided 95 % normal quantile: a loss increase below this z is not told apart from noise.
LOSS_Z = 1.645
#: Jitter share (ms): the VSE NET layer-2 limit (2 ms) for the LAN; a quarter of the common
#: 20 ms end-to-end jitter limit (stimme, VSE NET) for each other segment.
JITTER_MS: Mapping[str, float] = {"lan": 2.0, "site_edge": 5.0, "isp": 5.0, "provider": 5.0}
#: Round-trip delay share (ms): a LAN and a site edge add a few ms when healthy (more means
#: queueing: bufferbloat, Wi-Fi retries); 50 ms RTT inside one carrier exceeds any national
#: path and a third of ITU-T G.114's 150 ms one-way budget.
DELAY_MS: Mapping[str, float] = {"lan": 10.0, "site_edge": 20.0, "isp": 50.0, "provider": 50.0}

SEGMENTS = ("lan", "site_edge", "isp", "provider")
METRIC_KEYS = ("loss_pct", "jitter_ms", "delay_ms")

# Remedies, titles and reasons: netcheck/i18n/{en,de}.json (remedy.*, title.*, reason.*).


@dataclass(frozen=True)
class Finding:
    """One metric degrading in one segment: its share, the threshold, and how far over it is."""

    segment: str
    metric: str
    share: float
    threshold: float
    unit: str

    @property
    def ratio(self) -> float:
        return self.share / self.threshold

    def phrase(self) -> Msg:
        """"loss +15 % (threshold 1 %) in ISP" as a catalogue phrase."""
        return msg(f"faultloc.item.{self.metric}", share=Qty(self.share, self.unit),
                   threshold=Qty(self.threshold, self.unit), segment=msg(f"faultloc.segment.{self.segment}"))


def findings(segments: list[dict[str, object]]) -> list[Finding]:
    """For each metric, the first segment in path order where it degrades."""
    out: list[Finding] = []
    for metric, unit in (("loss_pct", "%"), ("jitter_ms", "ms"), ("delay_ms", "ms")):
        for seg in segments:
            if not seg.get("measured"):
                continue
            name, share = str(seg["segment"]), float(seg.get(metric) or 0.0)  # type: ignore[arg-type]
            threshold = LOSS_PCT if metric == "loss_pct" else (JITTER_MS if metric == "jitter_ms" else DELAY_MS)[name]
            significant = metric != "loss_pct" or float(seg.get("loss_z") or 0.0) >= LOSS_Z  # type: ignore[arg-type]
            if share >= threshold and significant:
                out.append(Finding(name, metric, share, threshold, unit))
                break
    return out


def responsible(found: list[Finding]) -> str | None:
    """The segment of the finding furthest over its threshold (None: no finding)."""
    return max(found, key=lambda f: f.ratio).segment if found else None


def checks(profile: Profile, by_id: dict[str, Measurement], site: Site) -> Iterator[Check]:
    for name, target in profile.targets_with_role(TargetRole.HANDOVER):
        m = by_id.get(ids.path_hops(name))
        if m is None or not target.host:
            continue
        yield fault_check(name, target.host, m)
        remark = dscp_check(name, target.host, m)
        if remark is not None:
            yield remark
    if (bloat := by_id.get(ids.BUFFERBLOAT)) is not None:
        yield from bufferbloat_checks(bloat)


#: Grades that are still fine for voice (Waveform: B = "some latency under load").
GOOD_GRADES = ("A+", "A", "B")
BLOAT_LIMIT_MS = 60.0  # the upper end of grade B


def bufferbloat_checks(m: Measurement) -> Iterator[Check]:
    """One check per load direction, graded on the voice-marked (EF) echo series."""
    for direction in ("up", "down"):
        b = base(f"bufferbloat.{direction}", f"title.bufferbloat.{direction}", required=False, group="faultloc")
        b.update(evidence=[m.id], method=m.method, unit="ms", bound=Bound(op=Op.LT, value=BLOAT_LIMIT_MS, unit="ms"))
        grade, added = m.values.get(f"{direction}_grade"), m.values.get(f"{direction}_added_ms")
        if not m.ok or not isinstance(grade, str) or not isinstance(added, float | int):
            problem = m.values.get(f"{direction}_load_problem")
            note = msg("bufferbloat.load_problem", problem=str(problem)) if problem else \
                msg("bufferbloat.no_phase", direction=msg(f"direction.{direction}"))
            yield not_measured(b, m if not m.ok else None, note)
            continue
        be, kbps = m.values.get(f"{direction}_added_be_ms"), m.values.get(f"{direction}_load_kbps")
        params: dict[str, Param] = dict(
            host=str(m.values.get("ping_host")), added=Qty(float(added), "ms"), grade=grade,
            added_be=Qty(float(be), "ms") if isinstance(be, float | int) else msg("field.none"),
            load=Qty(float(kbps), "kbit/s") if isinstance(kbps, float | int) else msg("field.none"),
            seconds=Qty(float(m.values.get("load_s") or 0.0), "s"))  # type: ignore[arg-type]
        key = "reason.bufferbloat_capped" if m.values.get(f"{direction}_load_capped") else "reason.bufferbloat"
        if grade in GOOD_GRADES:
            yield check(b, Status.PASS, key, measured=float(added), params=params)
        else:
            fix = remedy("bufferbloat", direction=msg(f"direction.{direction}"), added_ms=Qty(float(added), "ms"),
                         grade=grade)
            yield failed(b, False, key, fix, measured=float(added), params=params)


def fault_check(name: str, host: str, m: Measurement) -> Check:
    """Which segment degrades voice on the path to ``host`` (PASS: none does)."""
    b = base(f"faultloc@{name}", "title.faultloc", required=False, group="faultloc", target=Role(name), host=host)
    b.update(evidence=[m.id], method=m.method)
    segments = m.values.get("segments")
    if not m.ok or not isinstance(segments, list) or not any(s.get("measured") for s in segments):
        return not_measured(b, m if not m.ok else None, msg("faultloc.no_hops"))
    found = findings(segments)
    seg = responsible(found)
    local = _rate_limited_hops(m)
    suffix = "_local" if local else ""
    notes = _short_trace(m)
    if seg is None:
        b["measured_key"] = "measured.faultloc_none"
        return check(b, Status.PASS, f"reason.faultloc_none{suffix}", measured="none", hops=local, notes=notes)
    b["measured_key"] = f"faultloc.segment.{seg}"  # the report names the segment in its language
    span = _seg(segments, seg)
    params: dict[str, Param] = dict(
        segment=msg(f"faultloc.segment.{seg}"), party=msg(f"faultloc.party.{seg}"),
        from_hop=_hop(span, "from"), to_hop=_hop(span, "to"), items=[f.phrase() for f in found], hops=local)
    gateway = m.values.get("gateway")
    fix = remedy(f"faultloc_{seg}", gateway=str(gateway) if gateway else _hop(_seg(segments, "lan"), "to"),
                 isp_hop=_hop(_seg(segments, "site_edge"), "to"), from_hop=_hop(span, "from"),
                 to_hop=_hop(span, "to"))
    return failed(b, False, f"reason.faultloc{suffix}", fix, measured=seg, params=params, notes=notes)


def _short_trace(m: Measurement) -> tuple[Msg, ...]:
    """A trace with fewer probes per hop than ``pathseg.FULL_ROUNDS`` (a quick run, or one
    its deadline cut short) tells only heavy loss from noise: say from how much, so "no
    segment adds loss" is read right."""
    rounds = pathseg.probes_per_hop(m.values.get("hops"))
    if rounds is None or rounds >= pathseg.FULL_ROUNDS:
        return ()
    told = smallest_told_loss_pct(rounds)
    if told is None:
        return (msg("faultloc.short_trace_blind", rounds=rounds),)
    return (msg("faultloc.short_trace", rounds=rounds, loss=Qty(told, "%")),)


def smallest_told_loss_pct(rounds: int) -> float | None:
    """The smallest loss (%) a segment can add, from a lossless start, that reaches
    :data:`LOSS_Z` with ``rounds`` probes per hop: what a trace that short can tell from
    sampling noise at all (None: not even total loss)."""
    for lost in range(1, rounds + 1):
        if _z(0.0, lost / rounds, rounds) >= LOSS_Z:
            return round(100.0 * lost / rounds, 1)
    return None


def dscp_check(name: str, host: str, m: Measurement) -> Check | None:
    """DSCP kept along the path, judged on the quoted headers (raw receive only)."""
    hops = m.values.get("hops")
    if not m.values.get("dscp_visible") or not isinstance(hops, list):
        return None
    b = base(f"faultloc.dscp@{name}", "title.faultloc.dscp", required=False, group="faultloc", target=Role(name),
             host=host)
    b.update(evidence=[m.id], method=m.method)
    dscp_sent = m.values.get("dscp_sent")
    sent = dscp_sent if isinstance(dscp_sent, int) else 0
    hop = next((h for h in hops if isinstance(h, dict) and h.get("dscp_remarked")), None)
    if hop is None:
        return check(b, Status.PASS, "reason.faultloc_dscp_ok", measured=sent, dscp=sent)
    seen, ttl, address = int(hop["dscp_seen"]), int(hop["ttl"]), str(hop["address"])
    fix = remedy("dscp_remarked", sent=sent, ttl=ttl, address=address, seen=seen)
    return failed(b, False, "reason.faultloc_dscp_remarked", fix, measured=seen, sent=sent, seen=seen, ttl=ttl,
                  address=address)


def _seg(segments: list[dict[str, object]], name: str) -> dict[str, object]:
    return next((s for s in segments if s.get("segment") == name), {})


def _hop(seg: Mapping[str, object], end: str) -> Msg:
    """A segment end as a phrase: "this computer", "hop 3 (198.18.2.2)", or unknown."""
    if not seg.get("measured"):
        return msg("faultloc.hop_unknown")
    ttl, addr = seg.get(f"{end}_ttl"), seg.get(f"{end}_address")
    if ttl == 0:
        return msg("faultloc.this_computer")
    return msg("faultloc.hop", ttl=int(ttl) if isinstance(ttl, int) else 0, address=str(addr))


def _rate_limited_hops(m: Measurement) -> list[Item]:
    """Hops whose own loss is above the persistent loss by at least 1 % and by more than
    sampling noise (z >= 1.645 against the persistent loss, same number of probes): ICMP
    rate limiting or a busy control plane at that hop."""
    hops = m.values.get("hops")
    out: list[Item] = []
    for h in hops if isinstance(hops, list) else []:
        local, persistent, sent = h.get("loss_local_pct"), h.get("loss_persistent_pct"), h.get("sent")
        if not (isinstance(local, float | int) and isinstance(persistent, float | int) and isinstance(sent, int)):
            continue
        if local >= LOSS_PCT and _z(persistent / 100, (persistent + local) / 100, sent) >= LOSS_Z:
            out.append(msg("faultloc.hop_local", ttl=int(h["ttl"]), loss=Qty(float(local), "%")))
    return out


def _z(p1: float, p2: float, n: int) -> float:
    """Two-proportion z statistic, both proportions over ``n`` probes (pooled variance)."""
    pooled = (p1 + p2) / 2
    se = math.sqrt(pooled * (1 - pooled) * 2 / n) if n else 0.0
    return (p2 - p1) / se if se else 0.0
