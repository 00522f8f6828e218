"""A DHCP lease the machine holds is evidence of a DHCP server on its LAN (issue 14): the
DHCP check never FAILs "no DHCP server" while the interface holds one. Lease formats from
dhclient.leases(5) and systemd-networkd's lease files; DHCP timing from RFC 2131 4.1."""

from __future__ import annotations

import datetime as dt
import socket
from pathlib import Path

from netcheck import profile as prof
from netcheck import waits
from netcheck.evaluate import lan_local
from netcheck.probes import dhcp
from netcheck.probes._dhcp_lease import find_lease, parse_dhclient, parse_networkd
from netcheck.result import Measurement, Site, Status

DHCLIENT = """
lease {
  interface "eth0";
  fixed-address 192.168.1.57;
  option subnet-mask 255.255.255.0;
  option routers 192.168.1.1;
  option dhcp-server-identifier 192.168.1.1;
  renew 1 2026/11/30 09:00:00;
  expire 1 2026/11/30 12:00:00;
}
lease {
  interface "wlan0";
  fixed-address 10.0.0.9;
  option dhcp-server-identifier 10.0.0.1;
  expire 1 2026/11/30 12:00:00;
}
lease {
  interface "eth0";
  fixed-address 192.168.1.42;
  option dhcp-server-identifier 192.168.1.1;
  expire 5 2026/11/27 08:00:00;
}
"""
NOW = dt.datetime(2026, 11, 30, 10, 0, tzinfo=dt.UTC)


def test_dhclient_leases_of_the_interface_that_have_not_expired() -> None:
    leases = parse_dhclient(DHCLIENT, "dhclient.leases", "eth0", now=NOW)
    assert [(x.address, x.server) for x in leases] == [("192.168.1.57", "192.168.1.1")]


def test_networkd_lease() -> None:
    text = "# This is private data. Do not parse.\nADDRESS=192.168.77.120\nSERVER_ADDRESS=192.168.77.1\n"
    (lease,) = parse_networkd(text, "/run/systemd/netif/leases/2", "eth0")
    assert (lease.address, lease.server) == ("192.168.77.120", "192.168.77.1")


def test_find_lease_needs_an_address_the_interface_still_has(tmp_path: Path) -> None:
    index = socket.if_nametoindex("lo")
    leases = tmp_path / "run/systemd/netif/leases"
    leases.mkdir(parents=True)
    (leases / str(index)).write_text("ADDRESS=127.0.0.1\nSERVER_ADDRESS=127.0.0.53\n")
    found = find_lease("lo", {"127.0.0.1"}, root=tmp_path)
    assert found.known and found.lease is not None and found.lease.server == "127.0.0.53"
    assert find_lease("lo", {"127.0.0.2"}, root=tmp_path).lease is None  # old lease, address gone


def _dhcp_m(lease: dict[str, str] | None, known: bool = True) -> Measurement:
    values = {"interface": "eth0", "wait_s": 6.0, "offer_count": 0, "servers": [], "offers": [],
              "lease": lease, "lease_known": known}
    return Measurement(id="dhcp", probe="dhcp", target="eth0", method="dhcp-discover",
                       started_utc="2026-01-01T00:00:00Z", duration_s=6.0, values=values)


def _judge(m: Measurement) -> lan_local.Check:
    p = prof.load("managed-com-business")
    return next(c for c in lan_local.checks(p, {m.id: m}, Site()) if c.id == "lan.dhcp")


def test_no_offer_but_a_lease_is_not_a_fail() -> None:
    check = _judge(_dhcp_m({"address": "192.168.1.57", "server": "192.168.1.1", "source": "x.lease"}))
    assert check.status is Status.NOT_MEASURED and check.required
    assert "holds a DHCP lease for 192.168.1.57 from 192.168.1.1" in check.reason
    assert check.remediation is not None and "--dhcp-wait" in check.remediation.text


def test_no_offer_and_no_lease_fails_and_says_when_leases_are_unreadable() -> None:
    assert _judge(_dhcp_m(None)).status is Status.FAIL
    unknown = _judge(_dhcp_m(None, known=False))
    assert unknown.status is Status.FAIL and "cannot be read on this OS" in unknown.reason


def test_default_wait_covers_rfc2131_retransmission_and_a_ping_check() -> None:
    """RFC 2131 4.1: first retransmission after 4 s; dnsmasq offers 3 s after a DISCOVER."""
    assert waits.DHCP_WAIT_S >= 6.0 and dhcp.Spec().wait_s == waits.DHCP_WAIT_S
    assert dhcp.retransmit_after_s(waits.DHCP_WAIT_S) == 4.0
    assert dhcp.retransmit_after_s(1.0) == 0.5
