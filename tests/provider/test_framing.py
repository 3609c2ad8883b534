"""How the provider reads an answer's head and framing: docs/provider.md ("Framing held to RFC
9112", "Charsets") and RFC 9112, one raw answer per rule, sent by the loopback stand-in of the
site (support/fake_site.py) exactly as written here.

Each answer is one of: read as the site meant it (the reply), a framing the docs refuse
(``AichatResponseError`` naming the fault, nothing more read, the connection not used again),
or an answer that is not HTTP/1.x or stops before its end (``AichatConnectionError``). The
bounds are the documented ones (4096-byte lines, 16 hex digits, 100 trailer fields,
Content-Length up to 2**63 - 1), each tried at the bound and one past it.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

import pytest

import aichat
from support.expected import BASE_URL_ENV
from support.fake_site import LoopbackServer, Reply, serving

HELLO = [{"role": "user", "content": "Hello"}]
TEXT = "framed"
REPLY = json.dumps({"message": TEXT}).encode()  # 21 bytes
SIZE = b"%x" % len(REPLY)  # its chunk size: 15
GZIPPED = gzip.compress(REPLY)

# docs/provider.md: the documented bounds.
LINE = 4096  # a status, chunk-size or trailer line, CRLF included
DIGITS = 16  # hex digits in a chunk size
TRAILER_FIELDS = 100
LARGEST_LENGTH = 2**63 - 1
DEFAULT_LIMIT = 4 * 1024 * 1024  # max_response_bytes' default


@pytest.fixture(autouse=True)
def _no_ambient_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy",
                 "https_proxy", "all_proxy", "no_proxy", BASE_URL_ENV):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    yield from serving()


def answer(*fields: bytes, body: bytes = REPLY, status: bytes = b"HTTP/1.1 200 OK",
           end: bytes = b"\r\n") -> bytes:
    """A status line, field lines and a body, each line ended by ``end``."""
    return b"".join(line + end for line in (status, *fields)) + end + body


def chunked(*lines: bytes) -> bytes:
    """A chunked answer whose body is ``lines``, each sent with its CRLF."""
    return answer(b"Transfer-Encoding: chunked", body=b"".join(line + b"\r\n" for line in lines))


def outcome(server: LoopbackServer, raw: bytes, **kwargs: Any) -> str | aichat.AichatError:
    server.script(Reply.raw_bytes(raw))
    try:
        return aichat.complete(HELLO, base_url=server.base_url, max_retries=0, **kwargs)
    except aichat.AichatError as error:
        return error


def padded_extension(total: int) -> bytes:
    """A chunk-size line for REPLY of exactly ``total`` bytes, CRLF included."""
    head = SIZE + b";pad="
    return head + b"x" * (total - len(head) - 2)


# --- read as the site meant it -------------------------------------------------------------------

READ = {
    "content-length": answer(b"Content-Length: 21"),
    "content-length-repeated": answer(b"Content-Length: 21", b"Content-Length: 21"),
    "content-length-list": answer(b"Content-Length: 21, 21"),
    "content-length-leading-zeros": answer(b"Content-Length: 0021"),
    "until-the-close": answer(),
    # The same length written with leading zeros (digits: RFC 9112 6.3).
    "content-length-repeated-with-leading-zeros": answer(b"Content-Length: 21",
                                                         b"Content-Length: 0021"),
    "http-1.0-until-the-close": answer(status=b"HTTP/1.0 200 OK"),
    "http-1.0-content-length": answer(b"Content-Length: 21", status=b"HTTP/1.0 200 OK"),
    "chunked": chunked(SIZE, REPLY, b"0", b""),
    "chunked-in-pieces": chunked(b"5", REPLY[:5], b"10", REPLY[5:], b"0", b""),
    "chunked-upper-case-hex": answer(b"Transfer-Encoding: chunked",
                                     body=b"F\r\n" + REPLY[:15] + b"\r\n6\r\n" + REPLY[15:]
                                     + b"\r\n0\r\n\r\n"),
    "chunked-any-case": answer(b"Transfer-Encoding: Chunked",
                               body=SIZE + b"\r\n" + REPLY + b"\r\n0\r\n\r\n"),
    "chunked-empty-list-element": answer(b"Transfer-Encoding: , chunked",
                                         body=SIZE + b"\r\n" + REPLY + b"\r\n0\r\n\r\n"),
    "chunk-extensions": chunked(SIZE + b' ;a ; b=c\t;d = "e;\\"f"', REPLY, b"0;last", b""),
    "chunk-size-of-16-digits": chunked(b"0" * (DIGITS - len(SIZE)) + SIZE, REPLY, b"0", b""),
    "chunk-size-line-of-4096-bytes": chunked(padded_extension(LINE), REPLY, b"0", b""),
    "trailer": chunked(SIZE, REPLY, b"0", b"X-Checksum: 1", b"Server-Timing: x;dur=1", b""),
    "trailer-of-100-fields": chunked(SIZE, REPLY, b"0",
                                     *[b"X-T: %d" % n for n in range(TRAILER_FIELDS)], b""),
    "trailer-line-of-4096-bytes": chunked(SIZE, REPLY, b"0", b"X-T: " + b"t" * (LINE - 7), b""),
    # The body is whole once the last chunk is in; what a few servers leave out is the rest.
    "ended-after-the-last-chunk": chunked(SIZE, REPLY, b"0"),
    "status-line-without-a-reason": answer(b"Content-Length: 21", status=b"HTTP/1.1 200"),
    "status-line-with-an-empty-reason": answer(b"Content-Length: 21", status=b"HTTP/1.1 200 "),
    "status-line-of-4096-bytes": answer(b"Content-Length: 21",
                                        status=b"HTTP/1.1 200 " + b"K" * (LINE - 15)),
    "bare-lf-line-ends": answer(b"Content-Length: 21", end=b"\n"),
    "http-1.2-read-as-1.1": answer(b"Content-Length: 21", status=b"HTTP/1.2 200 OK"),
    "interim-100": b"HTTP/1.1 100 Continue\r\n\r\n" + answer(b"Content-Length: 21"),
    "interim-103": b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
                   + answer(b"Content-Length: 21"),
    "interims-in-a-row": b"HTTP/1.1 102 Processing\r\n\r\n" * 3 + b"HTTP/1.1 199 Other\r\n\r\n"
                         + chunked(SIZE, REPLY, b"0", b""),
}


@pytest.mark.parametrize("raw", list(READ.values()), ids=list(READ))
def test_a_well_framed_answer_is_read(server: LoopbackServer, raw: bytes) -> None:
    assert outcome(server, raw) == TEXT
    assert len(server.requests) == 1


# --- framings the docs refuse --------------------------------------------------------------------

MALFORMED_SIZE = "a malformed chunk-size line"

REFUSED = {
    "transfer-encoding-and-content-length": (
        answer(b"Transfer-Encoding: chunked", b"Content-Length: 21",
               body=SIZE + b"\r\n" + REPLY + b"\r\n0\r\n\r\n"),
        "both Transfer-Encoding and Content-Length (RFC 9112)"),
    "transfer-encoding-in-http-1.0": (
        answer(b"Transfer-Encoding: chunked", status=b"HTTP/1.0 200 OK",
               body=SIZE + b"\r\n" + REPLY + b"\r\n0\r\n\r\n"),
        "Transfer-Encoding in an HTTP/1.0 answer (RFC 9112)"),
    "another-transfer-coding": (answer(b"Transfer-Encoding: gzip"), "Transfer-Encoding 'gzip'"),
    "chunked-after-another-coding": (answer(b"Transfer-Encoding: gzip, chunked"),
                                     "Transfer-Encoding 'gzip, chunked'"),
    "chunked-twice": (answer(b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked"),
                      "Transfer-Encoding 'chunked, chunked'"),
    "content-length-minus-one": (answer(b"Content-Length: -1"),
                                 "a malformed Content-Length '-1'"),
    "content-length-with-a-sign": (answer(b"Content-Length: +21"),
                                   "a malformed Content-Length '+21'"),
    "content-length-with-an-underscore": (answer(b"Content-Length: 2_1"),
                                          "a malformed Content-Length '2_1'"),
    "content-length-in-hex": (answer(b"Content-Length: 0x15"),
                              "a malformed Content-Length '0x15'"),
    "content-length-empty": (answer(b"Content-Length: "), "a malformed Content-Length"),
    "content-length-superscript-digit": (answer(b"Content-Length: 2\xb2"),
                                         "a malformed Content-Length"),
    # Field lines of one name are one list, joined by ", " (RFC 9110 5.3).
    "content-length-malformed-beside-a-good-one": (
        answer(b"Content-Length: 21", b"Content-Length: x"),
        "a malformed Content-Length '21, x'"),
    # OWS is spaces and tabs only (RFC 9110 5.6.3): a form feed is part of the value.
    "content-length-with-a-form-feed": (answer(b"Content-Length: 21\x0c"),
                                        "a malformed Content-Length"),
    "two-lengths-in-one-field": (answer(b"Content-Length: 21, 22"),
                                 "two lengths in Content-Length '21, 22'"),
    "two-lengths-in-two-fields": (answer(b"Content-Length: 21", b"Content-Length: 20"),
                                  "two lengths in Content-Length '21, 20'"),
    "content-length-past-2-63": (answer(b"Content-Length: %d" % (LARGEST_LENGTH + 1)),
                                 f"a Content-Length of '{LARGEST_LENGTH + 1}', more than "
                                 f"{LARGEST_LENGTH}"),
    "a-coding-named-xchunked": (answer(b"Transfer-Encoding: Xchunked"),
                                "Transfer-Encoding 'Xchunked', where only chunked is read"),
    "chunked-then-a-coding-named-x": (answer(b"Transfer-Encoding: chunked, X"),
                                      "Transfer-Encoding 'chunked, X'"),
    "a-coding-that-is-a-vertical-tab": (answer(b"Transfer-Encoding: \x0b, chunked"),
                                        "Transfer-Encoding '\\x0b, chunked'"),
    "chunked-with-a-vertical-tab": (answer(b"Transfer-Encoding: chunked\x0b"),
                                    "Transfer-Encoding 'chunked\\x0b'"),
    "chunk-size-minus-one": (chunked(b"-1", REPLY, b"0", b""),
                             "a malformed chunk-size line b'-1\\r\\n'"),
    "chunk-size-with-a-sign": (chunked(b"+" + SIZE, REPLY, b"0", b""), MALFORMED_SIZE),
    "chunk-size-0x": (chunked(b"0x" + SIZE, REPLY, b"0", b""), MALFORMED_SIZE),
    "chunk-size-with-an-underscore": (chunked(b"1_5", REPLY, b"0", b""), MALFORMED_SIZE),
    "chunk-size-after-a-space": (chunked(b" " + SIZE, REPLY, b"0", b""), MALFORMED_SIZE),
    "chunk-size-before-a-space": (chunked(SIZE + b" ", REPLY, b"0", b""), MALFORMED_SIZE),
    "chunk-size-not-hex": (chunked(b"zz", REPLY, b"0", b""), MALFORMED_SIZE),
    "chunk-size-empty": (chunked(b"", REPLY, b"0", b""), MALFORMED_SIZE),
    "chunk-size-of-17-digits": (chunked(b"0" * (DIGITS + 1 - len(SIZE)) + SIZE, REPLY, b"0", b""),
                                "a chunk size of 17 hex digits, more than 16"),
    "chunk-size-overflowing-64-bits": (chunked(b"1" + b"0" * DIGITS, REPLY, b"0", b""),
                                       "a chunk size of 17 hex digits"),
    "chunk-extension-without-a-name": (chunked(SIZE + b";=x", REPLY, b"0", b""), MALFORMED_SIZE),
    "chunk-extension-value-missing": (chunked(SIZE + b";a=", REPLY, b"0", b""), MALFORMED_SIZE),
    "chunk-extension-unclosed-quote": (chunked(SIZE + b';a="x', REPLY, b"0", b""),
                                       MALFORMED_SIZE),
    "chunk-extension-with-a-control-byte": (chunked(SIZE + b";a\x01", REPLY, b"0", b""),
                                            MALFORMED_SIZE),
    "chunk-size-line-ended-by-a-bare-lf": (
        answer(b"Transfer-Encoding: chunked", body=SIZE + b"\n" + REPLY + b"\r\n0\r\n\r\n"),
        MALFORMED_SIZE),
    "chunk-data-without-its-crlf": (
        answer(b"Transfer-Encoding: chunked", body=SIZE + b"\r\n" + REPLY + b"XX0\r\n\r\n"),
        "a chunk's data is not followed by CRLF"),
    "chunk-longer-than-its-size": (chunked(b"14", REPLY, b"0", b""),
                                   "a chunk's data is not followed by CRLF"),
    "chunk-size-line-of-4097-bytes": (chunked(padded_extension(LINE + 1), REPLY, b"0", b""),
                                      f"a chunk-size line longer than {LINE} bytes"),
    "trailer-of-101-fields": (chunked(SIZE, REPLY, b"0",
                                      *[b"X-T: %d" % n for n in range(TRAILER_FIELDS + 1)],
                                      b""),
                              f"more than {TRAILER_FIELDS} trailer fields"),
    "trailer-line-of-4097-bytes": (chunked(SIZE, REPLY, b"0", b"X-T: " + b"t" * (LINE - 6), b""),
                                   f"a trailer line longer than {LINE} bytes"),
    "trailer-line-without-a-colon": (chunked(SIZE, REPLY, b"0", b"no colon", b""),
                                     "a malformed trailer line b'no colon\\r\\n'"),
}


@pytest.mark.parametrize(("raw", "fault"), list(REFUSED.values()), ids=list(REFUSED))
def test_a_framing_the_docs_refuse_is_a_response_error_naming_it(
        server: LoopbackServer, raw: bytes, fault: str) -> None:
    error = outcome(server, raw)
    assert type(error) is aichat.AichatResponseError, error
    url = server.base_url + "/api/text"
    # The fault named from its first word (docs/provider.md: naming the fault).
    assert str(error).startswith(f"POST {url} answered with broken framing: {fault}")
    assert "\n" not in str(error) and "please report" not in str(error)
    assert len(server.requests) == 1  # not sent again


def test_a_refused_framing_costs_its_connection(server: LoopbackServer) -> None:
    """The server keeps the connection open after the answer; the provider does not use it
    again (docs/provider.md: nothing after the fault is read, the connection is closed)."""
    # fake_site adds Content-Length to every answer it makes: here, beside Transfer-Encoding.
    server.script(Reply(200, REPLY, [("Transfer-Encoding", "chunked")]))
    with pytest.raises(aichat.AichatResponseError, match="both Transfer-Encoding"):
        aichat.complete(HELLO, base_url=server.base_url)
    assert aichat.complete(HELLO, base_url=server.base_url) == "echo: user: Hello\nassistant:"
    assert server.connections == 2


# --- not HTTP/1.x, or cut short ------------------------------------------------------------------

BROKEN = {
    "http-2.0": answer(b"Content-Length: 21", status=b"HTTP/2.0 200 OK"),
    "http-0.9": answer(b"Content-Length: 21", status=b"HTTP/0.9 200 OK"),
    "lower-case-http": answer(b"Content-Length: 21", status=b"http/1.1 200 OK"),
    "status-with-a-sign": answer(b"Content-Length: 21", status=b"HTTP/1.1 +200 OK"),
    "status-with-an-underscore": answer(b"Content-Length: 21", status=b"HTTP/1.1 2_00 OK"),
    "status-of-two-digits": answer(b"Content-Length: 21", status=b"HTTP/1.1 20 OK"),
    "status-of-four-digits": answer(b"Content-Length: 21", status=b"HTTP/1.1 2000 OK"),
    "status-below-100": answer(b"Content-Length: 21", status=b"HTTP/1.1 099 Low"),
    "two-spaces-before-the-status": answer(b"Content-Length: 21", status=b"HTTP/1.1  200 OK"),
    "control-byte-in-the-reason": answer(b"Content-Length: 21", status=b"HTTP/1.1 200 O\x00K"),
    "bare-cr-in-the-reason": answer(b"Content-Length: 21", status=b"HTTP/1.1 200 O\rK"),
    "status-line-of-4097-bytes": answer(b"Content-Length: 21",
                                        status=b"HTTP/1.1 200 " + b"K" * (LINE - 14)),
    "nothing-at-all": b"",
    "cut-inside-the-status-line": b"HTTP/1.1 20",
    "cut-before-the-content-length": answer(b"Content-Length: 22"),
    "cut-before-the-content-length-of-a-gzip-body": answer(
        b"Content-Encoding: gzip", b"Content-Length: %d" % (len(GZIPPED) + 1), body=GZIPPED),
    "cut-before-the-content-length-in-a-coding-urllib3-reads": answer(
        b"Content-Encoding: x-unknown", b"Content-Length: 22"),
    "cut-inside-a-chunk": chunked(b"16", REPLY),
    "cut-inside-a-chunk-size-line": answer(b"Transfer-Encoding: chunked", body=SIZE + b"\r"),
    "cut-before-the-last-chunk": chunked(SIZE, REPLY),
    "cut-inside-a-chunks-crlf": answer(b"Transfer-Encoding: chunked",
                                       body=SIZE + b"\r\n" + REPLY + b"\r"),
}


@pytest.mark.parametrize("raw", list(BROKEN.values()), ids=list(BROKEN))
def test_an_answer_that_is_not_http_or_stops_short_is_a_connection_error(
        server: LoopbackServer, raw: bytes) -> None:
    error = outcome(server, raw)
    assert type(error) is aichat.AichatConnectionError, error
    assert "broke before a complete answer" in str(error) and "\n" not in str(error)
    assert len(server.requests) == 1


# --- statuses without a body ---------------------------------------------------------------------

def test_a_204_has_no_body_whatever_its_content_length_says(server: LoopbackServer) -> None:
    error = outcome(server, answer(b"Content-Length: 21", status=b"HTTP/1.1 204 No Content"))
    assert type(error) is aichat.AichatResponseError
    assert "answered 204 with an empty body" in str(error)


def test_a_304_has_no_body_even_with_a_huge_content_length(server: LoopbackServer) -> None:
    raw = answer(b"Content-Length: %d" % LARGEST_LENGTH, status=b"HTTP/1.1 304 Not Modified",
                 body=b"")
    error = outcome(server, raw)
    assert type(error) is aichat.AichatHTTPError and error.status_code == 304


def test_a_101_is_an_http_error_and_its_connection_is_not_used_again(
        server: LoopbackServer) -> None:
    """Nothing asked to switch protocols: what follows a 101 is not HTTP/1.1 any more."""
    server.script(Reply(101, b"", [("Upgrade", "h2c"), ("Connection", "Upgrade")]))
    with pytest.raises(aichat.AichatHTTPError) as caught:
        aichat.complete(HELLO, base_url=server.base_url)
    assert caught.value.status_code == 101
    assert aichat.complete(HELLO, base_url=server.base_url) == "echo: user: Hello\nassistant:"
    assert server.connections == 2


def test_the_largest_content_length_is_a_length_too_long_for_the_limit(
        server: LoopbackServer) -> None:
    """2**63 - 1 is a length the docs accept: it is refused as too long for max_response_bytes,
    unread, not as broken framing."""
    error = outcome(server, answer(b"Content-Length: %d" % LARGEST_LENGTH))
    assert type(error) is aichat.AichatResponseError
    assert f"more than {DEFAULT_LIMIT} bytes" in str(error)


def test_a_204_announced_as_chunked_has_no_body_either(server: LoopbackServer) -> None:
    raw = answer(b"Transfer-Encoding: chunked", status=b"HTTP/1.1 204 No Content",
                 body=SIZE + b"\r\n" + REPLY + b"\r\n0\r\n\r\n")
    error = outcome(server, raw)
    assert type(error) is aichat.AichatResponseError
    assert "answered 204 with an empty body" in str(error)


def test_the_framing_fields_of_a_204_are_held_to_the_rules_too(server: LoopbackServer) -> None:
    error = outcome(server, answer(b"Content-Length: 21, 22", status=b"HTTP/1.1 204 No Content"))
    assert type(error) is aichat.AichatResponseError
    assert "answered with broken framing: two lengths" in str(error)


def test_a_204_that_announces_a_body_costs_its_connection(server: LoopbackServer) -> None:
    """RFC 9112 forbids Content-Length in a 204: the body it announces may follow, so the
    connection is not used again (the server here keeps it open, the body sent after the
    head)."""
    server.script(Reply(204, REPLY))  # fake_site adds the Content-Length of the body it sends
    with pytest.raises(aichat.AichatResponseError, match="answered 204 with an empty body"):
        aichat.complete(HELLO, base_url=server.base_url)
    assert aichat.complete(HELLO, base_url=server.base_url) == "echo: user: Hello\nassistant:"
    assert server.connections == 2


# --- the bound of a line holds while the server keeps sending it -------------------------------

# A line the server goes on sending (no line end within 4097 bytes) on a connection it keeps
# open for longer than the call's timeout: refused once 4097 bytes of it have come, not read
# until the server stops.
ENDLESS = b"K" * (LINE + 100)
HELD = 30.0  # seconds the server holds the connection after what it sent
CALL_TIMEOUT = 8.0


@pytest.mark.parametrize(("raw", "kind", "fault"), [
    (b"HTTP/1.1 200 " + ENDLESS, aichat.AichatConnectionError,
     f"a status line longer than {LINE} bytes"),
    (answer(b"Transfer-Encoding: chunked", body=SIZE + b";pad=" + ENDLESS),
     aichat.AichatResponseError, f"a chunk-size line longer than {LINE} bytes"),
    (chunked(SIZE, REPLY, b"0") + b"X-T: " + ENDLESS, aichat.AichatResponseError,
     f"a trailer line longer than {LINE} bytes"),
], ids=["status-line", "chunk-size-line", "trailer-line"])
def test_a_line_past_its_bound_is_refused_while_the_server_holds_the_connection(
        server: LoopbackServer, raw: bytes, kind: type[aichat.AichatError], fault: str) -> None:
    server.script(Reply.raw_bytes(raw, linger=HELD))
    with pytest.raises(aichat.AichatError) as caught:
        aichat.complete(HELLO, base_url=server.base_url, max_retries=0, timeout=CALL_TIMEOUT)
    assert type(caught.value) is kind, caught.value
    assert fault in str(caught.value)


def test_a_status_line_that_is_not_http_1_is_named_in_the_error(server: LoopbackServer) -> None:
    error = outcome(server, answer(b"Content-Length: 21", status=b"HTTP/2.0 200 OK"))
    assert type(error) is aichat.AichatConnectionError
    assert "HTTP/2.0 200 OK" in str(error)


# --- the connection after an answer without a body (RFC 9112 9.3, 9.6; docs/provider.md) -------

SECOND = "echo: user: Hello\nassistant:"  # what the stand-in answers the next request


def after(server: LoopbackServer, raw: bytes, error: type[aichat.AichatError]) -> int:
    """The connections two calls took: the first answered ``raw`` by a server that keeps the
    connection open after it, the second answered as usual."""
    server.script(Reply.raw_bytes(raw, keep=True))
    with pytest.raises(error):
        aichat.complete(HELLO, base_url=server.base_url, max_retries=0)
    assert aichat.complete(HELLO, base_url=server.base_url, max_retries=0) == SECOND
    return server.connections


def test_a_204_without_framing_fields_keeps_its_connection(server: LoopbackServer) -> None:
    assert after(server, answer(status=b"HTTP/1.1 204 No Content", body=b""),
                 aichat.AichatResponseError) == 1


def test_a_304_with_a_content_length_keeps_its_connection(server: LoopbackServer) -> None:
    """A 304's Content-Length describes the representation it stands for, not a body."""
    assert after(server, answer(b"Content-Length: 21", status=b"HTTP/1.1 304 Not Modified",
                                body=b""), aichat.AichatHTTPError) == 1


def test_a_204_announced_as_chunked_costs_its_connection(server: LoopbackServer) -> None:
    raw = answer(b"Transfer-Encoding: chunked", status=b"HTTP/1.1 204 No Content",
                 body=SIZE + b"\r\n" + REPLY + b"\r\n0\r\n\r\n")
    assert after(server, raw, aichat.AichatResponseError) == 2


def test_a_204_that_says_connection_close_costs_its_connection(server: LoopbackServer) -> None:
    """The server here keeps the connection open all the same: the client does not use it."""
    raw = answer(b"Connection: close", status=b"HTTP/1.1 204 No Content", body=b"")
    assert after(server, raw, aichat.AichatResponseError) == 2


def test_a_101_without_framing_fields_costs_its_connection(server: LoopbackServer) -> None:
    raw = answer(b"Upgrade: h2c", b"Connection: Upgrade",
                 status=b"HTTP/1.1 101 Switching Protocols", body=b"")
    assert after(server, raw, aichat.AichatHTTPError) == 2
