"""Packaging: a wheel must carry every package and the shipped profiles (an editable
install hides a missing entry, so check the configuration itself)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_every_package_directory_is_listed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "netcheck").rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    assert found <= listed, f"missing from pyproject packages: {sorted(found - listed)}"
    assert config["package-dir"]["netcheck.profiles"] == "profiles"
