"""Typical result documents of every shipped profile, made by today's plan and evaluator.

Report tests render these instead of stored JSON, so a report test can never pass on a
document older code wrote (issue 13: the i18n test once passed only on stale fixtures).
Tests make them in memory; ``python -m tests.docgen`` writes them to tests/data/results/
(git-ignored) for people to look at or to render by hand.

How a document is made: :func:`netcheck.plan.core.build` lists the probe runs a real run of the
profile would make (with a responder, a switch audit and the LAN probes for ``go`` and
``no-go``; without them for ``incomplete``); each run gets the values its probe writes
(key names as in netcheck/probes/*.py), good ones for ``go``, a few broken ones for ``no-go``
(a lossy, jittery path, a refused TCP port, a SIP ALG that rewrites Contact, DSCP
re-marked to 0); ``incomplete`` has the path measurement time out. Then
:func:`netcheck.evaluate.evaluate` judges them. The switch audit is the hand-made Cisco
recording (tests/data/snmp/cisco-voice-handmade.snmprec), decoded by the real decoder.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from netcheck import evaluate, profile
from netcheck.analysis.stats import JITTER_STATISTIC
from netcheck.plan import core as plan
from netcheck.plan.core import ProbeRun
from netcheck.probes.snmp_switch import SnmpTarget
from netcheck.profile import Profile
from netcheck.result import (
    SCHEMA_VERSION,
    Environment,
    ErrorKind,
    Interface,
    Measurement,
    ProbeError,
    ProfileRef,
    RunResult,
    Site,
    Value,
    to_json,
)
from netcheck.wire import lan_model
from tests import snmprec

OUT = Path(__file__).resolve().parent / "data" / "results"
KINDS = ("go", "no-go", "incomplete")
RESPONDER = "198.51.100.7"  # RFC 5737 documentation address: never contacted
GATEWAY = "192.168.10.1"
SWITCH = "cisco-voice-handmade"
STARTED = "2026-11-24T09:12:05.000Z"
#: Hosts for targets a profile leaves to the user (``--target NAME=HOST``).
USER_HOSTS = {"handover": "sip.example.net", "sip_trunk": "trunk.example.net"}
SITES = {
    "go": Site(customer="Müller & Söhne GmbH", site="Hauptsitz Köln", technician="A. Becker", extensions=12),
    "no-go": Site(customer="Bäckerei Schmidt KG", site="Filiale Altstadt", technician="J. Weber", extensions=12),
    "incomplete": Site(customer="Praxis Dr. Özdemir", site="Ehrenfeld, 2. OG", technician="M. Fischer",
                       extensions=8),
}


def shipped_ids() -> list[str]:
    return sorted(p.stem for p in profile.shipped())


def document(profile_id: str, kind: str) -> RunResult:
    """The typical ``kind`` document of a shipped profile."""
    p = _profile(profile_id)
    site = SITES[kind]
    full = kind != "incomplete"
    options = plan.Options(
        gateway=GATEWAY, extensions=site.extensions, responder=RESPONDER if full else None,
        switches=(SnmpTarget(host=SWITCH),) if full and p.lan else (), capacity=full,
    )
    runs = plan.build(p, options)
    measurements = [_measure(r, kind) for r in runs]
    checks = evaluate.evaluate(p, measurements, site)
    return RunResult(
        schema_version=SCHEMA_VERSION, verdict=evaluate.verdict(checks),
        profile=ProfileRef(id=p.id, name=p.name, path=f"profiles/{profile_id}.yaml", sources=p.sources),
        site=site, environment=_environment(), measurements=measurements, checks=checks,
        summary=evaluate.summary(checks),
    )


def _profile(profile_id: str) -> Profile:
    p = profile.load(profile_id)
    missing = {name: USER_HOSTS.get(name, f"{name}.example.net") for name, t in p.targets.items() if not t.host}
    return plan.with_targets(p, missing) if missing else p


def _environment() -> Environment:
    return Environment(
        netcheck_version="0.0.0+docgen", python="3.11.9", os="Linux 6.1 (Debian 12)", hostname="techniker-laptop",
        started_utc=STARTED, finished_utc="2026-11-24T09:14:41.000Z", duration_s=156.0,
        privileges={"raw_sockets": True, "root": True},
        interfaces=[Interface(name="eth0", addresses=["192.168.10.23/24", "fe80::1e:2aff:fe3b:4c5d/64"],
                              mac="1e:2a:3b:4c:5d:6e", is_up=True, speed_mbps=1000, duplex="full", mtu=1500)],
        default_gateway=GATEWAY,
    )


# ------------------------------------------------------------------ per probe


def _measure(run: ProbeRun, kind: str) -> Measurement:
    maker = _MAKERS.get(run.probe)
    if maker is None:
        raise KeyError(f"tests/docgen.py has no values for probe {run.probe!r} (run {run.id}): add them")
    values, series, method = maker(run, kind)
    error = None
    if kind == "incomplete" and run.probe == "stream" and not run.id.endswith(":gateway"):
        error, values, series = ProbeError(kind=ErrorKind.TIMEOUT, detail="no reply within 12 s"), {}, {}
    return Measurement(id=run.id, probe=run.probe, target=run.title, method=method, started_utc=STARTED,
                       duration_s=1.0 if run.probe != "stream" else 30.0, values=values, series=series,
                       error=error, confidence="high")


Made = tuple[dict[str, Value], dict[str, list[float | None]], str]


def _dns(run: ProbeRun, kind: str) -> Made:
    return {"addresses": ["203.0.113.20", "2001:db8::20"], "resolve_ms": 18.4}, {}, "getaddrinfo"


def _stream(run: ProbeRun, kind: str) -> Made:
    if run.id.endswith(":gateway"):
        return _lan_stream(run)
    bad = kind == "no-go"
    n = 1500
    rtt = [(38.0 if not bad else 96.0) + ((i * 7919) % 23) / (10.0 if not bad else 0.9) for i in range(n)]
    if bad:
        for i in range(600, 700):
            rtt[i] = None  # type: ignore[call-overload]
    jitter = [((i * 104729) % 17) / (40.0 if not bad else 1.2) for i in range(n)]
    windows = [0.0, 0.0, 0.0] if not bad else [0.4, 6.7, 0.2]
    values: dict[str, Value] = {
        "address": _host(run), "port": 862, "codec": "G.711", "interval_ms": 20.0, "packet_bytes": 172,
        "sent": n, "received": n if not bad else n - 100,
        "rtt_median_ms": 49.2 if not bad else 131.5, "one_way_delay_ms": 24.6 if not bad else 65.8,
        "one_way_delay_estimated": True, "jitter_ms": 0.42 if not bad else 14.1,
        "loss_pct": 0.0 if not bad else 6.67, "loss_window_s": 10.0, "loss_windows_pct": windows,
        "loss_worst_window_pct": max(windows),
        "burst_loss_pct": 0.0 if not bad else 6.7, "reorder_pct": 0.0, "mos": 4.39 if not bad else 3.1,
        "r_factor": 92.6 if not bad else 58.3,
        # the whole-call jitter statistic and where the worst sliding loss window was (issue 14)
        "jitter_statistic": JITTER_STATISTIC, "jitter_direction": "upstream",
        "jitter_p95_ms": 0.42 if not bad else 14.1, "jitter_max_ms": 0.61 if not bad else 22.3,
        "jitter_final_ms": 0.18 if not bad else 3.2,
        "loss_worst_window_start_s": 0.0 if not bad else 11.96, "loss_worst_window_end_s": 10.0 if not bad else 21.96,
        "loss_worst_window_direction": "upstream", "late_pct": 0.0 if not bad else 1.07, "jitter_buffer_ms": 60.0,
    }
    return values, {"rtt_ms": rtt, "jitter_ms": jitter}, _stream_method(run)  # type: ignore[dict-item]


def _stream_method(run: ProbeRun) -> str:
    """The method name the stream probe writes (``stun`` spec -> ``stun-50pps``), not the spec's."""
    from netcheck.probes.stream import METHOD_NAMES

    spec = str(getattr(run.spec, "method", "stamp"))
    return METHOD_NAMES.get(spec) or ("stamp-auth" if getattr(run.spec, "key", None) else "stamp")


def _host(run: ProbeRun) -> str:
    """The address a run measures (its spec's host), as the probe records it."""
    return str(getattr(run.spec, "host", "") or "203.0.113.20")


def _lan_stream(run: ProbeRun) -> Made:
    """The gateway one switch away: sub-millisecond, no loss."""
    n = 500
    rtt: list[float | None] = [0.31 + ((i * 7919) % 13) / 200.0 for i in range(n)]
    values: dict[str, Value] = {
        "address": GATEWAY, "codec": "G.711", "interval_ms": 20.0, "sent": n, "received": n,
        "rtt_median_ms": 0.36, "one_way_delay_ms": 0.18, "one_way_delay_estimated": True, "jitter_ms": 0.021,
        "loss_pct": 0.0, "loss_window_s": 10.0, "loss_windows_pct": [0.0], "loss_worst_window_pct": 0.0,
        "burst_loss_pct": 0.0, "reorder_pct": 0.0, "mos": 4.41,
        "jitter_statistic": JITTER_STATISTIC, "jitter_direction": "round trip", "jitter_max_ms": 0.05,
        "jitter_final_ms": 0.02, "loss_worst_window_start_s": 0.0, "loss_worst_window_end_s": 10.0,
        "loss_worst_window_direction": "round trip", "late_pct": 0.0, "jitter_buffer_ms": 60.0,
    }
    return values, {"rtt_ms": rtt}, _stream_method(run)


def _tcp(run: ProbeRun, kind: str) -> Made:
    spec = run.spec
    ports = [str(p) for p in getattr(spec, "ports", [])] or ["443"]
    shown = ports[0] if len(ports) == 1 else f"{ports[0]}-{ports[-1]}"
    if kind == "no-go" and run.id == "tcp:0":
        return {"refused": [shown], "counts": {"refused": len(ports)}, "ports_total": len(ports),
                "address": "203.0.113.20"}, {}, "tcp-connect"
    return {"open": [shown], "counts": {"open": len(ports)}, "ports_total": len(ports),
            "connect_median_ms": 21.3, "address": "203.0.113.20"}, {}, "tcp-connect"


def _udp(run: ProbeRun, kind: str) -> Made:
    ports = list(getattr(run.spec, "ports", [])) or [5060]
    shown = str(ports[0]) if len(ports) == 1 else f"{ports[0]}-{ports[-1]}"
    return {"open": [shown], "counts": {"open": len(ports)}, "ports_total": len(ports), "responder": RESPONDER,
            "coverage": "served", "blocked": [], "rtt_median_ms": 41.0, "rounds": 3}, {}, "udp-echo"


def _stun(run: ProbeRun, kind: str) -> Made:
    if run.id.startswith("stun:lifetime:"):
        return {"lifetime_min_s": 120.0, "lifetime_max_s": 180.0}, {}, "stun-lifetime"
    values: dict[str, Value] = {
        "reachable": True, "rtt_ms": 31.2, "mapped_address": "198.51.100.77:40312", "behind_nat": True,
        "rfc5780": True, "mapping": "endpoint-independent", "filtering": "address-dependent"}
    return values, {}, f"stun-{run.id.split(':')[1]}"


def _udp_egress(run: ProbeRun, kind: str) -> Made:
    """Field mode's TTL site-egress test: every sampled port left the site."""
    rows: dict[str, Any] = {}
    for r in getattr(run.spec, "rows", ()):
        sampled = sorted({r.lo, r.hi, (r.lo + r.hi) // 2})
        rows[str(r.row)] = {"host": r.host, "range": f"{r.lo}-{r.hi}" if r.hi > r.lo else str(r.lo),
                            "sampled": sampled, "open": sampled, "blocked": [], "unknown": [], "state": "open",
                            "why": None}
    return {"hops": ["192.168.10.1", "100.64.12.1", "203.0.113.1"], "edge_ttl": 1, "test_ttl": 2,
            "edge": "192.168.10.1", "beyond_edge": "100.64.12.1", "destination_ttl": None,
            "test_hop_is_destination": False, "control_port": 3478, "rows": rows,
            "control": {"sent": 1, "answered": 1, "icmp_from_beyond": len(rows) + 1}}, {}, "ttl-site-egress"


def _tls(run: ProbeRun, kind: str) -> Made:
    return {"verified": True, "issuer_o": "DigiCert Inc", "tls_version": "TLSv1.3"}, {}, "tls-handshake"


def _sip_alg(run: ProbeRun, kind: str) -> Made:
    if run.id == "sip_alg:options":  # OPTIONS with rport (RFC 3581) to the provider's server
        detail = "nat_unknown" if kind == "incomplete" else "public_received"
        return {"server": f"{run.spec.host}:{run.spec.port}", "server_answered": True,
                "local_address": "192.168.10.23:40312",
                "mapped_address": None if kind == "incomplete" else "198.51.100.77:40312",
                "via_sent_by": "192.168.10.23:40312", "via_returned_sent_by": "192.168.10.23:40312",
                "received": "198.51.100.77", "rport": "40312",
                "evidence": "inconclusive" if kind == "incomplete" else "public_received",
                "evidence_detail": detail}, {}, "sip-options-udp"
    alg = kind == "no-go" and run.id.startswith("sip_alg:udp:")
    rewrites: list[Any] = [{"field": "Contact", "sent": "<sip:netcheck@192.168.10.23:40312>",
                            "received": "<sip:netcheck@198.51.100.77:40312>"}] if alg else []
    findings = ["rewrites_headers", "rewrites_registrations"] if alg else []
    return {"mirror_served": True, "mirror_reachable": True, "findings": findings,
            "rewrites": rewrites, "register_rewrites": rewrites, "large_rewrites": [],
            "large_message_ok": not alg, "alg_detected": alg}, {}, "sip-mirror"


def _dscp(run: ProbeRun, kind: str) -> Made:
    up = 0 if kind == "no-go" else 46
    return {"up_dscp": up, "down_dscp": 46, "responder": RESPONDER}, {}, "udp-echo-tos"


def _exposure(run: ProbeRun, kind: str) -> Made:
    return {"ports": {"80": "closed", "443": "filtered", "5060": "closed"}, "seen_as": "198.51.100.77"}, {}, \
        "connect-back"


def _capacity(run: ProbeRun, kind: str) -> Made:
    spec = run.spec
    up = float(getattr(spec, "required_up_kbps", 960.0) or 960.0)
    down = float(getattr(spec, "required_down_kbps", 960.0) or 960.0)
    per_call = 87.2
    calls = int(max(up, down) / per_call) + 6
    return {"codec": "G.711", "call_kbps": per_call, "required_up_kbps": up, "required_down_kbps": down,
            "calls_up_max": calls, "calls_down_max": calls, "calls_up_failed_at": None,
            "calls_down_failed_at": None, "calls_up_bound": "target", "calls_down_bound": "target",
            "capacity_up_kbps": round(calls * per_call, 3), "capacity_down_kbps": round(calls * per_call, 3),
            "requirement_basis": list(getattr(spec, "requirement_basis", ()))}, {}, "stamp-load"


def _qos(run: ProbeRun, kind: str) -> Made:
    v: dict[str, Value] = {"saturated": True, "bulk_kbps": 40000, "voice_served_first": True,
                           "voice_delay_increase_ms": 1.2, "canary_delay_increase_ms": 48.0}
    for prefix, loss, jit, rtt, mos in (("base", 0.0, 0.4, 49.0, 4.39), ("load", 0.0, 0.9, 51.0, 4.38)):
        v.update({f"{prefix}_voice_loss_pct": loss, f"{prefix}_voice_jitter_ms": jit,
                  f"{prefix}_voice_rtt_ms": rtt, f"{prefix}_voice_mos": mos})
    return v, {}, "stamp-ef-vs-be-under-bulk"


def _snmp(run: ProbeRun, kind: str) -> Made:
    system, tables = snmprec.tables(snmprec.recording(SWITCH))
    return lan_model.decode(system, tables, SWITCH), {}, "snmpv2c-getbulk"


def _link(run: ProbeRun, kind: str) -> Made:
    return {"speed_mbps": 1000, "duplex": "full", "mtu": 1500}, {}, "psutil"


def _lldp(run: ProbeRun, kind: str) -> Made:
    policy = {"vlan": 20, "tagged": True, "priority": 5, "dscp": 46}
    return {"med_voice_policy": policy, "system_name": "access-sw-1", "port_id": "Gi1/0/7",
            "protocols": ["LLDP"], "wait_s": 30.0}, {}, "lldp/cdp listen"


def _dhcp(run: ProbeRun, kind: str) -> Made:
    offer = {"server_id": "192.168.10.1", "yiaddr": "192.168.10.57", "dns": ["192.168.10.1"], "options": [1, 3, 6]}
    return {"offers": [offer], "servers": ["192.168.10.1"], "wait_s": 3.0}, {}, "dhcp-discover"


def _path_hops(run: ProbeRun, kind: str) -> Made:
    """Four hops; for ``no-go`` the loss and delay start at the ISP's router (hop 3)."""
    from netcheck.analysis.pathseg import HopSamples, hop_summary, segments

    bad = kind == "no-go"
    addrs = (GATEWAY, "100.64.12.1", "203.0.113.9", "203.0.113.20")
    isp = tuple(None if bad and i % 5 == 0 else (31.0 if bad else 9.0) + (i % 3) for i in range(30))
    rows = [HopSamples(1, addrs[0], tuple(0.6 + (i % 2) / 10 for i in range(30))),
            HopSamples(2, addrs[1], tuple(7.0 + (i % 2) for i in range(30))),
            HopSamples(3, addrs[2], isp), HopSamples(4, addrs[3], isp)]
    hops = [{"ttl": h.ttl, "address": h.address, **hop_summary(h), "dscp_seen": 46, "dscp_remarked": False}
            for h in rows]
    values: dict[str, Value] = {
        "address": addrs[3], "family": 4, "dscp_sent": 46, "receive_mode": "raw", "dscp_visible": True,
        "reached": True, "hop_count": 4, "gateway": GATEWAY, "hops": hops,  # type: ignore[dict-item]
        "segments": segments(rows, gateway=GATEWAY, target=addrs[3], reached=True),  # type: ignore[dict-item]
        "pmtu_bytes": 1492, "pmtu_confirmed": True,
    }
    return values, {f"rtt_ms@ttl{h.ttl}": list(h.rtts_ms) for h in rows}, "udp-ttl-raw"


def _local_link(run: ProbeRun, kind: str) -> Made:
    delta = {"rx_errors": 0, "rx_frame": 0, "tx_errors": 0, "tx_colls": 0, "tx_carrier": 0}
    return {"interface": "eth0", "type": "ethernet", "speed_mbps": 1000, "duplex": "full", "vlan": None,
            "ipv4_networks": ["192.168.10.23/24"], "counters_delta": delta, "sample_s": 2.0}, {}, "procfs"


def _bufferbloat(run: ProbeRun, kind: str) -> Made:
    added, grade = (210.0, "D") if kind == "no-go" else (4.1, "A+")
    values: dict[str, Value] = {"ping_host": "100.64.12.1", "load_s": 8.0, "idle_rtt_median_ms": 7.2}
    for d in ("up", "down"):
        values.update({f"{d}_added_ms": added, f"{d}_grade": grade, f"{d}_added_be_ms": added + 40,
                       f"{d}_load_kbps": 38000.0, f"{d}_load_capped": False, f"{d}_load_problem": None})
    return values, {}, "icmp-under-iperf3-load"


_MAKERS: dict[str, Callable[[ProbeRun, str], Made]] = {
    "udp_egress": _udp_egress,
    "dns": _dns, "stream": _stream, "tcp_ports": _tcp, "udp_ports": _udp, "stun": _stun, "tls": _tls,
    "sip_alg": _sip_alg, "dscp": _dscp, "exposure": _exposure, "capacity": _capacity, "qos": _qos,
    "snmp_switch": _snmp, "link": _link, "lldp": _lldp, "dhcp": _dhcp,
    "path_hops": _path_hops, "local_link": _local_link, "bufferbloat": _bufferbloat,
}


def named(name: str) -> RunResult:
    """``"stimme-no-go"`` -> the ``no-go`` document of profile ``stimme``."""
    for kind in sorted(KINDS, key=len, reverse=True):  # "no-go" before "go"
        if name.endswith(f"-{kind}"):
            return document(name[: -len(kind) - 1], kind)
    raise KeyError(name)


def all_documents() -> dict[str, RunResult]:
    return {f"{pid}-{kind}": document(pid, kind) for pid in shipped_ids() for kind in KINDS}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, doc in all_documents().items():
        (OUT / f"{name}.json").write_bytes(to_json(doc))
        print(f"{OUT / name}.json {doc.verdict.value}", file=sys.stderr)


if __name__ == "__main__":
    main()
