"""The mock's own HTTP/1.1 server held to a reference parser, byte for byte.

Each stream of raw bytes (a corpus of the classic attacks and hypothesis-made streams) goes to
the mock's server on a real socket and to h11, a pure-Python HTTP/1.1 parser written to RFC
9112, which plays a server that answers each request and never switches protocols. Their
verdicts are compared: which requests were accepted, with which bodies, how many answers.

The invariant, for every stream: the mock's answers are well-formed HTTP/1.1; no more than one
answer per request the reference sees (and one refusal for bytes that make no request); at
most one journal entry per request the reference sees, in the same order, with the body the
reference read. Where the two differ on purpose (the mock refuses what RFC 9112 lets a server
refuse), the difference is listed in docs/mock-server.md, "HTTP conformance", with its reason:
``DIFFERENCES`` below holds each row to its stream.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes, urlsplit

import h11
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from mock_server.testing.child_process import MockProcess
from mock_server.testing.remote import RemoteMock
from support.paths import ROOT

BODY = json.dumps({"message": "user: Hi\nassistant:"}).encode()
# make soak runs this suite with more examples and reads what it compared from a report file.
EXAMPLES = int(os.environ.get("AICHAT_CONFORMANCE_EXAMPLES", "60"))
REPORT = os.environ.get("AICHAT_CONFORMANCE_REPORT")
# What was compared: streams, the requests the reference read, the mock's answers and entries.
COUNTS: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    yield
    if REPORT:
        with open(REPORT, "w", encoding="utf-8") as file:
            json.dump(dict(COUNTS), file)


# --- the reference: h11 as a server that answers every request and switches no protocol -----

@dataclass
class Seen:
    """A request the reference read: whole, or its head and part of its body."""

    method: bytes
    target: bytes
    body: bytes = b""
    whole: bool = False


@dataclass
class Verdict:
    requests: list[Seen] = field(default_factory=list)
    error: str | None = None  # why it stopped reading (None: it read every byte)


def reference(stream: bytes) -> Verdict:
    """What h11 reads of ``stream`` sent by a client that then closed its side. The bytes are
    handed over one at a time, and the empty lines before a request line are skipped there: the
    robustness rule of RFC 9112 2.2 that h11 leaves out and llhttp keeps."""
    conn = h11.Connection(h11.SERVER)
    verdict = Verdict()
    for at in range(len(stream) + 1):
        if at < len(stream):
            if conn.their_state is h11.IDLE and stream[at] in b"\r\n" and not \
                    conn.trailing_data[0]:
                continue
            conn.receive_data(stream[at:at + 1])
        else:
            conn.receive_data(b"")
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as error:
                verdict.error = str(error)
                return verdict
            if event is h11.NEED_DATA:
                break
            if isinstance(event, h11.ConnectionClosed):
                return verdict
            if isinstance(event, h11.Request):
                verdict.requests.append(Seen(bytes(event.method), bytes(event.target)))
            elif isinstance(event, h11.Data):
                verdict.requests[-1].body += bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                verdict.requests[-1].whole = True
            if event is h11.PAUSED or isinstance(event, h11.EndOfMessage):
                # Answered as an ordinary request: an Upgrade is declined, as the mock does.
                if conn.our_state is h11.SEND_RESPONSE:
                    conn.send(h11.Response(status_code=200,
                                           headers=[("content-length", "0")]))
                    conn.send(h11.EndOfMessage())
                if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
                    conn.start_next_cycle()
                elif event is h11.PAUSED or conn.their_state is not h11.MIGHT_SWITCH_PROTOCOL:
                    return verdict
    return verdict


def answers_in(data: bytes) -> list[int]:
    """The statuses of the responses in ``data``, read by h11 as a client would; a stream that
    is not well-formed HTTP/1.1 fails the test."""
    conn = h11.Connection(h11.CLIENT)
    conn.receive_data(data)
    conn.receive_data(b"")
    statuses: list[int] = []
    while data:
        if conn.our_state is h11.IDLE:
            conn.send(h11.Request(method="GET", target="/", headers=[("host", "x")]))
            conn.send(h11.EndOfMessage())
        event = conn.next_event()  # raises on a malformed answer
        if event is h11.NEED_DATA or isinstance(event, h11.ConnectionClosed):
            return statuses
        if isinstance(event, h11.Response):
            statuses.append(event.status_code)
        elif isinstance(event, h11.EndOfMessage):
            if conn.our_state is h11.DONE and conn.their_state is h11.DONE \
                    and conn.trailing_data[0]:
                conn.start_next_cycle()
            else:
                return statuses
    return statuses


# --- the mock's side ------------------------------------------------------------------------

@dataclass
class Outcome:
    statuses: list[int]
    # (method, path in full, body, whether the mock read the body whole)
    journal: list[tuple[str, str, str, bool]]


@pytest.fixture(scope="module")
def mock() -> Iterator[RemoteMock]:
    with MockProcess(["--head-timeout", "3", "--body-timeout", "3"]) as process:
        yield process.mock


def exchange(mock: RemoteMock, stream: bytes, pieces: list[int] | None = None) -> Outcome:
    """Send ``stream`` on one connection (cut into pieces at the offsets given), close the
    sending side, read every answer until the mock closes; and what it journaled."""
    mock.admin.call("DELETE", "/requests", params={"namespace": "*"})
    host, port = mock.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        start = 0
        for offset in [*(pieces or []), len(stream)]:
            sock.sendall(stream[start:offset])
            start = offset
            if offset < len(stream):
                time.sleep(0.002)
        sock.shutdown(socket.SHUT_WR)
        data = b""
        try:
            while chunk := sock.recv(65_536):
                data += chunk
        except ConnectionResetError:
            pass
    page = mock.admin.call("GET", "/requests", params={"namespace": "*", "limit": 100})
    journal = [(entry["method"],
                (f"/ns/{entry['namespace']}" if entry["namespace"] else "") + entry["path"],
                entry["body"], read_whole(entry)) for entry in page["requests"]]
    return Outcome(answers_in(data), journal)


def read_whole(entry: dict[str, object]) -> bool:
    """Whether the mock read the request's body to its end: not for one it refused before
    its body (docs/mock-server.md: 421 for a Host it does not serve, 413 past the drain
    limit), nor for one whose body ended early or broke off (a chunk it cannot read)."""
    violations = entry["violations"]
    assert isinstance(violations, list)
    return entry["status"] not in (413, 421) and not any(
        str(violation).startswith("the body ended") for violation in violations)


def path_of(target: bytes) -> str:
    """The path a target names, percent-decoded (what the journal keeps)."""
    path = urlsplit(target.decode("latin-1")).path if b"://" in target else (
        target.partition(b"?")[0].decode("latin-1"))
    return unquote_to_bytes(path).decode("utf-8", "replace") or "/"


def holds_the_invariant(verdict: Verdict, outcome: Outcome) -> None:
    seen = verdict.requests
    COUNTS.update(streams=1, requests=len(seen), answers=len(outcome.statuses),
                  entries=len(outcome.journal))
    # At most one answer per request seen, and one refusal for bytes that made none.
    assert len(outcome.statuses) <= len(seen) + 1, (outcome.statuses, seen)
    # At most one entry per request seen, in order, each with the body the reference read
    # (or the part of it that came, for a request the mock did not read whole).
    assert len(outcome.journal) <= len(seen), (outcome.journal, seen)
    for (method, path, body, whole), request in zip(outcome.journal, seen, strict=False):
        assert (method, path) == (request.method.decode("latin-1"), path_of(request.target))
        sent = request.body.decode("utf-8", "replace")
        assert body == sent if whole and request.whole else sent.startswith(body), (body, sent)


def agrees(verdict: Verdict, outcome: Outcome) -> None:
    """Where no difference is listed: the same requests accepted, each answered once."""
    holds_the_invariant(verdict, outcome)
    whole = [request for request in verdict.requests if request.whole]
    assert len(outcome.journal) == len(verdict.requests), (outcome.journal, verdict)
    refused = verdict.error is not None and len(whole) == len(verdict.requests)
    assert len(outcome.statuses) == len(verdict.requests) + refused, (outcome.statuses, verdict)
    if verdict.error is not None:
        assert outcome.statuses[-1] >= 400


# --- the corpus -------------------------------------------------------------------------------

def request(method: str = "POST", target: str = "/api/text", *, body: bytes | None = BODY,
            extra: str = "", version: str = "HTTP/1.1", host: str | None = "localhost",
            chunked: bool = False) -> bytes:
    head = f"{method} {target} {version}\r\n"
    if host is not None:
        head += f"Host: {host}\r\n"
    if body is not None and chunked:
        head += "Transfer-Encoding: chunked\r\n"
    elif body is not None:
        head += f"Content-Length: {len(body)}\r\n"
    data = (head + extra + "\r\n").encode()
    if body is not None and chunked:
        data += (b"%x\r\n%s\r\n" % (len(body), body) if body else b"") + b"0\r\n\r\n"
    elif body is not None:
        data += body
    return data


OK = request()
UPGRADE = ("Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
           "HTTP2-Settings: AAMAAABkAAQAAP__\r\n")

# Streams on which the two agree.
AGREED = {
    "one request": OK,
    "three pipelined": OK * 3,
    "chunked, with an extension and a trailer": (
        b"POST /api/text HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"%x;name=value\r\n%s\r\n0\r\nX-Trailer: 1\r\n\r\n" % (len(BODY), BODY)) + OK,
    "Upgrade with a body, then another request": request(extra=UPGRADE) + OK,
    "Upgrade with a chunked body, then another request": request(extra=UPGRADE,
                                                                 chunked=True) + OK,
    "Upgrade without a body, then another request": request(
        "GET", "/chat", body=None, extra="Connection: Upgrade\r\nUpgrade: websocket\r\n") + OK,
    "Expect: 100-continue": request(extra="Expect: 100-continue\r\n") + OK,
    "a bad request in the middle": OK + b"GARBAGE\r\n\r\n" + OK,
    "methods the parser does not know, pipelined": OK + request("post") + request(
        "Get", "/chat", body=None) + request("QUERY", "/api/text"),
    # The parser reads the second head as the first, its method token standing in for it.
    "one head with a method the parser knows, then one it does not": request("PUT") + request(
        "post") + request("PUT"),
    "the absolute form": request(target="http://localhost/api/text") + OK,
    "two Host headers": request(extra="Host: evil.example\r\n"),
    "HTTP/1.1 without Host": request(host=None),
    "a body cut short": OK[:-5],
    "a chunk size with a sign": request(chunked=True).replace(b"\r\n%x\r\n" % len(BODY),
                                                              b"\r\n-%x\r\n" % len(BODY)),
    "a chunk size too large": request(chunked=True).replace(
        b"\r\n%x\r\n" % len(BODY), b"\r\nFFFFFFFFFFFFFFFFFF\r\n"),
    "a chunked body without its last chunk": request(chunked=True)[:-5],
    "Transfer-Encoding: chunked, then gzip": request(chunked=True).replace(
        b"chunked", b"chunked, gzip"),
    "two Content-Length values": request(extra="Content-Length: 3\r\n"),
    "a NUL in a header value": request(extra="X-A: a\0b\r\n"),
    "a bare CR in a header value": request(extra="X-A: a\rb\r\n"),
    "a space before the colon": request(extra="X-A : b\r\n"),
    "HTTP/1.0": request(version="HTTP/1.0"),
    "a Content-Length of 19 digits": request(body=b"{}").replace(b"Content-Length: 2",
                                                                b"Content-Length: " + b"9" * 19),
    "a transfer coding other than chunked": request(chunked=True).replace(
        b"chunked", b"gzip, chunked"),
    "a minor version over 1.1": request(version="HTTP/1.2") + OK,
    "the absolute form without Host": request(target="http://localhost/api/text", host=None),
}

# Streams the mock refuses where the reference accepts, each a row of docs/mock-server.md's
# "HTTP conformance" table (its first column, in backquotes, is the key here).
DIFFERENCES = {
    "Content-Length and Transfer-Encoding": request(
        chunked=True, extra=f"Content-Length: {len(BODY)}\r\n"),
    "a Content-Length given twice": request(extra=f"Content-Length: {len(BODY)}\r\n"),
    "obs-fold": request(extra="X-Folded: a\r\n b\r\n"),
    "bare LF": request().replace(b"\r\n", b"\n"),
    "a control character in a chunk extension": request(chunked=True).replace(
        b"\r\n%x\r\n" % len(BODY), b"\r\n%x;e\x00t\r\n" % len(BODY)),
}
# A stream the mock reads further than the reference: h11 keeps no HTTP/1.0 connection alive.
KEPT_ALIVE = {"HTTP/1.0 keep-alive": request(version="HTTP/1.0",
                                             extra="Connection: keep-alive\r\n") + OK}


@pytest.mark.parametrize("stream", list(AGREED.values()), ids=list(AGREED))
def test_the_mock_reads_what_the_reference_reads(mock: RemoteMock, stream: bytes) -> None:
    agrees(reference(stream), exchange(mock, stream))


@pytest.mark.parametrize("stream", list(AGREED.values()), ids=list(AGREED))
def test_byte_by_byte_it_reads_the_same(mock: RemoteMock, stream: bytes) -> None:
    """The same streams in pieces of one to seven bytes: where a read ends changes nothing."""
    cuts = list(range(1, len(stream), 1 + len(stream) // 40))
    agrees(reference(stream), exchange(mock, stream, cuts))


@pytest.mark.parametrize("stream", list(DIFFERENCES.values()), ids=list(DIFFERENCES))
def test_each_listed_difference_is_a_refusal_after_what_both_accept(
        mock: RemoteMock, stream: bytes) -> None:
    verdict, outcome = reference(stream), exchange(mock, stream)
    holds_the_invariant(verdict, outcome)
    assert outcome.statuses and outcome.statuses[-1] == 400, outcome.statuses


def test_an_http_1_0_client_that_asks_keeps_its_connection(mock: RemoteMock) -> None:
    """The one stream the mock reads further than h11: both requests answered."""
    [stream] = KEPT_ALIVE.values()
    outcome = exchange(mock, stream)
    assert outcome.statuses == [200, 200]
    assert len(reference(stream).requests) == 1


def documented_differences() -> dict[str, str]:
    text = (ROOT / "docs" / "mock-server.md").read_text("utf-8")
    section = text.partition("## HTTP conformance")[2].partition("\n## ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {re.findall(r"`([^`]+)`", row)[0]: row for row in rows}


def test_the_docs_list_every_difference_and_no_other() -> None:
    assert sorted(documented_differences()) == sorted([*DIFFERENCES, *KEPT_ALIVE])


def test_the_reference_accepts_what_the_mock_refuses() -> None:
    """A listed difference is one: the reference reads each of these streams whole."""
    for name, stream in DIFFERENCES.items():
        verdict = reference(stream)
        assert verdict.requests and verdict.requests[0].whole, name


# --- hypothesis-made streams ----------------------------------------------------------------

TARGETS = ["/api/text", "/chat", "/ns/alice/api/text", "/x%20y?q=1", "/",
           "http://localhost/api/text"]
METHODS = ["POST", "GET", "PUT", "DELETE", "post", "Query"]
TOKEN = st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12).map(lambda s: "x-" + s)
VALUE = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=30)


@st.composite
def one_request(draw: st.DrawFn) -> bytes:
    method = draw(st.sampled_from(METHODS))
    target = draw(st.sampled_from(TARGETS))
    body = draw(st.one_of(st.none(), st.just(BODY), st.binary(max_size=300)))
    extra = "".join(f"{name}: {value}\r\n" for name, value in draw(
        st.lists(st.tuples(TOKEN, VALUE), max_size=3, unique_by=lambda pair: pair[0])))
    if draw(st.booleans()):
        extra += UPGRADE
    if draw(st.booleans()) and body:
        extra += "Expect: 100-continue\r\n"
    chunked = body is not None and draw(st.booleans())
    data = request(method, target, body=body, extra=extra, chunked=chunked)
    if chunked and body and draw(st.booleans()):
        # The body in several chunks, some with extensions.
        cuts = sorted(draw(st.lists(st.integers(1, len(body)), max_size=4, unique=True)))
        pieces = [body[start:end] for start, end in zip([0, *cuts], [*cuts, len(body)],
                                                        strict=True) if end > start]
        head = data[:data.index(b"\r\n\r\n") + 4]
        data = head + b"".join(b"%x;ext\r\n%s\r\n" % (len(piece), piece)
                               for piece in pieces) + b"0\r\n\r\n"
    return data


@st.composite
def stream_and_pieces(draw: st.DrawFn, breaking: bool) -> tuple[bytes, list[int], bool]:
    stream = b"".join(draw(st.lists(one_request(), min_size=1, max_size=4)))
    broken = False
    if breaking:
        how = draw(st.sampled_from(["cut", "byte", "insert"]))
        at = draw(st.integers(0, len(stream) - 1))
        if how == "cut":
            stream = stream[:at]
        elif how == "byte":
            stream = stream[:at] + bytes([draw(st.integers(0, 255))]) + stream[at + 1:]
        else:
            stream = stream[:at] + draw(st.sampled_from(
                [b"\n", b"\r", b"\0", b" ", b"\r\n", b"GARBAGE\r\n\r\n", b"\r\n\r\n"])) + \
                stream[at:]
        broken = True
    cuts = sorted(draw(st.lists(st.integers(1, max(1, len(stream) - 1)), max_size=5,
                                unique=True))) if len(stream) > 1 else []
    return stream, cuts, broken


QUICK = settings(max_examples=EXAMPLES, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture,
                                        HealthCheck.too_slow])


@QUICK
@given(stream_and_pieces(breaking=False))
def test_well_formed_streams_are_read_as_the_reference_reads_them(
        mock: RemoteMock, drawn: tuple[bytes, list[int], bool]) -> None:
    stream, cuts, _ = drawn
    note(f"the stream {stream!r}, cut at {cuts}")
    agrees(reference(stream), exchange(mock, stream, cuts))


@QUICK
@given(stream_and_pieces(breaking=True))
def test_broken_streams_never_get_more_answers_or_entries_than_requests(
        mock: RemoteMock, drawn: tuple[bytes, list[int], bool]) -> None:
    stream, cuts, _ = drawn
    note(f"the stream {stream!r}, cut at {cuts}")
    holds_the_invariant(reference(stream), exchange(mock, stream, cuts))
