"""``python -m mock_server``: the ``aichat-mock`` command."""

import sys

from .serve import main

if __name__ == "__main__":
    sys.exit(main())
