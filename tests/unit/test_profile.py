"""Profile loading: shipped profiles carry the providers' exact numbers (REQUIREMENTS.md),
and every malformed profile gives one line with file, line, column and key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from netcheck import profile as prof
from netcheck.profile import ProfileError, Role, Transport, parse_port

INVALID = Path(__file__).parents[1] / "data" / "profiles" / "invalid"

#: file -> (line, column, key path, message fragment): one fixture per validation rule.
EXPECTED_ERRORS = {
    "yaml-syntax.yaml": (4, 1, "", "YAML syntax"),
    "unknown-key.yaml": (6, 5, "limits.end_to_end.jitter", "unknown key"),
    "wrong-type.yaml": (5, 3, "stream.duration_s", "expected float, got str"),
    "negative-limit.yaml": (6, 17, "limits.end_to_end.jitter_ms.max", "must be > 0 (got -5)"),
    "inconsistent-limit.yaml": (8, 5, "limits.layer2.one_way_delay_ms", "inconsistent"),
    "port-range.yaml": (5, 37, "ports[0].port", "out of range 1-65535"),
    "port-reversed.yaml": (5, 37, "ports[0].port", "range start above its end"),
    "missing-parent.yaml": (4, 1, "extends", "parent profile 'no-such-parent' not found"),
    "circular-extends.yaml": (4, 1, "extends", "circular extends"),
    "two-comparators.yaml": (6, 5, "limits.handover.mos", "exactly one of max, below, min, above"),
    "unknown-source.yaml": (6, 5, "limits.end_to_end.source", "unknown source 'nowhere'"),
    "duplicate-key.yaml": (4, 1, "name", "duplicate key"),
    "unknown-codec.yaml": (4, 17, "codecs[1]", "unknown codec 'G.999'"),
    "warn-outside.yaml": (6, 26, "limits.end_to_end.jitter_ms.warn", "passing side"),
    "loss-over-100.yaml": (6, 16, "limits.end_to_end.loss_pct.below", "must be <= 100"),
    "mos-range.yaml": (6, 11, "limits.handover.mos.min", "must be <= 5"),
    "bad-transport.yaml": (5, 21, "ports[0].transport", "invalid enum value 'sctp'"),
    "missing-id.yaml": (2, 1, "id", "required key missing"),
    "not-mapping.yaml": (1, 1, "", "must be a YAML mapping"),
}


def test_every_invalid_fixture_has_an_expectation() -> None:
    assert sorted(p.name for p in INVALID.glob("*.yaml")) == sorted(EXPECTED_ERRORS)


@pytest.mark.parametrize("name", sorted(EXPECTED_ERRORS))
def test_invalid_profile_gives_one_line_with_position(name: str) -> None:
    line, col, key, fragment = EXPECTED_ERRORS[name]
    with pytest.raises(ProfileError) as info:
        prof.load(str(INVALID / name))
    err = info.value
    assert (err.line, err.col, err.key) == (line, col, key)
    assert fragment in err.msg
    text = str(err)
    assert "\n" not in text
    assert text.startswith(f"{INVALID / name}:{line}:{col}: ")


def test_every_shipped_profile_loads() -> None:
    ids = {prof.load(str(p)).id for p in prof.shipped()}
    assert ids == {"stimme", "managed-com-business", "generic-voip", "teams", "ringcentral", "demo"}


def test_stimme_numbers_match_the_service_description() -> None:
    """REQUIREMENTS.md §1: 150 ms / 20 ms / below 1 %, the 12-row firewall table, 99.8 %."""
    p = prof.load("stimme")
    e2e = p.limits.end_to_end
    assert e2e is not None
    assert e2e.one_way_delay_ms.comparator == ("max", 150.0)  # type: ignore[union-attr]
    assert e2e.jitter_ms.comparator == ("max", 20.0)  # type: ignore[union-attr]
    assert e2e.loss_pct.comparator == ("below", 1.0)  # type: ignore[union-attr]
    rows = {(r.protocol, r.transport, str(r.port), p.resolve_destination(r.destination)) for r in p.ports}
    assert ("RTP", Transport.UDP, "16384-32767", "46.189.64.189") in rows
    assert ("video", Transport.UDP, "50000-50100", "46.189.64.189") in rows
    assert ("app sharing", Transport.UDP, "60000-60100", "46.189.64.189") in rows
    assert ("H.323/TLS", Transport.TCP, "1300", "46.189.64.189") in rows
    assert ("STUN/TURN", Transport.TCP_UDP, "3478", "46.189.64.249") in rows
    assert ("LDAPS", Transport.TCP, "636", "46.189.64.186") in rows
    assert len(p.ports) == 12
    assert p.bandwidth is not None and p.bandwidth.packages_kbps == {"video": 250, "desktop_sharing": 500}
    assert p.availability_pct == 99.8
    assert p.targets["sip_trunk"].host is None  # set by the SIP-trunk provider


def test_managed_com_numbers_match_the_service_description() -> None:
    """REQUIREMENTS.md §2: 50 ms / 20 ms / < 1 % in 10 s windows; LAN 2 ms / 2 ms / < 1 %;
    MOS >= 4.0; 100 kbit/s per extension each way; no SIP ALG; 802.3af."""
    p = prof.load("managed-com-business")
    ho, l2 = p.limits.handover, p.limits.layer2
    assert ho is not None and l2 is not None
    assert ho.rtt_ms.comparator == ("max", 50.0)  # type: ignore[union-attr]
    assert ho.jitter_ms.comparator == ("max", 20.0)  # type: ignore[union-attr]
    assert ho.loss_pct.comparator == ("below", 1.0)  # type: ignore[union-attr]
    assert ho.loss_window_s == 10
    assert ho.mos.comparator == ("min", 4.0)  # type: ignore[union-attr]
    assert l2.one_way_delay_ms.comparator == ("below", 2.0)  # type: ignore[union-attr]
    assert l2.jitter_ms.comparator == ("max", 2.0)  # type: ignore[union-attr]
    assert l2.loss_pct.comparator == ("below", 1.0)  # type: ignore[union-attr]
    assert p.bandwidth is not None
    assert (p.bandwidth.per_extension_up_kbps, p.bandwidth.per_extension_down_kbps) == (100, 100)
    assert p.sip is not None and p.sip.alg_allowed is False
    assert p.lan is not None and p.lan.poe == "802.3af" and p.lan.port_speed_min_mbps == 100
    assert p.targets_with_role(Role.HANDOVER)[0][1].host == "sip.managed-com.de"


def test_teams_and_ringcentral_numbers() -> None:
    """REQUIREMENTS.md §6 (vendors' published requirements)."""
    teams = prof.load("teams").limits.end_to_end
    assert teams is not None and teams.loss_window_s == 15 and teams.burst_window_ms == 200
    assert teams.jitter_ms.comparator == ("below", 30.0)  # type: ignore[union-attr]
    assert teams.reorder_pct.comparator == ("below", 0.05)  # type: ignore[union-attr]
    rc = prof.load("ringcentral")
    assert {str(r.port) for r in rc.ports} == {"5090-5099", "20000-64999"}
    assert rc.qos is not None and rc.qos.voice_dscp == 46


def test_demo_targets_only_loopback() -> None:
    p = prof.load("demo")
    assert p.demo
    assert {t.host for t in p.targets.values()} <= {"127.0.0.1", "localhost"}
    assert {p.resolve_destination(r.destination) for r in p.ports} <= {"127.0.0.1", "localhost"}
    assert p.limits.end_to_end == prof.load("stimme").limits.end_to_end  # inherited via extends


def test_extends_merges_mappings_and_replaces_lists(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(
        "id: base\nname: B\nlimits:\n  end_to_end: {jitter_ms: {max: 20}, loss_pct: {below: 1}}\n"
        "codecs: [G.711, G.722]\n"
    )
    (tmp_path / "child.yaml").write_text(
        "id: child\nname: C\nextends: base\nlimits:\n  end_to_end: {jitter_ms: {max: 10}}\ncodecs: [G.729]\n"
    )
    p = prof.load(str(tmp_path / "child.yaml"))
    assert p.limits.end_to_end.jitter_ms.comparator == ("max", 10.0)  # type: ignore[union-attr]
    assert p.limits.end_to_end.loss_pct.comparator == ("below", 1.0)  # type: ignore[union-attr]
    assert p.codecs == ["G.729"]


def test_error_in_parent_points_into_the_parent_file(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("id: base\nname: B\nstream:\n  dscp: 99\n")
    (tmp_path / "child.yaml").write_text("id: child\nname: C\nextends: base\n")
    with pytest.raises(ProfileError) as info:
        prof.load(str(tmp_path / "child.yaml"))
    assert info.value.file.endswith("base.yaml") and info.value.line == 4


@pytest.mark.parametrize(("text", "expected"), [(443, (443, 443)), ("16384-32767", (16384, 32767)),
                                                 ("5060", (5060, 5060)), (" 1 - 2 ", (1, 2))])
def test_parse_port(text: int | str, expected: tuple[int, int]) -> None:
    assert parse_port(text) == expected


@pytest.mark.parametrize("bad", [0, 65536, "a-b", "10-", "-5", "3-1"])
def test_parse_port_rejects(bad: int | str) -> None:
    with pytest.raises(ValueError):
        parse_port(bad)


@pytest.mark.parametrize(("op", "bound", "value", "passes"), [
    ("max", 20, 20.0, True), ("max", 20, 20.001, False),      # "must not exceed"
    ("below", 1, 0.999, True), ("below", 1, 1.0, False),      # "must be below"
    ("min", 4.0, 4.0, True), ("min", 4.0, 3.99, False),
    ("above", 0, 0.0, False),
])
def test_limit_comparators_at_the_boundary(op: str, bound: float, value: float, passes: bool) -> None:
    assert prof.Limit(**{op: bound}).passes(value) is passes
