"""The field-mode lab: a site behind NAT, one ISP router, and a provider with only its own
servers (no netcheck responder).

::

    [lan] eth0 10.77.1.2 ── (impair bridge in [imp], or a plain veth) ── lan0 10.77.1.1 [rtr]
    [rtr] wan0 198.18.0.1  (nftables masquerade; firewall, SIP ALG, tbf as in RoutedLab)
    [isp] eth0 198.18.0.254 | eth1 198.19.0.1      the first router outside the site
    [dc]  eth0 198.19.0.2                          the provider: coturn (STUN/TURN UDP+TCP
                                                   3478), kamailio (SIP OPTIONS, UDP+TCP
                                                   5060), TLS listeners, ICMP on or dropped

The ISP hop is what the TTL site-egress test needs: a router one hop beyond the site edge
that answers with ICMP Time Exceeded. It reuses :class:`~tests.netlab.lab.RoutedLab` (its
``ns.dc`` is the provider, ``ns.rtr`` the site router), so the router policy helpers
(``router_firewall``, ``sip_alg``, ``rate_limit``, ``set_impairment``) work unchanged.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.netlab.lab import (
    LabError,
    Proc,
    RoutedAddrs,
    RoutedLab,
    RoutedNames,
    _veth,
    disable_offloads,
    make_workdir,
    new_lab_id,
)
from tests.netlab.peers import need, stun_query

ISP_WAN = "198.18.0.254"
ISP_DC = "198.19.0.1"
DC = "198.19.0.2"
TLS_PORTS = (443, 636, 1300, 4443, 8443, 8636)

KAMAILIO_CFG = """#!KAMAILIO
debug=1
dns=no
rev_dns=no
dns_try_ipv6=no
log_stderror=yes
children=1
tcp_children=1
listen=udp:{addr}:5060
listen=tcp:{addr}:5060
mpath="{mpath}"
loadmodule "sl.so"
request_route {{
    if (method=="OPTIONS") {{
        sl_send_reply("200", "OK");
        exit;
    }}
    sl_send_reply("501", "Not Implemented");
}}
"""


@dataclass
class FieldLab(RoutedLab):
    """RoutedLab with an ISP router between the site router and the provider."""

    isp: str = ""
    peers: dict[str, Proc] = field(default_factory=dict)
    kind: str = "field"

    def drop_icmp_echo(self, enabled: bool) -> None:
        """The provider drops ICMP echo requests (as many SBCs do), or answers them."""
        body = ("  chain input {\n    type filter hook input priority filter;\n"
                "    icmp type echo-request drop\n  }") if enabled else ""
        self.exec(self.ns.dc, ["nft", "-f", "-"],
                  input=f"table inet field_icmp {{}}\ndelete table inet field_icmp\n"
                  f"table inet field_icmp {{\n{body}\n}}\n")

    def start_provider(self) -> None:
        """coturn on 3478, kamailio on 5060, TLS listeners on the stimme ports."""
        self.peers["coturn"] = _coturn(self)
        self.peers["kamailio"] = _kamailio(self)
        self.peers["tls"] = _tls(self)


def _build(lab: FieldLab, impaired: bool, isp_hop: bool) -> None:
    i, a = lab.ifs, lab.addr
    lan, rtr, dc = (lab.add_ns(s) for s in ("lan", "rtr", "dc"))
    isp = lab.add_ns("isp") if isp_hop else ""
    imp = lab.add_ns("imp") if impaired else None
    lab.ns, lab.isp = RoutedNames(lan, rtr, dc, imp), isp
    if imp:
        _veth(lab, (lan, i.lan, None), (imp, i.imp_a, None))
        _veth(lab, (imp, i.imp_b, None), (rtr, i.router_lan, None))
        for ns, dev in ((lan, i.lan), (rtr, i.router_lan), (imp, i.imp_a), (imp, i.imp_b)):
            disable_offloads(lab, ns, dev)
        for dev in (i.imp_a, i.imp_b):
            lab.ip(imp, "link", "set", "dev", dev, "up")
    else:
        _veth(lab, (lan, i.lan, None), (rtr, i.router_lan, None))
    links = [(lan, i.lan, f"{a.lan}/24"), (rtr, i.router_lan, f"{a.router_lan}/24"),
             (rtr, i.router_wan, f"{a.router_wan}/24"), (dc, i.dc, f"{a.dc}/24")]
    if isp_hop:
        _veth(lab, (rtr, i.router_wan, None), (isp, "eth0", None))
        _veth(lab, (isp, "eth1", None), (dc, i.dc, None))
        links += [(isp, "eth0", f"{ISP_WAN}/24"), (isp, "eth1", f"{ISP_DC}/24")]
    else:  # the routed lab's shape: the provider right behind the site router
        _veth(lab, (rtr, i.router_wan, None), (dc, i.dc, None))
    for ns, dev, cidr in links:
        lab.ip(ns, "addr", "add", cidr, "dev", dev)
        lab.ip(ns, "link", "set", "dev", dev, "up")
    lab.ip(lan, "route", "add", "default", "via", a.router_lan)
    if isp_hop:  # without it, as in the routed lab: nothing beyond (a DNS query fails fast)
        lab.ip(rtr, "route", "add", "default", "via", ISP_WAN)
    lab.ip(dc, "route", "add", "default", "via", ISP_DC if isp_hop else a.router_wan)
    for ns in (rtr, isp) if isp_hop else (rtr,):
        lab.exec(ns, ["sysctl", "-qw", "net.ipv4.ip_forward=1"])
    lab.nft(f'table ip netlab_nat {{\n chain post {{\n  type nat hook postrouting priority srcnat;\n'
            f'  oifname "{i.router_wan}" masquerade\n }}\n}}\n')


def _coturn(lab: FieldLab) -> Proc:
    turnserver = need("turnserver", "the Debian package coturn")
    dc = lab.addr.dc
    argv = [turnserver, "-n", "--no-cli", "--no-tls", "--no-dtls", "--listening-ip", dc,
            "--listening-port", "3478", "--relay-ip", dc, "--min-port", "40000", "--max-port", "40050",
            "--realm", "netlab", "--lt-cred-mech", "--user", "netlab:netlab", "--fingerprint",
            "--log-file", "stdout", "--simple-log", "--userdb", str(lab.workdir / "turndb"),
            "--pidfile", str(lab.workdir / "turnserver.pid")]
    proc = lab.popen(lab.ns.dc, argv, name="coturn")
    deadline_tries = 100
    for _ in range(deadline_tries):
        if stun_query(lab.ns.dc, dc, 3478, 0.2) is not None:
            return proc
        if proc.popen.poll() is not None:
            break
    raise LabError(f"coturn did not answer STUN: {proc.output()[-1500:]}")


def _kamailio(lab: FieldLab) -> Proc:
    kamailio = need("kamailio", "the Debian package kamailio")
    mpath = next((str(p) for p in Path("/usr/lib").glob("*/kamailio/modules") if (p / "sl.so").exists()),
                 "/usr/lib/x86_64-linux-gnu/kamailio/modules")
    cfg = lab.workdir / "kamailio.cfg"
    cfg.write_text(KAMAILIO_CFG.format(addr=lab.addr.dc, mpath=mpath + "/"))
    rundir = lab.workdir / "kamailio-run"
    rundir.mkdir(exist_ok=True)
    argv = [kamailio, "-f", str(cfg), "-DD", "-E", "-m", "32", "-M", "4", "-Y", str(rundir),
            "-P", str(rundir / "kamailio.pid")]
    proc = lab.popen(lab.ns.dc, argv, name="kamailio")
    lab.wait_for_port(lab.ns.dc, 5060, "udp", timeout=10.0, proc=proc)
    lab.wait_for_port(lab.ns.dc, 5060, "tcp", timeout=10.0, proc=proc)
    return proc


def _tls(lab: FieldLab, ports: Sequence[int] = TLS_PORTS) -> Proc:
    """A self-signed certificate (openssl) served on every port by Python's ssl module."""
    key, cert = lab.workdir / "tls.key", lab.workdir / "tls.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/O=netlab provider/CN=provider.netlab", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True, timeout=30)
    argv = [sys.executable, "-m", "tests.netlab.tls_listen", lab.addr.dc, str(cert), str(key),
            *(str(p) for p in ports)]
    proc = lab.popen(lab.ns.dc, argv, name="tls")
    for port in ports:
        lab.wait_for_port(lab.ns.dc, port, "tcp", timeout=10.0, proc=proc)
    return proc


def open_field_lab(impair: str | None = None, *, seed: int = 1, isp_hop: bool = True) -> FieldLab:
    """Build it; ``isp_hop=False`` puts the provider right behind the site router (the
    routed lab's shape, provider at 198.18.0.2): the TTL test then reaches the provider."""
    lab_id = new_lab_id()
    addr = RoutedAddrs(dc=DC, wan_net="198.19.0.0/24") if isp_hop else RoutedAddrs()
    lab = FieldLab(id=lab_id, workdir=make_workdir(lab_id), addr=addr)
    try:
        _build(lab, impaired=impair is not None, isp_hop=isp_hop)
        if impair is not None:
            lab.set_impairment(impair, seed=seed)
        lab.start_provider()
    except BaseException:
        lab.close()
        raise
    return lab


@contextlib.contextmanager
def field_lab(impair: str | None = None, *, seed: int = 1, isp_hop: bool = True) -> Iterator[FieldLab]:
    """Build the field lab (``impair`` "" = clean impairment bridge); torn down on exit."""
    lab = open_field_lab(impair, seed=seed, isp_hop=isp_hop)
    try:
        yield lab
    finally:
        lab.close()
