"""A Flask stand-in for chat-gpt.org: the ``/api/text`` endpoint and ``/chat`` page of the real
site, with a journal of every request and scripted replies and faults, driven through the
``/__mock__/`` admin API.

``create_app(config)`` builds the Flask application; ``python -m mock_server`` (or the
``aichat-mock`` command) serves it. The behaviour itself lives in ``mock_server.engine``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import CONFIG_DEFAULTS, create_app, engine_of
    from .engine import Engine
    from .store import MemoryStore, Store
    from .wire import Answer, IncomingRequest

    __version__: str

# The exports are imported on first use (PEP 562): pytest imports this package at every start
# in any environment that has it installed (the plugin of the pytest11 entry point lives in
# it), and Flask alone would add some 150 ms to each run, used or not.
_EXPORTS = {
    "CONFIG_DEFAULTS": "app",
    "create_app": "app",
    "engine_of": "app",
    "Engine": "engine",
    "MemoryStore": "store",
    "Store": "store",
    "Answer": "wire",
    "IncomingRequest": "wire",
}

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


def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aichat")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0.0.0"


if not TYPE_CHECKING:  # type checkers see the imports above, and no catch-all for typos
    def __getattr__(name: str) -> Any:
        if name == "__version__":
            value: Any = _installed_version()
        elif name in _EXPORTS:
            value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        else:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        globals()[name] = value  # found once; later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *__all__})
