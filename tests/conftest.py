"""Suite-wide fixtures: the namespace lab's fixtures, and a traffic guard.

The guard enforces the lab rule "traffic only to loopback or to namespaces we created"
inside the test process: a socket that tries to reach any other address fails with a
PermissionError (which the probes report as a local block), so a mistake in a test — say a
shipped profile run without overriding its real internet targets — shows up as a failing
test instead of as traffic to somebody's network.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["tests.netlab.fixtures", "tests.alone"]

#: Loopback, and the address plan of tests/netlab (lan 10.77/16, wan 198.18/15 RFC 2544,
#: flat L2 192.168.77/24; the multi-hop lab's IPv6 fd77::/16 ULA and 2001:db8::/32, the RFC 3849
#: documentation prefix), plus broadcast/multicast that stays on a lab segment.
ALLOWED = [ipaddress.ip_network(n) for n in (
    "127.0.0.0/8", "::1/128", "10.77.0.0/16", "198.18.0.0/15", "192.168.77.0/24",
    "255.255.255.255/32", "224.0.0.0/4", "0.0.0.0/32", "::/128", "ff00::/8", "fd77::/16", "2001:db8::/32",
)]


def _allowed(address: Any) -> bool:
    if not isinstance(address, tuple) or not address or not isinstance(address[0], str):
        return True  # AF_UNIX, AF_PACKET, netlink: not IP traffic
    host = address[0].split("%")[0]
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False  # an unresolved name here would mean a lookup elsewhere
    return any(ip in net for net in ALLOWED if net.version == ip.version)


def _guard(method: Any, addr_index: int) -> Any:
    def guarded(self: socket.socket, *args: Any) -> Any:
        address = args[addr_index] if len(args) > addr_index else None
        if address is not None and not _allowed(address):
            raise PermissionError(13, f"test traffic guard: {address!r} is outside the lab")
        return method(self, *args)

    return guarded


@pytest.fixture(autouse=True, scope="session")
def traffic_guard() -> Iterator[None]:
    originals = {name: getattr(socket.socket, name) for name in ("connect", "connect_ex", "sendto")}
    socket.socket.connect = _guard(originals["connect"], 0)  # type: ignore[method-assign]
    socket.socket.connect_ex = _guard(originals["connect_ex"], 0)  # type: ignore[method-assign]
    socket.socket.sendto = _guard(originals["sendto"], -1)  # type: ignore[method-assign]
    try:
        yield
    finally:
        for name, fn in originals.items():
            setattr(socket.socket, name, fn)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """``netcheck run --profile demo --quick`` as a user types it (its own process, default
    formats json + html), run once per test session and shared by every test that
    reads its output: the whole pipeline on loopback costs ~10 s."""
    out = tmp_path_factory.mktemp("demo")
    argv = [sys.executable, "-m", "netcheck", "run", "--profile", "demo", "--quick", "--customer", "ACME GmbH",
            "--site", "Berlin", "--extensions", "12", "--out", str(out)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=180), out


#: Tests that also run on Windows and macOS (.github/workflows/portable.yml runs
#: ``pytest -m portable`` there): pure codecs and models, and the demo assessment end to end.
PORTABLE = (
    "tests/unit/test_platform.py", "tests/unit/test_stamp_wire.py", "tests/unit/test_stun_wire.py",
    "tests/unit/test_sip_wire.py", "tests/unit/test_emodel.py", "tests/unit/test_stats.py",
    "tests/unit/test_stream_analysis.py", "tests/unit/test_stamp_fast.py", "tests/unit/test_lldp_wire.py",
    "tests/unit/test_dhcp_wire.py", "tests/unit/test_profile.py", "tests/unit/test_evaluate.py",
    "tests/integration/test_cli.py::test_demo_runs_the_whole_pipeline_to_go",
)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """With NETCHECK_PORTABLE_ONLY=1 (the Windows/macOS workflow) only the PORTABLE modules
    are imported: the others may import Linux-only modules at collection time."""
    if not os.environ.get("NETCHECK_PORTABLE_ONLY") or collection_path.is_dir():
        return None
    if not collection_path.name.startswith("test_"):
        return None
    rel = collection_path.relative_to(config.rootpath).as_posix()
    return not any(p.split("::")[0] == rel for p in PORTABLE)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(PORTABLE):
            item.add_marker(pytest.mark.portable)

