"""Raw throughput with the installed ``iperf3`` client against a server the user names.

The figures are iperf3's own (``-J`` JSON), labelled ``method = "iperf3"``: TCP
``end.sum_received.bits_per_second`` (what reached the server, up) or, with ``reverse``,
what reached us (down); UDP adds iperf3's receiver loss and RFC 3550 jitter. netcheck only
runs it bounded (``-t duration_s``, process killed at the probe's deadline) and never
starts iperf3 against anything the user did not point at (``--iperf3 HOST[:PORT]``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from typing import Any

from netcheck.probes._common import Context, Timer, error
from netcheck.probes.specs import Iperf3Spec as Spec
from netcheck.result import Confidence, ErrorKind, Measurement, Value


async def run(spec: Spec, ctx: Context) -> Measurement:
    """Run iperf3, parse its JSON, keep its figures."""
    timer = Timer()
    path = shutil.which(spec.binary)
    if path is None:
        err = error(ErrorKind.UNSUPPORTED, f"{spec.binary} not installed (Debian/Ubuntu: apt install iperf3)")
        return timer.measurement(id=spec.id, probe="iperf3", target=spec.host, method="iperf3", error=err)
    ctx.progress(f"iperf3 {'down' if spec.reverse else 'up'} {spec.duration_s:g} s")
    try:
        out = await _execute(spec.argv(path), ctx.timeout(spec.duration_s + 10.0))
    except TimeoutError:
        err = error(ErrorKind.TIMEOUT, f"iperf3 did not finish within {spec.duration_s + 10:g} s")
        return timer.measurement(id=spec.id, probe="iperf3", target=spec.host, method="iperf3", error=err)
    values, problem = parse(out, spec)
    failure = error(ErrorKind.UNREACHABLE, problem) if problem else None
    return timer.measurement(id=spec.id, probe="iperf3", target=spec.host, method="iperf3", values=values,
                             error=failure, confidence=Confidence.NONE if failure else Confidence.HIGH)


async def _execute(argv: list[str], timeout_s: float) -> bytes:
    """stdout of ``argv``; the process is killed (by its PID) when time runs out."""
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.DEVNULL)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise
    return out


def parse(out: bytes, spec: Spec) -> tuple[dict[str, Value], str | None]:
    """iperf3 ``-J`` output -> values (kbit/s), or the error iperf3 reported."""
    try:
        doc: dict[str, Any] = json.loads(out or b"{}")
    except ValueError:
        return {}, "iperf3 printed no JSON"
    if doc.get("error"):
        return {"iperf3_error": str(doc["error"])}, f"iperf3: {doc['error']}"
    end = doc.get("end") or {}
    values: dict[str, Value] = {
        "direction": "down" if spec.reverse else "up",
        "protocol": "udp" if spec.udp_kbps is not None else "tcp",
        "duration_s": spec.duration_s, "streams": spec.streams,
        "iperf3_version": (doc.get("start") or {}).get("version"),
        "source": "iperf3 -J (figures are iperf3's own)",
    }
    if spec.udp_kbps is not None:
        s = end.get("sum") or {}
        values.update({"offered_kbps": spec.udp_kbps,
                       "throughput_kbps": _kbps(s.get("bits_per_second")),
                       "loss_pct": s.get("lost_percent"), "jitter_ms": s.get("jitter_ms")})
    else:
        values.update({"throughput_kbps": _kbps((end.get("sum_received") or {}).get("bits_per_second")),
                       "sent_kbps": _kbps((end.get("sum_sent") or {}).get("bits_per_second")),
                       "retransmits": (end.get("sum_sent") or {}).get("retransmits")})
    if values.get("throughput_kbps") is None:
        return values, "iperf3 reported no throughput"
    return values, None


def _kbps(bps: object) -> float | None:
    return round(float(bps) / 1000.0, 3) if isinstance(bps, int | float) else None
