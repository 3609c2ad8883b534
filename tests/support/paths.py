"""Where the project's files are, seen from the tests."""

from __future__ import annotations

import re
from pathlib import Path

#: The project's folder (the clone's root).
ROOT = Path(__file__).resolve().parents[2]
#: The wire contract: contract/openapi.json, contract/admin.openapi.json, contract/cases.
CONTRACT = ROOT / "contract"


def project_version() -> str:
    """The version pyproject.toml gives the distribution, read from its ``[project]`` table
    (line by line: tomllib is not in Python 3.10, which the tests also run on)."""
    table = ""
    for line in (ROOT / "pyproject.toml").read_text("utf-8").splitlines():
        if line.startswith("["):
            table = line.strip()
        elif table == "[project]" and (found := re.fullmatch(r'version\s*=\s*"([^"]+)"', line)):
            return found.group(1)
    raise AssertionError("pyproject.toml gives no version in [project]")
