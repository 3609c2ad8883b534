"""The reference tables of the documentation hold exactly the fields the code has: a journal
entry's, a scripted reply's, and the fault catalogue. A field added in the code and not in the
documentation (or the reverse) fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from loopback import FAULT_ERRORS

from mock_server.core.faults import FAULTS
from mock_server.core.matching import REPLY_KEYS
from mock_server.core.records import JournalEntry, QueuedReply, field_names

ROOT = Path(__file__).resolve().parent.parent
# Where each reference table lives: (file, heading above the table).
ENTRY_TABLE = ("README.md", "Journal entries")
REPLY_TABLE = ("README.md", "Scripted replies")
FAULT_TABLE = ("README.md", "Faults")
MATCH_TABLE = ("README.md", "Matching")

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


def names_in(cell: str) -> list[str]:
    """The field names a first cell lists: each in backquotes (`a`, `b`)."""
    return re.findall(r"`([^`]+)`", cell)


def first_column(table: Table) -> list[str]:
    return [name for row in table[1:] for name in names_in(row[0])]


def test_markdown_tables_are_found_under_their_heading() -> None:
    text = "# A\n| x | y |\n| --- | --- |\n| `a`, `b` | 1 |\n\n## B\n| x |\n| - |\n| `c` |\n"
    tables = markdown_tables(text)
    assert tables == {"A": [[["x", "y"], ["`a`, `b`", "1"]]], "B": [[["x"], ["`c`"]]]}
    assert first_column(tables["A"][0]) == ["a", "b"]


def test_the_journal_entry_table_lists_every_field_once() -> None:
    listed = first_column(the_table(ENTRY_TABLE))
    assert sorted(listed) == sorted(field_names(JournalEntry))


def test_the_scripted_reply_table_lists_every_field_once() -> None:
    listed = first_column(the_table(REPLY_TABLE))
    assert sorted(listed) == sorted(field_names(QueuedReply))


def test_the_fault_table_lists_every_fault_once_with_its_status_and_error() -> None:
    table = the_table(FAULT_TABLE)
    rows = {names_in(row[0])[0]: row for row in table[1:]}
    assert sorted(rows) == sorted(FAULTS) == sorted(FAULT_ERRORS)
    assert len(rows) == len(table) - 1, "each fault in one row"
    for name, (error, status) in FAULT_ERRORS.items():
        answer, raised = rows[name][1], rows[name][2]
        if status is None:
            assert re.search(r"\bclosed?\b", answer), name
        else:
            assert re.match(rf"`?{status}\b", answer), f"{name}: {answer}"
        assert f"`{error.__name__}`" in raised, name


def test_the_matching_table_lists_every_key_of_a_replys_match_once() -> None:
    listed = first_column(the_table(MATCH_TABLE))
    assert listed == list(REPLY_KEYS), "in the order of SPEC 7's table"


@pytest.mark.parametrize("where", [ENTRY_TABLE, REPLY_TABLE, FAULT_TABLE, MATCH_TABLE])
def test_no_other_table_repeats_the_reference(where: tuple[str, str]) -> None:
    """Each reference table is written once: no other table of the documentation has the
    same first column."""
    names = sorted(first_column(the_table(where)))
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for heading, tables in markdown_tables(path.read_text("utf-8")).items():
            for table in tables:
                if (path.name, heading) == (Path(where[0]).name, where[1]):
                    continue
                assert sorted(first_column(table)) != names, (
                    f"{path.name} repeats the table of '{where[1]}' under '{heading}'")
