"""The SQLite file of a store: its format (the marks that say a file is the mock's, the tables
of each layout version), the checks made before the mock writes to one, how it is opened, and
the batch delete of the journal's entries over the cap (``prune``).

A file another program made, a damaged one, or one made by a newer mock is refused with one
line saying what to do (``StoreRefusedError``); one made by an earlier mock is brought up to
date when opened. ``tests/mock/core/test_stores.py`` opens a store written by version 0.2.0.
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import sqlite3
import urllib.parse
from collections.abc import Iterator
from typing import Any

from .errors import StoreRefusedError
from .raw_record import derive, from_json
from .wire import json_bytes

# A commit is a write of the WAL frames, never an fsync (sqlite_store says why).
SYNCHRONOUS = "OFF"
# Writers wait this long for the lock (milliseconds); far above any one transaction.
BUSY_TIMEOUT_MS = 30_000

# PRAGMA application_id of the mock's stores ("AIMK"): a file with another id (or none, with
# tables that are not version 1's) is another program's database, and is left untouched.
APPLICATION_ID = 0x41494D4B
# The tables of a version 1 store (made before stores carried the application id).
VERSION_1_TABLES = frozenset({"journal", "dropped", "settings", "replies", "sqlite_sequence"})
# Files the store makes are the owner's alone: the journal holds what clients sent.
FILE_MODE = 0o600

# PRAGMA user_version of the layout below. Version 1 (no namespaces, no standing replies) and
# version 2 (the journal's ids kept by AUTOINCREMENT) are brought up to date when opened.
SCHEMA_VERSION = 3
SCHEMA = (
    # Ids are never reused, not even after a clear: SQLite gives one past the greatest row,
    # and journal_floor keeps the greatest id given when the journal was last cleared, which
    # ids given after it go on from (LAST_ID). Not AUTOINCREMENT, which writes its counter's
    # page (sqlite_sequence) again with every commit: a WAL frame more (two of the eight
    # pwrites of a commit of two records) and a page read after another process's commit.
    """CREATE TABLE IF NOT EXISTS journal (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL,
        entry BLOB NOT NULL,
        namespace TEXT NOT NULL DEFAULT ''
    )""",
    # No index on path or namespace: one cost each INSERT a fifth more, while a query scans at
    # most cap + PRUNE_EVERY rows.
    # Entries deleted for the cap since the last clear of their namespace: they still count in
    # totals.
    """CREATE TABLE IF NOT EXISTS dropped (
        namespace TEXT NOT NULL,
        path TEXT NOT NULL,
        total INTEGER NOT NULL,
        PRIMARY KEY (namespace, path)
    ) WITHOUT ROWID""",
    # A reply's id is "r" and its seq. times NULL: a standing reply.
    """CREATE TABLE IF NOT EXISTS replies (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        namespace TEXT NOT NULL DEFAULT '',
        reply BLOB NOT NULL,
        times INTEGER
    )""",
    "CREATE INDEX IF NOT EXISTS replies_of_namespace ON replies (namespace, seq)",
    """CREATE TABLE IF NOT EXISTS namespace_settings (
        namespace TEXT PRIMARY KEY,
        settings BLOB NOT NULL
    ) WITHOUT ROWID""",
    # One row at most: the greatest id given when the journal was last cleared.
    "CREATE TABLE IF NOT EXISTS journal_floor (last INTEGER NOT NULL)",
)
# The greatest id the journal has given: its greatest row's, or the floor a clear left.
LAST_ID = ("SELECT max((SELECT coalesce(max(id), 0) FROM journal), "
           "(SELECT coalesce(max(last), 0) FROM journal_floor))")


def connect(path: str) -> sqlite3.Connection:
    """A connection to the store's file, usable from any thread of this process."""
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                 check_same_thread=False)
    connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    connection.execute(f"PRAGMA synchronous={SYNCHRONOUS}")
    return connection


@contextlib.contextmanager
def immediate(db: sqlite3.Connection) -> Iterator[None]:
    """One ``BEGIN IMMEDIATE`` transaction: committed when the block ends, rolled back when it
    raises."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def prune(db: sqlite3.Connection, last_dropped: int) -> None:
    """Delete the journal's entries up to id ``last_dropped``, counting them in ``dropped``, in
    one transaction."""
    with immediate(db):
        groups = db.execute("SELECT namespace, path, count(*) FROM journal WHERE id <= ? "
                            "GROUP BY namespace, path", (last_dropped,)).fetchall()
        for namespace, path, count in groups:
            db.execute("INSERT OR IGNORE INTO dropped (namespace, path, total) "
                       "VALUES (?, ?, 0)", (namespace, path))
            db.execute("UPDATE dropped SET total = total + ? "
                       "WHERE namespace = ? AND path = ?", (count, namespace, path))
        db.execute("DELETE FROM journal WHERE id <= ?", (last_dropped,))
        # The counts of paths none of whose entries is left go with them. Only the paths
        # of this batch can have lost their last entry. Most batches are of one path,
        # whose next entry is one of the first rows left: looked for alone, it is found at
        # once, where the question for every count reads the whole table (its entries
        # too, some 12 MB at the default cap: a third of what a request cost the store).
        if len(groups) == 1:
            namespace, path, _ = groups[0]
            if db.execute("SELECT 1 FROM journal WHERE id > ? AND namespace = ? "
                          "AND path = ? LIMIT 1",
                          (last_dropped, namespace, path)).fetchone() is None:
                db.execute("DELETE FROM dropped WHERE namespace = ? AND path = ?",
                           (namespace, path))
        elif groups:
            db.execute("DELETE FROM dropped WHERE (namespace, path) NOT IN "
                       "(SELECT namespace, path FROM journal)")


def prepare(path: str) -> None:
    """Make the store's file at ``path`` ready: checked (``check_file``), created if need be
    (the owner's alone), in WAL mode, with the tables of this version."""
    check_file(path)
    try:
        # Made here, so that it is the owner's alone; SQLite gives its -wal and -shm files
        # the same mode.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE))
        setup = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    except (OSError, sqlite3.Error) as error:
        raise _cannot_open(path, error) from error
    try:
        # journal_mode=WAL is a property of the file: set once, it holds for everyone.
        setup.execute("PRAGMA journal_mode=WAL")
        _set_up(setup, path)
    except sqlite3.Error as error:
        raise _cannot_open(path, error) from error
    finally:
        setup.close()


def _upgraded_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """A journal entry of version 1 with the fields version 2 added, in their places."""
    upgraded: dict[str, Any] = {}
    for name, value in entry.items():
        upgraded[name] = value
        if name == "time":
            upgraded["namespace"] = ""
    upgraded.setdefault("namespace", "")
    upgraded.setdefault("reply_id", None)
    return upgraded


def _upgrade_from_1(db: sqlite3.Connection) -> None:
    """Bring a store of version 1 (no namespaces, no standing replies) to version 2, in the
    caller's transaction."""
    db.execute("ALTER TABLE journal ADD COLUMN namespace TEXT NOT NULL DEFAULT ''")
    for entry_id, entry in db.execute("SELECT id, entry FROM journal").fetchall():
        db.execute("UPDATE journal SET entry = ? WHERE id = ?",
                   (json_bytes(_upgraded_entry(json.loads(entry))), entry_id))
    db.execute("ALTER TABLE dropped RENAME TO dropped_1")
    db.execute(SCHEMA[1])
    db.execute("INSERT INTO dropped (namespace, path, total) SELECT '', path, total "
               "FROM dropped_1")
    db.execute("DROP TABLE dropped_1")
    # times was NOT NULL: the table is made again. Ids go on from the last one given.
    last = db.execute("SELECT coalesce((SELECT seq FROM sqlite_sequence "
                      "WHERE name = 'replies'), 0)").fetchone()[0]
    rows = db.execute("SELECT seq, reply, times FROM replies").fetchall()
    db.execute("DROP TABLE replies")
    db.execute(SCHEMA[2])
    for seq, reply, times in rows:
        db.execute("INSERT INTO replies (seq, namespace, reply, times) VALUES (?, '', ?, ?)",
                   (seq, json_bytes({**json.loads(reply), "match": None}), times))
    db.execute("DELETE FROM sqlite_sequence WHERE name = 'replies'")
    db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('replies', ?)", (last,))
    db.execute("DROP TABLE IF EXISTS settings")


def _upgrade_from_2(db: sqlite3.Connection) -> None:
    """Bring a store of version 2 (the journal's ids kept by AUTOINCREMENT) to version 3, in
    the caller's transaction: the journal's table made again without it, the last id its
    counter gave kept as the floor the next ids go on from."""
    last = db.execute("SELECT coalesce((SELECT seq FROM sqlite_sequence "
                      "WHERE name = 'journal'), 0)").fetchone()[0]
    db.execute("ALTER TABLE journal RENAME TO journal_2")
    db.execute(SCHEMA[0])
    db.execute("INSERT INTO journal (id, path, entry, namespace) "
               "SELECT id, path, entry, namespace FROM journal_2")
    db.execute("DROP TABLE journal_2")
    db.execute(SCHEMA[-1])
    db.execute("INSERT INTO journal_floor (last) VALUES (?)", (last,))


def check_file(path: str) -> None:
    """``StoreRefusedError`` (one line, saying what to do) unless ``path`` is missing, empty,
    or a sound store of the mock: another program's database is never written to, and a damaged
    one is refused at start rather than failing every request later."""
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return
    refusal = f"the SQLite store {path!r}"
    try:
        db = sqlite3.connect(f"file:{urllib.parse.quote(path)}?mode=ro", uri=True,
                             timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error as error:
        raise StoreRefusedError(f"{refusal} cannot be opened ({error}); give --store "
                                f"another path") from error
    try:
        checked = [str(row[0]) for row in db.execute("PRAGMA quick_check")]
        application_id = db.execute("PRAGMA application_id").fetchone()[0]
        tables = {name for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as error:
        raise StoreRefusedError(f"{refusal} is not an SQLite database or is damaged "
                                f"({error}); remove it or give --store another path") from error
    finally:
        db.close()
    if checked != ["ok"]:
        raise StoreRefusedError(f"{refusal} is damaged (PRAGMA quick_check: "
                                f"{'; '.join(checked)[:200]}); remove it or give --store "
                                f"another path")
    if application_id == APPLICATION_ID or (application_id == 0 and (
            not tables or tables == VERSION_1_TABLES)):
        return
    raise StoreRefusedError(f"{refusal} is not a store of the aichat mock (application_id "
                            f"{application_id}, tables {', '.join(sorted(tables)) or 'none'}): "
                            f"it is left as it is; give --store another path")


def _cannot_open(path: str, error: Exception) -> StoreRefusedError:
    return StoreRefusedError(f"cannot open the SQLite store {path!r}: {error}; give --store "
                             f"another path")


def _set_up(db: sqlite3.Connection, path: str) -> None:
    """The tables of this version, in a file new or made by an earlier version."""
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreRefusedError(f"the SQLite store {path!r} was made by a newer version "
                                    f"of the mock (layout {version}; this one knows "
                                    f"{SCHEMA_VERSION})")
        if version < SCHEMA_VERSION:
            tables = {name for (name,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "journal" in tables and version < 2:
                _upgrade_from_1(db)
            if "journal" in tables:
                _upgrade_from_2(db)
            for statement in SCHEMA:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


class ChangeCount:
    """The count of changes to a store's replies and settings and of clears of its journal
    (after which the next ids are checked again): the first 8 bytes of the file
    ``path`` (``PATH-queue``), which every process that opens the store maps. A request finds
    whether what its process read of them still holds with a load from memory, where the size
    of a file that grew a byte a change took a ``stat``, a system call (2.6 µs here) every
    request. Writers add one while they hold the store's write lock, once their change is
    committed. A file of an earlier version, a byte a change, serves as it is: its first 8
    bytes are a count like any other."""

    def __init__(self, path: str) -> None:
        try:
            marker = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
            try:
                # Only ever made longer, never cut: a count another process wrote stays.
                if os.fstat(marker).st_size < 8:
                    os.ftruncate(marker, 8)
                self._map = mmap.mmap(marker, 8)
            finally:
                os.close(marker)
        except (OSError, ValueError) as error:  # a folder in its place, no right to write...
            raise StoreRefusedError(f"cannot open {path!r}, the SQLite store's count of "
                                    f"changes: {error}; remove it or give --store another "
                                    f"path") from error
        # One aligned 8-byte word: read and written whole.
        self._count = memoryview(self._map).cast("Q")

    def read(self) -> int:
        return self._count[0]

    def add_one(self) -> None:
        self._count[0] = (self._count[0] + 1) & 0xFFFF_FFFF_FFFF_FFFF


def where_clause(namespace: str | None, path: str | None) -> tuple[str, tuple[str, ...]]:
    """The SQL conditions on namespace and path (``None``: any), and their parameters."""
    conditions = [name + " = ?" for name, value in (("namespace", namespace), ("path", path))
                  if value is not None]
    return (" AND ".join(conditions) or "1",
            tuple(value for value in (namespace, path) if value is not None))


def entry_of_row(entry_id: int, stored: bytes) -> dict[str, Any]:
    """An entry as the journal lists it, from a row: a raw record (a JSON array) or an
    entry (a JSON object, as version 2 stored them before raw records)."""
    value = json.loads(stored)
    if isinstance(value, list):
        return derive(entry_id, from_json(value))
    return {"id": entry_id, **value}
