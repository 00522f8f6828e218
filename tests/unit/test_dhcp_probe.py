"""Without raw layer-2 capture the DHCP and LLDP probes send nothing and the lan.dhcp check is
SKIPPED with the privilege to grant (CONTRIBUTING: never PASS what was not measured)."""

from __future__ import annotations

import asyncio
import sys
import time

import pytest

from netcheck import profile
from netcheck.evaluate import lan_local
from netcheck.probes import _common, dhcp, lldp
from netcheck.result import ErrorKind, Site, Status


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="AF_PACKET rule is Linux's")
def test_no_raw_packet_gives_permission_then_skipped() -> None:
    ctx = _common.Context(deadline=time.monotonic() + 5, caps={"raw_packet": False})
    m = asyncio.run(dhcp.run(dhcp.Spec(interface="eth0"), ctx))
    n = asyncio.run(lldp.run(lldp.Spec(interface="eth0"), ctx))
    assert m.error is not None and m.error.kind is ErrorKind.PERMISSION
    assert "CAP_NET_RAW" in m.error.detail and m.duration_s < 1.0
    assert n.error is not None and n.error.kind is ErrorKind.PERMISSION
    prof = profile.load("managed-com-business")
    checks = {c.id: c for c in lan_local.checks(prof, {m.id: m, n.id: n}, Site())}
    assert checks["lan.dhcp"].status is Status.SKIPPED and checks["lan.dhcp"].required
    assert checks["lan.dhcp"].remediation is not None
    assert checks["lan.dhcp"].remediation.key == "raw_capture"
    assert checks["lan.med_voice_policy"].status is Status.SKIPPED
