"""Multi-hop topology: a path with several router hops, for per-hop / fault-location tests.

::

    [lan]  eth0 10.77.1.2  fd77:1::2           default via the site router
      │  link "lan"      (the LAN segment)
    [rtr]  lan0 10.77.1.1  fd77:1::1 | wan0 198.18.1.1  2001:db8:1::1   site router, NAT (IPv4)
      │  link "edge"     (the site router's uplink)
    [isp1] a0 198.18.1.2  2001:db8:1::2 | b0 198.18.2.1  2001:db8:2::1    the ISP's first router
      │  link "isp"      (inside the ISP)
    [isp2] a0 198.18.2.2  2001:db8:2::2 | b0 198.18.3.1  2001:db8:3::1    the ISP's border
      │  link "prov"     (into the provider)
    [prov] eth0 198.18.3.2  2001:db8:3::2                                  the provider target

Any one link can run through the userspace impairment bridge (``impair_link=``; the
bridge of :mod:`tests.netlab.impair`, seeded and logged), and it can be moved to another
link without rebuilding the rest (:meth:`MultiHopLab.move_impairment`). IPv6 is on in
these namespaces (static neighbours, no DAD, no router advertisements). The routers
answer every probe by default (``net.ipv4.icmp_ratelimit`` and its IPv6 twin set to 0),
so a test decides where ICMP rate limiting happens (:meth:`MultiHopLab.icmp_rate_limit`).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.netlab.lab import (
    Lab,
    LabError,
    Proc,
    _run,
    _wait_file,
    _wait_stable,
    disable_offloads,
    make_workdir,
    new_lab_id,
)

NODES = ("lan", "rtr", "isp1", "isp2", "prov")


@dataclass(frozen=True)
class Link:
    """A point-to-point link: (node, device, IPv4, IPv6) at each end, and its prefixes."""

    name: str
    a: tuple[str, str, str, str]
    b: tuple[str, str, str, str]
    net4: str
    net6: str


LINKS: dict[str, Link] = {
    "lan": Link("lan", ("lan", "eth0", "10.77.1.2", "fd77:1::2"), ("rtr", "lan0", "10.77.1.1", "fd77:1::1"),
                "10.77.1.0/24", "fd77:1::/64"),
    "edge": Link("edge", ("rtr", "wan0", "198.18.1.1", "2001:db8:1::1"), ("isp1", "a0", "198.18.1.2", "2001:db8:1::2"),
                 "198.18.1.0/24", "2001:db8:1::/64"),
    "isp": Link("isp", ("isp1", "b0", "198.18.2.1", "2001:db8:2::1"), ("isp2", "a0", "198.18.2.2", "2001:db8:2::2"),
                "198.18.2.0/24", "2001:db8:2::/64"),
    "prov": Link("prov", ("isp2", "b0", "198.18.3.1", "2001:db8:3::1"), ("prov", "eth0", "198.18.3.2", "2001:db8:3::2"),
                 "198.18.3.0/24", "2001:db8:3::/64"),
}

#: (node, destination, via) static routes; IPv4 beyond the site router sees only its NAT address
ROUTES4 = (("lan", "default", "10.77.1.1"), ("rtr", "default", "198.18.1.2"), ("isp1", "default", "198.18.2.2"),
           ("isp2", "198.18.1.0/24", "198.18.2.1"), ("prov", "default", "198.18.3.1"))
ROUTES6 = (("lan", "default", "fd77:1::1"), ("rtr", "default", "2001:db8:1::2"),
           ("isp1", "default", "2001:db8:2::2"), ("isp1", "fd77:1::/64", "2001:db8:1::1"),
           ("isp2", "fd77:1::/64", "2001:db8:2::1"), ("isp2", "2001:db8:1::/64", "2001:db8:2::1"),
           ("prov", "default", "2001:db8:3::1"))


def _mac(link_index: int, end: int) -> str:
    return f"02:78:{link_index:02x}:00:00:{end:02x}"


@dataclass
class MultiHopLab(Lab):
    """lan -> rtr (NAT) -> isp1 -> isp2 -> prov, optionally one link impaired."""

    ns: dict[str, str] = field(default_factory=dict)
    impaired: str | None = None
    bridge: Proc | None = None
    truth_log: Path | None = None
    kind: str = "multihop"

    def addr(self, node: str, family: int = 4) -> str:
        """The node's address on its link towards lan (the one it answers traceroutes from)."""
        for link in LINKS.values():
            if link.b[0] == node or (node == "lan" and link.a[0] == node):
                end = link.b if link.b[0] == node else link.a
                return end[2] if family == 4 else end[3]
        raise KeyError(node)

    @property
    def target(self) -> str:
        return LINKS["prov"].b[2]

    # -- impairment ---------------------------------------------------------------
    def set_impairment(self, spec: str, seed: int = 1) -> Path:
        """(Re)start the bridge on the impaired link with ``spec`` (up = towards prov)."""
        if self.impaired is None:
            raise LabError("no link runs through the impairment bridge")
        if self.bridge is not None:
            self.stop(self.bridge)
        n = sum(1 for _ in self.workdir.glob("truth-*.jsonl"))
        self.truth_log, ready = self.workdir / f"truth-{n}.jsonl", self.workdir / f"ready-{n}"
        argv = [sys.executable, "-m", "tests.netlab.impair", "--a", "imp-a", "--b", "imp-b", "--spec", spec,
                "--seed", str(seed), "--log", str(self.truth_log), "--ready-file", str(ready)]
        self.bridge = self.popen(self.ns["imp"], argv, name="impair")
        _wait_file(ready, self.bridge, timeout=10.0)
        return self.truth_log

    def move_impairment(self, link: str, spec: str, seed: int = 1) -> Path:
        """Put the bridge on ``link`` instead (the other links become plain veths again)."""
        self.clear_impairment()
        self._unlink(LINKS[link])
        self._connect(LINKS[link], via_bridge=True)
        self.impaired = link
        return self.set_impairment(spec, seed)

    def clear_impairment(self) -> None:
        """Stop the bridge and make its link a plain veth again."""
        if self.bridge is not None:
            self.stop(self.bridge)
            self.bridge = None
        if self.impaired is not None:
            self._unlink(LINKS[self.impaired])
            self._connect(LINKS[self.impaired], via_bridge=False)
            self.impaired = None

    def truth_records(self, settle_s: float = 0.3) -> list[dict[str, object]]:
        from tests.netlab.truth import load

        if self.truth_log is None:
            raise LabError("no impairment bridge running")
        _wait_stable(self.truth_log, settle_s)
        return load(self.truth_log)

    # -- router policy ------------------------------------------------------------
    def icmp_rate_limit(self, node: str, per_second: int | None) -> None:
        """nftables on ``node``: send at most ``per_second`` ICMP/ICMPv6 Time Exceeded
        (the rest dropped, counted); None removes it."""
        ns = self.ns[node]
        self.exec(ns, ["nft", "-f", "-"], input="table inet nl_rl {}\ndelete table inet nl_rl\n")
        if per_second is None:
            return
        body = (
            "table inet nl_rl {\n chain out {\n  type filter hook output priority filter;\n"
            f"  icmp type time-exceeded limit rate over {per_second}/second burst 1 packets counter drop\n"
            f"  icmpv6 type time-exceeded limit rate over {per_second}/second burst 1 packets counter drop\n"
            " }\n}\n"
        )
        self.exec(ns, ["nft", "-f", "-"], input=body)

    def rate_limited_drops(self, node: str) -> int:
        """Packets the :meth:`icmp_rate_limit` rules dropped so far on ``node``."""
        out = self.exec(self.ns[node], ["nft", "list", "table", "inet", "nl_rl"], check=False).stdout
        return sum(int(w.split()[0]) for w in out.split("packets ")[1:] if w.split()[0].isdigit())

    def site_queue(self, kbit: int | None, *, ef_priority: bool = False, limit_bytes: int = 1_000_000) -> None:
        """Shape the site router both ways (egress wan0 = uplink, egress lan0 = downlink) to
        ``kbit`` behind a deep FIFO (``limit_bytes``): tbf with a large burst and limit, the
        bufferbloat of a typical CPE. ``ef_priority``: htb instead, with DSCP 46 (tos 0xb8)
        in a priority-0 class and everything else in a deep FIFO class. None removes it."""
        for dev in ("wan0", "lan0"):
            ns = self.ns["rtr"]
            self.exec(ns, ["tc", "qdisc", "del", "dev", dev, "root"], check=False)
            if kbit is None:
                continue
            if not ef_priority:
                self.exec(ns, ["tc", "qdisc", "add", "dev", dev, "root", "tbf", "rate", f"{kbit}kbit",
                               "burst", "64kb", "limit", str(limit_bytes)])
                continue
            for argv in (
                ["qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "20"],
                ["class", "add", "dev", dev, "parent", "1:", "classid", "1:1", "htb", "rate", f"{kbit}kbit"],
                ["class", "add", "dev", dev, "parent", "1:1", "classid", "1:10", "htb", "rate",
                 f"{kbit // 4}kbit", "ceil", f"{kbit}kbit", "prio", "0"],
                ["class", "add", "dev", dev, "parent", "1:1", "classid", "1:20", "htb", "rate",
                 f"{kbit * 3 // 4}kbit", "ceil", f"{kbit}kbit", "prio", "1"],
                ["qdisc", "add", "dev", dev, "parent", "1:20", "bfifo", "limit", str(limit_bytes)],
                ["filter", "add", "dev", dev, "parent", "1:", "protocol", "ip", "prio", "1", "u32",
                 "match", "ip", "dsfield", "0xb8", "0xfc", "flowid", "1:10"],
            ):
                self.exec(ns, ["tc", *argv])

    # -- building -----------------------------------------------------------------
    def _unlink(self, link: Link) -> None:
        for node, dev, *_ in (link.a, link.b):
            _run(["ip", "-n", self.ns[node], "link", "del", dev], check=False)

    def _connect(self, link: Link, *, via_bridge: bool) -> None:
        idx = list(LINKS).index(link.name)
        (na, da, a4, a6), (nb, db, b4, b6) = link.a, link.b
        ma, mb = _mac(idx, 1), _mac(idx, 2)
        if via_bridge:
            imp = self.ns["imp"]
            for dev in ("imp-a", "imp-b"):
                _run(["ip", "-n", imp, "link", "del", dev], check=False)
            _veth_pair(self.ns[na], da, ma, imp, "imp-a")
            _veth_pair(imp, "imp-b", None, self.ns[nb], db, mb)
            for ns, dev in ((self.ns[na], da), (self.ns[nb], db), (imp, "imp-a"), (imp, "imp-b")):
                disable_offloads(self, ns, dev)
            for dev in ("imp-a", "imp-b"):
                self.ip(imp, "link", "set", "dev", dev, "up")
        else:
            _veth_pair(self.ns[na], da, ma, self.ns[nb], db, mb)
        plen4, plen6 = link.net4.split("/")[1], link.net6.split("/")[1]
        for node, dev, ip4, ip6, peer4, peer6, peer_mac in (
            (na, da, a4, a6, b4, b6, mb), (nb, db, b4, b6, a4, a6, ma),
        ):
            ns = self.ns[node]
            self.ip(ns, "addr", "add", f"{ip4}/{plen4}", "dev", dev)
            self.ip(ns, "-6", "addr", "add", f"{ip6}/{plen6}", "dev", dev, "nodad")
            self.ip(ns, "neigh", "replace", peer4, "lladdr", peer_mac, "dev", dev, "nud", "permanent")
            self.ip(ns, "-6", "neigh", "replace", peer6, "lladdr", peer_mac, "dev", dev, "nud", "permanent")
            self.ip(ns, "link", "set", "dev", dev, "up")
        self._routes(link)

    def _routes(self, link: Link) -> None:
        """(Re-)add the static routes that leave through ``link``'s ends."""
        ends = {link.a[0]: link.b, link.b[0]: link.a}
        for table, family in ((ROUTES4, "-4"), (ROUTES6, "-6")):
            for node, dest, via in table:
                peer = ends.get(node)
                if peer is not None and via in (peer[2], peer[3]):
                    self.ip(self.ns[node], family, "route", "replace", dest, "via", via)


def _veth_pair(ns1: str, dev1: str, mac1: str | None, ns2: str, dev2: str, mac2: str | None = None) -> None:
    args = ["ip", "link", "add", "name", dev1, "netns", ns1, *(["address", mac1] if mac1 else [])]
    args += ["type", "veth", "peer", "name", dev2, "netns", ns2, *(["address", mac2] if mac2 else [])]
    _run(args)


def _build(lab: MultiHopLab, impair_link: str | None) -> None:
    for node in (*NODES, "imp"):
        ns = lab.add_ns(node)
        lab.ns[node] = ns
        for key in ("all", "default"):
            lab.exec(ns, ["sysctl", "-qw", f"net.ipv6.conf.{key}.disable_ipv6=0",
                          f"net.ipv6.conf.{key}.accept_dad=0", f"net.ipv6.conf.{key}.accept_ra=0"])
        if node not in ("lan", "imp"):
            lab.exec(ns, ["sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1",
                          "net.ipv4.icmp_ratelimit=0", "net.ipv6.icmp.ratelimit=0"])
    for name, link in LINKS.items():
        lab._connect(link, via_bridge=name == impair_link)
    lab.impaired = impair_link
    lab.exec(lab.ns["rtr"], ["nft", "-f", "-"], input=(
        'table ip netlab_nat {\n chain post {\n  type nat hook postrouting priority srcnat;\n'
        '  oifname "wan0" masquerade\n }\n}\n'))


def open_multihop_lab(impair_link: str | None = None, impair: str = "", *, seed: int = 1) -> MultiHopLab:
    """Build the topology (``impair_link`` in ``LINKS`` runs through the bridge with spec
    ``impair``); the caller must ``close()`` it. Half-built labs are torn down."""
    if impair_link is not None and impair_link not in LINKS:
        raise LabError(f"unknown link {impair_link!r} (known: {', '.join(LINKS)})")
    lab_id = new_lab_id()
    lab = MultiHopLab(id=lab_id, workdir=make_workdir(lab_id))
    try:
        _build(lab, impair_link)
        if impair_link is not None:
            lab.set_impairment(impair, seed=seed)
    except BaseException:
        lab.close()
        raise
    return lab


@contextlib.contextmanager
def multihop_lab(impair_link: str | None = None, impair: str = "", *, seed: int = 1) -> Iterator[MultiHopLab]:
    """:func:`open_multihop_lab`, always torn down on exit."""
    lab = open_multihop_lab(impair_link, impair, seed=seed)
    try:
        yield lab
    finally:
        lab.close()
