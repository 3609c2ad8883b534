"""Journal entries: recorded from a request and its answer, kept in the store, and optionally
appended to a JSON-lines file (one entry per line, written and flushed as it happens).

What is recorded at once is the raw record (``Raw``): the request's and the answer's own values,
with only what bounds memory done then (the body decoded and cut at the cap, a long answer cut).
The entry the admin API lists is derived from it when it is read (``derive``): the time as ISO
text, ``header_diff``, ``reply`` (the answer's JSON parsed again) and the depth check cost
nothing for the requests whose entries nobody reads. ``derive`` gives, field for field, the
entry that recording it at once gave (``tests/mock/core/test_journal_derive.py`` holds the
two together).

What bounds the journal and keeps secrets out of it is done at once too: credentials in the
headers are redacted and an entry's headers are cut at ``HEADERS_CAP``. Where the store or the
file fails (a full disk, a broken database), the client is answered all the same: the journal
counts what it lost, says so once on standard error, and ``health()`` reports it.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from . import contract
from .journal_file import JournalFile
from .records import JournalEntry
from .wire import Answer, IncomingRequest, json_bytes

if TYPE_CHECKING:
    from .store import Store

DEFAULT_BODY_CAP = 65_536
# An entry keeps a parsed body only up to this nesting. Python's JSON encoder recurses once
# per level, and the journal is written out again one or two levels deeper (inside the
# admin API's answer) and on another thread's stack: a body the parser just managed must not
# make the whole journal unreadable.
MAX_JSON_DEPTH = 256
# Bodies nested deeper than this are written out once as a check; shallower ones cannot fail.
CHECKED_DEPTH = 32
# Headers whose values are credentials: the journal keeps their length, not their value.
SECRET_HEADERS = ("authorization", "proxy-authorization", "cookie")
# An entry keeps at most this many bytes of header names and values in all: headers count
# against the journal's bound like bodies do.
HEADERS_CAP = 64 << 10
# What a store or file that fails to record raises: the OS's errors and SQLite's.
STORAGE_ERRORS = (OSError, sqlite3.Error)


def iso_time(stamp: float) -> str:
    """``stamp`` (seconds since the epoch), ISO 8601 in UTC with milliseconds."""
    return datetime.fromtimestamp(stamp, timezone.utc).isoformat(timespec="milliseconds")


def header_diff(headers: Mapping[str, str]) -> dict[str, dict[str, str | None]]:
    """The contract headers missing from ``headers`` or different there."""
    return {name: {"expected": expected, "received": headers.get(name)}
            for name, expected in contract.header_table().items()
            if headers.get(name) != expected}


def nesting(value: Any) -> int:
    """How deep arrays and objects nest in a parsed JSON value (0 for a scalar), counted
    level by level rather than by recursion."""
    depth, level = 0, [value]
    while True:
        containers = [node for node in level if isinstance(node, (dict, list))]
        if not containers:
            return depth
        depth += 1
        level = [child for node in containers
                 for child in (node.values() if isinstance(node, dict) else node)]


def cut(text: str, cap: int) -> tuple[str, bool]:
    return (text, False) if len(text) <= cap else (text[:cap], True)


def redacted(value: str) -> str:
    return f"[redacted: {len(value)} chars]"


def kept_headers(headers: Mapping[str, str], *, keep_secrets: bool
                 ) -> tuple[Mapping[str, str], bool]:
    """The headers an entry keeps, and whether they were cut: secrets redacted unless
    ``keep_secrets``; in the order received, until HEADERS_CAP bytes of names and values (the
    header that crosses it cut to the room left, the rest left out). ``headers`` itself when
    nothing changes: most requests carry no credentials and are far under the cap."""
    kept = headers
    if not keep_secrets:
        found = [name for name in SECRET_HEADERS if name in headers]
        if found:
            kept = dict(headers)
            for name in found:
                kept[name] = redacted(headers[name])
    # Characters first (at most 4 bytes each in UTF-8): most requests are far under the cap.
    if (sum(map(len, kept)) + sum(map(len, kept.values()))) * 4 <= HEADERS_CAP:
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


# The raw record of one request and its answer: plain values, so that it also goes into an
# SQLite store as one JSON array. Fields by position (a tuple costs less to make than any
# object with names):
RAW_FIELDS = ("stamp", "namespace", "method", "path", "query", "headers", "body",
              "body_size", "body_truncated", "remote_addr", "json", "violations", "status",
              "content_type", "answer", "delay", "fault", "reply_id", "body_cap",
              "headers_truncated")
Raw = tuple[Any, ...]
# An answer longer than this many bytes per character of the cap is kept cut: 4 bytes per
# character at most in UTF-8, and a cut sequence at the end is one character more.
_BYTES_PER_CHAR = 4


def raw_record(request: IncomingRequest, answer: Answer, *, parsed: Any,
               violations: list[str], reply_id: str | None, body_cap: int,
               stamp: float, keep_secrets: bool) -> Raw:
    """What is kept of ``request`` and ``answer`` at once. ``request.headers`` is kept as
    it is, not copied, unless it has secrets to redact or is cut: a carrier hands the engine
    a dictionary of its own and never changes it after."""
    headers, headers_truncated = kept_headers(request.headers, keep_secrets=keep_secrets)
    body, body_truncated = cut(request.body.decode("utf-8", errors="replace"), body_cap)
    body_truncated = body_truncated or request.size > len(request.body)
    if answer.disconnect:
        content_type: str | None = None
        text: bytes | str | None = None
    else:
        content_type = answer.header("Content-Type")
        text = answer.body
        limit = _BYTES_PER_CHAR * body_cap + _BYTES_PER_CHAR
        if len(text) > limit:
            text = text[:limit]
    return (stamp, request.namespace, request.method, request.path, request.query,
            headers, body, request.size, body_truncated, request.remote_addr,
            # A body too long for the journal is kept as an excerpt only, to bound memory.
            None if body_truncated else parsed, violations,
            None if answer.disconnect else answer.status, content_type, text, answer.delay,
            answer.fault, reply_id, body_cap, headers_truncated)


def reply_value(content_type: str | None, answer: bytes | str | None, body_cap: int) -> Any:
    """What was answered: the JSON value when the body is JSON, else its text; an excerpt
    of the text when it is over the body cap; ``None`` when nothing was sent."""
    if answer is None:
        return None
    text = answer if isinstance(answer, str) else answer.decode("utf-8", errors="replace")
    if len(text) <= body_cap and "json" in (content_type or ""):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return cut(text, body_cap)[0]


def derive(entry_id: int, raw: Raw | list[Any]) -> dict[str, Any]:
    """The journal entry (``id`` first) of a raw record."""
    (stamp, namespace, method, path, query, headers, body, size, truncated, remote, parsed,
     violations, status, content_type, answer, delay, fault, reply_id, body_cap) = raw[:19]
    # Records written before entries said whether their headers were cut: they were not.
    headers_truncated = raw[19] if len(raw) > 19 else False
    delay_ms = delay * 1000
    entry: JournalEntry = {
        "id": entry_id,
        "time": iso_time(stamp),
        "namespace": namespace,
        "method": method,
        "path": path,
        "query": query,
        "headers": dict(headers),
        "headers_truncated": headers_truncated,
        "json": parsed,
        "body": body,
        "body_size": size,
        "body_truncated": truncated,
        "remote_addr": remote,
        "status": status,
        "reply": reply_value(content_type, answer, body_cap),
        "violations": list(violations),
        "header_diff": header_diff(headers) if path == contract.API_PATH else {},
        "fault": fault,
        "delay_ms": int(delay_ms) if delay_ms == int(delay_ms) else delay_ms,
        "scripted": reply_id is not None,
        "reply_id": reply_id,
    }
    depth = nesting(parsed)
    if depth > MAX_JSON_DEPTH:
        entry["json"] = None  # the body text is still there
    elif depth > CHECKED_DEPTH:
        try:
            json_bytes(entry)
        except (ValueError, RecursionError):  # a body nested too deep to write out again
            entry["json"] = None
    return dict(entry)


def raw_json(raw: Raw) -> bytes:
    """A raw record as one JSON array (for a store in a file); the answer as text. A parsed
    body nested too deep to write out is left out: its entry would not show it anyway."""
    values = list(raw)
    answer = values[14]
    if isinstance(answer, bytes):
        values[14] = answer.decode("utf-8", errors="replace")
    try:
        return json_bytes(values)
    except (ValueError, RecursionError):
        values[10] = None
        return json_bytes(values)


class Journal:
    """Records every request outside the admin API exactly once."""

    def __init__(self, store: Store, *, file: JournalFile | None = None,
                 body_cap: int = DEFAULT_BODY_CAP, keep_secrets: bool) -> None:
        self.store = store
        self.file = file
        self.body_cap = body_cap
        self.keep_secrets = keep_secrets
        # Stores that keep raw records (the mock's own); any other Store gets entries.
        self._append_raw: Callable[[Raw, Callable[[int], None] | None], int] | None = \
            getattr(store, "append_raw", None)
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

    def record(self, request: IncomingRequest, answer: Answer, *, parsed: Any,
               violations: list[str], reply_id: str | None) -> tuple[int, Raw]:
        """Record one request and its answer; ``(id, raw record)``. A store that groups
        its writes (``SQLiteStore`` in batches) gives the id 0: it is known once written.
        A store that fails gives 0 too, and the loss is counted."""
        raw = raw_record(request, answer, parsed=parsed, violations=violations,
                         reply_id=reply_id, body_cap=self.body_cap, stamp=time.time(),
                         keep_secrets=self.keep_secrets)
        then = None if self.file is None else self._line_writer(raw)
        try:
            if self._append_raw is not None:
                entry_id = self._append_raw(raw, then)
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

    def flush(self) -> None:
        """Write the records a store keeps for a batch (``SQLiteStore.flush``); a failure
        loses them, counted, and is never raised."""
        flush: Callable[[], int] | None = getattr(self.store, "flush", None)
        if flush is None:
            return
        waiting = getattr(self.store, "waiting", 0)
        try:
            written = flush()
        except STORAGE_ERRORS as error:
            self.failed("store", error, lost=waiting)
        else:
            # Only records written say the store works again: a turn with nothing to write
            # (an admin call's answer) says nothing of the disk.
            if written and self.failing is not None and self.file is None:
                self._worked()

    def _line_writer(self, raw: Raw) -> Callable[[int], None]:
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
