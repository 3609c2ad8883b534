"""A ``Store`` in an SQLite file, shared by every worker process and thread that opens it.

Several worker processes serve one mock: the journal must count every request once and a
scripted reply with ``times: N`` must answer exactly N requests, whichever worker takes them.
An SQLite database in WAL mode gives that with nothing to run beside the mock:

- one connection per process and thread, opened on first use (a connection must never cross
  a ``fork``: a worker forked from the process that made the store opens its own);
- WAL mode, so readers (the inspector, ``GET /__mock__/requests``) never block the writers;
- ``synchronous=NORMAL``: a commit is a ``write`` of the WAL frames and no ``fsync``. What the
  journal has acknowledged survives a SIGKILL of the server (the frames are in the OS's page
  cache, which outlives the process); only a crash of the machine itself can lose the last
  commits, never corrupt the file. ``FULL`` would add an ``fsync`` to every request for a
  guarantee a test double does not need;
- a busy timeout, so writers queue for the lock instead of failing;
- the journal's bookkeeping (per-path totals, the cap) in a trigger, so recording an entry is
  one statement, atomic by itself; taking a scripted reply is a ``BEGIN IMMEDIATE``
  transaction, which holds the write lock from its first read.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from .store import DEFAULT_JOURNAL_CAP, DEFAULT_QUEUE_CAP, QueueFullError

# Writers wait this long for the lock (milliseconds); far above any one transaction.
BUSY_TIMEOUT_MS = 30_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    -- AUTOINCREMENT: ids are never reused, not even after a clear empties the table.
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL,
    entry BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS journal_by_path ON journal (path, id);
-- Entries recorded since the last clear, per path, those dropped for the cap included.
CREATE TABLE IF NOT EXISTS path_totals (
    path TEXT PRIMARY KEY,
    total INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS replies (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    reply BLOB NOT NULL,
    times INTEGER NOT NULL
);
"""

# A TEMP trigger belongs to its connection, so each process applies its own cap; the 0 row
# then + 1 keeps to SQL that SQLite has understood for years (no UPSERT needed).
TRIGGER = """
CREATE TEMP TRIGGER IF NOT EXISTS journal_added AFTER INSERT ON main.journal BEGIN
    INSERT OR IGNORE INTO path_totals (path, total) VALUES (NEW.path, 0);
    UPDATE path_totals SET total = total + 1 WHERE path = NEW.path;
    DELETE FROM journal WHERE id <= NEW.id - {cap};
END
"""


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


def _keep_inherited() -> None:
    _INHERITED.extend(_LIVE)
    _LIVE.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_keep_inherited)


def _encode(value: Any) -> bytes:
    """Compact JSON as UTF-8; text with lone surrogates (which UTF-8 cannot carry) escaped."""
    try:
        return json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value).encode("ascii")


class SQLiteStore:
    """The journal and the reply queue in the SQLite database at ``path`` (created if need be).

    Every process and thread that opens the same file sees the same state. ``cap`` bounds the
    entries kept (oldest dropped first); ``total`` counts every entry since the last clear.
    """

    def __init__(self, path: str | os.PathLike[str], cap: int = DEFAULT_JOURNAL_CAP,
                 queue_cap: int = DEFAULT_QUEUE_CAP) -> None:
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
            raise ValueError(f"the journal cap must be 1 or more; got {cap}")
        self.path = os.fspath(path)
        self.cap = cap
        self.queue_cap = queue_cap
        self._local = threading.local()
        self._links: weakref.WeakSet[_Link] = weakref.WeakSet()
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
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute(TRIGGER.format(cap=int(self.cap)))
        link = _Link(connection)
        self._local.link = link
        _LIVE.add(link)
        self._links.add(link)
        return connection

    # --- the journal -------------------------------------------------------------------------

    def append(self, entry: Mapping[str, Any]) -> int:
        # One statement: the trigger counts it and drops what is over the cap, atomically.
        cursor = self._db().execute("INSERT INTO journal (path, entry) VALUES (?, ?)",
                                    (str(entry.get("path")), _encode(dict(entry))))
        entry_id = cursor.lastrowid
        assert entry_id is not None
        return entry_id

    def entries(self, *, path: str | None = None, limit: int | None = None
                ) -> tuple[int, list[dict[str, Any]]]:
        db = self._db()
        # One read transaction: the total and the entries from the same snapshot.
        db.execute("BEGIN")
        try:
            if path is None:
                total = db.execute("SELECT coalesce(sum(total), 0) FROM path_totals").fetchone()
                rows = db.execute("SELECT id, entry FROM journal ORDER BY id DESC LIMIT ?",
                                  (-1 if limit is None else limit,)).fetchall()
            else:
                total = db.execute("SELECT total FROM path_totals WHERE path = ?",
                                   (path,)).fetchone()
                rows = db.execute("SELECT id, entry FROM journal WHERE path = ? "
                                  "ORDER BY id DESC LIMIT ?",
                                  (path, -1 if limit is None else limit)).fetchall()
        finally:
            db.execute("COMMIT")
        held = [{"id": entry_id, **json.loads(entry)} for entry_id, entry in reversed(rows)]
        return (total[0] if total else 0), held

    def clear(self) -> int:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            total = db.execute("SELECT coalesce(sum(total), 0) FROM path_totals").fetchone()[0]
            db.execute("DELETE FROM journal")
            db.execute("DELETE FROM path_totals")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        count: int = total
        return count

    # --- the reply queue ---------------------------------------------------------------------

    def push_replies(self, replies: Sequence[Mapping[str, Any]]) -> int:
        rows = [(_encode(dict(reply)), int(reply["times"])) for reply in replies]
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            held = db.execute("SELECT count(*) FROM replies").fetchone()[0]
            if held + len(rows) > self.queue_cap:
                raise QueueFullError(
                    f"the reply queue holds at most {self.queue_cap} replies; it has "
                    f"{held}, {len(rows)} more do not fit")
            db.executemany("INSERT INTO replies (reply, times) VALUES (?, ?)", rows)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return len(rows)

    def pop_reply(self) -> dict[str, Any] | None:
        db = self._db()
        # Most requests find the queue empty: a plain read says so without taking the lock.
        if db.execute("SELECT 1 FROM replies LIMIT 1").fetchone() is None:
            return None
        db.execute("BEGIN IMMEDIATE")  # from here on no other process can take the same use
        try:
            head = db.execute(
                "SELECT seq, reply, times FROM replies ORDER BY seq LIMIT 1").fetchone()
            if head is not None:
                seq, reply, times = head
                if times <= 1:
                    db.execute("DELETE FROM replies WHERE seq = ?", (seq,))
                else:
                    db.execute("UPDATE replies SET times = times - 1 WHERE seq = ?", (seq,))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        if head is None:
            return None
        used: dict[str, Any] = json.loads(reply)
        used["times"] = 1
        return used

    def replies(self) -> list[dict[str, Any]]:
        rows = self._db().execute("SELECT reply, times FROM replies ORDER BY seq").fetchall()
        return [{**json.loads(reply), "times": times} for reply, times in rows]

    def clear_replies(self) -> int:
        cursor = self._db().execute("DELETE FROM replies")
        return cursor.rowcount

    def close(self) -> None:
        """Close the connections this process opened; the store opens new ones if used again."""
        pid = os.getpid()
        for link in list(self._links):
            if link.pid == pid:
                link.connection.close()
        self._links = weakref.WeakSet()
        self._local = threading.local()
