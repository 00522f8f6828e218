"""Scheduling logic of the agent, driven by explicit clock readings (no sleeping)."""

from __future__ import annotations

import pytest

from netcheck.agent import agent as ag


def test_slots_follow_the_period_with_bounded_seeded_jitter() -> None:
    s = ag.Scheduler(900.0, 60.0, start=1000.0, seed="host-a")
    dues = []
    for _ in range(50):
        dues.append(s.due())
        assert s.advance(s.due() + 5.0) == 0  # a 5 s run never skips a slot
    for n, due in enumerate(dues):
        assert 1000.0 + n * 900.0 <= due < 1000.0 + n * 900.0 + 60.0
    again = ag.Scheduler(900.0, 60.0, start=1000.0, seed="host-a")
    assert again.due() == dues[0]  # reproducible per host
    assert ag.Scheduler(900.0, 60.0, start=1000.0, seed="host-b").due() != dues[0]


def test_a_suspend_over_many_slots_runs_once_then_resumes_the_grid() -> None:
    s = ag.Scheduler(900.0, 0.0, start=0.0, seed="h")
    assert s.due() == 0.0
    # the machine slept 4 h: 16 slots passed. The agent runs once now (at 14400 s) ...
    skipped = s.advance(4 * 3600.0 + 3.0)
    assert skipped == 16
    # ... and the next slot is the next grid point in the future, not a burst of 16 runs
    assert s.due() == 4 * 3600.0 + 900.0


def test_a_run_longer_than_the_period_skips_the_overlapped_slot() -> None:
    s = ag.Scheduler(2.0, 0.0, start=0.0, seed="h")
    assert s.advance(4.5) == 2  # ran 0 .. 4.5 s: slots 1 (2 s) and 2 (4 s) passed, not run
    assert s.due() == 6.0


@pytest.mark.parametrize(("period", "jitter"), [(0.0, 0.0), (10.0, 10.0), (10.0, -1.0)])
def test_invalid_schedules_are_refused(period: float, jitter: float) -> None:
    with pytest.raises(ValueError):
        ag.Scheduler(period, jitter, start=0.0, seed="h")


def test_clock_watch_tells_wall_steps_from_suspends() -> None:
    w = ag.ClockWatch(wall=1000.0, steady=50.0, mono=50.0)
    assert w.check(wall=1030.0, steady=80.0, mono=80.0) == []  # 30 s of plain time
    # NTP stepped the wall clock back by one hour
    assert w.check(wall=1060.0 - 3600.0, steady=110.0, mono=110.0) == [
        ("clock_jump", "wall clock stepped by -3600.0 s")]
    # a 2 h suspend: wall and boot clock advance, CLOCK_MONOTONIC does not
    assert w.check(wall=-2540.0 + 7200.0 + 30, steady=110.0 + 7230.0, mono=140.0) == [
        ("resumed", "resumed after about 7200 s of suspend")]


def test_verdict_change_needs_two_known_verdicts() -> None:
    assert ag.verdict_changed("GO", "NO-GO") and ag.verdict_changed("NO-GO", "GO")
    assert not ag.verdict_changed(None, "NO-GO")  # first run ever
    assert not ag.verdict_changed("GO", None)  # a failed run has no verdict
    assert not ag.verdict_changed("GO", "GO")


def test_capability_notes_name_what_is_skipped() -> None:
    none = ag.capability_notes({"raw_icmp": False, "unprivileged_icmp": False,
                                "raw_packet": False, "root": False})
    assert any("grant CAP_NET_RAW" in n for n in none)
    assert any("LLDP/CDP/DHCP" in n for n in none)
    ok = ag.capability_notes({"raw_icmp": True, "raw_packet": True, "root": False})
    assert ok == ["ICMP: raw sockets (CAP_NET_RAW or root)"]


def test_monitor_profile_drops_the_slow_sections() -> None:
    from netcheck import profile as prof

    full = prof.load("managed-com-business")
    monitor = ag.monitor_profile(full)
    assert full.lan is not None and monitor.lan is None and monitor.sip is None
    assert monitor.limits == full.limits and monitor.ports == full.ports
