"""Real protocol peers started inside lab namespaces.

Each ``start_*`` function binds the peer to a namespace address and a port chosen free at
run time, waits until it answers (a protocol exchange where one is cheap, else the
listening socket), and returns a handle whose process the lab stops by PID at teardown.
Debian packages: coturn, iperf3, dnsmasq, lldpd, snmp; PyPI: snmpsim + pysmi.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import struct
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.netlab.lab import Lab, LabError, Proc
from tests.netlab.netns import run_in_netns

STUN_MAGIC = 0x2112A442


@dataclass(frozen=True)
class Peer:
    """A running peer: where it listens and its process."""

    ns: str
    addr: str
    port: int
    proc: Proc


def need(tool: str, package: str) -> str:
    """Path of ``tool`` or a LabError naming the Debian/PyPI package to install. The running
    interpreter's own script directory is searched first: a venv's console scripts (snmpsim)
    are there even when the venv is not activated (``.venv/bin/python -m pytest``)."""
    path = shutil.which(tool, path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    if path is None:
        raise LabError(f"`{tool}` not found: install {package}")
    return path


# -- STUN (sans-I/O bits needed to probe coturn) -------------------------------------------


def stun_binding_request() -> tuple[bytes, bytes]:
    """RFC 5389 Binding request (no attributes) and its transaction id."""
    txid = secrets.token_bytes(12)
    return struct.pack("!HHI", 0x0001, 0, STUN_MAGIC) + txid, txid


def stun_mapped_address(msg: bytes, txid: bytes) -> tuple[str, int] | None:
    """XOR-MAPPED-ADDRESS (IPv4) of a Binding success response, else None."""
    if len(msg) < 20 or msg[8:20] != txid or struct.unpack("!H", msg[:2])[0] != 0x0101:
        return None
    pos = 20
    while pos + 4 <= len(msg):
        atype, alen = struct.unpack("!HH", msg[pos : pos + 4])
        val = msg[pos + 4 : pos + 4 + alen]
        if atype == 0x0020 and alen >= 8 and val[1] == 0x01:
            port = struct.unpack("!H", val[2:4])[0] ^ (STUN_MAGIC >> 16)
            ip = struct.unpack("!I", val[4:8])[0] ^ STUN_MAGIC
            return socket.inet_ntoa(struct.pack("!I", ip)), port
        pos += 4 + alen + (-alen % 4)
    return None


def stun_query(ns: str, server: str, port: int, timeout: float = 1.0) -> tuple[str, int] | None:
    """Send one Binding request from namespace ``ns``; the mapped address or None."""

    def query() -> tuple[str, int] | None:
        req, txid = stun_binding_request()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            s.sendto(req, (server, port))
            try:
                return stun_mapped_address(s.recv(2048), txid)
            except TimeoutError:
                return None

    return run_in_netns(ns, query)


def start_coturn(
    lab: Lab, ns: str, addr: str, *, user: str = "netlab", password: str = "netlab"
) -> Peer:
    """coturn (STUN + TURN, UDP and TCP) with long-term credentials ``user:password``."""
    turnserver = need("turnserver", "the Debian package coturn")
    port = lab.free_port(ns, "udp", addr)
    relay_lo = lab.free_port(ns, "udp", addr)
    argv = [
        turnserver,
        "-n",
        "--no-cli",
        "--no-tls",
        "--no-dtls",
        "--listening-ip",
        addr,
        "--listening-port",
        str(port),
        "--relay-ip",
        addr,
        "--min-port",
        str(relay_lo),
        "--max-port",
        str(min(relay_lo + 50, 65535)),
        "--realm",
        "netlab",
        "--lt-cred-mech",
        "--user",
        f"{user}:{password}",
        "--fingerprint",
        "--log-file",
        "stdout",
        "--simple-log",
        "--userdb",
        str(lab.workdir / "turndb"),
        "--pidfile",
        str(lab.workdir / "turnserver.pid"),
    ]
    proc = lab.popen(ns, argv, name="coturn")
    _wait_until(lambda: stun_query(ns, addr, port, 0.2) is not None, proc, "coturn STUN")
    return Peer(ns, addr, port, proc)


def start_iperf3(lab: Lab, ns: str, addr: str) -> Peer:
    """iperf3 server (control on TCP ``port``; UDP tests use the same port)."""
    iperf3 = need("iperf3", "the Debian package iperf3")
    port = lab.free_port(ns, "tcp", addr)
    proc = lab.popen(ns, [iperf3, "-s", "-B", addr, "-p", str(port)], name="iperf3")
    lab.wait_for_port(ns, port, "tcp", proc=proc)
    return Peer(ns, addr, port, proc)


# -- SNMP -------------------------------------------------------------------------------


def snmpsim_command() -> list[str]:
    """How to start snmpsim: ``$NETLAB_SNMPSIM`` (a command responder path, e.g. in its own
    venv where pysnmp is pinned to a version snmpsim works with), else PATH."""
    env = os.environ.get("NETLAB_SNMPSIM")
    if env:
        return [env]
    return [need("snmpsim-command-responder", "PyPI snmpsim + pysmi")]


def start_snmpsim(lab: Lab, ns: str, addr: str, recordings: Iterable[Path]) -> Peer:
    """snmpsim serving copies of ``recordings`` (community = file stem)."""
    data = lab.workdir / f"snmp-data-{secrets.token_hex(2)}"
    cache = data.with_name(data.name + "-cache")
    data.mkdir()
    cache.mkdir()
    names = []
    for rec in recordings:
        shutil.copyfile(rec, data / rec.name)
        names.append(rec.stem)
    if not names:
        raise LabError("start_snmpsim needs at least one .snmprec file")
    port = lab.free_port(ns, "udp", addr)
    argv = [
        *snmpsim_command(),
        f"--data-dir={data}",
        f"--cache-dir={cache}",
        f"--agent-udpv4-endpoint={addr}:{port}",
    ]
    proc = lab.popen(ns, argv, name="snmpsim", env={"SNMPSIM_ALLOW_ROOT": "true"})
    get = [
        need("snmpget", "the Debian package snmp"),
        "-v2c",
        "-c",
        names[0],
        "-t",
        "0.5",
        "-r",
        "0",
        f"{addr}:{port}",
        "1.3.6.1.2.1.1.1.0",
    ]
    _wait_until(
        lambda: lab.exec(ns, get, check=False).returncode == 0, proc, "snmpsim", timeout=60.0
    )
    return Peer(ns, addr, port, proc)


# -- DHCP and LLDP on the flat segment ----------------------------------------------------

VOIP_DHCP_OPTIONS: Mapping[int, str] = {
    66: '"http://192.168.77.1/prov"',  # TFTP server name (provisioning URL)
    150: "192.168.77.1",  # Cisco TFTP server address
    43: "01:04:c0:a8:4d:01",  # vendor specific (hex)
    120: "00:07:65:78:61:6d:70:6c:65:03:63:6f:6d:00",  # RFC 3361 SIP server (enc 0, example.com)
}


def start_dnsmasq(
    lab: Lab,
    ns: str,
    iface: str,
    *,
    pool: tuple[str, str],
    options: Mapping[int, str] = {},
    router: str | None = None,
    lease: str = "10m",
    ping: bool = False,
) -> Peer:
    """dnsmasq as a DHCP server only (DNS off) on ``iface``; ``options`` are raw dnsmasq
    ``--dhcp-option`` values keyed by option number. ``ping`` keeps dnsmasq's default check
    that an address is unused before offering it (an ICMP echo and a 3 s wait), which the
    lab otherwise turns off for speed (``--no-ping``)."""
    dnsmasq = need("dnsmasq", "the Debian package dnsmasq")
    tag = secrets.token_hex(2)
    argv = [
        dnsmasq,
        "-k",
        "--conf-file=/dev/null",
        "--port=0",
        f"--interface={iface}",
        "--bind-interfaces",
        f"--dhcp-range={pool[0]},{pool[1]},255.255.255.0,{lease}",
        f"--dhcp-leasefile={lab.workdir / f'leases-{tag}'}",
        f"--pid-file={lab.workdir / f'dnsmasq-{tag}.pid'}",
        "--user=root",
        "--log-dhcp", *([] if ping else ["--no-ping"]),
        "--log-facility=-",
        "--dhcp-authoritative",
    ]
    if router:
        argv.append(f"--dhcp-option=3,{router}")
    # -force: send them even when the client did not ask (option 55), as a misconfigured
    # server would; dnsmasq otherwise moves option 66 into the BOOTP sname field.
    argv += [f"--dhcp-option-force={num},{val}" for num, val in options.items()]
    proc = lab.popen(ns, argv, name="dnsmasq")
    lab.wait_for_port(ns, 67, "udp", proc=proc)
    return Peer(ns, pool[0], 67, proc)


def start_lldpd(
    lab: Lab,
    ns: str,
    iface: str,
    *,
    vlan: int = 100,
    dscp: int = 46,
    priority: str = "voice",
    hostname: str = "netlab-switch",
    tx_interval_s: int = 1,
) -> Peer:
    """lldpd announcing LLDP-MED (class 4, network connectivity device) with a voice
    network policy (VLAN, 802.1p priority, DSCP) on ``iface`` every ``tx_interval_s``."""
    lldpd = need("lldpd", "the Debian package lldpd")
    lldpcli = need("lldpcli", "the Debian package lldpd")
    sock = lab.workdir / f"lldpd-{secrets.token_hex(2)}.sock"
    conf = sock.with_suffix(".conf")
    conf.write_text(
        f"configure system hostname {hostname}\n"
        f"configure lldp tx-interval {tx_interval_s}\n"
        f"configure med policy application voice vlan {vlan} priority {priority} dscp {dscp}\n"
    )
    argv = [lldpd, "-d", "-u", str(sock), "-I", iface, "-M", "4", "-L", lldpcli, "-O", str(conf)]
    proc = lab.popen(ns, argv, name="lldpd")
    show = [lldpcli, "-u", str(sock), "show", "configuration"]
    _wait_until(lambda: lab.exec(ns, show, check=False).returncode == 0, proc, "lldpd")
    return Peer(ns, "", 0, proc)


def _wait_until(ok: object, proc: Proc, what: str, timeout: float = 15.0) -> None:
    """Poll ``ok()`` until true; fail with the peer's output if it died or timed out."""
    assert callable(ok)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise LabError(f"{what} exited ({proc.popen.returncode}): {proc.output()[-2000:]}")
        if ok():
            return
        time.sleep(0.1)
    raise LabError(f"{what} did not answer within {timeout}s: {proc.output()[-2000:]}")
