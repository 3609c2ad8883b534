"""docs/mock-server.md, Matching and Limits: a ``message_regex`` is run by RE2, in time linear in
the prompt, so no pattern can hold the mock. The pattern that backtracks without end in
Python's ``re`` is queued (or searched for) and a prompt made to trigger it is sent; meanwhile a
normal request on another connection is answered within the second the docs promise, and
SIGTERM stops the mock within 2 s. One attack each, on loopback, bounded in time."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
from collections.abc import Callable

import pytest
import requests

from mock_server import MockProcess
from support.expected import body
from support.raw_client import session

# docs/mock-server.md, Limits: a normal request is answered within a second; a stop within 2 s.
ANSWERED_WITHIN = 1.0
STOPPED_WITHIN = 2.0
# Backtracks without end in Python's re against WORST_PROMPT: the a's end before "\n...".
WORST_PATTERN = "(a+)+$"
WORST_PROMPT = "user: " + "a" * 30_000 + "\nassistant:"


def _send_worst(url: str) -> socket.socket:
    """The worst prompt to the site on a connection of its own, its answer not awaited."""
    host, port = url.removeprefix("http://").split(":")
    data = json.dumps(body(WORST_PROMPT)).encode()
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.sendall(b"POST /api/text HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (f"{host}:{port}".encode(), len(data), data))
    return sock


def _normal_and_stop(process: MockProcess, attack: Callable[[], None]) -> None:
    """While ``attack`` runs in a thread, a normal request on a new connection is answered in
    time; then SIGTERM stops the mock in time, with status 0."""
    attacker = threading.Thread(target=attack, daemon=True)
    attacker.start()
    time.sleep(0.2)  # the attack's request is read and matched first
    with session() as http:
        try:
            answer = http.post(process.url + "/api/text", json=body("user: Hi\nassistant:"),
                               timeout=ANSWERED_WITHIN)
        except requests.Timeout:
            pytest.fail(f"a normal request was not answered within {ANSWERED_WITHIN} s "
                        f"while the pattern ran")
    assert answer.status_code == 200
    assert answer.json()["message"] == "You said: Hi"
    started = time.monotonic()
    process.process.send_signal(signal.SIGTERM)
    try:
        status = process.process.wait(STOPPED_WITHIN)
    except Exception:
        process.process.kill()
        process.process.wait()
        pytest.fail(f"SIGTERM did not stop the mock within {STOPPED_WITHIN} s")
    assert status == 0, process.tail()
    assert time.monotonic() - started <= STOPPED_WITHIN


def test_the_worst_pattern_queued_holds_up_nothing() -> None:
    with MockProcess() as process:
        queued = process.mock.admin.call("POST", "/replies", payload={
            "message": "matched", "times": None, "match": {"message_regex": WORST_PATTERN}})
        assert queued["queued"] == 1
        answers: list[bytes] = []

        def attack() -> None:
            with _send_worst(process.url) as sock:
                answers.append(sock.recv(65536))

        _normal_and_stop(process, attack)
    # No a's up to the end of the prompt: the pattern finds nothing, echo answers.
    assert answers and answers[0].startswith(b"HTTP/1.1 200 ")
    assert b"You said: aaa" in answers[0]


def test_the_worst_pattern_searched_for_holds_up_nothing() -> None:
    with MockProcess() as process:
        with _send_worst(process.url) as sock:
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
        found: list[object] = []

        def attack() -> None:
            found.append(process.mock.admin.call(
                "POST", "/requests/find", payload={"match": {"message_regex": WORST_PATTERN}}))

        _normal_and_stop(process, attack)
    assert found == [{"total": 0, "requests": []}]
