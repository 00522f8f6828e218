"""Shared fixtures of the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration import _snmp


@pytest.fixture(scope="session")
def snmp_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """Port of a running snmpsim serving every recording; community = recording file stem.
    (Not named ``snmpsim``: that is the namespace lab's fixture, tests/netlab/fixtures.py.)"""
    yield from _snmp.serve(tmp_path_factory)
