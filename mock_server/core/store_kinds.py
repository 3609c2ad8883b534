"""The interfaces of a store (``store.py`` has the overview): ``Store``, which every store
implements, and what the mock's own stores add for the journal's speed (``RawStore``,
``PendingStore``, ``QuietStore``, ``BatchingStore``), each checked with ``isinstance``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol, runtime_checkable

from .matching import Facts
from .raw_record import RawRecord, Recorded


class Taken(NamedTuple):
    """What ``Store.take_reply`` found: the reply that answers (or ``None``), and the
    namespace's own settings (or ``None``), read together."""

    reply: dict[str, Any] | None
    settings: dict[str, Any] | None


@runtime_checkable
class Store(Protocol):
    """The journal, and the reply queues and settings of the namespaces. Every method is safe
    to call from several threads. A journal entry's ``namespace`` key says whose it is."""

    def append(self, entry: Mapping[str, Any]) -> int:
        """Record a journal entry (without ``id``; its ``namespace`` key says whose it is);
        return the id given to it: increasing over every namespace, never reused."""
        ...

    def append_then(self, entry: Mapping[str, Any],
                    then: Callable[[int], None] | None) -> int:
        """``append``, then ``then(id)`` before any other entry is appended, by any thread or
        process sharing the store: the journal writes its JSON-lines file there, so that the
        file's lines are in id order."""
        ...

    def entries(self, *, namespace: str | None = "", path: str | None = None,
                limit: int | None = None, before_id: int | None = None
                ) -> tuple[int, list[dict[str, Any]]]:
        """``(total, entries)``: how many entries of ``namespace`` (``None``: of every one)
        matching ``path`` were recorded since that namespace's last clear (those dropped for
        the cap included, of each path of which an entry is still held), and the most recent
        ``limit`` of those still held whose id is below ``before_id`` (``None``: any), oldest
        first."""
        ...

    def clear(self, *, namespace: str | None = "") -> int:
        """Empty ``namespace``'s view of the journal (``None``: the whole journal); return
        how many entries it had recorded since its last clear."""
        ...

    def namespaces(self, *, limit: int | None = None, after: str | None = None
                   ) -> tuple[int, list[dict[str, Any]]]:
        """``(total, page)``: how many namespaces have entries held, replies queued or settings
        of their own, the default one always; and the first ``limit`` (``None``: all) of them
        by name whose name sorts after ``after`` (``None``: from the first), each
        ``{"name", "requests", "replies"}``, ``requests`` being the namespace's total."""
        ...

    def push_replies(self, replies: Sequence[Mapping[str, Any]], *, namespace: str = ""
                     ) -> list[str]:
        """Queue normalised replies at the end of ``namespace``'s queue, all or none; return
        the ids given to them, in order (unique in the store's life). Raise
        ``QueueFullError`` when they do not fit."""
        ...

    def take_reply(self, facts: Facts, *, namespace: str = "") -> Taken:
        """The first reply of ``namespace``'s queue whose ``match`` holds for ``facts``, its
        use counted (``times`` down by one, and out of the queue at 0; never for a standing
        reply, whose ``times`` is ``None``), or ``None`` when no reply holds; and, read with
        it, the namespace's own settings (``None``: the server's). The reply, with its
        ``id``, is the caller's to read, not to change."""
        ...

    def replies(self, *, namespace: str = "") -> list[dict[str, Any]]:
        """``namespace``'s queued replies in queue order, each with its ``id`` first and
        ``times`` being the uses left."""
        ...

    def remove_reply(self, reply_id: str, *, namespace: str = "") -> bool:
        """Take reply ``reply_id`` out of ``namespace``'s queue; ``False`` when it is not
        there."""
        ...

    def clear_replies(self, *, namespace: str = "") -> int:
        """Empty ``namespace``'s queue; return how many replies it held."""
        ...

    def settings(self, *, namespace: str = "") -> dict[str, Any] | None:
        """``namespace``'s own settings (its reply mode), or ``None`` for the server's."""
        ...

    def put_settings(self, settings: Mapping[str, Any] | None, *, namespace: str = "") -> None:
        """Give ``namespace`` settings of its own, or (``None``) the server's again."""
        ...

    def close(self) -> None:
        """Let go of what the store holds open (files, connections); using it again reopens."""
        ...


@runtime_checkable
class RawStore(Protocol):
    """A store that keeps the journal's raw records and derives each entry when it is first
    read (the mock's own stores); any other ``Store`` is handed the derived entry."""

    def append_raw(self, raw: RawRecord, then: Callable[[int], None] | None = None) -> int:
        """``append_then`` of a raw record: its id, after ``then(id)``. A store that is
        batching gives 0: the id is known once ``flush`` writes it."""
        ...


@runtime_checkable
class PendingStore(Protocol):
    """A store in memory that can keep a record still to be made (``raw_record.realized``):
    nothing of it is written, so it is made only when first read."""

    def append_pending(self, record: Recorded, namespace: str, path: str,
                       then: Callable[[int], None] | None = None) -> int:
        """``append_raw`` of a record, made or not, of a request to ``path`` in
        ``namespace``."""
        ...

    #: Requests answered again (``Journal.again``), two items each: the first such request's
    #: record, kept unmade, and this one's time. Added in one ``list.extend`` (atomic),
    #: without a call or the lock, never replaced; recorded, in order, before anything else
    #: the store records or reads of its journal.
    inbox: list[Any]
    #: The length of ``inbox`` at which ``take_inbox`` is called (the store moves it).
    inbox_mark: int

    def take_inbox(self) -> None:
        """Keep ``inbox`` bounded: record what waits there, or count what the cap would drop."""
        ...


@runtime_checkable
class QuietStore(Protocol):
    """A store that can tell when ``take_reply`` finds nothing for any request: no reply
    queued, no namespace's settings (``Engine.repeat``); not one other processes change."""

    def quiet(self) -> bool: ...


@runtime_checkable
class BatchingStore(Protocol):
    """A store that can keep raw records for one write of many (one transaction a turn of the
    mock's own server's event loop): ``batch`` set, ``append_raw`` keeps them, ``flush``
    writes them."""

    batch: bool

    @property
    def waiting(self) -> int:
        """How many records wait for ``flush``."""
        ...

    def flush(self) -> int:
        """Write the records that wait, in one go; how many were written."""
        ...
