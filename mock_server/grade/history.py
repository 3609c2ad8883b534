"""``make history`` (``python -m mock_server.grade.history``): every distinct ``Aichat`` that a
g4f release shipped, each graded unchanged through the intercept in an environment of its own,
and our provider beside them; writes docs/history.md."""

from __future__ import annotations

import argparse
import sys
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .card import Card, escape
from .client import LoadError
from .revisions import (
    Cache,
    HistoryError,
    Revision,
    describe_file,
    environment,
    prune,
    released_versions,
    revisions_of,
    walk,
)
from .runner import JOBS, grade, start_mock

OURS = "aichat.Aichat"
# Every call gets cookies, as a caller of the releases that require them had to give (without,
# they ask for Chrome's cookie store); clients that take no cookies ignore the keyword.
EXTRA: dict[str, Any] = {"cookies": {"session": "graded"}}
CELL_CHARS = 48


@dataclass
class Column:
    name: str
    revision: Revision | None
    facts: dict[str, Any] = field(default_factory=dict)
    card: Card | None = None
    reason: str | None = None

    def cell(self, key: str) -> str:
        if self.card is None:
            return "-"
        row = next((row for row in self.card.rows if row.key == key), None)
        if row is None:
            return "-"
        if not row.problems:
            return row.verdict
        first = row.problems[0]
        first = first if len(first) <= CELL_CHARS else first[:CELL_CHARS - 3] + "..."
        more = f" (+{len(row.problems) - 1})" if len(row.problems) > 1 else ""
        return f"**fail**: {escape(first)}{more}"


def intercept_available(folder: Path) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    process, intercept = start_mock(str(folder))
    process.stop()
    return intercept


def grade_revision(cache: Cache, revision: Revision, column: Column, jobs: int) -> None:
    try:
        env = environment(cache, revision)
        column.facts["installed"] = ", ".join(env.installed) or "nothing"
        column.card = grade(env.target, python=env.python, jobs=jobs, extra=EXTRA)
    except (HistoryError, LoadError) as error:
        column.reason = str(error)


def columns_of(cache: Cache, versions: list[str], jobs: int, say: Any) -> list[Column]:
    revisions = revisions_of(walk(cache, versions, say))
    prune(cache, revisions)
    graded = intercept_available(cache.root / "ca")
    columns = []
    for number, revision in enumerate(revisions, 1):
        with zipfile.ZipFile(cache.wheel(revision.first.version)) as archive:
            source = archive.read(revision.path).decode("utf-8")
        column = Column(f"r{number}", revision, describe_file(source))
        say(f"{column.name}: g4f {revision.label} ({revision.short})")
        if graded:
            grade_revision(cache, revision, column, jobs)
        else:
            column.reason = ("not graded: it calls https://chat-gpt.org itself, and the mock "
                             "here has no --intercept (docs/mock-server.md)")
        columns.append(column)
    ours = Column("ours", None, {"transport": "requests", "wire": ["the contract's"]})
    ours.card = grade(OURS, jobs=jobs, extra=EXTRA)
    return [*columns, ours]


def runs(revision: Revision, versions: list[str]) -> str:
    """The revision's releases as runs of consecutive releases: ``0.0.2.7 to 0.1.4.8``."""
    order = {version: at for at, version in enumerate(versions)}
    groups: list[list[str]] = []
    for release in revision.releases:
        if groups and order.get(release.version, -2) == order.get(groups[-1][-1], -9) + 1:
            groups[-1].append(release.version)
        else:
            groups.append([release.version])
    return ", ".join(group[0] if len(group) == 1 else f"{group[0]} to {group[-1]}"
                     for group in groups)


def render(columns: list[Column], versions: list[str]) -> str:
    lines = [
        "# Aichat in g4f's releases, graded",
        "",
        "Written by `make history` (`python -m mock_server.grade.history`); do not edit by "
        "hand. Every release of g4f on the package index was read, oldest first, until the "
        "first release without the file after it had shipped; each distinct `Aichat.py` "
        "(by SHA-256) is a column, installed as released into an environment of its own with "
        "the distributions it imports at their versions of its release's day, and graded "
        "unchanged by `aichat-mock grade` through the mock's intercept. The checks are those "
        "of [grading.md](grading.md); every call is given `cookies=`, which the releases of "
        "late 2023 require.",
        "",
        "## The revisions",
        "",
        "| column | releases | file | SHA-256 | transport | shape | departs from the June module "
        "| working |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for column in columns:
        revision = column.revision
        shape = column.card.shape if column.card else column.facts.get("shape", "?")
        wire = ", ".join(column.facts.get("wire", [])) or "the June module's"
        if revision is None:
            lines.append(f"| {column.name} | g4f-aichat | `aichat/Aichat.py` | - | "
                         f"{column.facts['transport']} | {shape} | {wire} | True |")
            continue
        paths = ", ".join(f"`{path}`" for path in revision.paths)
        lines.append(
            f"| {column.name} | {runs(revision, versions)} ({len(revision.releases)}) | "
            f"{paths} | `{revision.short}` | {column.facts['transport']} | {shape} | "
            f"{wire} | {column.facts['working']} |")
    lines += ["", "## The cards", ""]
    for column in columns:
        if column.reason:
            lines.append(f"- **{column.name}**: {escape(column.reason)}")
        elif column.card is not None:
            lines.append(f"- **{column.name}**: {column.card.totals}; reached through "
                         f"{column.card.route}; Python {column.card.python}"
                         + (f"; installed {column.facts['installed']}"
                            if column.facts.get("installed") else ""))
    lines.append("")
    lines.append("| check | " + " | ".join(column.name for column in columns) + " |")
    lines.append("| --- " * (len(columns) + 1) + "|")
    reference = next(column.card for column in columns if column.card is not None)
    for row in reference.rows:
        cells = " | ".join(column.cell(row.key) for column in columns)
        lines.append(f"| {escape(row.key)} | {cells} |")
    lines.append("")
    return "\n".join(lines)


def prepare(cache: Cache, versions: list[str], say: Callable[[str], None]) -> int:
    """Fetch ``versions`` and install each one's environment into ``cache``."""
    try:
        for version in versions:
            release = cache.read(version)
            if release.sha256 is None or release.path is None:
                raise HistoryError(f"g4f {version} ships no Aichat file")
            environment(cache, Revision(release.sha256, release.path, [release]))
            say(f"prepared g4f {version}")
    except HistoryError as error:
        print(f"make history: {error}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make history", description=__doc__)
    parser.add_argument("--cache", default=".history", help="the downloads and environments")
    parser.add_argument("--doc", default="docs/history.md", help="the page to write")
    parser.add_argument("--jobs", type=int, default=JOBS, help="checks run at once per card")
    parser.add_argument("--prepare", nargs="+", metavar="VERSION",
                        help="only fetch these releases and install their environments (what "
                             "a test then grades with nothing fetched), and write no page")
    args = parser.parse_args(argv)

    def say(text: str) -> None:
        print(f"history: {text}", file=sys.stderr, flush=True)

    if args.prepare:
        return prepare(Cache(Path(args.cache)), args.prepare, say)
    try:
        versions = released_versions()
        columns = columns_of(Cache(Path(args.cache)), versions, args.jobs, say)
    except (HistoryError, LoadError) as error:
        print(f"make history: {error}", file=sys.stderr)
        return 1
    Path(args.doc).write_text(render(columns, versions), encoding="utf-8")
    say(f"wrote {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
