"""Why each mutant that survives ``make mutants`` is left: equivalent (no test could tell it
from the original) or harmless (what it changes is outside what the provider promises).

Each row: mutmut's function name, a piece of the changed line, the one-line reason.
bench/mutation_report.py matches the survivors of a run against these rows.
"""

from __future__ import annotations

REASONS: list[tuple[str, str, str]] = [
]
