"""Which probe runs may run at the same time: scheduling by what they contend for.

A run is not put in a phase; it *claims* the resources it would disturb or be disturbed by,
each in a mode, and two runs may overlap only when none of their claims conflict (the same
resource in different modes, or either in mode ``alone``). Claims of a run
(:func:`claims`):

- ``line`` — the access line's capacity. A load test (UDP sweep, call-load ramp, QoS under
  bulk load, iperf3, bufferbloat: ``ProbeRun.exclusive``) takes it ``alone``: its load would
  spoil every figure measured beside it, and anything beside it would spoil its own. Every
  other run takes it ``shared``.
- ``host`` — this machine's CPU as the call engine's sender needs it. Calls (``kind``
  "call") take it as ``call``: they share the one call engine thread
  (:mod:`netcheck.probes._stream_mux`), which staggers their packets inside the interval, so
  any number of calls run together; bursty active probes (DNS, TCP scans, TLS handshakes,
  STUN, SIP, SNMP walks: ``kind`` "active") take it as ``busy``: beside a call they compete
  for the CPU and the GIL and the sender's schedule slips (ARCHITECTURE.md,
  "Timing-critical streams"). Listeners that only wait (LLDP, DHCP, link state: "passive")
  and probes paced at a few packets a second ("paced": the site-egress test, and the
  per-hop trace at one probe per hop per second) do not claim it: they run beside the
  calls. The trace times its packets in user space in a Python thread; that is fair beside
  the call engine only because the engine hands the GIL over every 0.5 ms while calls run
  (:data:`netcheck.probes._stream_mux.SWITCH_S`; at CPython's 5 ms the trace saw several ms
  of false hop jitter).
- ``ProbeRun.contends`` — an outside resource (e.g. the routers' ICMP Time Exceeded budget):
  ``alone``, so runs with the same tag take turns, with :data:`TURN_GAP_S` between turns
  for the resource to recover (:func:`hold_s`).

Order (:func:`priority`): calls first, with the listeners and paced runs beside them (the
longest waits overlap the calls), then the active probes, then the load tests. A run starts
as soon as it conflicts with no running run and with no waiting run ahead of it in that
order (so a later run never overtakes a conflicting earlier one and nothing starves).
:func:`bound` replays that rule with each run's timeout as its duration: the upper bound
``--plan`` and the progress line state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal, Protocol

Kind = Literal["active", "call", "paced", "passive"]
ALONE: Final = "alone"
_ORDER: Final[dict[str, int]] = {"call": 0, "passive": 1, "paced": 1, "active": 2}
#: Between two turns on one outside resource: routers refill their ICMP error budget at
#: one a second (Linux: burst 6, ``net.ipv4.icmp_ratelimit`` 1000 ms), and the next
#: reader's first probes come in a burst; 2 s is the per-hop trace's final wait, which it
#: used to spend idle before the next reader's turn (it now ends once every probe is answered).
TURN_GAP_S: Final = 2.0


class Schedulable(Protocol):
    """What the scheduler reads of a ``plan.ProbeRun``."""

    @property
    def exclusive(self) -> bool: ...
    @property
    def contends(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def timeout_s(self) -> float: ...


Claim = tuple[str, str]


def claims(run: Schedulable) -> tuple[Claim, ...]:
    """The (resource, mode) pairs a run holds while it runs (module docstring)."""
    out: list[Claim] = [("line", ALONE if run.exclusive else "shared")]
    if run.kind == "call":
        out.append(("host", "call"))
    elif run.kind == "active":  # (a load test holds the line alone: it conflicts with all anyway)
        out.append(("host", "busy"))
    if run.contends:
        out.append((run.contends, ALONE))
    return tuple(out)


def conflict(a: Schedulable, b: Schedulable) -> bool:
    """True when ``a`` and ``b`` must not run at the same time."""
    held = dict(claims(a))
    for resource, mode in claims(b):
        other = held.get(resource)
        if other is not None and (other != mode or ALONE in (mode, other)):
            return True
    return False


def priority(run: Schedulable) -> int:
    """Start order: calls, then listeners and paced runs, then active probes, load tests last."""
    return 3 if run.exclusive else _ORDER.get(run.kind, 2)


def order(plan: Sequence[Schedulable]) -> list[int]:
    """Plan indices in start order (stable: plan order within one priority)."""
    return sorted(range(len(plan)), key=lambda i: priority(plan[i]))


def startable(plan: Sequence[Schedulable], waiting: Sequence[int], running: set[int]) -> list[int]:
    """The waiting runs (indices, in start order) that may start now: each conflicts with no
    running run and with no waiting run ahead of it."""
    out: list[int] = []
    ahead: list[int] = []
    for i in waiting:
        if not any(conflict(plan[i], plan[j]) for j in (*running, *ahead)):
            out.append(i)
            running = running | {i}
        else:
            ahead.append(i)
    return out


def hold_s(plan: Sequence[Schedulable], i: int, waiting: Sequence[int]) -> float:
    """How long run ``i`` keeps its claims after it ends: :data:`TURN_GAP_S` when a waiting
    run shares its ``contends`` tag, else nothing."""
    tag = plan[i].contends
    return TURN_GAP_S if tag and any(plan[j].contends == tag for j in waiting if j != i) else 0.0


def bound(plan: Sequence[Schedulable]) -> float:
    """Upper bound of the whole run in seconds: the schedule replayed with every run lasting
    its full timeout."""
    waiting, running = order(plan), dict[int, float]()
    now = 0.0
    while waiting or running:
        for i in startable(plan, waiting, set(running)):
            waiting.remove(i)
            running[i] = now + plan[i].timeout_s + hold_s(plan, i, waiting)
        if not running:  # cannot happen (an idle scheduler starts the first waiter); guard anyway
            break
        now = min(running.values())
        running = {i: end for i, end in running.items() if end > now}
    return now
