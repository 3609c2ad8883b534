"""The results of ``mutmut run`` (in mutants/) as a section of docs/testing.md: the score per
file and every surviving mutant with its one-line change and why it is left.

    python -m bench.mutation_report --part provider                      # print the section
    python -m bench.mutation_report --part mock --doc docs/testing.md

make mutants runs mutmut over the provider (``--part provider``: aichat/) and make mutants-mock
over the mock's core (``--part mock``: mock_server/), each into a fresh mutants/ and each part
into a section of its own: the files of the other part are left out of the section.

Each survivor is matched to a reason in bench/survivors.py by its function and the text of its
changed line (mutmut's mutant numbers move whenever a function changes; the changed line does
not). A survivor without a reason is listed as **unexplained**, and the script exits 1: either
a test should kill it, or a reason should say why it need not.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.survivors import REASONS

# Detected: a test failed, or the mutant hung past its time (a hang is caught too).
DETECTED = {"killed", "timeout", "caught by type check", "segfault"}
# Each part: the files it covers (a prefix of their path) and the markers of its section.
PARTS = {
    "provider": ("aichat/", "<!-- mutmut:begin -->", "<!-- mutmut:end -->"),
    "mock": ("mock_server/", "<!-- mutmut-mock:begin -->", "<!-- mutmut-mock:end -->"),
}


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    status: str
    function: str  # mutmut's name of the function, e.g. x__send or xǁ_Retryǁincrement
    removed: str  # the original line (stripped), or "" when the change adds a line
    added: str  # the changed line (stripped), or "" when the change removes a line


def _changed_lines(diff: str) -> tuple[str, str]:
    removed = [line[1:].strip() for line in diff.splitlines()
               if line.startswith("-") and not line.startswith("---")]
    added = [line[1:].strip() for line in diff.splitlines()
             if line.startswith("+") and not line.startswith("+++")]
    return (" / ".join(removed), " / ".join(added))


def load(prefix: str = "") -> list[Mutant]:
    """Every mutant of the last run in the files whose path starts with ``prefix``, with the
    changed line of those that were not detected."""
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code
    from mutmut.utils.file_utils import walk_mutatable_files

    mutants = []
    for path in walk_mutatable_files():
        if not str(path).startswith(prefix):
            continue
        data = SourceFileMutationData(path=path)
        data.load()
        for name, exit_code in sorted(data.exit_code_by_key.items()):
            status = status_by_exit_code[exit_code]
            function = name.rpartition(".")[2].rpartition("__mutmut_")[0]
            removed = added = ""
            if status not in DETECTED:
                removed, added = _changed_lines(get_diff_for_mutant(name, path=path))
            mutants.append(Mutant(name, str(path), status, function, removed, added))
    return mutants


def _matches(changed: str, line: str) -> bool:
    # "^...$": the whole changed line; anything else: a piece of it.
    if len(changed) > 1 and changed.startswith("^") and changed.endswith("$"):
        return line == changed[1:-1]
    return changed in line


def reason_for(mutant: Mutant) -> str | None:
    for function, changed, reason in REASONS:
        if function == mutant.function and _matches(changed, mutant.added or mutant.removed):
            return reason
    return None


def _cell(text: str) -> str:
    text = text.replace("|", "\\|").replace("`", "'")
    return text if len(text) <= 110 else text[:107] + "..."


def section(mutants: list[Mutant]) -> tuple[str, int]:
    """The Markdown section, and how many survivors have no reason."""
    lines = ["| file | mutants | killed | timeout | survived | no tests | score |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for path in sorted({mutant.path for mutant in mutants}):
        counts = Counter(mutant.status for mutant in mutants if mutant.path == path)
        total = sum(counts.values())
        detected = sum(counts[status] for status in DETECTED)
        lines.append(f"| `{path}` | {total} | {counts['killed']} | {counts['timeout']} | "
                     f"{counts['survived']} | {counts['no tests']} | "
                     f"{100 * detected / total:.1f} % |")
    lines.append("")
    lines.append("The score is the share of mutants detected: a test failed (killed) or the "
                 "mutant ran past its time limit (timeout).")
    lines.append("")
    left = [mutant for mutant in mutants if mutant.status not in DETECTED]
    unexplained = 0
    lines.append(f"Survivors ({len(left)}), each with why it is left:")
    lines.append("")
    lines.append("| mutant | changed line | status | why it is left |")
    lines.append("| --- | --- | --- | --- |")
    for mutant in left:
        reason = reason_for(mutant)
        if reason is None:
            unexplained += 1
            reason = "**unexplained**"
        change = mutant.added or f"(removed) {mutant.removed}"
        lines.append(f"| `{mutant.name.rpartition('.')[2]}` | `{_cell(change)}` | "
                     f"{mutant.status} | {reason} |")
    return "\n".join(lines) + "\n", unexplained


def write_doc(path: Path, text: str, begin: str, end_marker: str) -> None:
    document = path.read_text(encoding="utf-8")
    start, end = document.index(begin) + len(begin), document.index(end_marker)
    path.write_text(document[:start] + "\n" + text + document[end:], encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=sorted(PARTS), required=True,
                        help="the files of make mutants (provider) or make mutants-mock (mock)")
    parser.add_argument("--doc", type=Path, help="write the section into this file")
    args = parser.parse_args(argv)
    prefix, begin, end = PARTS[args.part]
    mutants = load(prefix)
    if not mutants or any(mutant.status == "not checked" for mutant in mutants):
        print(f"mutants/ holds no finished run of the {args.part} part", file=sys.stderr)
        return 1
    text, unexplained = section(mutants)
    print(text)
    if args.doc:
        write_doc(args.doc, text, begin, end)
    if unexplained:
        print(f"{unexplained} survivors have no reason in bench/survivors.py", file=sys.stderr)
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
