"""``python -m mock_server.grade TARGET``: the ``aichat-mock grade`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
