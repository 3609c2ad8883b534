"""The mock's own HTTP/1.1 server (the default), byte for byte on raw sockets: keep-alive,
pipelining, HEAD, ``Expect: 100-continue``, HTTP/1.0, a half-closed connection, the
``disconnect`` fault (not a byte), and the limits of docs/mock-server.md: the head cap (431), an
admin body refused while it is read (413), a foreign ``Host`` (421), the head and body timeouts, a
few hundred slow connections, a graceful stop and a SIGKILL of two workers. Every check reads
what was journaled too. The timeouts are shortened with the command's hidden options."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import threading
import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from aichat import Aichat
from mock_server.core.records import JournalPage
from mock_server.testing.child_process import MockProcess
from mock_server.testing.remote import RemoteMock
from support.raw_client import (
    closed_without_a_byte,
    connect,
    parse_response,
    read_all,
    read_response,
    session,
)

SEED = json.dumps({"message": "user: Hello\nassistant:", "temperature": 1,
                   "presence_penalty": 0, "top_p": 1, "frequency_penalty": 0}).encode()
# Short limits for the server these tests attack (seconds).
HEAD_TIMEOUT, BODY_TIMEOUT, KEEPALIVE_TIMEOUT = 1.0, 1.5, 2.0
SLACK = 1.5  # the sweep runs every quarter of the shortest timeout; the machine is shared


def post(path: str = "/api/text", body: bytes = SEED, *, host: str = "localhost",
         extra: str = "", keep: bool = True, version: str = "1.1") -> bytes:
    connection = "" if keep else "Connection: close\r\n"
    return (f"POST {path} HTTP/{version}\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{connection}{extra}\r\n").encode() + body


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
                if int(fields[1]) == pid:
                    found.append(int(entry.name))
    return found


@pytest.fixture(scope="module")
def short() -> Iterator[MockProcess]:
    """A mock of its own, with short head, body and keep-alive timeouts."""
    with MockProcess(["--head-timeout", str(HEAD_TIMEOUT), "--body-timeout", str(BODY_TIMEOUT),
                      "--keepalive-timeout", str(KEEPALIVE_TIMEOUT),
                      "--allow-host", "mock.test"]) as process:
        yield process


@pytest.fixture
def short_mock(short: MockProcess) -> RemoteMock:
    short.mock.clear()
    return short.mock


def test_the_default_server_is_the_mocks_own(mock_command: MockProcess) -> None:
    deadline = time.monotonic() + 10  # standard error is read by a thread of its own
    while not any("asyncio server, 1 worker; store memory" in line
                  for line in mock_command.output):
        assert time.monotonic() < deadline, mock_command.tail()
        time.sleep(0.05)


def test_keep_alive_serves_several_requests_on_one_connection(remote_mock: RemoteMock) -> None:
    with connect(remote_mock.base_url) as sock:
        for _ in range(3):
            sock.sendall(post())
            response = read_response(sock)
            assert response.status == 200 and "connection" not in response.headers
            assert response.json() == {"response": True, "message": "You said: Hello"}
    assert remote_mock.journal()["total"] == 3


def test_pipelined_requests_are_answered_in_order(remote_mock: RemoteMock) -> None:
    remote_mock.reply("slow first", delay_ms=300, match={"last_turn": "first"})
    bodies = [json.dumps({"message": f"user: {word}\nassistant:"}).encode()
              for word in ("first", "second", "third")]
    with connect(remote_mock.base_url) as sock:
        sock.sendall(post(body=bodies[0]) + b"GET /chat HTTP/1.1\r\nHost: localhost\r\n\r\n"
                     + post(body=bodies[1]) + post(body=bodies[2], keep=False))
        answers = [read_response(sock) for _ in range(4)]
        assert closed_without_a_byte(sock)
    assert answers[0].json()["message"] == "slow first"
    assert answers[1].status == 200 and answers[1].body.startswith(b"<!DOCTYPE html>")
    assert [answer.json()["message"] for answer in answers[2:]] == ["You said: second",
                                                                     "You said: third"]
    assert answers[3].headers["connection"] == "close"
    entries = remote_mock.requests
    assert [entry["path"] for entry in entries] == ["/api/text", "/chat", "/api/text",
                                                    "/api/text"]
    assert [entry["id"] for entry in entries] == sorted(entry["id"] for entry in entries)


def test_a_head_sent_again_is_read_as_it_was_the_first_time(remote_mock: RemoteMock) -> None:
    """A head the server has read before is not read again (docs/mock-server.md, Limits: what
    the server keeps of past requests): its requests, one at a time or pipelined, their bodies
    whole or in pieces, over HTTP/1.1 or a kept-alive HTTP/1.0, are answered and journaled
    as the first one was; after one that closes the connection, nothing more is read."""
    marker = f"X-Run: {time.monotonic_ns()}\r\n"  # a head this server has not read yet
    other = json.dumps({"message": "user: Howdy\nassistant:", "temperature": 1,
                        "presence_penalty": 0, "top_p": 1, "frequency_penalty": 1}).encode()
    assert len(other) == len(SEED)  # the same head carries either body
    for version, keep in (("1.1", ""), ("1.0", "Connection: keep-alive\r\n")):
        remote_mock.clear()
        sent = [SEED, SEED, other, SEED, other, SEED]
        with connect(remote_mock.base_url) as sock:
            one = post(extra=marker + keep, version=version)
            sock.sendall(one)
            answers = [read_response(sock)]
            sock.sendall(one)
            answers.append(read_response(sock))
            sock.sendall(one.replace(SEED, other) + one + one.replace(SEED, other))
            answers += [read_response(sock) for _ in range(3)]
            head_end = one.index(b"\r\n\r\n") + 4
            sock.sendall(one[:head_end + 7])  # the body in two pieces
            time.sleep(0.05)
            sock.sendall(one[head_end + 7:])
            answers.append(read_response(sock))
            # One that closes the connection: the known head after it is not read.
            closing = post(extra=marker, keep=False, version=version)
            sock.sendall(closing + one)
            last = read_response(sock)
            assert closed_without_a_byte(sock)
        with connect(remote_mock.base_url) as sock:  # and its head closes it again
            sock.sendall(closing)
            assert read_response(sock).headers["connection"] == "close"
            assert closed_without_a_byte(sock)
        expected = ["You said: Howdy" if body == other else "You said: Hello" for body in sent]
        assert [answer.json()["message"] for answer in answers] == expected
        assert [answer.headers.get("connection") for answer in answers] == (
            [None] * 6 if version == "1.1" else ["keep-alive"] * 6)
        assert last.status == 200 and last.headers["connection"] == "close"
        entries = remote_mock.requests
        assert len(entries) == len(sent) + 2
        entries = entries[:-1]
        assert [entry["body"] for entry in entries[:-1]] == [body.decode() for body in sent]
        varying = ("id", "time", "body", "json", "reply")
        first = {name: value for name, value in entries[0].items() if name not in varying}
        for entry in entries[1:-1]:
            assert {name: value for name, value in entry.items()
                    if name not in varying} == first
        assert first["headers"]["x-run"] == marker[7:-2]
        assert entries[-1]["headers"]["connection"] == "close"


def entry_fields(entry: dict[str, Any]) -> dict[str, Any]:
    """What two entries of the same request share: all but the id and the time."""
    return {name: value for name, value in entry.items() if name not in ("id", "time")}


def test_the_same_request_over_and_over_is_answered_and_journaled_every_time(
        remote_mock: RemoteMock) -> None:
    """A client sending one request again and again (a load test) gets the documented echo
    every time, one at a time and pipelined, and each request has its own entry, the same
    but for its id and time (docs/internals.md, "Answers given again")."""
    one = post()
    with connect(remote_mock.base_url) as sock:
        answers = []
        for _ in range(20):
            sock.sendall(one)
            answers.append(read_response(sock))
        sock.sendall(one * 20)
        answers += [read_response(sock) for _ in range(20)]
        sock.sendall(one[:-5])  # and in two pieces
        time.sleep(0.05)
        sock.sendall(one[-5:] + post(keep=False))
        answers += [read_response(sock) for _ in range(2)]
        assert closed_without_a_byte(sock)
    assert [(answer.status, answer.json()) for answer in answers] == [
        (200, {"response": True, "message": "You said: Hello"})] * 42
    assert [answer.headers.get("connection") for answer in answers] == [None] * 41 + ["close"]
    entries = remote_mock.requests
    assert len(entries) == 42
    assert [entry["id"] for entry in entries] == sorted({entry["id"] for entry in entries})
    first = entry_fields(entries[0])
    assert [entry_fields(entry) for entry in entries[:-1]] == [first] * 41
    assert first["json"] == json.loads(SEED) and first["reply"] == answers[0].json()

    # Two heads the server knows, one body: each request is journaled with its own head.
    remote_mock.clear()
    clients = ["a", "a", "b", "b", "a", "a", "b", "b", "a"]
    with connect(remote_mock.base_url) as sock:
        for client in clients:
            sock.sendall(post(extra=f"X-Client: {client}\r\n"))
            assert read_response(sock).json()["message"] == "You said: Hello"
    assert [entry["headers"]["x-client"] for entry in remote_mock.requests] == clients

    # The same bytes after the start of a method token are another request: "POPOST".
    remote_mock.clear()
    with connect(remote_mock.base_url) as sock:
        sock.sendall(post() * 2)
        [read_response(sock) for _ in range(2)]
        sock.sendall(b"PO")
        time.sleep(0.05)
        sock.sendall(post())
        assert read_response(sock).status == 405
    assert [entry["method"] for entry in remote_mock.requests] == ["POST", "POST", "POPOST"]

    # Behind a request still being answered (the admin API's, in a thread), in its turn.
    with connect(remote_mock.base_url) as sock:
        sock.sendall(post() * 2)
        [read_response(sock) for _ in range(2)]
        sock.sendall(b"GET /__mock__/health HTTP/1.1\r\nHost: localhost\r\n\r\n" + post())
        assert read_response(sock).json()["journal"] == "ok"
        assert read_response(sock).json()["message"] == "You said: Hello"


def test_a_reply_or_settings_put_in_between_repeats_answer_the_next_one(
        remote_mock: RemoteMock) -> None:
    one = post()

    def said() -> str:
        sock.sendall(one)
        message: str = read_response(sock).json()["message"]
        return message

    with connect(remote_mock.base_url) as sock:
        assert [said() for _ in range(3)] == ["You said: Hello"] * 3
        remote_mock.reply("Scripted.", times=2)
        assert [said() for _ in range(4)] == ["Scripted.", "Scripted.", "You said: Hello",
                                              "You said: Hello"]
        remote_mock.configure(reply_mode="fixed", reply_text="Fixed.")
        try:
            assert [said() for _ in range(3)] == ["Fixed."] * 3
        finally:
            remote_mock.configure()
        assert [said() for _ in range(3)] == ["You said: Hello"] * 3
    assert [entry["reply"]["message"] for entry in remote_mock.requests] == (
        ["You said: Hello"] * 3 + ["Scripted."] * 2 + ["You said: Hello"] * 2 + ["Fixed."] * 3
        + ["You said: Hello"] * 3)


def test_an_answer_given_again_carries_the_date_it_is_sent_on(remote_mock: RemoteMock) -> None:
    """``Date`` has whole seconds: an answer given again two seconds on, and two more, must
    carry a later one each time (RFC 9110 6.6.1: the time the answer was made)."""
    with connect(remote_mock.base_url) as sock:
        dates = []
        for pause in (0, 0, 0, 2.1, 0, 2.1, 0):
            time.sleep(pause)
            sock.sendall(post())
            answer = read_response(sock)
            assert answer.json()["message"] == "You said: Hello"
            dates.append(parsedate_to_datetime(answer.headers["date"]).timestamp())
            assert abs(dates[-1] - time.time()) < 2.5
    assert dates[2] < dates[3] <= dates[4] < dates[5] <= dates[6]


def test_a_journal_file_gets_a_line_for_every_request_given_again(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    with MockProcess(["--journal", str(path)]) as process:
        with connect(process.mock.base_url) as sock:
            sock.sendall(post() * 30)
            answers = [read_response(sock) for _ in range(30)]
        assert {answer.json()["message"] for answer in answers} == {"You said: Hello"}
        entries = process.mock.requests
    lines = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    assert [line["id"] for line in lines] == [entry["id"] for entry in entries]
    assert [entry_fields(line) for line in lines] == [entry_fields(entries[0])] * 30


def test_head_has_the_length_of_the_body_it_leaves_out(remote_mock: RemoteMock) -> None:
    with connect(remote_mock.base_url) as sock:
        sock.sendall(b"HEAD /chat HTTP/1.1\r\nHost: localhost\r\n\r\n")
        response = read_response(sock, head=True)
        assert response.status == 200 and int(response.headers["content-length"]) > 1000
        sock.sendall(post())  # no byte of the page came before this answer
        assert read_response(sock).status == 200
    [head, _] = remote_mock.requests
    assert (head["method"], head["path"], head["status"]) == ("HEAD", "/chat", 200)


def test_expect_100_continue_is_answered_before_the_body(remote_mock: RemoteMock) -> None:
    with connect(remote_mock.base_url) as sock:
        sock.sendall(post(extra="Expect: 100-continue\r\n").partition(b"\r\n\r\n")[0]
                     + b"\r\n\r\n")
        assert sock.recv(64) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(SEED)
        assert read_response(sock).status == 200
    assert remote_mock.last is not None and remote_mock.last["body"] == SEED.decode()


def test_http_1_0_closes_unless_asked_to_keep_alive(remote_mock: RemoteMock) -> None:
    with connect(remote_mock.base_url) as sock:
        sock.sendall(post(version="1.0"))
        response = parse_response(read_all(sock))  # closed after the answer
        assert response.status == 200 and response.headers["connection"] == "close"
    with connect(remote_mock.base_url) as sock:
        sock.sendall(post(version="1.0", extra="Connection: keep-alive\r\n"))
        assert read_response(sock).headers["connection"] == "keep-alive"
        sock.sendall(post(version="1.0"))
        assert read_response(sock).status == 200
    assert remote_mock.journal()["total"] == 3


def test_a_half_closed_connection_still_gets_its_answers(remote_mock: RemoteMock) -> None:
    with connect(remote_mock.base_url) as sock:
        sock.sendall(post() + post())
        sock.shutdown(socket.SHUT_WR)
        data = read_all(sock)
    assert data.count(b"HTTP/1.1 200 OK") == 2
    assert remote_mock.journal()["total"] == 2


def test_disconnect_closes_without_a_byte_of_answer(remote_mock: RemoteMock) -> None:
    remote_mock.fault("disconnect")
    with connect(remote_mock.base_url) as sock:
        sock.sendall(post())
        received = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65_536):
                received += chunk
    assert received == b""
    entry = remote_mock.last
    assert entry is not None
    assert (entry["status"], entry["fault"], entry["reply"]) == (None, "disconnect", None)


def test_disconnect_after_pipelined_answers_sends_those_first(remote_mock: RemoteMock) -> None:
    remote_mock.fault("disconnect", match={"last_turn": "cut"})
    cut = json.dumps({"message": "user: cut\nassistant:"}).encode()
    with connect(remote_mock.base_url) as sock:
        sock.sendall(post() + post() + post(body=cut) + post())
        first, second = read_response(sock), read_response(sock)
        assert (first.status, second.status) == (200, 200)
        assert closed_without_a_byte(sock)
    statuses = [entry["status"] for entry in remote_mock.requests]
    assert statuses == [200, 200, None]  # the request after the fault was never read


def test_a_head_over_64_kib_gets_431_and_no_entry(remote_mock: RemoteMock) -> None:
    big = "X-Big: " + "a" * 70_000 + "\r\n"
    with connect(remote_mock.base_url) as sock:
        sock.sendall(post(extra=big))
        response = parse_response(read_all(sock))
    assert response.status == 431 and response.json()["response"] is False
    # Trickled: refused once past the cap, not at the end of the headers.
    with connect(remote_mock.base_url) as sock:
        sock.sendall(b"POST /api/text HTTP/1.1\r\nHost: localhost\r\n")
        with contextlib.suppress(OSError):
            for _ in range(20):
                sock.sendall(b"X-Part: " + b"b" * 8_000 + b"\r\n")
        assert parse_response(read_all(sock)).status == 431
    assert remote_mock.journal()["total"] == 0


def test_an_admin_body_over_its_cap_is_refused_before_it_is_read(
        remote_mock: RemoteMock) -> None:
    with connect(remote_mock.base_url) as sock:
        sock.sendall(b"POST /__mock__/replies HTTP/1.1\r\nHost: localhost\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 209715200\r\n\r\n")
        response = parse_response(read_all(sock))  # not a byte of the body was sent
    assert response.status == 413 and "over" in response.json()["error"]
    # Chunked: refused while the chunks come in, long before the 64 MiB are sent.
    sent = 0
    with connect(remote_mock.base_url) as sock:
        sock.sendall(b"POST /__mock__/replies HTTP/1.1\r\nHost: localhost\r\n"
                     b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n%s\r\n" % (1 << 20, b" " * (1 << 20))
        with contextlib.suppress(OSError):
            while sent < 64 and not select.select([sock], [], [], 0)[0]:
                sock.sendall(chunk)
                sent += 1
        response = parse_response(read_all(sock))
    assert response.status == 413
    assert sent < 40, f"{sent} MiB were sent before the refusal"
    assert remote_mock.admin.replies()["replies"] == []


def test_a_foreign_host_gets_421_and_is_journaled_on_the_site(remote_mock: RemoteMock) -> None:
    with connect(remote_mock.base_url) as sock:
        sock.sendall(post(host="evil.example:80", keep=False))
        response = parse_response(read_all(sock))
    assert response.status == 421
    assert response.json()["response"] is False and "evil.example" in response.json()["message"]
    with connect(remote_mock.base_url) as sock:
        sock.sendall(b"DELETE /__mock__/requests HTTP/1.1\r\nHost: evil.example\r\n\r\n")
        assert parse_response(read_all(sock)).status == 421
    [entry] = remote_mock.requests  # not cleared: the admin request was refused
    assert (entry["status"], entry["path"], entry["headers"]["host"]) == (
        421, "/api/text", "evil.example:80")
    assert entry["body"] == "" and entry["body_size"] == len(SEED)
    for host in ("localhost", "127.0.0.1", "[::1]:8080", "LOCALHOST.", "app.localhost"):
        with connect(remote_mock.base_url) as sock:
            sock.sendall(post(host=host, keep=False))
            assert parse_response(read_all(sock)).status == 200, host


def test_allow_host_serves_that_name(short_mock: RemoteMock) -> None:
    with connect(short_mock.base_url) as sock:
        sock.sendall(post(host="mock.test:1234", keep=False))
        assert parse_response(read_all(sock)).status == 200
    with connect(short_mock.base_url) as sock:
        sock.sendall(post(host="other.test", keep=False))
        assert parse_response(read_all(sock)).status == 421


def test_a_slow_head_gets_408_and_an_idle_connection_is_closed(short_mock: RemoteMock) -> None:
    started = time.monotonic()
    with connect(short_mock.base_url) as slow, connect(short_mock.base_url) as idle:
        slow.sendall(b"POST /api/text HTTP/1.1\r\nHost: localhost\r\n")
        response = parse_response(read_all(slow))
        assert response.status == 408
        assert closed_without_a_byte(idle)  # never sent a byte: closed quietly
    assert HEAD_TIMEOUT <= time.monotonic() - started < HEAD_TIMEOUT + SLACK
    assert short_mock.journal()["total"] == 0


def test_an_idle_kept_alive_connection_is_closed_after_its_timeout(
        short_mock: RemoteMock) -> None:
    with connect(short_mock.base_url) as sock:
        sock.sendall(post())
        assert read_response(sock).status == 200
        started = time.monotonic()
        assert closed_without_a_byte(sock)
    assert KEEPALIVE_TIMEOUT <= time.monotonic() - started < KEEPALIVE_TIMEOUT + SLACK


def test_a_slow_body_is_cut_off_journaled_and_answered_400(short_mock: RemoteMock) -> None:
    started = time.monotonic()
    with connect(short_mock.base_url) as sock:
        sock.sendall(post().removesuffix(SEED) + SEED[:10])
        response = parse_response(read_all(sock))
    assert BODY_TIMEOUT <= time.monotonic() - started < BODY_TIMEOUT + SLACK
    assert response.status == 400 and response.headers["connection"] == "close"
    [entry] = short_mock.requests
    assert (entry["status"], entry["body"], entry["body_size"]) == (400, SEED[:10].decode(), 10)
    assert "ended after 10 of" in entry["violations"][0]


def test_hundreds_of_slow_connections_do_not_hold_up_a_normal_request(
        short_mock: RemoteMock) -> None:
    """The attacker's side of docs/mock-server.md in small: 100 idle connections, 100 that never
    finish their headers and 100 that never finish their body, all held at once."""
    conns: list[socket.socket] = []
    try:
        for kind in range(300):
            sock = connect(short_mock.base_url)
            conns.append(sock)
            if kind % 3 == 1:
                sock.sendall(b"POST /api/text HTTP/1.1\r\nHost: localhost\r\n")
            elif kind % 3 == 2:
                sock.sendall(post().removesuffix(SEED) + SEED[:5])
        with session() as http:
            started = time.monotonic()
            answer = http.post(short_mock.url_for("/api/text"), data=SEED,
                               headers=Aichat.HEADERS, timeout=10)
            assert answer.status_code == 200
            assert time.monotonic() - started < 1.0
        deadline = time.monotonic() + BODY_TIMEOUT + 3 * SLACK
        for sock in conns:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            read_all(sock)  # every one is closed by the server, none left hanging
    finally:
        for sock in conns:
            sock.close()
    journal = short_mock.journal()
    statuses = sorted(entry["status"] for entry in journal["requests"])
    assert journal["total"] == 101 and statuses == [200] + [400] * 100


def test_sigterm_lets_a_delayed_answer_finish_and_exits_0() -> None:
    with MockProcess() as process:
        process.mock.reply("late", delay_ms=600)
        got: list[Any] = []

        def ask() -> None:
            with session() as http:
                got.append(http.post(process.url + "/api/text", data=SEED, timeout=10).json())

        asker = threading.Thread(target=ask)
        asker.start()
        time.sleep(0.25)
        code = process.stop(signal.SIGTERM)
        asker.join(10)
    assert code == 0 and got == [{"response": True, "message": "late"}]


class Askers:
    """Client threads sending marked requests to a mock as fast as it answers, until stopped
    or refused; ``answered`` holds the markers of the requests answered 200."""

    def __init__(self, url: str, count: int) -> None:
        self.url = url
        self.answered: list[str] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._ask, args=(number,))
                        for number in range(count)]
        for thread in self.threads:
            thread.start()

    def _ask(self, number: int) -> None:
        with session() as http:
            for index in range(10_000):
                if self.stopping.is_set():
                    return
                marker = f"{number}-{index}"
                body = {"message": f"user: {marker}\nassistant:"}
                try:
                    reply = http.post(self.url + "/api/text", json=body, timeout=5)
                except requests.RequestException:
                    return
                if reply.status_code == 200:
                    with self.lock:
                        self.answered.append(marker)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(10)


def markers(journal: JournalPage, status: int | None = None) -> list[str]:
    """The markers of the journal's requests (those answered ``status``, if given)."""
    return [entry["json"]["message"].removeprefix("user: ").removesuffix("\nassistant:")
            for entry in journal["requests"] if status is None or entry["status"] == status]


def test_two_workers_keep_every_answered_request_through_a_sigkill(tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite3"
    lines = tmp_path / "journal.jsonl"
    args = ["--workers", "2", "--store", f"sqlite:{store}", "--journal", str(lines)]
    with MockProcess(args) as process:
        askers = Askers(process.url, 4)
        time.sleep(1.0)
        with askers.lock:
            # Every process of the mock at once, with requests in flight.
            for pid in [process.process.pid, *children_of(process.process.pid)]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            killed = list(askers.answered)
        askers.stop()
    assert len(killed) > 20
    with MockProcess(args) as again:
        journal = again.mock.journal()
    recorded = markers(journal)
    assert len(recorded) == len(set(recorded)) == journal["total"]
    assert set(killed) <= set(recorded)
    file_ids = [json.loads(line)["id"] for line in lines.read_text("utf-8").splitlines()]
    assert file_ids == sorted(file_ids) and len(file_ids) == len(recorded)


def test_sigterm_answers_every_request_it_journals_with_two_workers(tmp_path: Path) -> None:
    """A request read in the turn of the event loop that takes the SIGTERM is answered before
    the connection closes: the journal holds no 200 the client did not get."""
    args = ["--workers", "2", "--store", f"sqlite:{tmp_path / 'store.sqlite3'}"]
    with MockProcess(args) as process:
        askers = Askers(process.url, 6)
        time.sleep(0.8)
        assert process.stop(signal.SIGTERM) == 0
        askers.stop()
    with MockProcess(args) as again:
        journal = again.mock.journal()
    assert len(askers.answered) > 20
    assert sorted(markers(journal, 200)) == sorted(askers.answered), (
        "journaled 200 but never answered, or the reverse")
