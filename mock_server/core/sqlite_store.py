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
- recording an entry is one INSERT, atomic by itself: totals come from the contiguous ids, and
  the entries over the cap are deleted in batches; taking a scripted reply is a
  ``BEGIN IMMEDIATE`` transaction, which holds the write lock from its first read.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: SQLite's busy timeout alone keeps the writers apart
    fcntl = None  # type: ignore[assignment]

from .store import DEFAULT_JOURNAL_CAP, DEFAULT_QUEUE_CAP, QueueFullError, check_cap
from .wire import json_bytes

SYNCHRONOUS = "OFF"
# Writers wait this long for the lock (milliseconds); far above any one transaction.
BUSY_TIMEOUT_MS = 30_000

# Entries over the cap are deleted in batches, by the request whose id is a multiple of this:
# the table holds at most cap + PRUNE_EVERY rows and recording is one INSERT otherwise.
PRUNE_EVERY = 256

SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    -- AUTOINCREMENT: ids are never reused and stay contiguous, not even a clear resets them,
    -- so the number recorded since the last clear is the last id minus the one before it.
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL,
    entry BLOB NOT NULL
);
-- No index on path: it cost each INSERT a fifth more, while a ?path= query scans at most
-- cap + PRUNE_EVERY rows.
-- Entries deleted for the cap since the last clear, per path: they still count in totals.
CREATE TABLE IF NOT EXISTS dropped (
    path TEXT PRIMARY KEY,
    total INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS settings (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO settings (name, value) VALUES ('cleared_after', 0);
CREATE TABLE IF NOT EXISTS replies (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    reply BLOB NOT NULL,
    times INTEGER NOT NULL
);
"""
LAST_ID = "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'journal'), 0)"
CLEARED_AFTER = "SELECT value FROM settings WHERE name = 'cleared_after'"


class _Link:
    """A thread's connection; a thread's ``threading.local`` holds it, so it is closed when
    the thread ends."""

    __slots__ = ("__weakref__", "connection", "pid")

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        self.pid = os.getpid()


# Connections open in this process, and those inherited over a fork. The inherited ones are
# kept referenced and never used nor closed: closing a descriptor of a file drops every POSIX
# lock this process holds on it, the ones of its own connections included.
_LIVE: weakref.WeakSet[_Link] = weakref.WeakSet()
_INHERITED: list[_Link] = []


_STORES: weakref.WeakSet[SQLiteStore] = weakref.WeakSet()


def _keep_inherited() -> None:
    _INHERITED.extend(_LIVE)
    _LIVE.clear()
    for store in _STORES:
        store._forget_write_lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_keep_inherited)


@contextlib.contextmanager
def _immediate(db: sqlite3.Connection) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


class SQLiteStore:
    """The journal and the reply queue in the SQLite database at ``path`` (created if need be).

    Every process and thread that opens the same file sees the same state. ``cap`` bounds the
    entries kept (oldest dropped first); ``total`` counts every entry since the last clear.
    """

    def __init__(self, path: str | os.PathLike[str], cap: int = DEFAULT_JOURNAL_CAP,
                 queue_cap: int = DEFAULT_QUEUE_CAP) -> None:
        self.path = os.fspath(path)
        self.cap = check_cap(cap)
        self.queue_cap = queue_cap
        self._local = threading.local()
        self._links: weakref.WeakSet[_Link] = weakref.WeakSet()
        self._thread_lock = threading.Lock()
        self._lock_file: int | None = None
        # PATH-queue grows by a byte after each push: a process that found the queue empty
        # when the file had some size knows it is still empty while the size stays.
        self._queue_marker = self.path + "-queue"
        self._empty_at = -1
        _STORES.add(self)
        try:
            with sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000,
                                 isolation_level=None) as setup:
                # journal_mode=WAL is a property of the file: set once, it holds for everyone.
                setup.execute("PRAGMA journal_mode=WAL")
                setup.executescript(SCHEMA)
            setup.close()
        except sqlite3.Error as error:
            raise ValueError(f"cannot open the SQLite store {self.path!r}: {error}") from error

    def _db(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use in this process."""
        link: _Link | None = getattr(self._local, "link", None)
        if link is not None and link.pid == os.getpid():
            return link.connection
        connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000,
                                     isolation_level=None, check_same_thread=False)
        connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        connection.execute(f"PRAGMA synchronous={SYNCHRONOUS}")
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
                self._lock_file = os.open(self.path + "-lock", os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(self._lock_file, fcntl.LOCK_EX)
            try:
                yield db
            finally:
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """The write lock, and one ``BEGIN IMMEDIATE`` transaction: committed when the block
        ends, rolled back when it raises."""
        with self._writing() as db, _immediate(db):
            yield db

    # --- the journal -------------------------------------------------------------------------

    def append(self, entry: Mapping[str, Any]) -> int:
        return self.append_then(entry, None)

    def append_then(self, entry: Mapping[str, Any],
                    then: Callable[[int], None] | None) -> int:
        """``append``, then ``then(id)`` while every process's writers still wait: the
        journal writes its JSON-lines file there, so the lines of all workers are in id
        order."""
        row = (str(entry.get("path")), json_bytes(dict(entry)))
        with self._writing() as db:
            entry_id = db.execute("INSERT INTO journal (path, entry) VALUES (?, ?)",
                                  row).lastrowid
            assert entry_id is not None
            if then is not None:
                then(entry_id)
            if entry_id % PRUNE_EVERY == 0:
                self._prune(db, entry_id - self.cap)
        return entry_id

    def _prune(self, db: sqlite3.Connection, last_dropped: int) -> None:
        """Delete the entries up to id ``last_dropped``, counting them in ``dropped``."""
        with _immediate(db):
            for path, count in db.execute(
                    "SELECT path, count(*) FROM journal WHERE id <= ? GROUP BY path",
                    (last_dropped,)).fetchall():
                db.execute("INSERT OR IGNORE INTO dropped (path, total) VALUES (?, 0)", (path,))
                db.execute("UPDATE dropped SET total = total + ? WHERE path = ?", (count, path))
            db.execute("DELETE FROM journal WHERE id <= ?", (last_dropped,))

    def entries(self, *, path: str | None = None, limit: int | None = None
                ) -> tuple[int, list[dict[str, Any]]]:
        db = self._db()
        # SQLite's integers stop at 2**63; no journal holds that many entries.
        count = -1 if limit is None else min(limit, 1 << 62)
        # One read transaction: the total and the entries from the same snapshot.
        db.execute("BEGIN")
        try:
            last = db.execute(LAST_ID).fetchone()[0]
            # Rows over the cap that wait for the next prune are not shown, but counted.
            first = last - self.cap
            if path is None:
                total = last - db.execute(CLEARED_AFTER).fetchone()[0]
                rows = db.execute("SELECT id, entry FROM journal WHERE id > ? "
                                  "ORDER BY id DESC LIMIT ?", (first, count)).fetchall()
            else:
                dropped = db.execute("SELECT total FROM dropped WHERE path = ?",
                                     (path,)).fetchone()
                total = db.execute("SELECT count(*) FROM journal WHERE path = ?",
                                   (path,)).fetchone()[0] + (dropped[0] if dropped else 0)
                rows = db.execute("SELECT id, entry FROM journal WHERE path = ? AND id > ? "
                                  "ORDER BY id DESC LIMIT ?", (path, first, count)).fetchall()
        finally:
            db.execute("COMMIT")
        held = [{"id": entry_id, **json.loads(entry)} for entry_id, entry in reversed(rows)]
        recorded: int = total
        return recorded, held

    def clear(self) -> int:
        with self._transaction() as db:
            last = db.execute(LAST_ID).fetchone()[0]
            total: int = last - db.execute(CLEARED_AFTER).fetchone()[0]
            db.execute("DELETE FROM journal")
            db.execute("DELETE FROM dropped")
            db.execute("UPDATE settings SET value = ? WHERE name = 'cleared_after'", (last,))
        return total

    # --- the reply queue ---------------------------------------------------------------------

    def push_replies(self, replies: Sequence[Mapping[str, Any]]) -> int:
        rows = [(json_bytes(dict(reply)), int(reply["times"])) for reply in replies]
        with self._writing() as db:
            with _immediate(db):
                held = db.execute("SELECT count(*) FROM replies").fetchone()[0]
                if held + len(rows) > self.queue_cap:
                    raise QueueFullError(
                        f"the reply queue holds at most {self.queue_cap} replies; it has "
                        f"{held}, {len(rows)} more do not fit")
                db.executemany("INSERT INTO replies (reply, times) VALUES (?, ?)", rows)
            # After the commit: whoever sees the new size can see the new replies.
            marker = os.open(self._queue_marker, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(marker, b".")
            finally:
                os.close(marker)
        return len(rows)

    def pop_reply(self) -> dict[str, Any] | None:
        # Most requests find the queue empty: a stat of the marker says so, or a plain read,
        # both without the lock. The size is read before the table, so a push that the read
        # missed has grown the file since.
        try:
            pushes = os.stat(self._queue_marker).st_size
        except FileNotFoundError:
            pushes = 0
        if pushes == self._empty_at:
            return None
        if self._db().execute("SELECT 1 FROM replies LIMIT 1").fetchone() is None:
            self._empty_at = pushes
            return None
        # BEGIN IMMEDIATE: no other process can take the same use now.
        with self._transaction() as db:
            head = db.execute(
                "SELECT seq, reply, times FROM replies ORDER BY seq LIMIT 1").fetchone()
            if head is not None:
                seq, reply, times = head
                if times <= 1:
                    db.execute("DELETE FROM replies WHERE seq = ?", (seq,))
                else:
                    db.execute("UPDATE replies SET times = times - 1 WHERE seq = ?", (seq,))
        if head is None:
            return None
        used: dict[str, Any] = json.loads(reply)
        used["times"] = 1
        return used

    def replies(self) -> list[dict[str, Any]]:
        rows = self._db().execute("SELECT reply, times FROM replies ORDER BY seq").fetchall()
        return [{**json.loads(reply), "times": times} for reply, times in rows]

    def clear_replies(self) -> int:
        with self._writing() as db:
            return db.execute("DELETE FROM replies").rowcount

    def close(self) -> None:
        """Close the connections this process opened; the store opens new ones if used again."""
        pid = os.getpid()
        for link in list(self._links):
            if link.pid == pid:
                link.connection.close()
        self._links = weakref.WeakSet()
        self._local = threading.local()
        if self._lock_file is not None:
            os.close(self._lock_file)
            self._lock_file = None
