"""Generated raw answers, served on a loopback socket by the stand-in of the site: whatever a
server sends, only an ``AichatError`` or the right reply leaves the provider, within
``timeout`` + 1 s (docs/provider.md, "Against a hostile or broken server").

Each answer is put together from parts that each carry what docs/provider.md and RFC 9112 say
of them: a status line (valid, after interim answers or not, or not HTTP/1.x), field lines
(the framing's, others, odd ones), a body (a reply, the site refusing, not JSON, empty, an HTML
page) in a charset (usable, unknown, not a character encoding, or not the body's), a content
coding (gzip, deflate both ways, br, identity, one neither decoder knows, garbage), a framing
(a length, repeated or listed, chunks with extensions and trailers, the close; or a length too
short, too long, malformed or doubled, chunks with a broken size line or no CRLF, both framings
at once, another transfer coding), whole or cut short, sent at once or dribbled a few bytes at
a time, under the default limit or a small ``max_response_bytes``. The outcome follows from the
parts; where the docs leave it open (a cut answer, an odd field line, a Content-Length shorter
than the body), it is an ``AichatError`` or the right reply, never a wrong one.

Each call runs in a thread of its own, so on a session and connection of its own, and is timed
by the wall clock. CI runs a fixed set of examples (tests/conftest.py's profile).
"""

from __future__ import annotations

import gzip
import json
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import brotli
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import aichat
from support.expected import BASE_URL_ENV
from support.fake_site import LoopbackServer, Reply, serving

HELLO = [{"role": "user", "content": "Hello"}]
TIMEOUT = 2.0
DEADLINE_SLACK = 1.0  # docs/provider.md: a call ends within timeout + 1 s
NO_BODY = {204}  # of the statuses made here, RFC 9112 section 6.3 gives this one no body
LARGEST_LENGTH = 2**63 - 1  # docs/provider.md
DEFAULT_LIMIT = 4 * 1024 * 1024  # docs/provider.md: max_response_bytes' default

Outcome = str | type[aichat.AichatError]


@dataclass
class Expected:
    """The one outcome the docs give (``exact``), or ``None``: an AichatError or ``reply``."""

    exact: Outcome | None
    reply: str | None = None
    framing_fault: bool = False  # an AichatResponseError that names the broken framing

    def check(self, outcome: object, note: str) -> None:
        assert isinstance(outcome, (str, aichat.AichatError)), f"{outcome!r} for {note}"
        if isinstance(outcome, aichat.AichatError):
            assert "\n" not in str(outcome) and "please report" not in str(outcome), note
        if self.exact is None:
            assert isinstance(outcome, aichat.AichatError) or outcome == self.reply, (
                f"{outcome!r}, not an AichatError or {self.reply!r}, for {note}")
        elif isinstance(self.exact, str):
            assert outcome == self.exact, f"{outcome!r} for {note}"
        else:
            assert type(outcome) is self.exact, f"{outcome!r} for {note}"
            if self.framing_fault:
                assert "answered with broken framing: " in str(outcome), note


LOOSE = Expected(None)


@dataclass
class RawAnswer:
    raw: bytes
    expected: Expected
    note: str
    limit: int | None = None
    pieces: list[int] = field(default_factory=list)  # sizes of the first pieces, when dribbled


# --- the body -----------------------------------------------------------------------------------

HTML_PAGE = b"<!DOCTYPE html><html><body>Just a moment...</body></html>"
# (label in Content-Type, codec that writes the body, whether the docs read it)
CHARSETS = [(None, "utf-8", True), ("utf-8", "utf-8", True), ("UTF-8", "utf-8", True),
            ('"utf-8"', "utf-8", True), ("iso-8859-1", "latin-1", True),
            ("utf-16", "utf-16", True), ("nonsense", "utf-8", False),
            ("idna", "utf-8", False), ("base64", "utf-8", False)]
# Text every charset above can carry.
texts = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=24)


@st.composite
def bodies(draw: st.DrawFn) -> tuple[bytes, str, Callable[[int], Outcome]]:
    """A body, its Content-Type, and what a 2xx answer carrying it means."""
    kind = draw(st.sampled_from(["reply", "reply", "upstream", "not-json", "empty", "html"]))
    label, codec, usable = draw(st.sampled_from(CHARSETS))
    if kind == "html":
        return HTML_PAGE, "text/html" + (f"; charset={label}" if label else ""), \
            lambda _: aichat.AichatBlockedError
    text = draw(texts)
    data = {"reply": {"message": text}, "upstream": {"response": False, "message": text}}.get(kind)
    body = b"" if kind == "empty" else b"this is not JSON" if data is None else \
        json.dumps(data, ensure_ascii=False).encode(codec)
    if usable and codec == "utf-16" and body and draw(st.booleans()):
        body, usable = body[:-1], False  # an odd byte out: not UTF-16 text
    content_type = "application/json" + (f"; charset={label}" if label else "")

    def meaning(status: int) -> Outcome:
        """What it means at a 2xx; as the text it carries (``status`` 0), the reply a server
        may also be taken at where the docs leave it open (its charset label lost, say)."""
        if status == 0:
            return text if kind == "reply" else aichat.AichatError
        if not usable:
            return aichat.AichatResponseError
        return text if kind == "reply" else (
            aichat.AichatUpstreamError if kind == "upstream" else aichat.AichatResponseError)
    return body, content_type, meaning


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


# (Content-Encoding or None, what it makes of the body; garbage: what no decoder reads)
CODINGS: dict[str, tuple[str | None, Callable[[bytes], bytes]]] = {
    "none": (None, lambda body: body),
    "identity": ("identity", lambda body: body),
    "gzip": ("gzip", gzip.compress),
    "x-gzip": ("x-gzip", gzip.compress),
    "deflate": ("deflate", zlib.compress),
    "raw-deflate": ("deflate", raw_deflate),
    "br": ("br", brotli.compress),
    "unknown": ("x-unknown", lambda body: body),  # docs: read as it came
    "garbage-gzip": ("gzip", lambda _: b"not gzip at all"),
    "garbage-deflate": ("deflate", lambda _: b"\xff\xff\xff\xff not deflate"),
    "garbage-br": ("br", lambda _: b"not brotli at all"),
}
IDENTITY = {"none", "identity"}  # refused unread when the length passes the limit


# --- the framing --------------------------------------------------------------------------------

VALID_FRAMINGS = ["length", "length-repeated", "length-listed", "length-zeros", "chunked",
                  "close"]
# Faults in the fields, refused whatever the status; faults in the chunks, where there is a body.
FIELD_FAULTS = ["length-malformed", "length-conflicting", "length-past-2-63", "both",
                "another-transfer-coding", "chunked-twice"]
CHUNK_FAULTS = ["chunk-size-broken", "chunk-data-without-crlf", "chunk-line-bare-lf"]
BROKEN_FRAMINGS = FIELD_FAULTS + CHUNK_FAULTS
LOOSE_FRAMINGS = ["length-short"]  # the body ends early, at the length: whatever it then means
SHORT_FRAMINGS = ["length-long"]  # the connection closes before the length: it broke
BROKEN_SIZES: list[Callable[[bytes], bytes]] = [
    lambda size: b"-1", lambda size: b"+" + size, lambda size: b"0x" + size,
    lambda size: b" " + size, lambda size: size + b" ", lambda size: b"1" + b"0" * 16,
    lambda size: size + b";", lambda size: size + b";=v", lambda size: size + b';a="open',
    lambda size: size + b";a\x00",
]
EXTENSIONS = [b"", b";a", b";a=b", b' ; name="q;\\"v"', b";x=1;y"]


@st.composite
def chunked_body(draw: st.DrawFn, wire: bytes, broken: str | None) -> tuple[bytes, int]:
    """``wire`` in chunks, and where the last chunk's line ends in what is returned."""
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(wire) - 1)), max_size=4))))
    pieces = [wire[start:end] for start, end in zip([0, *cuts], [*cuts, len(wire)], strict=True)
              if wire[start:end]]
    out = b""
    for number, piece in enumerate(pieces):
        size = draw(st.sampled_from([b"%x", b"%X", b"%04x"])) % len(piece)
        line = size + draw(st.sampled_from(EXTENSIONS)) + b"\r\n"
        after = b"\r\n"
        if number == 0 and broken == "chunk-size-broken":
            line = draw(st.sampled_from(BROKEN_SIZES))(size) + b"\r\n"
        elif number == 0 and broken == "chunk-line-bare-lf":
            line = size + b"\n"
        elif number == 0 and broken == "chunk-data-without-crlf":
            after = b"XX"
        out += line + piece + after
    if not pieces and broken in ("chunk-size-broken", "chunk-line-bare-lf",
                                 "chunk-data-without-crlf"):
        out += b"-1\r\n"  # no data chunk to break: the last chunk's size is broken instead
    out += b"0" + draw(st.sampled_from(EXTENSIONS)) + b"\r\n"
    last = len(out)
    trailer = draw(st.lists(st.sampled_from([b"X-Checksum: 1", b"Server-Timing: db;dur=5"]),
                            max_size=2))
    return out + b"".join(line + b"\r\n" for line in trailer) + b"\r\n", last


# --- the head -----------------------------------------------------------------------------------

# (status line, status; None: not HTTP/1.x)
STATUSES: list[tuple[bytes, int | None]] = [
    (b"HTTP/1.1 200 OK", 200), (b"HTTP/1.1 200 OK", 200), (b"HTTP/1.1 200", 200),
    (b"HTTP/1.1 200 ", 200), (b"HTTP/1.2 200 Fine", 200), (b"HTTP/1.0 200 OK", 200),
    (b"HTTP/1.1 201 Created", 201), (b"HTTP/1.1 204 No Content", 204),
    (b"HTTP/1.1 403 Forbidden", 403), (b"HTTP/1.1 404 Not Found", 404),
    (b"HTTP/1.1 429 Too Many Requests", 429), (b"HTTP/1.1 500 Internal Server Error", 500),
    (b"HTTP/1.1 503 Service Unavailable", 503), (b"HTTP/1.1 600 Beyond", 600),
    (b"HTTP/2 200 OK", None), (b"HTTP/1.1 +200 OK", None), (b"HTTP/1.1 2_00 OK", None),
    (b"HTTP/1.1 20 OK", None), (b"ICY 200 OK", None), (b"http/1.1 200 OK", None),
    (b"HTTP/1.1 200 O\x00K", None), (b"", None),
]
INTERIMS = [b"", b"HTTP/1.1 100 Continue\r\n\r\n",
            b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"]
ODD_LINES = [b"X-Folded: a\r\n\tb", b"no colon here", b"X-Space : v", b": empty name"]
extra_fields = st.lists(
    st.tuples(st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12),
              st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)).map(
        lambda pair: b"X-%s: %s" % (pair[0].encode(), pair[1].strip().encode())),
    max_size=4)


def what_it_means(status: int, coding: str, decoded: int, limit: int | None,
                  meaning: Callable[[int], Outcome]) -> Outcome:
    """The outcome docs/provider.md gives a well-framed answer, whole."""
    if coding.startswith("garbage"):
        return aichat.AichatResponseError  # a body that cannot be decoded in its coding
    if decoded > (DEFAULT_LIMIT if limit is None else limit):
        return aichat.AichatResponseError  # past max_response_bytes
    if status == 429:
        return aichat.AichatRateLimitError
    if status == 403:
        return aichat.AichatBlockedError
    outcome = meaning(status)
    if outcome is aichat.AichatBlockedError:  # an HTML page: the bot wall at 2xx only
        return outcome if 200 <= status < 300 else aichat.AichatHTTPError
    return outcome if 200 <= status < 300 else aichat.AichatHTTPError


@st.composite
def raw_answers(draw: st.DrawFn) -> RawAnswer:
    status_line, status = draw(st.sampled_from(STATUSES))
    http10 = status_line.startswith(b"HTTP/1.0")
    interim = b"" if http10 or status is None else draw(st.sampled_from(INTERIMS))
    end = draw(st.sampled_from([b"\r\n", b"\r\n", b"\n"]))
    body, content_type, meaning = draw(bodies())
    coding = draw(st.sampled_from(list(CODINGS)))
    encoding, encode = CODINGS[coding]
    wire = encode(body)
    framing = draw(st.sampled_from(VALID_FRAMINGS * 2 + BROKEN_FRAMINGS + LOOSE_FRAMINGS
                                   + SHORT_FRAMINGS))
    limit = draw(st.one_of(st.none(), st.integers(1, 200)))

    fields = [b"Content-Type: " + content_type.encode()]
    if encoding:
        fields.append(b"Content-Encoding: " + encoding.encode())
    n = len(wire)
    declared = n + 1 + draw(st.integers(0, 5))  # a Content-Length too long for the body
    length_fields = {
        "length": [b"Content-Length: %d" % n],
        "length-repeated": [b"Content-Length: %d" % n] * 2,
        "length-listed": [b"Content-Length: %d, %d" % (n, n)],
        "length-zeros": [b"Content-Length: 000%d" % n],
        "length-short": [b"Content-Length: %d" % max(0, n - 1 - draw(st.integers(0, 5)))],
        "length-long": [b"Content-Length: %d" % declared],
        "length-malformed": [b"Content-Length: " + draw(st.sampled_from(
            [b"-1", b"+%d" % n, b"%d_0" % n, b"0x%x" % n, b"%d %d" % (n, n), b"", b"%d.0" % n]))],
        "length-conflicting": [b"Content-Length: %d" % n, b"Content-Length: %d" % (n + 1)],
        "length-past-2-63": [b"Content-Length: %d" % (LARGEST_LENGTH + 1)],
    }
    last_chunk_end: int | None = None
    if framing in length_fields:
        fields += length_fields[framing]
        payload = wire
    elif framing == "close":
        payload = wire
    else:
        broken = framing if framing.startswith("chunk-") else None
        payload, last_chunk_end = draw(chunked_body(wire, broken))
        te = draw(st.sampled_from([b"chunked", b"Chunked", b", chunked"]))
        te = {"another-transfer-coding": b"gzip", "chunked-twice": b"chunked, chunked"}.get(
            framing, te)
        fields.append(b"Transfer-Encoding: " + te)
        if framing == "both":
            fields.append(b"Content-Length: %d" % len(payload))
    fields += draw(extra_fields)
    odd = draw(st.lists(st.sampled_from(ODD_LINES), max_size=1))
    fields = draw(st.permutations(fields + odd))
    head = interim + b"".join(line + end for line in (status_line, *fields)) + end
    raw = head + payload

    # What the docs say of it, whole.
    broken_framing = framing in BROKEN_FRAMINGS or (http10 and last_chunk_end is not None)
    garbage = coding.startswith("garbage")
    bound = DEFAULT_LIMIT if limit is None else limit
    said = meaning(0)
    carried = said if isinstance(said, str) and status is not None and len(body) <= bound \
        else None  # the reply in the body, where there is one
    note = (f"{status_line!r} {coding} {framing} limit={limit} odd={odd} "
            f"{content_type!r} body={body[:60]!r}")
    if status is None:
        expected = Expected(aichat.AichatConnectionError)
    elif framing in FIELD_FAULTS or (http10 and last_chunk_end is not None):
        expected = Expected(aichat.AichatResponseError, framing_fault=True)
    elif status in NO_BODY:  # no body is read: a 2xx "with an empty body", or labelled HTML
        expected = Expected(aichat.AichatBlockedError if "html" in content_type
                            else aichat.AichatResponseError)
    elif broken_framing:
        # The fault; or, before a fault after the first chunk's data, the limit or the coding.
        expected = Expected(aichat.AichatResponseError, framing_fault=limit is None and not garbage)
    elif framing == "length-long" and coding == "unknown":
        expected = Expected(None)  # urllib3 decodes: it may refuse the short body before
        # handing on what passes the limit
    elif framing == "length-long":
        # Refused unread when its length passes the limit; else the bytes there are read (and
        # may pass the limit, or fail to decode) before the connection closes short of it.
        too_long = (coding in IDENTITY and declared > bound) or garbage or len(body) > bound
        expected = Expected(aichat.AichatResponseError if too_long
                            else aichat.AichatConnectionError)
    else:
        outcome = what_it_means(status, coding, len(body), limit, meaning)
        expected = Expected(None, carried) if framing in LOOSE_FRAMINGS else Expected(outcome)
    if odd and status is not None:
        # http.client takes a line without a colon for the end of the fields: those after it
        # are lost (the framing's, the charset's), and the body is read to the close as it is.
        expected = Expected(None, carried)

    # Cut short, or not.
    if draw(st.integers(0, 5)) == 0 and len(raw) > 1:
        cut = draw(st.integers(1, len(raw) - 1))
        whole = expected
        raw = raw[:cut]
        note += f" cut at {cut} of {len(head) + len(payload)}"
        in_body = cut >= len(head)
        framed = framing in ("length", "length-repeated", "length-listed", "length-zeros",
                             "chunked")
        if status is None:
            pass  # still no HTTP/1.x answer
        elif last_chunk_end is not None and cut >= len(head) + last_chunk_end:
            expected = whole  # the body is whole: only (part of) the trailer section is cut
        elif in_body and http10 and last_chunk_end is not None:
            # Transfer-Encoding in an HTTP/1.0 answer: its framing is refused from the head
            # alone (RFC 9112 6.1), whatever of the body came.
            expected = whole
        elif (in_body and framed and status not in NO_BODY and limit is None
              and not coding.startswith("garbage") and not odd):
            expected = Expected(aichat.AichatConnectionError)  # it broke before its end
        else:
            expected = Expected(None, carried)

    pieces = draw(st.lists(st.integers(1, 7), max_size=40)) if draw(st.booleans()) else []
    return RawAnswer(raw, expected, note, limit, pieces)


# --- the calls ------------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _no_ambient_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy",
                 "https_proxy", "all_proxy", "no_proxy", BASE_URL_ENV):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    yield from serving()


def dribbled(raw: bytes, sizes: list[int]) -> list[bytes]:
    """``raw`` in pieces of ``sizes`` bytes, then the rest at once."""
    pieces, offset = [], 0
    for size in sizes:
        if offset >= len(raw):
            break
        pieces.append(raw[offset:offset + size])
        offset += size
    return [*pieces, raw[offset:]] if offset < len(raw) else pieces


def timed_call(server: LoopbackServer, answer: Reply, **kwargs: Any) -> tuple[object, float]:
    """The outcome of one call (its reply, or whatever it raised) and its wall-clock time,
    made in a thread of its own: a fresh session, so a fresh connection."""
    server.script(answer)
    result: dict[str, object] = {}

    def call() -> None:
        try:
            result["outcome"] = aichat.complete(HELLO, base_url=server.base_url, max_retries=0,
                                                timeout=TIMEOUT, **kwargs)
        except BaseException as error:  # anything at all: the test says whether it may
            result["outcome"] = error

    started = time.monotonic()
    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(TIMEOUT + DEADLINE_SLACK + 5)
    elapsed = time.monotonic() - started
    assert not thread.is_alive(), f"the call still runs after {elapsed:.1f} s"
    return result["outcome"], elapsed


@settings(max_examples=250, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(answer=raw_answers())
@example(answer=RawAnswer(  # HTTP/1.0 and chunked, cut where the body starts
    b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
    Expected(aichat.AichatResponseError, framing_fault=True), "HTTP/1.0, chunked, cut"))
@example(answer=RawAnswer(  # the chunk size -1, then more than the limit
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n" + b"x" * 300,
    Expected(aichat.AichatResponseError, framing_fault=True), "chunk size -1", limit=100))
@example(answer=RawAnswer(
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=idna\r\nContent-Length: 21"
    b"\r\n\r\n" + json.dumps({"message": "framed"}).encode(),
    Expected(aichat.AichatResponseError), "charset=idna"))
def test_any_raw_answer_is_the_reply_or_an_aichat_error_within_the_timeout(
        server: LoopbackServer, answer: RawAnswer) -> None:
    pieces = dribbled(answer.raw, answer.pieces) if answer.pieces else [answer.raw]
    reply = Reply.stream(lambda: pieces, pace=0.002 if answer.pieces else 0.0)
    kwargs = {} if answer.limit is None else {"max_response_bytes": answer.limit}
    outcome, elapsed = timed_call(server, reply, **kwargs)
    answer.expected.check(outcome, answer.note)
    assert elapsed <= TIMEOUT + DEADLINE_SLACK, f"{elapsed:.2f} s for {answer.note}"


WHOLE = RawAnswer(b"HTTP/1.1 200 OK\r\nContent-Length: 21\r\n\r\n{\"message\": \"framed\"}",
                  Expected("framed"), "a whole answer")


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(answer=raw_answers(), stall_at=st.integers(0, 400))
@example(answer=WHOLE, stall_at=0)
@example(answer=WHOLE, stall_at=30)
def test_an_answer_that_stalls_ends_the_call_within_the_timeout(
        server: LoopbackServer, answer: RawAnswer, stall_at: int) -> None:
    """The same answers, stopped after ``stall_at`` bytes for longer than the call's timeout:
    the call ends by then, in a timeout, or as the answer's bytes before the stall decide."""
    if stall_at >= len(answer.raw):
        pieces = [answer.raw]
    else:
        pieces = [answer.raw[:stall_at], answer.raw[stall_at:]]

    def stalled() -> Iterator[bytes]:
        yield pieces[0]
        if len(pieces) > 1:
            time.sleep(TIMEOUT + DEADLINE_SLACK + 0.5)  # the server's thread, not the call's
            yield pieces[1]

    kwargs = {} if answer.limit is None else {"max_response_bytes": answer.limit}
    outcome, elapsed = timed_call(server, Reply.stream(stalled), **kwargs)
    if len(pieces) == 1 or type(outcome) is not aichat.AichatTimeoutError:
        answer.expected.check(outcome, f"{answer.note}, stalled at {stall_at}")
    assert elapsed <= TIMEOUT + DEADLINE_SLACK, f"{elapsed:.2f} s for {answer.note}"
    if stall_at == 0 and answer.raw:  # nothing came before the stall
        assert type(outcome) is aichat.AichatTimeoutError
