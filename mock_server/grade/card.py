"""A report card: one row per check, ``pass``, ``fail`` or ``n/a``, with what was seen; as a
terminal table, Markdown or JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

PASS, FAIL, NOT_APPLICABLE = "pass", "fail", "n/a"
CHECK_WIDTH = 28
CELL_CHARS = 70


@dataclass
class Row:
    key: str
    group: str
    title: str
    verdict: str
    seen: str
    problems: list[str] = field(default_factory=list)
    elapsed: float | None = None
    requests: int = 0
    via: str | None = None

    @property
    def short(self) -> str:
        """The verdict and, for a failure, its first problem cut to fit a table's cell."""
        if self.verdict != FAIL:
            return self.verdict
        first = self.problems[0] if self.problems else self.seen
        more = f" (+{len(self.problems) - 1})" if len(self.problems) > 1 else ""
        cut = first if len(first) <= CELL_CHARS else first[:CELL_CHARS - 3] + "..."
        return f"fail: {cut}{more}"


@dataclass
class Card:
    target: str
    name: str
    shape: str
    python: str
    route: str
    intercept: bool
    rows: list[Row] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, verdict: str) -> int:
        return sum(row.verdict == verdict for row in self.rows)

    @property
    def passed(self) -> bool:
        return self.count(FAIL) == 0

    @property
    def heading(self) -> str:
        return (f"{self.name} ({self.shape}; Python {self.python}; reached through "
                f"{self.route})")

    @property
    def totals(self) -> str:
        return (f"{len(self.rows)} checks: {self.count(PASS)} pass, {self.count(FAIL)} fail, "
                f"{self.count(NOT_APPLICABLE)} n/a")

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}

    def text(self) -> str:
        lines = [f"Report card of {self.target}", f"  {self.heading}"]
        for row in self.rows:
            verdict = row.verdict.upper() if row.verdict == FAIL else row.verdict
            what = "; ".join(row.problems) if row.problems else row.seen
            lines.append(f"  {verdict:<5} {row.key:<{CHECK_WIDTH}} {what}")
        lines += [self.totals, f"graded in {self.seconds:.1f} s"]
        return "\n".join(lines)

    def markdown(self) -> str:
        lines = [f"# Report card of `{self.target}`", "", escape(self.heading), "",
                 "| check | verdict | what was seen |", "| --- | --- | --- |"]
        for row in self.rows:
            what = "; ".join(row.problems) if row.problems else row.seen
            lines.append(f"| {escape(row.key)} | {row.verdict} | {escape(what)} |")
        lines += ["", f"{self.totals}; graded in {self.seconds:.1f} s", ""]
        return "\n".join(lines)


def escape(text: str) -> str:
    """Text for a Markdown table's cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def write_json(card: Card, path: str) -> None:
    with open(path, "w", encoding="utf-8") as file:
        json.dump(card.to_json(), file, indent=2, ensure_ascii=False)
        file.write("\n")
