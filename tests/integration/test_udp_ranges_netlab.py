"""UDP range egress through the lab router, against ``netcheck responder --udp-ranges`` in dc.

Ground truth is the router's own nftables policy (``RoutedLab.router_firewall``): the ports
it drops or rejects are exactly the ports the probe must call blocked, and every other port
must be open. The whole stimme RTP range (REQUIREMENTS.md §1: UDP 16384-32767, 16,384 ports)
is swept; the issue's budget for it is 30 s.
"""

from __future__ import annotations

import asyncio
import sys
import time

import pytest

from netcheck.evaluate import evaluate
from netcheck.probes import udp_ports
from netcheck.probes._common import Context
from netcheck.profile import load
from netcheck.result import Measurement, Status
from tests.netlab.lab import Proc, RoutedLab
from tests.netlab.netns import run_in_netns

pytestmark = pytest.mark.netlab

RTP = (16384, 32767)  # REQUIREMENTS.md §1, stimme RTP
ISSUE_BUDGET_S = 30.0  # issue 5: at most 30 s for the 16,384-port range


def start_responder(lab: RoutedLab, ranges: str, *extra: str) -> tuple[int, Proc]:
    """``netcheck responder`` in dc (a real process, as the integrator runs it)."""
    port = lab.free_port(lab.ns.dc, "udp", lab.addr.dc)
    proc = lab.popen(lab.ns.dc, [sys.executable, "-m", "netcheck", "responder", "--bind",
                                 lab.addr.dc, "--port", str(port), "--udp-ranges", ranges, *extra],
                     name="responder")
    lab.wait_for_port(lab.ns.dc, port, "tcp", timeout=20.0, proc=proc)
    return port, proc


def sweep(lab: RoutedLab, control_port: int, *ranges: tuple[int, int],
          budget_s: float = 40.0) -> Measurement:
    spec = udp_ports.Spec(id="udp:9", host=lab.addr.dc, ranges=tuple(ranges),
                          control_port=control_port, stands_for="46.189.64.189")
    ctx = Context(deadline=time.monotonic() + budget_s)
    return run_in_netns(lab.ns.lan, asyncio.run, udp_ports.run(spec, ctx))


def test_whole_rtp_range_with_dropped_block_in_budget(netlab: RoutedLab) -> None:
    port, _ = start_responder(netlab, "16384-32767")
    netlab.router_firewall(drop_udp=[(20000, 20999)])
    t0 = time.monotonic()
    m = sweep(netlab, port, RTP)
    elapsed = time.monotonic() - t0
    assert m.error is None
    assert m.values["blocked"] == ["20000-20999"]
    assert m.values["no_answer"] == ["20000-20999"]
    assert m.values["open"] == ["16384-19999", "21000-32767"]
    assert m.values["counts"] == {"open": 15384, "no_answer": 1000}
    assert m.values["rounds"] == 3  # the blocked ports were tried twice more
    assert elapsed <= ISSUE_BUDGET_S, f"sweep took {elapsed:.1f} s"
    print(f"\n16,384-port sweep: {elapsed:.2f} s, {m.values['sent']} datagrams")


def test_reject_and_drop_both_blocked_and_uncovered_not_blocked(netlab: RoutedLab) -> None:
    port, _ = start_responder(netlab, "50000-50100")
    netlab.router_firewall(drop_udp=[(50050, 50059)], reject_udp=[(50010, 50019)])
    m = sweep(netlab, port, (50000, 50100), (60000, 60004))
    assert m.values["blocked"] == ["50010-50019", "50050-50059"]
    rejected = m.values.get("rejected", [])
    assert rejected and all(r.startswith("5001") for r in rejected)  # type: ignore[union-attr]
    assert set(m.values["icmp_from"]) <= {f"{netlab.addr.router_lan} type 3 code 3"}  # type: ignore[arg-type]
    assert m.values["not_covered"] == ["60000-60004"]
    assert m.values["counts"]["open"] == 81  # type: ignore[index]


def test_redirect_mode_one_socket(netlab: RoutedLab) -> None:
    port, proc = start_responder(netlab, "50000-50100", "--udp-mode", "redirect")
    netlab.router_firewall(drop_udp=[(50100, 50100)])
    m = sweep(netlab, port, (50000, 50100))
    assert m.values["open"] == ["50000-50099"]
    assert m.values["blocked"] == ["50100"]
    assert "redirect" in proc.output()
    rules = netlab.exec(netlab.ns.dc, ["nft", "list", "ruleset"]).stdout
    assert "redirect to :" in rules
    netlab.stop(proc)
    assert "netcheck_responder" not in netlab.exec(netlab.ns.dc, ["nft", "list", "ruleset"]).stdout


def test_no_responder_is_not_measured(netlab: RoutedLab) -> None:
    """Nothing serves the ports and nothing answers the control port: silence proves
    nothing, so the row is NOT_MEASURED with the reason (never FAIL, never PASS)."""
    m = sweep(netlab, 9, (50000, 50019))
    counts = m.values["counts"]
    assert "open" not in counts  # type: ignore[operator]
    # dc answers a few with ICMP port unreachable (Linux rate-limits ICMP: burst of 6)
    assert counts.get("no_answer", 0) + counts.get("not_covered", 0) == 20  # type: ignore[union-attr]
    assert m.values["coverage"].startswith("unknown")  # type: ignore[union-attr]
    profile = load("stimme")
    rows = [i for i, r in enumerate(profile.ports) if r.port == "50000-50100"]
    m = Measurement(**{**{f: getattr(m, f) for f in m.__struct_fields__}, "id": f"udp:{rows[0]}"})
    check = next(c for c in evaluate(profile, [m]) if c.id == "port.udp.50000-50100@platform")
    assert check.status is Status.NOT_MEASURED
    assert "no port answered" in check.reason
