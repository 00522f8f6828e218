"""This computer's own link, read in a lab namespace (probe ``local_link``), judged against
the voice VLAN a real lldpd announces (LLDP-MED network policy, TIA-1057) on the switch port.

Truth: the lab builds the lan host's interfaces (a veth = wired Ethernet, full duplex,
untagged), and lldpd is configured with voice VLAN 100."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from netcheck.evaluate import local_link as judge
from netcheck.probes import lldp, local_link
from netcheck.result import Status
from tests.integration.test_lan_local import probe
from tests.netlab.lab import L2Lab

pytestmark = pytest.mark.netlab


def test_wired_laptop_in_data_vlan_then_in_voice_vlan(netlab_l2: L2Lab, lldpd_med: Callable[..., Any]) -> None:
    lab = netlab_l2
    lldpd_med(vlan=100, dscp=46)
    heard = probe(lab.ns.lan, lldp, lldp.Spec(interface="eth0", wait_s=5.0))
    assert heard.values["voice_vlan"] == 100
    own = probe(lab.ns.lan, local_link, local_link.Spec(interface="eth0", sample_s=0.5))
    assert own.error is None
    assert (own.values["type"], own.values["vlan"], own.values["ipv4_networks"]) == (
        "ethernet", None, ["192.168.77.10/24"])
    assert own.values["counters_delta"] == dict.fromkeys(local_link.COUNTERS, 0)
    by_id = {"lldp": heard, "local_link": own}
    checks = {c.id: c for c in judge.checks(None, by_id, None)}  # type: ignore[arg-type]
    assert checks["link.wifi"].status is Status.PASS
    assert checks["link.duplex"].status is Status.PASS and checks["link.duplex"].measured == "full"
    seg = checks["link.voice_segment"]
    assert seg.status is Status.WARN and "untagged (native) VLAN" in seg.reason and "voice VLAN 100" in seg.reason
    assert seg.remediation is not None and "eth0.100" in seg.remediation.text
    # (an 802.1Q sub-interface cannot be made here: this kernel has no 8021q module; the
    # tagged case is tests/unit/test_local_link.py::test_in_the_voice_vlan)


def test_unknown_interface_is_a_labelled_error(netlab_l2: L2Lab) -> None:
    m = probe(netlab_l2.ns.lan, local_link, local_link.Spec(interface="wlan9", sample_s=0.1))
    assert m.error is not None and m.error.kind.value == "no_target" and "wlan9" in m.error.detail
