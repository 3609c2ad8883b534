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


def code_blocks(path: str, heading: str, language: str) -> list[str]:
    """The ``language`` code blocks of a page's section ``heading`` (of any level, running to
    the next heading of its level or above; lines in code blocks are not headings)."""
    blocks: list[str] = []
    level: int | None = None  # of the section, once found
    fence: str | None = None  # the language of the code block being read, if any
    lines: list[str] = []
    for line in (ROOT / path).read_text("utf-8").splitlines():
        if fence is not None:
            if line == "```":
                if level is not None and fence == language:
                    blocks.append("".join(text + "\n" for text in lines))
                fence, lines = None, []
            else:
                lines.append(line)
        elif line.startswith("```"):
            fence = line[3:].strip()
        elif match := re.match(r"(#+)\s+(.*)", line):
            depth = len(match.group(1))
            if level is not None and depth <= level:
                break
            if match.group(2).strip() == heading:
                level = depth
    assert level is not None, f"{path}: no section '{heading}'"
    return blocks
