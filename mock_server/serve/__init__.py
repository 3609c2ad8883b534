"""Running the mock: the ``aichat-mock`` command (``cli``), its own server (``own_server``)
and the WSGI servers it can run on (``servers``), its certificate authority for
``--intercept`` (``certificates``), ``make demo`` (``demo``) and ``make demo-api``
(``demo_api``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .. import MOCK_EXTRA as MOCK_EXTRA  # re-exported: serve.cli names it in its messages


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
