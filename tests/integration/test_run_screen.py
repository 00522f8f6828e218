"""Issue 18, item 8: the technician's screen during ``netcheck run``.

- a call's live figures come from the stream engine's own records while it runs (a real
  call to a real ``netcheck responder`` on loopback whose per-source rate limit drops a
  known share of the answers: the responder's own counter is the ground truth), at most one
  a second, and agree with the final measurement: packet counts never go down, the last
  live counts are at most the final ones and trail them by no more than a second's packets
  plus the wait for a late answer;
- a refused port's line is marked as such, not "ok";
- a real run (``netcheck run --profile demo``, the session fixture) prints a line per
  probe, "rendering reports…", and ends with the verdict as its very last line; an
  INCOMPLETE run lists its open points with their remedies before the verdict.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import socket
import subprocess
from pathlib import Path

from rich.console import Console

from netcheck.plan.runs import ProbeRun
from netcheck.probes import _stream_live, stream, tcp_ports
from netcheck.probes._stream_live import LiveCall
from netcheck.reports import live, terminal
from netcheck.responder import server as resp
from netcheck.result import Measurement
from netcheck.run import runner
from tests import docgen

DURATION_S = 4.0
PPS = 50


def _run(run: ProbeRun) -> tuple[Measurement, list[runner.Event]]:
    events: list[runner.Event] = []
    m = asyncio.run(runner.run_one(run, {}, events.append))
    return m, events


def _rate_limited_call() -> tuple[Measurement, list[runner.Event], int]:
    """A 4 s call at 50 pps to a responder that answers one source at most 30 times a
    second: about 40 % of the answers are never sent (the responder counts them)."""
    with resp.running(resp.Config(bind="127.0.0.1", port=0, rate_pps=30.0, burst=5.0)) as server:
        host, port = server.address
        spec = stream.Spec(id="stream:platform", host=host, port=port, duration_s=DURATION_S)
        m, events = _run(ProbeRun(spec.id, "stream", spec, DURATION_S + 6.0, "call", kind="call"))
        return m, events, server.counters.rate_limited


def test_live_figures_come_from_the_running_call_and_agree_with_the_result() -> None:
    m, events, dropped = _rate_limited_call()
    lives: list[LiveCall] = [e.live for e in events if e.kind == "live"]  # type: ignore[misc]
    sent, received = int(m.values["sent"]), int(m.values["received"])  # type: ignore[arg-type]
    assert m.ok and sent == DURATION_S * PPS and sent - received == dropped > 0.3 * sent
    # one snapshot a second while the call runs, not one per packet
    assert DURATION_S - 1 <= len(lives) <= DURATION_S + 1
    for before, after in itertools.pairwise(lives):
        assert before.sent <= after.sent and before.received <= after.received and before.lost <= after.lost
    last = lives[-1]
    assert last.sent <= sent and last.received <= received and 0 < last.lost <= sent - received
    lag = PPS * (_stream_live.EVERY_S + _stream_live.GRACE_S + 0.5)
    assert last.received + last.lost >= sent - lag
    assert last.rtt_ms is not None and 0 < last.rtt_ms < 5.0  # loopback (final median below)
    assert last.jitter_ms is not None and last.jitter_ms >= 0
    # the responder's token bucket (30/s, burst 5) answers 30 t + 5 of the 50 t packets sent
    # in t seconds: loss 40 % - 10 %/t. The last snapshot judges at least sent - lag packets
    # (t >= 1.5 s: 33.3 %), the result all 4 s (37.5 %): 4.2 pp apart; the rest of the 15 pp
    # is room for this host's send-time slips, which move answers between the two
    assert abs(last.loss_pct - float(m.values["loss_pct"])) < 15.0  # type: ignore[arg-type]


def test_screen_shows_live_figures_in_place_on_a_terminal_and_rarely_in_a_log() -> None:
    _m, events, _ = _rate_limited_call()
    events = [runner.Event("planned", events[0].run), *events]
    buf = io.StringIO()
    with live.Screen("de", tty=True, out=buf, console=Console(file=buf, force_terminal=True, width=200)) as screen:
        for e in events:
            screen.listener(e)
    shown = buf.getvalue()
    last = [e.live for e in events if e.kind == "live"][-1]
    assert f"{last.sent} gesendet, {last.received} beantwortet, {last.lost} verloren" in shown  # type: ignore[attr-defined]
    assert "Testgespräch: Plattform (127.0.0.1)" in shown
    plain = io.StringIO()
    with live.Screen("en", tty=False, out=plain) as screen:
        for e in events:
            screen.listener(e)
    lines = plain.getvalue().splitlines()
    assert len([x for x in lines if "answered" in x and "lost" in x]) == 1  # at most one per 10 s in a log
    assert lines[-1].startswith(f"  {terminal.MARKS['ok']} test call: platform (127.0.0.1): RTT ")
    assert "[1/1 probes · at most " in lines[-1]


def test_a_refused_port_line_is_marked_not_ok() -> None:
    with socket.socket() as s:  # a port nobody listens on: bound, never listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        spec = tcp_ports.Spec(id="tcp:0", host="127.0.0.1", ports=(port,), timeout_s=2.0)
        run = ProbeRun(spec.id, "tcp_ports", spec, 5.0, f"TCP {port} 127.0.0.1")
        m, events = _run(run)
    assert terminal.state(m) == "problem"
    out = io.StringIO()
    with live.Screen("de", tty=False, out=out) as screen:
        screen.listener(runner.Event("planned", run))
        for e in events:
            screen.listener(e)
    assert out.getvalue().startswith(f"  ! TCP {port} 127.0.0.1: abgewiesen 1  [1/1 Messungen")


def test_a_real_run_ends_with_the_verdict_and_says_it_renders(
        demo_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    proc, _ = demo_run
    assert proc.stdout.strip().splitlines()[-1].startswith("VERDICT: GO")
    err = proc.stderr.splitlines()
    probe_lines = [x for x in err if x.startswith(("  ✓ ", "  ! ", "  ✗ "))]
    assert len(probe_lines) >= 10 and all(" probes · at most " in x for x in probe_lines)
    assert "rendering reports…" in err
    assert err.index("rendering reports…") > max(err.index(x) for x in probe_lines)


def test_an_incomplete_run_lists_open_points_with_remedies_before_the_verdict() -> None:
    lines = terminal.closing(docgen.named("teams-incomplete"), "en")
    assert lines[0] == "Open items (not measured):"
    assert any(x.startswith("    Fix: ") for x in lines)
    assert lines[-1].startswith("VERDICT: INCOMPLETE")
