"""The journal: the fields of an entry, exactly one entry per request outside the admin API,
the memory cap, and the JSON-lines file (also after SIGTERM and SIGINT)."""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import sqlite3
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

from mock_server import Engine, IncomingRequest, MemoryStore, create_app
from mock_server.core import contract, journal_file
from mock_server.core.journal import Journal
from mock_server.core.journal_file import JournalFile, torn_line_marker
from mock_server.testing.child_process import MockProcess
from mock_server.testing.remote import RemoteMock
from support.expected import ENTRY_FIELDS, HEADERS, MOCK_JOURNAL_CAP

BODY = {"message": "user: Hello\nassistant:", "temperature": 1, "presence_penalty": 0,
        "top_p": 1, "frequency_penalty": 0}


@pytest.fixture
def http() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def test_an_entry_holds_the_request_and_the_answer(http: requests.Session,
                                                   remote_mock: RemoteMock) -> None:
    before = datetime.now(timezone.utc)
    data = json.dumps(BODY).encode()
    response = http.post(remote_mock.url_for("/api/text?lang=fr&x=%20y"), data=data,
                         headers={**HEADERS, "X-Mixed-Case": "Value  With  Spaces",
                                  "x-utf8": "café".encode().decode("latin-1")}, timeout=30)
    after = datetime.now(timezone.utc)
    [entry] = remote_mock.requests

    assert list(entry) == ENTRY_FIELDS
    assert isinstance(entry["id"], int)
    stamp = datetime.fromisoformat(entry["time"])
    assert stamp.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= stamp <= after + timedelta(seconds=1)
    assert (entry["method"], entry["path"], entry["query"]) == ("POST", "/api/text",
                                                                 "lang=fr&x=%20y")
    headers = entry["headers"]
    assert all(name == name.lower() for name in headers)
    assert headers["x-mixed-case"] == "Value  With  Spaces"
    assert headers["x-utf8"] == "café"
    assert {name: headers[name] for name in HEADERS} == HEADERS
    assert headers["content-length"] == str(len(data))
    assert entry["json"] == BODY and list(entry["json"]) == list(BODY)
    assert entry["body"] == data.decode()
    assert (entry["body_size"], entry["body_truncated"]) == (len(data), False)
    assert entry["remote_addr"] == "127.0.0.1"
    assert entry["status"] == 200
    assert entry["reply"] == response.json() == {"response": True, "message": "You said: Hello"}
    assert entry["violations"] == []
    assert entry["header_diff"] == {}
    assert (entry["fault"], entry["delay_ms"], entry["scripted"]) == (None, 0, False)
    assert (entry["namespace"], entry["reply_id"]) == ("", None)


def test_header_diff_reports_but_never_refuses(http: requests.Session,
                                               remote_mock: RemoteMock) -> None:
    headers = {**HEADERS, "sec-ch-ua-platform": '"Windows"'}
    del headers["authority"]
    response = http.post(remote_mock.url_for("/api/text"), json=BODY, headers=headers,
                         timeout=30)
    assert response.status_code == 200
    [entry] = remote_mock.requests
    assert entry["header_diff"] == {
        "authority": {"expected": "chat-gpt.org", "received": None},
        "sec-ch-ua-platform": {"expected": '"macOS"', "received": '"Windows"'},
    }


def test_header_diff_covers_the_whole_contract_table(http: requests.Session,
                                                     remote_mock: RemoteMock) -> None:
    http.post(remote_mock.url_for("/api/text"), json=BODY, timeout=30)
    [entry] = remote_mock.requests
    table = contract.header_table()
    assert table == HEADERS
    # requests' own content-type and accept are the contract's; the rest is missing or
    # requests' own.
    assert set(entry["header_diff"]) == set(table) - {"content-type", "accept"}
    assert entry["header_diff"]["user-agent"]["received"].startswith("python-requests/")


def test_other_paths_are_journaled_without_a_header_diff(http: requests.Session,
                                                         remote_mock: RemoteMock) -> None:
    http.get(remote_mock.url_for("/elsewhere?q=1"), timeout=30)
    [entry] = remote_mock.requests
    assert (entry["path"], entry["query"], entry["status"]) == ("/elsewhere", "q=1", 404)
    assert (entry["json"], entry["body"], entry["header_diff"], entry["violations"]) \
        == (None, "", {}, [])


def test_admin_traffic_and_static_files_are_not_journaled(http: requests.Session,
                                                          remote_mock: RemoteMock) -> None:
    for path in ("/__mock__/health", "/__mock__/requests", "/__mock__/replies", "/__mock__/",
                 "/__mock__/static/style.css", "/__mock__/nowhere"):
        http.get(remote_mock.url_for(path), timeout=30)
    http.post(remote_mock.url_for("/api/text"), json=BODY, timeout=30)
    assert [entry["path"] for entry in remote_mock.requests] == ["/api/text"]


def test_ids_increase_and_total_counts_since_the_last_clear(http: requests.Session,
                                                            remote_mock: RemoteMock) -> None:
    for _ in range(3):
        http.post(remote_mock.url_for("/api/text"), json=BODY, timeout=30)
    ids = [entry["id"] for entry in remote_mock.requests]
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert remote_mock.journal()["total"] == 3


def test_concurrent_requests_are_each_journaled_once(remote_mock: RemoteMock) -> None:
    def ask(worker: int) -> None:
        session = requests.Session()
        session.trust_env = False
        for turn in range(10):
            session.post(remote_mock.url_for("/api/text"), timeout=30,
                         json={"message": f"user: {worker}-{turn}\nassistant:"})
        session.close()

    threads = [threading.Thread(target=ask, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    entries = remote_mock.requests
    assert len(entries) == 40
    assert sorted(entry["reply"]["message"] for entry in entries) == sorted(
        f"You said: {worker}-{turn}" for worker in range(4) for turn in range(10))
    assert len({entry["id"] for entry in entries}) == 40


def test_the_journal_cap_drops_the_oldest_and_total_still_counts_them() -> None:
    client = create_app({"MOCK_JOURNAL_CAP": 3}).test_client()
    for number in range(5):
        client.post("/api/text", json={"message": f"user: {number}\nassistant:"})
    client.get("/chat")
    journal = client.get("/__mock__/requests").get_json()
    assert journal["total"] == 6
    assert [entry["id"] for entry in journal["requests"]] == [4, 5, 6]
    api = client.get("/__mock__/requests?path=/api/text").get_json()
    assert api["total"] == 5
    assert [entry["json"]["message"] for entry in api["requests"]] == [
        "user: 3\nassistant:", "user: 4\nassistant:"]
    assert client.delete("/__mock__/requests").get_json() == {"cleared": 6}
    assert client.get("/__mock__/requests").get_json() == {"total": 0, "requests": []}


@pytest.mark.parametrize("count", [2, 3, 4], ids=["cap-1", "cap", "cap+1"])
def test_the_journal_cap_at_and_around_its_size(count: int) -> None:
    cap = 3
    client = create_app({"MOCK_JOURNAL_CAP": cap}).test_client()
    for number in range(count):
        client.post("/api/text", json={"message": f"user: {number}\nassistant:"})
    journal = client.get("/__mock__/requests").get_json()
    assert journal["total"] == count
    kept = list(range(1, count + 1))[-cap:]  # the newest cap entries, oldest first
    assert [entry["id"] for entry in journal["requests"]] == kept
    assert [entry["json"]["message"] for entry in journal["requests"]] == [
        f"user: {number - 1}\nassistant:" for number in kept]


def test_the_default_journal_cap_is_ten_thousand() -> None:
    """docs/mock-server.md: 10,000 entries by default, the oldest dropped first, still counted."""
    engine = Engine()
    body = json.dumps({"message": "user: Hi\nassistant:"}).encode()
    for _ in range(MOCK_JOURNAL_CAP + 1):
        engine.handle(IncomingRequest("POST", "/api/text", headers=HEADERS, body=body,
                                      remote_addr="127.0.0.1"))
    journal = engine.requests()
    assert journal["total"] == MOCK_JOURNAL_CAP + 1
    assert len(journal["requests"]) == MOCK_JOURNAL_CAP
    assert (journal["requests"][0]["id"], journal["requests"][-1]["id"]) == (
        2, MOCK_JOURNAL_CAP + 1)


def test_the_body_cap_keeps_an_excerpt() -> None:
    client = create_app({"MOCK_JOURNAL_BODY_CAP": 10}).test_client()
    client.post("/api/text", json={"message": "user: a long enough prompt\nassistant:"})
    [entry] = client.get("/__mock__/requests").get_json()["requests"]
    assert entry["body"] == '{"message"'
    assert entry["body_truncated"] is True
    assert entry["json"] is None, "no whole body beyond the cap"
    assert entry["reply"] == "{\"response"


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_json_lines_file_holds_exactly_the_requests_sent(tmp_path: Path,
                                                             stop: signal.Signals) -> None:
    journal = tmp_path / "journal.jsonl"
    journal.write_text(json.dumps({"id": 0, "note": "an earlier run"}) + "\n", "utf-8")
    sent = [f"user: number {number} ☃\nassistant:" for number in range(6)]
    with MockProcess(["--journal", str(journal), "--journal-cap", "2"]) as process:
        http = requests.Session()
        http.trust_env = False
        for message in sent:
            http.post(f"{process.url}/api/text", json={"message": message}, timeout=30)
        http.get(f"{process.url}/not-here", timeout=30)
        http.get(f"{process.url}/__mock__/health", timeout=30)
        held = http.get(f"{process.url}/__mock__/requests", timeout=30).json()
        http.close()
        assert held["total"] == 7
        assert len(held["requests"]) == 2, "--journal-cap holds two in memory"
        assert process.stop(stop) == 0

    lines = read_lines(journal)
    assert lines[0] == {"id": 0, "note": "an earlier run"}, "the file is appended to"
    entries = lines[1:]
    assert [entry["json"]["message"] for entry in entries[:6]] == sent
    assert [entry["path"] for entry in entries] == ["/api/text"] * 6 + ["/not-here"]
    assert [entry["id"] for entry in entries] == list(range(1, 8))
    assert entries[-2:] == held["requests"], "the file and the memory hold the same entries"


def test_a_header_sent_empty_is_journaled_empty(remote_mock: RemoteMock) -> None:
    host, port = remote_mock.base_url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port))) as connection:
        connection.sendall(b"POST /api/text HTTP/1.1\r\nHost: localhost\r\nContent-Type: \r\n"
                           b"X-Empty: \r\nContent-Length: 17\r\nConnection: close\r\n\r\n"
                           b'{"message": "hi"}')
        assert connection.recv(12) == b"HTTP/1.1 200"
    [entry] = remote_mock.requests
    assert entry["headers"]["content-type"] == entry["headers"]["x-empty"] == ""
    assert entry["header_diff"]["content-type"] == {"expected": "application/json",
                                                    "received": ""}


# --- storage faults in this process (docs/mock-server.md; the health fields of
# contract/admin.openapi.json): mock/core/test_storage_faults.py plays a full disk in a child
# process, which make mutants-mock does not reach; here the file and the store fail on demand.


class FailingFile:
    """A journal file that fails with the error it is given, until it is given None."""

    path = "/full/journal.jsonl"
    repaired = 0

    def __init__(self) -> None:
        self.error: OSError | None = None
        self.lines: list[bytes] = []

    def write(self, line: bytes) -> None:
        if self.error is not None:
            raise self.error
        self.lines.append(line)

    def close(self) -> None:
        pass


def site_request() -> IncomingRequest:
    return IncomingRequest("POST", "/api/text", headers=HEADERS,
                           body=json.dumps(BODY).encode(), remote_addr="127.0.0.1")


def warnings_in(capsys: pytest.CaptureFixture[str]) -> list[str]:
    captured = capsys.readouterr()
    assert captured.out == ""
    return [line for line in captured.err.splitlines() if line.strip()]


def test_a_failing_journal_file_is_counted_and_reported_until_it_works(
        capsys: pytest.CaptureFixture[str]) -> None:
    engine = Engine()
    file = FailingFile()
    engine.journal.file = file  # type: ignore[assignment]
    for _ in range(2):
        engine.handle(site_request())
    assert engine.health() == {"journal": "ok"}
    assert warnings_in(capsys) == []

    file.error = OSError(28, "No space left on device")
    for _ in range(3):
        assert engine.handle(site_request()).answer.status == 200
    during = engine.health()
    assert (during["journal"], during["failing"]) == ("degraded", True)
    assert (during["entries_lost"], during["file_lines_lost"]) == (0, 3)
    assert file.path in during["reason"] and "No space left on device" in during["reason"]
    [started] = warnings_in(capsys)  # once, not once per lost line
    assert file.path in started

    # The reason is the last failure while it lasts.
    file.error = OSError(5, "Input/output error")
    engine.handle(site_request())
    assert "Input/output error" in engine.health()["reason"]
    assert engine.health()["file_lines_lost"] == 4
    assert warnings_in(capsys) == []

    file.error = None
    engine.handle(site_request())
    after = engine.health()
    assert (after["journal"], after["failing"]) == ("degraded", False)
    assert (after["entries_lost"], after["file_lines_lost"]) == (0, 4)
    assert file.path in after["reason"]  # what failed, though it records again
    assert len(warnings_in(capsys)) == 1  # once when it records again
    assert len(file.lines) == 3 and engine.requests()["total"] == 7


class FailingStore(MemoryStore):
    """A store whose writes fail with ``error`` until it is None."""

    error: Exception | None = None

    def append_raw(self, *args: Any, **kwargs: Any) -> Any:
        if self.error is not None:
            raise self.error
        return super().append_raw(*args, **kwargs)


def test_a_failing_store_is_counted_and_reported_until_it_works(
        capsys: pytest.CaptureFixture[str]) -> None:
    store = FailingStore()
    engine = Engine(store=store)
    engine.handle(site_request())
    store.error = sqlite3.OperationalError("database or disk is full")
    for _ in range(3):
        assert engine.handle(site_request()).answer.status == 200
    during = engine.health()
    assert (during["journal"], during["failing"]) == ("degraded", True)
    assert (during["entries_lost"], during["file_lines_lost"]) == (3, 0)
    # What failed, and how: the store, in the database's words.
    assert "store" in during["reason"] and "database or disk is full" in during["reason"]
    assert len(warnings_in(capsys)) == 1
    store.error = None
    engine.handle(site_request())
    after = engine.health()
    assert (after["journal"], after["failing"], after["entries_lost"]) == ("degraded", False, 3)
    assert "database or disk is full" in after["reason"]
    assert len(warnings_in(capsys)) == 1
    assert engine.requests()["total"] == 2


# --- the JSON-lines file's torn last line (docs/mock-server.md: repaired on start, the torn line
# kept on a line of its own and marked, never glued to the next), for torn lines of every length
# around the 64 KiB the file is read back by, and one cut inside a UTF-8 character.

LINES = b'{"id": 1, "path": "/api/text"}\n{"id": 2, "path": "/chat"}\n'
CUT_CHARACTER = b'{"id": 3, "message": "caf' + "é".encode()[:1]


@pytest.mark.parametrize("before", [b"", LINES], ids=["alone", "after-lines"])
@pytest.mark.parametrize("torn", [
    b"{", CUT_CHARACTER, b"x" * 65_535, b"x" * 65_536, b"x" * 65_537, b"y" * 140_000,
], ids=["1", "cut-character", "64KiB-1", "64KiB", "64KiB+1", "140000"])
def test_a_torn_last_line_of_any_length_is_kept_whole_and_marked(
        tmp_path: Path, before: bytes, torn: bytes) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_bytes(before + torn)
    file = JournalFile(path)
    assert file.repaired == len(torn)
    file.write(b'{"id": 1}\n')
    file.close()
    data = path.read_bytes()
    assert data.startswith(before)
    marker, new = data[len(before):].splitlines(keepends=True)
    assert json.loads(marker)["torn_line"] == torn.decode("utf-8", errors="replace")
    assert marker.endswith(b"\n") and new == b'{"id": 1}\n'


@pytest.mark.parametrize("content", [b"", b"\n", LINES], ids=["empty", "newline", "lines"])
def test_a_file_that_ends_with_a_whole_line_is_left_as_it_is(tmp_path: Path,
                                                             content: bytes) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_bytes(content)
    file = JournalFile(path)
    assert file.repaired == 0
    file.close()
    assert path.read_bytes() == content


def test_a_closed_journal_file_refuses_to_write(tmp_path: Path) -> None:
    file = JournalFile(tmp_path / "journal.jsonl")
    file.write(b'{"id": 1}\n')
    file.close()
    with pytest.raises(OSError, match="closed"):
        file.write(b'{"id": 2}\n')
    file.close()  # twice is harmless
    assert (tmp_path / "journal.jsonl").read_bytes() == b'{"id": 1}\n'


def test_a_line_that_fails_half_way_is_cut_back_off(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/mock-server.md: a line is in the file whole or not at all, never glued to the next."""
    path = tmp_path / "journal.jsonl"
    file = JournalFile(path)
    file.write(b'{"id": 1}\n')

    def half_then_full(fd: int, data: bytes) -> None:
        os.write(fd, data[:len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(journal_file, "write_all", half_then_full)
    with pytest.raises(OSError):
        file.write(b'{"id": 2, "path": "/api/text"}\n')
    monkeypatch.undo()
    file.write(b'{"id": 3}\n')
    file.close()
    assert path.read_bytes() == b'{"id": 1}\n{"id": 3}\n'


# docs/mock-server.md: the credentials a request may carry are kept as their length unless
# --keep-secrets (mock/serve/test_hostile_clients.py checks both through the mock command).
SECRETS = {"authorization": "Bearer sk-very-secret", "cookie": "session=abc123; theme=dark",
           "proxy-authorization": "Basic dXNlcjpwYXNz"}


@pytest.mark.parametrize("keep", [False, True])
def test_secrets_are_redacted_unless_kept(keep: bool) -> None:
    engine = Engine(keep_secrets=True) if keep else Engine()
    engine.handle(IncomingRequest("POST", "/api/text", headers={**HEADERS, **SECRETS},
                                  body=json.dumps(BODY).encode()))
    [entry] = engine.requests()["requests"]
    for name, value in SECRETS.items():
        assert entry["headers"][name] == (value if keep else f"[redacted: {len(value)} chars]")


def test_a_deeply_nested_body_leaves_the_journal_readable_in_process() -> None:
    """mock/web/test_fuzz.py's sweep of the depths around the parser's limit, through the app in
    this process (on this stack the parser gives up at other depths: the sweep crosses them)."""
    client = create_app().test_client()
    parsed = 0
    for (opener, closer), levels in itertools.product(
            [(b"[", b"]"), (b'{"a": ', b"}")], range(700, 1_000, 12)):
        body = b'{"message": "user: deep\\nassistant:", "x": ' + opener * levels + b"1" \
            + closer * levels + b"}"
        for path in ("/api/text", "/elsewhere"):
            answer = client.post(path, data=body, content_type="application/json")
            assert answer.status_code < 500
            parsed += answer.status_code == 200  # parsed (extra fields are allowed)
    journal = client.get("/__mock__/requests")
    assert journal.status_code == 200, journal.get_data(as_text=True)[:300]
    assert journal.get_json()["total"] == 100
    assert 0 < parsed < 50, "the sweep crosses the depth the parser gives up at"


# 12 headers of 7,000 bytes: 84 KB, over the 64 KiB docs/mock-server.md lets an entry keep.
BIG_HEADERS = {f"x-filler-{number:02d}": "v" * 7_000 for number in range(12)}


def test_headers_over_64_kib_are_cut_and_marked() -> None:
    engine = Engine()
    engine.handle(IncomingRequest("POST", "/api/text", headers={**HEADERS, **BIG_HEADERS},
                                  body=json.dumps(BODY).encode()))
    engine.handle(site_request())
    cut, whole = engine.requests()["requests"]
    assert (cut["headers_truncated"], whole["headers_truncated"]) == (True, False)
    # Cut at 64 KiB: the header that crosses it cut to the room left.
    assert sum(len(name) + len(value) for name, value in cut["headers"].items()) == 64 << 10


@pytest.mark.parametrize("over", [0, 1], ids=["exactly-64KiB", "64KiB+1"])
def test_headers_of_exactly_64_kib_are_kept_whole(over: int) -> None:
    headers = {name.lower(): value for name, value in HEADERS.items()}
    room = (64 << 10) - sum(len(name) + len(value) for name, value in headers.items())
    headers["x-filler"] = "v" * (room - len("x-filler") + over)
    engine = Engine()
    engine.handle(IncomingRequest("POST", "/api/text", headers=headers,
                                  body=json.dumps(BODY).encode()))
    [entry] = engine.requests()["requests"]
    assert entry["headers_truncated"] is bool(over)
    assert len(entry["headers"]["x-filler"]) == len(headers["x-filler"]) - over


def test_a_body_of_exactly_the_body_cap_is_kept_whole() -> None:
    body = json.dumps(BODY).encode()
    for cap, truncated in ((len(body), False), (len(body) - 1, True)):
        engine = Engine(body_cap=cap)
        engine.handle(IncomingRequest("POST", "/api/text", headers=HEADERS, body=body))
        [entry] = engine.requests()["requests"]
        assert (entry["body"], entry["body_truncated"]) == (body.decode()[:cap], truncated)
        assert entry["json"] == (None if truncated else BODY)


def test_a_reply_of_exactly_the_body_cap_is_kept_whole() -> None:
    """docs/mock-server.md: the entry's reply is what the mock answered, cut at the body cap: an
    answer of exactly the cap is whole (its JSON value), one character more is an excerpt."""
    answer = Engine().handle(site_request()).answer.body.decode()
    for cap, kept in ((len(answer), json.loads(answer)), (len(answer) - 1, answer[:-1])):
        engine = Engine(body_cap=cap)
        engine.handle(site_request())
        assert engine.requests()["requests"][0]["reply"] == kept


def test_a_replys_delay_is_journaled_in_milliseconds() -> None:
    engine = Engine()
    engine.queue_replies([{"message": "a", "delay_ms": 2.5}, {"message": "b", "delay_ms": 40}])
    engine.handle(site_request())
    engine.handle(site_request())
    delays = [entry["delay_ms"] for entry in engine.requests()["requests"]]
    assert delays == [2.5, 40] and type(delays[1]) is int


class LockedQueueStore(MemoryStore):
    """A store whose reply queue cannot be read (a locked database); its journal works."""

    def take_reply(self, *args: Any, **kwargs: Any) -> Any:
        raise sqlite3.OperationalError("database is locked")


def test_a_queue_that_cannot_be_read_still_answers_in_the_reply_mode(
        capsys: pytest.CaptureFixture[str]) -> None:
    """docs/mock-server.md: a broken store never answers 500; the journal says what failed."""
    engine = Engine(store=LockedQueueStore())
    outcome = engine.handle(site_request())
    assert json.loads(outcome.answer.body) == {"response": True, "message": "You said: Hello"}
    assert engine.requests()["total"] == 1  # nothing lost: the journal recorded it
    assert engine.health() == {"journal": "ok"}
    warnings = capsys.readouterr().err
    assert "database is locked" in warnings  # said once on stderr, with what failed


def test_a_header_cut_inside_a_character_keeps_the_whole_characters_before() -> None:
    """docs/mock-server.md's 64 KiB are bytes (of UTF-8): a cut that falls inside a character drops
    it."""
    headers = {name.lower(): value for name, value in HEADERS.items()}
    room = (64 << 10) - sum(len(name) + len(value) for name, value in headers.items())
    name = "x-filler" if (room - len("x-filler")) % 2 else "x-filler2"
    headers[name] = "é" * 40_000  # 80,000 bytes, two each
    engine = Engine()
    engine.handle(IncomingRequest("POST", "/api/text", headers=headers,
                                  body=json.dumps(BODY).encode()))
    [entry] = engine.requests()["requests"]
    assert entry["headers_truncated"] is True
    assert entry["headers"][name] == "é" * ((room - len(name)) // 2)


@pytest.mark.parametrize("store_kind", ["memory", "sqlite"])
def test_a_reply_cut_inside_a_character_is_journaled_as_its_text(
        store_kind: str, tmp_path: Path) -> None:
    """docs/mock-server.md: an entry's reply is the answer's text cut at the body cap. An
    answer far over the cap is kept cut in bytes first, which can end inside a character:
    the entry still reads, in either store, as the text's first body-cap characters."""
    from mock_server.core.sqlite_store import SQLiteStore

    message = "€" * 200  # three bytes each in UTF-8
    # Three caps in a row: the byte cut (whatever its offset) falls inside a character for one.
    for cap in (20, 21, 22):
        store = (MemoryStore() if store_kind == "memory"
                 else SQLiteStore(tmp_path / f"store-{cap}.sqlite3"))
        engine = Engine(store=store, body_cap=cap, owns_store=True)
        engine.queue_replies({"message": message})
        answer = engine.handle(site_request()).answer
        assert json.loads(answer.body)["message"] == message
        [entry] = engine.requests()["requests"]
        assert entry["reply"] == answer.body.decode()[:cap]
        engine.close()


def test_a_journal_file_that_fails_in_a_batch_stays_failing_until_it_works(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """docs/mock-server.md (storage faults): health says whether the journal is still
    failing, and stderr says once that it started failing and once that it records again
    when the space is back. A batch the store writes well while the journal file cannot
    take its lines is not the journal recording again."""
    from mock_server.core.sqlite_store import SQLiteStore

    store = SQLiteStore(tmp_path / "store.sqlite3")
    store.batch = True
    engine = Engine(store=store, owns_store=True)
    file = FailingFile()
    engine.journal.file = file  # type: ignore[assignment]
    file.error = OSError(28, "No space left on device")
    engine.handle(site_request())
    engine.journal.flush()
    during = engine.health()
    assert (during["journal"], during["failing"]) == ("degraded", True)
    assert (during["entries_lost"], during["file_lines_lost"]) == (0, 1)
    [started] = warnings_in(capsys)
    assert file.path in started

    file.error = None
    engine.handle(site_request())
    engine.journal.flush()
    after = engine.health()
    assert (after["failing"], after["file_lines_lost"]) == (False, 1)
    assert len(warnings_in(capsys)) == 1  # it records again
    assert len(file.lines) == 1 and engine.requests()["total"] == 2
    engine.close()


def nested(depth: int, kind: str) -> Any:
    """A parsed JSON value nested ``depth`` levels of arrays or objects, made without
    recursion."""
    value: Any = 1
    for _ in range(depth):
        value = [value] if kind == "array" else {"a": value}
    return value


@pytest.mark.parametrize("kind", ["array", "object"])
def test_the_journal_stays_readable_whatever_a_recorded_body_nests(
        kind: str, tmp_path: Path) -> None:
    """docs/mock-server.md (bad input never gets a 500) for the journal: whatever a parsed body
    nests, its entry is kept and the journal can be written out as JSON, and the entry is the same
    in either store (docs/internals.md: entries come back equal to what was stored). Here the
    parsed value is handed to the journal directly, nested past what the JSON encoder can
    write again on any stack (the parser's own limit depends on the stack it runs on:
    mock/web/test_fuzz.py sweeps it)."""
    from mock_server.core.sqlite_store import SQLiteStore
    from mock_server.core.wire import json_answer, json_bytes

    deep = nested(5_000, kind)
    with pytest.raises(RecursionError):
        json_bytes(deep)
    request = IncomingRequest("POST", "/elsewhere", body=b"[[[...]]]")
    entries = []
    for store in (MemoryStore(), SQLiteStore(tmp_path / "store.sqlite3")):
        engine = Engine(store=store, owns_store=True)
        engine.journal.record(request, json_answer(404, {"response": False}), parsed=deep,
                              violations=[], reply_id=None)
        page = engine.requests()
        assert json.loads(json_bytes(page))["total"] == 1
        [entry] = page["requests"]
        assert (entry["path"], entry["body"], entry["status"]) == (
            "/elsewhere", "[[[...]]]", 404)
        entries.append({key: value for key, value in entry.items() if key != "time"})
        engine.close()
    assert entries[0] == entries[1]


def test_headers_over_64_kib_of_utf_8_are_cut_whatever_the_head_size_says() -> None:
    """docs/mock-server.md, Journal entries: cut at 64 KiB of names and values. A carrier's
    head_size bounds the characters; 40,000 characters of two UTF-8 bytes each are 80,000
    bytes, over the cap, though 40,000 is under it."""
    headers = {"x-wide": "é" * 30_000, "x-wider": "é" * 10_000}
    engine = Engine()
    engine.handle(IncomingRequest("POST", "/api/text", headers=headers,
                                  body=json.dumps(BODY).encode(), head_size=40_100))
    [entry] = engine.requests()["requests"]
    assert entry["headers_truncated"] is True
    kept = sum(len(name.encode()) + len(value.encode())
               for name, value in entry["headers"].items())
    assert (64 << 10) - 2 <= kept <= 64 << 10


def test_only_a_store_that_writes_in_batches_is_asked_to(tmp_path: Path) -> None:
    """An SQLite store is set to batch its writes; the memory store cannot, and says so."""
    from mock_server.core.sqlite_store import SQLiteStore

    with pytest.raises(ValueError, match="MemoryStore"):
        Engine(store=MemoryStore()).batch_writes()
    store = SQLiteStore(str(tmp_path / "journal.db"))
    try:
        Engine(store=store).batch_writes()
        assert store.batch is True
    finally:
        store.close()


@pytest.mark.parametrize("keep", [False, True], ids=["redacted", "kept"])
def test_a_request_whose_carrier_gives_its_head_size_keeps_its_headers_the_same_way(
        keep: bool) -> None:
    """The mock's own server gives each request's head size (IncomingRequest.head_size),
    which spares the journal a count of the headers: the entry is the same, its headers not
    cut, its secrets redacted unless kept (docs/mock-server.md, Journal entries)."""
    engine = Engine(keep_secrets=keep)
    for headers in (HEADERS, {**HEADERS, **SECRETS}):
        engine.handle(IncomingRequest("POST", "/api/text", headers=headers,
                                      body=json.dumps(BODY).encode(), head_size=2_000))
    plain, secret = engine.requests()["requests"]
    assert (plain["headers"], plain["headers_truncated"]) == (HEADERS, False)
    assert secret["headers_truncated"] is False
    for name, value in SECRETS.items():
        assert secret["headers"][name] == (value if keep else f"[redacted: {len(value)} chars]")


def test_a_body_over_the_cap_that_is_not_utf_8_keeps_an_excerpt_with_it_replaced() -> None:
    """docs/mock-server.md, Journal entries: the body as text, what is not UTF-8 replaced,
    cut at the body cap."""
    body = b'{"message": "\xff\xfe over the cap"}'
    engine = Engine(body_cap=16)
    engine.handle(IncomingRequest("POST", "/api/text", headers=HEADERS, body=body))
    [entry] = engine.requests()["requests"]
    assert (entry["body"], entry["body_truncated"]) == ('{"message": "\ufffd\ufffd ', True)


def test_a_body_of_the_cap_in_characters_but_more_in_bytes_is_kept_whole() -> None:
    """The body cap counts characters: a body of exactly that many, of two bytes each in
    UTF-8 here and there, is not cut."""
    text = json.dumps({"message": "été"}, ensure_ascii=False)
    engine = Engine(body_cap=len(text))
    engine.handle(IncomingRequest("POST", "/api/text", headers=HEADERS,
                                  body=text.encode("utf-8")))
    [entry] = engine.requests()["requests"]
    assert (entry["body"], entry["body_truncated"], entry["json"]) == (
        text, False, {"message": "été"})


@pytest.mark.parametrize("count", [5, 300])  # within the first read of the store, and past it
@pytest.mark.parametrize("tail", [b"", b'{"id": 9'], ids=["whole", "torn"])
def test_a_file_killed_short_of_its_sqlite_store_gets_the_rest_at_start(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], count: int, tail: bytes) -> None:
    """docs/mock-server.md (the journal file): the SQLite store writes a batch's lines after
    its commit, so a process killed in between leaves the file short of the store; the next
    start writes the entries the store holds past the file's last one (after a torn line's
    marker, if the kill also tore one), and nothing more on the start after."""
    from mock_server.core.sqlite_store import SQLiteStore

    store_path, path = tmp_path / "store.sqlite3", tmp_path / "journal.jsonl"

    def start() -> Engine:
        return Engine(store=SQLiteStore(store_path), owns_store=True, journal_file=str(path))

    engine = start()
    for _ in range(count):
        engine.handle(site_request())
    engine.close()
    lines = path.read_bytes().splitlines(keepends=True)
    assert len(lines) == count
    kept = count - 3 if count < 64 else count - 200  # the kill came before the last lines
    path.write_bytes(b"".join(lines[:kept]) + tail)
    capsys.readouterr()

    engine = start()
    ids = [entry["id"] for entry in engine.requests(limit=None)["requests"]]
    engine.close()
    [note] = [line for line in warnings_in(capsys) if "stopped short" in line]
    assert f"by {count - kept} entries" in note
    after = path.read_bytes().splitlines(keepends=True)
    written = after[kept + (1 if tail else 0):]
    assert after[:kept] == lines[:kept]
    if tail:
        assert json.loads(after[kept])["torn_line"] == tail.decode()
    assert written == lines[kept:]  # the same lines, byte for byte, in id order
    assert [json.loads(line)["id"] for line in after if b'"torn_line"' not in line] == ids

    start().close()  # caught up: the next start writes nothing
    assert path.read_bytes().splitlines(keepends=True) == after


class UnreadableStore(MemoryStore):
    """A store whose journal cannot be read (a damaged SQLite file, say)."""

    def entries(self, **options: Any) -> tuple[int, list[dict[str, Any]]]:
        raise sqlite3.DatabaseError("database disk image is malformed")


class ShortFile(FailingFile):
    """A journal file whose last entry is ``last``, full after ``room`` more lines."""

    def __init__(self, last: int, room: int = 0) -> None:
        super().__init__()
        self.last, self.room = last, room

    def write(self, line: bytes) -> None:
        if len(self.lines) == self.room:
            self.error = OSError(28, "No space left on device")
        super().write(line)

    def last_id(self) -> int:
        return self.last


def test_a_catch_up_that_cannot_read_the_store_or_write_the_file_is_counted(
        capsys: pytest.CaptureFixture[str]) -> None:
    """The mock still starts; health says what failed, and counts the lines the file could
    not take (a store it cannot read loses no entry: they are still in it)."""
    engine = Engine(store=UnreadableStore())
    journal = Journal(engine.store, file=ShortFile(1), keep_secrets=False)  # type: ignore[arg-type]
    health = journal.health()
    assert (health["failing"], health["entries_lost"], health["file_lines_lost"]) == (
        True, 0, 0)
    assert health["reason"] == "the store failed: database disk image is malformed"

    store = MemoryStore()
    for namespace in ("", "team", "", "team"):  # every namespace's entries are caught up
        store.append({"namespace": namespace, "path": "/api/text"})
    capsys.readouterr()
    journal = Journal(store, file=ShortFile(1, room=1), keep_secrets=False)  # type: ignore[arg-type]
    health = journal.health()
    assert (health["failing"], health["entries_lost"], health["file_lines_lost"]) == (
        True, 0, 2)
    assert health["reason"] == ("cannot write the journal file /full/journal.jsonl: No space "
                                "left on device")
    file = ShortFile(1, room=3)
    Journal(store, file=file, keep_secrets=False)  # type: ignore[arg-type]
    assert [json.loads(line)["id"] for line in file.lines] == [2, 3, 4]
    assert [json.loads(line)["namespace"] for line in file.lines] == ["team", "", "team"]


def test_a_new_file_beside_a_store_that_has_entries_starts_empty(tmp_path: Path) -> None:
    """A file with no entry yet gets the entries recorded from now on, not the store's past."""
    from mock_server.core.sqlite_store import SQLiteStore

    store_path = tmp_path / "store.sqlite3"
    engine = Engine(store=SQLiteStore(store_path), owns_store=True)
    engine.handle(site_request())
    engine.close()
    path = tmp_path / "journal.jsonl"
    engine = Engine(store=SQLiteStore(store_path), owns_store=True, journal_file=str(path))
    engine.handle(site_request())
    engine.close()
    assert [json.loads(line)["id"] for line in path.read_bytes().splitlines()] == [2]


BIG = json.dumps({"id": 7, "body": "z" * 140_000}).encode() + b"\n"


def entry_line(entry_id: int, size: int) -> bytes:
    """An entry's line of ``size`` bytes, its newline included."""
    start = json.dumps({"id": entry_id, "body": ""}).encode()
    return start[:-2] + b"z" * (size - len(start) - 1) + b'"}\n'


# A last line whose start is where the last 64 KiB read from the end begins; one of 64 KiB
# and a byte, the whole file (its first byte read alone, last).
AT_A_READ = LINES + entry_line(8, 65_535)
PAST_A_READ = entry_line(9, 65_537)


@pytest.mark.parametrize(("content", "expected"), [
    (b"", None), (b"\n", None), (LINES, 2), (LINES + BIG, 7), (BIG + LINES, 2),
    (LINES + BIG + torn_line_marker(b'{"id": 8'), 7), (torn_line_marker(b"{"), None),
    (b'{"id": "3"}\n', None), (b'{"id": 4}\n', 4), (AT_A_READ, 8), (PAST_A_READ, 9),
], ids=["empty", "newline", "lines", "big-last", "big-first", "marker-last", "marker-only",
        "id-not-a-number", "one-line", "at-a-read", "past-a-read"])
def test_the_last_entry_of_a_file_is_found_from_its_end(tmp_path: Path, content: bytes,
                                                        expected: int | None) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_bytes(content)
    file = JournalFile(path)
    assert file.last_id() == expected
    file.close()
    assert file.last_id() is None  # closed
