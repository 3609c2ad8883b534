"""The README's screenshots (docs/screenshots/, made by `make screenshots`) show this version of
the package: each carries in its metadata the version the pictured page showed, and a release
that changes the version must take them again."""

from __future__ import annotations

import re

import pytest

from support import png
from support.paths import ROOT, project_version

SCREENSHOTS = ROOT / "docs" / "screenshots"
PAGES = (ROOT / "README.md", ROOT / "docs" / "mock-server.md")


@pytest.mark.parametrize("name", ["chat.png", "inspector.png"])
def test_a_committed_screenshot_shows_the_packages_version(name: str) -> None:
    shown = png.texts((SCREENSHOTS / name).read_bytes()).get(png.VERSION_KEY)
    assert shown == project_version(), (
        f"docs/screenshots/{name} shows version {shown or 'unknown (no version in it)'}, the "
        f"package is {project_version()}: run make screenshots")


def test_the_pages_show_the_screenshots_there_are() -> None:
    for page in PAGES:
        shown = re.findall(r"\((?:docs/)?screenshots/([\w.-]+\.png)\)", page.read_text("utf-8"))
        assert set(shown) == {path.name for path in SCREENSHOTS.glob("*.png")}, page.name


def test_the_metadata_is_read_back_as_written() -> None:
    shot = (SCREENSHOTS / "chat.png").read_bytes()
    marked = png.with_text(shot, png.VERSION_KEY, "9.9.9")
    assert png.texts(marked)[png.VERSION_KEY] == "9.9.9"
    assert png.texts(png.with_text(marked, "Comment", "x")) == {png.VERSION_KEY: "9.9.9",
                                                                 "Comment": "x"}
    with pytest.raises(ValueError, match="damaged"):
        png.texts(marked[:40] + bytes([marked[40] ^ 1]) + marked[41:])
