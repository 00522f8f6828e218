"""The plan: which probes run, against which targets, with which deadlines.

A pure function of the profile, the site inputs and this machine's capabilities, so that
``netcheck run --plan`` can show what *would* be measured without sending a packet.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

import msgspec

from netcheck.probes import dns, icmp, tcp_ports
from netcheck.profile import Profile, Role, Target

ICMP_INTERVAL_S = 0.2


@dataclass(frozen=True)
class ProbeRun:
    """One probe invocation; ``timeout_s`` becomes its monotonic deadline in the runner."""

    id: str
    probe: str
    spec: Any
    timeout_s: float
    title: str


@dataclass(frozen=True)
class Options:
    quick: bool = False
    gateway: str | None = None  # the default gateway, found by capabilities
    port_remap: dict[int, int] = field(default_factory=dict)  # demo peers


class PlanError(ValueError):
    """The site inputs do not fit the profile (e.g. an unknown --target name)."""


def with_targets(profile: Profile, overrides: dict[str, str]) -> Profile:
    """Replace target hosts from ``--target NAME=HOST``; unknown names are an input error."""
    targets = dict(profile.targets)
    for name, host in overrides.items():
        if name not in targets:
            known = ", ".join(sorted(targets)) or "none"
            raise PlanError(f"--target {name}=...: profile {profile.id!r} has no target {name!r} (known: {known})")
        targets[name] = msgspec.structs.replace(targets[name], host=host)
    return msgspec.structs.replace(profile, targets=targets)


def build(profile: Profile, options: Options) -> list[ProbeRun]:
    runs: list[ProbeRun] = []
    runs += _dns_runs(profile)
    runs += _path_runs(profile, options)
    runs += _tcp_runs(profile, options)
    return runs


def _dns_runs(profile: Profile) -> list[ProbeRun]:
    return [
        ProbeRun(f"dns:{name}", "dns", dns.Spec(id=f"dns:{name}", host=t.host), 6.0, f"DNS {t.host}")
        for name, t in profile.targets.items()
        if t.host and not _is_literal(t.host)
    ]


def _path_runs(profile: Profile, options: Options) -> list[ProbeRun]:
    """ICMP towards each handover point (internet limits) and the gateway (LAN limits)."""
    duration = profile.stream.quick_duration_s if options.quick else profile.stream.duration_s
    count = max(5, round(duration / ICMP_INTERVAL_S))
    limits = profile.limits
    runs = []
    if limits.end_to_end or limits.handover:
        window = _window(profile)
        for name, target in profile.targets_with_role(Role.HANDOVER):
            if target.host:
                runs.append(_icmp_run(f"icmp:{name}", target.host, count, window, f"ICMP {target.host}"))
    gateway = lan_target(profile, options)
    if limits.layer2 and gateway:
        window = limits.layer2.loss_window_s
        runs.append(_icmp_run("icmp:gateway", gateway, count, window, f"ICMP gateway {gateway}"))
    return runs


def _window(profile: Profile) -> float | None:
    groups = [g for g in (profile.limits.handover, profile.limits.end_to_end) if g]
    return next((g.loss_window_s for g in groups if g.loss_window_s), None)


def _icmp_run(run_id: str, host: str, count: int, window: float | None, title: str) -> ProbeRun:
    spec = icmp.Spec(id=run_id, host=host, count=count, interval_s=ICMP_INTERVAL_S, window_s=window)
    return ProbeRun(run_id, "icmp", spec, count * ICMP_INTERVAL_S + 5.0, title)


def lan_target(profile: Profile, options: Options) -> str | None:
    """The LAN measurement target: a profile target with role gateway, else the default
    gateway of this machine."""
    named = profile.targets_with_role(Role.GATEWAY)
    return next((t.host for _, t in named if t.host), None) or options.gateway


def _tcp_runs(profile: Profile, options: Options) -> list[ProbeRun]:
    runs = []
    for i, rule in enumerate(profile.ports):
        host = profile.resolve_destination(rule.destination)
        if "tcp" not in rule.transports or not host:
            continue
        lo, hi = rule.range
        spec = tcp_ports.Spec(
            id=f"tcp:{i}", host=host, ports=tuple(range(lo, hi + 1)), remap=options.port_remap
        )
        runs.append(ProbeRun(f"tcp:{i}", "tcp_ports", spec, 10.0, f"TCP {rule.port} {host}"))
    return runs


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def target_of(profile: Profile, name: str) -> Target | None:
    return profile.targets.get(name)
