"""LAN checks from switch audits of hand-made and real recordings (decoded, no network):
which ports fail and why is read from the recording (see tests/data/snmp/make_handmade.py)."""

from __future__ import annotations

import pytest

from netcheck import evaluate, profile
from netcheck.result import Check, ErrorKind, Measurement, ProbeError, Site, Status
from netcheck.wire import lan_model
from tests import snmprec

MCB = profile.load("managed-com-business")


def measurement(name: str) -> Measurement:
    path = snmprec.recording(name)
    if not path.exists():
        pytest.fail(f"recording {path} missing from the repository")
    system, tables = snmprec.tables(path)
    values = lan_model.decode(system, tables, name)
    return Measurement(
        id=f"snmp:{name}",
        probe="snmp_switch",
        target=name,
        method="snmpv2c-getbulk",
        started_utc="2026-01-01T00:00:00.000Z",
        duration_s=1.0,
        values=values,
    )


def lan_checks(*ms: Measurement, extensions: int | None = None) -> dict[str, Check]:
    checks = evaluate.evaluate(MCB, list(ms), Site(extensions=extensions))
    return {c.id: c for c in checks if c.group == "lan"}


def test_without_switch_lan_requirements_are_not_measured() -> None:
    checks = lan_checks()
    for cid in ("lan.poe", "lan.speed", "lan.voice_vlan"):
        assert checks[cid].status is Status.NOT_MEASURED and checks[cid].remediation is not None
    assert checks["lan.dhcp"].status is Status.NOT_MEASURED  # still the placeholder
    assert evaluate.verdict(list(checks.values())) is not evaluate.Verdict.GO


def test_poe48_findings() -> None:
    c = lan_checks(measurement("poe48-handmade"), extensions=40)
    poe = c["lan.poe@poe48-handmade"]
    assert poe.status is Status.FAIL
    assert poe.measured == ["ge1/0/7: class 4 needs more than class 3", "ge1/0/8: PoE fault", "ge1/0/25: PoE disabled"]
    speed = c["lan.speed@poe48-handmade"]
    assert speed.status is Status.FAIL
    assert speed.measured == ["ge1/0/5: 100 Mbit/s half duplex", "ge1/0/6: 10 Mbit/s full duplex"]
    vlan = c["lan.voice_vlan@poe48-handmade"]
    # 25-28: phone alone on the port, but its VLAN 10 also carries the PCs: neither variant
    assert vlan.status is Status.FAIL
    assert [m.split(":")[0] for m in vlan.measured] == ["ge1/0/25", "ge1/0/26", "ge1/0/27", "ge1/0/28"]
    budget = c["lan.pse_budget"]  # 370 - 160 = 210 W free = 13 class-0 phones; 12 more expected
    assert budget.status is Status.PASS and budget.measured == 13


def test_pse_budget_too_small_for_the_extensions() -> None:
    budget = lan_checks(measurement("poe48-handmade"), extensions=50)["lan.pse_budget"]
    # 50 - 28 phones found = 22 more; 210 W free admits 13 class-0 phones (15.4 W each)
    assert budget.status is Status.FAIL and budget.limit == "≥ 22 phones" and budget.measured == 13


def test_cisco_voice_vlan_passes_variant_2() -> None:
    c = lan_checks(measurement("cisco-voice-handmade"))
    assert c["lan.voice_vlan@cisco-voice-handmade"].status is Status.PASS
    assert c["lan.poe@cisco-voice-handmade"].status is Status.PASS  # 4200 mW on Gi1/0/1-2


def test_real_procurve_speed_and_missing_poe() -> None:
    c = lan_checks(measurement("procurve"))
    # no RFC 3621 per-port rows: the phone's PoE cannot be judged
    assert c["lan.poe@procurve"].status is Status.NOT_MEASURED
    # HP-ICF-POE-MIB hpicfPseAvailablePower.1001 = 1440 W, hpicfPseUsedPower.1001 = 96 W allocated
    budget = c["lan.pse_budget"]
    assert budget.status is Status.WARN and budget.measured == 87  # (1440 - 96) W // 15.4 W
    assert "1,344 W free by HP allocation" in budget.reason


def test_failed_audit_is_not_measured_with_a_fix() -> None:
    m = Measurement(
        id="snmp:sw1",
        probe="snmp_switch",
        target="sw1",
        method="snmpv2c-getbulk",
        started_utc="2026-01-01T00:00:00.000Z",
        duration_s=1.0,
        error=ProbeError(kind=ErrorKind.TIMEOUT, detail="no SNMP answer"),
    )
    c = lan_checks(m)
    assert c["lan.poe@sw1"].status is Status.NOT_MEASURED
    assert c["lan.poe@sw1"].remediation is not None
    assert c["lan.poe@sw1"].remediation.key == "lan_snmp_failed"


def test_a_faulty_pse_admits_no_phone() -> None:
    """pethMainPseOperStatus faulty(3): its 360 W of headroom admit nothing (RFC 3621)."""
    tables = {
        "pethMainPsePower": {(1,): 370},
        "pethMainPseConsumptionPower": {(1,): 10},
        "pethMainPseOperStatus": {(1,): 3},
    }
    m = Measurement(
        id="snmp:f", probe="snmp_switch", target="f", method="snmpv2c-getbulk",
        started_utc="2026-01-01T00:00:00.000Z", duration_s=1.0, values=lan_model.decode({}, tables, "f"),
    )
    budget = lan_checks(m, extensions=1)["lan.pse_budget"]
    assert budget.status is Status.FAIL and budget.measured == 0


def test_new_lan_texts_render_in_german_by_key() -> None:
    """Every phrase the LAN checks use has a German catalogue entry with the same
    placeholders: the rendered text keeps no ``{`` and is not the English one."""
    from netcheck.i18n import Catalogue
    from netcheck.reports import checktext

    de, en = Catalogue("de"), Catalogue("en")
    c9200 = measurement("iosxe_c9200l")
    checks = [
        *lan_checks(c9200, extensions=133).values(),  # per-member budget FAIL, interfaces not exposed
        *lan_checks(measurement("procurve")).values(),  # budget WARN with a note, PoE unknown
        *lan_checks(measurement("tplink-poe-handmade")).values(),  # speed FAIL, duplex unknown
    ]
    for c in checks:
        text = checktext.reason(c, de)
        assert "{" not in text and text != checktext.reason(c, en), (c.id, text)
        if c.remediation is not None:
            assert "{" not in (checktext.fix(c.remediation, de) or "")
    budget = lan_checks(c9200, extensions=133)["lan.pse_budget"]
    assert "Cisco-Zuteilung" in checktext.reason(budget, de) and "Platz für 132" in checktext.reason(budget, de)
