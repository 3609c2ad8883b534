"""The provider over real HTTP, against the loopback server of tests/support/fake_site.py.

What only a socket can show: the request as it is written on the wire, keep-alive, threads,
timeouts, dropped and refused connections, retries and their waits, proxies, and that every
row of the error table of docs/provider.md comes out of real traffic as its own class.
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import gzip
import itertools
import json
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import urllib3.util.connection

import aichat
from aichat import Aichat
from support.contract_data import load_cases, seed_headers
from support.expected import (
    API_PATH,
    BASE_URL_ENV,
    DEFAULT_PROXY,
    DEFAULT_TIMEOUT,
    HEADERS,
    RETRY_STATUSES,
    RETRY_WAIT_CAP,
    SITE,
)
from support.expected import body as spec_body
from support.fake_site import LoopbackServer, Reply, chunked, closed_port, echo, head, serving

CASES = load_cases()
HELLO = [{"role": "user", "content": "Hello"}]
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
                   "http_proxy", "https_proxy", "all_proxy", "no_proxy")
CHALLENGE = ("<!DOCTYPE html><html><head><title>Just a moment...</title></head>"
             "<body>Checking your browser before accessing chat-gpt.org.</body></html>")


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    yield from serving()


@pytest.fixture(autouse=True)
def _no_ambient_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*PROXY_VARIABLES, BASE_URL_ENV):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits between attempts, recorded instead of slept: checked by value, not by clock."""
    recorded: list[float] = []
    monkeypatch.setattr(time, "sleep", recorded.append)
    return recorded


def ask(base_url: str | None, messages: Any = HELLO, **kwargs: Any) -> str:
    if base_url is not None:
        kwargs["base_url"] = base_url
    return "".join(Aichat._create_completion("gpt-3.5-turbo", messages, False, **kwargs))


def fails(base_url: str | None, messages: Any = HELLO, **kwargs: Any) -> Aichat.AichatError:
    with pytest.raises(Aichat.AichatError) as caught:
        ask(base_url, messages, **kwargs)
    return caught.value


def echoed(prompt: str) -> str:
    return f"echo: user: {prompt}\nassistant:"


def check_message(error: Aichat.AichatError, url: str) -> None:
    """One line that names the URL (docs/provider.md: what happened, the URL, what to do)."""
    text = str(error)
    assert text == text.strip() and "\n" not in text and "\r" not in text
    assert url in text
    assert error.url == url
    assert ";" in text  # the advice follows the facts


# --- every golden case on the wire ---------------------------------------------------------------

def reply_for(answer: dict[str, Any]) -> Reply:
    if answer.get("raise") == "ConnectionError":
        return Reply.drop()
    if answer.get("raise") == "ReadTimeout":
        return Reply(delay=10)  # the case's own timeout ends the wait long before
    return Reply(answer["status"], answer["body"].encode(), list(answer["headers"].items()))


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_golden_case_on_the_wire(server: LoopbackServer, case: dict[str, Any]) -> None:
    server.script(*map(reply_for, case["responses"]))
    expect = case["expect"]
    if "result" in expect:
        assert ask(server.base_url, case["messages"], **case["kwargs"]) == expect["result"]
    else:
        error = fails(server.base_url, case["messages"], **case["kwargs"])
        assert type(error) is getattr(aichat, expect["error"])
        for name, value in expect.get("attributes", {}).items():
            assert getattr(error, name) == value, name
    assert len(server.requests) == case["requests_sent"]
    if case["request"] is None:
        assert server.connections == 0
        return
    expected = case["request"]
    url = server.base_url + expected["path"]
    # Host first (http.client), then exactly what the 2023 module's requests.post sent.
    wire = [("Host", f"127.0.0.1:{server.port}"),
            *seed_headers(url, expected["headers"], expected["body"])]
    for recorded in server.requests:
        assert (recorded.method, recorded.target, recorded.version) == (
            expected["method"], expected["path"], "HTTP/1.1")
        assert recorded.headers == wire
        table = {name: value for name, value in recorded.headers if name in expected["headers"]}
        assert table == expected["headers"]
        assert {name.lower() for name, _ in recorded.headers} - set(table) == {
            "host", "accept-encoding", "connection", "content-length"}
        assert recorded.body == json.dumps(expected["body"]).encode()


# --- keep-alive and threads ----------------------------------------------------------------------

def test_sequential_calls_share_one_kept_alive_connection(server: LoopbackServer) -> None:
    for number in range(20):
        assert ask(server.base_url, [{"role": "user", "content": f"call {number}"}]) == \
            echoed(f"call {number}")
    assert len(server.requests) == 20
    assert server.connections == 1


def test_error_answers_do_not_cost_the_connection(server: LoopbackServer) -> None:
    server.script(Reply.text("Internal Server Error", 500), Reply.text("nope", 404),
                  Reply.json({"response": False, "message": "no"}), Reply())
    for expected in (Aichat.AichatHTTPError, Aichat.AichatHTTPError, Aichat.AichatUpstreamError,
                     Aichat.AichatResponseError):
        assert type(fails(server.base_url)) is expected
    assert ask(server.base_url) == echoed("Hello")
    assert len(server.requests) == 5
    assert server.connections == 1


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_a_retry_goes_out_on_a_fresh_connection(server: LoopbackServer, status: int) -> None:
    """After an answer that is retried, the server may hang up without saying so
    (docs/provider.md)."""
    server.script(Reply.text("busy", status, headers=[("Retry-After", "0")]),
                  Reply.json({"message": "after a retry"}))
    assert ask(server.base_url) == "after a retry"
    assert [r.connection for r in server.requests] == [1, 2]
    assert ask(server.base_url) == echoed("Hello")  # and the fresh one is kept alive
    assert [r.connection for r in server.requests] == [1, 2, 2]


def test_a_retryable_answer_that_ends_the_call_gives_up_its_connection(
        server: LoopbackServer) -> None:
    server.script(Reply.text("Too Many Requests", 429, headers=[("Retry-After", "120")]))
    assert type(fails(server.base_url)) is Aichat.AichatRateLimitError
    assert ask(server.base_url) == echoed("Hello")
    assert [r.connection for r in server.requests] == [1, 2]


def test_a_connection_the_server_closed_is_replaced(server: LoopbackServer) -> None:
    server.script(Reply(body=b'{"message": "first"}', close=True))
    assert ask(server.base_url) == "first"
    deadline = time.monotonic() + 10
    while server.closed < 1 and time.monotonic() < deadline:  # until the server hung up
        time.sleep(0.01)
    assert ask(server.base_url) == echoed("Hello")
    assert server.connections == 2


def test_threads_each_keep_their_own_connection(server: LoopbackServer) -> None:
    threads, calls = 8, 25
    answers: dict[tuple[int, int], str] = {}
    failures: list[BaseException] = []
    start = threading.Barrier(threads)

    def worker(thread: int) -> None:
        try:
            start.wait()
            for call in range(calls):
                prompt = f"thread {thread} call {call}"
                answers[thread, call] = ask(server.base_url, [{"role": "user", "content": prompt}])
        except BaseException as error:
            failures.append(error)

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(60)
    assert not failures
    assert answers == {(t, c): echoed(f"thread {t} call {c}")
                       for t in range(threads) for c in range(calls)}
    assert len(server.requests) == threads * calls
    # One kept-alive connection per thread, never one per call.
    assert server.connections == threads
    assert sorted(Counter(r.connection for r in server.requests).values()) == [calls] * threads


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_share_the_parents_socket(server: LoopbackServer) -> None:
    assert ask(server.base_url) == echoed("Hello")  # the parent now holds a kept-alive socket
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: answer through the pipe, never return into pytest
        code = 1
        try:
            os.write(write_end, ask(server.base_url, [{"role": "user", "content": "child"}])
                     .encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        child_answer = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert child_answer == echoed("child")
    assert ask(server.base_url) == echoed("Hello")
    assert server.connections == 2  # the parent's, still reused, and the child's own
    assert [r.connection for r in server.requests] == [1, 2, 1]


# --- timeouts, dropped and refused connections ---------------------------------------------------

def test_a_late_answer_times_out_and_is_never_retried(server: LoopbackServer) -> None:
    server.script(Reply.json({"message": "too late"}, delay=10))
    error = fails(server.base_url, timeout=0.2)  # max_retries stays at its default, 2
    assert type(error) is Aichat.AichatTimeoutError
    assert isinstance(error, Aichat.AichatConnectionError)
    assert isinstance(error.__cause__, requests.ReadTimeout)
    assert "0.2 s" in str(error)
    check_message(error, server.base_url + "/api/text")
    assert len(server.requests) == 1


class SteppedClock:
    """The provider's view of time: the real clock plus what a test adds to it."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@pytest.mark.parametrize(("elapsed", "answered"), [(DEFAULT_TIMEOUT - 1.0, True),
                                                  (DEFAULT_TIMEOUT + 0.5, False)])
def test_the_default_timeout_is_sixty_seconds(server: LoopbackServer,
                                              monkeypatch: pytest.MonkeyPatch, elapsed: float,
                                              answered: bool) -> None:
    """docs/provider.md: timeout defaults to 60 s. The server's answer takes ``elapsed`` seconds of
    the provider's clock, which the test moves on instead of waiting."""
    clock = SteppedClock()
    monkeypatch.setattr(Aichat, "time", clock)

    def late(request: Any) -> Reply:
        clock.offset += elapsed
        return echo(request)

    server.default = late
    if answered:
        assert ask(server.base_url) == echoed("Hello")
    else:
        error = fails(server.base_url)
        assert type(error) is Aichat.AichatTimeoutError
        assert f"within {DEFAULT_TIMEOUT} s" in str(error)
    assert len(server.requests) == 1
    assert clock.sleeps == []


def trickled(body: bytes) -> Reply:
    """An answer whose body comes a byte at a time, each byte a tenth of a second apart."""
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body))
    return Reply.stream(lambda: [head, *(bytes([byte]) for byte in body)], pace=0.1)


def test_a_fresh_process_makes_connections_that_keep_the_deadline(
        server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The connection classes that keep the call's deadline are made once per process (and
    per pool class); made anew here, a body trickling in ends at the timeout, not when the
    last byte comes, and a second session reuses the classes made by the first."""
    monkeypatch.setattr(Aichat, "_DEADLINE_POOLS", {})
    monkeypatch.setattr(Aichat, "_local", threading.local())
    server.script(trickled(b'{"message": "too slow to wait for"}'))
    error = fails(server.base_url, timeout=0.5)
    assert type(error) is Aichat.AichatTimeoutError
    made = dict(Aichat._DEADLINE_POOLS)
    assert made and all(issubclass(pool.ConnectionCls, Aichat._DeadlineConnection)
                        and pool.__name__ == original.__name__
                        and pool.ConnectionCls.__name__ == original.ConnectionCls.__name__
                        and issubclass(pool.ConnectionCls, original.ConnectionCls)
                        for original, pool in made.items())
    monkeypatch.setattr(Aichat, "_local", threading.local())  # a new session, the same classes
    assert ask(server.base_url) == echoed("Hello")
    assert made == Aichat._DEADLINE_POOLS


def test_a_body_that_stalls_times_out_too(server: LoopbackServer) -> None:
    server.script(Reply.stall(10))
    error = fails(server.base_url, timeout=0.2)
    assert type(error) is Aichat.AichatTimeoutError
    assert isinstance(error.__cause__, requests.ReadTimeout)
    assert "within 0.2 s" in str(error)
    check_message(error, server.base_url + "/api/text")
    assert len(server.requests) == 1


def test_a_dropped_connection_is_a_connection_error_and_not_retried(
        server: LoopbackServer) -> None:
    server.script(Reply.drop())
    error = fails(server.base_url)
    assert type(error) is Aichat.AichatConnectionError
    assert isinstance(error.__cause__, requests.ConnectionError)
    check_message(error, server.base_url + "/api/text")
    assert len(server.requests) == 1  # the site may have acted on it: not sent again


def test_a_refused_connection_is_a_connection_error() -> None:
    base_url = f"http://127.0.0.1:{closed_port()}"
    error = fails(base_url, max_retries=0)
    assert type(error) is Aichat.AichatConnectionError
    assert isinstance(error.__cause__, requests.ConnectionError)
    assert "refused" in str(error).lower()
    check_message(error, base_url + "/api/text")


def test_a_refused_connection_is_retried_until_the_server_is_up(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Connect failures are retried: the server starts during the backoff between attempts."""
    port = closed_port()
    started: list[LoopbackServer] = []
    waits: list[float] = []

    def backoff(seconds: float) -> None:
        waits.append(seconds)
        if not started:
            started.append(LoopbackServer(port=port).__enter__())

    monkeypatch.setattr(time, "sleep", backoff)
    try:
        assert ask(f"http://127.0.0.1:{port}") == echoed("Hello")
        assert len(started[0].requests) == 1
        assert waits and all(0 < wait <= RETRY_WAIT_CAP for wait in waits)
    finally:
        for server in started:
            server.__exit__()


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A loopback port whose listen queue is full: connecting to it times out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(listener.getsockname())
        fillers.append(filler)
    try:
        yield int(listener.getsockname()[1])
    finally:
        for sock in (*fillers, listener):
            sock.close()


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The connect timeout of each TCP connection urllib3 opens, in order."""
    seen: list[float] = []
    original = urllib3.util.connection.create_connection

    def counted(address: Any, timeout: Any = None, *args: Any, **kwargs: Any) -> socket.socket:
        seen.append(timeout)
        return original(address, timeout, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", counted)
    return seen


def test_a_connect_timeout_is_a_timeout_and_is_retried_within_the_timeout(
        unanswered_port: int, sleeps: list[float], connects: list[float]) -> None:
    base_url = f"http://127.0.0.1:{unanswered_port}"
    started = time.monotonic()
    error = fails(base_url, timeout=0.3, max_retries=0)
    if type(error) is not Aichat.AichatTimeoutError:
        pytest.skip(f"this system answers a full listen queue with {type(error).__name__}")
    assert isinstance(error.__cause__, requests.ConnectTimeout)
    assert sleeps == [] and len(connects) == 1
    # The whole call is bounded: the attempts share the timeout, so a second one fits in it.
    connects.clear()
    error = fails(base_url, timeout=0.6, max_retries=2)
    assert time.monotonic() - started < 0.3 + 0.6 + 1
    assert type(error) is Aichat.AichatTimeoutError
    # The retry whose wait would cross the deadline is not made: the last error stands.
    assert isinstance(error.__cause__, requests.ConnectTimeout)
    assert len(connects) >= 2
    assert sum(connects) <= 0.6 + 0.05
    check_message(error, base_url + "/api/text")


def jump_before_connecting(monkeypatch: pytest.MonkeyPatch, seconds: float) -> SteppedClock:
    """The provider's clock, moved on by ``seconds`` after the call starts and before it
    connects, as if a slow resolver or a long backoff had used them."""
    clock = SteppedClock()
    monkeypatch.setattr(Aichat, "time", clock)
    made = Aichat._session

    class Late:
        def __init__(self, session: requests.Session) -> None:
            self.session = session

        def post(self, *args: Any, **kwargs: Any) -> requests.Response:
            clock.offset += seconds
            return self.session.post(*args, **kwargs)

    monkeypatch.setattr(Aichat, "_session", lambda retries: Late(made(retries)))
    return clock


def test_a_connection_waits_no_longer_than_the_time_left(
        unanswered_port: int, connects: list[float], monkeypatch: pytest.MonkeyPatch) -> None:
    jump_before_connecting(monkeypatch, 0.95)
    error = fails(f"http://127.0.0.1:{unanswered_port}", timeout=1.0, max_retries=0)
    if type(error) is not Aichat.AichatTimeoutError:
        pytest.skip(f"this system answers a full listen queue with {type(error).__name__}")
    [connect_timeout] = connects
    assert connect_timeout <= 0.05  # not the attempt's own share of the timeout, 1.0


def test_no_connection_is_opened_once_the_time_is_up(server: LoopbackServer,
                                                     connects: list[float],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    jump_before_connecting(monkeypatch, 1.5)
    error = fails(server.base_url, timeout=1.0, max_retries=0)
    assert type(error) is Aichat.AichatTimeoutError
    assert "within 1 s" in str(error)
    assert connects == [] and server.connections == 0


# --- retries on 429, 502, 503 and 504, and only those --------------------------------------------

@pytest.mark.parametrize("status", RETRY_STATUSES)
def test_retried_statuses_honour_retry_after(server: LoopbackServer, sleeps: list[float],
                                             status: int) -> None:
    server.script(Reply.text("busy", status, headers=[("Retry-After", "2")]),
                  Reply.text("busy", status, headers=[("Retry-After", "0.25")]),
                  Reply.json({"message": "finally"}))
    assert ask(server.base_url) == "finally"
    assert len(server.requests) == 3
    assert sleeps == [2.0, 0.25]  # exactly the waits the site asked for
    assert server.requests[0].body == server.requests[2].body


def test_retry_after_as_an_http_date(server: LoopbackServer, sleeps: list[float]) -> None:
    when = email.utils.formatdate(time.time() + 20, usegmt=True)
    server.script(Reply.text("busy", 503, headers=[("Retry-After", when)]),
                  Reply.json({"message": "later"}))
    assert ask(server.base_url) == "later"
    assert len(sleeps) == 1 and 15 <= sleeps[0] <= 20


def test_retry_after_zero_means_at_once(server: LoopbackServer, sleeps: list[float]) -> None:
    server.script(Reply.text("x", 502), Reply.text("x", 503, headers=[("Retry-After", "0")]),
                  Reply.json({"message": "third"}))
    assert ask(server.base_url) == "third"
    # The first retry has no backoff; the second waits what Retry-After says, 0, and not the
    # backoff of a third attempt.
    assert sleeps == [0.0]


def test_without_retry_after_the_backoff_is_short_and_capped(server: LoopbackServer,
                                                             sleeps: list[float]) -> None:
    server.script(*[Reply.text("x", 504) for _ in range(5)], Reply.json({"message": "sixth"}))
    assert ask(server.base_url, max_retries=5) == "sixth"
    assert len(server.requests) == 6
    # The first retry goes at once; then each wait doubles the last, starting short.
    assert len(sleeps) == 4
    assert 0 < sleeps[0] <= 1
    assert sleeps[1:] == [2 * wait for wait in sleeps[:-1]]


def test_the_backoff_stops_growing_at_the_cap(server: LoopbackServer,
                                              sleeps: list[float]) -> None:
    """docs/provider.md: exponential backoff up to 30 s (each wait doubles the last, then stays
    at 30)."""
    retries = 12
    server.script(*[Reply.text("x", 502) for _ in range(retries)], Reply.json({"message": "ok"}))
    assert ask(server.base_url, max_retries=retries) == "ok"
    assert len(server.requests) == retries + 1
    assert 0 < sleeps[0] <= 1
    assert all(later == min(2 * earlier, RETRY_WAIT_CAP)
               for earlier, later in itertools.pairwise(sleeps))
    assert sleeps[-3:] == [RETRY_WAIT_CAP] * 3
    assert max(sleeps) == RETRY_WAIT_CAP


@pytest.mark.parametrize("header", ["soon", "nan", "inf", "Wed, 99 Foo 2015 99:99:99 GMT", ""])
def test_a_garbage_retry_after_falls_back_to_the_backoff(server: LoopbackServer,
                                                         sleeps: list[float], header: str) -> None:
    server.script(*[Reply.text("x", 429, headers=[("Retry-After", header)])] * 2,
                  Reply.json({"message": "ok"}))
    assert ask(server.base_url) == "ok"
    assert len(server.requests) == 3
    # The first retry has no backoff, the second the first step of it: not a wait read from
    # the garbage.
    assert len(sleeps) == 1 and 0 < sleeps[0] <= 1


def test_a_negative_retry_after_means_at_once(server: LoopbackServer,
                                              sleeps: list[float]) -> None:
    server.script(*[Reply.text("x", 429, headers=[("Retry-After", "-5")])] * 2,
                  Reply.json({"message": "ok"}))
    assert ask(server.base_url) == "ok"
    assert len(server.requests) == 3
    assert sleeps == [0.0, 0.0]


@pytest.mark.parametrize("status", [500, 403, 404, 413, 501])
def test_other_statuses_are_not_retried(server: LoopbackServer, sleeps: list[float],
                                        status: int) -> None:
    server.script(Reply.text("no", status, headers=[("Retry-After", "0")]))
    error = fails(server.base_url)
    assert isinstance(error, Aichat.AichatHTTPError)
    assert error.status_code == status
    assert len(server.requests) == 1
    assert sleeps == []


@pytest.mark.parametrize(("status", "header"), [(429, "30"), (503, "30"), (429, "29.999")])
def test_a_retry_after_at_the_cap_is_waited(server: LoopbackServer, sleeps: list[float],
                                            status: int, header: str) -> None:
    """docs/provider.md: Retry-After is honoured up to 30 s, that is 30 s included."""
    server.script(Reply.text("busy", status, headers=[("Retry-After", header)]),
                  Reply.json({"message": "after the wait"}))
    assert ask(server.base_url) == "after the wait"
    assert sleeps == [float(header)]
    assert len(server.requests) == 2


@pytest.mark.parametrize("header", ["30.001", "30.5", "31", "120", "86400"])
def test_a_retry_after_beyond_the_cap_is_raised_at_once(server: LoopbackServer,
                                                        sleeps: list[float], header: str) -> None:
    server.script(Reply.text("Too Many Requests", 429, headers=[("Retry-After", header)]))
    error = fails(server.base_url)
    assert type(error) is Aichat.AichatRateLimitError
    assert error.retry_after == float(header) > RETRY_WAIT_CAP
    assert f"wait {float(header):g} s" in str(error)
    assert len(server.requests) == 1
    assert sleeps == []


def test_when_the_retries_run_out_the_last_answer_is_raised(server: LoopbackServer,
                                                          sleeps: list[float]) -> None:
    server.script(*[Reply.text("Too Many Requests", 429, headers=[("Retry-After", "1")])] * 3)
    error = fails(server.base_url)
    assert type(error) is Aichat.AichatRateLimitError
    assert error.retry_after == 1.0
    assert len(server.requests) == 3  # the first try and max_retries=2
    assert sleeps == [1.0, 1.0]


def test_max_retries_zero_sends_once(server: LoopbackServer) -> None:
    server.script(Reply.text("Service Unavailable", 503), Reply.json({"message": "unused"}))
    error = fails(server.base_url, max_retries=0)
    assert type(error) is Aichat.AichatHTTPError and error.status_code == 503
    assert len(server.requests) == 1


# --- every row of the error table of docs/provider.md, through real HTTP --------------------------

ERROR_TABLE = [
    pytest.param([], {"messages": [{"role": 1, "content": "x"}]}, Aichat.AichatInputError, {},
                 0, id="input-messages"),
    pytest.param([], {"temperature": 2.5}, Aichat.AichatInputError, {}, 0, id="input-parameter"),
    pytest.param([Reply.drop()], {}, Aichat.AichatConnectionError, {}, 1, id="connection"),
    pytest.param([Reply(delay=10)], {"timeout": 0.2}, Aichat.AichatTimeoutError, {}, 1,
                 id="timeout"),
    pytest.param([Reply.text("Internal Server Error", 500)], {}, Aichat.AichatHTTPError,
                 {"status_code": 500, "body": "Internal Server Error"}, 1, id="http-500"),
    pytest.param([Reply.text("no such page", 404, content_type="text/html")], {},
                 Aichat.AichatHTTPError, {"status_code": 404, "body": "no such page"}, 1,
                 id="http-404"),
    pytest.param([Reply.text("Too Many Requests", 429, headers=[("Retry-After", "120")])], {},
                 Aichat.AichatRateLimitError,
                 {"status_code": 429, "retry_after": 120, "body": "Too Many Requests"}, 1,
                 id="rate-limit"),
    pytest.param([Reply.text("Too Many Requests", 429)], {"max_retries": 0},
                 Aichat.AichatRateLimitError, {"status_code": 429, "retry_after": None}, 1,
                 id="rate-limit-no-retry-after"),
    pytest.param([Reply.text(CHALLENGE, 403, content_type="text/html; charset=UTF-8")], {},
                 Aichat.AichatBlockedError, {"status_code": 403}, 1, id="blocked-403"),
    pytest.param([Reply.text("<html><body>Please enable JavaScript</body></html>",
                             content_type="text/html")], {},
                 Aichat.AichatBlockedError, {"status_code": 200}, 1, id="blocked-200-html"),
    pytest.param([Reply.text(CHALLENGE, content_type="")], {},
                 Aichat.AichatBlockedError, {"status_code": 200}, 1, id="blocked-untyped-html"),
    pytest.param([Reply.text('{"response": true, "message": "cut of',
                             content_type="application/json")], {},
                 Aichat.AichatResponseError, {}, 1, id="response-broken-json"),
    pytest.param([Reply()], {}, Aichat.AichatResponseError, {}, 1, id="response-empty"),
    pytest.param([Reply.json(["message", "hi"])], {}, Aichat.AichatResponseError, {}, 1,
                 id="response-not-an-object"),
    pytest.param([Reply.json({"response": True, "message": 5})], {},
                 Aichat.AichatResponseError, {}, 1, id="response-message-not-a-string"),
    pytest.param([Reply.json({"response": True})], {}, Aichat.AichatResponseError, {}, 1,
                 id="response-no-message"),
    pytest.param([Reply.json({"response": False, "message": "Sorry, the model is overloaded."})],
                 {}, Aichat.AichatUpstreamError, {"reason": "Sorry, the model is overloaded."},
                 1, id="upstream"),
]


@pytest.mark.parametrize(("replies", "call", "expected", "attributes", "sent"), ERROR_TABLE)
def test_error_table_row(server: LoopbackServer, replies: list[Reply], call: dict[str, Any],
                         expected: type[Aichat.AichatError], attributes: dict[str, Any],
                         sent: int) -> None:
    server.script(*replies)
    error = fails(server.base_url, **call)
    assert type(error) is expected
    assert isinstance(error, Aichat.AichatError)
    for name, value in attributes.items():
        assert getattr(error, name) == value, name
    assert len(server.requests) == sent
    text = str(error)
    assert "\n" not in text
    check_message(error, server.base_url + "/api/text")
    if sent == 0:
        assert server.connections == 0  # refused before any request, not even a connection
        assert isinstance(error, ValueError)
        assert "nothing was sent" in str(error)
        return
    if expected in (Aichat.AichatConnectionError, Aichat.AichatTimeoutError):
        assert isinstance(error.__cause__, requests.RequestException)
    if "broken-json" in text or expected is Aichat.AichatUpstreamError:
        assert "Sorry, the model is overloaded." in text


# Each row's message, word for word ({url} is the loopback server's /api/text): what happened,
# the URL, and what to do, in one line (docs/provider.md).
MESSAGES = {
    "input-messages": 'messages[0]["role"] must be a string such as "user", not int; '
                      'nothing was sent to POST {url}',
    "input-parameter": "temperature must be from 0 to 2; got 2.5; nothing was sent to POST {url}",
    "connection": "the connection for POST {url} broke before a complete answer: "
                  "RemoteDisconnected: Remote end closed connection without response; "
                  "try again later, or check the base URL and the network",
    "timeout": "no answer from POST {url} within 0.2 s; try again later or pass a larger timeout",
    "http-500": "POST {url} answered 500: 'Internal Server Error'; "
                "the site is failing, try again later",
    "http-404": "POST {url} answered 404: 'no such page'; the site refused the request; "
                "check the base URL (it must serve /api/text)",
    "rate-limit": "rate limited: POST {url} answered 429; wait 120 s and try again, "
                  "or send fewer requests",
    "rate-limit-no-retry-after": "rate limited: POST {url} answered 429; wait a while and try "
                                 "again, or send fewer requests",
    "blocked-403": "blocked by the bot wall: POST {url} answered 403 with an HTML page; use "
                   "another network or proxy, or point base_url at a reachable server",
    "blocked-200-html": "blocked by the bot wall: POST {url} answered 200 with an HTML page; use "
                        "another network or proxy, or point base_url at a reachable server",
    "blocked-untyped-html": "blocked by the bot wall: POST {url} answered 200 with an HTML page; "
                            "use another network or proxy, or point base_url at a reachable "
                            "server",
    "response-broken-json": "POST {url} answered 200 with no JSON "
                            "('{{\"response\": true, \"message\": \"cut of'); "
                            "the site changed or is failing, try again later",
    "response-empty": "POST {url} answered 200 with an empty body; the site changed or is "
                      "failing, try again later",
    "response-not-an-object": 'POST {url} answered JSON that is not an object (list); '
                              'expected {{"message": ...}}, the site changed or is failing',
    "response-message-not-a-string": 'POST {url} answered a JSON object without a string '
                                     '"message" (keys: message, response); the site changed '
                                     'or is failing',
    "response-no-message": 'POST {url} answered a JSON object without a string "message" '
                           '(keys: response); the site changed or is failing',
    "upstream": "the site refused: Sorry, the model is overloaded. (POST {url}); change the "
                "prompt or try again later",
}


@pytest.mark.parametrize(("replies", "call"),
                         [pytest.param(*row.values[:2], id=row.id) for row in ERROR_TABLE])
def test_error_table_row_message(server: LoopbackServer, replies: list[Reply],
                                 call: dict[str, Any], request: pytest.FixtureRequest) -> None:
    server.script(*replies)
    error = fails(server.base_url, **call)
    row = request.node.callspec.id
    assert str(error) == MESSAGES[row].format(url=server.base_url + "/api/text")


def test_every_row_has_its_message() -> None:
    assert set(MESSAGES) == {row.id for row in ERROR_TABLE}


def test_the_table_above_covers_every_error_class() -> None:
    rows = {param.values[2] for param in ERROR_TABLE}
    classes = {value for value in vars(Aichat).values() if isinstance(value, type)
               and issubclass(value, Aichat.AichatError) and value is not Aichat.AichatError}
    assert rows == classes


# Answers no well-behaved server gives, and what each must become: never a raw exception.
BROKEN = Aichat.AichatConnectionError
RAW_ANSWERS: dict[str, tuple[bytes, type[Aichat.AichatError] | str]] = {
    "bad-status-line": (b"HTTP/1.1 abc OK\r\n\r\n", BROKEN),
    "not-http": (b"hello there\r\n\r\n", BROKEN),
    "status-over-999": (b"HTTP/1.1 1000 Big\r\nContent-Length: 0\r\n\r\n", BROKEN),
    # docs/provider.md: a malformed chunk size is the answer's fault, not the connection's.
    "bad-chunk-length": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                         Aichat.AichatResponseError),
    "truncated-body": (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"mess", BROKEN),
    "too-many-headers": (b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 150 + b"\r\n", BROKEN),
    "header-line-too-long": (b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70000 + b"\r\n\r\n",
                             BROKEN),
    "nothing-at-all": (b"", BROKEN),
    "garbage-gzip": (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 5\r\n\r\n"
                     b"abcde", Aichat.AichatResponseError),
    # A server that hangs up after answering says so (Connection: close); without it the retry
    # could race the hang-up on the kept-alive connection.
    "garbage-retry-after": (b"HTTP/1.1 429 Too Many\r\nRetry-After: \xff\xfe soon\r\n"
                            b"Connection: close\r\nContent-Length: 0\r\n\r\n",
                            Aichat.AichatRateLimitError),
    "huge-retry-after": (b"HTTP/1.1 429 Too Many\r\nRetry-After: 99999999999999999999999\r\n"
                         b"Content-Length: 0\r\n\r\n", Aichat.AichatRateLimitError),
    "retry-after-year-9999": (b"HTTP/1.1 503 Busy\r\nRetry-After: Fri, 31 Dec 9999 23:59:59 -2359"
                              b"\r\nContent-Length: 0\r\n\r\n", Aichat.AichatHTTPError),
    "http-1.0-until-close": (b"HTTP/1.0 200 OK\r\n\r\n{\"message\": \"old school\"}",
                             "old school"),
    "malformed-header-lines": (b"HTTP/1.1 200 OK\r\nno colon here\r\n: empty name\r\n"
                               b"Content-Length: 23\r\n\r\n{\"message\": \"survived\"}",
                               "survived"),
}


@pytest.mark.parametrize(("raw", "outcome"), list(RAW_ANSWERS.values()), ids=list(RAW_ANSWERS))
def test_no_transport_exception_escapes(server: LoopbackServer, sleeps: list[float], raw: bytes,
                                        outcome: type[Aichat.AichatError] | str) -> None:
    server.script(*[Reply.raw_bytes(raw)] * 3)
    if isinstance(outcome, str):
        assert ask(server.base_url) == outcome
        return
    error = fails(server.base_url)
    assert type(error) is outcome
    check_message(error, server.base_url + "/api/text")
    if outcome in (BROKEN, Aichat.AichatResponseError) and error.__cause__ is not None:
        assert isinstance(error.__cause__, requests.RequestException)
    if outcome is BROKEN:
        assert isinstance(error.__cause__, requests.RequestException)
        assert len(server.requests) == 1  # a broken answer is not sent again


def test_the_html_status_1xx_and_3xx_are_http_errors(server: LoopbackServer) -> None:
    server.script(Reply.text("moved", 302, headers=[("Location", "https://elsewhere.invalid/")]))
    error = fails(server.base_url)
    assert type(error) is Aichat.AichatHTTPError and error.status_code == 302
    assert len(server.requests) == 1  # redirects are not followed


def test_a_utf8_reply_without_a_charset_is_read_as_utf8(server: LoopbackServer) -> None:
    body = '{"message": "Привет, 世界 🎉"}'.encode()
    server.script(Reply(200, body, [("Content-Type", "text/plain")]),
                  Reply(200, b"\xef\xbb\xbf" + body, [("Content-Type", "application/json")]),
                  Reply(200, '{"message": "caf\xe9"}'.encode("latin-1"),
                        [("Content-Type", "application/json; charset=ISO-8859-1")]))
    assert ask(server.base_url) == "Привет, 世界 🎉"
    assert ask(server.base_url) == "Привет, 世界 🎉"  # a byte order mark is not an error
    assert ask(server.base_url) == "café"  # a charset the answer names is honoured


# --- base URL and proxy --------------------------------------------------------------------------

def test_the_base_url_comes_from_the_environment(server: LoopbackServer,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BASE_URL_ENV, server.base_url + "/")
    assert ask(None) == echoed("Hello")
    assert aichat.complete(HELLO) == echoed("Hello")
    assert [r.target for r in server.requests] == ["/api/text"] * 2


def test_the_keyword_beats_the_environment(server: LoopbackServer,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BASE_URL_ENV, f"http://127.0.0.1:{closed_port()}")
    assert ask(server.base_url) == echoed("Hello")


def test_a_base_url_with_a_path(server: LoopbackServer) -> None:
    assert ask(server.base_url + "/mirror/chat-gpt/") == echoed("Hello")
    assert server.requests[0].target == "/mirror/chat-gpt/api/text"


def test_the_default_base_url_is_the_site_over_https(monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline: a proxy sees where the provider wants to go, and refuses the tunnel."""
    monkeypatch.setenv(BASE_URL_ENV, "")  # empty counts as unset
    with LoopbackServer() as proxy:
        error = fails(None, proxy=proxy.base_url, max_retries=0)
        host = SITE.removeprefix("https://")
        assert [(r.method, r.target) for r in proxy.requests] == [("CONNECT", f"{host}:443")]
    assert type(error) is Aichat.AichatConnectionError
    check_message(error, SITE + API_PATH)
    assert "proxy" in str(error)


def test_without_a_proxy_the_request_goes_straight_to_the_base_url(
        server: LoopbackServer) -> None:
    """docs/provider.md: proxy defaults to none (and None means the default): with no proxy in
    the environment either, the site itself gets the request, in origin form, not a proxy's
    absolute form or CONNECT."""
    assert ask(server.base_url) == echoed("Hello")
    assert ask(server.base_url, proxy=DEFAULT_PROXY) == echoed("Hello")
    assert [(r.method, r.target) for r in server.requests] == [("POST", API_PATH)] * 2


def test_a_forward_proxy_carries_the_exact_request(server: LoopbackServer) -> None:
    with LoopbackServer(default=lambda _: Reply(action="forward")) as proxy:
        proxy_url = f"http://user:s3cret@127.0.0.1:{proxy.port}"
        assert ask(server.base_url, proxy=proxy_url) == echoed("Hello")
        [via] = proxy.requests
    assert via.target == server.base_url + "/api/text"  # absolute form: a proxy request
    assert via.header("Proxy-Authorization") == "Basic " + base64.b64encode(
        b"user:s3cret").decode()
    [arrived] = server.requests
    assert {name: value for name, value in arrived.headers if name in HEADERS} == HEADERS
    assert arrived.header("Proxy-Authorization") is None
    assert arrived.body == via.body == json.dumps(spec_body("user: Hello\nassistant:")).encode()


def test_a_refused_proxy_is_a_connection_error_that_hides_the_password() -> None:
    port = closed_port()
    proxy = f"http://user:s3cret@127.0.0.1:{port}"
    base_url = f"http://127.0.0.1:{closed_port()}"
    error = fails(base_url, proxy=proxy, max_retries=0)
    assert type(error) is Aichat.AichatConnectionError
    assert isinstance(error.__cause__, requests.exceptions.ProxyError)
    assert str(error).startswith(f"could not reach POST {base_url}/api/text through the proxy "
                                 f"http://***@127.0.0.1:{port}: ")
    assert str(error).endswith("; check the proxy address and that it is running")
    assert "s3cret" not in str(error)


def test_a_refused_proxy_from_the_environment_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
    base_url = f"http://127.0.0.1:{closed_port()}"
    error = fails(base_url, max_retries=0)
    assert type(error) is Aichat.AichatConnectionError
    assert str(error).startswith(f"could not reach POST {base_url}/api/text through the proxy "
                                 f"set in the environment: ")
    assert str(error).endswith("; check the proxy address and that it is running")


def test_a_refused_connection_says_what_to_check() -> None:
    base_url = f"http://127.0.0.1:{closed_port()}"
    error = fails(base_url, max_retries=0)
    assert str(error).startswith(f"could not connect to POST {base_url}/api/text: "
                                 "ConnectionRefusedError: ")
    assert str(error).endswith("; check the base URL, the network and that the server is "
                               "running")


@pytest.mark.parametrize("handling", [TimeoutError("an earlier, unrelated timeout"),
                                      KeyError("k")], ids=["TimeoutError", "KeyError"])
def test_an_error_the_caller_is_handling_is_not_taken_for_this_calls(
        server: LoopbackServer, handling: Exception) -> None:
    """Called from inside an except block, every error raised in the call carries the
    caller's as its context: the report is still this call's own (a refused connection, a
    body cut short), never a timeout or a reason borrowed from the caller."""
    base_url = f"http://127.0.0.1:{closed_port()}"
    server.script(Reply.raw_bytes(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"mess"))
    try:
        raise handling
    except type(handling):
        refused = fails(base_url, max_retries=0)
        cut_short = fails(server.base_url)
    assert type(refused) is Aichat.AichatConnectionError
    assert str(refused).startswith(f"could not connect to POST {base_url}/api/text: "
                                   "ConnectionRefusedError: ")
    assert type(cut_short) is Aichat.AichatConnectionError
    assert type(handling).__name__ not in str(refused) + str(cut_short)


def test_credentials_in_the_base_url_stay_out_of_messages(server: LoopbackServer) -> None:
    server.script(Reply.text("Internal Server Error", 500))
    base_url = f"http://user:s3cret@127.0.0.1:{server.port}"
    error = fails(base_url)
    assert "s3cret" not in str(error) and "s3cret" not in (error.url or "")
    check_message(error, f"http://***@127.0.0.1:{server.port}/api/text")


def test_fetch_returns_the_whole_object(server: LoopbackServer) -> None:
    server.script(Reply.json({"response": True, "message": "hi", "extra": [1, 2]}))
    assert Aichat.fetch(HELLO, base_url=server.base_url) == {
        "response": True, "message": "hi", "extra": [1, 2]}


def node_id(text: str) -> str:
    # mutmut runs each mutant's tests by id: no "::" inside one (pytest would take it for the
    # start of a test's name), and no backslash or character pytest escapes (it escapes them
    # again in a second session of one process, which is how mutmut runs them).
    return text.encode("unicode_escape").decode("ascii").replace("\\", "/").replace("::", ": :")


@pytest.mark.parametrize("call", [
    {"messages": "Hello"},
    {"messages": [["user", "Hello"]]},
    {"messages": [{"role": "user", "content": 42}]},
    {"messages": [{"role": "user", "content": [{"type": "text", "text": None}]}]},
    {"timeout": 0},
    {"timeout": float("inf")},
    {"max_retries": -1},
    {"top_p": float("nan")},
    {"presence_penalty": "0"},
    {"proxy": "http://[::1"},
    {"proxy": "ftp://proxy.invalid"},
    {"proxy": 3128},  # not a string at all: refused as input, not a defect of the module
    {"proxy": "http://\u0100dmin:pass@127.0.0.1:3128"},  # Basic auth carries Latin-1 only
], ids=lambda call: node_id(repr(call)))
def test_bad_input_never_reaches_the_server(server: LoopbackServer, call: dict[str, Any]) -> None:
    error = fails(server.base_url, **call)
    assert type(error) is Aichat.AichatInputError
    check_message(error, server.base_url + "/api/text")
    assert server.connections == 0


@pytest.mark.parametrize("base_url", ["http://[::1", "ftp://127.0.0.1", "127.0.0.1:8080",
                                      "http://127.0.0.1:99999", "http://exa mple.org",
                                      "http://host.invalid/a\nb", "http://host.invalid/?q=1",
                                      "http://us%C4%80r:pass@127.0.0.1", "http://", "http:///x",
                                      "http://127.0.0.1/a\x7fb"], ids=node_id)
def test_a_bad_base_url_is_input_error(base_url: str) -> None:
    error = fails(base_url)
    assert type(error) is Aichat.AichatInputError
    assert "\n" not in str(error)


@pytest.mark.parametrize("tail", ["/a b", "/a\tb", "/a\x1fb", "/a\x7fb", "/a b/"], ids=node_id)
def test_white_space_or_a_control_character_in_a_base_url_is_refused_unsent(
        server: LoopbackServer, tail: str) -> None:
    """docs/provider.md: such a base URL is refused before anything is sent (requests would
    send the space percent-encoded, to a path nobody wrote)."""
    error = fails(server.base_url + tail)
    assert type(error) is Aichat.AichatInputError
    assert "base_url" in str(error) and "\n" not in str(error)  # names what to fix
    assert server.connections == 0


# --- what the survivors of make mutants showed untested ------------------------------------------

def test_a_valid_url_character_is_not_refused(server: LoopbackServer) -> None:
    """RFC 3986 allows '!' in a path (a sub-delimiter): such a base URL is used as given."""
    assert ask(server.base_url + "/a!b") == echoed("Hello")
    assert server.requests[0].target == "/a!b/api/text"


@pytest.mark.parametrize("base", ["http://127.0.0.1/X", "http://127.0.0.1/X/"], ids=node_id)
def test_the_endpoint_keeps_the_last_letter_of_the_path(base: str) -> None:
    """docs/provider.md: the request goes to {base_url}/api/text; only a trailing slash is
    dropped."""
    assert Aichat.endpoint(base) == "http://127.0.0.1/X/api/text"


@pytest.mark.parametrize("proxy", ["http://user:Xsecret@127.0.0.1:1",
                                   "http://user:p@secret@127.0.0.1:1",
                                   "http://user:secret@127.0.0.1:1/a://b"], ids=node_id)
def test_a_proxy_password_never_shows_in_the_message(proxy: str) -> None:
    """docs/provider.md's messages name the URL, never a password: a password with an uppercase X or
    an unescaped '@' in it, or a '://' later in the URL, is hidden like any other."""
    error = fails(f"http://127.0.0.1:{closed_port()}", proxy=proxy, max_retries=0)
    assert type(error) is Aichat.AichatConnectionError
    assert "secret" not in str(error)
    assert "***@127.0.0.1:1" in str(error)


def test_a_bad_max_response_bytes_is_shown_in_the_message() -> None:
    """docs/provider.md: the message says what happened, so it names the refused value."""
    error = fails(f"http://127.0.0.1:{closed_port()}", max_response_bytes=0)
    assert type(error) is Aichat.AichatInputError
    assert "got 0" in str(error)


def test_a_socks_proxy_without_pysocks_says_what_to_install() -> None:
    """requests needs PySocks for a SOCKS proxy (not installed here): nothing can be sent, and
    the message says how to get it, the package as requests documents it."""
    try:
        import socks  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("PySocks is installed: the SOCKS proxy can be used")
    base_url = f"http://127.0.0.1:{closed_port()}"
    error = fails(base_url, proxy="socks5://127.0.0.1:1080", max_retries=0)
    assert type(error) is Aichat.AichatInputError
    check_message(error, base_url + "/api/text")
    assert "pip install 'requests[socks]'" in str(error)


def test_an_unusable_host_gets_no_socks_advice() -> None:
    """A host name requests cannot use (a label over 63 characters, RFC 1035) is refused before
    anything is sent, with advice about the URL, not about SOCKS."""
    base_url = "http://" + "a" * 64 + ".example"
    error = fails(base_url, max_retries=0)
    assert type(error) is Aichat.AichatInputError
    check_message(error, base_url + "/api/text")
    assert "socks" not in str(error).lower()


@pytest.mark.parametrize(("timeout", "max_retries", "share"), [(6, 2, 2.0), (6, 0, 6.0),
                                                               (9, 1, 4.5)])
def test_the_connect_timeout_is_the_timeout_shared_over_the_attempts(
        server: LoopbackServer, connects: list[float], timeout: float, max_retries: int,
        share: float) -> None:
    """docs/provider.md: the connect timeout is shared out over the attempts (max_retries + 1),
    so that every attempt may take its share and all of them together fit in the timeout."""
    assert ask(server.base_url, timeout=timeout, max_retries=max_retries) == echoed("Hello")
    assert connects == [pytest.approx(share, abs=0.3)]


def test_max_retries_counts_every_kind_of_retry_together(
        server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/provider.md: max_retries is how many times a call is retried, whatever the failure:
    after a 503 used the only retry, a refused connection is not retried as well."""
    attempts: list[int] = []
    original = urllib3.util.connection.create_connection

    def second_refused(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        attempts.append(len(attempts) + 1)
        if len(attempts) == 2:  # as if the server were down for the retry, and up again after
            raise ConnectionRefusedError(111, "Connection refused")
        return original(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", second_refused)
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    server.script(Reply.text("busy", 503))
    error = fails(server.base_url, max_retries=1)
    assert type(error) is Aichat.AichatConnectionError
    assert attempts == [1, 2] and len(server.requests) == 1


def test_an_identity_body_longer_than_the_limit_is_refused_unread(server: LoopbackServer) -> None:
    """docs/provider.md: an identity body whose Content-Length is already too long is refused
    before a byte of it is read: a body that then breaks off is never seen."""
    server.script(Reply.stream(lambda: [head(200, [("Content-Type", "application/json"),
                                                   ("Content-Length", "200")]), b"{" * 20]))
    error = fails(server.base_url, max_response_bytes=100)
    assert type(error) is Aichat.AichatResponseError
    assert "100 bytes" in str(error)


def test_a_gzip_body_is_limited_by_its_decoded_length(server: LoopbackServer) -> None:
    """docs/provider.md: max_response_bytes counts after content decoding, so a short answer
    that gzip made longer than the limit is read, however long its Content-Length."""
    text = json.dumps({"message": "ok"}).encode()
    packed = gzip.compress(text)
    assert len(packed) > len(text)
    server.script(Reply(200, packed, [("Content-Type", "application/json"),
                                      ("Content-Encoding", "gzip")]))
    assert ask(server.base_url, max_response_bytes=len(text)) == "ok"


@pytest.mark.parametrize("raised", [MemoryError(), RuntimeError("a defect")],
                         ids=["memory", "defect"])
def test_an_error_outside_the_transport_names_the_url(monkeypatch: pytest.MonkeyPatch,
                                                      raised: BaseException) -> None:
    """docs/provider.md: only AichatErrors leave the provider, each with the URL (.url), even one
    out of memory or a defect of the module itself."""
    def broken(request: Any) -> Any:
        raise raised

    monkeypatch.setattr(Aichat, "_send", broken)
    base_url = f"http://user:secret@127.0.0.1:{closed_port()}"
    error = fails(base_url)
    shown = base_url.replace("user:secret", "***") + "/api/text"
    assert error.__cause__ is raised
    assert error.url == shown
    if isinstance(raised, MemoryError):
        check_message(error, shown)
        assert f"(POST {shown})" in str(error)


def test_running_out_of_memory_in_the_body_names_the_url(server: LoopbackServer,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/provider.md: a MemoryError while reading the answer is an AichatResponseError naming the
    URL."""
    def full(*args: Any) -> Any:
        raise MemoryError

    monkeypatch.setattr(Aichat, "_read_body", full)
    error = fails(server.base_url)
    assert type(error) is Aichat.AichatResponseError
    check_message(error, server.base_url + "/api/text")


def test_a_failed_tls_handshake_is_not_retried(server: LoopbackServer,
                                               sleeps: list[float]) -> None:
    """docs/provider.md retries only failures to connect, connect timeouts, 429, 502, 503 and 504:
    an https request to a server that speaks plain HTTP connects, then fails its TLS handshake,
    which no retry would mend."""
    base_url = server.base_url.replace("http://", "https://")
    error = fails(base_url, max_retries=2)
    assert type(error) is Aichat.AichatConnectionError
    assert server.connections == 1 and sleeps == []


@pytest.mark.parametrize("base", ["http://", "http:///api", "https://:8080"], ids=node_id)
def test_the_endpoint_of_a_base_without_a_host_is_refused(base: str) -> None:
    """docs/provider.md: a malformed base URL is refused with a clear message, and a URL without a
    host names nowhere to send to."""
    with pytest.raises(Aichat.AichatInputError, match="base_url"):
        Aichat.endpoint(base)


def test_an_endless_body_stops_at_the_limit(server: LoopbackServer) -> None:
    """docs/provider.md: an endless chunked body raises AichatResponseError as soon as it grows past
    max_response_bytes, without reading the rest (not at the timeout, after reading it all)."""
    piece = b"x" * 8192
    server.script(Reply.stream(lambda: [head(200, [("Content-Type", "application/json"),
                                                   ("Transfer-Encoding", "chunked")]),
                                        *chunked(itertools.repeat(piece, 2000))], pace=0.002))
    error = fails(server.base_url, max_response_bytes=64 * 1024, timeout=3)
    assert type(error) is Aichat.AichatResponseError  # a body read to its end times out


@pytest.mark.parametrize("coding", ["gzip,", ", gzip", "gzip, , identity"], ids=node_id)
def test_an_empty_element_of_the_content_encoding_is_ignored(server: LoopbackServer,
                                                             coding: str) -> None:
    """RFC 9110 5.6.1: a recipient ignores the empty elements of a list header, so a stray comma
    in Content-Encoding leaves a gzip body read as gzip."""
    server.script(Reply(200, gzip.compress(json.dumps({"message": "ok"}).encode()),
                        [("Content-Type", "application/json"), ("Content-Encoding", coding)]))
    assert ask(server.base_url) == "ok"
