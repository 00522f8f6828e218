"""Measurement ids are spelled in one place (netcheck/ids.py, issue 13): the plan names runs
and the evaluator looks them up with the same constructors, so they cannot drift apart."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from netcheck import ids
from netcheck.plan import core as plan
from netcheck.probes import snmp_switch
from netcheck.profile import load

ROOT = Path(ids.__file__).parent
PREFIXES = ("dns:", "stream:", "path_hops:", "tcp:", "udp:", "tls:", "stun:", "sip_alg:", "sip_options:",
            "snmp:", "dhcp:", "iperf3:")


def _id_fstrings(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
            head = str(node.values[0].value)
            if head.startswith(PREFIXES):
                out.append(f"{path.relative_to(ROOT)}:{node.lineno}: f{head!r}...")
    return out


def test_no_measurement_id_is_spelled_outside_ids() -> None:
    files = [*ROOT.glob("plan/*.py"), *ROOT.glob("evaluate/*.py")]
    assert [hit for f in files for hit in _id_fstrings(f)] == []


@pytest.mark.parametrize("name", ["demo", "stimme", "managed-com-business", "teams", "ringcentral"])
def test_every_planned_id_is_unique_and_is_its_specs_id(name: str) -> None:
    switch = snmp_switch.SnmpTarget("192.0.2.2", 161, community="c")
    runs = plan.build(load(name), plan.Options(gateway="192.0.2.1", extensions=20, responder="192.0.2.9",
                                               iperf3="192.0.2.9", switches=(switch,)))
    assert len({r.id for r in runs}) == len(runs)
    assert all(r.spec.id == r.id for r in runs)


def test_a_switch_id_tells_an_ipv6_port_from_an_address() -> None:
    """``--switch [::1]:1161`` and ``--switch ::1:1161`` (an IPv6 address, port 161) are two
    switches: their ids differ (RFC 3986 brackets, as ``hostport.join`` writes them)."""
    with_port = snmp_switch.SnmpTarget("::1", 1161, community="c")
    other_address = snmp_switch.SnmpTarget("::1:1161", 161, community="c")
    assert (with_port.label, other_address.label) == ("[::1]:1161", "::1:1161")
    assert snmp_switch.SnmpTarget("192.0.2.2", 1161, community="c").label == "192.0.2.2:1161"
