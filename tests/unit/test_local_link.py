"""local_link parsers on real file formats, and its judgements on measured values."""

from __future__ import annotations

from netcheck.evaluate import local_link as judge
from netcheck.probes import local_link
from netcheck.result import Measurement, Status

# /proc/net/wireless of a laptop (iwlwifi) and /proc/net/dev, /proc/net/vlan/config layouts
WIRELESS = """Inter-| sta-|   Quality        |   Discarded packets               | Missed | WE
 face | tus | link level noise |  nwid  crypt   frag  retry   misc | beacon | 22
wlp2s0: 0000   41.  -69.  -256        0      0      0      0    412        0
"""
DEV = (
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast"
    "|bytes    packets errs drop fifo colls carrier compressed\n"
    "    lo: 879833661 9774080    0    0    0     0          0         0"
    " 879833661 9774080    0    0    0     0       0          0\n"
    "  eth0: 123456 789 12 0 0 9 0 0 654321 987 3 0 0 41 2 0\n"
)
VLANS = """VLAN Dev name	 | VLAN ID
Name-Type: VLAN_NAME_TYPE_RAW_PLUS_VID_NO_PAD
eth0.100       | 100  | eth0
"""


def test_parsers() -> None:
    assert local_link.parse_proc_wireless(WIRELESS) == {
        "wlp2s0": {"link_quality": 41.0, "signal_dbm": -69.0, "noise_dbm": None}}
    assert local_link.parse_proc_dev(DEV, "eth0") == {
        "rx_errors": 12, "rx_frame": 9, "tx_errors": 3, "tx_colls": 41, "tx_carrier": 2}
    assert local_link.parse_proc_dev(DEV, "eth1") is None
    assert local_link.parse_vlan_config(VLANS, "eth0.100") == 100
    assert local_link.parse_vlan_config(VLANS, "eth0") is None
    assert local_link.parse_proc_wireless("garbage\n\nno colon here") == {}


def _m(**values: object) -> Measurement:
    return Measurement(id="local_link", probe="local_link", target="wlp2s0", method="procfs",
                       started_utc="2026-01-01T00:00:00.000Z", duration_s=1.0, values=values)  # type: ignore[arg-type]


def test_wifi_below_the_voice_minimum() -> None:
    c = judge.wifi_check(_m(type="wifi", signal_dbm=-69.0))
    assert c.status is Status.WARN and "-69 dBm" in c.reason and "below the -67 dBm" in c.reason
    assert c.remediation is not None and c.remediation.key == "link_wifi"
    assert "below" not in judge.wifi_check(_m(type="wifi", signal_dbm=-60.0)).reason


def test_duplex_mismatch_symptoms_and_half_duplex() -> None:
    grew = _m(duplex="full", sample_s=2.0, counters_delta={"rx_frame": 9, "tx_colls": 0, "tx_carrier": 0,
                                                            "rx_errors": 9, "tx_errors": 0})
    c = judge.duplex_check(grew)
    assert c.status is Status.WARN and "9 receive frame errors in 2 s" in c.reason
    half = judge.duplex_check(_m(duplex="half", sample_s=2.0, counters_delta=None))
    assert half.status is Status.WARN and "half duplex" in half.reason
    assert judge.duplex_check(_m(duplex=None, counters_delta=None)).status is Status.NOT_MEASURED
    quiet = dict.fromkeys(("rx_frame", "tx_colls", "tx_carrier"), 0)
    unknown = judge.duplex_check(_m(duplex=None, sample_s=2.0, counters_delta=quiet))
    assert unknown.status is Status.NOT_MEASURED and "does not report duplex" in unknown.reason


def test_outside_the_voice_vlan_dhcp_subnet() -> None:
    own = _m(vlan=None, ipv4_networks=["192.168.77.10/24"])
    offer = Measurement(id="dhcp:vlan100", probe="dhcp", target="eth0", method="raw", started_utc="x",
                        duration_s=1.0, values={"offers": [{"yiaddr": "10.100.0.50", "subnet_mask": "255.255.255.0"}]})
    c = judge.voice_segment_check(own, {"dhcp:vlan100": offer})
    assert c is not None and c.status is Status.WARN and "10.100.0.0/24" in c.reason
    assert judge.voice_segment_check(own, {}) is None  # the phones' segment unknown: no claim


def test_in_the_voice_vlan() -> None:
    lldp = Measurement(id="lldp", probe="lldp", target="eth0", method="raw", started_utc="x", duration_s=1.0,
                       values={"voice_vlan": 100})
    c = judge.voice_segment_check(_m(vlan=100, ipv4_networks=["10.100.0.7/24"]), {"lldp": lldp})
    assert c is not None and c.status is Status.PASS
