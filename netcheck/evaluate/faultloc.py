"""Fault location: which segment of the path (LAN, site edge, ISP, provider) degrades voice,
and who fixes it. Pure: reads the ``path_hops`` measurements (per-hop trace + segment
shares from :mod:`netcheck.pathseg`), writes checks.

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

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from netcheck.evaluate._core import REMEDIES, failed, not_measured, remedy
from netcheck.profile import Profile, Role
from netcheck.result import Check, Measurement, Site, Status, Value

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

PARTY = {"lan": "the site's LAN", "site_edge": "the site router and its uplink",
         "isp": "the internet service provider (ISP)", "provider": "the telephony provider"}

REMEDIES.update({
    "faultloc_lan": "The problem starts between this computer and the gateway {gateway}: it is in the "
    "site's LAN. Check cabling, switch ports (errors, duplex) and Wi-Fi; this is for the site's IT.",
    "faultloc_site_edge": "The problem starts between the site router {gateway} and the ISP's first "
    "router {isp_hop}: check the router's load and queueing (bufferbloat: enable voice priority / "
    "SQM), its WAN port and the access line. If the ISP manages the router, open a ticket with the "
    "line provider and attach this report.",
    "faultloc_isp": "The problem starts in the ISP's network at {from_hop} -> {to_hop}: open a ticket with "
    "the line provider (ISP) and attach this report.",
    "faultloc_provider": "The problem starts on the provider's side ({from_hop} -> {to_hop}): open a "
    "ticket with the telephony provider and attach this report.",
    "bufferbloat": "Under {direction}load the delay to the ISP's first router grows by {added_ms:g} ms "
    "(grade {grade}): the site router queues voice behind bulk traffic. Enable QoS on it: shape the "
    "line to about 90 % of its {direction}stream rate with a managed queue (SQM: fq_codel or cake) "
    "and put DSCP EF (voice) in a strict-priority class.",
    "dscp_remarked": "Voice packets lose their DSCP {sent} marking before hop {ttl} ({address}, seen "
    "{seen}): ask whoever runs that hop (site router or ISP) to trust and keep DSCP EF.",
})


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

    def text(self) -> str:
        label = {"loss_pct": "loss", "jitter_ms": "jitter", "delay_ms": "round-trip delay"}[self.metric]
        return f"{label} +{self.share:g} {self.unit} (threshold {self.threshold:g} {self.unit})"


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
    for name, target in profile.targets_with_role(Role.HANDOVER):
        m = by_id.get(f"path_hops:{name}")
        if m is None or not target.host:
            continue
        yield fault_check(name, target.host, m)
        remark = dscp_check(name, target.host, m)
        if remark is not None:
            yield remark
    if "bufferbloat" in by_id:
        yield from bufferbloat_checks(by_id["bufferbloat"])


#: Grades that are still fine for voice (Waveform: B = "some latency under load").
GOOD_GRADES = ("A+", "A", "B")


def bufferbloat_checks(m: Measurement) -> Iterator[Check]:
    """One check per load direction, graded on the voice-marked (EF) echo series."""
    for direction in ("up", "down"):
        base: dict[str, object] = dict(
            id=f"bufferbloat.{direction}", title=f"latency under {direction}link load (bufferbloat)",
            required=False, group="faultloc", evidence=[m.id], method=m.method, unit="ms",
            limit=f"grade {GOOD_GRADES[-1]} or better (added < 60 ms)",
        )
        grade, added = m.values.get(f"{direction}_grade"), m.values.get(f"{direction}_added_ms")
        if not m.ok or grade is None or not isinstance(added, float | int):
            problem = m.values.get(f"{direction}_load_problem")
            yield not_measured(base, str(problem or f"no {direction}link load phase"), m if not m.ok else None)
            continue
        be = m.values.get(f"{direction}_added_be_ms")
        load = f"{m.values.get(f'{direction}_load_kbps')} kbit/s iperf3 load for {m.values.get('load_s')} s"
        capped = " (load reached its byte cap: the line may not have been saturated)" \
            if m.values.get(f"{direction}_load_capped") else ""
        reason = (f"EF echo to the first ISP hop {m.values.get('ping_host')}: +{added:g} ms under {load}{capped}, "
                  f"grade {grade}; best effort +{be} ms")
        if grade in GOOD_GRADES:
            yield Check(**base, status=Status.PASS, measured=added, reason=reason)  # type: ignore[arg-type]
        else:
            fix = remedy("bufferbloat", direction=direction, added_ms=added, grade=grade)
            yield failed(base, False, reason, fix, measured=added)


def fault_check(name: str, host: str, m: Measurement) -> Check:
    """Which segment degrades voice on the path to ``host`` (PASS: none does)."""
    base: dict[str, object] = dict(
        id=f"faultloc@{name}", title=f"fault location: path to {name} ({host})", required=False,
        group="faultloc", evidence=[m.id], method=m.method, unit=None,
    )
    segments = m.values.get("segments")
    if not m.ok or not isinstance(segments, list) or not any(s.get("measured") for s in segments):
        return not_measured(base, "the per-hop trace found no answering hop", m)
    found = findings(segments)
    seg = responsible(found)
    local = _rate_limited_hops(m)
    note = f"; not counted as loss (ICMP rate limiting, later hops answer): hop {', '.join(local)}" if local else ""
    if seg is None:
        return Check(**base, status=Status.PASS, measured="none",  # type: ignore[arg-type]
                     reason=f"no segment adds loss, jitter or delay over its threshold{note}")
    span = next(s for s in segments if s["segment"] == seg)
    items = "; ".join(f"{f.text()} in {f.segment}" for f in found)
    where = f"{_hop(span, 'from')} -> {_hop(span, 'to')}"
    reason = f"the problem starts in segment {seg} ({PARTY[seg]}, {where}): {items}{note}"
    fix = remedy(f"faultloc_{seg}", gateway=m.values.get("gateway") or _hop(_seg(segments, "lan"), "to"),
                 isp_hop=_hop(_seg(segments, "site_edge"), "to"), from_hop=_hop(span, "from"), to_hop=_hop(span, "to"))
    return failed(base, False, reason, fix, measured=seg)


def dscp_check(name: str, host: str, m: Measurement) -> Check | None:
    """DSCP kept along the path, judged on the quoted headers (raw receive only)."""
    if not m.values.get("dscp_visible") or not isinstance(m.values.get("hops"), list):
        return None
    base: dict[str, object] = dict(
        id=f"faultloc.dscp@{name}", title=f"DSCP along the path to {name} ({host})", required=False,
        group="faultloc", evidence=[m.id], method=m.method,
    )
    sent = m.values.get("dscp_sent")
    hops: list[dict[str, Value]] = m.values["hops"]  # type: ignore[assignment]
    hop = next((h for h in hops if h.get("dscp_remarked")), None)
    if hop is None:
        return Check(**base, status=Status.PASS, measured=sent,  # type: ignore[arg-type]
                     reason=f"every answering hop quoted the probes with DSCP {sent}")
    fix = remedy("dscp_remarked", sent=sent, ttl=hop["ttl"], address=hop["address"], seen=hop["dscp_seen"])
    reason = f"DSCP {sent} arrives as {hop['dscp_seen']} at hop {hop['ttl']} ({hop['address']})"
    return failed(base, False, reason, fix, measured=hop["dscp_seen"])


def _seg(segments: list[dict[str, object]], name: str) -> dict[str, object]:
    return next((s for s in segments if s.get("segment") == name), {})


def _hop(seg: Mapping[str, object], end: str) -> str:
    if not seg.get("measured"):
        return "?"
    ttl, addr = seg.get(f"{end}_ttl"), seg.get(f"{end}_address")
    return "this computer" if ttl == 0 else f"hop {ttl} {addr}"


def _rate_limited_hops(m: Measurement) -> list[str]:
    """Hops whose own loss is at least 1 % above the persistent loss (rate limiting)."""
    hops = m.values.get("hops")
    if not isinstance(hops, list):
        return []
    return [f"{h['ttl']} ({h['loss_local_pct']:g} %)" for h in hops
            if isinstance(h.get("loss_local_pct"), float | int) and h["loss_local_pct"] >= LOSS_PCT]
