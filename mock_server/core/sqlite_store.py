"""A ``Store`` in an SQLite file, shared by every worker process and thread that opens it.

Several worker processes serve one mock: the journal must count every request once and a
scripted reply with ``times: N`` must answer exactly N requests, whichever worker takes them.
An SQLite database in WAL mode gives that with nothing to run beside the mock:

- one connection per process and thread, opened on first use (a connection must never cross
  a ``fork``: a worker forked from the process that made the store opens its own);
- WAL mode, so readers (the inspector, ``GET /__mock__/requests``) never block the writers;
- ``synchronous=OFF``: a commit is a ``write`` of the WAL frames, never an ``fsync``. What the
  journal has acknowledged survives a SIGKILL of the server, since the frames are in the OS's
  page cache, which outlives the process; only a crash of the machine itself could lose or
  damage the file, a risk a test double's journal can take. ``NORMAL`` has the same commits
  but an ``fsync`` at each checkpoint (some 200 requests), which took tens of milliseconds on
  a busy disk and landed on whichever request made the checkpoint; ``FULL`` would add one to
  every request;
- writers take turns on an exclusive ``flock`` of a ``PATH-lock`` file (and a thread lock
  within a process) before they touch the database: the kernel wakes the next one as soon as
  the lock is free, where SQLite's own busy handler would sleep in steps of milliseconds,
  which under load put tens of milliseconds on the slowest answers; the busy timeout stays as
  the fallback where ``flock`` does not exist;
- recording an entry is one INSERT, atomic by itself; the entries over the cap are deleted in
  batches, and counted per namespace and path in ``dropped`` so that totals still count them,
  as long as the journal shows an entry of that namespace and path (as ``MemoryStore`` keeps
  them): ``dropped`` never has more rows than the journal;
- each process keeps the reply queues and settings it has read, as long as the count of
  changes in ``PATH-queue`` (``ChangeCount``, mapped in memory) stays the same: each change to
  them (a push, a use, a removal, new settings) and each clear of the journal adds one to it,
  once committed. A request finds its namespace's replies, their matches already checked, with
  one read of memory; a standing reply answers with no write at all, and using up a finite one
  is a ``BEGIN IMMEDIATE`` transaction, which holds the write lock from its first read and
  chooses again from the queue as it is then.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

try:
    import fcntl
except ImportError:  # Windows: SQLite's busy timeout alone keeps the writers apart
    fcntl = None  # type: ignore[assignment]

from .matching import Facts
from .raw_record import RawRecord, raw_json
from .sqlite_file import (
    FILE_MODE,
    LAST_ID,
    ChangeCount,
    connect,
    entry_of_row,
    immediate,
    prepare,
    prune,
    where_clause,
)
from .store import (
    DEFAULT_JOURNAL_CAP,
    DEFAULT_QUEUE_BYTES,
    DEFAULT_QUEUE_CAP,
    Queued,
    ReplyQueue,
    Taken,
    check_cap,
    page_of_names,
    queue_full,
    reply_id,
)
from .wire import json_bytes

# Entries over the cap are deleted in batches, by the request whose id is a multiple of this:
# the table holds at most cap + PRUNE_EVERY rows and recording is one INSERT otherwise.
PRUNE_EVERY = 256

# The rows of the namespaces and paths the journal shows an entry of (id > the first shown).
_SHOWN = "(namespace, path) IN (SELECT namespace, path FROM journal WHERE {where} id > ?)"
# Namespaces whose queues and settings a process keeps at most before it starts afresh.
KEPT_NAMESPACES = 1024


class _Namespace(NamedTuple):
    """What a process keeps of one namespace: its queue (matches checked) and settings."""

    queue: ReplyQueue
    settings: dict[str, Any] | None


class _Link:
    """A thread's connection; a thread's ``threading.local`` holds it, so it is closed when
    the thread ends."""

    __slots__ = ("__weakref__", "connection", "pid")

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        self.pid = _PROCESS[0]


# Connections open in this process, and those inherited over a fork. The inherited ones are
# kept referenced and never used nor closed: closing a descriptor of a file drops every POSIX
# lock this process holds on it, the ones of its own connections included.
_LIVE: weakref.WeakSet[_Link] = weakref.WeakSet()
_INHERITED: list[_Link] = []
_STORES: weakref.WeakSet[SQLiteStore] = weakref.WeakSet()
# This process's id, set again in a forked child: os.getpid is a system call, and a flush
# asks it every time.
_PROCESS = [os.getpid()]


def _keep_inherited() -> None:
    _PROCESS[0] = os.getpid()
    _INHERITED.extend(_LIVE)
    _LIVE.clear()
    for store in _STORES:
        store._forget_write_lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_keep_inherited)


class SQLiteStore:
    """The journal, reply queues and settings in the SQLite database at ``path`` (created if
    need be, brought up to date if an earlier version made it).

    Every process and thread that opens the same file sees the same state. ``cap`` bounds the
    entries kept (oldest dropped first); ``total`` counts every entry since the last clear.
    """

    def __init__(self, path: str | os.PathLike[str], cap: int = DEFAULT_JOURNAL_CAP,
                 queue_cap: int = DEFAULT_QUEUE_CAP,
                 queue_bytes: int = DEFAULT_QUEUE_BYTES) -> None:
        self.path = os.fspath(path)
        self.cap = check_cap(cap)
        self.queue_cap = queue_cap
        self.queue_bytes = queue_bytes
        self._local = threading.local()
        self._links: weakref.WeakSet[_Link] = weakref.WeakSet()
        self._thread_lock = threading.Lock()
        self._lock_file: int | None = None
        # (the count of changes, what was read of each namespace at that count): replaced
        # whole, never changed but by adding a namespace, so threads read it without a lock.
        self._cache: tuple[int, dict[str, _Namespace]] = (-1, {})
        # Replies never change but for their times: each is read and its match checked once.
        self._known: dict[int, Queued] = {}
        # The count of changes at which this process found that the journal's greatest row
        # holds its greatest id, so that SQLite's next id (one past it) is the right one: until
        # the next clear, which adds to the count (-1: not found yet). Set once rows are in.
        self._ids_follow = -1
        # With batch set (the mock's own server, one transaction per turn of its event loop),
        # raw records wait here until flush() writes them.
        self.batch = False
        self._pending: list[tuple[str, str, bytes, Callable[[int], None] | None]] = []
        _STORES.add(self)
        prepare(self.path)
        # What a process read of the replies and settings holds while this count stays.
        self._changes = ChangeCount(self.path + "-queue")

    def _db(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use in this process."""
        link: _Link | None = getattr(self._local, "link", None)
        if link is not None and link.pid == _PROCESS[0]:
            return link.connection
        connection = connect(self.path)
        link = _Link(connection)
        self._local.link = link
        _LIVE.add(link)
        self._links.add(link)
        return connection

    def _forget_write_lock(self) -> None:
        """In a forked child: a lock of its own. The inherited descriptor shares its lock
        with the parent's, so it would not keep the two apart."""
        if self._lock_file is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock_file)
        self._lock_file = None
        self._thread_lock = threading.Lock()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection, with the write lock of every process held."""
        db = self._db()
        with self._thread_lock:
            if fcntl is None:
                yield db
                return
            if self._lock_file is None:
                self._lock_file = os.open(self.path + "-lock", os.O_RDWR | os.O_CREAT,
                                          FILE_MODE)
            fcntl.flock(self._lock_file, fcntl.LOCK_EX)
            try:
                yield db
            finally:
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    def _next_id(self, db: sqlite3.Connection) -> int | None:
        """The id the next row must be given, with the write lock held; ``None`` when it is
        SQLite's own (one past the greatest row), as it is but after a clear."""
        if self._changes.read() == self._ids_follow:
            return None
        greatest, floor = db.execute("SELECT coalesce(max(id), 0), (SELECT coalesce(max(last), "
                                     "0) FROM journal_floor) FROM journal").fetchone()
        return None if greatest >= floor else floor + 1

    # --- the journal -------------------------------------------------------------------------

    def append(self, entry: Mapping[str, Any]) -> int:
        return self.append_then(entry, None)

    def append_then(self, entry: Mapping[str, Any],
                    then: Callable[[int], None] | None) -> int:
        """``append``, then ``then(id)`` while every process's writers still wait: the
        journal writes its JSON-lines file there, so the lines of all workers are in id
        order."""
        return self._insert(str(entry.get("namespace", "")), str(entry.get("path")),
                            json_bytes(dict(entry)), then)

    def append_raw(self, raw: RawRecord, then: Callable[[int], None] | None = None) -> int:
        """Record a raw journal record (``journal.raw_record``), derived when read. With
        ``batch`` set it waits for ``flush()`` (and the id, 0 here, is given then)."""
        stored = raw_json(raw)
        if self.batch:
            self._pending.append((raw.namespace, raw.path, stored, then))
            return 0
        return self._insert(raw.namespace, raw.path, stored, then)

    def _insert(self, namespace: str, path: str, stored: bytes,
                then: Callable[[int], None] | None) -> int:
        """One row of the journal, under the lock of every process; then ``then(id)``."""
        with self._writing() as db:
            entry_id = db.execute("INSERT INTO journal (id, namespace, path, entry) "
                                  "VALUES (?, ?, ?, ?)",
                                  (self._next_id(db), namespace, path, stored)).lastrowid
            self._ids_follow = self._changes.read()
            assert entry_id is not None
            if then is not None:
                then(entry_id)
            if entry_id % PRUNE_EVERY == 0:
                prune(db, entry_id - self.cap)
        return entry_id

    @property
    def waiting(self) -> int:
        """How many raw records wait for ``flush()``."""
        return len(self._pending)

    def flush(self) -> int:
        """Write the raw records that wait (``batch``) in one transaction, under the lock of
        every process, then call their ``then`` in id order; how many were written. Ids are
        consecutive: the lock and the transaction keep every other writer out meanwhile."""
        rows, self._pending = self._pending, []
        if not rows:
            return 0
        with self._writing() as db:
            with immediate(db):
                start = self._next_id(db)
                db.executemany("INSERT INTO journal (id, namespace, path, entry) "
                               "VALUES (?, ?, ?, ?)",
                               [(None if start is None else start + offset, *row[:3])
                                for offset, row in enumerate(rows)])
                last = db.execute("SELECT last_insert_rowid()").fetchone()[0]
            self._ids_follow = self._changes.read()
            first = last - len(rows) + 1
            for offset, row in enumerate(rows):
                if row[3] is not None:
                    row[3](first + offset)
            # The batch crossed a multiple of PRUNE_EVERY: drop what is over the cap.
            if last // PRUNE_EVERY > (first - 1) // PRUNE_EVERY:
                prune(db, last - self.cap)
        return len(rows)

    def _first(self, db: sqlite3.Connection) -> int:
        """The id after which the journal shows its entries (rows up to it wait for a prune)."""
        last: int = db.execute(LAST_ID).fetchone()[0]
        return last - self.cap

    def _total(self, db: sqlite3.Connection, where: str, values: tuple[str, ...]) -> int:
        """Entries recorded since the last clear, held or dropped for the cap, of the paths (in
        each namespace) the journal shows an entry of: a path none of whose entries is shown
        counts nothing, as in MemoryStore."""
        shown, given = _SHOWN.format(where=f"{where} AND"), (*values, self._first(db))
        held: int = db.execute(f"SELECT count(*) FROM journal WHERE {shown}",
                               given).fetchone()[0]
        dropped: int = db.execute(f"SELECT coalesce(sum(total), 0) FROM dropped WHERE {shown}",
                                  given).fetchone()[0]
        return held + dropped

    def entries(self, *, namespace: str | None = "", path: str | None = None,
                limit: int | None = None, before_id: int | None = None
                ) -> tuple[int, list[dict[str, Any]]]:
        db = self._db()
        # SQLite's integers stop at 2**63; no journal holds that many entries.
        count = -1 if limit is None else min(limit, 1 << 62)
        where, values = where_clause(namespace, path)
        # One read transaction: the total and the entries from the same snapshot.
        db.execute("BEGIN")
        try:
            total = self._total(db, where, values)
            # Rows over the cap that wait for the next prune are not shown, but counted.
            first = self._first(db)
            below = min(before_id, 1 << 62) if before_id is not None else 1 << 62
            rows = db.execute(f"SELECT id, entry FROM journal WHERE {where} AND id > ? "
                              f"AND id < ? ORDER BY id DESC LIMIT ?",
                              (*values, first, below, count)).fetchall()
        finally:
            db.execute("COMMIT")
        return total, [entry_of_row(entry_id, entry) for entry_id, entry in reversed(rows)]

    def clear(self, *, namespace: str | None = "") -> int:
        where, values = where_clause(namespace, None)
        with self._writing() as db:
            with immediate(db):
                total = self._total(db, where, values)
                # The next ids go on from the last one given, whichever rows are left.
                floor = db.execute(LAST_ID).fetchone()[0]
                db.execute(f"DELETE FROM journal WHERE {where}", values)
                db.execute(f"DELETE FROM dropped WHERE {where}", values)
                db.execute("DELETE FROM journal_floor")
                db.execute("INSERT INTO journal_floor (last) VALUES (?)", (floor,))
            self._changed()
        return total

    def namespaces(self, *, limit: int | None = None, after: str | None = None
                   ) -> tuple[int, list[dict[str, Any]]]:
        db = self._db()
        found: dict[str, dict[str, Any]] = {"": {"name": "", "requests": 0, "replies": 0}}

        def named(name: str) -> dict[str, Any]:
            return found.setdefault(name, {"name": name, "requests": 0, "replies": 0})

        shown = _SHOWN.format(where="")
        db.execute("BEGIN")
        try:
            first = (self._first(db),)
            for query, values, field in (
                    (f"SELECT namespace, count(*) FROM journal WHERE {shown}", first, "requests"),
                    (f"SELECT namespace, sum(total) FROM dropped WHERE {shown}", first, "requests"),
                    ("SELECT namespace, count(*) FROM replies", (), "replies"),
                    ("SELECT namespace, 0 FROM namespace_settings", (), "replies")):
                for name, number in db.execute(query + " GROUP BY namespace", values).fetchall():
                    named(name)[field] += number
        finally:
            db.execute("COMMIT")
        names = sorted(found)
        return len(names), [found[name] for name in page_of_names(names, limit, after)]

    # --- the reply queues and settings -------------------------------------------------------

    def _changed(self) -> None:
        """Tell every process that the replies or settings changed, or the journal was cleared:
        called after the commit, with the write lock still held."""
        self._changes.add_one()

    def _item(self, seq: int, reply: bytes, times: int | None) -> Queued:
        """The queued reply ``seq``, read and its match checked once in this process."""
        item = self._known.get(seq)
        if item is None:
            if len(self._known) > 2 * self.queue_cap:
                self._known = {}
            item = Queued({"id": reply_id(seq), **json.loads(reply), "times": times})
            self._known[seq] = item
        return item

    def _namespace(self, namespace: str) -> _Namespace:
        """What this process knows of ``namespace``'s queue and settings, read again from the
        database when another change was made since."""
        version = self._changes.read()
        cache = self._cache
        if cache[0] == version:
            state = cache[1].get(namespace)
            if state is not None:
                return state
        else:
            cache = self._cache = (version, {})
        # The count was read before the tables: a change the read misses has added to it.
        db = self._db()
        db.execute("BEGIN")
        try:
            rows = db.execute("SELECT seq, reply, times FROM replies WHERE namespace = ? "
                              "ORDER BY seq", (namespace,)).fetchall()
            own = db.execute("SELECT settings FROM namespace_settings WHERE namespace = ?",
                             (namespace,)).fetchone()
        finally:
            db.execute("COMMIT")
        state = _Namespace(ReplyQueue([self._item(*row) for row in rows]),
                           None if own is None else json.loads(own[0]))
        if len(cache[1]) < KEPT_NAMESPACES:
            cache[1][namespace] = state
        return state

    def push_replies(self, replies: Sequence[Mapping[str, Any]], *, namespace: str = ""
                     ) -> list[str]:
        rows = [(namespace, json_bytes(dict(reply)), reply["times"]) for reply in replies]
        ids = []
        with self._writing() as db:
            with immediate(db):
                held, held_bytes = db.execute(
                    "SELECT count(*), coalesce(sum(length(reply)), 0) FROM replies").fetchone()
                refused = queue_full(self.queue_cap, self.queue_bytes, held, held_bytes,
                                     len(rows), sum(len(row[1]) for row in rows))
                if refused is not None:
                    raise refused
                for row in rows:
                    seq = db.execute("INSERT INTO replies (namespace, reply, times) "
                                     "VALUES (?, ?, ?)", row).lastrowid
                    assert seq is not None
                    ids.append(reply_id(seq))
            if rows:
                self._changed()
        return ids

    def take_reply(self, facts: Facts, *, namespace: str = "") -> Taken:
        # Most requests find no reply that holds, or a standing one: that is known from what
        # this process read of the queue, without the lock and without a write.
        state = self._namespace(namespace)
        index = state.queue.first(facts)
        if index < 0:
            return Taken(None, state.settings)
        if state.queue.items[index].reply["times"] is None:
            return Taken(state.queue.items[index].reply, state.settings)
        # A finite reply: under the lock, choose again from the queue as it is now (another
        # process may have used it up) and count the use.
        used: dict[str, Any] | None = None
        with self._writing() as db:
            with immediate(db):
                rows = db.execute("SELECT seq, reply, times FROM replies WHERE namespace = ? "
                                  "ORDER BY seq", (namespace,)).fetchall()
                for seq, reply, times in rows:
                    item = self._item(seq, reply, times)
                    if not item.match.holds(facts):
                        continue
                    if times is None:
                        return Taken(item.reply, state.settings)
                    if times <= 1:
                        db.execute("DELETE FROM replies WHERE seq = ?", (seq,))
                    else:
                        db.execute("UPDATE replies SET times = times - 1 WHERE seq = ?", (seq,))
                    used = {**item.reply, "times": times - 1}
                    break
            if used is not None:
                self._changed()
        return Taken(used, state.settings)

    def replies(self, *, namespace: str = "") -> list[dict[str, Any]]:
        rows = self._db().execute("SELECT seq, reply, times FROM replies WHERE namespace = ? "
                                  "ORDER BY seq", (namespace,)).fetchall()
        return [{"id": reply_id(seq), **json.loads(reply), "times": times}
                for seq, reply, times in rows]

    def remove_reply(self, reply_id: str, *, namespace: str = "") -> bool:
        digits = reply_id[1:] if reply_id.startswith("r") else ""
        if not (digits.isascii() and digits.isdigit() and len(digits) <= 18):
            return False
        with self._writing() as db:
            removed = db.execute("DELETE FROM replies WHERE seq = ? AND namespace = ?",
                                 (int(digits), namespace)).rowcount
            if removed:
                self._changed()
        return bool(removed)

    def clear_replies(self, *, namespace: str = "") -> int:
        with self._writing() as db:
            count: int = db.execute("DELETE FROM replies WHERE namespace = ?",
                                    (namespace,)).rowcount
            if count:
                self._changed()
        return count

    def settings(self, *, namespace: str = "") -> dict[str, Any] | None:
        own = self._namespace(namespace).settings
        return None if own is None else dict(own)

    def put_settings(self, settings: Mapping[str, Any] | None, *, namespace: str = "") -> None:
        with self._writing() as db:
            if settings is None:
                db.execute("DELETE FROM namespace_settings WHERE namespace = ?", (namespace,))
            else:
                db.execute("INSERT OR REPLACE INTO namespace_settings (namespace, settings) "
                           "VALUES (?, ?)", (namespace, json_bytes(dict(settings))))
            self._changed()

    def close(self) -> None:
        """Close the connections this process opened; the store opens new ones if used again."""
        pid = _PROCESS[0]
        for link in list(self._links):
            if link.pid == pid:
                link.connection.close()
        self._links = weakref.WeakSet()
        self._local = threading.local()
        if self._lock_file is not None:
            os.close(self._lock_file)
            self._lock_file = None
