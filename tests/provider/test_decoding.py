"""Content codings the provider decodes itself (gzip, x-gzip, deflate in both forms, br, and
lists of them), with fixed examples of the cases a server may send: several gzip members,
trailing garbage, a body longer than one read, a body too short to tell its kind, a broken or
truncated one. Answers come from `responses` (no socket), so each example takes milliseconds.
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from typing import Any

import brotli
import pytest
import requests
import responses

import aichat
from aichat import Aichat
from support.expected import BASE_URL_ENV

BASE = "http://site.invalid"
URL = BASE + "/api/text"
HI = [{"role": "user", "content": "Hi"}]
REPLY = json.dumps({"message": "decoded"}).encode()


@pytest.fixture(autouse=True)
def _no_ambient_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BASE_URL_ENV, raising=False)


def call(body: bytes, coding: str | None, content_type: str = "application/json",
         **kwargs: Any) -> str | Aichat.AichatError:
    headers = {"Content-Encoding": coding} if coding is not None else {}
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, URL, body=body, headers=headers, content_type=content_type)
        try:
            return aichat.complete(HI, base_url=BASE, **kwargs)
        except Aichat.AichatError as error:
            return error


def zlib_deflate(data: bytes) -> bytes:
    return zlib.compress(data)


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def test_every_coding_the_provider_decodes() -> None:
    for coding, body in [("gzip", gzip.compress(REPLY)), ("x-gzip", gzip.compress(REPLY)),
                         ("GZIP", gzip.compress(REPLY)), ("deflate", zlib_deflate(REPLY)),
                         ("deflate", raw_deflate(REPLY)), ("br", brotli.compress(REPLY)),
                         ("identity", REPLY), ("", REPLY), (" gzip ", gzip.compress(REPLY))]:
        assert call(body, coding) == "decoded", coding


def test_a_list_of_codings_is_undone_last_first() -> None:
    body = gzip.compress(zlib_deflate(REPLY))
    assert call(body, "deflate, gzip") == "decoded"
    assert call(brotli.compress(gzip.compress(REPLY)), "gzip,br") == "decoded"
    assert call(gzip.compress(REPLY), "identity, gzip, identity") == "decoded"


def test_a_coding_left_to_urllib3() -> None:
    # Not one the provider decodes: urllib3 reads it (an unknown coding passes through as is).
    assert call(REPLY, "x-unknown") == "decoded"


def test_several_gzip_members_are_one_body() -> None:
    head, tail = REPLY[:7], REPLY[7:]
    assert call(gzip.compress(head) + gzip.compress(tail), "gzip") == "decoded"
    assert call(gzip.compress(head) + gzip.compress(b"") + gzip.compress(tail),
                "gzip") == "decoded"


@pytest.mark.parametrize("trailer", [b"garbage", b"\x00" * 8, b"\x1f\x8b\x08garbage"])
def test_garbage_after_a_gzip_member_is_ignored(trailer: bytes) -> None:
    assert call(gzip.compress(REPLY) + trailer, "gzip") == "decoded"


@pytest.mark.parametrize("deflate", [zlib_deflate, raw_deflate], ids=["zlib", "raw"])
def test_what_follows_a_deflate_stream_is_ignored_even_a_gzip_member(deflate: Any) -> None:
    assert call(deflate(REPLY) + b"garbage", "deflate") == "decoded"
    assert call(deflate(REPLY) + gzip.compress(b"more"), "deflate") == "decoded"


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw-deflate", "br"])
def test_a_body_longer_than_one_read(coding: str) -> None:
    text = os.urandom(150_000).hex()  # hardly compressible: several reads of compressed data
    reply = json.dumps({"message": text}).encode()
    body = {"gzip": gzip.compress, "deflate": zlib_deflate, "raw-deflate": raw_deflate,
            "br": brotli.compress}[coding](reply)
    assert len(body) > 2 * 64 * 1024
    sent_as = "deflate" if coding == "raw-deflate" else coding
    assert call(body, sent_as) == text


# Ids without a backslash (see test_html_detection_examples). No deflate stream is shorter
# than two bytes (RFC 1951: the least is an empty fixed block, 03 00), so a body of one is cut
# short whatever it holds, and reads as nothing, as urllib3 reads it: 07 starts a block of
# the reserved type 3, which a longer body would have refused as undecodable.
@pytest.mark.parametrize("body", [b"", b"\x03", b"\x78", b"\x07"],
                         ids=lambda body: body.hex() or "empty")
def test_a_deflate_body_too_short_to_tell_its_kind_is_empty(body: bytes) -> None:
    outcome = call(body, "deflate")
    assert type(outcome) is Aichat.AichatResponseError
    assert "answered 200 with an empty body" in str(outcome)


@pytest.mark.parametrize(("coding", "body", "named"), [
    ("gzip", b"not gzip at all", "gzip: "),
    ("x-gzip", b"\x1f\x8b\x08\x00garbage-garbage", "gzip: "),
    ("deflate", b"\xff\xff\xff\xff not deflate", "deflate: "),
    # Two bytes tell zlib from raw deflate: 07 starts a raw block of the reserved type 3.
    ("deflate", b"\x07\x00", "deflate: "),
    ("br", b"not brotli at all", "br: "),
], ids=["gzip", "x-gzip", "deflate", "deflate-two-bytes", "br"])
def test_a_body_that_cannot_be_decoded_names_its_coding(coding: str, body: bytes,
                                                        named: str) -> None:
    outcome = call(body, coding)
    assert type(outcome) is Aichat.AichatResponseError
    assert "answered a body that cannot be decoded (error: " in str(outcome)
    # The message gives the library's own reason; the error it wraps names the coding too.
    assert isinstance(outcome.__cause__, requests.exceptions.ContentDecodingError)
    assert str(outcome.__cause__).startswith(named)


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br"])
def test_a_truncated_body_is_a_response_error(coding: str) -> None:
    body = {"gzip": gzip.compress, "deflate": zlib_deflate, "br": brotli.compress}[coding](
        REPLY * 50)
    outcome = call(body[:len(body) // 2], coding)
    assert type(outcome) is Aichat.AichatResponseError


@pytest.mark.parametrize(("head", "zlib_wrapped"), [
    (b"\x78\x9c", True),  # RFC 1950: deflate, 32 KiB window, default level
    (b"\x78\x01", True),  # the lowest level (FLG bit 0 set, FDICT clear)
    (b"\x78\xda", True),  # the best level
    (b"\x08\x1d", True),  # a 256-byte window (CINFO 0)
    (b"\x68\x81", True),  # a 16 KiB window
    (b"\x88\x98", False),  # CINFO 8: a window over 32 KiB is not zlib
    (b"\x98\x10", False),  # CINFO 9
    (b"\x78\xbb", False),  # FDICT set: a preset dictionary, not for HTTP
    (b"\x78\x9d", False),  # the check bits do not add up
    (b"\x79\x9c", False),  # a method other than deflate (8)
    (b"\x7f\x9c", False),
], ids=lambda value: value.hex() if isinstance(value, bytes) else str(value))
def test_a_zlib_header_is_told_from_raw_deflate(head: bytes, zlib_wrapped: bool) -> None:
    assert Aichat._zlib_header(head) is zlib_wrapped


def test_br_without_an_output_limit_decodes_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """A brotli library older than 1.2 (no output limit) is fed in small steps instead."""
    reply = json.dumps({"message": "x" * 1000 + os.urandom(100).hex()}).encode()
    decoder = Aichat._BrotliDecoder()
    decoder._bounded = False
    body = brotli.compress(reply)
    assert b"".join(decoder.decode(body[:5])) + b"".join(decoder.decode(body[5:])) == reply
    with pytest.raises(Exception, match="br: "):
        list(Aichat._BrotliDecoder().decode(b"not brotli at all"))


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw-deflate", "br"])
def test_a_bomb_comes_out_in_pieces_of_at_most_one_read(coding: str) -> None:
    """docs/provider.md: memory stays near the limit whatever the server sends, so the decoders hand
    out what they make about a read's worth (64 KiB) at a time, never a whole bomb at once."""
    zeros = bytes(8 * 1024 * 1024)
    body = {"gzip": gzip.compress, "deflate": zlib_deflate, "raw-deflate": raw_deflate,
            "br": brotli.compress}[coding](zeros)
    decoder = (Aichat._BrotliDecoder() if coding == "br"
               else Aichat._ZlibDecoder(gzip=coding == "gzip"))
    pieces = [*decoder.decode(body[:len(body) // 2]), *decoder.decode(body[len(body) // 2:])]
    assert b"".join(pieces) == zeros
    # brotli's output limit is a target, not a ceiling: its ring buffer may add a little.
    assert max(map(len, pieces)) <= (2 if coding == "br" else 1) * 64 * 1024


@pytest.mark.parametrize("deflate", [zlib_deflate, raw_deflate], ids=["zlib", "raw"])
def test_a_deflate_body_in_pieces_of_one_byte(deflate: Any) -> None:
    """A server may flush a body a byte at a time: the first bytes wait until they tell zlib
    from raw deflate, and none is lost."""
    decoder = Aichat._ZlibDecoder(gzip=False)
    out = b"".join(piece for byte in deflate(REPLY) for piece in decoder.decode(bytes([byte])))
    assert out == REPLY


# RFC 9110 (5.6.6, 8.3.1): parameters follow ';' with or without white space, a parameter's
# name is case-insensitive and its value a token or a quoted string.
@pytest.mark.parametrize("content_type", [
    "application/json; charset=ISO-8859-1",
    "application/json;charset=ISO-8859-1",
    'application/json; charset="ISO-8859-1"',
    "application/json; CHARSET=iso-8859-1",
    "application/json; format=compact; charset=ISO-8859-1",
])
def test_the_charset_an_answer_names_is_read_in_every_form(content_type: str) -> None:
    body = '{"message": "caf\xe9"}'.encode("latin-1")
    assert call(body, None, content_type) == "caf\xe9"


# --- charsets the body cannot be read in (docs/provider.md, Charsets) ----------------------------

URL_SHOWN = URL  # the base has no credentials: the message shows it as it is
WHAT_TO_DO = "; the site changed or is failing, try again later"


@pytest.mark.parametrize(("charset", "why"), [
    ("nonsense", "which names no known character encoding"),
    ("utf8mb4", "which names no known character encoding"),  # a database's name, not a codec's
    ("utf-8\x00", "which names no known character encoding"),
    ("idna", "which is not a character encoding"),
    ("punycode", "which is not a character encoding"),
    ("unicode_escape", "which is not a character encoding"),
    ("raw_unicode_escape", "which is not a character encoding"),
    ("undefined", "which is not a character encoding"),
    ("base64", "which is not a character encoding"),
    ("rot13", "which is not a character encoding"),
    ("zlib", "which is not a character encoding"),
])
def test_an_answer_in_an_unknown_or_unusable_charset_is_a_response_error(charset: str,
                                                                       why: str) -> None:
    outcome = call(REPLY, None, f"application/json; charset={charset}")
    assert type(outcome) is Aichat.AichatResponseError
    assert str(outcome) == (f"POST {URL_SHOWN} answered 200 with a body labelled "
                            f"charset={charset!r}, {why}{WHAT_TO_DO}")


# The byte where decoding fails: the 37th of 37 bytes of UTF-16 (an odd one out), the 14th of
# the others (after '{"message": "').
@pytest.mark.parametrize(("body", "content_type", "why"), [
    ('{"message": "odd"}'.encode("utf-16")[:-1], "application/json; charset=utf-16",
     "that is not utf-16 text (truncated data at byte 36)"),
    (b'{"message": "\xff"}', "application/json",
     "that is not UTF-8 text (invalid start byte at byte 13)"),
    (b'{"message": "\xc3"}', "",
     "that is not UTF-8 text (invalid continuation byte at byte 13)"),
    (b'{"message": "\xe9"}', "application/json; charset=utf-8",
     "that is not utf-8 text (invalid continuation byte at byte 13)"),
], ids=["utf-16-odd-bytes", "not-utf-8", "not-utf-8-untyped", "not-the-named-utf-8"])
def test_a_body_that_is_not_text_in_its_charset_is_a_response_error(
        body: bytes, content_type: str, why: str) -> None:
    outcome = call(body, None, content_type)
    assert type(outcome) is Aichat.AichatResponseError
    assert str(outcome) == f"POST {URL_SHOWN} answered 200 with a body {why}{WHAT_TO_DO}"


def test_a_body_in_utf_16_is_read() -> None:
    assert call('{"message": "\u00e9t\u00e9"}'.encode("utf-16"), None,
                "application/json; charset=utf-16") == "\u00e9t\u00e9"


@pytest.mark.parametrize("charset", ["nonsense", "idna", "utf-16"])
def test_other_statuses_keep_their_own_error_whatever_the_charset(charset: str) -> None:
    """docs/provider.md: the status says what happened; the charset matters where the JSON is
    wanted."""
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, URL, status=500, body=b"Internal Server Error!",
                 content_type=f"text/plain; charset={charset}")
        mock.add(responses.POST, URL, status=200, body=b"<html><body>wall</body></html>",
                 content_type=f"text/html; charset={charset}")
        with pytest.raises(Aichat.AichatHTTPError) as failed:
            aichat.complete(HI, base_url=BASE, max_retries=0)
        with pytest.raises(Aichat.AichatBlockedError):
            aichat.complete(HI, base_url=BASE, max_retries=0)
    assert failed.value.status_code == 500
    assert failed.value.body  # an excerpt, with what cannot be decoded replaced


def test_another_status_reads_its_excerpt_in_its_own_charset_with_what_cannot_be_replaced(
        ) -> None:
    """docs/provider.md, Charsets: other statuses keep their own error, the body's excerpt
    read (in its charset) with what cannot be decoded replaced: here UTF-16 ending in half a
    character."""
    body = "Überlastet".encode("utf-16-le") + b"\x00"
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, URL, status=503, body=body,
                 content_type="text/plain; charset=utf-16-le")
        with pytest.raises(Aichat.AichatHTTPError) as failed:
            aichat.complete(HI, base_url=BASE, max_retries=0)
    assert failed.value.body == "Überlastet\ufffd"


def test_a_body_that_is_not_text_in_its_charset_names_the_url_on_the_error() -> None:
    """docs/provider.md, Errors: every AichatError has ``.url``."""
    outcome = call(b'{"message": "\xff"}', None)
    assert type(outcome) is Aichat.AichatResponseError
    assert outcome.url == URL_SHOWN


def test_a_charset_parameter_without_a_value_names_no_charset() -> None:
    """docs/provider.md, Charsets: a body is read in the charset its Content-Type names, else
    in UTF-8; ``charset`` alone names none (requests up to 2.32 failed on it)."""
    assert call(REPLY, None, "application/json; charset") == "decoded"
    assert call(REPLY, None, "application/json; CHARSET ; x=1") == "decoded"
