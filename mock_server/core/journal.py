"""Journal entries: recorded from a request and its answer, kept in the store, and optionally
appended to a JSON-lines file (one entry per line, written and flushed as it happens).

What is recorded at once is the raw record (``Raw``): the request's and the answer's own values,
with only what bounds memory done then (the body decoded and cut at the cap, a long answer cut).
The entry the admin API lists is derived from it when it is read (``derive``): the time as ISO
text, ``header_diff``, ``reply`` (the answer's JSON parsed again) and the depth check cost
nothing for the requests whose entries nobody reads. ``derive`` gives, field for field, the
entry that recording it at once gave (``tests/test_journal_derive.py`` holds the two together).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from . import contract
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


class JournalFile:
    """A JSON-lines file opened for appending; each line goes out in one unbuffered write, so
    it is on disk (in the OS's hands) as soon as ``write`` returns, whatever ends the process."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._lock = threading.Lock()

    def write(self, line: bytes) -> None:
        with self._lock:
            if self._fd is None:
                return
            view = memoryview(line)
            while view:
                view = view[os.write(self._fd, view):]

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


# The raw record of one request and its answer: plain values, so that it also goes into an
# SQLite store as one JSON array. Fields by position (a tuple costs less to make than any
# object with names):
RAW_FIELDS = ("stamp", "namespace", "method", "path", "query", "headers", "body",
              "body_size", "body_truncated", "remote_addr", "json", "violations", "status",
              "content_type", "answer", "delay", "fault", "reply_id", "body_cap")
Raw = tuple[Any, ...]
# An answer longer than this many bytes per character of the cap is kept cut: 4 bytes per
# character at most in UTF-8, and a cut sequence at the end is one character more.
_BYTES_PER_CHAR = 4


def raw_record(request: IncomingRequest, answer: Answer, *, parsed: Any,
               violations: list[str], reply_id: str | None, body_cap: int,
               stamp: float) -> Raw:
    """What is kept of ``request`` and ``answer`` at once. ``request.headers`` is kept as
    it is, not copied: a carrier hands the engine a dictionary of its own and never changes
    it after."""
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
            request.headers, body, request.size, body_truncated, request.remote_addr,
            # A body too long for the journal is kept as an excerpt only, to bound memory.
            None if body_truncated else parsed, violations,
            None if answer.disconnect else answer.status, content_type, text, answer.delay,
            answer.fault, reply_id, body_cap)


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
     violations, status, content_type, answer, delay, fault, reply_id, body_cap) = raw
    delay_ms = delay * 1000
    entry: JournalEntry = {
        "id": entry_id,
        "time": iso_time(stamp),
        "namespace": namespace,
        "method": method,
        "path": path,
        "query": query,
        "headers": dict(headers),
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
                 body_cap: int = DEFAULT_BODY_CAP) -> None:
        self.store = store
        self.file = file
        self.body_cap = body_cap
        self.file_error: str | None = None
        # Stores that keep raw records (the mock's own); any other Store gets entries.
        self._append_raw: Callable[[Raw, Callable[[int], None] | None], int] | None = \
            getattr(store, "append_raw", None)

    def record(self, request: IncomingRequest, answer: Answer, *, parsed: Any,
               violations: list[str], reply_id: str | None) -> tuple[int, Raw]:
        """Record one request and its answer; ``(id, raw record)``. A store that groups
        its writes (``SQLiteStore`` in batches) gives the id 0: it is known once written."""
        raw = raw_record(request, answer, parsed=parsed, violations=violations,
                         reply_id=reply_id, body_cap=self.body_cap, stamp=time.time())
        then = None if self.file is None else self._line_writer(raw)
        if self._append_raw is not None:
            return self._append_raw(raw, then), raw
        entry = derive(0, raw)
        del entry["id"]
        return self.store.append_then(entry, then), raw

    def _line_writer(self, raw: Raw) -> Callable[[int], None]:
        # The store calls this before it appends anything else, so the lines stay in id order.
        def write_line(entry_id: int) -> None:
            try:
                if self.file is not None:
                    self.file.write(json_bytes(derive(entry_id, raw)) + b"\n")
            except OSError as error:  # a full disk must not turn answers into 500s
                self._file_failed(error)
        return write_line

    def _file_failed(self, error: OSError) -> None:
        if not self.file_error:
            print(f"aichat-mock: cannot write the journal file "
                  f"{self.file.path if self.file else ''}: {error.strerror or error}; "
                  f"entries are still kept in memory", file=sys.stderr, flush=True)
        self.file_error = str(error)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
