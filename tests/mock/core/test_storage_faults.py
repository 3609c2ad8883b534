"""docs/mock-server.md, storage faults: a full disk or a broken store never answers 500 and never
glues one journal line to another; the journal marks the gap (``"journal": "degraded"`` in
``/__mock__/health``) and says so once on standard error; a torn last line is repaired at
start; a SQLite file that is not the mock's own, or is damaged, is refused at start and left
untouched; the files the mock makes are the owner's alone.

A full disk is played with the file-size limit (``RLIMIT_FSIZE``) of a child process: writes
past it fail (EFBIG, as ENOSPC would), and raising it again is the space coming back.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from mock_server import create_app
from mock_server.core.sqlite_store import SQLiteStore
from mock_server.core.store import MemoryStore

REQUEST = b'{"message": "user: Hello\\nassistant:"}'

# Runs in a child: some requests, then a "full disk" (the file-size limit at the files' sizes
# plus a few bytes, so the next line is cut half-way), then the space back; prints what the
# client got, the health at each stage, and the journal file's lines.
FULL_DISK = textwrap.dedent("""
    import json, os, resource, signal, sys
    from mock_server import Engine, IncomingRequest, MemoryStore, SQLiteStore

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # as the mock does: an error, not a kill
    journal, store_spec = sys.argv[1], sys.argv[2]
    store = MemoryStore() if store_spec == "memory" else SQLiteStore(store_spec[7:])
    engine = Engine(store=store, journal_file=journal)
    request = IncomingRequest("POST", "/api/text", headers={"content-type": "application/json"},
                              body=REQUEST)
    statuses, health = [], []

    def send(count):
        for _ in range(count):
            statuses.append(engine.handle(request).answer.status)

    send(4)
    health.append(engine.health())
    sizes = [os.path.getsize(journal)]
    if store_spec != "memory":  # the WAL, where commits go; the main file takes checkpoints
        sizes.append(os.path.getsize(store_spec[7:] + "-wal"))
    hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
    resource.setrlimit(resource.RLIMIT_FSIZE, (max(sizes) + 40, hard))
    send(6)
    health.append(engine.health())
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
    send(3)
    health.append(engine.health())
    total = engine.requests(namespace=None)["total"]
    engine.close()
    print(json.dumps({"statuses": statuses, "health": health, "total": total}))
""").replace("REQUEST", repr(REQUEST))


def run_full_disk(tmp_path: Path, store: str) -> tuple[dict[str, Any], list[str], str]:
    journal = tmp_path / "journal.jsonl"
    completed = subprocess.run([sys.executable, "-c", FULL_DISK, str(journal), store],
                               capture_output=True, text=True, timeout=60, check=False)
    assert completed.returncode == 0, completed.stderr
    lines = journal.read_text("utf-8").splitlines(keepends=True)
    return json.loads(completed.stdout), lines, completed.stderr


def assert_whole_lines(lines: list[str]) -> list[int]:
    """Every line ends with its newline and is one JSON object; the ids, in file order."""
    ids = []
    for line in lines:
        assert line.endswith("\n"), f"a line without its end: {line[:80]!r}"
        entry = json.loads(line)
        ids.append(entry["id"])
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    return ids


def test_a_full_disk_under_the_journal_file_loses_lines_but_no_answer(tmp_path: Path) -> None:
    result, lines, stderr = run_full_disk(tmp_path, "memory")
    assert result["statuses"] == [200] * 13, "every request answered"
    ids = assert_whole_lines(lines)
    assert ids == [1, 2, 3, 4, 11, 12, 13], "the lines of the full disk are missing, whole"
    assert result["total"] == 13, "the store (memory) kept every entry"
    before, during, after = result["health"]
    assert before == {"journal": "ok"}
    assert during["journal"] == "degraded" and during["failing"] is True
    assert during["file_lines_lost"] == 6 and during["entries_lost"] == 0
    assert "journal.jsonl" in during["reason"]
    assert after["journal"] == "degraded" and after["failing"] is False
    assert after["file_lines_lost"] == 6
    warnings = [line for line in stderr.splitlines() if line.startswith("aichat-mock:")]
    assert len(warnings) == 2, stderr  # once when it starts failing, once when it recovers
    assert "cannot write the journal file" in warnings[0]
    assert "records again" in warnings[1]


def test_a_full_disk_under_the_sqlite_store_loses_entries_but_no_answer(tmp_path: Path
                                                                        ) -> None:
    result, lines, _ = run_full_disk(tmp_path, f"sqlite:{tmp_path / 'store.sqlite3'}")
    assert result["statuses"] == [200] * 13, "every request answered, none with a 500"
    ids = assert_whole_lines(lines)
    before, during, after = result["health"]
    assert before == {"journal": "ok"}
    assert during["journal"] == "degraded" and during["failing"] is True
    assert (during["entries_lost"], during["file_lines_lost"]) == (6, 0)
    assert during["reason"].startswith("the store failed")
    assert after["failing"] is False and after["entries_lost"] == 6
    # What the store kept, the file kept too, in order; no entry is half there.
    assert result["total"] == 7 and ids == [1, 2, 3, 4, 5, 6, 7]


def test_a_torn_last_line_is_kept_on_a_line_of_its_own_and_marked(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]
                                                                  ) -> None:
    from mock_server import Engine, IncomingRequest

    journal = tmp_path / "journal.jsonl"
    good = json.dumps({"id": 1, "path": "/api/text"}) + "\n"
    torn = '{"id": 2, "path": "/api/te'
    journal.write_text(good + torn, encoding="utf-8")
    engine = Engine(journal_file=str(journal))
    engine.handle(IncomingRequest("POST", "/api/text", body=REQUEST))
    engine.close()
    lines = journal.read_text("utf-8").splitlines(keepends=True)
    assert lines[0] == good
    marked = json.loads(lines[1])
    assert marked["torn_line"] == torn
    new = json.loads(lines[2])
    assert new["path"] == "/api/text" and new["id"] == 1  # a new start of this engine's ids
    assert len(lines) == 3 and all(line.endswith("\n") for line in lines)
    assert "was torn" in capsys.readouterr().err


def test_a_whole_file_is_left_as_it_is(tmp_path: Path) -> None:
    from mock_server import Engine

    journal = tmp_path / "journal.jsonl"
    journal.write_text('{"id": 1}\n', encoding="utf-8")
    Engine(journal_file=str(journal)).close()
    assert journal.read_text("utf-8") == '{"id": 1}\n'


def start_with_store(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mock_server", "--port", "0", "--store",
                           f"sqlite:{path}"], capture_output=True, text=True, timeout=60,
                          check=False)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_another_programs_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "theirs.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE replies (seq INTEGER PRIMARY KEY, reply TEXT)")
        db.execute("INSERT INTO replies (reply) VALUES ('keep me')")
    db.close()
    before = digest(path)
    completed = start_with_store(path)
    assert completed.returncode == 2
    # One line that says why, and no usage text: the command was called rightly.
    [line] = [text for text in completed.stderr.splitlines() if text.strip()]
    assert "is not a store of the aichat mock" in line and "left as it is" in line
    assert "usage:" not in completed.stderr
    assert digest(path) == before
    assert not Path(f"{path}-wal").exists() and not Path(f"{path}-queue").exists()


def test_a_store_in_a_folder_that_is_not_there_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "store.sqlite3"
    completed = start_with_store(path)
    assert completed.returncode == 2
    [line] = [text for text in completed.stderr.splitlines() if text.strip()]
    assert str(path) in line and "--store" in line  # what failed, and what to change
    assert "usage:" not in completed.stderr
    assert not path.parent.exists()


def test_a_count_of_changes_that_cannot_be_opened_is_refused_in_one_line(tmp_path: Path
                                                                         ) -> None:
    """PATH-queue beside the store (docs/internals.md) is a folder here: the mock cannot map
    its count of changes, and says so at start in one line, not a traceback."""
    path = tmp_path / "store.sqlite3"
    (tmp_path / "store.sqlite3-queue").mkdir()
    completed = start_with_store(path)
    assert completed.returncode == 2
    [line] = [text for text in completed.stderr.splitlines() if text.strip()]
    assert f"{path}-queue" in line and "--store" in line
    assert "Traceback" not in completed.stderr


def test_a_damaged_store_is_refused_at_start(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    store = SQLiteStore(path)
    for number in range(300):
        store.append({"path": "/api/text", "namespace": "", "body": "x" * 200 + str(number)})
    store.close()
    with sqlite3.connect(path) as db:  # everything into the main file
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 4 * page
    # A page of the journal's entries (the first that holds a body), scrambled.
    start = data.index(b"x" * 200) // page * page
    data[start + 100: start + page] = b"\xff" * (page - 100)
    path.write_bytes(bytes(data))
    completed = start_with_store(path)
    assert completed.returncode == 2, completed.stderr
    assert "damaged" in completed.stderr or "not an SQLite database" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_a_file_that_is_no_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database, but someone's notes\n" * 200, encoding="utf-8")
    before = digest(path)
    completed = start_with_store(path)
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr
    assert digest(path) == before


def test_the_mocks_files_are_the_owners_alone(tmp_path: Path) -> None:
    from mock_server import Engine, IncomingRequest

    store = SQLiteStore(tmp_path / "store.sqlite3")
    engine = Engine(store=store, journal_file=str(tmp_path / "journal.jsonl"), owns_store=True)
    engine.handle(IncomingRequest("POST", "/api/text", body=REQUEST))
    engine.queue_replies({"message": "a"})
    engine.close()
    made = [path for path in tmp_path.iterdir() if path.is_file()]
    assert {path.name for path in made} >= {"store.sqlite3", "journal.jsonl"}
    for path in made:
        assert stat.S_IMODE(os.stat(path).st_mode) & 0o077 == 0, path.name


class BrokenStore(MemoryStore):
    """A store whose database has gone bad: every call that reads or writes it fails."""

    def fail(self, *args: Any, **kwargs: Any) -> Any:
        raise sqlite3.OperationalError("database disk image is malformed")

    append = append_then = append_raw = entries = take_reply = push_replies = fail  # type: ignore[assignment]


def test_a_broken_store_answers_the_site_and_503_on_the_admin_api() -> None:
    app = create_app({"MOCK_STORE": BrokenStore()})
    client = app.test_client()
    answer = client.post("/api/text", json={"message": "user: Hi\nassistant:"})
    assert (answer.status_code, answer.get_json()) == (
        200, {"response": True, "message": "You said: Hi"})
    journal = client.get("/__mock__/requests")
    assert journal.status_code == 503
    assert "the store failed: database disk image is malformed" in journal.get_json()["error"]
    queued = client.post("/__mock__/replies", json={"message": "a"})
    assert queued.status_code == 503
    health = client.get("/__mock__/health").get_json()
    assert health["journal"] == "degraded" and health["entries_lost"] == 1


def test_a_batch_the_store_cannot_write_is_counted_lost_and_not_raised(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With several workers the mock's own server writes each turn's records in one batch:
    a batch that fails to write is lost (and counted), and the answers still go out."""
    from mock_server import Engine, IncomingRequest

    store = SQLiteStore(tmp_path / "store.sqlite3")
    store.batch = True
    engine = Engine(store=store, owns_store=True)
    for _ in range(3):
        assert engine.handle(IncomingRequest("POST", "/api/text", body=REQUEST)).answer.status \
            == 200

    def full_disk() -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store, "_writing", full_disk)
    engine.journal.flush()
    health = engine.health()
    assert (health["journal"], health["entries_lost"], health["failing"]) == (
        "degraded", 3, True)
    assert "database or disk is full" in health["reason"]
    monkeypatch.undo()
    engine.handle(IncomingRequest("POST", "/api/text", body=REQUEST))
    engine.journal.flush()
    assert engine.health()["failing"] is False
    assert engine.requests()["total"] == 1
    engine.close()


def test_a_batching_store_on_a_full_disk_says_so_once_until_a_batch_is_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """docs/mock-server.md: on a full disk the answers still go out, health says degraded and the
    server says so once on stderr; docs/mock-server.md: one line when it starts failing, one when
    it records again once the space is back, and health says whether it is still failing.
    With the batches of several workers, a request taken while the disk is full, or a turn
    with nothing to write (an admin call's answer), is not the journal recording again."""
    from mock_server import Engine, IncomingRequest

    store = SQLiteStore(tmp_path / "store.sqlite3")
    store.batch = True
    engine = Engine(store=store, owns_store=True)

    def full_disk() -> None:
        raise sqlite3.OperationalError("database or disk is full")

    def lines() -> list[str]:
        return [line for line in capsys.readouterr().err.splitlines() if line.strip()]

    monkeypatch.setattr(store, "_writing", full_disk)
    for _ in range(3):
        assert engine.handle(IncomingRequest("POST", "/api/text", body=REQUEST)).answer.status \
            == 200
        engine.journal.flush()
    engine.journal.flush()  # a turn with nothing to write
    during = engine.health()
    assert (during["journal"], during["failing"], during["entries_lost"]) == (
        "degraded", True, 3)
    [started] = lines()
    assert "database or disk is full" in started

    monkeypatch.undo()
    engine.handle(IncomingRequest("POST", "/api/text", body=REQUEST))
    engine.journal.flush()
    after = engine.health()
    assert (after["journal"], after["failing"], after["entries_lost"]) == ("degraded", False, 3)
    assert len(lines()) == 1  # it records again, said once
    assert engine.requests()["total"] == 1
    engine.close()
