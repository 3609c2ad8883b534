"""make history's reading of the release wheels (docs/grading.md, "make history"), on wheels
made here: the walk stops at the first release without the file once it has shipped, a file
that comes back is one revision, the releases print as runs, the import closure follows the
package's relative imports and leaves out imports made in a try or a function, and each
import name maps to the release's own requirement."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from mock_server.grade.history import runs
from mock_server.grade.revisions import (
    Cache,
    Release,
    describe_file,
    requirements_for,
    revisions_of,
    third_party_imports,
    walk,
)

METADATA = ("Metadata-Version: 2.1\nName: g4f\nRequires-Dist: requests\n"
            "Requires-Dist: curl-cffi\nRequires-Dist: browser-cookie3 ; extra == 'x'\n")


def make_wheel(folder: Path, version: str, files: dict[str, str]) -> Path:
    path = folder / f"g4f-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
        archive.writestr(f"g4f-{version}.dist-info/METADATA", METADATA)
    return path


class Shelf(Cache):
    """A cache whose wheels are made here, never fetched."""

    def __init__(self, root: Path, files: dict[str, dict[str, str] | None]) -> None:
        super().__init__(root)
        self.files = files
        self.asked: list[str] = []

    def read(self, version: str) -> Release:
        self.asked.append(version)
        self.wheels.mkdir(parents=True, exist_ok=True)
        return Release.read(version, make_wheel(self.wheels, version,
                                                self.files[version] or {"g4f/x.py": ""}))


A = {"g4f/Provider/Aichat.py": "working = True\n"}
B = {"g4f/Provider/Aichat.py": "working = False\n"}
VERSIONS = ["0.0.1", "0.0.2", "0.0.3", "0.0.4", "0.0.5", "0.0.6", "0.0.7", "0.0.8"]


def test_the_walk_stops_after_the_file_is_gone_and_a_returning_file_is_one_revision(
        tmp_path: Path) -> None:
    shelf = Shelf(tmp_path, dict(zip(VERSIONS, [None, A, B, A, A, None, A, A], strict=True)))
    shipped = walk(shelf, VERSIONS)
    assert [release.version for release in shipped] == ["0.0.2", "0.0.3", "0.0.4", "0.0.5"]
    revisions = revisions_of(shipped)
    assert [[release.version for release in revision.releases] for revision in revisions] == [
        ["0.0.2", "0.0.4", "0.0.5"], ["0.0.3"]]
    assert runs(revisions[0], VERSIONS) == "0.0.2, 0.0.4 to 0.0.5"
    # A second walk reads nothing again: the index has it.
    shelf.asked.clear()
    assert walk(shelf, VERSIONS) == shipped
    assert shelf.asked == []


def test_the_import_closure_follows_the_package_and_maps_to_its_requirements(
        tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "0.1.0", {
        "g4f/__init__.py": "import numpy\n",
        "g4f/Provider/__init__.py": "import everything_else\n",
        "g4f/Provider/Aichat.py": ("import os\nfrom .helper import get\n"
                                   "from ..requests import Session\n"),
        "g4f/Provider/helper.py": ("try:\n    import browser_cookie3\nexcept ImportError:\n"
                                   "    pass\ndef later():\n    import selenium\n"),
        "g4f/requests.py": "from curl_cffi.requests import AsyncSession\nimport PIL\n",
    })
    names = third_party_imports(wheel, "g4f/Provider/Aichat.py")
    assert names == {"browser_cookie3": False, "selenium": False, "curl_cffi": True,
                     "PIL": True}
    assert requirements_for(wheel, names) == (["curl-cffi"], ["pillow"])


@pytest.mark.parametrize("source, wire, transport", [
    ("import requests\nrequests.post(u, json={'temperature': 1})\n", [], "requests"),
    ("ClientSession(headers=h)\n'temperature': kwargs.get('temperature', 0.5)\n"
     "format_prompt(m)\nresponse.raise_for_status()\n",
     ["format_prompt", "temperature 0.5", "raise_for_status"], "aiohttp"),
    ("StreamSession(cookies=c, impersonate='chrome110')\n'Chrome/118.0.0.0'\n",
     ["Chrome 118 headers", "cookies", "impersonation (chrome110)"], "curl_cffi"),
])
def test_a_files_departures_are_read_from_its_text(source: str, wire: list[str],
                                                  transport: str) -> None:
    facts = describe_file(source)
    assert (facts["wire"], facts["transport"]) == (wire, transport)
