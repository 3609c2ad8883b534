"""The journal's JSON-lines file: one entry per line, appended as it happens, readable by the
owner only. A line is in the file whole or not at all: a write that fails half-way (a full
disk) is cut back off, so the next line never lands glued to a torn one; a last line torn
before the mock started (it was killed while writing) is kept on a line of its own, marked."""

from __future__ import annotations

import contextlib
import json
import os
import threading
from datetime import datetime, timezone

# Created readable and writable by the owner only: entries hold what clients sent.
FILE_MODE = 0o600
# How much of a torn last line is read back at a time, looking for where it starts.
TAIL_STEP = 65_536


def torn_line_marker(torn: bytes) -> bytes:
    """The line that replaces a torn one: its text kept, marked as torn, valid JSON."""
    return json.dumps({
        "torn_line": torn.decode("utf-8", errors="replace"),
        "repaired": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        "note": "this line was cut short when the mock stopped while writing it; the mock "
                "kept its text here when it started again",
    }).encode("ascii") + b"\n"


def repair_torn_tail(fd: int) -> int:
    """Replace a last line without its newline by ``torn_line_marker``; the torn line's size
    in bytes (0: nothing was torn)."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return 0
    start = size
    while start > 0:
        step = min(TAIL_STEP, start)
        chunk = os.pread(fd, step, start - step)
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            start = start - step + newline + 1
            break
        start -= step
    torn = os.pread(fd, size - start, start)
    os.ftruncate(fd, start)
    write_all(fd, torn_line_marker(torn))
    return len(torn)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class JournalFile:
    """A JSON-lines file opened for appending; each line goes out in unbuffered writes, so it
    is on disk (in the OS's hands) as soon as ``write`` returns, whatever ends the process.
    Callers that share the file across processes hold a lock of their own around ``write``
    (the store's), so that a cut-back write never cuts another process's line."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT,
                                       FILE_MODE)
        self._lock = threading.Lock()
        try:
            #: The size in bytes of a torn last line found and marked at start (0: none).
            self.repaired = repair_torn_tail(self._fd)
        except OSError:
            self.close()
            raise

    def write(self, line: bytes) -> None:
        """Append ``line`` whole, or raise ``OSError`` with the file as it was before."""
        with self._lock:
            if self._fd is None:
                raise OSError(f"the journal file {self.path} is closed")
            start = os.lseek(self._fd, 0, os.SEEK_END)
            try:
                write_all(self._fd, line)
            except OSError:
                with contextlib.suppress(OSError):  # shrinking a file needs no space
                    os.ftruncate(self._fd, start)
                raise

    def last_id(self) -> int | None:
        """The ``id`` of the file's last entry (``None``: it has none), read from its end: a
        line that is not an entry (a torn line's marker) is passed over."""
        with self._lock:
            if self._fd is None:
                return None
            end = os.fstat(self._fd).st_size
            tail = b""
            while end > 0:
                step = min(TAIL_STEP, end)
                end -= step
                tail = os.pread(self._fd, step, end) + tail
                lines = tail.split(b"\n")
                # The first piece may be part of a line that starts further back.
                for line in reversed(lines[1:] if end else lines):
                    with contextlib.suppress(ValueError):
                        entry = json.loads(line)
                        if isinstance(entry, dict) and type(entry.get("id")) is int:
                            return int(entry["id"])
                tail = lines[0] if end else b""
            return None

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
