"""Journal entries: recorded from a request and its answer, kept in the store, and optionally
appended to a JSON-lines file (one entry per line, written and flushed as it happens).

What is recorded at once is the raw record (``raw_record.RawRecord``): the request's and the
answer's own values, with only what bounds memory done then (the body decoded and cut at the
cap, a long answer cut). The entry the admin API lists is derived from it when it is read
(``raw_record.derive``), field for field the entry that recording it at once gave
(``tests/mock/core/test_journal_derive.py`` holds the two together).

What bounds the journal and keeps secrets out of it is done at once too: credentials in the
headers are redacted and an entry's headers are cut at ``HEADERS_CAP``. Where the store or the
file fails (a full disk, a broken database), the client is answered all the same: the journal
counts what it lost, says so once on standard error, and ``health()`` reports it.
"""

from __future__ import annotations

import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .journal_file import JournalFile
from .raw_record import REQUEST, RawRecord, Recorded, derive
from .store import BatchingStore, PendingStore, RawStore, Store
from .wire import Answer, IncomingRequest, json_bytes

DEFAULT_BODY_CAP = 65_536
# Headers whose values are credentials: the journal keeps their length, not their value.
SECRET_HEADERS = ("authorization", "proxy-authorization", "cookie")
# An entry keeps at most this many bytes of header names and values in all: headers count
# against the journal's bound like bodies do.
HEADERS_CAP = 64 << 10
# How many of the store's newest entries the file's catch-up reads first (a batch's worth),
# four times as many each time until it reads past the file's last entry.
CATCH_UP_FIRST = 64
# What a store or file that fails to record raises: the OS's errors and SQLite's.
STORAGE_ERRORS = (OSError, sqlite3.Error)


def redacted(value: str) -> str:
    return f"[redacted: {len(value)} chars]"


def kept_headers(headers: Mapping[str, str], *, keep_secrets: bool
                 ) -> tuple[Mapping[str, str], bool]:
    """The headers an entry keeps, and whether they were cut: secrets redacted unless
    ``keep_secrets``; in the order received, until HEADERS_CAP bytes of names and values (the
    header that crosses it cut to the room left, the rest left out). ``headers`` itself when
    nothing changes: most requests carry no credentials and are far under the cap."""
    kept = headers
    if not keep_secrets and not headers.keys().isdisjoint(SECRET_HEADERS):
        kept = dict(headers)
        for name in SECRET_HEADERS:
            if name in headers:
                kept[name] = redacted(headers[name])
    # Characters first (at most 4 bytes each in UTF-8): most requests are far under the cap.
    # (Joined, they are counted in two calls, not two a header.)
    if (len("".join(kept)) + len("".join(kept.values()))) * 4 <= HEADERS_CAP:
        return kept, False
    room = HEADERS_CAP
    cut_headers: dict[str, str] = {}
    for name, value in kept.items():
        name_size = len(name.encode("utf-8", "surrogatepass"))
        data = value.encode("utf-8", "surrogatepass")
        if name_size + len(data) <= room:
            cut_headers[name] = value
            room -= name_size + len(data)
            continue
        if room > name_size:
            cut_headers[name] = data[:room - name_size].decode("utf-8", "ignore")
        return cut_headers, True
    return cut_headers, False


_new_record = tuple.__new__
# An answer longer than this many bytes per character of the cap is kept cut: 4 bytes per
# character at most in UTF-8, and a cut sequence at the end is one character more.
_BYTES_PER_CHAR = 4


class Journal:
    """Records every request outside the admin API exactly once."""

    def __init__(self, store: Store, *, file: JournalFile | None = None,
                 body_cap: int = DEFAULT_BODY_CAP, keep_secrets: bool) -> None:
        self.store = store
        self.file = file
        self.body_cap = body_cap
        self.keep_secrets = keep_secrets
        # Stores that keep raw records (the mock's own); any other Store gets entries.
        self._raw_store = store if isinstance(store, RawStore) else None
        # A store in memory with no file to write takes the usual request's record unmade
        # (record); any other store needs it made at once, to write it.
        pending = store if isinstance(store, PendingStore) and file is None else None
        self._later = None if pending is None else pending.append_pending
        # Where a request answered again is recorded (again): the store's inbox.
        self._pending = pending
        # A head of at most this many characters has at most HEADERS_CAP bytes of names and
        # values; a made record keeps at most this many bytes of an answer.
        self._head_chars = HEADERS_CAP // _BYTES_PER_CHAR
        self._answer_bytes = _BYTES_PER_CHAR * body_cap + _BYTES_PER_CHAR
        # raw_of bound once, not once a record (each record keeps it).
        self._make = self.raw_of
        # Stores that write in batches when asked to (the SQLite one): flush() writes them.
        self._batching = store if isinstance(store, BatchingStore) else None
        self._health_lock = threading.Lock()
        # Entries the store could not keep and lines the file could not take, since start.
        self.entries_lost = 0
        self.lines_lost = 0
        self.failing: str | None = None  # what the last failure said, while it lasts
        self.first_failure: str | None = None
        if file is not None and file.repaired:
            print(f"aichat-mock: the last line of the journal file {file.path} was torn "
                  f"({file.repaired} bytes, the mock stopped while writing it): it is kept on "
                  f"a line of its own, marked \"torn_line\"", file=sys.stderr, flush=True)
        if file is not None:
            self._catch_up(file)

    def _catch_up(self, file: JournalFile) -> None:
        """Give the file the entries the store holds past its last one: a store that outlives
        the process (SQLite) writes a batch's lines after its commit, so a process killed in
        between leaves the file short of the store. A file with no entry yet is left as it
        is: it gets the entries recorded from now on."""
        last = file.last_id()
        if last is None:
            return
        try:
            limit = CATCH_UP_FIRST
            while True:  # the most recent entries, more of them until past the file's last
                _, held = self.store.entries(namespace=None, limit=limit)
                if len(held) < limit or held[0]["id"] <= last:
                    break
                limit *= 4
        except STORAGE_ERRORS as error:
            self.failed("store", error, lost=False)
            return
        missing = [entry for entry in held if entry["id"] > last]
        for number, entry in enumerate(missing):
            try:
                file.write(json_bytes(entry) + b"\n")
            except OSError as error:
                self.failed("file", error, lost=len(missing) - number)
                return
        if missing:
            print(f"aichat-mock: the journal file {file.path} stopped short of the store by "
                  f"{len(missing)} entries (the mock was killed between the two): they are "
                  f"written to it now", file=sys.stderr, flush=True)

    def record(self, request: IncomingRequest, answer: Answer, parsed: Any,
               violations: Sequence[str], reply_id: str | None) -> tuple[int, Recorded]:
        """Record one request and its answer; ``(id, record)``, the record a ``RawRecord`` or
        one still to be made (``raw_record.realized`` makes it). A store that groups its
        writes (``SQLiteStore`` in batches) gives the id 0: it is known once written. A store
        that fails gives 0 too, and the loss is counted."""
        later = self._later
        if later is not None:
            chars = request.head_size
            # The usual request (it runs for every one): nothing to cut or redact, so the
            # values are kept as they came and the raw record is made from them when first
            # read, by the code below (raw_of). Kept bounded as a made record is: a head
            # whose size the carrier gives (its characters bound those of the names and
            # values) short of the cap, a body within the cap in bytes (so in characters), an
            # answer within the bytes a made record keeps, no credentials (or kept).
            if chars is not None and chars <= self._head_chars and \
                    len(request.body) <= self.body_cap and \
                    len(answer.body) <= self._answer_bytes and \
                    (self.keep_secrets or request.headers.keys().isdisjoint(SECRET_HEADERS)):
                pending = (self._make, time.time(), request, answer, parsed, violations,
                           reply_id)
                return later(pending, request.namespace, request.path), pending
        raw = self.raw_of(time.time(), request, answer, parsed, violations, reply_id)
        then = None if self.file is None else self._line_writer(raw)
        try:
            if self._raw_store is not None:
                entry_id = self._raw_store.append_raw(raw, then)
            else:
                entry = derive(0, raw)
                del entry["id"]
                entry_id = self.store.append_then(entry, then)
        except STORAGE_ERRORS as error:  # a full disk must not turn answers into 500s
            self.failed("store", error)
            return 0, raw
        # A store that batches its writes (id 0) has written nothing yet: its flush tells.
        if self.failing is not None and then is None and entry_id:
            self._worked()
        return entry_id, raw

    def again(self, request: IncomingRequest, first: Recorded | None) -> bool:
        """``record`` of ``request`` once more, answered as when it was first recorded as
        ``first`` (``Engine.repeat``): kept unmade as that one was, whose bounds it has (the
        same request, the same answer), without asking them again; ``False`` (nothing done)
        when ``first`` is not such a record of it."""
        pending = self._pending
        # (A record made at once, a RawRecord, has no request in it: its method is there.)
        if pending is None or first is None or first[REQUEST] is not request:
            return False
        # Its first record and its time, in one extend (atomic): made when read as the first
        # one is, at this one's time (raw_record.made_again), when the store takes it in.
        inbox = pending.inbox
        inbox += (first, time.time())
        if len(inbox) >= pending.inbox_mark:
            pending.take_inbox()
        return True

    def raw_of(self, stamp: float, request: IncomingRequest, answer: Answer, parsed: Any,
               violations: Sequence[str], reply_id: str | None) -> RawRecord:
        """The raw record of a request and its answer, recorded at ``stamp``: its headers
        redacted and cut, a body over the cap decoded and cut, a long answer cut."""
        # ``request.headers`` is kept as it is, not copied, unless it has secrets to redact or
        # is cut (a carrier hands the engine a dictionary that nothing changes after); a body
        # that may be over the cap decoded and cut (one within it in bytes is within it in
        # characters: kept as it is, decoded when read), a long answer cut.
        body_cap = self.body_cap
        headers: Mapping[str, str] = request.headers
        chars = request.head_size
        # kept_headers' usual answer without the call or its count (as in record).
        if chars is not None and chars <= self._head_chars and (
                self.keep_secrets or headers.keys().isdisjoint(SECRET_HEADERS)):
            headers_truncated = False
        else:
            headers, headers_truncated = kept_headers(headers, keep_secrets=self.keep_secrets)
        data = request.body
        size = request.size
        body: bytes | str = data
        body_truncated = size > len(data)
        if len(data) > body_cap:
            body = data.decode("utf-8", errors="replace")
            if len(body) > body_cap:
                body, body_truncated = body[:body_cap], True
        disconnect = answer.disconnect
        if disconnect:
            content_type: str | None = None
            text: bytes | str | None = None
        else:
            kinds = answer.headers
            content_type = (kinds[0][1] if kinds and kinds[0][0] == "Content-Type"
                            else answer.header("Content-Type"))
            text = answer.body
            if len(text) > self._answer_bytes:
                text = text[:self._answer_bytes]
        # Every field given, in RawRecord's order: made as a tuple is, without the class's own
        # __new__ (a Python call of 23 arguments).
        return _new_record(RawRecord, (
            stamp, request.namespace, request.method, request.path, request.query,
            headers, body, size, body_truncated, request.remote_addr,
            # A body too long for the journal is kept as an excerpt only, to bound memory.
            None if body_truncated else parsed, violations,
            None if disconnect else answer.status, content_type, text, answer.delay,
            answer.fault, reply_id, body_cap, headers_truncated, request.host, request.scheme,
            request.via))

    def batch_writes(self) -> None:
        """Have the store keep the records for ``flush`` to write in one go (``ValueError``
        for a store that cannot)."""
        if self._batching is None:
            raise ValueError(f"a {type(self.store).__name__} does not write in batches")
        self._batching.batch = True

    def flush(self) -> None:
        """Write the records a store keeps for a batch (``BatchingStore.flush``); a failure
        loses them, counted, and is never raised."""
        store = self._batching
        if store is None:
            return
        waiting = store.waiting
        try:
            written = store.flush()
        except STORAGE_ERRORS as error:
            self.failed("store", error, lost=waiting)
        else:
            # Only records written say the store works again: a turn with nothing to write
            # (an admin call's answer) says nothing of the disk.
            if written and self.failing is not None and self.file is None:
                self._worked()

    def _line_writer(self, raw: RawRecord) -> Callable[[int], None]:
        # The store calls this before it appends anything else, so the lines stay in id order.
        def write_line(entry_id: int) -> None:
            try:
                if self.file is None:
                    return
                self.file.write(json_bytes(derive(entry_id, raw)) + b"\n")
            except OSError as error:  # a full disk must not turn answers into 500s
                self.failed("file", error)
            else:
                if self.failing is not None:
                    self._worked()
        return write_line

    def failed(self, where: str, error: BaseException, *, lost: int | bool = True) -> None:
        """The store (``where="store"``) or the file failed; ``lost``: how many entries (or
        lines) went with it."""
        reason = (f"cannot write the journal file {self.file.path if self.file else ''}"
                  if where == "file" else "the store failed")
        reason += f": {getattr(error, 'strerror', None) or error}"
        with self._health_lock:
            if where == "file":
                self.lines_lost += int(lost)
            else:
                self.entries_lost += int(lost)
            started = self.failing is None
            self.failing = reason
            if self.first_failure is None:
                self.first_failure = reason
        if started:
            print(f"aichat-mock: {reason}; requests are still answered, and "
                  f"/__mock__/health counts what the journal loses", file=sys.stderr,
                  flush=True)

    def _worked(self) -> None:
        with self._health_lock:
            was, self.failing = self.failing, None
        if was is not None:
            print(f"aichat-mock: the journal records again ({self.entries_lost} entries and "
                  f"{self.lines_lost} file lines lost so far)", file=sys.stderr, flush=True)

    def health(self) -> dict[str, Any]:
        """``{"journal": "ok"}``, or ``"degraded"`` with why and what was lost since start."""
        with self._health_lock:
            if not (self.entries_lost or self.lines_lost or self.failing):
                return {"journal": "ok"}
            return {"journal": "degraded",
                    "reason": self.failing or f"{self.first_failure} (it records again)",
                    "failing": self.failing is not None,
                    "entries_lost": self.entries_lost, "file_lines_lost": self.lines_lost}

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
