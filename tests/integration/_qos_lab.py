"""Router queueing for the QoS lab tests: a shaped uplink with and without voice priority.

This kernel has htb, tbf, pfifo and the u32 classifier (no prio, sfq, fq_codel, netem), so
the priority variant is htb: a parent class at the line rate, an EF class (u32 match on
the DS field, 0xb8/0xfc = DSCP 46) at ``prio 0`` and a best-effort default class at
``prio 1`` with a bounded pfifo. htb serves a class up to its assured ``rate`` before any
borrowing and lower ``prio`` first when borrowing, so EF (a few calls, far below its rate)
always leaves first: a strict priority queue for voice. The variant without priority is
the lab's plain tbf (``RoutedLab.rate_limit``).
"""

from __future__ import annotations

from tests.netlab.lab import RoutedLab

EF_TOS = "0xb8"  # DSCP 46 << 2 (RFC 2474 DS field, RFC 3246 EF)


def priority_uplink(
    lab: RoutedLab,
    kbit: int,
    *,
    ef_share: float = 0.5,
    burst_bytes: int = 3000,
    be_queue_packets: int = 50,
    prioritise: bool = True,
) -> None:
    """htb on the router's wan0 (upload): ``kbit`` in total, EF first; ``prioritise=False``
    leaves out the EF filter: the same shaper and queue, every packet best effort."""
    dev, ns = lab.ifs.router_wan, lab.ns.rtr
    ef = max(64, int(kbit * ef_share))
    be = max(8, kbit - ef)
    lab.exec(ns, ["tc", "qdisc", "del", "dev", dev, "root"], check=False)
    for cmd in (
        f"qdisc add dev {dev} root handle 1: htb default 20",
        f"class add dev {dev} parent 1: classid 1:1 htb rate {kbit}kbit ceil {kbit}kbit "
        f"burst {burst_bytes} cburst {burst_bytes}",
        f"class add dev {dev} parent 1:1 classid 1:10 htb rate {ef}kbit ceil {kbit}kbit prio 0 "
        f"burst {burst_bytes}",
        f"class add dev {dev} parent 1:1 classid 1:20 htb rate {be}kbit ceil {kbit}kbit prio 1 "
        f"burst {burst_bytes}",
        f"qdisc add dev {dev} parent 1:20 handle 20: pfifo limit {be_queue_packets}",
        f"filter add dev {dev} parent 1: protocol ip prio 1 u32 match ip dsfield {EF_TOS} 0xfc flowid 1:10",
    ):
        if prioritise or "filter" not in cmd:
            lab.exec(ns, ["tc", *cmd.split()])
