"""The one HOST[:PORT] parser: RFC 3986 section 3.2.2 brackets an IPv6 literal that carries a
port; a bare IPv6 address is a host without one."""

from __future__ import annotations

import re

import pytest

from netcheck import hostport


@pytest.mark.parametrize(("text", "want"), [
    ("r.example", ("r.example", 862)), ("10.0.0.1:9000", ("10.0.0.1", 9000)),
    ("[::1]:8620", ("::1", 8620)), ("::1", ("::1", 862)), ("[2001:db8::1]", ("2001:db8::1", 862)),
    ("2001:db8::1", ("2001:db8::1", 862)), (" r.example:1 ", ("r.example", 1)),
])
def test_parse(text: str, want: tuple[str, int]) -> None:
    assert hostport.parse(text, 862) == want


@pytest.mark.parametrize(("text", "why"), [
    ("h:99999", "port must be 1-65535"), ("h:0", "port must be 1-65535"), (":862", "expected HOST"),
    ("[::1]:x", "port must be 1-65535"), ("bad host!:80", "not a host name"), ("[]:80", "expected HOST"),
    ("[::1", "expected HOST"), ("[::1]x", "expected HOST"), ("[::1]]:80", "expected HOST"),
])
def test_parse_errors_name_the_option(text: str, why: str) -> None:
    with pytest.raises(hostport.HostPortError, match="^" + re.escape(f"--switch {text!r}: {why}")):
        hostport.parse(text, 161, option="--switch")


@pytest.mark.parametrize(("target", "want"), [
    ("198.51.100.7:3478/udp", ("198.51.100.7", 3478)), ("[2001:db8::7]:3478/tcp", ("2001:db8::7", 3478)),
    ("stun.example:5349", ("stun.example", 5349)), ("2001:db8::7", ("2001:db8::7", 0)), ("h", ("h", 0)),
])
def test_split_target_reads_what_join_writes(target: str, want: tuple[str, int]) -> None:
    assert hostport.split_target(target) == want
    if want[1]:
        assert hostport.split_target(hostport.join(*want)) == want
