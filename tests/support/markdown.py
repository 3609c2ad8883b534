"""Markdown tables of the documentation as data, for the tests that hold the code to them."""

from __future__ import annotations

import re

from support.paths import ROOT

Table = list[list[str]]


def markdown_tables(text: str) -> dict[str, list[Table]]:
    """Every table of a markdown text under the heading it follows, rows as lists of cells
    (the header row first, the separator row left out)."""
    tables: dict[str, list[Table]] = {}
    heading = ""
    current: Table | None = None
    for line in text.splitlines():
        if match := re.match(r"#+\s+(.*)", line):
            heading, current = match.group(1).strip(), None
        elif line.startswith("|"):
            cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if all(re.fullmatch(r":?-+:?", cell) for cell in cells):
                continue
            if current is None:
                current = []
                tables.setdefault(heading, []).append(current)
            current.append(cells)
        else:
            current = None
    return tables


def the_table(where: tuple[str, str]) -> Table:
    path, heading = where
    found = markdown_tables((ROOT / path).read_text("utf-8")).get(heading, [])
    assert len(found) == 1, f"{path}: one table under '{heading}', found {len(found)}"
    return found[0]
