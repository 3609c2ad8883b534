"""Where the mock keeps its state: the journal of requests, and per namespace the queue of
scripted replies and the reply mode.

``Store`` (``store_kinds.py``) is the narrow interface the rest of the mock uses;
``MemoryStore`` keeps everything in this process, behind one lock. What a store keeps is
bounded by its journal's cap: the count of a path's entries dropped for the cap is kept only
while the journal still holds one of that path's entries in that namespace, so that clients
making up namespaces and paths without end cannot grow it. A store shared by several worker
processes only has to implement the same few methods (``sqlite_store.SQLiteStore``). The
mock's own stores also keep the journal's raw records (``RawStore``), and the SQLite one
writes them in batches when asked (``BatchingStore``). ``store_setting.open_store`` makes
the one a text setting names.
"""

from __future__ import annotations

import bisect
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from itertools import groupby, repeat
from operator import attrgetter, itemgetter
from typing import Any

from .errors import QueueFullError
from .matching import Facts, Match, Selector, compile_match
from .raw_record import REQUEST, RawRecord, Recorded, derive, made_again, realized
from .store_kinds import BatchingStore as BatchingStore
from .store_kinds import PendingStore as PendingStore
from .store_kinds import QuietStore as QuietStore
from .store_kinds import RawStore as RawStore
from .store_kinds import Store as Store
from .store_kinds import Taken as Taken
from .wire import json_bytes

DEFAULT_JOURNAL_CAP = 10_000
DEFAULT_QUEUE_CAP = 10_000
# The most the reply queues of a store hold in all, in bytes of the replies as JSON.
DEFAULT_QUEUE_BYTES = 64 << 20


def check_cap(cap: Any) -> int:
    """``cap`` if it is a journal cap (a whole number of 1 or more), else ``ValueError``."""
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
        raise ValueError(f"journal cap must be a whole number of 1 or more; got {cap!r}")
    return cap


# Nothing taken, no settings of its own: the usual answer, made once.
_NOTHING = Taken(None, None)


class Queued:
    """A reply in a queue: the stored reply (``id`` first), its checked match, and its size
    in bytes as JSON (counted against the queue's cap in bytes)."""

    __slots__ = ("match", "reply", "size")

    def __init__(self, reply: dict[str, Any], match: Match | None = None,
                 size: int = 0) -> None:
        self.reply = reply
        self.match = match if match is not None else compile_match(reply.get("match"))
        self.size = size


def queue_full(cap: int, bytes_cap: int, held: int, held_bytes: int, adding: int,
               adding_bytes: int) -> QueueFullError | None:
    """Why ``adding`` replies of ``adding_bytes`` do not fit beside what is held, or ``None``."""
    if held + adding > cap:
        return QueueFullError(f"the reply queue holds at most {cap} replies; it has {held}, "
                              f"{adding} more do not fit")
    if held_bytes + adding_bytes > bytes_cap:
        return QueueFullError(f"the reply queue holds at most {bytes_cap} bytes of replies; "
                              f"it has {held_bytes}, {adding_bytes} more do not fit")
    return None


def page_of_names(names: list[str], limit: int | None, after: str | None) -> list[str]:
    """The first ``limit`` (``None``: all) of the sorted ``names`` that sort after ``after``
    (``None``: from the first)."""
    start = 0 if after is None else bisect.bisect_right(names, after)
    return names[start:] if limit is None else names[start:start + limit]


def reply_id(number: int) -> str:
    """The id of the ``number``-th reply a store queued."""
    return f"r{number}"


class ReplyQueue:
    """A namespace's queued replies in order, and the selector that finds the first whose
    match holds (built when first needed after a change)."""

    __slots__ = ("_selector", "items")

    def __init__(self, items: list[Queued] | None = None) -> None:
        self.items: list[Queued] = items if items is not None else []
        self._selector: Selector | None = None

    def first(self, facts: Facts) -> int:
        """The index of the first reply whose match holds for ``facts``, or -1."""
        if not self.items:
            return -1
        if self._selector is None:
            self._selector = Selector([item.match for item in self.items])
        return self._selector.first(facts)

    def changed(self) -> None:
        """Replies were added or taken out: the selector is made again when next needed."""
        self._selector = None


class MemoryStore:
    """A thread-safe in-memory store; the journal keeps the most recent ``cap`` entries of all
    namespaces together. Entries recorded raw (``append_raw``) are derived when first read.
    Requests answered again come in through ``inbox``, not ``append_pending``, and are taken
    in by every method that reads or adds to the journal: a subclass that overrides one sees
    them only through its parent's."""

    def __init__(self, cap: int = DEFAULT_JOURNAL_CAP, queue_cap: int = DEFAULT_QUEUE_CAP,
                 queue_bytes: int = DEFAULT_QUEUE_BYTES) -> None:
        self.cap = check_cap(cap)
        self.queue_cap = queue_cap
        self.queue_bytes = queue_bytes
        self._queued_bytes = 0
        self._lock = threading.Lock()
        # [id, namespace, path, the entry or its raw record (replaced by the entry once read)]
        self._entries: deque[list[Any]] = deque(maxlen=cap)
        self._next_id = 1
        # Requests answered again (PendingStore.inbox), and when to look at them again.
        self.inbox: list[Any] = []
        self.inbox_mark = 2 * INBOX_LOOK
        # How many of its first items take_inbox found all of one place, that place, and how
        # many requests to it before them the cap dropped (counted when taken in).
        self._inbox_seen = 0
        self._inbox_place: tuple[str, str] = ("", "")
        self._inbox_dropped = 0
        # Per namespace, and per namespace and path, so that a filtered total still counts
        # the entries dropped for the cap; a path's count goes (and leaves its namespace's)
        # with the last of its entries held (_held), so that there are never more counters
        # than entries.
        # (Plain dictionaries: the interpreter's fast path for a dict does not take a Counter.)
        self._totals: dict[str, int] = {}
        self._per_path: dict[tuple[str, str], int] = {}
        self._held: dict[tuple[str, str], int] = {}
        self._queues: dict[str, ReplyQueue] = {}
        self._queued = 0
        self._next_reply = 1
        self._settings: dict[str, dict[str, Any]] = {}

    def append(self, entry: Mapping[str, Any]) -> int:
        return self.append_then(entry, None)

    def append_then(self, entry: Mapping[str, Any],
                    then: Callable[[int], None] | None) -> int:
        namespace, path = str(entry.get("namespace", "")), str(entry.get("path"))
        with self._lock:
            if self.inbox:
                self._take_inbox()
            entry_id = self._next_id
            self._next_id += 1
            self._add([entry_id, namespace, path, {"id": entry_id, **entry}])
            if then is not None:
                then(entry_id)
            return entry_id

    def append_raw(self, raw: RawRecord, then: Callable[[int], None] | None = None) -> int:
        """Record a raw journal record (``journal.raw_record``); its entry is derived when
        first read."""
        return self.append_pending(raw, raw[1], raw[3], then)

    def append_pending(self, record: Recorded, namespace: str, path: str,
                       then: Callable[[int], None] | None = None) -> int:
        """Record a raw record, or one still to be made (``raw_record.realized``), of a request
        to ``path`` in ``namespace``; it is made and its entry derived when first read."""
        # acquire and release, not "with": half the cost, on every request.
        lock = self._lock
        lock.acquire()
        try:
            if self.inbox:
                self._take_inbox()
            entry_id = self._next_id
            self._next_id = entry_id + 1
            entries = self._entries
            if len(entries) == self.cap and (oldest := entries[0])[1] == namespace and \
                    oldest[2] == path:
                # _add's usual case without the call: the oldest entry, of the same path,
                # leaves; what is held of the path stays as it is.
                self._totals[namespace] += 1
                self._per_path[namespace, path] += 1
                entries.append([entry_id, namespace, path, record])
            else:
                self._add([entry_id, namespace, path, record])
            if then is not None:
                then(entry_id)
            return entry_id
        finally:
            lock.release()

    def take_inbox(self) -> None:
        with self._lock:
            inbox = self.inbox
            size, seen = len(inbox), self._inbox_seen
            place = self._one_place(inbox[seen:size:2])
            if place is None or (seen and place != self._inbox_place):
                self._take_inbox()
                return
            # All of one place: only the newest ``cap`` will be held, and the older ones need
            # only be counted, here, without being made or held. Their place holds an entry
            # from the first of them on (the newest is of it), so its count never starts
            # afresh among them; what else the journal holds leaves when the newest are held.
            dropped = size // 2 - self.cap
            if dropped > 0:
                self._inbox_dropped += dropped
                del inbox[:2 * dropped]
                size -= 2 * dropped
            self._inbox_seen, self._inbox_place = size, place
            # Looked at again when the cap and as many again wait (at least 64 more than the
            # cap): two items a request.
            self.inbox_mark = 2 * (self.cap + max(self.cap, INBOX_LOOK))

    def _take_inbox(self) -> None:
        """Under the lock: hold and count what waits in the inbox, in order, a run of one
        place at once (a client's load is runs of one request); in C but for a call a run."""
        inbox = self.inbox
        size = len(inbox)
        if self._inbox_dropped:
            # Those the cap dropped came first: their ids, then the ones still waiting.
            self._count(self._inbox_place, self._inbox_dropped)
            self._next_id += self._inbox_dropped
            self._inbox_dropped = 0
        if not size:
            return
        # As many as wait now: more may come meanwhile, from a thread without the lock.
        firsts, stamps = inbox[0:size:2], inbox[1:size:2]
        del inbox[:size]
        self.inbox_mark, self._inbox_seen = 2 * INBOX_LOOK, 0
        if len(firsts) > self.cap and (place := self._one_place(firsts)) is not None:
            dropped = len(firsts) - self.cap
            self._count(place, dropped)
            self._next_id += dropped
            firsts, stamps = firsts[dropped:], stamps[dropped:]
        count = len(firsts)
        first_id = self._next_id
        self._next_id = first_id + count
        places = list(map(_PLACE, map(_REQUEST, firsts)))
        records = zip(repeat(made_again, count), stamps, firsts, strict=True)
        items = list(map(list, zip(range(first_id, first_id + count), map(_NAMESPACE, places),
                                   map(_PATH, places), records, strict=True)))
        if places.count(places[0]) == count:
            self._add_run(items, places[0])
            return
        start = 0
        for place, run in groupby(places):
            end = start + len(list(run))
            self._add_run(items[start:end], place)
            start = end

    @staticmethod
    def _one_place(firsts: list[Any]) -> tuple[str, str] | None:
        """The (namespace, path) of every request answered again in ``firsts`` (by their first
        records), if they have one; else ``None``."""
        distinct = dict(zip(map(id, firsts), firsts, strict=True)).values()
        places = set(map(_PLACE, map(_REQUEST, distinct)))
        if len(places) != 1:
            return None
        place: tuple[str, str] = places.pop()
        return place

    def _count(self, place: tuple[str, str], count: int) -> None:
        """Count ``count`` more requests to ``place`` (namespace, path), under the lock, when
        no entry of theirs can take another path's last place: all the journal holds is of
        ``place`` (_add_run), or the cap drops them for newer ones of it (take_inbox's, counted
        when taken in, and _take_inbox's)."""
        totals, per_path = self._totals, self._per_path
        totals[place[0]] = totals.get(place[0], 0) + count
        per_path[place] = per_path.get(place, 0) + count

    def _add_run(self, items: list[list[Any]], place: tuple[str, str]) -> None:
        """Hold and count ``items`` ([id, namespace, path, record]), of requests to ``place``
        (namespace, path), under the lock."""
        entries, held = self._entries, self._held
        if held.get(place, 0) != len(entries):
            for item in items:
                self._add(item)
            return
        # Only this place's entries held (a load of one request): those that leave for the
        # cap are its own, so all the journal holds is of this place, and nothing else moves.
        self._count(place, len(items))
        entries.extend(items)
        held[place] = len(entries)

    def _add(self, item: list[Any]) -> None:
        """Hold ``item`` ([id, namespace, path, entry]) and count it, under the lock; the
        oldest item leaves when the journal is full (after ``item`` is counted: a path whose
        new entry takes the place of its last one keeps its count)."""
        namespace = item[1]
        key = namespace, item[2]
        totals, per_path, held = self._totals, self._per_path, self._held
        totals[namespace] = totals.get(namespace, 0) + 1
        per_path[key] = per_path.get(key, 0) + 1
        entries = self._entries
        if len(entries) == self.cap:
            _, gone_namespace, gone_path, _ = entries[0]
            gone = gone_namespace, gone_path
            if gone == key:
                # The usual case, a path's entry in place of one of the same path: the
                # number held stays as it is.
                entries.append(item)
                return
            held[key] = held.get(key, 0) + 1
            left = held[gone] - 1
            if left:
                held[gone] = left
            else:
                # Its path's last entry held: the path's count goes, and leaves the namespace's.
                del held[gone]
                left = totals[gone_namespace] - per_path.pop(gone)
                if left:
                    totals[gone_namespace] = left
                else:
                    del totals[gone_namespace]
        else:
            held[key] = held.get(key, 0) + 1
        entries.append(item)

    def entries(self, *, namespace: str | None = "", path: str | None = None,
                limit: int | None = None, before_id: int | None = None
                ) -> tuple[int, list[dict[str, Any]]]:
        with self._lock:
            if self.inbox:
                self._take_inbox()
            if namespace is None:
                total = (sum(self._totals.values()) if path is None else
                         sum(count for (_, where), count in self._per_path.items()
                             if where == path))
            else:
                total = (self._totals.get(namespace, 0) if path is None
                         else self._per_path.get((namespace, path), 0))
            held = [item for item in self._entries
                    if (namespace is None or item[1] == namespace)
                    and (path is None or item[2] == path)
                    and (before_id is None or item[0] < before_id)]
        if limit is not None:
            # Clamped at 0: a limit above the count held but under twice it would slice
            # from a negative index and return only the last few.
            held = held[max(len(held) - limit, 0):]
        return total, [_entry_of(item) for item in held]

    def clear(self, *, namespace: str | None = "") -> int:
        with self._lock:
            if self.inbox:
                self._take_inbox()
            if namespace is None:
                total = sum(self._totals.values())
                self._entries.clear()
                self._totals.clear()
                self._per_path.clear()
                self._held.clear()
                return total
            total = self._totals.pop(namespace, 0)
            for key in [key for key in self._per_path if key[0] == namespace]:
                del self._per_path[key]
                del self._held[key]
            kept = [item for item in self._entries if item[1] != namespace]
            self._entries = deque(kept, maxlen=self.cap)
            return total

    def namespaces(self, *, limit: int | None = None, after: str | None = None
                   ) -> tuple[int, list[dict[str, Any]]]:
        with self._lock:
            if self.inbox:
                self._take_inbox()
            names = sorted({"", *self._totals, *self._settings,
                            *(name for name, queue in self._queues.items() if queue.items)})
            return len(names), [
                {"name": name, "requests": self._totals.get(name, 0),
                 "replies": len(self._queues[name].items) if name in self._queues else 0}
                for name in page_of_names(names, limit, after)]

    def push_replies(self, replies: Sequence[Mapping[str, Any]], *, namespace: str = ""
                     ) -> list[str]:
        # Checked before the lock: a match is compiled once, here.
        checked = [(dict(reply), compile_match(reply.get("match")), len(json_bytes(reply)))
                   for reply in replies]
        adding_bytes = sum(size for _, _, size in checked)
        with self._lock:
            refused = queue_full(self.queue_cap, self.queue_bytes, self._queued,
                                 self._queued_bytes, len(checked), adding_bytes)
            if refused is not None:
                raise refused
            queue = self._queues.setdefault(namespace, ReplyQueue())
            ids = []
            for reply, match, size in checked:
                ids.append(reply_id(self._next_reply))
                self._next_reply += 1
                queue.items.append(Queued({"id": ids[-1], **reply}, match, size))
            queue.changed()
            self._queued += len(checked)
            self._queued_bytes += adding_bytes
            return ids

    def take_reply(self, facts: Facts, *, namespace: str = "") -> Taken:
        if not self._queues and not self._settings:
            # Nothing queued, nothing set, in any namespace (the usual case): nothing to take.
            # Read without the lock, as a take made just before a push would have read it.
            return _NOTHING
        with self._lock:
            own = self._settings.get(namespace)
            queue = self._queues.get(namespace)
            index = -1 if queue is None else queue.first(facts)
            if index < 0:
                return _NOTHING if own is None else Taken(None, own)
            assert queue is not None
            reply = queue.items[index].reply
            times = reply["times"]
            if times is None:
                return Taken(reply, own)
            if times <= 1:
                self._queued_bytes -= queue.items[index].size
                del queue.items[index]
                queue.changed()
                self._queued -= 1
            else:
                reply["times"] = times - 1
            # A copy: the queue's own goes on changing.
            return Taken({**reply, "times": times - 1}, own)

    def quiet(self) -> bool:
        # Read without the lock, as take_reply's usual case is: a reply or settings put in
        # while a request is answered count from the next request on.
        return not self._queued and not self._settings

    def replies(self, *, namespace: str = "") -> list[dict[str, Any]]:
        with self._lock:
            queue = self._queues.get(namespace)
            return [] if queue is None else [dict(item.reply) for item in queue.items]

    def remove_reply(self, reply_id: str, *, namespace: str = "") -> bool:
        with self._lock:
            queue = self._queues.get(namespace)
            for index, item in enumerate(queue.items if queue is not None else ()):
                if item.reply["id"] == reply_id:
                    assert queue is not None
                    self._queued_bytes -= item.size
                    del queue.items[index]
                    queue.changed()
                    self._queued -= 1
                    return True
            return False

    def clear_replies(self, *, namespace: str = "") -> int:
        with self._lock:
            queue = self._queues.pop(namespace, None)
            count = 0 if queue is None else len(queue.items)
            self._queued -= count
            self._queued_bytes -= 0 if queue is None else sum(item.size for item in queue.items)
            return count

    def settings(self, *, namespace: str = "") -> dict[str, Any] | None:
        with self._lock:
            own = self._settings.get(namespace)
            return None if own is None else dict(own)

    def put_settings(self, settings: Mapping[str, Any] | None, *, namespace: str = "") -> None:
        with self._lock:
            if settings is None:
                self._settings.pop(namespace, None)
            else:
                self._settings[namespace] = dict(settings)

    def close(self) -> None:
        """Nothing to let go of: the state lives as long as the object."""


# A request's place, its namespace and path (a held entry's key); the request of a record kept
# unmade; a place's parts.
_PLACE = attrgetter("namespace", "path")
_REQUEST = itemgetter(REQUEST)
_NAMESPACE = itemgetter(0)
_PATH = itemgetter(1)
# Requests answered again that wait in the inbox before take_inbox first looks at them.
INBOX_LOOK = 64


def _entry_of(item: list[Any]) -> dict[str, Any]:
    """The entry of a held item, derived from its raw record on first read and kept."""
    payload = item[3]
    if isinstance(payload, tuple):  # a RawRecord, or one to make (realized)
        payload = item[3] = derive(item[0], realized(payload))
    entry: dict[str, Any] = payload
    return entry
