"""The lowest versions the project claims (the ``>=`` bounds in pyproject.toml) of what the
provider, the mock and its fixtures need. make test's second environment installs exactly
these (``python tests/distribution/floors.py`` prints them as pip constraints), so a lower bound is
a version the tests ran on, not a guess.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10: pytest brings tomli there
    import tomli as tomllib

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
# The extras a user of the provider, the mock or the fixtures installs (README.md, Install).
EXTRAS = ("mock", "testing")
BOUND = re.compile(r"([A-Za-z0-9_.-]+)(?:\[[^]]*\])?\s*>=\s*([^,;\s]+)")


def floors() -> dict[str, str]:
    """Each third-party requirement's lowest version, by distribution name."""
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    requirements = [*project["dependencies"],
                     *(item for extra in EXTRAS
                       for item in project["optional-dependencies"][extra])]
    found = {}
    for requirement in requirements:
        match = BOUND.match(requirement)
        if match and match.group(1) != project["name"]:
            found[match.group(1).lower()] = match.group(2)
    return found


if __name__ == "__main__":
    sys.stdout.write("".join(f"{name}=={low}\n" for name, low in floors().items()))
