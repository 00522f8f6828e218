"""The run's shared name cache (issue 14): an IP literal never reaches the resolver, a name
is looked up once per run whatever the number of probes, and a probe that gives up does
not cancel the lookup for the others."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest

from netcheck.probes import tcp_ports
from netcheck.probes._common import Context, resolve
from netcheck.probes._names import Names, ResolveError
from netcheck.result import ErrorKind


class _CountingLoop:
    """Wraps the running loop's getaddrinfo: counts calls, answers after ``delay_s``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, delay_s: float = 0.0, fail: bool = False) -> None:
        self.calls: list[str] = []
        self.delay_s, self.fail = delay_s, fail
        loop = asyncio.get_running_loop()

        async def fake(host: str, port: Any, **_kw: Any) -> list[Any]:
            self.calls.append(host)
            await asyncio.sleep(self.delay_s)
            if self.fail:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 0))]

        monkeypatch.setattr(loop, "getaddrinfo", fake)


def test_ip_literals_never_go_to_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> list[tuple[int, str]]:
        counting = _CountingLoop(monkeypatch, fail=True)
        names = Names()
        out = [(await names.resolve(h)).first() for h in ("198.19.0.189", "::1", "[2001:db8::1]")]
        assert counting.calls == []
        return out

    assert asyncio.run(main()) == [(socket.AF_INET, "198.19.0.189"), (socket.AF_INET6, "::1"),
                                   (socket.AF_INET6, "2001:db8::1")]


def test_a_name_is_resolved_once_for_all_probes(monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> list[str]:
        counting = _CountingLoop(monkeypatch, delay_s=0.05)
        ctx = Context(deadline=time.monotonic() + 5.0)
        results = await asyncio.gather(*(resolve(ctx, "pbx.example") for _ in range(7)))
        assert all(addr == (socket.AF_INET, "127.0.0.1") and err is None for addr, err in results)
        return counting.calls

    assert asyncio.run(main()) == ["pbx.example"]


def test_a_probe_that_gives_up_leaves_the_lookup_to_the_next(monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> None:
        counting = _CountingLoop(monkeypatch, delay_s=0.2)
        names = Names()
        with pytest.raises(ResolveError, match="no answer within"):
            await names.resolve("slow.example", wait_s=0.01)
        assert (await names.resolve("slow.example", wait_s=2.0)).first()[1] == "127.0.0.1"
        assert counting.calls == ["slow.example"]

    asyncio.run(main())


def test_a_failed_lookup_is_a_typed_dns_error_in_the_measurement(monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> None:
        _CountingLoop(monkeypatch, fail=True)
        spec = tcp_ports.Spec(id="tcp:x", host="nowhere.invalid", ports=(443,))
        m = await tcp_ports.run(spec, Context(deadline=time.monotonic() + 2.0))
        assert m.error is not None and m.error.kind is ErrorKind.DNS
        assert "nowhere.invalid" in m.error.detail

    asyncio.run(main())


def test_tls_trust_store_is_built_once_and_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """ssl.create_default_context reads the system trust store: never on the loop's thread,
    and once per process (it took ~0.5 s per TLS probe and stalled every other timer)."""
    import ssl
    import threading

    from netcheck.probes import tls

    built: list[threading.Thread] = []
    real = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        built.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting)
    tls._verifying_cached.cache_clear()

    async def main() -> threading.Thread:
        contexts = await asyncio.gather(*(tls.contexts(None) for _ in range(7)))
        assert all(c is contexts[0] for c in contexts)
        return threading.current_thread()

    loop_thread = asyncio.run(main())
    tls._verifying_cached.cache_clear()
    assert len(built) == 1 and built[0] is not loop_thread


def test_kernel_handshake_rtt_on_a_loopback_connect() -> None:
    """Linux TCP_INFO tcpi_rtt after connect = the SYN/SYN-ACK round trip (RFC 6298 2.2:
    the first sample sets SRTT): on loopback well under a millisecond, never zero."""
    import sys

    from netcheck.probes._tcpinfo import handshake_rtt_ms

    with socket.socket() as srv, socket.socket() as cli:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        cli.connect(srv.getsockname())
        rtt = handshake_rtt_ms(cli)
    if sys.platform.startswith("linux"):
        assert rtt is not None and 0.0 < rtt < 1.0
    else:
        assert rtt is None


def test_the_dns_check_and_the_probes_of_a_run_share_one_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    """The DNS check reports the very lookup the other probes used: it cannot pass while
    they fail to resolve (issue 14), and the resolver is asked once."""
    from netcheck.plan.core import ProbeRun
    from netcheck.probes import dns
    from netcheck.run import runner

    async def main() -> tuple[list[str], list[Any]]:
        counting = _CountingLoop(monkeypatch, delay_s=0.02)
        plan = [ProbeRun("dns:pbx", "dns", dns.Spec(id="dns:pbx", host="pbx.example"), 5.0, "dns"),
                *(ProbeRun(f"tcp:{i}", "tcp_ports", tcp_ports.Spec(id=f"tcp:{i}", host="pbx.example",
                                                                   ports=(9,), timeout_s=0.2), 5.0, "tcp")
                  for i in range(3))]
        return counting.calls, await runner.run_all(plan, {}, lambda _e: None)

    calls, ms = asyncio.run(main())
    assert calls == ["pbx.example"]
    assert ms[0].ok and ms[0].values["addresses"] == ["127.0.0.1"]
    assert all(m.values.get("address") == "127.0.0.1" for m in ms[1:])
