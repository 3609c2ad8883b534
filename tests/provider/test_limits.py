"""The provider against hostile and broken servers on loopback (docs/provider.md, Against a hostile
or broken server).

- Bounded answers: a 1 GiB body, an endless chunked body, gzip, deflate and br bombs. Each
  call is made by a child process, which reads its own peak RSS with ``resource.getrusage``:
  it stays under the limit plus 100 MiB. The bodies are made as they are sent, never held.
- The limit itself: a hypothesis property over body sizes around it, for every way a body can
  be framed and encoded: the call succeeds exactly when the decoded body fits.
- The deadline: servers that trickle the status line, the headers or the body; a
  ``Retry-After`` or a backoff longer than the time left.
- Retries on a fresh connection: 429 answers after which the server closes the kept-alive
  socket without saying so.
- Only ``AichatError`` leaves the provider, ``MemoryError`` included.

Expected figures are docs/provider.md's (default limit 4 MiB, timeout plus a small slack), written
here as literals.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import aichat
from aichat import Aichat
from support.fake_site import LoopbackServer, Reply, chunked, head, serving

try:
    import brotli
except ImportError:  # br is decoded only where urllib3 would decode it: with a brotli library
    brotli = None

MiB = 1024 * 1024
DEFAULT_LIMIT = 4 * MiB  # docs/provider.md: max_response_bytes defaults to 4 MiB
RSS_SLACK = 100 * MiB  # docs/provider.md: peak RSS under the limit plus 100 MiB
DEADLINE_SLACK = 1.0  # the call ends within timeout + 1 s
HELLO = [{"role": "user", "content": "Hello"}]
JSON = ("Content-Type", "application/json")
BLOCK = b"x" * (64 * 1024)


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    yield from serving()


@pytest.fixture(autouse=True)
def _no_ambient_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy",
                 "https_proxy", "all_proxy", "no_proxy", "AICHAT_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def ask(server: LoopbackServer, **kwargs: Any) -> str:
    return aichat.complete(HELLO, base_url=server.base_url, **kwargs)


def fails(server: LoopbackServer, **kwargs: Any) -> aichat.AichatError:
    with pytest.raises(aichat.AichatError) as caught:
        ask(server, **kwargs)
    return caught.value


# --- hostile bodies, made as they are sent ---------------------------------------------------

ZEROS = bytes(16 * MiB)


def _gzip_member() -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(ZEROS) + compressor.flush()


def _deflate_segments(wbits: int) -> tuple[bytes, bytes]:
    """A deflate stream of zeros that never ends: its start, then a segment to repeat forever
    (after a full flush the compressor forgets, so every segment comes out the same)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    start = compressor.compress(ZEROS) + compressor.flush(zlib.Z_FULL_FLUSH)
    segment = compressor.compress(ZEROS) + compressor.flush(zlib.Z_FULL_FLUSH)
    return start, segment


def _brotli_gib() -> bytes:
    assert brotli is not None
    compressor = brotli.Compressor(quality=1)
    block = bytes(MiB)
    return b"".join([*(compressor.process(block) for _ in range(1024)), compressor.finish()])


class Bombs:
    """Compressed zeros, about 1,000 to 5,000 times smaller than what they decode to."""

    def __init__(self) -> None:
        self.gzip_member = _gzip_member()  # 16 MiB of zeros; members follow one another
        self.zlib = _deflate_segments(zlib.MAX_WBITS)
        self.raw_deflate = _deflate_segments(-zlib.MAX_WBITS)
        self.br = _brotli_gib() if brotli is not None else b""  # 1 GiB of zeros

    def body(self, kind: str) -> Iterator[bytes]:
        if kind == "gzip":
            return itertools.repeat(self.gzip_member)
        if kind in ("deflate", "raw-deflate"):
            start, segment = self.zlib if kind == "deflate" else self.raw_deflate
            return itertools.chain([start], itertools.repeat(segment))
        return iter([self.br[offset:offset + 64 * 1024]
                     for offset in range(0, len(self.br), 64 * 1024)])


@pytest.fixture(scope="module")
def bombs() -> Bombs:
    return Bombs()


def one_gib_with_length() -> Iterator[bytes]:
    yield head(200, [JSON, ("Content-Length", str(1024 * MiB))])
    yield from itertools.repeat(BLOCK, 1024 * MiB // len(BLOCK))


def one_gib_until_close() -> Iterator[bytes]:
    yield head(200, [JSON, ("Connection", "close")])  # no length: the body ends at the close
    yield from itertools.repeat(BLOCK, 1024 * MiB // len(BLOCK))


def endless_chunked() -> Iterator[bytes]:
    yield head(200, [JSON, ("Transfer-Encoding", "chunked")])
    yield from chunked(itertools.repeat(BLOCK))


def endless_redirect() -> Iterator[bytes]:
    """Redirects are not followed; nor is a redirect's body read whole on the way."""
    yield head(302, [("Location", "/elsewhere"), ("Transfer-Encoding", "chunked")])
    yield from chunked(itertools.repeat(BLOCK))


def encoded(bombs: Bombs, coding: str, kind: str | None = None) -> Callable[[], Iterable[bytes]]:
    def pieces() -> Iterator[bytes]:
        yield head(200, [JSON, ("Content-Encoding", coding), ("Connection", "close")])
        yield from bombs.body(kind or coding)
    return pieces


# The child: one call, then what became of it and its peak RSS, as JSON on standard output.
# The call is made in a process forked from it: Linux hands a process started by exec the peak
# RSS of whatever spawned it (here, pytest), while a forked one starts from its parent's RSS.
CHILD = r"""
import json, os, resource, sys, time
import aichat
from aichat import Aichat

options = json.loads(sys.argv[1])
if options.pop("old_brotli", False):  # a brotli library that cannot stop at an output size
    real = Aichat._brotli
    class Old:
        error = real.error
        class Decompressor:
            def __init__(self):
                self._inner = real.Decompressor()
            def process(self, data):
                return self._inner.process(data)
    Aichat._brotli = Old
address_space = options.pop("address_space_mib", None)


def call():
    if address_space is not None:  # room for this much more memory than is mapped now
        with open("/proc/self/status") as status:
            mapped = next(int(line.split()[1]) * 1024 for line in status
                          if line.startswith("VmSize:"))
        resource.setrlimit(resource.RLIMIT_AS, (mapped + address_space * 1024 * 1024, -1))
    started = time.monotonic()
    outcome = {}
    try:
        outcome["reply"] = aichat.complete([{"role": "user", "content": "Hello"}],
                                           **options)[:80]
    except aichat.AichatError as error:
        outcome.update(error=type(error).__name__, message=str(error),
                       cause=type(error.__cause__).__name__)
    outcome["seconds"] = time.monotonic() - started
    outcome["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB
    return outcome


read_end, write_end = os.pipe()
pid = os.fork()
if pid == 0:
    code = 1
    try:
        os.write(write_end, json.dumps(call()).encode())
        code = 0
    finally:
        os._exit(code)
os.close(write_end)
with os.fdopen(read_end, "rb") as pipe:
    report = pipe.read()
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0, status
print(report.decode())
"""


def in_child(**options: Any) -> dict[str, Any]:
    """Run CHILD outside the source tree, so that it imports the installed package."""
    result = subprocess.run([sys.executable, "-c", CHILD, json.dumps(options)],
                            capture_output=True, text=True, timeout=120, check=False,
                            cwd=tempfile.gettempdir())
    assert result.returncode == 0, result.stderr[-3000:]
    outcome: dict[str, Any] = json.loads(result.stdout)
    return outcome


needs_linux = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                 reason="ru_maxrss in KiB and /proc: Linux")


@needs_linux
@pytest.mark.parametrize("body", [one_gib_with_length, one_gib_until_close, endless_chunked,
                                  endless_redirect],
                         ids=["1-gib-with-length", "1-gib-until-close", "endless-chunked",
                              "endless-redirect"])
def test_a_huge_body_is_refused_at_the_limit_in_bounded_memory(
        server: LoopbackServer, body: Callable[[], Iterable[bytes]]) -> None:
    server.script(Reply.stream(body))
    outcome = in_child(base_url=server.base_url)
    assert outcome.get("error") == "AichatResponseError", outcome
    assert f"more than {DEFAULT_LIMIT} bytes" in outcome["message"]
    assert "max_response_bytes" in outcome["message"]
    assert outcome["peak_rss"] < DEFAULT_LIMIT + RSS_SLACK, outcome
    # The rest was not read: the server got rid of little beyond the limit (the socket
    # buffers' worth), never the gigabyte.
    wait_for(lambda: len(server.streamed) == 1)
    assert server.streamed[0] < DEFAULT_LIMIT + 64 * MiB
    assert len(server.requests) == 1


BOMBS = ["gzip", "deflate", "raw-deflate",
         pytest.param("br", marks=pytest.mark.skipif(brotli is None, reason="no brotli library"))]


@needs_linux
@pytest.mark.parametrize("coding", BOMBS)
def test_a_compression_bomb_is_refused_at_the_limit_in_bounded_memory(
        server: LoopbackServer, bombs: Bombs, coding: str) -> None:
    server.script(Reply.stream(encoded(bombs, "deflate" if "deflate" in coding else coding,
                                       coding)))
    outcome = in_child(base_url=server.base_url)
    assert outcome.get("error") == "AichatResponseError", outcome
    assert f"more than {DEFAULT_LIMIT} bytes" in outcome["message"]
    assert outcome["peak_rss"] < DEFAULT_LIMIT + RSS_SLACK, outcome


@needs_linux
@pytest.mark.skipif(brotli is None, reason="no brotli library")
def test_a_br_bomb_with_an_older_brotli_library_is_bounded_too(server: LoopbackServer,
                                                             bombs: Bombs) -> None:
    server.script(Reply.stream(encoded(bombs, "br")))
    outcome = in_child(base_url=server.base_url, old_brotli=True)
    assert outcome.get("error") == "AichatResponseError", outcome
    assert outcome["peak_rss"] < DEFAULT_LIMIT + RSS_SLACK, outcome


@needs_linux
@pytest.mark.parametrize("limit_mib", [1, 32])
def test_the_limit_is_the_callers(server: LoopbackServer, bombs: Bombs, limit_mib: int) -> None:
    server.script(Reply.stream(encoded(bombs, "gzip")))
    outcome = in_child(base_url=server.base_url, max_response_bytes=limit_mib * MiB)
    assert outcome.get("error") == "AichatResponseError", outcome
    assert f"more than {limit_mib * MiB} bytes" in outcome["message"]
    assert outcome["peak_rss"] < limit_mib * MiB + RSS_SLACK, outcome


# --- broken framing, made as it is sent (docs/provider.md, Framing held to RFC 9112) ----------

def chunk_size_minus_one() -> Iterator[bytes]:
    """The issue's answer: http.client read "-1" as a size and the stream to its end."""
    yield head(200, [JSON, ("Transfer-Encoding", "chunked")])
    yield b"-1\r\n"
    yield from itertools.repeat(BLOCK, 1024 * MiB // len(BLOCK))


def content_length_minus_one() -> Iterator[bytes]:
    yield head(200, [JSON, ("Content-Length", "-1")])
    yield from itertools.repeat(BLOCK, 1024 * MiB // len(BLOCK))


def endless_chunk_size_line() -> Iterator[bytes]:
    yield head(200, [JSON, ("Transfer-Encoding", "chunked")])
    yield b"1;ext="
    yield from itertools.repeat(b"x" * 1024, 1024 * 1024)  # 1 GiB of one extension


def endless_trailer() -> Iterator[bytes]:
    yield head(200, [JSON, ("Transfer-Encoding", "chunked")])
    yield b'15\r\n{"message": "framed"}\r\n0\r\n'
    yield from itertools.repeat(b"X-Trailer: t\r\n" * 4096, 1024 * MiB // (15 * 4096))


def endless_interim_answers() -> Iterator[bytes]:
    yield from itertools.repeat(b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n" * 1024,
                                1024 * MiB // (50 * 1024))


@needs_linux
@pytest.mark.parametrize(("body", "fault"), [
    (chunk_size_minus_one, "a malformed chunk-size line b'-1\\r\\n'"),
    (content_length_minus_one, "a malformed Content-Length '-1'"),
    (endless_chunk_size_line, "a chunk-size line longer than 4096 bytes"),
    (endless_trailer, "more than 100 trailer fields"),
], ids=["chunk-size-minus-one", "content-length-minus-one", "endless-chunk-size-line",
        "endless-trailer"])
def test_a_broken_framing_is_refused_at_once_in_bounded_memory(
        server: LoopbackServer, body: Callable[[], Iterable[bytes]], fault: str) -> None:
    server.script(Reply.stream(body))
    outcome = in_child(base_url=server.base_url)
    assert outcome.get("error") == "AichatResponseError", outcome
    assert f"answered with broken framing: {fault}" in outcome["message"]
    assert outcome["peak_rss"] < DEFAULT_LIMIT + RSS_SLACK, outcome
    # At once: the server got rid of the socket buffers' worth, never the gigabyte.
    wait_for(lambda: len(server.streamed) == 1)
    assert server.streamed[0] < 64 * MiB
    assert len(server.requests) == 1


@needs_linux
def test_endless_interim_answers_end_at_the_timeout_in_bounded_memory(
        server: LoopbackServer) -> None:
    """1xx answers are read past, each within http.client's bounds; a server that sends them
    without end holds the call until its timeout, no longer, and no more memory."""
    server.script(Reply.stream(endless_interim_answers))
    outcome = in_child(base_url=server.base_url, timeout=2)
    assert outcome.get("error") == "AichatTimeoutError", outcome
    assert outcome["seconds"] < 2 + DEADLINE_SLACK
    assert outcome["peak_rss"] < DEFAULT_LIMIT + RSS_SLACK, outcome


@needs_linux
def test_running_out_of_memory_is_an_aichat_error(server: LoopbackServer) -> None:
    """A limit the process cannot hold: MemoryError becomes AichatResponseError, with the
    MemoryError as its cause."""
    server.script(Reply.stream(endless_chunked))
    outcome = in_child(base_url=server.base_url, max_response_bytes=1024 * MiB,
                       address_space_mib=200)
    assert outcome.get("error") == "AichatResponseError", outcome
    assert outcome["cause"] == "MemoryError"
    assert "memory" in outcome["message"] and "max_response_bytes" in outcome["message"]


def wait_for(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the server never finished"
        time.sleep(0.01)


# --- the limit, exactly ------------------------------------------------------------------------

PREFIX, SUFFIX = b'{"message": "', b'"}'


def reply_of_size(size: int) -> bytes:
    """A JSON reply of exactly ``size`` bytes."""
    return PREFIX + b"x" * (size - len(PREFIX) - len(SUFFIX)) + SUFFIX


def encode(body: bytes, coding: str) -> bytes:
    if coding == "gzip":
        return gzip.compress(body)
    if coding == "deflate":
        return zlib.compress(body)
    if coding == "raw-deflate":
        compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        return compressor.compress(body) + compressor.flush()
    if coding == "br":
        assert brotli is not None
        return bytes(brotli.compress(body))
    return body


def framed(body: bytes, coding: str, framing: str) -> Callable[[], Iterable[bytes]]:
    wire = encode(body, coding)
    headers = [JSON, ("Connection", "close")]  # the server hangs up after every stream
    if coding != "identity":
        headers.append(("Content-Encoding", "deflate" if coding == "raw-deflate" else coding))
    pieces = [wire[offset:offset + 1000] for offset in range(0, len(wire), 1000)]

    def made() -> Iterator[bytes]:
        if framing == "length":
            yield head(200, [*headers, ("Content-Length", str(len(wire)))])
            yield from pieces
        elif framing == "chunked":
            yield head(200, [*headers, ("Transfer-Encoding", "chunked")])
            yield from chunked(pieces)
        else:  # no length: the body ends when the server closes
            yield head(200, headers)
            yield from pieces
    return made


CODINGS = ["identity", "gzip", "deflate", "raw-deflate", *(["br"] if brotli else [])]


@pytest.fixture(scope="module")
def shared_server() -> Iterator[LoopbackServer]:
    yield from serving()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(limit=st.integers(16, 300_000), offset=st.integers(-3, 3),
       coding=st.sampled_from(CODINGS), framing=st.sampled_from(["length", "chunked", "close"]))
@example(limit=DEFAULT_LIMIT, offset=0, coding="identity", framing="length")
@example(limit=DEFAULT_LIMIT, offset=1, coding="identity", framing="length")
@example(limit=DEFAULT_LIMIT, offset=-1, coding="gzip", framing="chunked")
@example(limit=DEFAULT_LIMIT, offset=1, coding="gzip", framing="chunked")
@example(limit=100_000, offset=0, coding="deflate", framing="close")
@example(limit=100_000, offset=1, coding="raw-deflate", framing="close")
def test_a_call_succeeds_exactly_when_the_decoded_body_fits(
        shared_server: LoopbackServer, limit: int, offset: int, coding: str,
        framing: str) -> None:
    size = max(limit + offset, len(PREFIX) + len(SUFFIX))
    shared_server.script(Reply.stream(framed(reply_of_size(size), coding, framing)))
    kwargs = {} if limit == DEFAULT_LIMIT else {"max_response_bytes": limit}
    if size <= limit:
        assert ask(shared_server, **kwargs) == "x" * (size - len(PREFIX) - len(SUFFIX))
    else:
        error = fails(shared_server, **kwargs)
        assert type(error) is aichat.AichatResponseError
        assert f"more than {limit} bytes" in str(error)


@pytest.mark.parametrize("value", [None, 0, -1, 1.5, "4096", True, float("inf")], ids=repr)
def test_a_bad_max_response_bytes_is_refused_before_any_request(server: LoopbackServer,
                                                                value: Any) -> None:
    error = fails(server, max_response_bytes=value)
    assert type(error) is aichat.AichatInputError
    assert "max_response_bytes" in str(error) and "nothing was sent" in str(error)
    assert server.connections == 0


# --- the deadline ------------------------------------------------------------------------------

def trickle(data: bytes) -> Callable[[], Iterable[bytes]]:
    return lambda: (data[index:index + 1] for index in range(len(data)))


TRICKLES = {
    # The status line and headers, a byte at a time.
    "head": trickle(head(200, [JSON, ("Content-Length", "30")]) + b'{"message": "much too late"} '),
    # Headers at once, then the body a byte at a time.
    "body": lambda: itertools.chain(
        [head(200, [JSON, ("Content-Length", "100000")])], itertools.repeat(b" ")),
    # A chunked body, a one-byte chunk at a time.
    "chunks": lambda: itertools.chain(
        [head(200, [JSON, ("Transfer-Encoding", "chunked")])],
        chunked(itertools.repeat(b" "))),
}


@pytest.mark.parametrize("kind", list(TRICKLES))
def test_a_trickling_server_cannot_hold_the_call_past_its_timeout(server: LoopbackServer,
                                                                 kind: str) -> None:
    server.script(Reply.stream(TRICKLES[kind], pace=0.1))
    started = time.monotonic()
    error = fails(server, timeout=1.5)
    elapsed = time.monotonic() - started
    assert type(error) is aichat.AichatTimeoutError
    assert "1.5 s" in str(error)
    assert elapsed < 1.5 + DEADLINE_SLACK
    assert len(server.requests) == 1  # a read timeout is never retried


def test_the_cli_timeout_bounds_a_trickle_too(server: LoopbackServer) -> None:
    server.script(Reply.stream(TRICKLES["body"], pace=0.2))
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "aichat", "--base-url", server.base_url,
                             "--timeout", "1", "Hello"], capture_output=True, timeout=60,
                            check=False, env={**os.environ})
    assert time.monotonic() - started < 1 + DEADLINE_SLACK + 2  # and the interpreter's start
    assert result.returncode == 1
    assert b"AichatTimeoutError" in result.stderr and b"Traceback" not in result.stderr


def test_a_retry_after_longer_than_the_time_left_is_raised_at_once(
        server: LoopbackServer) -> None:
    server.script(Reply.text("Too Many Requests", 429, headers=[("Retry-After", "5")]))
    started = time.monotonic()
    error = fails(server, timeout=2)
    assert time.monotonic() - started < 1
    assert type(error) is aichat.AichatRateLimitError
    assert error.retry_after == 5
    assert len(server.requests) == 1


def test_a_retry_after_within_the_time_left_is_waited_for(server: LoopbackServer) -> None:
    server.script(Reply.text("Too Many Requests", 429, headers=[("Retry-After", "0.3")]),
                  Reply.json({"message": "after the wait"}))
    started = time.monotonic()
    assert ask(server, timeout=2) == "after the wait"
    assert 0.3 <= time.monotonic() - started < 2
    assert len(server.requests) == 2


def test_a_backoff_longer_than_the_time_left_is_not_waited(server: LoopbackServer) -> None:
    """Without Retry-After the waits are the backoff's (none, then 1 s, docs/provider.md's
    "backoff"): with 0.5 s the second retry does not fit."""
    server.script(*[Reply.text("Service Unavailable", 503)] * 3)
    started = time.monotonic()
    error = fails(server, timeout=0.5)
    assert time.monotonic() - started < 0.5 + DEADLINE_SLACK
    assert type(error) is aichat.AichatHTTPError and error.status_code == 503
    assert len(server.requests) == 2


def test_slow_answers_each_within_the_timeout_still_end_the_call_on_time(
        server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries add up: three answers of 0.4 s each cannot stretch a 1 s call to 1.2 s."""
    monkeypatch.setattr(time, "sleep", lambda seconds: None)  # the backoff is not the point
    server.script(*[Reply(502, b"Bad Gateway", delay=0.4)] * 3)
    started = time.monotonic()
    error = fails(server, timeout=1)
    assert time.monotonic() - started < 1 + DEADLINE_SLACK
    assert isinstance(error, aichat.AichatTimeoutError | aichat.AichatHTTPError)


# --- 429, then the server hangs up ----------------------------------------------------------------

def refused_then_closed(linger: float) -> Reply:
    """A 429 on a kept-alive connection (no "Connection: close"), which the server then
    closes, ``linger`` seconds later and reading nothing more, as proxies and bot walls do."""
    return Reply(429, b"Too Many Requests", [("Content-Type", "text/plain"),
                                             ("Retry-After", "0")], close=True, linger=linger)


@pytest.mark.parametrize("linger", [0.0, 0.05], ids=["closed-at-once", "closed-a-moment-later"])
def test_a_429_then_a_silent_close_gives_the_retried_answer_every_time(
        server: LoopbackServer, linger: float) -> None:
    calls = 30
    answered: list[str | type[aichat.AichatError]] = []
    for number in range(calls):
        server.script(refused_then_closed(linger), Reply.json({"message": f"answer {number}"}))
        try:
            answered.append(ask(server))
        except aichat.AichatError as error:
            answered.append(type(error))
    assert answered == [f"answer {number}" for number in range(calls)]
    assert len(server.requests) == 2 * calls


def test_a_429_then_a_silent_close_without_retries_is_a_rate_limit_every_time(
        server: LoopbackServer) -> None:
    """The last answer of a call gives up its connection too: the next call never inherits a
    socket the server closed."""
    outcomes: list[type[aichat.AichatError] | str] = []
    for _ in range(20):
        server.script(refused_then_closed(0.05))
        try:
            outcomes.append(ask(server, max_retries=0))
        except aichat.AichatError as error:
            outcomes.append(type(error))
        outcomes.append(ask(server))
    assert outcomes == [aichat.AichatRateLimitError, "echo: user: Hello\nassistant:"] * 20


def test_threads_hammered_by_429_then_close_all_get_their_answers(
        server: LoopbackServer) -> None:
    refused: set[str] = set()

    def answer(recorded: Any) -> Reply:
        # The first try of each prompt is refused, and its connection closed without a word.
        prompt = json.loads(recorded.body)["message"]
        if prompt not in refused:
            refused.add(prompt)
            return refused_then_closed(0.02)
        return Reply.json({"message": prompt})

    server.default = answer
    failures: list[BaseException] = []

    def worker(thread: int) -> None:
        try:
            for call in range(10):
                prompt = f"t{thread} c{call}"
                reply = aichat.complete([{"role": "user", "content": prompt}],
                                        base_url=server.base_url)
                assert reply == f"user: {prompt}\nassistant:"
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=worker, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert len(server.requests) == 2 * 4 * 10


# --- only AichatErrors -----------------------------------------------------------------------

def test_memory_error_while_reading_the_answer_is_a_response_error(
        server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_memory(*args: Any, **kwargs: Any) -> Any:
        raise MemoryError

    server.script(Reply.json({"message": "never parsed"}))  # the server parses nothing
    monkeypatch.setattr(Aichat.json, "loads", no_memory)
    error = fails(server)
    assert type(error) is aichat.AichatResponseError
    assert isinstance(error.__cause__, MemoryError)
    url = server.base_url + "/api/text"
    assert str(error) == (f"ran out of memory reading the answer of POST {url}; pass a smaller "
                          f"max_response_bytes")
    assert error.url == url


@pytest.mark.parametrize(("raised", "message"), [
    (MemoryError(), "ran out of memory while preparing or sending the request; send a shorter "
                    "conversation"),
    (RuntimeError("a defect"), "unexpected RuntimeError in the Aichat provider: a defect; "
                               "please report it"),
    (KeyError("x"), "unexpected KeyError in the Aichat provider: 'x'; please report it"),
], ids=["memory", "runtime", "key"])
def test_anything_unexpected_leaves_as_an_aichat_error(
        server: LoopbackServer, monkeypatch: pytest.MonkeyPatch, raised: Exception,
        message: str) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise raised

    monkeypatch.setattr(Aichat, "flatten", broken)
    error = fails(server)
    assert type(error) is aichat.AichatError  # the base class: no row of the table fits
    assert str(error) == message
    assert error.url is None  # it failed before the request was made
    assert error.__cause__ is raised
    assert "\n" not in str(error)
    assert server.connections == 0


def test_ctrl_c_is_not_swallowed(server: LoopbackServer,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(Aichat, "flatten", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ask(server)


def test_requests_library_errors_keep_their_type_as_the_cause(server: LoopbackServer) -> None:
    server.script(Reply.raw_bytes(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"mess"))
    error = fails(server)
    assert type(error) is aichat.AichatConnectionError
    assert isinstance(error.__cause__, requests.RequestException)
