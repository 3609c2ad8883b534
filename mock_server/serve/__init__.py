"""Running the mock: the ``aichat-mock`` command (``cli``), the WSGI servers it can run on
(``servers``), the command as a child process of another program (``child_process``), and
``make demo`` (``demo``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .. import MOCK_EXTRA as MOCK_EXTRA  # re-exported: serve.cli names it in its messages

#: The start of the first line the command prints on standard output, before its URL.
LISTENING = "aichat-mock listening on"


def main(argv: Sequence[str] | None = None) -> int:
    """The ``aichat-mock`` command; without the mock's extra installed, one line that says
    which to install (exit 1) instead of an import traceback."""
    try:
        from .cli import main as command
    except ModuleNotFoundError as error:
        if (error.name or "").partition(".")[0] in ("mock_server", ""):
            raise
        print(f"aichat-mock: the mock server needs {error.name}, which is not installed: "
              f"pip install '{MOCK_EXTRA}'", file=sys.stderr)
        return 1
    return command(argv)
