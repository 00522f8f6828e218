"""The one ``HOST[:PORT]`` parser (command line, profiles, plans, measurement targets).

IPv6 literals need brackets to carry a port (RFC 3986 section 3.2.2, as in URLs):
``[2001:db8::1]:862``. A bare IPv6 address (``2001:db8::1``, more than one colon) is a
host without a port; ``host:port`` with a single colon is a name or IPv4 address with a port.
"""

from __future__ import annotations

import ipaddress
import re

_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")


def valid_host(host: str) -> bool:
    """A host name (RFC 1123 2.1 labels; ``_`` tolerated as in SRV names) or an IP literal
    without a zone. Checked label by label: the former single regular expression nested
    quantifiers and backtracked exponentially on a long invalid name (``"a" * 30 + "!"``)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return not getattr(address, "scope_id", None)  # "%zone" could carry anything
    name = host[:-1] if host.endswith(".") else host
    if not 1 <= len(name) <= 253:
        return False
    return all(_LABEL.fullmatch(label) for label in name.split("."))


def is_ip_literal(host: str) -> bool:
    """True for an IPv4/IPv6 address written out (no name to resolve)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class HostPortError(ValueError):
    """A ``HOST[:PORT]`` value that is not one; the message names the option."""


def _split(value: str) -> tuple[str, str]:
    """(host, port text); an unclosed bracket gives no host (the caller's error)."""
    if value.startswith("["):
        host, closed, rest = value[1:].partition("]")
        if not closed or (rest and not rest.startswith(":")):
            return "", ""
        return host, rest.removeprefix(":")
    if value.count(":") == 1:
        host, _, port = value.partition(":")
        return host, port
    return value, ""


def parse(value: str, default_port: int, option: str = "--responder") -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address -> (host, port);
    :class:`HostPortError` naming ``option`` for anything else."""
    value = value.strip()
    host, port = _split(value)
    if not host:
        raise HostPortError(f"{option} {value!r}: expected HOST[:PORT]")
    if not valid_host(host):
        raise HostPortError(f"{option} {value!r}: not a host name or IP address")
    if not port:
        return host, default_port
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise HostPortError(f"{option} {value!r}: port must be 1-65535")
    return host, int(port)


def split_target(target: str) -> tuple[str, int]:
    """A measurement's ``target`` (``host:port/transport``, ``[v6]:port``, ``host``) ->
    (host, port), port 0 when it names none. Lenient: targets were written by probes."""
    host, port = _split(target.split("/", 1)[0])
    return host, int(port) if port.isdigit() else 0


def join(host: str, port: int) -> str:
    """The inverse of :func:`parse`: brackets around an IPv6 literal."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
