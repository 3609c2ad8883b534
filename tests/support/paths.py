"""Where the project's files are, seen from the tests."""

from __future__ import annotations

from pathlib import Path

#: The project's folder (the clone's root).
ROOT = Path(__file__).resolve().parents[2]
#: The wire contract: contract/openapi.json, contract/admin.openapi.json, contract/cases.
CONTRACT = ROOT / "contract"
