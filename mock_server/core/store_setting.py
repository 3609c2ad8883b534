"""The store a text setting names (``MOCK_STORE``, ``--store``): ``memory``, or ``sqlite:PATH``."""

from __future__ import annotations

from .sqlite_store import SQLiteStore
from .store import DEFAULT_JOURNAL_CAP, MemoryStore, Store


def open_store(spec: str, cap: int = DEFAULT_JOURNAL_CAP) -> Store:
    """The store a text setting names: ``memory``, or ``sqlite:PATH`` (a file any number of
    worker processes share; created if need be, kept when the mock stops)."""
    if spec == "memory":
        return MemoryStore(cap)
    kind, _, path = spec.partition(":")
    if kind == "sqlite" and path:
        return SQLiteStore(path, cap)
    raise ValueError(f"a store is 'memory' or 'sqlite:PATH'; got {spec!r}")
