"""The lower bounds in pyproject.toml are versions the tests ran on: make test's second
environment (the oldest Python) installs each at exactly its bound, and this test says so
there (``AICHAT_AT_FLOORS=1``); elsewhere each installed version is at least its bound."""

from __future__ import annotations

import os
from importlib.metadata import version

from floors import floors
from packaging.version import Version

# README.md (Install): the provider needs requests (and urllib3 under it), the mock Flask and
# jsonschema, the fixtures responses.
NAMED_BY_THE_README = {"requests", "urllib3", "flask", "jsonschema", "responses"}


def test_every_dependency_the_readme_names_has_a_floor() -> None:
    assert set(floors()) >= NAMED_BY_THE_README


def test_the_installed_versions_stand_on_the_floors() -> None:
    at_floors = os.environ.get("AICHAT_AT_FLOORS") == "1"
    for name, low in floors().items():
        installed = Version(version(name))
        if at_floors:
            assert installed == Version(low), f"{name} {installed} is not its floor {low}"
        else:
            assert installed >= Version(low), f"{name} {installed} is under its floor {low}"
