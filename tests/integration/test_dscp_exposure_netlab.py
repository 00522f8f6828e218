"""DSCP read-back and the exposure connect-back through the lab router, against
``netcheck responder`` in dc.

DSCP truth: the router's ``dscp_remark`` rule (nftables ``ip dscp set``) re-marks lan -> wan
only, so upstream must read the re-marked value and downstream must keep EF (46, RFC 3246).
Exposure truth: the router masquerades lan -> wan and forwards nothing, so a connect-back to
its wan address 198.18.0.1 reaches no phone (true negative) until a DNAT port forward
80 -> lan:8080, where a listener runs, is added (true positive).
"""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from netcheck.evaluate import evaluate
from netcheck.probes import dscp, exposure
from netcheck.probes._common import Context
from netcheck.profile import load
from netcheck.result import Measurement, Status
from tests.integration.test_udp_ranges_netlab import start_responder
from tests.netlab.lab import RoutedLab
from tests.netlab.netns import run_in_netns

pytestmark = pytest.mark.netlab


def _run(lab: RoutedLab, probe, spec) -> Measurement:  # type: ignore[no-untyped-def]
    ctx = Context(deadline=time.monotonic() + 15)
    return run_in_netns(lab.ns.lan, asyncio.run, probe.run(spec, ctx))


def _dscp(lab: RoutedLab) -> Measurement:
    start_responder(lab, "20000-20001")
    return _run(lab, dscp, dscp.Spec(id="dscp", host=lab.addr.dc, port=20000, dscp=46))


def test_dscp_kept_both_ways(netlab: RoutedLab) -> None:
    m = _dscp(netlab)
    assert m.error is None
    assert (m.values["up_dscp"], m.values["down_dscp"]) == (46, 46)
    assert m.values["received"] == 20
    check = _qos_check(m)
    assert check.status is Status.PASS


def test_dscp_bleached_by_router_detected(netlab: RoutedLab) -> None:
    netlab.dscp_remark(0, from_=46)
    m = _dscp(netlab)
    assert (m.values["up_dscp"], m.values["down_dscp"]) == (0, 46)
    assert m.values["up_values"] == [0]
    check = _qos_check(m)
    assert check.status is Status.FAIL  # ringcentral: qos.priority_required true
    assert check.remediation and check.remediation.key == "dscp_bleached"
    assert "arrived at the responder as 0" in check.reason


def test_dscp_remarked_to_af41_detected(netlab: RoutedLab) -> None:
    netlab.dscp_remark(34, from_=46)  # AF41 (RFC 2597): video class instead of EF
    m = _dscp(netlab)
    assert m.values["up_dscp"] == 34


def _qos_check(m: Measurement):  # type: ignore[no-untyped-def]
    profile = load("ringcentral")  # qos: voice_dscp 46, priority_required true
    return next(c for c in evaluate(profile, [m]) if c.id == "qos.dscp")


def _exposure(lab: RoutedLab) -> Measurement:
    port, _ = start_responder(lab, "20000-20000")
    spec = exposure.Spec(id="exposure", host=lab.addr.dc, control_port=port)
    return _run(lab, exposure, spec)


def _lan_check(m: Measurement):  # type: ignore[no-untyped-def]
    profile = load("managed-com-business")  # lan.no_admin_exposure: true
    return next(c for c in evaluate(profile, [m]) if c.id == "lan.exposure")


def test_exposure_true_negative_behind_nat(netlab: RoutedLab) -> None:
    m = _exposure(netlab)
    assert m.error is None
    assert m.values["seen_as"] == netlab.addr.router_wan  # the site's public address
    assert m.values["open"] == []
    assert set(m.values["ports"]) == {"80", "443", "22", "23", "8080", "8443", "5060", "5061"}  # type: ignore[arg-type]
    assert _lan_check(m).status is Status.PASS


def test_exposure_port_forward_to_phone_found(netlab: RoutedLab) -> None:
    phone = run_in_netns(netlab.ns.lan, socket.create_server, (netlab.addr.lan, 8080))
    try:
        netlab.nft(
            "table ip netcheck_test_fwd {\n chain pre {\n"
            "  type nat hook prerouting priority dstnat;\n"
            f'  iifname "{netlab.ifs.router_wan}" tcp dport 80 dnat to {netlab.addr.lan}:8080\n'
            " }\n}\n")
        m = _exposure(netlab)
    finally:
        phone.close()
    assert m.values["open"] == ["80"]
    assert m.values["ports"]["443"] == "closed"  # type: ignore[index]
    check = _lan_check(m)
    assert check.status is Status.FAIL
    assert "TCP 80" in check.reason and netlab.addr.router_wan in check.reason
