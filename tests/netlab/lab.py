"""The namespace lab: build, drive and tear down virtual topologies for tests.

Routed topology (``routed_lab``)::

    [lan] eth0 10.77.1.2 ── (impair bridge in [imp], or a plain veth) ── lan0 10.77.1.1 [rtr]
    [rtr] wan0 198.18.0.1 ── eth0 198.18.0.2 [dc]        (nftables masquerade on wan0)

Flat layer-2 segment (``l2_lab``): a Linux bridge in [sw] (br0 192.168.77.2) with ports to
[lan] (192.168.77.10, or no address), [gw] (192.168.77.1) and [rogue] (192.168.77.253).

Every name carries a per-lab id (``nc`` + 6 hex), so parallel runs never collide; every
namespace is registered before it is populated, so :meth:`Lab.close` removes it even when
building fails half-way. Processes are started through :meth:`Lab.popen` and stopped by
PID. The lab never touches the root namespace's links or routes. A state file in
``/run/netlab`` lets ``python -m tests.netlab down`` clean up after a killed session.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.netlab.netns import run_in_netns

REPO_ROOT = Path(__file__).resolve().parents[2]
STATE_DIR = Path("/run/netlab")
PortSpec = int | tuple[int, int]


class LabError(RuntimeError):
    """A lab command failed; the message carries the command and its stderr."""


def new_lab_id() -> str:
    """``nc`` + 6 hex chars: short enough for interface-name budgets, unique per run."""
    return "nc" + secrets.token_hex(3)


def lab_support() -> str | None:
    """None when this process can build labs, else a one-line reason to skip."""
    if os.geteuid() != 0:
        return "netlab needs root (network namespaces, AF_PACKET)"
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            return f"netlab needs `{tool}` (Debian package iproute2 / nftables)"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"`ip netns` unavailable: {probe.stderr.strip()[:80]}"
    return None


@dataclass
class Proc:
    """A process the lab started; stopped by PID at teardown."""

    name: str
    ns: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        """Everything the process wrote to stdout/stderr so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def _ports_expr(ports: Sequence[PortSpec]) -> str:
    """nft set literal: ``{ 443, 5060-5061 }``."""
    items = [f"{p[0]}-{p[1]}" if isinstance(p, tuple) else str(p) for p in ports]
    return "{ " + ", ".join(items) + " }"


@dataclass
class Lab:
    """What every topology has: an id, namespaces, tracked processes, a work dir."""

    id: str
    workdir: Path
    namespaces: list[str] = field(default_factory=list)
    procs: list[Proc] = field(default_factory=list)
    kind: str = "lab"

    # -- running things -----------------------------------------------------------
    def exec(
        self,
        ns: str,
        argv: Sequence[str],
        *,
        check: bool = True,
        timeout: float = 30.0,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside ``ns`` to completion (bounded by ``timeout``)."""
        return _run(["ip", "netns", "exec", ns, *argv], check=check, timeout=timeout, input=input)

    def popen(
        self,
        ns: str,
        argv: Sequence[str],
        *,
        name: str | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Proc:
        """Start ``argv`` in ``ns``; output goes to a log file in the work dir.

        ``ip netns exec`` execs the command, so the PID we hold is the command itself.
        """
        label = name or Path(argv[0]).name
        log = self.workdir / f"{label}-{len(self.procs)}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                ["ip", "netns", "exec", ns, *argv],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
                cwd=cwd or REPO_ROOT,
                start_new_session=True,
            )
        proc = Proc(label, ns, popen, log)
        self.procs.append(proc)
        self._save_state()
        return proc

    def stop(self, proc: Proc, timeout: float = 3.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout``; only this PID, never by name."""
        if proc.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                proc.popen.wait(timeout)
        if proc in self.procs:
            self.procs.remove(proc)
            self._save_state()

    def free_port(self, ns: str, proto: str = "udp", host: str = "") -> int:
        """A port the kernel reports free in ``ns`` right now (bind to 0, read, close)."""
        kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM

        def pick() -> int:
            with socket.socket(socket.AF_INET, kind) as s:
                s.bind((host, 0))
                return int(s.getsockname()[1])

        return run_in_netns(ns, pick)

    def wait_for_port(
        self,
        ns: str,
        port: int,
        proto: str = "tcp",
        timeout: float = 10.0,
        proc: Proc | None = None,
    ) -> None:
        """Wait until something in ``ns`` listens on ``port`` (per ``ss``); fail early
        with the process output if ``proc`` died."""
        flag = "-Hlnt" if proto == "tcp" else "-Hlnu"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.exec(ns, ["ss", flag, f"sport = :{port}"], check=False).stdout
            if out.strip():
                return
            if proc is not None and proc.popen.poll() is not None:
                raise LabError(f"{proc.name} exited ({proc.popen.returncode}): {proc.output()}")
            time.sleep(0.05)
        raise LabError(f"nothing listens on {proto}/{port} in {ns} after {timeout}s")

    # -- lifecycle ----------------------------------------------------------------
    def add_ns(self, suffix: str) -> str:
        """Create namespace ``<id>-<suffix>`` (registered first, so teardown sees it)."""
        name = f"{self.id}-{suffix}"
        self.namespaces.append(name)
        self._save_state()
        _run(["ip", "netns", "add", name])
        for key in ("all", "default"):  # no IPv6 chatter (RS, MLD, DAD) across the link
            self.exec(name, ["sysctl", "-qw", f"net.ipv6.conf.{key}.disable_ipv6=1"])
        self.ip(name, "link", "set", "lo", "up")
        return name

    def ip(self, ns: str, *args: str) -> None:
        """``ip -n ns ARGS`` (raises LabError with stderr on failure)."""
        _run(["ip", "-n", ns, *args])

    def close(self) -> None:
        """Stop every tracked process (by PID, newest first), then delete namespaces."""
        errors: list[str] = []
        for proc in reversed(list(self.procs)):
            try:
                self.stop(proc)
            except Exception as exc:
                errors.append(f"stop {proc.name}: {exc}")
        for ns in reversed(self.namespaces):
            res = _run(["ip", "netns", "del", ns], check=False)
            if res.returncode != 0 and ns in list_netns():
                errors.append(f"netns del {ns}: {res.stderr.strip()}")
        self.namespaces.clear()
        self.state_path.unlink(missing_ok=True)
        if errors:
            raise LabError("; ".join(errors))

    @property
    def state_path(self) -> Path:
        return STATE_DIR / f"{self.id}.json"

    def _save_state(self) -> None:
        """Record namespaces and PIDs so `python -m tests.netlab down` can clean up."""
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        state = {
            "id": self.id,
            "kind": self.kind,
            "owner_pid": os.getpid(),
            "namespaces": self.namespaces,
            "pids": [p.pid for p in self.procs],
            "workdir": str(self.workdir),
        }
        self.state_path.write_text(json.dumps(state, indent=1))


def make_workdir(lab_id: str) -> Path:
    """A temp dir for logs, truth files and peer configs; 0755 because some peers (lldpd's
    privilege-separated half, snmpsim as nobody) must reach files in it."""
    wd = Path(tempfile.mkdtemp(prefix=f"netlab-{lab_id}-"))
    wd.chmod(0o755)
    return wd


def _run(
    argv: Sequence[str],
    *,
    check: bool = True,
    timeout: float = 30.0,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(
        list(argv),
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
    )
    if check and res.returncode != 0:
        raise LabError(f"{' '.join(argv)} -> {res.returncode}: {res.stderr.strip()}")
    return res


def list_netns() -> list[str]:
    """Names from ``ip netns list`` (the first word of each line)."""
    out = _run(["ip", "netns", "list"], check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def disable_offloads(lab: Lab, ns: str, dev: str) -> None:
    """Turn off checksum/segmentation offloads on a veth end.

    With them on, AF_PACKET sees GSO super-frames larger than the MTU (which cannot be
    re-sent) and frames whose checksum is still to be filled in (CHECKSUM_PARTIAL), which
    the far end would then drop. ``ethtool`` is required for the impaired topology.
    """
    if shutil.which("ethtool") is None:
        raise LabError("the impairment link needs `ethtool` (Debian package ethtool)")
    lab.exec(
        ns,
        ["ethtool", "-K", dev, "tx", "off", "sg", "off", "tso", "off", "gso", "off", "gro", "off"],
        check=False,
    )


# ---------------------------------------------------------------------------------------
# Routed topology
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoutedNames:
    """Namespace names of the routed topology (``imp`` is None on a plain veth)."""

    lan: str
    rtr: str
    dc: str
    imp: str | None


@dataclass(frozen=True)
class RoutedAddrs:
    """IPv4 addresses; lan is RFC 1918, wan is RFC 2544 benchmark space ("public")."""

    lan: str = "10.77.1.2"
    router_lan: str = "10.77.1.1"  # the lan's default gateway
    router_wan: str = "198.18.0.1"  # what the dc side sees after masquerade
    dc: str = "198.18.0.2"
    lan_net: str = "10.77.1.0/24"
    wan_net: str = "198.18.0.0/24"


@dataclass(frozen=True)
class RoutedIfaces:
    """Interface names inside their namespaces."""

    lan: str = "eth0"
    router_lan: str = "lan0"
    router_wan: str = "wan0"
    dc: str = "eth0"
    imp_a: str = "imp-lan"  # imp side facing lan ("up" = a -> b)
    imp_b: str = "imp-rtr"  # imp side facing the router


MACS = {
    "lan": "02:77:01:00:00:02",
    "router_lan": "02:77:01:00:00:01",
    "router_wan": "02:77:02:00:00:01",
    "dc": "02:77:02:00:00:02",
}


@dataclass
class RoutedLab(Lab):
    """lan -> (impairment link) -> router (NAT, firewall, ALG, DSCP, tbf) -> dc."""

    ns: RoutedNames = field(default_factory=lambda: RoutedNames("", "", "", None))
    addr: RoutedAddrs = field(default_factory=RoutedAddrs)
    ifs: RoutedIfaces = field(default_factory=RoutedIfaces)
    bridge: Proc | None = None
    truth_log: Path | None = None
    kind: str = "routed"

    # -- impairment link ----------------------------------------------------------
    def set_impairment(
        self, spec: str, seed: int = 1, *, spin_us: int = 200, floor_us: int = 1000
    ) -> Path:
        """(Re)start the impairment bridge with ``spec``; returns the new truth log path.

        Frames arriving while the bridge restarts are not forwarded (a few ms)."""
        if self.ns.imp is None:
            raise LabError("this lab has a plain veth; build it with impair=... to impair")
        if self.bridge is not None:
            self.stop(self.bridge)
        n = sum(1 for _ in self.workdir.glob("truth-*.jsonl"))
        self.truth_log = self.workdir / f"truth-{n}.jsonl"
        ready = self.workdir / f"bridge-ready-{n}"
        argv = [
            sys.executable,
            "-m",
            "tests.netlab.impair",
            "--a",
            self.ifs.imp_a,
            "--b",
            self.ifs.imp_b,
            "--spec",
            spec,
            "--seed",
            str(seed),
            "--log",
            str(self.truth_log),
            "--ready-file",
            str(ready),
            "--spin-us",
            str(spin_us),
            "--floor-us",
            str(floor_us),
        ]
        self.bridge = self.popen(self.ns.imp, argv, name="impair")
        _wait_file(ready, self.bridge, timeout=10.0)
        return self.truth_log

    def truth_records(self, settle_s: float = 0.3) -> list[dict[str, object]]:
        """Ground-truth records so far, once the bridge has flushed (log size stable)."""
        from tests.netlab.truth import load

        if self.truth_log is None:
            raise LabError("no impairment bridge running")
        _wait_stable(self.truth_log, settle_s)
        return load(self.truth_log)

    # -- router policy ------------------------------------------------------------
    def nft(self, ruleset: str) -> None:
        """Load an nftables ruleset (text) in the router namespace."""
        self.exec(self.ns.rtr, ["nft", "-f", "-"], input=ruleset)

    def _replace_table(self, table: str, body: str) -> None:
        """Atomically replace ``inet <table>`` (create-then-delete-then-add in one batch)."""
        self.nft(
            f"table inet {table} {{}}\ndelete table inet {table}\n"
            f"table inet {table} {{\n{body}\n}}\n"
        )

    def router_firewall(
        self,
        *,
        drop_tcp: Sequence[PortSpec] = (),
        reject_tcp: Sequence[PortSpec] = (),
        drop_udp: Sequence[PortSpec] = (),
        reject_udp: Sequence[PortSpec] = (),
    ) -> None:
        """Filter lan -> wan forwarding by destination port: drop (silence) or reject
        (TCP RST / ICMP port unreachable). Replaces the previous policy."""
        rules = []
        for proto, ports, verdict in (
            ("tcp", drop_tcp, "drop"),
            ("tcp", reject_tcp, "reject with tcp reset"),
            ("udp", drop_udp, "drop"),
            ("udp", reject_udp, "reject with icmp type port-unreachable"),
        ):
            if ports:
                rules.append(
                    f'    iifname "{self.ifs.router_lan}" {proto} dport '
                    f"{_ports_expr(ports)} {verdict}"
                )
        body = (
            "  chain forward {\n    type filter hook forward priority filter; policy accept;\n"
            + "\n".join(rules)
            + "\n  }"
        )
        self._replace_table("netlab_fw", body)

    def sip_alg(self, enabled: bool, port: int = 5060) -> None:
        """Attach (or remove) the kernel SIP ALG: an nftables ``ct helper`` of type "sip"
        (nf_conntrack_sip + nf_nat_sip) on lan -> wan UDP and TCP ``port``."""
        if not enabled:
            self._replace_table("netlab_alg", "")
            return
        body = "\n".join(
            [
                '  ct helper sip-udp { type "sip" protocol udp; l3proto ip; }',
                '  ct helper sip-tcp { type "sip" protocol tcp; l3proto ip; }',
                "  chain pre {\n    type filter hook prerouting priority filter;",
                f'    iifname "{self.ifs.router_lan}" udp dport {port} ct helper set "sip-udp"',
                f'    iifname "{self.ifs.router_lan}" tcp dport {port} ct helper set "sip-tcp"',
                "  }",
            ]
        )
        self._replace_table("netlab_alg", body)

    def dscp_remark(self, to: int | None, from_: int | None = None) -> None:
        """Rewrite the DSCP of lan -> wan packets (all, or only those marked ``from_``)
        to ``to``, as a carrier edge that bleaches or re-marks does; None removes it."""
        if to is None:
            self._replace_table("netlab_dscp", "")
            return
        match = f" ip dscp {from_}" if from_ is not None else ""
        body = (
            "  chain post {\n    type filter hook postrouting priority mangle;\n"
            f'    oifname "{self.ifs.router_wan}"{match} ip dscp set {to}\n  }}'
        )
        self._replace_table("netlab_dscp", body)

    def rate_limit(
        self,
        kbit: int | None,
        *,
        down_kbit: int | None = None,
        burst_bytes: int = 16000,
        latency_ms: int = 50,
    ) -> None:
        """tbf on the router: ``kbit`` caps upload (egress wan0), ``down_kbit`` download
        (egress lan0, default the same). None removes the limit."""
        down = kbit if down_kbit is None else down_kbit
        for dev, rate in ((self.ifs.router_wan, kbit), (self.ifs.router_lan, down)):
            self.exec(self.ns.rtr, ["tc", "qdisc", "del", "dev", dev, "root"], check=False)
            if rate is not None:
                self.exec(
                    self.ns.rtr,
                    [
                        "tc",
                        "qdisc",
                        "add",
                        "dev",
                        dev,
                        "root",
                        "tbf",
                        "rate",
                        f"{rate}kbit",
                        "burst",
                        str(burst_bytes),
                        "latency",
                        f"{latency_ms}ms",
                    ],
                )


def _wait_file(path: Path, proc: Proc, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.popen.poll() is not None:
            raise LabError(f"{proc.name} exited: {proc.output()[-2000:]}")
        if time.monotonic() > deadline:
            raise LabError(f"{proc.name} not ready after {timeout}s: {proc.output()[-2000:]}")
        time.sleep(0.02)


def _wait_stable(path: Path, settle_s: float) -> None:
    """Wait until ``path`` has not grown for ``settle_s`` (the bridge flushes when idle)."""
    last, since = -1, time.monotonic()
    deadline = since + 10 * settle_s + 2
    while time.monotonic() < deadline:
        size = path.stat().st_size if path.exists() else 0
        if size != last:
            last, since = size, time.monotonic()
        elif time.monotonic() - since >= settle_s:
            return
        time.sleep(0.02)


def _build_routed(lab: RoutedLab, impaired: bool) -> None:
    """Create the namespaces, links, addresses, routes, static ARP and NAT."""
    i, a = lab.ifs, lab.addr
    lan, rtr, dc = lab.add_ns("lan"), lab.add_ns("rtr"), lab.add_ns("dc")
    imp = lab.add_ns("imp") if impaired else None
    lab.ns = RoutedNames(lan, rtr, dc, imp)
    if imp:
        _veth(lab, (lan, i.lan, MACS["lan"]), (imp, i.imp_a, None))
        _veth(lab, (imp, i.imp_b, None), (rtr, i.router_lan, MACS["router_lan"]))
        for ns, dev in ((lan, i.lan), (rtr, i.router_lan), (imp, i.imp_a), (imp, i.imp_b)):
            disable_offloads(lab, ns, dev)
    else:
        _veth(lab, (lan, i.lan, MACS["lan"]), (rtr, i.router_lan, MACS["router_lan"]))
    _veth(lab, (rtr, i.router_wan, MACS["router_wan"]), (dc, i.dc, MACS["dc"]))
    for ns, dev, ip_, mac_peer, peer_ip in (
        (lan, i.lan, a.lan, MACS["router_lan"], a.router_lan),
        (rtr, i.router_lan, a.router_lan, MACS["lan"], a.lan),
        (rtr, i.router_wan, a.router_wan, MACS["dc"], a.dc),
        (dc, i.dc, a.dc, MACS["router_wan"], a.router_wan),
    ):
        lab.ip(ns, "addr", "add", f"{ip_}/24", "dev", dev)
        lab.ip(ns, "neigh", "replace", peer_ip, "lladdr", mac_peer, "dev", dev, "nud", "permanent")
    for ns, dev in ((lan, i.lan), (rtr, i.router_lan), (rtr, i.router_wan), (dc, i.dc)):
        lab.ip(ns, "link", "set", "dev", dev, "up")
    for dev in (i.imp_a, i.imp_b) if imp else ():
        lab.ip(imp, "link", "set", "dev", dev, "up")  # type: ignore[arg-type]
    lab.ip(lan, "route", "add", "default", "via", a.router_lan)
    lab.exec(rtr, ["sysctl", "-qw", "net.ipv4.ip_forward=1"])
    lab.nft(
        f"table ip netlab_nat {{\n chain post {{\n  type nat hook postrouting priority srcnat;\n"
        f'  oifname "{i.router_wan}" masquerade\n }}\n}}\n'
    )


def _veth(_lab: Lab, end1: tuple[str, str, str | None], end2: tuple[str, str, str | None]) -> None:
    """Create a veth pair directly inside two namespaces (never in the root one)."""
    (ns1, dev1, mac1), (ns2, dev2, mac2) = end1, end2
    args = ["link", "add", "name", dev1, "netns", ns1]
    args += ["address", mac1] if mac1 else []
    args += ["type", "veth", "peer", "name", dev2, "netns", ns2]
    args += ["address", mac2] if mac2 else []
    _run(["ip", *args])


def open_routed_lab(
    impair: str | None = None, *, seed: int = 1, workdir: Path | None = None
) -> RoutedLab:
    """Build the routed topology and return it; the caller must ``close()`` it (or use
    :func:`routed_lab`). Half-built labs are torn down before the error propagates."""
    lab_id = new_lab_id()
    lab = RoutedLab(id=lab_id, workdir=workdir or make_workdir(lab_id))
    try:
        _build_routed(lab, impaired=impair is not None)
        if impair is not None:
            lab.set_impairment(impair, seed=seed)
    except BaseException:
        lab.close()
        raise
    return lab


@contextlib.contextmanager
def routed_lab(
    impair: str | None = None, *, seed: int = 1, workdir: Path | None = None
) -> Iterator[RoutedLab]:
    """Build the routed topology; with ``impair`` (a spec string, "" = clean bridge) the
    lan link runs through the impairment bridge. Always torn down on exit."""
    lab = open_routed_lab(impair, seed=seed, workdir=workdir)
    try:
        yield lab
    finally:
        lab.close()


# ---------------------------------------------------------------------------------------
# Flat layer-2 segment
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class L2Names:
    """Namespaces of the flat segment: the agent, the switch, the gateway, a rogue host."""

    lan: str
    switch: str
    gw: str
    rogue: str


@dataclass(frozen=True)
class L2Addrs:
    lan: str | None = "192.168.77.10"
    switch: str = "192.168.77.2"  # switch management address (br0)
    gw: str = "192.168.77.1"  # gateway, default DHCP server
    rogue: str = "192.168.77.253"  # a second, unwanted DHCP server
    net: str = "192.168.77.0/24"


@dataclass(frozen=True)
class L2Ifaces:
    lan: str = "eth0"
    gw: str = "eth0"
    rogue: str = "eth0"
    bridge: str = "br0"
    switch_lan: str = "p-lan"  # the switch port the agent is plugged into
    switch_gw: str = "p-gw"
    switch_rogue: str = "p-rogue"


@dataclass
class L2Lab(Lab):
    """lan, gw and rogue plugged into one Linux bridge (no router hop)."""

    ns: L2Names = field(default_factory=lambda: L2Names("", "", "", ""))
    addr: L2Addrs = field(default_factory=L2Addrs)
    ifs: L2Ifaces = field(default_factory=L2Ifaces)
    kind: str = "l2"


def _build_l2(lab: L2Lab) -> None:
    i, a = lab.ifs, lab.addr
    lan, sw, gw, rogue = (lab.add_ns(s) for s in ("l2lan", "l2sw", "l2gw", "l2rg"))
    lab.ns = L2Names(lan, sw, gw, rogue)
    lab.ip(sw, "link", "add", i.bridge, "type", "bridge", "stp_state", "0", "forward_delay", "0")
    for ns, dev, port in (
        (lan, i.lan, i.switch_lan),
        (gw, i.gw, i.switch_gw),
        (rogue, i.rogue, i.switch_rogue),
    ):
        _veth(lab, (ns, dev, None), (sw, port, None))
        lab.ip(sw, "link", "set", "dev", port, "master", i.bridge, "up")
        lab.ip(ns, "link", "set", "dev", dev, "up")
    lab.ip(sw, "addr", "add", f"{a.switch}/24", "dev", i.bridge)
    lab.ip(sw, "link", "set", "dev", i.bridge, "up")
    for ns, dev, ip_ in ((lan, i.lan, a.lan), (gw, i.gw, a.gw), (rogue, i.rogue, a.rogue)):
        if ip_:
            lab.ip(ns, "addr", "add", f"{ip_}/24", "dev", dev)


def open_l2_lab(*, lan_addr: str | None = "192.168.77.10", workdir: Path | None = None) -> L2Lab:
    """Build the flat segment and return it; the caller must ``close()`` it."""
    lab_id = new_lab_id()
    lab = L2Lab(id=lab_id, workdir=workdir or make_workdir(lab_id), addr=L2Addrs(lan=lan_addr))
    try:
        _build_l2(lab)
    except BaseException:
        lab.close()
        raise
    return lab


@contextlib.contextmanager
def l2_lab(
    *, lan_addr: str | None = "192.168.77.10", workdir: Path | None = None
) -> Iterator[L2Lab]:
    """Build the flat segment; ``lan_addr=None`` leaves the agent unconfigured (a DHCP
    client's view). Always torn down on exit."""
    lab = open_l2_lab(lan_addr=lan_addr, workdir=workdir)
    try:
        yield lab
    finally:
        lab.close()


# ---------------------------------------------------------------------------------------
# Cleaning up after a lab whose owner is gone (python -m tests.netlab down)
# ---------------------------------------------------------------------------------------


def load_states() -> list[dict[str, object]]:
    """Every lab state file in /run/netlab."""
    out = []
    for path in sorted(STATE_DIR.glob("nc*.json")):
        with contextlib.suppress(OSError, json.JSONDecodeError):
            out.append(json.loads(path.read_text()))
    return out


def _pid_in_namespaces(pid: int, namespaces: Sequence[str]) -> bool:
    """True if ``pid`` runs in one of ``namespaces``: a recycled PID is never killed."""
    try:
        ino = os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return False
    for ns in namespaces:
        with contextlib.suppress(OSError):
            if os.stat(f"/run/netns/{ns}").st_ino == ino:
                return True
    return False


def teardown_state(state: dict[str, object]) -> None:
    """Stop the recorded PIDs (only if they live in the lab's namespaces), delete the
    namespaces, remove the state file."""
    namespaces = [str(n) for n in state.get("namespaces", [])]  # type: ignore[attr-defined]
    for pid in state.get("pids", []):  # type: ignore[attr-defined]
        if _pid_in_namespaces(int(pid), namespaces):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGTERM)
    time.sleep(0.3)
    for pid in state.get("pids", []):  # type: ignore[attr-defined]
        if _pid_in_namespaces(int(pid), namespaces):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
    for ns in namespaces:
        if ns in list_netns():
            _run(["ip", "netns", "del", ns], check=False)
    (STATE_DIR / f"{state['id']}.json").unlink(missing_ok=True)


def owner_alive(state: dict[str, object]) -> bool:
    """Whether the process that built the lab still runs."""
    return Path(f"/proc/{state.get('owner_pid')}").exists()
