"""snmpsim on loopback for the SNMP audit tests: the fixture (in conftest.py) and the
audit helper. snmpsim serves the LibreNMS recordings and our hand-made ones, community =
file stem, with one SNMPv3 authPriv user; it is stopped by PID. ``$NETLAB_SNMPSIM`` may
name a responder in its own virtualenv (tests/netlab/peers.py uses the same variable).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from netcheck.probes import snmp_switch
from netcheck.probes._common import Context
from netcheck.result import Measurement
from tests import snmprec
from tests.netlab import peers
from tests.netlab.lab import LabError

V3_USER, V3_AUTH, V3_PRIV = "netcheck-v3", "auth-secret-8c1f", "priv-secret-77d2"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _responder() -> str | None:
    try:
        return peers.snmpsim_command()[0]
    except LabError:
        return None


def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """Port of a running snmpsim; community = recording file stem."""
    exe = _responder()
    if not exe:
        pytest.skip("snmpsim-command-responder not installed: pip install -e '.[test]'")
    files = sorted(snmprec.LIBRENMS.glob("*.snmprec")) + sorted(snmprec.HANDMADE.glob("*.snmprec"))
    if not any(f.parent == snmprec.LIBRENMS for f in files):
        pytest.fail(f"LibreNMS recordings missing from the repository: {snmprec.LIBRENMS}")
    # a fresh index each session: a persisted snmpsim index was seen to go stale (GETNEXT
    # answering endOfMibView inside a recording) after an interrupted start
    data, cache = tmp_path_factory.mktemp("snmpsim-data"), tmp_path_factory.mktemp("snmpsim-index")
    for f in files:
        shutil.copy2(f, data / f.name)
    port = free_udp_port()
    argv = [
        exe,
        f"--data-dir={data}",
        f"--cache-dir={cache}",
        f"--agent-udpv4-endpoint=127.0.0.1:{port}",
        "--log-level=error",
        f"--v3-user={V3_USER}",
        f"--v3-auth-key={V3_AUTH}",
        "--v3-auth-proto=SHA",
        f"--v3-priv-key={V3_PRIV}",
        "--v3-priv-proto=AES",
    ]
    env = {**os.environ, "SNMPSIM_ALLOW_ROOT": "true"}
    log = data.parent / "snmpsim.log"
    with log.open("wb") as errors:
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=errors)
    try:
        _wait_until_answering(port, proc, log)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_until_answering(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 180  # a start indexes ~60k lines of recordings first
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = log.read_text(errors="replace")[-800:]
            pytest.fail(f"snmpsim exited with {proc.returncode}: {err}")
        m = audit(port, "xss-switch", columns=("ifType",), timeout_s=0.3, retries=0)
        if m.ok:
            return
        time.sleep(0.3)
    pytest.fail("snmpsim did not answer within 180 s")


def audit(
    port: int,
    community: str,
    *,
    columns: tuple[str, ...] | None = None,
    timeout_s: float = 1.0,
    retries: int = 1,
    deadline_s: float = 20.0,
    **target: object,
) -> Measurement:
    spec = snmp_switch.Spec(
        id="snmp:test",
        target=snmp_switch.SnmpTarget("127.0.0.1", port, community=community, **target),  # type: ignore[arg-type]
        timeout_s=timeout_s,
        retries=retries,
        **({"columns": columns} if columns else {}),
    )
    return asyncio.run(snmp_switch.run(spec, Context(deadline=time.monotonic() + deadline_s)))
