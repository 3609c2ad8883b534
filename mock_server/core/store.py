"""Where the mock keeps its state: the journal of requests and the queue of scripted replies.

``Store`` is the narrow interface the rest of the mock uses; ``MemoryStore`` keeps both in
this process, behind one lock. A store shared by several worker processes only has to
implement the same few methods.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

DEFAULT_JOURNAL_CAP = 10_000
DEFAULT_QUEUE_CAP = 10_000


def check_cap(cap: Any) -> int:
    """``cap`` if it is a journal cap (a whole number of 1 or more), else ``ValueError``."""
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
        raise ValueError(f"journal cap must be a whole number of 1 or more; got {cap!r}")
    return cap


def open_store(spec: str, cap: int = DEFAULT_JOURNAL_CAP) -> Store:
    """The store a text setting names: ``memory``, or ``sqlite:PATH`` (a file any number of
    worker processes share; created if need be, kept when the mock stops)."""
    if spec == "memory":
        return MemoryStore(cap)
    kind, _, path = spec.partition(":")
    if kind == "sqlite" and path:
        from .sqlite_store import SQLiteStore
        return SQLiteStore(path, cap)
    raise ValueError(f"a store is 'memory' or 'sqlite:PATH'; got {spec!r}")


class QueueFullError(Exception):
    """More scripted replies than the queue holds."""


@runtime_checkable
class Store(Protocol):
    """The journal and the reply queue. Every method is safe to call from several threads."""

    def append(self, entry: Mapping[str, Any]) -> int:
        """Record a journal entry (without ``id``); return the id given to it."""
        ...

    def append_then(self, entry: Mapping[str, Any],
                    then: Callable[[int], None] | None) -> int:
        """``append``, then ``then(id)`` before any other entry is appended, by any thread or
        process sharing the store: the journal writes its JSON-lines file there, so that the
        file's lines are in id order."""
        ...

    def entries(self, *, path: str | None = None, limit: int | None = None
                ) -> tuple[int, list[dict[str, Any]]]:
        """``(total, entries)``: how many entries matching ``path`` were recorded since the
        last clear (those dropped for the cap included), and the most recent ``limit`` of
        those still held, oldest first."""
        ...

    def clear(self) -> int:
        """Empty the journal; return how many entries were recorded since the last clear."""
        ...

    def push_replies(self, replies: Sequence[Mapping[str, Any]]) -> int:
        """Queue normalised replies at the end, all or none; return how many were queued.
        Raise ``QueueFullError`` when they do not fit."""
        ...

    def pop_reply(self) -> dict[str, Any] | None:
        """The reply to use now, honouring ``times``; ``None`` when the queue is empty."""
        ...

    def replies(self) -> list[dict[str, Any]]:
        """The queued replies, next first, ``times`` being the uses left."""
        ...

    def clear_replies(self) -> int:
        """Empty the queue; return how many replies it held."""
        ...

    def close(self) -> None:
        """Let go of what the store holds open (files, connections); using it again reopens."""
        ...


class MemoryStore:
    """A thread-safe in-memory store; the journal keeps the most recent ``cap`` entries."""

    def __init__(self, cap: int = DEFAULT_JOURNAL_CAP, queue_cap: int = DEFAULT_QUEUE_CAP) -> None:
        self.cap = check_cap(cap)
        self.queue_cap = queue_cap
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=cap)
        self._next_id = 1
        self._total = 0
        # Per path, so that a filtered total still counts the entries dropped for the cap.
        self._per_path: Counter[str] = Counter()
        self._queue: deque[dict[str, Any]] = deque()

    def append(self, entry: Mapping[str, Any]) -> int:
        return self.append_then(entry, None)

    def append_then(self, entry: Mapping[str, Any],
                    then: Callable[[int], None] | None) -> int:
        with self._lock:
            entry_id = self._next_id
            self._next_id += 1
            self._entries.append({"id": entry_id, **entry})
            self._total += 1
            self._per_path[str(entry.get("path"))] += 1
            if then is not None:
                then(entry_id)
            return entry_id

    def entries(self, *, path: str | None = None, limit: int | None = None
                ) -> tuple[int, list[dict[str, Any]]]:
        with self._lock:
            if path is None:
                total, held = self._total, list(self._entries)
            else:
                total = self._per_path.get(path, 0)
                held = [entry for entry in self._entries if entry.get("path") == path]
        if limit is not None:
            # Clamped at 0: a limit above the count held but under twice it would slice
            # from a negative index and return only the last few.
            held = held[max(len(held) - limit, 0):]
        return total, held

    def clear(self) -> int:
        with self._lock:
            total = self._total
            self._entries.clear()
            self._per_path.clear()
            self._total = 0
            return total

    def push_replies(self, replies: Sequence[Mapping[str, Any]]) -> int:
        with self._lock:
            if len(self._queue) + len(replies) > self.queue_cap:
                raise QueueFullError(
                    f"the reply queue holds at most {self.queue_cap} replies; it has "
                    f"{len(self._queue)}, {len(replies)} more do not fit")
            self._queue.extend(dict(reply) for reply in replies)
            return len(replies)

    def pop_reply(self) -> dict[str, Any] | None:
        with self._lock:
            if not self._queue:
                return None
            head = self._queue[0]
            if head["times"] <= 1:
                self._queue.popleft()
                return head
            head["times"] -= 1
            return {**head, "times": 1}

    def replies(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(reply) for reply in self._queue]

    def clear_replies(self) -> int:
        with self._lock:
            count = len(self._queue)
            self._queue.clear()
            return count

    def close(self) -> None:
        """Nothing to let go of: the state lives as long as the object."""
