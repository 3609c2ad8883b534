"""Hypothesis properties of the provider: flattening, the body, ``params``, response
extraction for every JSON shape, error mapping for every status, and input validation.

Answers come from `responses` (no socket), so each example costs a millisecond or two; the
example counts are kept moderate and deadlines are off, so the file runs in a few seconds and
never fails on a slow machine.
"""

from __future__ import annotations

import ast
import email.utils
import functools
import gc
import json
import math
import os
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
import requests
import responses
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import aichat
from aichat import Aichat
from support.expected import (
    BASE_URL_ENV,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_RETRIES,
    DEFAULTS,
    HEADERS,
    MODEL,
    PARAMS,
    RANGES,
    RETRY_STATUSES,
    RETRY_WAIT_CAP,
)
from support.expected import URL as DOCUMENTED_URL
from support.expected import body as spec_body

BASE = "http://site.invalid"
URL = BASE + "/api/text"
HI_BODY = spec_body("user: Hi\nassistant:")
# The provider's own limit on timeout, as its refusal states it ("up to 86400"): a day.
MAX_TIMEOUT = 86400

# bench/constant_mutants.py runs this file again for each change (AICHAT_FEWER_EXAMPLES): there
# a quarter of the examples, the fixed examples beside each property still all run. (Under
# mutmut, tests/conftest.py cuts the examples of every property the same way.)
SCALE = 4 if os.environ.get("AICHAT_FEWER_EXAMPLES") else 1
FAST = settings(max_examples=60 // SCALE, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
FEWER = settings(max_examples=30 // SCALE, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(autouse=True)
def _no_ambient_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BASE_URL_ENV, raising=False)


class Answer:
    """The one answer `responses` gives, repeated for every attempt."""

    def __init__(self, status: int = 200, body: str | bytes = "",
                 content_type: str | None = None, headers: dict[str, str] | None = None):
        self.status, self.body, self.content_type = status, body, content_type
        self.headers = headers or {}


HI = [{"role": "user", "content": "Hi"}]


def call(answer: Answer | None, messages: Any = HI, /,
         **kwargs: Any) -> tuple[str | Aichat.AichatError, list[requests.PreparedRequest]]:
    """Run the provider once; its outcome (reply or AichatError) and the requests it sent.

    Anything else it raises propagates and fails the test: that is the point.
    """
    kwargs.setdefault("base_url", BASE)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        if answer is not None:
            mock.add(responses.POST, URL, status=answer.status, body=answer.body,
                     content_type=answer.content_type, headers=answer.headers)
        try:
            outcome: str | Aichat.AichatError = aichat.complete(messages, **kwargs)
        except Aichat.AichatError as error:
            outcome = error
        return outcome, [sent.request for sent in mock.calls]


def one_line(error: Aichat.AichatError) -> bool:
    return "\n" not in str(error) and "\r" not in str(error)


# --- flattening -------------------------------------------------------------------------------

text_parts = st.fixed_dictionaries({"type": st.just("text"), "text": st.text()})
other_parts = st.one_of(
    st.fixed_dictionaries({"type": st.just("image_url"),
                           "image_url": st.fixed_dictionaries({"url": st.text()})}),
    st.fixed_dictionaries({"type": st.text().filter(lambda kind: kind != "text")}),
    st.fixed_dictionaries({"text": st.text()}),  # no type: not a text part, skipped
)
contents = st.one_of(st.text(), st.none(), st.lists(st.one_of(text_parts, other_parts),
                                                    max_size=5))
messages_strategy = st.lists(
    st.builds(lambda role, content, extra, proxy: (MappingProxyType if proxy else dict)(
        {"role": role, "content": content, **extra}),
        st.one_of(st.sampled_from(["user", "assistant", "system"]), st.text()),
        contents,
        st.dictionaries(st.sampled_from(["name", "id"]), st.text(), max_size=1),
        st.booleans()),
    max_size=6)


def expected_content(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(part["text"] for part in content if part.get("type") == "text")


@FAST
@given(messages_strategy)
def test_flattening_is_role_colon_content_newline_then_assistant(
        messages: list[Any]) -> None:
    expected = "".join(f"{m['role']}: {expected_content(m.get('content'))}\n"
                       for m in messages) + "assistant:"
    assert Aichat.flatten(messages) == expected
    assert Aichat.flatten(messages).endswith("assistant:")


@FEWER
@given(messages_strategy)
def test_the_flattened_prompt_is_what_goes_on_the_wire(messages: list[Any]) -> None:
    outcome, sent = call(Answer(body='{"message": "ok"}'), messages)
    assert outcome == "ok"
    [request] = sent
    assert json.loads(request.body or b"")["message"] == Aichat.flatten(messages)


@FAST
@given(st.lists(st.text(), max_size=4))
def test_message_contents_are_copied_verbatim(texts: list[str]) -> None:
    messages = [{"role": "user", "content": text} for text in texts]
    prompt = Aichat.flatten(messages)
    for text in texts:
        assert f"user: {text}\n" in prompt


# --- the body: defaults, overrides, key order, number types --------------------------------------

def parameter_values(low: int, high: int) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), st.integers(low, high),
                     st.floats(low, high, allow_nan=False, allow_infinity=False))


overrides = st.fixed_dictionaries(
    {}, optional={name: parameter_values(low, high) for name, (low, high) in RANGES.items()})


@FAST
@given(overrides)
def test_body_defaults_and_overrides(given_values: dict[str, Any]) -> None:
    outcome, sent = call(Answer(body='{"message": "ok"}'), **given_values)
    assert outcome == "ok"
    [request] = sent
    body = json.loads(request.body or b"")
    assert list(body) == ["message", *DEFAULTS]
    for name, default in DEFAULTS.items():
        value = given_values.get(name)
        if value is None:
            assert body[name] == default and type(body[name]) is int
        else:
            assert body[name] == value and type(body[name]) is type(value)
    expected = {"message": "user: Hi\nassistant:",
                **{name: body[name] for name in DEFAULTS}}
    assert request.body == json.dumps(expected).encode()
    assert {name: request.headers[name] for name in HEADERS} == HEADERS


@FAST
@given(st.dictionaries(st.text().filter(lambda key: key not in {
    *DEFAULTS, "base_url", "timeout", "proxy", "max_retries", "max_response_bytes",
    "messages", "model"}),  # complete()'s own parameters
    st.integers() | st.text(), max_size=4))
def test_unknown_keywords_are_ignored(extra: dict[str, Any]) -> None:
    outcome, sent = call(Answer(body='{"message": "ok"}'), **extra)
    assert outcome == "ok"
    [request] = sent
    assert request.body == json.dumps(HI_BODY).encode()


# --- params: reflection, as the seed computes it -------------------------------------------------

@functools.cache
def seed_params_expression() -> ast.expr:
    # Parsed once, with the collector paused: CPython 3.11.7's ast.parse can fail ("AST
    # constructor recursion depth mismatch") when a gc callback, such as hypothesis's, runs
    # inside it, which mutmut's much larger copy of Aichat.py made happen in make mutants.
    collecting = gc.isenabled()
    gc.disable()
    try:
        tree = ast.parse(Path(Aichat.__file__).read_text(encoding="utf-8"))
    finally:
        if collecting:
            gc.enable()
    [assignment] = [node for node in tree.body if isinstance(node, ast.Assign)
                    and [getattr(t, "id", None) for t in node.targets] == ["params"]]
    return assignment.value


def test_the_module_attributes_are_the_specs() -> None:
    """docs/provider.md's table, read in this process (test_drop_in reads them from a 2023 g4f
    tree)."""
    assert Aichat.url == DOCUMENTED_URL
    assert Aichat.model == MODEL
    assert Aichat.supports_stream is False
    assert Aichat.needs_auth is False
    assert Aichat.working is True
    assert Aichat.params == PARAMS


def test_params_is_the_seed_string() -> None:
    assert Aichat.params == \
        "g4f.Providers.Aichat supports: (model: str, messages: list, stream: bool)"


def test_params_is_computed_not_written_down() -> None:
    expression = seed_params_expression()
    names = {node.attr for node in ast.walk(expression) if isinstance(node, ast.Attribute)}
    assert {"__code__", "co_varnames", "co_argcount"} <= names
    assert not any(isinstance(node, ast.Constant) and "messages" in str(node.value)
                   for node in ast.walk(expression))


identifiers = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda name: name not in {"if", "in", "is", "or", "as", "def", "for", "and", "not", "del",
                              "try", "else", "elif", "from", "with", "pass", "None", "True"})


@FEWER
@given(st.lists(st.tuples(identifiers, st.sampled_from(["str", "list", "bool", "int", "dict"])),
                min_size=1, max_size=5, unique_by=lambda pair: pair[0]),
       st.from_regex(r"[A-Z][A-Za-z0-9]{0,10}", fullmatch=True))
def test_the_params_expression_reflects_any_signature(arguments: list[tuple[str, str]],
                                                      module: str) -> None:
    """The seed's expression, evaluated against other signatures, names what they take."""
    source = (f"from __future__ import annotations\n"
              f"def _create_completion({', '.join(f'{n}: {t}' for n, t in arguments)}, "
              f"**kwargs):\n    local_variable = 1\n")
    namespace: dict[str, Any] = {}
    exec(compile(source, "<signature>", "exec"), namespace)
    namespace.update(os=os, get_type_hints=__import__("typing").get_type_hints,
                     __file__=f"/somewhere/g4f/Providers/{module}.py")
    code = compile(ast.Expression(seed_params_expression()), Aichat.__file__, "eval")
    assert eval(code, namespace) == (
        f"g4f.Providers.{module} supports: ({', '.join(f'{n}: {t}' for n, t in arguments)})")


# --- response extraction for every JSON shape ---------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=12)
reply_objects = st.fixed_dictionaries(
    {}, optional={"message": json_values, "response": json_values, "error": json_values})


@FAST
@given(st.one_of(json_values, reply_objects))
def test_any_json_answer_is_a_reply_or_an_aichat_error(data: Any) -> None:
    outcome, sent = call(Answer(body=json.dumps(data), content_type="application/json"))
    assert len(sent) == 1
    if isinstance(data, dict) and data.get("response") is False:
        assert type(outcome) is Aichat.AichatUpstreamError
        assert outcome.reason == (data["message"] if isinstance(data.get("message"), str)
                                  else "")
    elif isinstance(data, dict) and isinstance(data.get("message"), str):
        assert outcome == data["message"]
    else:
        assert type(outcome) is Aichat.AichatResponseError
    if isinstance(outcome, Aichat.AichatError):
        assert one_line(outcome) and URL in str(outcome)


@FAST
@given(st.binary(max_size=200),
       st.sampled_from([None, "application/json", "text/plain", "text/html",
                        "application/json; charset=latin-1", "text/plain; charset=bogus"]))
@example(b'{"message": "readable, but labelled bogus"}', "text/plain; charset=bogus")
@example(b'{"message": "not UTF-8: \xff"}', "application/json")
@example(b'{"message": "caf\xe9"}', "application/json; charset=latin-1")
def test_any_bytes_are_a_reply_or_an_aichat_error(body: bytes, content_type: str | None) -> None:
    outcome, _ = call(Answer(body=body, content_type=content_type))
    # What docs/provider.md says of a 200: an HTML page is the bot wall, a body that is not text
    # in its charset (UTF-8 when none is named; "bogus" names none known) or JSON that is not an
    # object with a string message a response error, {"response": false} the site refusing.
    charset = "latin-1" if content_type and "latin-1" in content_type else "utf-8-sig"
    text = body.decode(charset, errors="replace")
    html = "html" in (content_type or "") or text.lstrip()[:15].lower().startswith(
        ("<!doctype html", "<html"))
    try:
        readable = "bogus" not in (content_type or "") and body.decode(charset) == text
    except UnicodeDecodeError:
        readable = False
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if html:
        expected: type | str = Aichat.AichatBlockedError
    elif not readable:
        expected = Aichat.AichatResponseError
    elif isinstance(data, dict) and data.get("response") is False:
        expected = Aichat.AichatUpstreamError
    elif isinstance(data, dict) and isinstance(data.get("message"), str):
        expected = data["message"]
    else:
        expected = Aichat.AichatResponseError
    if isinstance(expected, str):
        assert outcome == expected
    else:
        assert type(outcome) is expected, outcome
        assert isinstance(outcome, Aichat.AichatError) and one_line(outcome)


@FEWER
@given(st.integers(1, 5000))
def test_deeply_nested_json_is_a_response_error(depth: int) -> None:
    outcome, _ = call(Answer(body="[" * depth + "]" * depth, content_type="application/json"))
    assert type(outcome) is Aichat.AichatResponseError


# --- every status code, with and without HTML, with any Retry-After -------------------------------

def http_dates() -> st.SearchStrategy[str]:
    moments = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(9998, 1, 1),
                           timezones=st.just(timezone.utc))
    return moments.map(lambda moment: email.utils.format_datetime(moment, usegmt=True))


retry_after_values = st.one_of(
    st.integers(0, 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    http_dates(),
    st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=30),
)
NO_BODY_STATUSES = {*range(100, 200), 204, 304}
PAGE = "<!DOCTYPE html><html><body>Checking your browser</body></html>"
bodies = st.sampled_from([PAGE, "<html>x</html>", '{"message": "hi"}',
                          '{"response": false, "message": "no"}', "", "Too Many Requests"])


@FAST
@given(st.integers(100, 599), bodies, st.sampled_from([None, "text/html", "application/json"]),
       st.none() | retry_after_values, st.booleans())
def test_every_status_maps_to_its_error(status: int, body: str, content_type: str | None,
                                        retry_after: str | None, mitigated: bool) -> None:
    if status in NO_BODY_STATUSES:  # HTTP itself discards any body these carry
        body = ""
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    if mitigated:
        headers["cf-mitigated"] = "challenge"
    outcome, sent = call(Answer(status, body, content_type, headers), max_retries=0)
    assert len(sent) == 1
    html = content_type == "text/html" or body.startswith(("<!DOCTYPE", "<html"))
    if status == 429:
        assert type(outcome) is Aichat.AichatRateLimitError
        assert outcome.status_code == 429
        expected_wait = Aichat.retry_after_seconds(retry_after)
        if expected_wait is None:
            assert outcome.retry_after is None
        else:
            assert outcome.retry_after is not None
            assert math.isclose(outcome.retry_after, expected_wait, abs_tol=5)
    elif status == 403 or (html and (200 <= status < 300 or mitigated)):
        assert type(outcome) is Aichat.AichatBlockedError
        assert outcome.status_code == status
    elif not 200 <= status < 300:
        assert type(outcome) is Aichat.AichatHTTPError
        assert outcome.status_code == status
        assert outcome.body == " ".join(body.split())[:200]
    else:
        assert isinstance(outcome, str) or type(outcome) in (
            Aichat.AichatResponseError, Aichat.AichatUpstreamError)
    if isinstance(outcome, Aichat.AichatError):
        assert one_line(outcome) and URL in str(outcome)


@FEWER
@given(retry_after_values)
def test_a_429_is_retried_unless_the_wait_is_beyond_the_cap(retry_after: str) -> None:
    outcome, sent = call(Answer(429, "Too Many Requests", headers={"Retry-After": retry_after}))
    assert type(outcome) is Aichat.AichatRateLimitError
    wait = Aichat.retry_after_seconds(retry_after)
    beyond = wait is not None and wait > RETRY_WAIT_CAP + 5  # clear of the clock's drift
    within = wait is None or wait < RETRY_WAIT_CAP - 5
    if beyond:
        assert len(sent) == 1
    elif within:
        assert len(sent) == 1 + DEFAULT_MAX_RETRIES


@pytest.mark.parametrize("status", [*RETRY_STATUSES, 403, 404, 408, 413, 500, 501, 505])
def test_exactly_the_retried_statuses_are_sent_again(status: int) -> None:
    """docs/provider.md: 429, 502, 503 and 504 are retried (max_retries times), no other status."""
    outcome, sent = call(Answer(status, "busy", "text/plain", {"Retry-After": "0"}))
    assert isinstance(outcome, Aichat.AichatHTTPError) and outcome.status_code == status
    assert len(sent) == (1 + DEFAULT_MAX_RETRIES if status in RETRY_STATUSES else 1)


@FAST
@given(retry_after_values | st.text())
def test_retry_after_seconds_is_none_or_a_finite_wait(value: str) -> None:
    seconds = Aichat.retry_after_seconds(value)
    assert seconds is None or (math.isfinite(seconds) and seconds >= 0)


@pytest.mark.parametrize(("value", "seconds"), [
    ("30", 30.0), (" 30 ", 30.0), ("30.5", 30.5), ("0", 0.0), ("1.5", 1.5), ("120", 120.0),
    ("-5", 0.0),  # a wait in the past is no wait
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date in the past: at once
    (None, None), ("", None), ("soon", None), ("nan", None), ("inf", None), ("-inf", None),
    ("1e999", None), ("Wed, 99 Foo 2015 99:99:99 GMT", None),
], ids=repr)
def test_retry_after_seconds_examples(value: str | None, seconds: float | None) -> None:
    assert Aichat.retry_after_seconds(value) == seconds


@FAST
@given(st.integers(0, 10**9), st.integers(-10**6, 10**6))
def test_retry_after_reads_numbers_and_dates(number: int, offset: int) -> None:
    assert Aichat.retry_after_seconds(f" {number} ") == number
    when = datetime.now(timezone.utc) + timedelta(seconds=offset)
    seconds = Aichat.retry_after_seconds(email.utils.format_datetime(when, usegmt=True))
    assert seconds is not None and math.isclose(seconds, max(0, offset), abs_tol=3)


# --- input validation: always AichatInputError, always before any request ------------------------

not_a_list = st.one_of(st.none(), st.text(), st.integers(), st.floats(), st.dictionaries(
    st.text(), st.text(), max_size=2), st.tuples(st.just({"role": "user", "content": "x"})),
    st.sets(st.integers(), max_size=2), st.binary(max_size=4))
not_a_mapping = st.one_of(st.none(), st.text(), st.integers(), st.lists(st.text(), max_size=2),
                          st.tuples(st.text(), st.text()))
not_a_string = st.one_of(st.none(), st.integers(), st.floats(), st.booleans(), st.binary(),
                         st.lists(st.text(), max_size=2))
bad_contents = st.one_of(
    st.integers(), st.floats(), st.booleans(), st.binary(), st.dictionaries(st.text(), st.text()),
    st.lists(not_a_mapping, min_size=1, max_size=2),
    st.lists(st.fixed_dictionaries({"type": st.just("text"), "text": not_a_string.filter(
        lambda value: not isinstance(value, str))}), min_size=1, max_size=2))
bad_messages = st.one_of(
    not_a_list,
    st.lists(not_a_mapping, min_size=1, max_size=3),
    st.lists(st.fixed_dictionaries({"content": st.text()},
                                   optional={"role": not_a_string}), min_size=1, max_size=2),
    st.lists(st.fixed_dictionaries({"role": st.text(), "content": bad_contents}),
             min_size=1, max_size=2),
)


@FAST
@given(messages_strategy, bad_messages, st.data())
def test_any_malformed_messages_are_refused_before_any_request(
        good: list[Any], bad: Any, data: st.DataObject) -> None:
    if isinstance(bad, list):  # the bad item may hide among good ones
        position = data.draw(st.integers(0, len(good)))
        bad = good[:position] + bad + good[position:]
    outcome, sent = call(Answer(body='{"message": "never"}'), bad)
    assert type(outcome) is Aichat.AichatInputError
    assert isinstance(outcome, ValueError)
    assert sent == []
    assert one_line(outcome)


def bad_numbers(low: float, high: float) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.floats(allow_nan=True).filter(lambda x: not low <= x <= high),
        st.integers().filter(lambda x: not low <= x <= high),
        st.booleans(), st.text(), st.lists(st.integers(), max_size=2), st.complex_numbers(),
        st.decimals(allow_nan=False, allow_infinity=False),
        st.dictionaries(st.text(), st.integers(), max_size=1))


def keyword(name: str, values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(lambda value: {name: value}, values)


bad_parameters = st.one_of(
    *[keyword(name, bad_numbers(low, high)) for name, (low, high) in RANGES.items()],
    st.one_of(bad_numbers(0, MAX_TIMEOUT), st.just(0), st.just(-0.0))
    .filter(lambda value: not (isinstance(value, (int, float)) and not isinstance(value, bool)
                               and 0 < value <= MAX_TIMEOUT))
    .map(lambda value: {"timeout": value}),
    st.one_of(st.integers(max_value=-1), st.floats(), st.text(), st.booleans())
    .map(lambda value: {"max_retries": value}),
    st.one_of(st.integers(), st.lists(st.text(), max_size=1), st.binary())
    .map(lambda value: {"base_url": value}),
    st.one_of(st.integers(), st.text().filter(lambda text: "://" not in text), st.binary())
    .map(lambda value: {"proxy": value}),
)


@FAST
@given(bad_parameters)
def test_any_malformed_parameter_is_refused_before_any_request(bad: dict[str, Any]) -> None:
    outcome, sent = call(Answer(body='{"message": "never"}'), **bad)
    assert type(outcome) is Aichat.AichatInputError
    assert sent == []
    assert one_line(outcome)


urlish = st.one_of(
    st.text(max_size=40),
    st.builds("{}://{}{}".format, st.sampled_from(["http", "https", "ftp", "", "HTTP"]),
              st.text(max_size=15), st.text(max_size=10)),
)


@FAST
@given(urlish, st.sampled_from(["base_url", "proxy"]))
def test_any_url_text_is_refused_or_tried_but_never_crashes(text: str, keyword: str) -> None:
    """Whatever the string, the outcome is an AichatError; refusals happen before sending."""
    assume(not (keyword == "base_url" and text.strip().rstrip("/") == BASE))
    outcome, sent = call(None, **{keyword: text, "max_retries": 0})
    assert one_line(outcome)
    # Refused before sending, naming the keyword; or tried once, and nothing answers there.
    if type(outcome) is Aichat.AichatInputError:
        assert sent == []
        assert keyword in str(outcome)
    else:
        assert type(outcome) is Aichat.AichatConnectionError, outcome
        assert len(sent) == 1


# --- boundaries: every range at, just inside and just outside its ends --------------------------

STEP = 0.001  # "just inside" and "just outside" an end of a range


def parameter_edges() -> Iterator[Any]:
    for name, (low, high) in RANGES.items():
        for value in (low, high, float(low), float(high), low + STEP, high - STEP):
            yield pytest.param(name, value, True, id=f"{name}={value!r}-accepted")
        for value in (low - STEP, high + STEP, low - 1, high + 1):
            yield pytest.param(name, value, False, id=f"{name}={value!r}-refused")


@pytest.mark.parametrize(("name", "value", "accepted"), list(parameter_edges()))
def test_each_parameter_at_inside_and_outside_its_range(name: str, value: float,
                                                        accepted: bool) -> None:
    outcome, sent = call(Answer(body='{"message": "ok"}'), **{name: value})
    if not accepted:
        assert type(outcome) is Aichat.AichatInputError
        assert sent == []
        low, high = RANGES[name]
        assert f"{name} must be from {low} to {high}; got {value!r}" in str(outcome)
        return
    assert outcome == "ok"
    [request] = sent
    # The value goes out as given, its JSON type included, the others at their defaults.
    assert request.body == json.dumps(spec_body("user: Hi\nassistant:", **{name: value})).encode()


def test_all_parameters_at_their_ends_at_once_are_sent_as_given() -> None:
    for end in (0, 1):
        given = {name: limits[end] for name, limits in RANGES.items()}
        outcome, sent = call(Answer(body='{"message": "ok"}'), **given)
        assert outcome == "ok"
        [request] = sent
        assert json.loads(request.body or b"") == spec_body("user: Hi\nassistant:", **given)


@pytest.mark.parametrize(("kwargs", "outcome_type", "requests_sent"), [
    # timeout: above 0 and up to a day; a tiny one is accepted, then runs out at once.
    ({"timeout": 0}, Aichat.AichatInputError, 0),
    ({"timeout": -STEP}, Aichat.AichatInputError, 0),
    ({"timeout": 1e-9}, Aichat.AichatTimeoutError, 1),
    ({"timeout": MAX_TIMEOUT}, str, 1),
    ({"timeout": MAX_TIMEOUT + STEP}, Aichat.AichatInputError, 0),
    ({"timeout": True}, Aichat.AichatInputError, 0),
    # max_retries: 0 or more.
    ({"max_retries": 0}, str, 1),
    ({"max_retries": -1}, Aichat.AichatInputError, 0),
    ({"max_retries": True}, Aichat.AichatInputError, 0),
    # max_response_bytes: 1 or more; None is refused (there is no unlimited).
    ({"max_response_bytes": 1}, Aichat.AichatResponseError, 1),
    ({"max_response_bytes": 0}, Aichat.AichatInputError, 0),
    ({"max_response_bytes": None}, Aichat.AichatInputError, 0),
    ({"max_response_bytes": True}, Aichat.AichatInputError, 0),
    ({"auth": "ignored"}, str, 1),
], ids=repr)
def test_the_ends_of_the_other_keywords(kwargs: dict[str, Any], outcome_type: type,
                                        requests_sent: int) -> None:
    outcome, sent = call(Answer(body='{"message": "ok"}'), **kwargs)
    assert type(outcome) is outcome_type, outcome
    assert len(sent) == requests_sent
    if outcome_type is str:
        assert outcome == "ok"
    if outcome_type is Aichat.AichatInputError:
        assert str(outcome).startswith(f"{next(iter(kwargs))} must be")


@pytest.mark.parametrize(("kwargs", "size", "fits"), [
    ({"max_response_bytes": 100}, 99, True),
    ({"max_response_bytes": 100}, 100, True),
    ({"max_response_bytes": 100}, 101, False),
    ({}, DEFAULT_MAX_RESPONSE_BYTES - 1, True),
    ({}, DEFAULT_MAX_RESPONSE_BYTES, True),
    ({}, DEFAULT_MAX_RESPONSE_BYTES + 1, False),
], ids=["limit-1", "limit", "limit+1", "default-1", "default", "default+1"])
def test_max_response_bytes_at_and_around_the_limit(kwargs: dict[str, Any], size: int,
                                                    fits: bool) -> None:
    head, tail = b'{"message": "', b'"}'
    answer = head + b"x" * (size - len(head) - len(tail)) + tail
    assert len(answer) == size
    outcome, _ = call(Answer(body=answer, content_type="application/json"), **kwargs)
    limit = kwargs.get("max_response_bytes", DEFAULT_MAX_RESPONSE_BYTES)
    if fits:
        assert outcome == "x" * (size - len(head) - len(tail))
    else:
        assert type(outcome) is Aichat.AichatResponseError
        assert f"a body of more than {limit} bytes" in str(outcome)


# --- fixed examples beside the properties: HTML detection and each status class -----------------

CF = {"cf-mitigated": "challenge"}
HTML_EXAMPLES = [
    # (status, body, content type, extra headers, outcome: an error class or the reply)
    (200, "<html><body>Please enable JavaScript</body></html>", None, {},
     Aichat.AichatBlockedError),
    (200, "<!DOCTYPE html><html></html>", None, {}, Aichat.AichatBlockedError),
    (200, " \n\t<HTML lang=en>", None, {}, Aichat.AichatBlockedError),
    (200, "<!doctype HTML>", "text/plain", {}, Aichat.AichatBlockedError),
    (200, '{"message": "hi"}', "text/html", {}, Aichat.AichatBlockedError),
    (200, '{"message": "hi"}', "Text/HTML; charset=utf-8", {}, Aichat.AichatBlockedError),
    (200, '{"message": "<html>"}', "application/json", {}, "<html>"),
    (200, '{"message": "<html>"}', None, {}, "<html>"),
    (200, "<htm>", None, {}, Aichat.AichatResponseError),
    (200, "<head></head><html>", None, {}, Aichat.AichatResponseError),
    (200, "<!doctype htm>", None, {}, Aichat.AichatResponseError),
    (201, "<html></html>", None, {}, Aichat.AichatBlockedError),
    (299, "<html></html>", "text/html", {}, Aichat.AichatBlockedError),
    (300, "<html></html>", "text/html", {}, Aichat.AichatHTTPError),  # 3xx is not 2xx
    (300, "<html></html>", None, {}, Aichat.AichatHTTPError),
    (500, "<html>down</html>", "text/html", {}, Aichat.AichatHTTPError),
    (500, "<html>down</html>", None, CF, Aichat.AichatBlockedError),
    (503, "<!DOCTYPE html><html>challenge</html>", "text/html", CF, Aichat.AichatBlockedError),
    (503, "Service Unavailable", "text/plain", CF, Aichat.AichatHTTPError),
    (404, "<html>no such page</html>", "text/html", {}, Aichat.AichatHTTPError),
    (403, "Forbidden", "text/plain", {}, Aichat.AichatBlockedError),
]


# No backslash in a test's id: pytest escapes it again in a second session of one process,
# which is how mutmut runs each mutant's tests (by id, after collecting them once).
@pytest.mark.parametrize(("status", "body", "content_type", "headers", "expected"),
                         HTML_EXAMPLES, ids=[f"{row[0]}-{row[1][:20]!r}-{row[2]}-{bool(row[3])}"
                                             .replace("\\", "/") for row in HTML_EXAMPLES])
def test_html_detection_examples(status: int, body: str, content_type: str | None,
                                 headers: dict[str, str], expected: type | str) -> None:
    outcome, sent = call(Answer(status, body, content_type, headers), max_retries=0)
    assert len(sent) == 1
    if isinstance(expected, str):
        assert outcome == expected
        return
    assert type(outcome) is expected, outcome
    if expected is Aichat.AichatBlockedError:
        assert outcome.status_code == status
        assert "blocked by the bot wall" in str(outcome)


STATUS_EXAMPLES = [
    # (status, outcome, words the advice must hold)
    (200, "ok", None),
    (201, "ok", None),
    (299, "ok", None),
    (300, Aichat.AichatHTTPError, "expected 200 with JSON"),
    (302, Aichat.AichatHTTPError, "expected 200 with JSON"),
    (399, Aichat.AichatHTTPError, "expected 200 with JSON"),
    (400, Aichat.AichatHTTPError, "the site refused the request"),
    (403, Aichat.AichatBlockedError, "use another network or proxy"),
    (404, Aichat.AichatHTTPError, "the site refused the request"),
    (413, Aichat.AichatHTTPError, "the site refused the request"),
    (428, Aichat.AichatHTTPError, "the site refused the request"),
    (429, Aichat.AichatRateLimitError, "try again, or send fewer requests"),
    (430, Aichat.AichatHTTPError, "the site refused the request"),
    (499, Aichat.AichatHTTPError, "the site refused the request"),
    (500, Aichat.AichatHTTPError, "the site is failing, try again later"),
    (502, Aichat.AichatHTTPError, "the site is failing, try again later"),
    (503, Aichat.AichatHTTPError, "the site is failing, try again later"),
    (504, Aichat.AichatHTTPError, "the site is failing, try again later"),
    (599, Aichat.AichatHTTPError, "the site is failing, try again later"),
]


@pytest.mark.parametrize(("status", "expected", "advice"), STATUS_EXAMPLES,
                         ids=[str(row[0]) for row in STATUS_EXAMPLES])
def test_each_status_class_examples(status: int, expected: type | str,
                                    advice: str | None) -> None:
    outcome, sent = call(Answer(status, '{"message": "ok"}', "application/json"),
                         max_retries=0)
    assert len(sent) == 1
    if isinstance(expected, str):
        assert outcome == expected
        return
    assert type(outcome) is expected, outcome
    assert outcome.status_code == status
    assert outcome.body == '{"message": "ok"}'
    assert f"answered {status}" in str(outcome)
    assert advice is not None and advice in str(outcome)


# --- messages, word for word: what happened, the URL, what to do (docs/provider.md) ---------------

NOT_SENT = "; nothing was sent to POST " + URL
MESSAGE_EXAMPLES = [
    ("Hello", {}, 'messages must be a list of {"role": ..., "content": ...} mappings, not str; '
                  "wrap a single message in a list" + NOT_SENT),
    ([["user", "x"]], {}, 'messages[0] must be a mapping with "role" and "content", not list'
     + NOT_SENT),
    ([{"content": "x"}], {}, 'messages[0]["role"] must be a string such as "user", not missing'
     + NOT_SENT),
    ([{"role": "user", "content": 42}], {},
     'messages[0]["content"] must be a string, None or a list of text parts, not int' + NOT_SENT),
    ([{"role": "user", "content": ["x"]}], {},
     'messages[0]["content"][0] must be a mapping such as {"type": "text", "text": "..."}, '
     "not str" + NOT_SENT),
    ([{"role": "user", "content": [{"type": "text"}]}], {},
     'messages[0]["content"][0]["text"] must be a string, not missing' + NOT_SENT),
    ([{"role": "user", "content": [{"type": "text", "text": 5}]}], {},
     'messages[0]["content"][0]["text"] must be a string, not int' + NOT_SENT),
    (HI, {"top_p": "1"}, "top_p must be a number from 0 to 1, not str '1'" + NOT_SENT),
    (HI, {"presence_penalty": True},
     "presence_penalty must be a number from -2 to 2, not bool True" + NOT_SENT),
    (HI, {"frequency_penalty": 10**100}, "frequency_penalty must be from -2 to 2; got "
     + "1" + "0" * 76 + "..." + NOT_SENT),
    (HI, {"timeout": 0}, "timeout must be a number of seconds above 0 and up to 86400; got 0"
     + NOT_SENT),
    (HI, {"max_retries": 1.5}, "max_retries must be a whole number of 0 or more; got 1.5"
     + NOT_SENT),
    (HI, {"max_response_bytes": None}, "max_response_bytes must be a whole number of bytes, "
     "1 or more (default 4194304); got None" + NOT_SENT),
    (HI, {"proxy": "ftp://p:secret@proxy.invalid"},
     'proxy must be a URL such as "http://user:pass@host:3128" (schemes: http, https, socks4, '
     "socks4a, socks5, socks5h); got 'ftp://***@proxy.invalid'" + NOT_SENT),
    (HI, {"base_url": 5}, "base_url must be a string such as 'https://chat-gpt.org', not int"),
    (HI, {"base_url": "http://u:secret@h.invalid/?q=1"},
     "base_url must be an http(s) URL such as 'https://chat-gpt.org' (an optional path, "
     "no query); got 'http://***@h.invalid/?q=1'"),
]


@pytest.mark.parametrize(("messages", "kwargs", "message"), MESSAGE_EXAMPLES,
                         ids=[row[2][:40] for row in MESSAGE_EXAMPLES])
def test_input_error_messages(messages: Any, kwargs: dict[str, Any], message: str) -> None:
    outcome, sent = call(None, messages, **kwargs)
    assert type(outcome) is Aichat.AichatInputError
    assert str(outcome) == message
    assert sent == []


class BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def test_a_value_whose_repr_fails_is_still_named() -> None:
    outcome, _ = call(None, temperature=BrokenRepr())
    assert str(outcome) == ("temperature must be a number from 0 to 2, not BrokenRepr "
                            "<BrokenRepr>" + NOT_SENT)


ANSWER_EXAMPLES = [
    (Answer(403, "Forbidden", "text/plain"), {},
     f"blocked by the bot wall: POST {URL} answered 403 with 'Forbidden'; use another network "
     "or proxy, or point base_url at a reachable server"),
    (Answer(200, '{"response": false}', "application/json"), {},
     f"the site refused: no reason given (POST {URL}); change the prompt or try again later"),
    (Answer(200, '{"response": false, "message": "' + "a\\nb " * 100 + '"}',
            "application/json"), {},
     "the site refused: " + ("a b " * 50)[:197] + f"... (POST {URL}); change the prompt or try "
     "again later"),
    (Answer(200, "{}", "application/json"), {},
     f'POST {URL} answered a JSON object without a string "message" (keys: none); the site '
     "changed or is failing"),
    (Answer(200, "{" + ", ".join(f'"key{i}": 1' for i in range(40)) + "}", "application/json"),
     {}, f'POST {URL} answered a JSON object without a string "message" (keys: key0, key1, '
         "key10, key11, key12, key13, key14, key15, key16, key17, key18, ke...); the site "
         "changed or is failing"),
    (Answer(302, "moved", "text/plain"), {},
     f"POST {URL} answered 302: 'moved'; expected 200 with JSON; check the base URL"),
    (Answer(200, '{"message": "0123456789"}', "application/json"), {"max_response_bytes": 10},
     f"POST {URL} answered 200 with a body of more than 10 bytes (counted after content "
     "decoding), and the rest was not read; pass a larger max_response_bytes if such answers "
     "are expected"),
    (Answer(500, "x" * 300, "text/plain"), {},
     f"POST {URL} answered 500: '{'x' * 197}...'; the site is failing, try again later"),
    (Answer(429, "x", "text/plain", {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}), {},
     f"rate limited: POST {URL} answered 429; wait 0 s and try again, or send fewer requests"),
    (Answer(429, "x", "text/plain", {"Retry-After": "1.5"}), {},
     f"rate limited: POST {URL} answered 429; wait 1.5 s and try again, or send fewer "
     "requests"),
]


@pytest.mark.parametrize(("answer", "kwargs", "message"), ANSWER_EXAMPLES,
                         ids=[row[2][len(URL) - 5:][:40] for row in ANSWER_EXAMPLES])
def test_answer_error_messages(answer: Answer, kwargs: dict[str, Any], message: str) -> None:
    outcome, sent = call(answer, max_retries=0, **kwargs)
    assert str(outcome) == message
    assert outcome.url == URL  # type: ignore[union-attr]
    assert len(sent) == 1


def test_an_excerpt_is_the_first_two_hundred_characters_on_one_line() -> None:
    outcome, _ = call(Answer(500, "a\n\tb  " + "x" * 300, "text/plain"), max_retries=0)
    assert isinstance(outcome, Aichat.AichatHTTPError)
    assert outcome.body == "a b " + "x" * 193 + "..."
    assert len(outcome.body) == 200
    exact, _ = call(Answer(502, "y" * 200, "text/plain"), max_retries=0)
    assert isinstance(exact, Aichat.AichatHTTPError) and exact.body == "y" * 200


# --- the error classes as a caller may build them, and the parts of Retry-After dates ------------

def test_the_error_classes_defaults() -> None:
    """docs/provider.md: AichatRateLimitError is the 429; its wait is unknown unless given."""
    limited = Aichat.AichatRateLimitError("slow down")
    assert (limited.status_code, limited.retry_after, limited.body, limited.url) == (
        429, None, "", None)
    assert str(limited) == "slow down"
    refused = Aichat.AichatUpstreamError("refused")
    assert (refused.reason, refused.url) == ("", None)
    failed = Aichat.AichatHTTPError("failed", url=URL, status_code=500, body="boom")
    assert (failed.status_code, failed.body, failed.url) == (500, "boom", URL)


@pytest.mark.parametrize("zone", [timezone.utc, timezone(timedelta(hours=2)),
                                  timezone(timedelta(hours=-5, minutes=-30))],
                         ids=["utc", "plus-2", "minus-5-30"])
def test_retry_after_dates_in_any_zone(zone: timezone) -> None:
    when = datetime.now(timezone.utc) + timedelta(seconds=120)
    text = email.utils.format_datetime(when.astimezone(zone))
    seconds = Aichat.retry_after_seconds(text)
    assert seconds is not None and 115 <= seconds <= 120


def test_a_retry_after_date_without_a_zone_is_utc() -> None:
    # RFC 5322's "-0000": a time in UTC whose local zone is unknown (a naive datetime).
    when = datetime.now(timezone.utc) + timedelta(seconds=120)
    text = email.utils.format_datetime(when.replace(tzinfo=None))
    assert text.endswith("-0000")
    seconds = Aichat.retry_after_seconds(text)
    assert seconds is not None and 115 <= seconds <= 120


def test_the_first_module_that_imports_is_taken() -> None:
    assert Aichat._optional_module("a_module_nobody_installed", "json") is json
    assert Aichat._optional_module("a_module_nobody_installed") is None


def test_a_transport_reason_is_the_innermost_error_on_one_line_cut_at_160() -> None:
    inner = OSError("x" * 140)  # "OSError: " and 140 characters: 149, kept whole
    outer = requests.ConnectionError(inner)
    assert Aichat._reason(outer) == "OSError: " + "x" * 140
    assert Aichat._reason(ValueError("y" * 148)) == "ValueError: " + "y" * 148  # 160
    assert Aichat._reason(ValueError("y" * 149)) == "ValueError: " + "y" * 145 + "..."
    assert Aichat._reason(ValueError("two\nlines")) == "ValueError: two lines"
