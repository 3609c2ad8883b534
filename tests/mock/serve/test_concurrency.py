"""The live mock under concurrent clients: every request lands in the journal exactly once
(each carries a unique marker, and the journal's markers are exactly those sent), ids are
unique and increasing, ``total`` is right, and each queued reply is used exactly as many
times as it says, however the requests interleave.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import requests

from mock_server.testing.child_process import MockProcess
from mock_server.testing.remote import RemoteMock
from support.raw_client import connect, request_bytes, session

CLIENTS = 8
REQUESTS_PER_CLIENT = 100
# Characters no URL encoding changes, so the marker reads the same in a path or a query.
MARKER = re.compile(r"MARK-\d+-\d+-END")


@dataclass(frozen=True)
class Sent:
    """One request a client made and what came back."""

    marker: str
    kind: str
    status: int | None  # None: the connection was closed without an answer
    text: str


def mark(client: int, number: int) -> str:
    return f"MARK-{client}-{number}-END"


def one_request(http: requests.Session, url: str, kind: str, marker: str) -> requests.Response:
    """A request of ``kind`` carrying ``marker`` where the journal keeps it."""
    api = url + "/api/text"
    if kind == "good":
        return http.post(api, json={"message": f"user: {marker}\nassistant:"}, timeout=30)
    if kind == "out of range":
        return http.post(api, json={"message": marker, "temperature": 9}, timeout=30)
    if kind == "not JSON":
        return http.post(api, data=f"garbage {marker} \xff".encode("latin-1"), timeout=30)
    if kind == "not an object":
        return http.post(api, json=[marker], timeout=30)
    if kind == "wrong method":
        return http.get(api, params={"m": marker}, timeout=30)
    if kind == "chat page":
        return http.post(url + "/chat", data=marker, timeout=30)
    if kind == "elsewhere":
        return http.get(f"{url}/nowhere/{marker}", timeout=30)
    raise AssertionError(kind)


# What each kind is answered when no scripted reply is used.
KINDS = {"good": 200, "out of range": 400, "not JSON": 400, "not an object": 400,
         "wrong method": 405, "chat page": 405, "elsewhere": 404}
# Twice as many good requests as of any other kind: they are the ones replies are used on.
PLAN = ["good", *KINDS]


def run_clients(url: str, clients: int, per_client: int,
                kind_of: Callable[[int, int], str]) -> list[Sent]:
    """``clients`` threads, each with its own session, started together."""
    results: list[list[Sent]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []
    start = threading.Barrier(clients)

    def client(index: int) -> None:
        try:
            with session() as http:
                start.wait()
                for number in range(per_client):
                    kind, marker = kind_of(index, number), mark(index, number)
                    try:
                        response = one_request(http, url, kind, marker)
                    except requests.ConnectionError:  # the disconnect fault
                        results[index].append(Sent(marker, kind, None, ""))
                        continue
                    results[index].append(Sent(marker, kind, response.status_code,
                                               response.text))
        except BaseException as error:  # surfaced in the test thread
            errors.append(error)
            start.abort()

    threads = [threading.Thread(target=client, args=(index,), daemon=True)
               for index in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive(), "a client is stuck"
    assert not errors, errors
    return [sent for per_client_results in results for sent in per_client_results]


def marker_of(entry: dict[str, Any]) -> str:
    """The one marker an entry carries, in its body, query or path."""
    found = MARKER.findall(entry["body"] + entry["query"] + entry["path"])
    assert len(found) == 1, entry
    return str(found[0])


def assert_ids_increase(entries: list[dict[str, Any]]) -> None:
    ids = [entry["id"] for entry in entries]
    assert all(earlier < later for earlier, later in pairwise(ids)), "ids increase"


@pytest.fixture(scope="module")
def two_workers() -> Iterator[RemoteMock]:
    """The mock as two worker processes of its own server sharing one SQLite store."""
    with MockProcess(["--workers", "2"]) as process:
        live = process.mock
        yield live
        live.close()


@pytest.fixture(scope="module")
def gevent_workers() -> Iterator[RemoteMock]:
    """The mock on gunicorn with two gevent worker processes sharing one SQLite store."""
    with MockProcess(["--server", "gevent", "--workers", "2"]) as process:
        live = process.mock
        yield live
        live.close()


@pytest.fixture(params=["one process", "two workers", "gevent workers"])
def mock(request: pytest.FixtureRequest) -> RemoteMock:
    """Each concurrency test against the session's mock and against two worker processes
    (of the mock's own server, and of gunicorn with gevent), where exactly-once has to hold
    across processes too."""
    live: RemoteMock = request.getfixturevalue(
        {"one process": "remote_mock", "two workers": "two_workers",
         "gevent workers": "gevent_workers"}[request.param])
    live.clear()
    return live


def test_concurrent_clients_each_request_journaled_once(mock: RemoteMock) -> None:
    remote_mock = mock
    scripted = ([{"message": f"scripted {n}"} for n in range(85)]
                + [{"fault": "upstream_error", "message": f"scripted {n}"} for n in range(85, 90)]
                + [{"fault": "rate_limit", "message": f"scripted {n}"} for n in range(90, 95)]
                + [{"fault": "disconnect"} for _ in range(95, 100)])
    remote_mock.queue(*scripted)

    sent = run_clients(remote_mock.base_url, CLIENTS, REQUESTS_PER_CLIENT,
                       lambda client, number: PLAN[(client + number) % len(PLAN)])
    assert len(sent) == CLIENTS * REQUESTS_PER_CLIENT

    # The answers: every scripted reply used once, on a good request; the rest as usual.
    used = Counter(re.findall(r"scripted \d+", "\n".join(s.text for s in sent)))
    assert used == Counter(f"scripted {n}" for n in range(95)), "each reply used once"
    assert sum(s.status is None for s in sent) == 5, "each disconnect used once"
    for s in sent:
        assert s.status is None or s.status < 500, s
        if "scripted" in s.text or s.status is None:
            assert s.kind == "good"
        elif s.kind == "good":
            assert json.loads(s.text) == {"response": True,
                                          "message": f"You said: {s.marker}"}
        else:
            assert s.status == KINDS[s.kind], s
    assert remote_mock.queued == []

    # The journal: the same markers, each once, with the answer its client saw.
    journal = remote_mock.journal()
    entries = journal["requests"]
    assert journal["total"] == len(entries) == len(sent)
    assert_ids_increase(entries)
    by_marker = {marker_of(entry): entry for entry in entries}
    assert Counter(marker_of(entry) for entry in entries) == Counter(s.marker for s in sent)
    for s in sent:
        assert by_marker[s.marker]["status"] == s.status, s
    assert sum(entry["scripted"] for entry in entries) == len(scripted)


def test_a_reply_with_times_is_used_exactly_that_often(mock: RemoteMock) -> None:
    remote_mock = mock
    remote_mock.queue({"message": "limited", "times": 37},
                      {"fault": "upstream_error", "message": "refused", "times": 11},
                      {"message": "last", "times": 1})
    sent = run_clients(remote_mock.base_url, CLIENTS, 20, lambda client, number: "good")

    answers = Counter(json.loads(s.text)["message"] for s in sent)
    assert answers["limited"] == 37
    assert answers["refused"] == 11
    assert answers["last"] == 1
    assert sum(answers.values()) == CLIENTS * 20
    assert remote_mock.queued == []

    entries = remote_mock.requests
    assert len(entries) == CLIENTS * 20
    assert Counter(entry["reply"]["message"] for entry in entries if entry["scripted"]) == {
        "limited": 37, "refused": 11, "last": 1}


def test_the_cap_drops_the_oldest_and_the_file_keeps_everything(tmp_path: Path) -> None:
    """With a small cap, concurrent writers leave the most recent entries in memory, counted
    with those dropped of the paths still held (docs/mock-server.md, Journal entries), and
    every one of them, once and in id order, in the JSON-lines file."""
    path = tmp_path / "journal.jsonl"
    with MockProcess(["--journal-cap", "50", "--journal", str(path), "--threads", "8"]) as process:
        sent = run_clients(process.url, CLIENTS, 25,
                           lambda client, number: PLAN[(client * 3 + number) % len(PLAN)])
        journal = process.mock.journal()
    assert process.returncode == 0

    entries = journal["requests"]
    assert len(sent) == CLIENTS * 25
    assert len(entries) == 50
    assert_ids_increase(entries)
    lines = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    assert len(lines) == len(sent)
    held_paths = {entry["path"] for entry in entries}
    assert journal["total"] == sum(line["path"] in held_paths for line in lines)
    assert_ids_increase(lines)
    assert Counter(marker_of(line) for line in lines) == Counter(s.marker for s in sent)
    # Memory holds the newest 50 of what the file holds, as recorded.
    assert entries == lines[-50:]


def test_clearing_under_load_loses_no_count(mock: RemoteMock) -> None:
    """DELETE /__mock__/requests while clients write: every request is counted exactly once,
    either in what a clear reported or in what the journal holds after the last clear."""
    remote_mock = mock
    cleared: list[int] = []
    done = threading.Event()

    def clear_repeatedly() -> None:
        with RemoteMock(remote_mock.base_url) as clearer:  # a connection of its own
            while not done.is_set():
                cleared.append(clearer.admin.clear_requests()["cleared"])

    clearer = threading.Thread(target=clear_repeatedly, daemon=True)
    clearer.start()
    try:
        sent = run_clients(remote_mock.base_url, CLIENTS, 50,
                           lambda client, number: PLAN[(client + number) % len(PLAN)])
    finally:
        done.set()
        clearer.join(timeout=60)
    journal = remote_mock.journal()
    assert len(cleared) > 1, "the clears ran alongside the clients"
    assert sum(cleared) + journal["total"] == len(sent)
    assert journal["total"] == len(journal["requests"])
    assert_ids_increase(journal["requests"])
    markers = {marker_of(entry) for entry in journal["requests"]}
    assert markers <= {s.marker for s in sent}


def test_stalled_clients_do_not_stall_the_others() -> None:
    """Clients that send part of a request and then nothing (a paused debugger, a crashed
    upload) must not keep the mock from answering everyone else."""
    with MockProcess(["--threads", "2"]) as mock, contextlib.ExitStack() as stack:
        stalls = [b"POST /api/text HTTP/1.1\r\nHost: localhost\r\n",  # headers never end
                  request_bytes("POST", "/api/text", mock.url, body=b'{"mess',
                                content_length=100)]  # the body never ends
        for data in stalls * 2:
            stack.enter_context(connect(mock.url)).sendall(data)
        # Connected after the stalled clients, so queued behind them if the threads are held;
        # the bound only turns a hang into a failure.
        with session() as http:
            health = http.get(mock.url + "/__mock__/health", timeout=5)
        assert health.status_code == 200
