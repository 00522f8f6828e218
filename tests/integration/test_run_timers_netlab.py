"""The run never stalls its own timers (issue 14): seven TLS ports and a TCP scan of the
same ports run together through the runner. Before, every TLS probe built its SSL context
on the event loop (about 0.5 s each) and every probe resolved names itself, so TCP connect
times came out 74-167 ms on a 0.1 ms path and a loaded machine turned IP literals into
"dns: cannot resolve". Reference: the path's round trip measured by iputils ping in the
same namespaces; a TCP connect is one round trip (SYN, SYN-ACK: RFC 9293 section 3.5)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import signal
import statistics
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from netcheck.plan.core import ProbeRun
from netcheck.probes import tcp_ports, tls
from netcheck.result import Measurement
from netcheck.run import runner
from tests.netlab.lab import RoutedLab
from tests.netlab.netns import run_async_in_netns

pytestmark = pytest.mark.netlab

x509 = pytest.importorskip("cryptography.x509")
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

N_PORTS = 7
BUSY_S = 60.0  # the busy processes stop by themselves after this, whatever happens here

_SERVER = textwrap.dedent("""
    import asyncio, ssl, sys
    cert, host, ports = sys.argv[1], sys.argv[2], [int(p) for p in sys.argv[3:]]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert)
    async def serve(reader, writer):
        try:
            await asyncio.wait_for(reader.read(1), 2.0)
        except Exception:
            pass
        writer.close()
    async def main():
        servers = [await asyncio.start_server(serve, host, p, ssl=ctx) for p in ports]
        await asyncio.sleep(300)  # bounded: the test stops it by PID long before
    asyncio.run(main())
""")


def _cert(path: Path, address: str) -> Path:
    """A self-signed certificate for the dc's address (IP SAN), trusted via ``cafile``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "netcheck lab provider")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return path


@pytest.fixture
def tls_lab(netlab: RoutedLab, tmp_path: Path) -> Iterator[tuple[RoutedLab, list[int], Path]]:
    ports = sorted({netlab.free_port(netlab.ns.dc, "tcp") for _ in range(N_PORTS * 2)})[:N_PORTS]
    cert = _cert(tmp_path / "lab.pem", netlab.addr.dc)
    script = tmp_path / "tls_server.py"
    script.write_text(_SERVER)
    proc = netlab.popen(netlab.ns.dc, [sys.executable, str(script), str(cert), netlab.addr.dc,
                                       *map(str, ports)], name="tls-server")
    for p in ports:
        netlab.wait_for_port(netlab.ns.dc, p, "tcp", proc=proc)
    yield netlab, ports, cert
    netlab.stop(proc)


def _plan(host: str, ports: list[int], cafile: Path) -> list[ProbeRun]:
    runs = [ProbeRun(id="tcp:dc", probe="tcp_ports", spec=tcp_ports.Spec(id="tcp:dc", host=host,
                                                                         ports=tuple(ports)),
                     timeout_s=10.0, title="tcp")]
    for p in ports:
        spec = tls.Spec(id=f"tls:{p}", host=host, port=p, cafile=str(cafile), timeout_s=10.0)
        runs.append(ProbeRun(id=spec.id, probe="tls", spec=spec, timeout_s=15.0, title=spec.id))
    return runs


def _run(lab: RoutedLab, ports: list[int], cafile: Path) -> list[Measurement]:
    plan = _plan(lab.addr.dc, ports, cafile)
    return run_async_in_netns(lab.ns.lan, lambda: runner.run_all(plan, {}, lambda _e: None))


def _ping_rtt_ms(lab: RoutedLab) -> float:
    out = lab.exec(lab.ns.lan, ["ping", "-n", "-c", "20", "-i", "0.02", lab.addr.dc]).stdout
    rtts = [float(x) for x in re.findall(r"time=([\d.]+) ms", out)]
    assert len(rtts) >= 18, out
    return statistics.median(rtts)


def _assert_correct(ms: list[Measurement], ports: list[int]) -> tuple[float, list[float]]:
    """Every port open, every handshake verified (IP literal: no DNS anywhere)."""
    tcp, tlss = ms[0], ms[1:]
    assert tcp.ok, tcp.error
    assert tcp.values["counts"] == {"open": len(ports)}
    for m in tlss:
        assert m.ok, m.error
        assert m.values["verified"] is True and m.values["subject_cn"] == "netcheck lab provider"
    return float(tcp.values["connect_median_ms"]), [float(m.values["connect_ms"]) for m in tlss]  # type: ignore[arg-type]


def _busy(n: int) -> list[subprocess.Popen[bytes]]:
    """``n`` bounded busy loops (each stops after BUSY_S by itself)."""
    code = f"import time\nend = time.monotonic() + {BUSY_S}\nwhile time.monotonic() < end: pass\n"
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(n)]


def test_seven_tls_ports_keep_tcp_connect_times_at_the_path_rtt(tls_lab) -> None:  # type: ignore[no-untyped-def]
    lab, ports, cert = tls_lab
    rtt = _ping_rtt_ms(lab)
    tcp_ms, tls_connect_ms = _assert_correct(_run(lab, ports, cert), ports)
    assert tcp_ms <= rtt + 1.0, (tcp_ms, rtt)
    assert max(tls_connect_ms) <= rtt + 1.0, (tls_connect_ms, rtt)


def test_the_run_completes_correctly_with_the_cpu_saturated(tls_lab) -> None:  # type: ignore[no-untyped-def]
    lab, ports, cert = tls_lab
    busy = _busy(os.cpu_count() or 2)
    try:
        ms = _run(lab, ports, cert)
    finally:
        for p in busy:
            os.kill(p.pid, signal.SIGKILL)
            p.wait(5)
    _assert_correct(ms, ports)
    assert all(m.error is None or m.error.kind.value != "dns" for m in ms)
