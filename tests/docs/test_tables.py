"""The reference tables of the documentation hold exactly what the code has: a journal entry's
fields, a scripted reply's, the fault catalogue, the mock's options and configuration keys, the
provider's keywords (with the defaults of tests/support/expected.py) and error classes. A field
added in the code and not in the documentation (or the reverse) fails here."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

import aichat
from mock_server.core.faults import FAULTS
from mock_server.core.matching import REPLY_KEYS
from mock_server.core.records import JournalEntry, QueuedReply, field_names
from mock_server.serve.cli import build_parser
from mock_server.testing import pytest_plugin
from mock_server.web.app import CONFIG_DEFAULTS
from support import expected
from support.contract_data import FAULT_ERRORS
from support.markdown import Table, markdown_tables, the_table
from support.paths import ROOT

# Where each reference table lives: (file, heading above the table).
ENTRY_TABLE = ("docs/mock-server.md", "Journal entries")
REPLY_TABLE = ("docs/mock-server.md", "Scripted replies")
FAULT_TABLE = ("docs/mock-server.md", "Faults")
MATCH_TABLE = ("docs/mock-server.md", "Matching")
OPTION_TABLE = ("docs/mock-server.md", "Command line")
CONFIG_TABLE = ("docs/internals.md", "Python API")
KEYWORD_TABLE = ("docs/provider.md", "Keywords")
ERROR_TABLE = ("docs/provider.md", "Errors")
MOCK_ERROR_TABLE = ("docs/internals.md", "Layout")
FIXTURE_TABLE = ("docs/testing-your-code.md", "Testing your code with the mock")

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
    assert listed == list(REPLY_KEYS), "in the order of docs/mock-server.md's match table"


def test_the_option_table_lists_every_option_of_aichat_mock_once() -> None:
    listed = [name.split()[0] for name in first_column(the_table(OPTION_TABLE))]
    # The options --help shows: those it hides are the tests' (shorter timeouts).
    options = [action.option_strings[-1] for action in build_parser()._actions
               if action.option_strings and action.option_strings[-1] != "--help"
               and action.help != argparse.SUPPRESS]
    assert listed == options, "in the order of aichat-mock --help"


def test_the_fixture_table_lists_every_fixture_a_test_asks_for_once() -> None:
    # KINDS: the fixtures of which a test uses one (their session fixtures are machinery).
    assert sorted(first_column(the_table(FIXTURE_TABLE))) == sorted(pytest_plugin.KINDS)


def test_the_configuration_table_lists_every_key_of_create_app_once() -> None:
    listed = [name.split()[0] for name in first_column(the_table(CONFIG_TABLE))
              if name.startswith("MOCK_")]
    assert sorted(listed) == sorted(CONFIG_DEFAULTS)


def test_the_keyword_table_gives_the_specs_keywords_and_defaults() -> None:
    rows = {names_in(row[0])[0]: row[1] for row in the_table(KEYWORD_TABLE)[1:]}
    assert list(rows) == ["base_url", "timeout", "max_response_bytes", "proxy", "max_retries",
                          *expected.DEFAULTS]
    assert rows["timeout"] == f"`{expected.DEFAULT_TIMEOUT}`"
    assert rows["max_retries"] == f"`{expected.DEFAULT_MAX_RETRIES}`"
    assert rows["max_response_bytes"].startswith(f"`{expected.DEFAULT_MAX_RESPONSE_BYTES}`")
    assert rows["proxy"] == "none" and expected.DEFAULT_PROXY is None
    for name, default in expected.DEFAULTS.items():
        assert rows[name] == f"`{default}`", name
    assert expected.BASE_URL_ENV in rows["base_url"] and expected.SITE in rows["base_url"]


def test_the_error_table_lists_every_error_class_with_its_bases() -> None:
    rows = {names_in(row[0])[0]: names_in(row[1]) for row in the_table(ERROR_TABLE)[1:]}
    classes = {name: value for name, value in vars(aichat).items()
               if isinstance(value, type) and issubclass(value, aichat.AichatError)}
    assert sorted(rows) == sorted(classes)
    for name, bases in rows.items():
        assert bases == [base.__name__ for base in classes[name].__bases__], name


def test_the_mock_error_table_lists_every_mock_error_with_its_bases() -> None:
    """Every error class of mock_server, wherever it is defined, is a row with its bases."""
    import importlib
    import pkgutil

    import mock_server
    from mock_server.core.errors import MockError

    rows = {names_in(row[0])[0]: names_in(row[1])
            for row in the_table(MOCK_ERROR_TABLE)[1:]}
    classes: dict[str, type] = {}
    for module in pkgutil.walk_packages(mock_server.__path__, "mock_server."):
        if module.name.endswith(("__main__", ".granian_app")):
            continue
        for value in vars(importlib.import_module(module.name)).values():
            if isinstance(value, type) and issubclass(value, MockError):
                classes[value.__name__] = value
    assert sorted(rows) == sorted(classes)
    for name, bases in rows.items():
        assert bases == [base.__name__ for base in classes[name].__bases__], name


@pytest.mark.parametrize("where", [ENTRY_TABLE, REPLY_TABLE, FAULT_TABLE, MATCH_TABLE,
                                   OPTION_TABLE, KEYWORD_TABLE, ERROR_TABLE,
                                   MOCK_ERROR_TABLE])
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


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_slug_is_githubs() -> None:
    assert slug("`POST /api/text`") == "post-apitext"
    assert slug("The pages: chat and inspector") == "the-pages-chat-and-inspector"
    assert slug("For g4f users") == "for-g4f-users"


def test_every_link_between_the_pages_finds_its_file_and_heading() -> None:
    pages = [ROOT / "README.md", ROOT / "contract" / "README.md",
             *sorted((ROOT / "docs").glob("*.md"))]
    checked = 0
    for page in pages:
        text = re.sub(r"^```.*?^```$", "", page.read_text("utf-8"), flags=re.DOTALL | re.MULTILINE)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            assert linked.exists(), f"{page.name} links to {target}: no such file"
            if anchor:
                headings = re.findall(r"^#+ (.*)$", linked.read_text("utf-8"), re.MULTILINE)
                assert anchor in {slug(heading) for heading in headings}, (
                    f"{page.name} links to {target}: no such heading")
            checked += 1
    assert checked >= 20
