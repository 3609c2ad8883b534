"""Hypothesis-made traffic against the live mock over real HTTP: any body, content type,
method, path, query and header value. The mock never answers 5xx (no fault that would is
queued here), refuses bad input to ``/api/text`` in docs/mock-server.md's JSON shape, journals every
request outside ``/__mock__/`` exactly once and admin traffic never; the admin API answers
bad input with a 4xx JSON message and queues nothing by halves. Then a few fixed abuses no
client library would commit, over raw sockets.
"""

from __future__ import annotations

import json
import re
import socket
import string
import struct
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, unquote_to_bytes

import pytest
import requests
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mock_server.testing.child_process import MockProcess
from mock_server.testing.remote import RemoteMock
from mock_server.testing.thread_server import LiveServer
from support.contract_data import (
    MAX_BODY,
    depth,
    expected_statuses,
    is_refusal,
    strict_json,
    wire_text,
)
from support.raw_client import connect, exchange, parse_response, read_all, request_bytes, session

BODY_CAP = 65_536  # characters of a body the journal keeps by default
ADMIN = "/__mock__"
# Bodies nested up to here are journaled parsed, whatever the mock does with deeper ones.
JSON_DEPTH_KEPT = 100
PARAMETERS = ("temperature", "presence_penalty", "top_p", "frequency_penalty")

# Every test clears the journal once (the remote_mock fixture) and each example then compares
# the journal before and after its own request, so the function-scoped fixtures are meant to
# span the examples. Derandomized, without a database: CI runs the same examples every time.
FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@pytest.fixture
def client() -> Iterator[requests.Session]:
    with session() as client:
        yield client


# --- the journal ---------------------------------------------------------------------------

def last_entry(mock: RemoteMock) -> tuple[int, int | None]:
    """``(total, id of the newest entry)``, from one admin call that is itself not journaled."""
    journal = mock.journal(limit=1)
    newest = journal["requests"][-1]["id"] if journal["requests"] else None
    return journal["total"], newest


def the_one_new_entry(mock: RemoteMock, before: tuple[int, int | None]) -> dict[str, Any]:
    """The single entry recorded since ``before``; fails if there are none or several."""
    total, newest = before
    journal = mock.journal(limit=2)
    assert journal["total"] == total + 1, f"{journal['total'] - total} entries for one request"
    entry: dict[str, Any] = journal["requests"][-1]
    assert newest is None or entry["id"] > newest
    if newest is not None:
        assert journal["requests"][0]["id"] == newest, "nothing else was recorded"
    return entry


def assert_nothing_journaled(mock: RemoteMock, before: tuple[int, int | None]) -> None:
    assert last_entry(mock) == before, "admin traffic is not journaled"


def assert_journaled_body(entry: dict[str, Any], body: bytes) -> None:
    assert entry["body_size"] == len(body)
    assert entry["body"] == body.decode("utf-8", errors="replace")[:BODY_CAP]


# --- strategies ----------------------------------------------------------------------------

# Any code point, lone surrogates included (they reach the wire escaped, or as invalid UTF-8).
CHARACTERS = st.characters() | st.characters(categories=["Cs"])
TEXT = st.text(CHARACTERS, max_size=20)
HUGE_NUMBERS = st.sampled_from(["1e400", "-1e400", "1E+999", "2" * 400, "-" + "9" * 5000,
                                "1e-400", "0.0000000000000000000001e-330"])
JSON_LEAVES = (st.none() | st.booleans() | st.integers() | st.integers(min_value=10**300)
               | st.floats() | TEXT)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=12)
PROMPTS = TEXT.map(lambda text: f"user: {text}\nassistant:")
# Objects shaped like the contract's body, with values of any type or range.
CONTRACT_SHAPED = st.fixed_dictionaries(
    {"message": PROMPTS | JSON_VALUES},
    optional={name: st.integers(-3, 3) | st.floats() | JSON_VALUES for name in PARAMETERS}
    | {"extra": JSON_VALUES})


def _encode(value: Any, ascii_only: bool) -> bytes:
    """JSON text as a careless client writes it: NaN and Infinity literals allowed, and lone
    surrogates either escaped or sent as the (invalid) UTF-8 they would be."""
    return json.dumps(value, ensure_ascii=ascii_only, allow_nan=True).encode(
        "utf-8", errors="surrogatepass")


def _nested(depth: int, opener: str) -> bytes:
    closer = {"[": "]", "{\"a\":": "}"}[opener]
    return ('{"message": "user: deep\\nassistant:", "x": ' + opener * depth + "1"
            + closer * depth + "}").encode()


def _number_in_body(token: str, field: str) -> bytes:
    return f'{{"message": "user: n\\nassistant:", "{field}": {token}}}'.encode()


BODIES = st.one_of(
    st.binary(max_size=300),
    st.builds(_encode, JSON_VALUES, st.booleans()),
    st.builds(_encode, CONTRACT_SHAPED, st.booleans()),
    st.builds(_nested, st.integers(1, 3000), st.sampled_from(["[", "{\"a\":"])),
    st.builds(_number_in_body, HUGE_NUMBERS | st.sampled_from(["NaN", "Infinity", "-Infinity"]),
              st.sampled_from([*PARAMETERS, "extra"])),
    st.sampled_from([b"", b"null", b"[]", b"{}", b'"text"', b"NaN", b"-Infinity", b"1e400",
                     b'{"message": "\\ud800"}', b'{"message": "user: \\udfff\\nassistant:"}',
                     b'{"message": "user: a\\u0000b\\nassistant:"}', b"\xef\xbb\xbf{}",
                     b'{"message": "x"}garbage', b'{"message": "x", "message": 1}']),
)
CONTENT_TYPES = st.none() | st.sampled_from([
    "application/json", "application/json; charset=utf-8", "text/plain", "text/html",
    "application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz",
    "multipart/form-data", "application/octet-stream", "*/*", ";;;", "application/json;=",
]) | st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e), max_size=40)
HEADER_NAMES = st.from_regex(r"X-[A-Za-z0-9-]{1,20}", fullmatch=True)
# A field value as HTTP/1.1 allows it (RFC 9110: visible characters, spaces and tabs inside,
# obs-text bytes 0x80-0xff); no leading or trailing whitespace, which servers strip.
HEADER_VALUES = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xff,
                                      exclude_characters="\x7f") | st.just("\t"),
                        max_size=40).map(lambda value: value.strip(" \t"))


# --- POST /api/text with any body ----------------------------------------------------------

@FUZZ
@given(body=BODIES, content_type=CONTENT_TYPES,
       extra=st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=3))
def test_any_body_to_the_api(remote_mock: RemoteMock, client: requests.Session, body: bytes,
                             content_type: str | None, extra: dict[str, str]) -> None:
    headers = {name: value.encode("latin-1") for name, value in extra.items()}
    if content_type is not None:
        headers["Content-Type"] = content_type.encode("latin-1")
    before = last_entry(remote_mock)
    response = client.post(remote_mock.url_for("/api/text"), data=body, headers=headers,
                           timeout=30)

    status = response.status_code
    event(f"status {status}")
    assert status in expected_statuses("POST", body), (body[:200], response.text[:300])
    assert response.headers["Content-Type"] == "application/json"
    answer = response.json()
    if status == 200:
        assert answer["response"] is True and answer["message"].startswith("You said: ")
    else:
        assert is_refusal(answer), answer

    entry = the_one_new_entry(remote_mock, before)
    assert (entry["method"], entry["path"], entry["status"]) == ("POST", "/api/text", status)
    assert entry["reply"] == answer
    assert_journaled_body(entry, body)
    if status == 200:
        parsed = strict_json(body)
        assert entry["violations"] == []
        # A pathologically deep body may be kept as text only; any ordinary one is parsed.
        assert entry["json"] == parsed or (depth(parsed) > JSON_DEPTH_KEPT
                                           and entry["json"] is None)
    else:
        assert entry["violations"] and all(isinstance(v, str) for v in entry["violations"])
    for name, value in headers.items():
        assert entry["headers"][name.lower()] == wire_text(value)


# --- any method, path and query outside the admin API --------------------------------------

SAFE_PATH = string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@"
SEGMENTS = st.text(CHARACTERS, max_size=8).map(
    lambda text: quote(text.encode("utf-8", "surrogatepass"), safe=SAFE_PATH))
PATHS = st.one_of(
    st.just("/api/text"),
    st.just("/chat"),
    st.lists(SEGMENTS, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts)),
    st.sampled_from(["/", "/api/text", "/chat", "//api/text", "/api/text/", "/chat/",
                     "/API/TEXT", "/api/text%00", "/%ff%fe", "/api%2Ftext", "/__mock__x",
                     "/__mock", "/%5F_mock__x", "/api/text/..", "/./chat", "/%2e%2e/chat",
                     "/static/x", "/favicon.ico", "/" + "a" * 2000]),
)
QUERIES = st.one_of(
    st.just(""),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e, exclude_characters="#"),
            max_size=60),
    st.dictionaries(TEXT, TEXT, max_size=3).map(
        lambda pairs: "&".join(quote(key.encode("utf-8", "surrogatepass"), safe="") + "="
                               + quote(value.encode("utf-8", "surrogatepass"), safe="")
                               for key, value in pairs.items())),
)
STANDARD_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]
METHODS = st.sampled_from(STANDARD_METHODS) | st.from_regex(r"[A-Z]{3,20}", fullmatch=True)


def decoded(path: str) -> str:
    """The path as the mock journals it: percent-decoded, then read as UTF-8 when it is."""
    return wire_text(unquote_to_bytes(path))


def is_admin(path: str) -> bool:
    return path == ADMIN or path.startswith(ADMIN + "/")


def site_statuses(method: str, path: str, body: bytes) -> set[int]:
    """docs/mock-server.md's answers of the site (no reply queued) to ``method path``."""
    if path == "/api/text":
        return expected_statuses(method, body)
    if path == "/chat":
        return {200} if method in ("GET", "HEAD") else {405}
    return {404}


@FUZZ
@given(method=METHODS, path=PATHS, query=QUERIES,
       body=st.sampled_from([b"", b'{"message": "user: hi\\nassistant:"}', b"\x00\xff"]))
def test_any_request_outside_the_admin_api_is_journaled_once(
        remote_mock: RemoteMock, method: str, path: str, query: str, body: bytes) -> None:
    target = path + ("?" + query if query else "")
    reading = decoded(path)
    if is_admin(reading):
        return  # the admin API has its own test
    before = last_entry(remote_mock)
    # Raw bytes on the wire: no client library normalises the path or the method.
    url = remote_mock.base_url
    raw = exchange(url, request_bytes(method, target, url, body=body))
    response = parse_response(raw)

    status = response.status
    event(f"status {status}")
    assert status in site_statuses(method, reading, body), (method, target, raw[:300])
    if method != "HEAD" and status != 200:
        assert response.headers["content-type"] == "application/json"
        assert is_refusal(response.json()), response.body[:300]
    if status == 405:
        assert response.headers["allow"] in ("POST", "GET, HEAD")

    entry = the_one_new_entry(remote_mock, before)
    assert (entry["method"], entry["path"], entry["status"]) == (method, reading, status)
    assert entry["query"] == query
    assert_journaled_body(entry, body)


# Methods gunicorn would turn away by default with an HTML 400 of its own (lower case, shorter
# than 3 or longer than 20 characters, or holding "#"), and httptools' parser (the mock's own
# server) with an error (any method it does not know).
UNCONVENTIONAL_METHODS = ("post", "get", "Post", "X", "GO", "A" * 21, "PROP#FIND")


@pytest.mark.parametrize("method", ["M-SEARCH", "BREW", "PROPFIND", "A" * 20,
                                    *UNCONVENTIONAL_METHODS])
def test_any_token_is_a_method_the_mock_answers(remote_mock: RemoteMock, method: str) -> None:
    """HTTP methods are case-sensitive tokens of any length (RFC 9110 9.1): "post" is not
    POST, and it gets the 405 and the journal entry any other method gets."""
    before = last_entry(remote_mock)
    raw = exchange(remote_mock.base_url, request_bytes(method, "/api/text", remote_mock.base_url))
    response = parse_response(raw)
    assert response.status == 405, raw[:300]
    assert is_refusal(response.json()) and response.headers["allow"] == "POST"
    entry = the_one_new_entry(remote_mock, before)
    assert (entry["method"], entry["status"]) == (method, 405)


@pytest.mark.parametrize(("method", "path"), [
    ("delete", "/requests"), ("Delete", "/replies"), ("get", "/health"), ("post", "/replies")])
def test_the_admin_api_takes_methods_as_sent(remote_mock: RemoteMock, method: str,
                                             path: str) -> None:
    """"delete" is not DELETE: it empties nothing and gets the admin API's 405."""
    remote_mock.queue({"message": "kept"})
    exchange(remote_mock.base_url, request_bytes("GET", "/nowhere", remote_mock.base_url))
    before = last_entry(remote_mock)
    raw = exchange(remote_mock.base_url, request_bytes(
        method, ADMIN + path, remote_mock.base_url, body=b'{"message": "x"}',
        headers=[("Content-Type", "application/json")]))
    response = parse_response(raw)
    assert response.status == 405, raw[:300]
    assert method.upper() in response.headers["allow"]
    assert isinstance(response.json()["error"], str)
    assert_nothing_journaled(remote_mock, before)
    assert [reply["message"] for reply in remote_mock.queued] == ["kept"]


@pytest.mark.parametrize("server", ["gunicorn", "gevent"])
def test_gunicorn_takes_any_method_token_too(server: str) -> None:
    """gunicorn (gthread or gevent workers) gets the settings that let any method through."""
    with MockProcess(["--server", server, "--threads", "2"]) as process:
        mock = process.mock
        try:
            for method in UNCONVENTIONAL_METHODS:
                before = last_entry(mock)
                raw = exchange(mock.base_url, request_bytes(method, "/api/text", mock.base_url))
                assert parse_response(raw).status == 405, raw[:300]
                entry = the_one_new_entry(mock, before)
                assert (entry["method"], entry["status"]) == (method, 405)
            # Case-sensitive: "get" on the chat page is not GET either.
            raw = exchange(mock.base_url, request_bytes("get", "/chat", mock.base_url))
            assert parse_response(raw).status == 405, raw[:300]
        finally:
            mock.close()
    assert process.returncode == 0


# --- the admin API: never journaled, never a 5xx -------------------------------------------

ADMIN_PATHS = st.one_of(
    st.sampled_from(["", "/", "/health", "/requests", "/replies", "/static/inspector.js",
                     "/static/nothing", "/nothing", "/requests/1", "/health/"]),
    st.lists(SEGMENTS, min_size=1, max_size=3).map(lambda parts: "/" + "/".join(parts)),
).map(lambda rest: ADMIN + rest)
# Calls that change the mock's state are the subject of the tests below, not of this one.
STATEFUL_ADMIN = {("DELETE", ADMIN + "/requests"), ("DELETE", ADMIN + "/replies"),
                  ("POST", ADMIN + "/replies")}


@FUZZ
@given(method=METHODS, path=ADMIN_PATHS, query=QUERIES)
def test_the_admin_api_is_never_journaled_and_never_fails(
        remote_mock: RemoteMock, method: str, path: str, query: str) -> None:
    if (method, decoded(path)) in STATEFUL_ADMIN:
        return
    before = last_entry(remote_mock)
    target = path + ("?" + query if query else "")
    raw = exchange(remote_mock.base_url, request_bytes(method, target, remote_mock.base_url))
    response = parse_response(raw)
    event(f"status {response.status}")
    assert response.status < 500, (method, target, raw[:300])
    if response.status >= 400 and method != "HEAD":
        assert response.headers["content-type"] == "application/json"
        error = response.json()["error"]
        assert isinstance(error, str) and error
    assert_nothing_journaled(remote_mock, before)
    assert remote_mock.queued == []


# --- POST /__mock__/replies with bad input -------------------------------------------------

BAD_REPLIES: list[tuple[str, bytes, str]] = [
    ("not JSON", b"{not json", "application/json"),
    ("truncated JSON", b'{"message": "x"', "application/json"),
    ("not UTF-8", b'{"message": "\xff"}', "application/json"),
    ("NaN", b'{"delay_ms": NaN}', "application/json"),
    ("Infinity", b'{"times": Infinity}', "application/json"),
    ("a number", b"42", "application/json"),
    ("a string", b'"cloudflare"', "application/json"),
    ("null", b"null", "application/json"),
    ("empty body", b"", "application/json"),
    ("deeply nested", b"[" * 100_000 + b"]" * 100_000, "application/json"),
    ("form data", b"fault=cloudflare", "application/x-www-form-urlencoded"),
    ("plain text", b'{"fault": "cloudflare"}', "text/plain"),
    ("no content type", b'{"fault": "cloudflare"}', ""),
]
BAD_FIELDS: list[tuple[str, Any]] = [
    ("unknown field", {"mesage": "typo"}),
    ("unknown fault", {"fault": "meltdown"}),
    ("fault of the wrong type", {"fault": 403}),
    ("fault in the wrong case", {"fault": "CLOUDFLARE"}),
    ("message not a string", {"message": 42}),
    ("message an object", {"message": {"text": "hi"}}),
    ("status a string", {"status": "200"}),
    ("status with a fraction", {"status": 200.5}),
    ("status a boolean", {"status": True}),
    ("status below 200", {"status": 99}),
    ("status above 599", {"status": 600}),
    ("status huge", {"status": 10**30}),
    ("status negative", {"status": -200}),
    ("response a string", {"response": "true"}),
    ("negative delay", {"delay_ms": -1}),
    ("delay huge", {"delay_ms": 10**12}),
    ("delay a string", {"delay_ms": "10"}),
    ("delay a boolean", {"delay_ms": True}),
    ("times zero", {"times": 0}),
    ("negative times", {"times": -5}),
    ("times a float", {"times": 1.5}),
    ("times huge", {"times": 10**30}),
    ("times a string", {"times": "2"}),
    ("retry_after negative", {"retry_after": -1}),
    ("retry_after a float", {"retry_after": 1.5}),
    ("retry_after with a newline", {"retry_after": "1\r\nX-Injected: yes"}),
    ("retry_after empty", {"retry_after": ""}),
    ("retry_after huge", {"retry_after": "9" * 1000}),
    ("a list of numbers", [1, 2, 3]),
    ("a list holding a list", [[{"message": "x"}]]),
    ("a good reply, then a bad one", [{"message": "fine"}, {"times": -1}]),
    ("many good replies, then a bad one", [{"message": str(n)} for n in range(50)] + [{"x": 1}]),
]


def _queue_raw(client: requests.Session, mock: RemoteMock, body: bytes,
               content_type: str) -> requests.Response:
    headers = {"Content-Type": content_type} if content_type else {}
    request = requests.Request("POST", mock.url_for(ADMIN + "/replies"), data=body,
                               headers=headers).prepare()
    if not content_type:
        request.headers.pop("Content-Type", None)
    return client.send(request, timeout=30)


def assert_refused_cleanly(mock: RemoteMock, response: requests.Response,
                           before: tuple[int, int | None]) -> None:
    assert 400 <= response.status_code < 500, response.text[:300]
    assert response.headers["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert isinstance(error, str) and len(error) > 10, error
    assert mock.queued == [], "nothing was queued"
    assert_nothing_journaled(mock, before)


@pytest.mark.parametrize(("body", "content_type"),
                         [(body, content_type) for _, body, content_type in BAD_REPLIES],
                         ids=[name for name, _, _ in BAD_REPLIES])
def test_replies_refuse_a_bad_body(remote_mock: RemoteMock, client: requests.Session,
                                   body: bytes, content_type: str) -> None:
    before = last_entry(remote_mock)
    response = _queue_raw(client, remote_mock, body, content_type)
    assert_refused_cleanly(remote_mock, response, before)


@pytest.mark.parametrize("payload", [payload for _, payload in BAD_FIELDS],
                         ids=[name for name, _ in BAD_FIELDS])
def test_replies_refuse_a_bad_field(remote_mock: RemoteMock, client: requests.Session,
                                    payload: Any) -> None:
    before = last_entry(remote_mock)
    response = client.post(remote_mock.url_for(ADMIN + "/replies"), json=payload, timeout=30)
    assert_refused_cleanly(remote_mock, response, before)
    # The site still answers as if nothing had been queued.
    answer = client.post(remote_mock.url_for("/api/text"),
                         json={"message": "user: after\nassistant:"}, timeout=30)
    assert answer.json() == {"response": True, "message": "You said: after"}


def test_a_full_queue_takes_nothing_more(remote_mock: RemoteMock,
                                         client: requests.Session) -> None:
    """Replies beyond the queue's room are refused whole, and what was queued stays."""
    url = remote_mock.url_for(ADMIN + "/replies")
    assert client.post(url, json=[{"message": "kept"}] * 9_999, timeout=30).status_code == 201
    before = last_entry(remote_mock)
    response = client.post(url, json=[{"message": "one too many"}] * 2, timeout=30)
    assert 400 <= response.status_code < 500
    assert isinstance(response.json()["error"], str)
    queued = remote_mock.queued
    assert len(queued) == 9_999 and {reply["message"] for reply in queued} == {"kept"}
    assert_nothing_journaled(remote_mock, before)


# Field values of every JSON type, some in range and some not: whatever the mix, a reply list
# is queued whole (201 and the count) or refused whole (4xx and an empty queue).
REPLY_VALUES = st.one_of(JSON_LEAVES, st.sampled_from(
    [200, 201, 403, 404, 429, 0, -1, 1, 2, 60_000, 60_001, "cloudflare", "html", "rate_limit",
     "upstream_error", "empty_body", "malformed_json", "nope", "Wed, 21 Oct 2015 07:28:00 GMT"]))
REPLY_OBJECTS = st.dictionaries(
    st.sampled_from(["message", "status", "response", "fault", "retry_after", "times",
                     "delay_ms", "other"]),
    REPLY_VALUES, max_size=4)
# Scripted 5xx answers are left out: this suite asserts the mock never answers 5xx itself.
SERVER_FAULTS = {"server_error", "bad_gateway", "unavailable"}


@FUZZ
@given(payload=REPLY_OBJECTS | st.lists(REPLY_OBJECTS, max_size=4))
def test_replies_are_queued_whole_or_not_at_all(remote_mock: RemoteMock,
                                                client: requests.Session, payload: Any) -> None:
    items = payload if isinstance(payload, list) else [payload]
    if any((isinstance(item.get("status"), int) and item.get("status", 0) >= 500)
           or item.get("fault") in SERVER_FAULTS for item in items):
        return
    for item in items:  # no example waits on a delay
        if "delay_ms" in item and item["delay_ms"] not in (0, None):
            item["delay_ms"] = -1
    before = last_entry(remote_mock)
    response = client.post(remote_mock.url_for(ADMIN + "/replies"),
                           data=json.dumps(payload, allow_nan=True),
                           headers={"Content-Type": "application/json"}, timeout=30)
    assert response.status_code < 500, response.text[:300]
    event(f"status {response.status_code}")
    if response.status_code == 201:
        assert response.json()["queued"] == len(items)
        assert [reply["id"] for reply in remote_mock.queued] == response.json()["ids"]
    else:
        assert_refused_cleanly(remote_mock, response, before)
    assert_nothing_journaled(remote_mock, before)
    # Every queued reply is played without a crash, and each play is journaled once.
    for _ in items if response.status_code == 201 else ():
        before = last_entry(remote_mock)
        answer = client.post(remote_mock.url_for("/api/text"),
                             json={"message": "user: play\nassistant:"}, timeout=30)
        assert answer.status_code < 500
        assert the_one_new_entry(remote_mock, before)["scripted"] is True
    # What is left has uses left, or is a standing reply (times null).
    assert all(reply["times"] is None or reply["times"] >= 1 for reply in remote_mock.queued)
    remote_mock.admin.clear_replies()


# --- GET /__mock__/requests?limit= ---------------------------------------------------------

@FUZZ
@given(limit=st.text(CHARACTERS, max_size=12) | st.integers(0, 12).map(str)
       | st.sampled_from(["-1", "+1", " 1", "1 ", "1.0", "0x1", "1e2", "\u0661", "\u00b2", "", "00",
                          "99999999999999999999999"]))
def test_a_limit_that_is_not_a_whole_number_is_refused(
        remote_mock: RemoteMock, client: requests.Session, limit: str) -> None:
    url = remote_mock.url_for(ADMIN + "/requests")
    if not remote_mock.requests:
        for number in range(5):
            client.post(remote_mock.url_for("/api/text"), timeout=30,
                        json={"message": f"user: {number}\nassistant:"})
    everything = remote_mock.requests
    response = client.get(url, params={"limit": limit.encode("utf-8", "surrogatepass")},
                          timeout=30)
    if re.fullmatch(r"[0-9]+", limit):
        assert response.status_code == 200
        wanted = int(limit)
        assert response.json()["requests"] == (everything[-wanted:] if wanted else [])
    else:
        assert response.status_code == 400, (limit, response.text[:300])
        assert "limit" in response.json()["error"]


@pytest.mark.parametrize("limit", range(12))
def test_limit_returns_the_most_recent_entries(remote_mock: RemoteMock, client: requests.Session,
                                               limit: int) -> None:
    for number in range(5):
        client.post(remote_mock.url_for("/api/text"), timeout=30,
                    json={"message": f"user: {number}\nassistant:"})
    everything = remote_mock.requests
    assert len(everything) == 5
    latest = remote_mock.journal(limit=limit)
    assert latest["total"] == 5
    assert latest["requests"] == everything[len(everything) - min(limit, 5):]


# --- a journal that stays readable ---------------------------------------------------------

def test_a_deeply_nested_body_leaves_the_journal_readable(remote_mock: RemoteMock,
                                                          client: requests.Session) -> None:
    """The deepest nesting the mock still parses must not make the journal unwritable as
    JSON: sweep the depths around the parser's limit, whatever the stack it runs on."""
    for levels in range(900, 1_000, 2):
        for path in ("/api/text", "/elsewhere"):
            response = client.post(remote_mock.url_for(path), data=_nested(levels, "["),
                                   timeout=30)
            assert response.status_code < 500
    journal = client.get(remote_mock.url_for(ADMIN + "/requests"), timeout=30)
    assert journal.status_code == 200, journal.text[:300]
    assert journal.json()["total"] == 100
    latest = client.get(remote_mock.url_for(ADMIN + "/requests"), params={"limit": 1}, timeout=30)
    assert latest.status_code == 200


# --- raw-socket abuse ----------------------------------------------------------------------

def assert_still_serving(mock: RemoteMock, client: requests.Session,
                         before: tuple[int, int | None], new_entries: int) -> None:
    """The server answers its health check, and the journal holds exactly ``new_entries``
    more entries than before, with ids unique and increasing."""
    health = client.get(mock.url_for(ADMIN + "/health"), timeout=30)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    journal = mock.journal()
    assert journal["total"] == before[0] + new_entries
    ids = [entry["id"] for entry in journal["requests"]]
    assert ids == sorted(set(ids)) and len(ids) == journal["total"]


GARBAGE = [
    b"\x00\xff\xfe garbage\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET /api/text\r\n\r\n",
    b"POST /api/text HTTP/9.9\r\nHost: localhost\r\n\r\n",
    b"POST /api/text HTTP/1.1\r\nHost: localhost\r\nContent-Length: nope\r\n\r\n",
    b"POST /api/text HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n"
    b"Content-Length: 6\r\n\r\nhello",
    b"POST /api/text HTTP/1.1\r\nHost: localhost\r\nBad Header\r\n\r\n",
    b"\r\n\r\n\r\n\r\n",
    b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n",
]


@pytest.mark.parametrize("data", GARBAGE, ids=[f"garbage-{n}" for n in range(len(GARBAGE))])
def test_garbage_is_turned_away_without_harm(remote_mock: RemoteMock, client: requests.Session,
                                             data: bytes) -> None:
    """Bytes that are not an HTTP request get a 4xx from the server (or a closed
    connection), and no journal entry: there is no request to record."""
    before = last_entry(remote_mock)
    raw = exchange(remote_mock.base_url, data, shut_write=True)
    if raw:
        assert 400 <= parse_response(raw).status < 500, raw[:300]
    assert_still_serving(remote_mock, client, before, 0)


def test_a_body_over_one_mebibyte_is_refused_and_journaled_cut(
        remote_mock: RemoteMock, client: requests.Session) -> None:
    body = b'{"message": "' + b"x" * MAX_BODY + b'"}'
    before = last_entry(remote_mock)
    response = parse_response(exchange(
        remote_mock.base_url, request_bytes("POST", "/api/text", remote_mock.base_url, body=body)))
    assert response.status == 413
    assert is_refusal(response.json())
    entry = the_one_new_entry(remote_mock, before)
    assert entry["status"] == 413 and entry["body_size"] == len(body)
    assert entry["body"] == body[:BODY_CAP].decode() and entry["body_truncated"] is True
    assert entry["json"] is None and entry["violations"]
    assert_still_serving(remote_mock, client, before, 1)


def test_a_body_of_exactly_one_mebibyte_is_read(remote_mock: RemoteMock,
                                                client: requests.Session) -> None:
    padding = MAX_BODY - len(b'{"message": "user: big\\nassistant:", "pad": ""}')
    body = b'{"message": "user: big\\nassistant:", "pad": "' + b" " * padding + b'"}'
    assert len(body) == MAX_BODY
    before = last_entry(remote_mock)
    response = client.post(remote_mock.url_for("/api/text"), data=body, timeout=30)
    assert response.json() == {"response": True, "message": "You said: big"}
    entry = the_one_new_entry(remote_mock, before)
    assert entry["body_size"] == MAX_BODY and entry["body_truncated"] is True


def _chunked(body: bytes, size: int) -> bytes:
    pieces = [body[start:start + size] for start in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"


@pytest.mark.parametrize(("body", "status"), [
    (b'{"message": "user: in chunks\\nassistant:"}', 200),
    (b'{"message": 1}', 400),
    (b'{"message": "' + b"y" * MAX_BODY + b'"}', 413),
], ids=["valid", "invalid", "over-1-MiB"])
def test_a_chunked_body_is_read_like_any_other(remote_mock: RemoteMock, client: requests.Session,
                                               body: bytes, status: int) -> None:
    before = last_entry(remote_mock)
    data = request_bytes("POST", "/api/text", remote_mock.base_url, body=_chunked(body, 7_001),
                         headers=[("Transfer-Encoding", "chunked"),
                                  ("Content-Type", "application/json")])
    response = parse_response(exchange(remote_mock.base_url, data))
    assert response.status == status
    entry = the_one_new_entry(remote_mock, before)
    assert entry["status"] == status and entry["body_size"] == len(body)
    assert entry["body"] == body.decode()[:BODY_CAP]
    if status == 200:
        assert response.json() == {"response": True, "message": "You said: in chunks"}
    else:
        assert is_refusal(response.json())
    assert_still_serving(remote_mock, client, before, 1)


@pytest.mark.parametrize("sent", [b"", b"{", b'{"message": "user: cut'])
def test_a_body_shorter_than_its_content_length_is_not_a_500(
        remote_mock: RemoteMock, client: requests.Session, sent: bytes) -> None:
    """The client promises 100 bytes, sends fewer and stops sending: the mock answers (or
    closes), journals the request once with what arrived, and goes on serving."""
    before = last_entry(remote_mock)
    data = request_bytes("POST", "/api/text", remote_mock.base_url, body=sent, content_length=100)
    raw = exchange(remote_mock.base_url, data, shut_write=True)
    if raw:
        response = parse_response(raw)
        assert 400 <= response.status < 500 and is_refusal(response.json())
    entry = the_one_new_entry(remote_mock, before)
    assert entry["body"] == sent.decode() and entry["body_size"] == len(sent)
    assert_still_serving(remote_mock, client, before, 1)


VALID_PREFIX = b'{"message": "user: hi\\nassistant:"}'


def assert_cut_short(raw: bytes, entry: dict[str, Any], method: str, path: str,
                     told: str) -> None:
    """A body that stopped before its announced end: 400 in the site's shape, naming the
    sizes, and one entry with what arrived and the same reason as its violation."""
    response = parse_response(raw)
    assert response.status == 400, raw[:300]
    assert response.headers["connection"] == "close"
    reply = response.json()
    assert is_refusal(reply), reply
    assert reply["message"].startswith(f"invalid request: the body ended after {told}"), reply
    assert (entry["method"], entry["path"], entry["status"]) == (method, path, 400)
    assert entry["body"] == VALID_PREFIX.decode() and entry["json"] is None
    assert entry["violations"] == [reply["message"].removeprefix("invalid request: ")]
    assert entry["reply"] == reply


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/api/text"),  # the FastPath middleware
    ("PUT", "/api/text"), ("GET", "/chat"), ("POST", "/nowhere"),  # the Flask routes
])
def test_a_valid_prefix_of_a_longer_body_is_not_answered_as_complete(
        remote_mock: RemoteMock, client: requests.Session, method: str, path: str) -> None:
    """What arrived parses, but it is not the body the client announced: whatever the request
    asked, it gets the 400 of an incomplete request, and no scripted reply is used up."""
    remote_mock.queue({"message": "for a whole request"})
    declared = len(VALID_PREFIX) + 50
    before = last_entry(remote_mock)
    data = request_bytes(method, path, remote_mock.base_url, body=VALID_PREFIX,
                         content_length=declared)
    raw = exchange(remote_mock.base_url, data, shut_write=True)
    assert_cut_short(raw, the_one_new_entry(remote_mock, before), method, path,
                     f"{len(VALID_PREFIX)} of {declared} bytes announced by its Content-Length")
    assert [reply["message"] for reply in remote_mock.queued] == ["for a whole request"]
    assert_still_serving(remote_mock, client, before, 1)


def test_a_chunked_body_without_its_last_chunk_is_not_answered_as_complete(
        remote_mock: RemoteMock, client: requests.Session) -> None:
    before = last_entry(remote_mock)
    chunked = _chunked(VALID_PREFIX, 10).removesuffix(b"0\r\n\r\n")
    data = request_bytes("POST", "/api/text", remote_mock.base_url, body=chunked,
                         headers=[("Transfer-Encoding", "chunked")])
    raw = exchange(remote_mock.base_url, data, shut_write=True)
    assert_cut_short(raw, the_one_new_entry(remote_mock, before), "POST", "/api/text",
                     f"{len(VALID_PREFIX)} bytes, before its last chunk")
    assert_still_serving(remote_mock, client, before, 1)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_the_admin_api_queues_nothing_from_a_body_cut_short(
        remote_mock: RemoteMock, client: requests.Session, chunked: bool) -> None:
    sent = b'{"message": "from a prefix"}'
    framing = ([("Transfer-Encoding", "chunked")] if chunked
               else [("Content-Length", str(len(sent) + 20))])
    body = _chunked(sent, 10).removesuffix(b"0\r\n\r\n") if chunked else sent
    before = last_entry(remote_mock)
    raw = exchange(remote_mock.base_url, request_bytes(
        "POST", ADMIN + "/replies", remote_mock.base_url, body=body,
        headers=[("Content-Type", "application/json"), *framing]), shut_write=True)
    response = parse_response(raw)
    assert response.status == 400, raw[:300]
    assert "the body ended" in response.json()["error"]
    assert remote_mock.queued == []
    assert_still_serving(remote_mock, client, before, 0)


def test_werkzeugs_server_refuses_a_body_cut_short_too(client: requests.Session) -> None:
    """The test kit's live server (werkzeug's) reports the cut its own way; same answer."""
    with LiveServer() as server:
        declared = len(VALID_PREFIX) + 50
        for method, path in [("POST", "/api/text"), ("GET", "/chat")]:
            data = request_bytes(method, path, server.base_url, body=VALID_PREFIX,
                                 content_length=declared)
            raw = exchange(server.base_url, data, shut_write=True)
            assert_cut_short(raw, server.requests[-1], method, path,
                             f"{len(VALID_PREFIX)} of {declared} bytes")
        assert len(server.requests) == 2


def wait_for_total(mock: RemoteMock, total: int) -> int:
    """The journal's total once it reaches ``total`` (or what it is after a generous wait:
    the caller's assertion then says what went wrong)."""
    for _ in range(1_000):
        found: int = mock.journal(limit=0)["total"]
        if found >= total:
            return found
        time.sleep(0.01)
    return found


@pytest.mark.parametrize(("cut", "entries"), [
    ("in the request line", 0), ("in the headers", 0), ("in the body", 1)])
def test_a_client_that_hangs_up_mid_request_does_no_harm(
        remote_mock: RemoteMock, client: requests.Session, cut: str, entries: int) -> None:
    """A request cut off before its headers end never reached the mock and is not journaled;
    one cut off in its body is journaled once, with what arrived."""
    body = b'{"message": "user: gone\\nassistant:"}'
    data = request_bytes("POST", "/api/text", remote_mock.base_url, body=body,
                         content_length=len(body) + 1000)
    at = {"in the request line": 7, "in the headers": data.index(b"\r\n") + 10,
          "in the body": len(data) - 5}[cut]
    before = last_entry(remote_mock)
    with connect(remote_mock.base_url) as sock:
        sock.sendall(data[:at])
        # An abortive close (RST), the harshest way to go.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # The request's worker thread may still be reading: wait for its entry, if one is due.
    assert wait_for_total(remote_mock, before[0] + entries) == before[0] + entries
    if entries:
        # What arrived before the reset, or less: the server may lose its last read to it.
        entry = remote_mock.requests[-1]
        assert data[data.index(b"\r\n\r\n") + 4:at].decode().startswith(entry["body"])
        assert entry["status"] is None or entry["status"] < 500
    assert_still_serving(remote_mock, client, before, entries)


def test_a_keep_alive_connection_survives_a_refused_body(remote_mock: RemoteMock) -> None:
    """Two requests on one connection, the first refused: both are answered and journaled."""
    url = remote_mock.base_url
    bad = request_bytes("POST", "/api/text", url, body=b"not json",
                        headers=[("Connection", "keep-alive")])
    good = request_bytes("POST", "/api/text", url, body=b'{"message": "user: 2\\nassistant:"}')
    before = last_entry(remote_mock)
    with connect(url) as sock:
        sock.sendall(bad + good)
        raw = read_all(sock)
    first = parse_response(raw)
    second = parse_response(raw[raw.index(b"HTTP/1.1", 10):])
    assert (first.status, second.status) == (400, 200)
    assert second.json() == {"response": True, "message": "You said: 2"}
    journal = remote_mock.journal()
    assert journal["total"] == before[0] + 2
    assert [entry["status"] for entry in journal["requests"][-2:]] == [400, 200]
