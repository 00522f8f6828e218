"""pytest fixtures of the namespace lab. Enable with, in ``tests/conftest.py``::

    pytest_plugins = ["tests.netlab.fixtures"]

Every fixture skips (one-line reason) when the lab cannot run here: not root, or no
``ip netns``. Topologies are function-scoped (building one takes ~0.3 s) so a test's
router policy never leaks into the next; teardown stops peers by PID and deletes the
namespaces even when the test fails.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.netlab import peers
from tests.netlab.lab import L2Lab, RoutedLab, l2_lab, lab_support, routed_lab
from tests.netlab.peers import Peer
from tests.snmprec import LIBRENMS as SNMP_RECORDINGS


@functools.cache
def _skip_reason() -> str | None:
    return lab_support()


def require_netlab() -> None:
    """Skip the calling test when namespaces / root are not available."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)


@pytest.fixture
def netlab() -> Iterator[RoutedLab]:
    """Routed topology lan -> router (NAT) -> dc over a plain veth (no impairment)."""
    require_netlab()
    with routed_lab() as lab:
        yield lab


@pytest.fixture
def netlab_impaired() -> Iterator[Callable[..., RoutedLab]]:
    """Factory: ``netlab_impaired("delay=30ms loss=1%", seed=7)`` -> routed lab whose lan
    link runs through the impairment bridge; ``lab.truth_records()`` gives ground truth."""
    require_netlab()
    with contextlib.ExitStack() as stack:

        def make(spec: str = "", seed: int = 1) -> RoutedLab:
            return stack.enter_context(routed_lab(spec, seed=seed))

        yield make


@pytest.fixture
def netlab_l2() -> Iterator[L2Lab]:
    """Flat segment: lan, gw, rogue on one bridge (switch mgmt on br0)."""
    require_netlab()
    with l2_lab() as lab:
        yield lab


@pytest.fixture
def coturn(netlab: RoutedLab) -> Peer:
    """coturn in dc (user/password netlab:netlab); STUN from lan sees the router's
    masqueraded address ``netlab.addr.router_wan``."""
    return peers.start_coturn(netlab, netlab.ns.dc, netlab.addr.dc)


@pytest.fixture
def iperf3_server(netlab: RoutedLab) -> Peer:
    """iperf3 server in dc."""
    return peers.start_iperf3(netlab, netlab.ns.dc, netlab.addr.dc)


@pytest.fixture
def snmpsim(netlab: RoutedLab) -> Callable[..., Peer]:
    """Factory: ``snmpsim("ios_2960x", Path("my.snmprec"))`` -> snmpsim in dc serving
    copies of those recordings (bare names come from tests/data/snmp/librenms);
    community = file stem."""

    def start(*recordings: str | Path) -> Peer:
        files = [r if isinstance(r, Path) else SNMP_RECORDINGS / f"{r}.snmprec" for r in recordings]
        missing = [str(f) for f in files if not f.exists()]
        if missing:
            pytest.fail(f"SNMP recordings missing from the repository: {', '.join(missing)}")
        return peers.start_snmpsim(netlab, netlab.ns.dc, netlab.addr.dc, files)

    return start


@pytest.fixture
def dnsmasq_dhcp(netlab_l2: L2Lab) -> Callable[..., Peer]:
    """Factory: ``dnsmasq_dhcp(options=peers.VOIP_DHCP_OPTIONS)`` starts the gateway's
    DHCP server (pool .100-.150, router = gw); ``dnsmasq_dhcp(rogue=True)`` a second one
    on the rogue host (pool .200-.220, router = rogue)."""

    def start(options: dict[int, str] | None = None, *, rogue: bool = False, ping: bool = False) -> Peer:
        lab = netlab_l2
        if rogue:
            return peers.start_dnsmasq(
                lab,
                lab.ns.rogue,
                lab.ifs.rogue,
                pool=("192.168.77.200", "192.168.77.220"),
                options=options or {},
                router=lab.addr.rogue,
            )
        return peers.start_dnsmasq(
            lab,
            lab.ns.gw,
            lab.ifs.gw,
            pool=("192.168.77.100", "192.168.77.150"),
            options=options or {},
            router=lab.addr.gw,
            ping=ping,
        )

    return start


@pytest.fixture
def lldpd_med(netlab_l2: L2Lab) -> Callable[..., Peer]:
    """Factory: ``lldpd_med(vlan=100, dscp=46)`` -> lldpd on the switch port facing lan,
    announcing LLDP-MED network policy every second."""

    def start(**kwargs: object) -> Peer:
        return peers.start_lldpd(netlab_l2, netlab_l2.ns.switch, netlab_l2.ifs.switch_lan, **kwargs)  # type: ignore[arg-type]

    return start
