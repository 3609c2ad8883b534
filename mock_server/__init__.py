"""A Flask stand-in for chat-gpt.org: the ``/api/text`` endpoint and ``/chat`` page of the real
site, with a journal of every request and scripted replies and faults, driven through the
``/__mock__/`` admin API.

``create_app(config)`` builds the Flask application; ``python -m mock_server`` (or the
``aichat-mock`` command) serves it. The package is five layers, each importing only those
below it: ``core`` (the behaviour, no Flask), ``web`` (the Flask adapter), ``testing`` (the
test kit, its carriers and fixtures), ``grade`` (the grader of clients) and ``serve`` (the
command, its servers, the demo).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core.engine import Engine
    from .core.errors import (
        MatchError,
        MockError,
        QueueFullError,
        ReplyError,
        SettingsError,
        StoreRefusedError,
        UnknownReplyError,
    )
    from .core.records import JournalEntry, QueuedReply, ScriptedReply
    from .core.sqlite_store import SQLiteStore
    from .core.store import MemoryStore, Store
    from .core.store_setting import open_store
    from .core.wire import Answer, IncomingRequest
    from .testing.child_process import MockProcess
    from .testing.kit import AichatMock
    from .testing.remote import RemoteMock
    from .testing.socketless import InProcessMock
    from .testing.thread_server import LiveServer
    from .web.app import CONFIG_DEFAULTS, create_app, engine_of

    __version__: str

#: What to install for the mock server, and for the kit and fixtures, for messages that say so.
MOCK_EXTRA = "g4f-aichat[mock]"
TESTING_EXTRA = "g4f-aichat[testing]"

# The exports are imported on first use (PEP 562): pytest imports this package at every start
# in any environment that has it installed (the plugin of the pytest11 entry point lives in
# it), and Flask alone would add some 150 ms to each run, used or not.
_EXPORTS = {
    "CONFIG_DEFAULTS": "web.app",
    "create_app": "web.app",
    "engine_of": "web.app",
    "Engine": "core.engine",
    "JournalEntry": "core.records",
    "QueuedReply": "core.records",
    "ScriptedReply": "core.records",
    "MockError": "core.errors",
    "MatchError": "core.errors",
    "ReplyError": "core.errors",
    "UnknownReplyError": "core.errors",
    "SettingsError": "core.errors",
    "QueueFullError": "core.errors",
    "StoreRefusedError": "core.errors",
    "MemoryStore": "core.store",
    "Store": "core.store",
    "open_store": "core.store_setting",
    "SQLiteStore": "core.sqlite_store",
    "Answer": "core.wire",
    "IncomingRequest": "core.wire",
    "MockProcess": "testing.child_process",
    "AichatMock": "testing.kit",
    "RemoteMock": "testing.remote",
    "InProcessMock": "testing.socketless",
    "LiveServer": "testing.thread_server",
}
# The extra each export needs, where it is not the mock's: the kit on responses.
_EXTRAS = {"InProcessMock": TESTING_EXTRA}

__all__ = [
    "CONFIG_DEFAULTS",
    "AichatMock",
    "Answer",
    "Engine",
    "InProcessMock",
    "IncomingRequest",
    "JournalEntry",
    "LiveServer",
    "MatchError",
    "MemoryStore",
    "MockError",
    "MockProcess",
    "QueueFullError",
    "QueuedReply",
    "RemoteMock",
    "ReplyError",
    "SQLiteStore",
    "ScriptedReply",
    "SettingsError",
    "Store",
    "StoreRefusedError",
    "UnknownReplyError",
    "__version__",
    "create_app",
    "engine_of",
    "open_store",
]


def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("g4f-aichat")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0.0.0"


def _export(name: str) -> Any:
    """The export ``name``, imported; without the libraries of its extra, one line that says
    which extra to install instead of the import error of whichever library came first."""
    try:
        module = importlib.import_module(f".{_EXPORTS[name]}", __name__)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if missing.partition(".")[0] in (__name__, ""):
            raise
        raise ModuleNotFoundError(
            f"{__name__}.{name} needs {missing}, which is not installed: "
            f"pip install '{_EXTRAS.get(name, MOCK_EXTRA)}'", name=missing) from None
    return getattr(module, name)


if not TYPE_CHECKING:  # type checkers see the imports above, and no catch-all for typos
    def __getattr__(name: str) -> Any:
        if name == "__version__":
            value: Any = _installed_version()
        elif name in _EXPORTS:
            value = _export(name)
        else:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        globals()[name] = value  # found once; later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *__all__})
