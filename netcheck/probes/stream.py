"""Emulated call: a 50 pps stream measured per packet (RTT, one-way delay, jitter, loss, MOS).

Method, best first (the Measurement's ``method`` says which was used):

- ``stamp`` / ``stamp-auth``: RFC 8762 STAMP towards a ``netcheck responder`` (or any
  stateful STAMP reflector), unauthenticated or HMAC-SHA-256 authenticated. Gives round
  trip *and* both one-way directions: delay variation always, one-way delay when the clocks
  are synchronised (see :mod:`netcheck.probes._stream_analysis`).
- ``stun-50pps``: without a responder (field mode), RFC 8489 STUN Binding requests of the
  RTP packet's size on the same schedule against the provider's own STUN/TURN server,
  answers matched by transaction id. Round trip only; one-way delay is RTT/2. Every STUN
  server answers it, and unlike ICMP echo it is not dropped by providers that filter ping.
- ``icmp-50pps``: ICMP echo on the same schedule against the target (the handover point or
  the gateway). Round trip only; one-way delay is RTT/2.
- ``sip-options-5pps``: the last resort, SIP OPTIONS (RFC 3261 section 11) to the
  provider's SBC at 5 per second, answers matched by Call-ID and CSeq. Round trip only,
  SBC processing included, few samples: low confidence.

Field order: a Spec may name ``fallback`` attempts (STAMP responder > STUN stream > ICMP);
they are tried in order until one gets answers, and the Measurement's ``path_methods``
value states each attempt and why it was left. A target silent for ``silent_stop_s``
(2 s) ends its attempt early, so a silent provider server gets ~100 packets, not a call.

Packets follow the call: one every ``interval_ms`` (20 ms = 50 pps), the size of an RTP
packet of ``codec`` (``emodel.CODECS``), DSCP ``dscp`` (EF = 46, RFC 3246) in the IP header.
The send/receive loop runs in the process's one call engine thread
(:mod:`netcheck.probes._stream_mux`, on :mod:`netcheck.probes._stream_engine`'s timing:
calls that run at the same time share it, their packets staggered) with
kernel receive timestamps where the OS has them; the Measurement records the receive clock,
the clock-synchronisation state and the sender's own send-time error.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import secrets
import socket
from dataclasses import dataclass, replace

import msgspec

from netcheck import hostport
from netcheck import platform as plat
from netcheck.analysis import emodel
from netcheck.analysis.stats import PacketRecord
from netcheck.clock import clock_sync, error_estimate
from netcheck.probes import _stream_analysis as an
from netcheck.probes import _stream_live, _stream_mux
from netcheck.probes._common import Context, Timer, Why, error, resolve
from netcheck.probes._stream_engine import (
    ClockMap,
    EngineReport,
    Schedule,
    Session,
)
from netcheck.probes._stream_sessions import (
    IcmpCall,
    SipOptionsCall,
    StampCall,
    StunCall,
)
from netcheck.probes.specs import StreamSpec as Spec
from netcheck.result import Confidence, ErrorKind, Measurement, ProbeError, Value
from netcheck.wire.stamp import stamp_packet_size

METHOD_NAMES = {"icmp": "icmp-50pps", "stun": "stun-50pps", "sip": "sip-options-5pps"}
PERMISSION_HINT = (
    "ICMP needs raw sockets or ping sockets: run as root/Administrator, grant CAP_NET_RAW, "
    "or allow unprivileged ping sockets (sysctl net.ipv4.ping_group_range='0 2147483647'); "
    "on Windows IPv4 echo works without Administrator (ICMP helper API), IPv6 does not; "
    "or measure with a netcheck responder (--responder HOST)"
)


async def run(spec: Spec, ctx: Context) -> Measurement:
    """Try the spec's method, then each fall-back, until one gets answers; the result
    states every attempt (``path_methods``)."""
    chain = [spec, *(replace(spec, method=a.method, host=a.host, port=a.port, fallback=())
                     for a in spec.fallback)]
    tried: list[dict[str, Value]] = []
    m: Measurement | None = None
    for attempt in chain:
        if m is not None and ctx.remaining() < 3.0:
            break
        m = await _run_one(attempt, ctx)
        tried.append(_attempt_value(attempt, m))
        if m.ok:
            break
    assert m is not None
    if len(chain) == 1:
        return m
    values = {**m.values, "path_methods": tried}
    return msgspec.structs.replace(m, values=values)


def _attempt_value(spec: Spec, m: Measurement) -> dict[str, Value]:
    where = spec.host if spec.method == "icmp" else f"{spec.host}:{spec.port}"
    return {"method": m.method, "target": where, "used": m.ok,
            "why_not": None if m.ok else (m.error.detail if m.error else "no answer")}


async def _run_one(spec: Spec, ctx: Context) -> Measurement:
    """Resolve, open the socket, run the call in a worker thread, summarise."""
    timer = Timer()
    method = METHOD_NAMES.get(spec.method) or ("stamp-auth" if spec.key else "stamp")
    target = spec.host if spec.method == "icmp" else hostport.join(spec.host, spec.port)
    if spec.codec not in emodel.CODECS:
        bad = error(ErrorKind.UNSUPPORTED, f"unknown codec {spec.codec!r}")
        return timer.measurement(id=spec.id, probe="stream", target=target, method=method, error=bad)
    addr, resolve_err = await _resolve(spec.host, ctx)
    err: ProbeError | None = resolve_err
    if err is None:
        try:
            return await _measure(spec, ctx, timer, method, addr)
        except PermissionError:
            err = error(ErrorKind.PERMISSION, PERMISSION_HINT)
        except OSError as exc:
            err = error(ErrorKind.UNREACHABLE, f"{spec.host}: {exc.strerror or exc}")
    return timer.measurement(
        id=spec.id, probe="stream", target=target, method=method, error=err, confidence=Confidence.NONE
    )


async def _resolve(host: str, ctx: Context) -> tuple[tuple[int, str], ProbeError | None]:
    addr, err = await resolve(ctx, host)
    return (addr or (0, "")), err


async def _measure(
    spec: Spec, ctx: Context, timer: Timer, method: str, addr: tuple[int, str]
) -> Measurement:
    family, address = addr
    stop_at = plat.mono_ns() + int(ctx.remaining() * 1e9) - 200_000_000
    ctx.progress(f"{method} call to {address}: {spec.duration_s:g} s at {1000 / spec.send_interval_ms:g} pps")
    if spec.method == "icmp" and family == socket.AF_INET and plat.caps().icmp_echo == "windows-icmp-api":
        calls, report = await asyncio.to_thread(_api_echoes, spec, address, stop_at)
        return _result(spec, timer, method, address, calls, report, False)
    sync = clock_sync()
    session = _open_session(spec, family, address, _stream_mux.shared_clock(), sync.synchronized, sync.error_s)
    schedule = Schedule(count=spec.count, interval_ns=round(spec.send_interval_ms * 1e6), low_cpu=spec.low_cpu)
    call = _stream_mux.submit(session, schedule, stop_at)  # the engine closes the socket when done
    watchdog = asyncio.create_task(_stop_if_silent(spec, session, call))
    live = asyncio.create_task(_stream_live.sample(_stream_live.LiveCounter(session, spec.duration_s), ctx.live))
    try:
        report = await asyncio.wrap_future(call.future)
    finally:
        watchdog.cancel()
        live.cancel()
        call.cancel.set()
    return _result(spec, timer, method, address, session, report, sync.synchronized)


def _result(spec: Spec, timer: Timer, method: str, address: str, session: Session | ApiEchoes,
            report: EngineReport, synced: bool) -> Measurement:
    values, series, err = _summarise(spec, session, report, address, synced)
    values.update(_context_values(spec, session, report, address, method))
    confidence, confidence_reason = _confidence(values, err)
    return timer.measurement(
        id=spec.id, probe="stream", target=spec.host, method=method, values=values, series=series,
        error=err, confidence=confidence, confidence_reason=confidence_reason,
    )


async def _stop_if_silent(spec: Spec, session: Session, call: _stream_mux.CallHandle) -> None:
    """End the call when the target stayed silent for ``silent_stop_s``: a provider's
    server that does not answer gets ~100 packets, not a whole call."""
    if spec.silent_stop_s is None:
        return
    await asyncio.sleep(spec.silent_stop_s)
    if not _answered(session):
        call.cancel.set()


def _answered(session: Session) -> bool:
    if isinstance(session, StampCall):
        return bool(session.replies)
    if isinstance(session, StunCall):
        return session.answered > 0
    return any(getattr(session, "t4_mono_ns", ()))


@dataclass
class ApiEchoes:
    """Echoes sent through the Windows ICMP API (no socket): what :class:`IcmpCall` keeps."""

    t1_mono_ns: list[int | None]
    t4_mono_ns: list[list[int]]
    payload: bytes
    send_errors: list[str]
    refused: int = 0
    kernel_ts: bool = False
    rx_clock: str = ""


def _api_echoes(spec: Spec, address: str, stop_at: int) -> tuple[ApiEchoes, EngineReport]:
    """The ICMP 50 pps call through ``IcmpSendEcho`` (Windows without Administrator)."""
    from netcheck.platform import winicmp

    payload = bytes(max(spec.payload_bytes(), 8))
    s = winicmp.echo_series(address, count=spec.count, interval_ns=round(spec.send_interval_ms * 1e6),
                            payload=payload, timeout_s=1.0, stop_at_ns=stop_at,
                            api=winicmp.api_factory(), tos=(spec.dscp << 2) & 0xFC)
    label = (f"user-space {plat.caps().mono_clock}() around IcmpSendEcho (includes the API call; "
             f"the API's own RoundTripTime has {winicmp.RTT_RESOLUTION_MS:g} ms steps)")
    calls = ApiEchoes(s.t1_mono_ns, s.t4_mono_ns, payload, s.statuses, rx_clock=label)
    sent = [t for t in s.t1_mono_ns if t is not None]
    report = EngineReport(send_error_ns=s.send_error_ns, started_mono_ns=min(sent, default=0),
                          last_send_mono_ns=max(sent, default=0), stopped_early=s.stopped_early)
    return calls, report


def _open_session(
    spec: Spec, family: int, address: str, clock: ClockMap, synced: bool, err_s: float
) -> Session:
    if spec.method == "icmp":
        return _icmp_session(spec, family, address)
    sock = socket.socket(family, socket.SOCK_DGRAM)
    size = stamp_packet_size(spec.payload_bytes(), spec.key is not None)
    try:
        sock.setblocking(False)
        _set_dscp_ttl(sock, family, spec.dscp)
        sock.connect((address, spec.port))
    except OSError:
        sock.close()
        raise
    if spec.method == "stun":
        return StunCall(sock, count=spec.count, size=size, call_id=os.urandom(4))
    if spec.method == "sip":
        return SipOptionsCall(sock, count=spec.count, target=address)
    estimate = error_estimate(synced, err_s)
    return StampCall(sock, count=spec.count, size=size, clock=clock, key=spec.key, estimate=estimate)


def _icmp_session(spec: Spec, family: int, address: str) -> Session:
    """Raw ICMP socket as root, else a ping socket (Linux, macOS: the platform layer says
    whether it delivers the IPv4 header and keeps our identifier)."""
    ping = plat.open_ping_socket(family)
    sock = ping.sock
    try:
        sock.setblocking(False)
        _set_dscp_ttl(sock, family, spec.dscp)
        sock.connect((address, 0))
    except OSError:
        sock.close()
        raise
    # random (as the icmp probe's): raw and Darwin ping sockets see other pingers' replies
    ident = secrets.randbelow(0x10000)
    return IcmpCall(sock, count=spec.count, payload_bytes=spec.payload_bytes(), ident=ident,
                    raw=ping.raw, v6=family == socket.AF_INET6, ip_header=ping.ip_header,
                    check_ident=ping.raw or ping.keeps_ident)


def _set_dscp_ttl(sock: socket.socket, family: int, dscp: int) -> None:
    """DSCP in the upper six bits of the TOS / Traffic Class octet (RFC 2474); TTL 255 so
    the reflector's copy of it tells the hop count (RFC 8762 4.3.1 Session-Sender TTL)."""
    plat.mark(sock, family, dscp, ttl=255)


def _summarise(
    spec: Spec, session: Session | ApiEchoes, report: EngineReport, address: str, host_synced: bool
) -> tuple[dict[str, Value], dict[str, list[float | None]], ProbeError | None]:
    cfg = an.StreamConfig(spec.codec, spec.interval_ms, spec.jitter_buffer_ms, spec.window_s,
                          spec.burst_window_ms)
    if isinstance(session, StampCall):
        views, series, extra = _stamp_views(spec, session, address, host_synced, cfg)
    else:
        assert isinstance(session, IcmpCall | StunCall | ApiEchoes)
        records = an.icmp_records(session.t1_mono_ns, session.t4_mono_ns)
        views = an.Views(an.summarize(records, cfg), None, None, False)
        series = {"rtt_ms": an.delay_series(records)}
        extra = {"foreign_replies": session.foreign} if isinstance(session, StunCall) else {}
    values = an.path_values(views, cfg)
    values.update(an.mos_values(views, cfg) if views.round_trip.received else {"mos": None})
    values.update(an.send_error_values(report.send_error_ns))
    values.update(extra)
    series["jitter_ms"] = an.downsample(list((views.forward or views.round_trip).jitter_series_ms))
    series["loss_window_pct"] = list(values.get("loss_windows_pct") or [])  # type: ignore[arg-type]
    return values, series, _error(spec, session, views, address)


def _stamp_views(
    spec: Spec, s: StampCall, address: str, host_synced: bool, cfg: an.StreamConfig
) -> tuple[an.Views, dict[str, list[float | None]], dict[str, Value]]:
    from netcheck.wire.stamp import ns_from_ntp

    t1_real = [ns_from_ntp(t) for t in s.t1_wire]
    rt, fwd, bwd = an.stamp_records(s.t1_mono_ns, t1_real, s.replies)
    refl_synced = bool(s.replies) and all(r.estimate.synchronized for r in s.replies[:50])
    same_host = _is_local(address)
    synced = spec.assume_synchronized or same_host or (host_synced and refl_synced)
    fs, bs = an.summarize(fwd, cfg), an.summarize(bwd, cfg)
    if synced and _negative(fs, bs):
        synced = False  # a negative one-way delay proves the clocks are not synchronised
    views = an.Views(an.summarize(rt, cfg), fs, bs, synced)
    key = "owd" if synced else "pdv"
    series = {
        "rtt_ms": an.delay_series(rt),
        f"{key}_fwd_ms": an.delay_series(fwd, 0 if synced else _min_delay(fwd)),
        f"{key}_bwd_ms": an.delay_series(bwd, 0 if synced else _min_delay(bwd)),
    }
    ttl = s.replies[0].ttl if s.replies else None
    extra: dict[str, Value] = {
        "clock_synchronized": synced,
        "clock_sync_basis": _sync_basis(spec.assume_synchronized, same_host, host_synced, refl_synced),
        "reflector_synchronized": refl_synced if s.replies else None,
        "reflector_error_estimate_s": s.replies[0].estimate.seconds if s.replies else None,
        "hops": 255 - ttl if ttl is not None and ttl > 128 else None,
        "malformed_replies": s.malformed,
    }
    return views, series, extra


def _negative(*stats: object) -> bool:
    return any(getattr(getattr(s, "delay_ms", None), "min", 0.0) < 0.0 for s in stats)


def _min_delay(records: list[PacketRecord]) -> int:
    delays = [r.recv_ns - r.send_ns for r in records if r.recv_ns is not None]
    return min(delays, default=0)


def _sync_basis(assumed: bool, same_host: bool, host: bool, reflector: bool) -> str:
    if assumed:
        return "declared synchronised by the caller (same host clock)"
    if same_host:
        return "reflector on this host (one clock)"
    if host and reflector:
        return "both clocks report synchronisation (adjtimex; Error Estimate S bit)"
    return "not synchronised: one-way delay estimated as RTT/2, delay variation measured"


def _is_local(address: str) -> bool:
    """True when ``address`` belongs to this host (loopback, or bindable here)."""
    try:
        if ipaddress.ip_address(address).is_loopback:
            return True
    except ValueError:
        return False
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((address, 0))
        except OSError:
            return False
    return True


def _error(spec: Spec, session: Session | ApiEchoes, views: an.Views, address: str) -> ProbeError | None:
    if views.round_trip.received:
        return None
    where = address if spec.method == "icmp" else f"{address}:{spec.port}"
    if session.refused:
        what = {"stun": "STUN server", "sip": "SIP server"}.get(spec.method, "STAMP responder")
        return error(ErrorKind.REFUSED, f"no {what} at {where} (port unreachable)")
    if session.send_errors:
        return error(ErrorKind.UNREACHABLE, f"{where}: {session.send_errors[0]}")
    if isinstance(session, StampCall) and session.malformed:
        return error(ErrorKind.MALFORMED, f"{where}: {session.malformed} replies failed to parse "
                     "(authentication mode or key mismatch?)")
    silent = f" (stopped after {spec.silent_stop_s:g} s of silence)" if spec.silent_stop_s else ""
    return error(ErrorKind.TIMEOUT, f"no reply from {where} to {views.round_trip.sent} packets{silent}")


def _context_values(
    spec: Spec, session: Session | ApiEchoes, report: EngineReport, address: str, method: str
) -> dict[str, Value]:
    size = session.size if isinstance(session, StampCall | StunCall) else len(session.payload) + 8  # type: ignore[union-attr]
    return {
        "address": address,
        "port": None if spec.method == "icmp" else spec.port,
        "codec": spec.codec,
        "interval_ms": spec.interval_ms,
        "packets_per_s": round(1000.0 / spec.send_interval_ms, 3),
        "packet_bytes": size,
        "dscp": spec.dscp,
        "jitter_buffer_ms": spec.jitter_buffer_ms,
        "duration_planned_s": spec.duration_s,
        "stopped_early": report.stopped_early,
        "send_schedule": "low-cpu" if report.low_cpu else "default",
        "rx_clock": session.rx_clock if isinstance(session, ApiEchoes) else plat.rx_clock_label(session.kernel_ts),
        "rx_kernel_timestamps": session.kernel_ts,
        "tx_clock": f"{plat.caps().mono_clock}() before send",
        "platform": plat.caps().system,
        "method_detail": method,
    }


#: A sender later than this at its p99 distorts the call it emulates (a 20 ms packet
#: interval; the IPDV/jitter then partly measure this machine, not the network).
SEND_ERROR_LOW_MS = 1.0


def _confidence(values: dict[str, Value], err: ProbeError | None) -> tuple[Confidence, Why | None]:
    """(level, reason). high: on schedule, one-way measured, kernel receive timestamps;
    medium: one-way delay estimated as RTT/2, or receive times taken in user space (macOS,
    Windows: the receiving thread's wake-up is added to the return delay, see bench/RESULTS.md
    "Portable code paths"); low: the sender missed its schedule (p99 send error > 1 ms) or
    stopped early; medium on the low-CPU send schedule, its measured p99 send error named
    (the agent's ``--low-cpu``: it trades schedule precision for CPU, never silently).
    The reason says what lowered it and what to do (none: the error says why)."""
    if err is not None:
        return Confidence.NONE, None
    p99 = values.get("send_error_p99_ms")
    if isinstance(p99, int | float) and p99 > SEND_ERROR_LOW_MS:
        return Confidence.LOW, Why("sender_late", {"late": round(float(p99), 1)})
    if values.get("stopped_early"):
        return Confidence.LOW, Why("stopped_early")
    if values.get("method_detail") == METHOD_NAMES["sip"]:
        return Confidence.LOW, Why("sip_series")
    if values.get("send_schedule") == "low-cpu" and isinstance(p99, int | float):
        return Confidence.MEDIUM, Why("low_cpu_schedule", {"late": round(float(p99), 3)})
    if values.get("one_way_delay_estimated"):
        return Confidence.MEDIUM, Why("owd_estimated")
    if values.get("rx_kernel_timestamps") is False:
        return Confidence.MEDIUM, Why("user_space_rx")
    return Confidence.HIGH, None
