"""A Flask stand-in for chat-gpt.org: the ``/api/text`` endpoint and ``/chat`` page of the real
site, with a journal of every request and scripted replies and faults, driven through the
``/__mock__/`` admin API.

``create_app(config)`` builds the Flask application; ``python -m mock_server`` (or the
``aichat-mock`` command) serves it. The behaviour itself lives in ``mock_server.engine``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .app import CONFIG_DEFAULTS, create_app, engine_of
from .engine import Engine
from .store import MemoryStore, Store
from .wire import Answer, IncomingRequest

try:
    __version__ = version("aichat")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0.0.0"

__all__ = [
    "CONFIG_DEFAULTS",
    "Answer",
    "Engine",
    "IncomingRequest",
    "MemoryStore",
    "Store",
    "__version__",
    "create_app",
    "engine_of",
]
