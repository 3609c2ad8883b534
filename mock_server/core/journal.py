"""Journal entries: built from a request and its answer, kept in the store, and optionally
appended to a JSON-lines file (``journal_file``). Where the store or the file fails (a full
disk, a broken database), the client is answered all the same: the journal counts what it
lost, says so once on standard error, and ``health()`` reports it."""

from __future__ import annotations

import json
import sqlite3
import sys
import threading
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from .journal_file import JournalFile
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


# Headers whose values are credentials: the journal keeps their length, not their value.
SECRET_HEADERS = ("authorization", "proxy-authorization", "cookie")
# An entry keeps at most this many bytes of header names and values in all: headers count
# against the journal's bound like bodies do.
HEADERS_CAP = 64 << 10


def redacted(value: str) -> str:
    return f"[redacted: {len(value)} chars]"


def kept_headers(headers: Mapping[str, str], *, keep_secrets: bool = False
                 ) -> tuple[dict[str, str], bool]:
    """The headers an entry keeps, secrets redacted unless ``keep_secrets``, and whether they
    were cut: in the order received, until HEADERS_CAP bytes of names and values (the header
    that crosses it cut to the room left, the rest left out)."""
    kept = dict(headers)
    if not keep_secrets:
        for name in SECRET_HEADERS:
            value = kept.get(name)
            if value is not None:
                kept[name] = redacted(value)
    # Characters first: most requests are far under the cap, whatever their encoding.
    if sum(len(name) + len(value) for name, value in kept.items()) * 4 <= HEADERS_CAP:
        return kept, False
    room = HEADERS_CAP
    cut_headers: dict[str, str] = {}
    for name, value in kept.items():
        size = len(name.encode("utf-8", "surrogatepass")) + len(
            value.encode("utf-8", "surrogatepass"))
        if size <= room:
            cut_headers[name] = value
            room -= size
            continue
        left = room - len(name.encode("utf-8", "surrogatepass"))
        if left > 0:
            cut_headers[name] = value.encode("utf-8", "surrogatepass")[:left].decode(
                "utf-8", "ignore")
        return cut_headers, True
    return cut_headers, False


# What a store or file that fails to record raises: the OS's errors and SQLite's.
STORAGE_ERRORS = (OSError, sqlite3.Error)


class Journal:
    """Records every request outside the admin API exactly once."""

    def __init__(self, store: Store, *, file: JournalFile | None = None,
                 body_cap: int = DEFAULT_BODY_CAP, keep_secrets: bool = False) -> None:
        self.store = store
        self.file = file
        self.body_cap = body_cap
        self.keep_secrets = keep_secrets
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
               violations: list[str], header_diff: dict[str, dict[str, str | None]],
               reply_id: str | None) -> dict[str, Any]:
        body, body_truncated = cut(request.body.decode("utf-8", errors="replace"), self.body_cap)
        body_truncated = body_truncated or request.size > len(request.body)
        delay_ms = answer.delay * 1000
        headers, headers_truncated = kept_headers(request.headers,
                                                  keep_secrets=self.keep_secrets)
        entry: Recorded = {
            "time": now_iso(),
            "namespace": request.namespace,
            "method": request.method,
            "path": request.path,
            "query": request.query,
            "headers": headers,
            "headers_truncated": headers_truncated,
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
        recorded: dict[str, Any] = {"id": None, **entry}
        try:
            if self.file is None:
                recorded["id"] = self.store.append(entry)
            else:
                # The store calls this before it appends anything else: lines in id order.
                self.store.append_then(entry, lambda entry_id: self._write_line(recorded,
                                                                                entry_id))
        except STORAGE_ERRORS as error:  # a full disk must not turn answers into 500s
            self.failed("store", error)
            return recorded
        if self.file is None:
            self._worked()
        return recorded

    def _write_line(self, recorded: dict[str, Any], entry_id: int) -> None:
        recorded["id"] = entry_id
        assert self.file is not None
        try:
            self.file.write(json_bytes(recorded) + b"\n")
        except OSError as error:
            self.failed("file", error)
        else:
            self._worked()

    def failed(self, where: str, error: BaseException, *, lost: bool = True) -> None:
        """The store (``where="store"``) or the file failed; ``lost``: an entry or a line
        with it."""
        reason = (f"cannot write the journal file {self.file.path if self.file else ''}"
                  if where == "file" else "the store failed")
        reason += f": {getattr(error, 'strerror', None) or error}"
        with self._health_lock:
            if lost and where == "file":
                self.lines_lost += 1
            elif lost:
                self.entries_lost += 1
            started = self.failing is None
            self.failing = reason
            if self.first_failure is None:
                self.first_failure = reason
        if started:
            print(f"aichat-mock: {reason}; requests are still answered, and "
                  f"/__mock__/health counts what the journal loses", file=sys.stderr,
                  flush=True)

    def _worked(self) -> None:
        if self.failing is None:
            return
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
