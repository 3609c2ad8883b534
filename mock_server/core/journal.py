"""Journal entries: built from a request and its answer, kept in the store, and optionally
appended to a JSON-lines file (one entry per line, written and flushed as it happens)."""

from __future__ import annotations

import json
import os
import sys
import threading
from datetime import datetime, timezone
from typing import Any

from .records import Recorded
from .store import Store
from .wire import Answer, IncomingRequest, json_bytes

DEFAULT_BODY_CAP = 65_536
# An entry keeps a parsed body only up to this nesting. Python's JSON encoder recurses once
# per level, and the journal is written out again one or two levels deeper (inside the
# admin API's answer) and on another thread's stack: a body the parser just managed must not
# make the whole journal unreadable.
MAX_JSON_DEPTH = 256
# Bodies nested deeper than this are written out once as a check; shallower ones cannot fail.
CHECKED_DEPTH = 32


def now_iso() -> str:
    """The current time, ISO 8601 in UTC with milliseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


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


class Journal:
    """Records every request outside the admin API exactly once."""

    def __init__(self, store: Store, *, file: JournalFile | None = None,
                 body_cap: int = DEFAULT_BODY_CAP) -> None:
        self.store = store
        self.file = file
        self.body_cap = body_cap
        self.file_error: str | None = None

    def record(self, request: IncomingRequest, answer: Answer, *, parsed: Any,
               violations: list[str], header_diff: dict[str, dict[str, str | None]],
               reply_id: str | None) -> dict[str, Any]:
        body, body_truncated = cut(request.body.decode("utf-8", errors="replace"), self.body_cap)
        body_truncated = body_truncated or request.size > len(request.body)
        delay_ms = answer.delay * 1000
        entry: Recorded = {
            "time": now_iso(),
            "namespace": request.namespace,
            "method": request.method,
            "path": request.path,
            "query": request.query,
            "headers": dict(request.headers),
            # A body too long for the journal is kept as an excerpt only, to bound memory.
            "json": None if body_truncated else parsed,
            "body": body,
            "body_size": request.size,
            "body_truncated": body_truncated,
            "remote_addr": request.remote_addr,
            "status": None if answer.disconnect else answer.status,
            "reply": self.reply_of(answer),
            "violations": violations,
            "header_diff": header_diff,
            "fault": answer.fault,
            "delay_ms": int(delay_ms) if delay_ms == int(delay_ms) else delay_ms,
            "scripted": reply_id is not None,
            "reply_id": reply_id,
        }
        depth = nesting(entry["json"])
        if depth > MAX_JSON_DEPTH:
            entry["json"] = None  # the body text is still there
        elif depth > CHECKED_DEPTH:
            try:
                json_bytes(entry)
            except (ValueError, RecursionError):  # a body nested too deep to write out again
                entry["json"] = None
        if self.file is None:
            return {"id": self.store.append(entry), **entry}
        recorded: dict[str, Any] = {}

        def write_line(entry_id: int) -> None:
            recorded.update({"id": entry_id, **entry})
            try:
                if self.file is not None:
                    self.file.write(json_bytes(recorded) + b"\n")
            except OSError as error:  # a full disk must not turn answers into 500s
                self._file_failed(error)

        # The store calls this before it appends anything else, so the lines stay in id order.
        self.store.append_then(entry, write_line)
        return recorded

    def _file_failed(self, error: OSError) -> None:
        if not self.file_error:
            print(f"aichat-mock: cannot write the journal file "
                  f"{self.file.path if self.file else ''}: {error.strerror or error}; "
                  f"entries are still kept in memory", file=sys.stderr, flush=True)
        self.file_error = str(error)

    def reply_of(self, answer: Answer) -> Any:
        """What was answered: the JSON value when the body is JSON, else its text; an excerpt
        of the text when it is over the body cap; ``None`` when nothing was sent."""
        if answer.disconnect:
            return None
        text = answer.body.decode("utf-8", errors="replace")
        if len(text) <= self.body_cap and "json" in (answer.header("Content-Type") or ""):
            try:
                return json.loads(text)
            except ValueError:
                pass
        return cut(text, self.body_cap)[0]

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
