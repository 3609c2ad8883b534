"""Every limit of docs/mock-server.md's Limits table is the one the mock keeps by default: each
value is read from the table's row and held to the server's default (the command's options
included), so a changed default, or a changed page of the docs, fails here. The behaviour
behind each row is tested at shortened values in test_own_server.py and at full size by
make soak."""

from __future__ import annotations

import re

import pytest

from mock_server.core import contract, edge
from mock_server.serve.cli import build_parser
from mock_server.serve.own_server.limits import LINGER_SECONDS, PIPELINE_DEPTH, Limits
from support.paths import ROOT

UNITS = {"KiB": 1 << 10, "MiB": 1 << 20}


def limits_table() -> dict[str, str]:
    text = (ROOT / "docs" / "mock-server.md").read_text("utf-8")
    section = text.partition("\n## Limits\n")[2].partition("\n## ")[0]
    rows = [line.split("|")[1:3] for line in section.splitlines() if line.startswith("| ")]
    return {name.strip(): what.strip() for name, what in rows[1:]}


def number(text: str, pattern: str) -> float:
    """The number the pattern's group finds in ``text`` (``1,000`` is 1000)."""
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not in {text!r}"
    return float(found.group(1).replace(",", ""))


def size(text: str, pattern: str) -> int:
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not in {text!r}"
    return int(found.group(1)) * UNITS[found.group(2)]


@pytest.fixture(scope="module")
def table() -> dict[str, str]:
    return limits_table()


def test_the_timeouts_are_the_documented_ones(table: dict[str, str]) -> None:
    defaults = Limits()
    options = build_parser().parse_args([])
    head = number(table["request line and headers"], r"within (\d+) s")
    body = number(table["body"], r"within (\d+) s")
    idle = number(table["idle kept-alive connection"], r"after (\d+) s")
    assert (defaults.head_timeout, defaults.body_timeout, defaults.keepalive_timeout) == (
        head, body, idle)
    assert (options.head_timeout, options.body_timeout, options.keepalive_timeout) == (
        head, body, idle)


def test_the_sizes_are_the_documented_ones(table: dict[str, str]) -> None:
    assert size(table["request line and headers, bytes"], r"(\d+) (KiB|MiB)") == edge.MAX_HEAD
    assert size(table["admin body"], r"(\d+) (KiB|MiB)") == edge.MAX_ADMIN_BODY
    site = table["site body"]
    assert size(site, r"kept up to (\d+) (KiB|MiB)") == edge.MAX_BODY
    assert size(site, r"read to its end up to (\d+) (KiB|MiB)") == edge.DRAIN_LIMIT


def test_the_requests_read_ahead_and_the_page_are_the_documented_ones(
        table: dict[str, str]) -> None:
    assert number(table["a client that does not read its answers"],
                                    r"\((\d+) requests ahead at most\)") == PIPELINE_DEPTH
    page = next(what for name, what in table.items() if name.startswith("`GET"))
    assert contract.admin_limits().default_page == number(page, r"([\d,]+) entries a page")


def test_the_linger_after_a_refusal_is_the_documented_one() -> None:
    text = " ".join((ROOT / "docs" / "mock-server.md").read_text("utf-8").split())
    assert number(text, r"for up to (\d+) s before closing") == LINGER_SECONDS
