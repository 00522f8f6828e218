"""Fail CI on any skipped test whose reason is not on the allow-list.

A skip hides a test; on CI's machine (root, every package of .ci/apt-packages.txt) only a
limit of the environment itself may justify one. The allow-list holds one regular
expression per line, each with a comment saying which environment limit it stands for.

Usage: python .ci/skip_gate.py JUNIT_XML ALLOW_LIST
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def allowed_patterns(path: Path) -> list[re.Pattern[str]]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [re.compile(line) for line in lines if line]


def skips(junit: Path) -> list[tuple[str, str]]:
    out = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        for skipped in case.findall("skipped"):
            if skipped.get("type") == "pytest.xfail":
                continue  # an expected failure ran (and is listed by pytest -ra); not a skip
            name = f"{case.get('classname')}::{case.get('name')}"
            out.append((name, skipped.get("message") or skipped.text or ""))
    return out


def main(junit: str, allow: str) -> int:
    patterns = allowed_patterns(Path(allow))
    found = skips(Path(junit))
    bad = [(n, r) for n, r in found if not any(p.search(r) for p in patterns)]
    for name, reason in found:
        print(f"{'ALLOWED' if (name, reason) not in bad else 'NOT ALLOWED'} skip: {name}: {reason}")
    print(f"{len(found)} skipped, {len(bad)} not on {allow}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
