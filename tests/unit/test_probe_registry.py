"""The probe registry (issue 13): each probe's module, Spec and needs; a plan cannot pair a
probe with another probe's Spec; site needs are planned only when the site input is given;
``unmet`` names what this machine lacks, from the platform layer's privilege flags."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from netcheck import probes
from netcheck.plan import core as plan
from netcheck.probes import Need, capacity, dns, snmp_switch, tcp_ports
from netcheck.profile import load

SHIPPED = sorted(p.stem for p in (Path(__file__).parents[2] / "profiles").glob("*.yaml"))
NOTHING = dict.fromkeys(("root", "raw_icmp", "unprivileged_icmp", "windows_icmp_api", "raw_packet",
                         "kernel_rx_timestamps", "tos_readback", "icmp_error_queue"), False)


@pytest.mark.parametrize("name", sorted(probes.PROBES))
def test_every_entry_names_a_module_with_run_and_spec(name: str) -> None:
    """The module's ``Spec`` is the one the registry (and so the plan) pairs with the probe,
    declared in ``probes/specs.py`` and nowhere else."""
    module = importlib.import_module(probes.PROBES[name].module)
    assert callable(module.run) and module.Spec is probes.PROBES[name].spec
    assert module.Spec.__module__ == "netcheck.probes.specs"


def test_every_probe_module_is_registered() -> None:
    """A probe module nobody can plan is dead code (the old ``icmp`` probe was one);
    ``specs`` declares what they take and is no probe."""
    folder = Path(probes.__file__).parent
    modules = {p.stem for p in folder.glob("*.py") if not p.stem.startswith("_")}
    assert modules - {"specs"} == set(probes.PROBES)


def test_every_spec_belongs_to_one_probe() -> None:
    """No Spec in ``specs.py`` without its probe, none shared by two probes (the QoS test
    and the capacity ramp both extend CallSpec, yet each has its own)."""
    from netcheck.probes import specs

    declared = {v for k, v in vars(specs).items() if k.endswith("Spec") and k != "CallSpec" and isinstance(v, type)}
    registered = [info.spec for info in probes.PROBES.values()]
    assert len(set(registered)) == len(registered) and set(registered) == declared


def test_a_spec_of_another_probe_is_refused() -> None:
    probes.check_spec("dns", dns.Spec(id="d", host="h"))
    with pytest.raises(TypeError, match=r"probe 'tcp_ports' takes netcheck.probes.tcp_ports.Spec \(TcpPortsSpec\), "
                                        r"not DnsSpec"):
        probes.check_spec("tcp_ports", dns.Spec(id="d", host="h"))
    with pytest.raises(TypeError, match=r"probe 'qos' takes .*\(QosSpec\), not CapacitySpec"):
        probes.check_spec("qos", capacity.Spec(id="c", host="h"))  # a CallSpec too, still not the QoS test's
    with pytest.raises(TypeError, match=r"not dict"):
        probes.check_spec("dns", {"host": "h"})
    with pytest.raises(TypeError, match="no probe named 'icmp'"):
        probes.check_spec("icmp", tcp_ports.Spec(id="t", host="h", ports=(443,)))


def _options(**kw: object) -> plan.Options:
    return plan.Options(gateway="192.0.2.1", extensions=20, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", SHIPPED)
def test_site_needs_are_planned_only_with_their_input(name: str) -> None:
    """Without --responder, --iperf3 or --switch no run needs one (its checks are
    NOT_MEASURED with a reason instead); with them, every planned spec passes the registry."""
    profile = load(name)
    bare = plan.build(profile, _options())
    site_needs = {Need.RESPONDER, Need.IPERF3, Need.SNMP}
    assert not [r.id for r in bare if probes.PROBES[r.probe].needs & site_needs]
    switch = snmp_switch.SnmpTarget("192.0.2.2", 161, community="c")
    full = plan.build(profile, _options(responder="192.0.2.9", iperf3="192.0.2.9", switches=(switch,)))
    assert {"snmp_switch", "iperf3"} <= {r.probe for r in full}


def test_unmet_names_what_the_machine_lacks() -> None:
    assert probes.unmet("lldp", NOTHING) == [Need.RAW_PACKET]
    assert probes.unmet("lldp", NOTHING | {"raw_packet": True}) == []
    assert probes.unmet("path_hops", NOTHING) == [Need.ICMP_ERRORS]
    assert probes.unmet("path_hops", NOTHING | {"icmp_error_queue": True}) == []  # Linux IP_RECVERR
    assert probes.unmet("udp_egress", NOTHING | {"raw_icmp": True}) == [Need.ERROR_QUEUE]
    assert probes.unmet("bufferbloat", NOTHING | {"windows_icmp_api": True}) == []
    assert probes.unmet("bufferbloat", NOTHING) == [Need.ICMP]
    assert probes.unmet("stream", NOTHING) == []  # STAMP/STUN need no privilege; ICMP is one fall-back
    assert probes.unmet("snmp_switch", NOTHING) == []  # credentials are a site input, not a privilege


def test_every_confidence_level_has_its_words_in_both_languages() -> None:
    """Confidence is a closed set (netcheck.result.Confidence): each level renders in both
    catalogues, and decoding refuses a level the enum does not know (the per-hop trace once
    wrote "partial", which no report could name)."""
    import msgspec

    from netcheck.i18n import Catalogue
    from netcheck.result import Confidence, Measurement

    for lang in ("en", "de"):
        assert all(Catalogue(lang).has(f"confidence.{c.value}") for c in Confidence), lang
    doc = b'{"id":"x","probe":"dns","target":"h","method":"literal","started_utc":"","duration_s":0,'
    assert msgspec.json.decode(doc + b'"confidence":"low"}', type=Measurement).confidence is Confidence.LOW
    with pytest.raises(msgspec.ValidationError, match="confidence"):
        msgspec.json.decode(doc + b'"confidence":"partial"}', type=Measurement)
