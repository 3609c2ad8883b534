"""docs/mock-server.md, Journal entries and Limits: what the mock keeps is bounded by its journal,
however many namespaces and paths clients make up. An attacker on loopback sends requests to
thousands of distinct namespaces and 20 KB paths to a mock with a journal cap of 100; the
mock's resident size (``VmRSS`` of its process) and its listing of namespaces stay within the
journal's bound. Bounded in count (a few thousand requests) and time."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from mock_server import MockProcess
from support.expected import (
    MOCK_AGAIN_BODY,
    MOCK_BODY_CAP,
    MOCK_HEAD_BYTES_KEPT,
    MOCK_HEAD_CAP,
    MOCK_SEEN_BYTES,
    MOCK_SEEN_KEPT,
)
from support.raw_client import address

CAP = 100
# Past the cap many times over: before the fix, each kept a counter (and its path) for good.
ATTACK = 3000
PATH_BYTES = 20_000


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def send(url: str, paths: Iterator[str]) -> None:
    """One request to each path, one after another on a kept-alive connection."""
    host, port = address(url)
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        for path in paths:
            connection.request("GET", path)
            answer = connection.getresponse()
            answer.read()
            assert answer.status == 404, path[:80]
    finally:
        connection.close()


def long_paths(start: int, count: int) -> Iterator[str]:
    return (f"/p{number:06}/" + "a" * PATH_BYTES for number in range(start, start + count))


def test_distinct_long_paths_leave_the_memory_within_the_journal_bound() -> None:
    with MockProcess(["--journal-cap", str(CAP)]) as process:
        pid = process.process.pid
        # The journal filled with entries as large as the attack's, then the attack.
        send(process.url, long_paths(0, 3 * CAP))
        before = rss_bytes(pid)
        send(process.url, long_paths(3 * CAP, ATTACK))
        after = rss_bytes(pid)
        page = process.mock.admin.call("GET", "/requests", params={"limit": 1})
        early = process.mock.admin.call("GET", "/requests",
                                        params={"path": next(long_paths(0, 1))})
    # docs/mock-server.md: the journal's memory is bounded by the cap times the body cap and
    # the head cap; the attack, past a full journal, must not add more than that.
    bound = CAP * (MOCK_BODY_CAP + MOCK_HEAD_CAP)
    assert after - before <= bound, (
        f"RSS grew by {(after - before) / 2**20:.1f} MiB over {ATTACK} distinct paths, "
        f"past the journal's bound of {bound / 2**20:.1f} MiB")
    # Each path had one entry: a path none of whose entries is held counts nothing any more,
    # in its own total and in its namespace's (Limits).
    assert page["total"] == CAP
    assert early == {"total": 0, "requests": []}


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_distinct_namespaces_are_listed_only_while_the_journal_holds_them(store: str) -> None:
    with MockProcess(["--journal-cap", str(CAP), "--store", store]) as process:
        send(process.url, (f"/ns/n{number:05}/nowhere" for number in range(ATTACK)))
        listed = process.mock.admin.call("GET", "/namespaces", params={"limit": 5})
        everything = process.mock.admin.call("GET", "/requests",
                                             params={"namespace": "*", "limit": 1})
        gone = process.mock.admin.call("GET", "/requests", params={"namespace": "n00000"})
    # The default namespace, and those of the CAP entries held.
    assert listed["total"] == CAP + 1
    assert [item["name"] for item in listed["namespaces"]] == [
        "", *(f"n{number:05}" for number in range(ATTACK - CAP, ATTACK - CAP + 4))]
    assert everything["total"] == CAP
    assert gone == {"total": 0, "requests": []}


# Header lines the same in every request, which bring each head near the longest kept whole.
PADDING = {f"X-Pad-{number}": "d" * (MOCK_SEEN_BYTES - 20) for number in range(
    (MOCK_HEAD_BYTES_KEPT - 3 * MOCK_SEEN_BYTES) // MOCK_SEEN_BYTES)}


def send_distinct_heads(url: str, start: int, count: int) -> None:
    """Requests whose request line, target, one header line and whole head are each new, all
    of them just short enough for the server to keep."""
    host, port = address(url)
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        for number in range(start, start + count):
            connection.request("GET", f"/q{number:07}/" + "b" * (MOCK_SEEN_BYTES - 30),
                               headers={"X-Marker": f"{number:07}" + "c" * (MOCK_SEEN_BYTES - 30),
                                        **PADDING})
            answer = connection.getresponse()
            answer.read()
            assert answer.status == 404
    finally:
        connection.close()


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_distinct_request_lines_targets_and_header_lines_leave_memory_bounded(
        store: str) -> None:
    """On either store: the SQLite store's records go to its file, not to the process's
    memory (docs/mock-server.md, Limits)."""
    with MockProcess(["--journal-cap", "10", "--store", store]) as process:
        pid = process.process.pid
        # Past what the server keeps of past heads (docs/mock-server.md, Limits: lines and
        # targets, and the fewer whole heads), then as many again: the second half must leave
        # nothing more behind it than the journal's bound.
        send_distinct_heads(process.url, 0, MOCK_SEEN_KEPT + 500)
        before = rss_bytes(pid)
        send_distinct_heads(process.url, MOCK_SEEN_KEPT + 500, MOCK_SEEN_KEPT + 500)
        after = rss_bytes(pid)
    # Kept for good, they would add a kilobyte or more a request: megabytes.
    bound = 10 * (MOCK_BODY_CAP + MOCK_HEAD_CAP)
    assert after - before <= bound, (
        f"RSS grew by {(after - before) / 2**20:.1f} MiB over {MOCK_SEEN_KEPT + 500} more "
        f"distinct heads, past the journal's bound of {bound / 2**20:.1f} MiB")


def test_distinct_long_heads_are_not_kept() -> None:
    """Longer heads than the server keeps whole (docs/mock-server.md, Limits) leave nothing
    behind them, however few: kept, 1,024 heads of 8 KB would be megabytes."""
    with MockProcess(["--journal-cap", "10"]) as process:
        pid = process.process.pid
        host, port = address(process.url)
        connection = http.client.HTTPConnection(host, port, timeout=30)
        # Heads of 8 KB: four times the longest kept whole.
        padding = {f"X-Long-{number}": "e" * (MOCK_HEAD_BYTES_KEPT // 2) for number in range(8)}
        try:
            for number in range(1200):
                if number == 100:  # the journal full, the connection's buffers grown
                    before = rss_bytes(pid)
                connection.request("GET", "/nowhere", headers={
                    "X-Marker": f"{number:07}", **padding})
                answer = connection.getresponse()
                answer.read()
                assert answer.status == 404
        finally:
            connection.close()
        after = rss_bytes(pid)
    bound = 10 * (MOCK_BODY_CAP + MOCK_HEAD_CAP)
    assert after - before <= bound, (
        f"RSS grew by {(after - before) / 2**20:.1f} MiB over 1,100 distinct heads of 8 KB, past "
        f"the journal's bound of {bound / 2**20:.1f} MiB")


def test_the_answers_connections_keep_to_give_again_are_bounded() -> None:
    """Each connection keeps its last answer to a request of a known head to give again to
    the same bytes, for a body of at most 1,024 bytes (docs/mock-server.md, Limits): hundreds
    of connections left open after the same request of 32 KB three times keep nothing of it.
    Kept, the body alone would be 32 KB a connection; with its parsed body, its answer and the
    answer's bytes, four times that: tens of MiB."""
    connections = 600
    body = json.dumps({"message": "user: " + "q" * 32_000 + "\nassistant:"}).encode()
    assert len(body) > 31 * MOCK_AGAIN_BODY
    head = (f"POST /api/text HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()

    def thrice(sock: socket.socket) -> None:
        for _ in range(3):  # from the second on, read without the parser: the head is known
            sock.sendall(head + body)
            got = b""
            while not got.endswith(b"\"}"):
                chunk = sock.recv(65_536)
                assert chunk, got[-200:]
                got += chunk
            assert got.startswith(b"HTTP/1.1 200 ")

    with MockProcess(["--journal-cap", "10"]) as process:
        pid = process.process.pid
        held: list[socket.socket] = []
        try:
            for number in range(connections + 50):
                if number == 50:  # the journal full, the buffers grown
                    before = rss_bytes(pid)
                held.append(socket.create_connection(address(process.url), timeout=30))
                thrice(held[-1])
            after = rss_bytes(pid)
        finally:
            for sock in held:
                sock.close()
    # An open connection costs a few KB of its own (docs/benchmarks.md, connection attacks).
    bound = connections * 16 * 1024
    assert after - before <= bound, (
        f"RSS grew by {(after - before) / 2**20:.1f} MiB over {connections} connections, past "
        f"{bound / 2**20:.1f} MiB")


def test_requests_answered_again_wait_for_the_journal_within_its_bound() -> None:
    """docs/mock-server.md, Journal entries: requests answered again wait to be recorded, at
    most the cap and as many again (at least 64). An attacker on loopback sends the same
    request 160,000 times, pipelined 200 at a time on 4 connections, to a mock with a cap of
    100: the resident size stays flat (kept one by one, what waits would be 6 MiB more), and
    the journal counts every request and holds the newest 100."""
    body = json.dumps({"message": "user: Hello\nassistant:"}).encode()
    one = (f"POST /api/text HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
           f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    batch, rounds, connections = 200, 200, 4

    def send(socks: list[socket.socket]) -> None:
        for sock in socks:
            sock.sendall(one * batch)
        for sock in socks:
            got = 0
            while got < batch:
                chunk = sock.recv(1 << 20)
                assert chunk, "the mock closed the connection"
                got += chunk.count(b"HTTP/1.1 200 ")

    with MockProcess(["--journal-cap", str(CAP)]) as process:
        pid = process.process.pid
        socks = [socket.create_connection(address(process.url), timeout=30)
                 for _ in range(connections)]
        try:
            for _ in range(rounds // 4):  # warmed up: the journal full, the buffers grown
                send(socks)
            before = rss_bytes(pid)
            for _ in range(rounds):
                send(socks)
            after = rss_bytes(pid)
        finally:
            for sock in socks:
                sock.close()
        journal = process.mock.journal(limit=CAP)
    sent = (rounds + rounds // 4) * batch * connections
    assert journal["total"] == sent
    assert [entry["id"] for entry in journal["requests"]] == list(range(sent - CAP + 1, sent + 1))
    assert after - before <= 2 * 2**20, (
        f"RSS grew by {(after - before) / 2**20:.1f} MiB over {rounds * batch * connections:,} "
        f"requests answered again")
