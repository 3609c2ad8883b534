"""The lean path of ``POST /api/text`` answers exactly what the Flask route answers, and the
quick schema check never accepts a body the full validator refuses."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.test import Client, EnvironBuilder, run_wsgi_app

from mock_server import create_app, engine_of
from mock_server.core import contract, fast_accept
from mock_server.web.fast_path import FastPath

BODY: dict[str, Any] = {"message": "user: Hello\nassistant:", "temperature": 1,
                        "presence_penalty": 0, "top_p": 1, "frequency_penalty": 0}
HEADERS = {**contract.header_table(), "X-Name": "Zoë".encode().decode("latin-1")}

# (scripted replies to queue first, raw body, query string)
CASES: list[tuple[list[dict[str, Any]], bytes, str]] = [
    ([], json.dumps(BODY).encode(), ""),
    ([], json.dumps(BODY).encode(), "a=1&b=%C3%A9"),
    ([], b"not json", ""),
    ([], b'{"message": 1, "temperature": 9}', ""),
    ([], json.dumps({**BODY, "temperature": 1.5, "extra": [1]}).encode(), ""),
    ([], json.dumps({**BODY, "top_p": True}).encode(), ""),
    ([], b"\xff\xfe", ""),
    ([], b"[1, 2]", ""),
    ([], b"", ""),
    ([], b" " * ((1 << 20) + 10), ""),
    ([{"message": "hi", "status": 418, "retry_after": 5}], json.dumps(BODY).encode(), ""),
    ([{"fault": "rate_limit", "retry_after": "Wed, 21 Oct 2015 07:28:00 GMT"}],
     json.dumps(BODY).encode(), ""),
    ([{"fault": "empty_body"}], json.dumps(BODY).encode(), ""),
    ([{"fault": "cloudflare"}], json.dumps(BODY).encode(), ""),
    ([{"fault": "malformed_json"}], json.dumps(BODY).encode(), ""),
    ([{"status": 599, "response": None}], json.dumps(BODY).encode(), ""),
    ([{"fault": "upstream_error", "message": "boom"}], json.dumps(BODY).encode(), ""),
]


def answer(client: Client, body: bytes, query: str) -> tuple[str, list[tuple[str, str]], bytes]:
    response = client.post("/api/text", data=body, headers=HEADERS, query_string=query)
    return response.status, list(response.headers.items()), response.get_data()


def without_time(entry: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in entry.items() if key != "time"}


@pytest.mark.parametrize(("replies", "body", "query"), CASES)
def test_the_fast_path_answers_and_journals_as_flask_does(
        replies: list[dict[str, Any]], body: bytes, query: str) -> None:
    results = []
    for lean in (True, False):
        app = create_app()
        assert isinstance(app.wsgi_app, FastPath)
        client = Client(app.wsgi_app if lean else app.wsgi_app.flask_wsgi_app)
        if replies:
            engine_of(app).queue_replies(replies)
        results.append((answer(client, body, query),
                        [without_time(item) for item in engine_of(app).requests()["requests"]]))
    assert results[0] == results[1]
    assert len(results[0][1]) == 1


def test_a_bug_on_the_fast_path_answers_as_flask_does(monkeypatch: pytest.MonkeyPatch) -> None:
    results = []
    for lean in (True, False):
        app = create_app()
        app.logger.disabled = True  # the traceback is expected here

        def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("a bug")

        monkeypatch.setattr(engine_of(app), "handle", broken)
        assert isinstance(app.wsgi_app, FastPath)
        client = Client(app.wsgi_app if lean else app.wsgi_app.flask_wsgi_app)
        results.append(answer(client, json.dumps(BODY).encode(), ""))
    assert results[0] == results[1]
    assert results[0][0].startswith("500")


@pytest.mark.parametrize("terminated", [True, False], ids=["gunicorn-like", "werkzeug-like"])
def test_a_body_cut_short_is_refused_alike_on_both_paths(terminated: bool) -> None:
    """A server that ends the stream quietly where the client stopped (gunicorn sets
    wsgi.input_terminated) and one whose stream raises (werkzeug's): the same 400."""
    sent = json.dumps(BODY).encode()
    results = []
    for lean in (True, False):
        app = create_app()
        assert isinstance(app.wsgi_app, FastPath)
        builder = EnvironBuilder(path="/api/text", method="POST", data=sent, headers=HEADERS)
        environ = builder.get_environ()
        environ["CONTENT_LENGTH"] = str(len(sent) + 40)
        if terminated:
            environ["wsgi.input_terminated"] = True
        wsgi = app.wsgi_app if lean else app.wsgi_app.flask_wsgi_app
        body, status, headers = run_wsgi_app(wsgi, environ, buffered=True)
        results.append(((status, list(headers.items()), b"".join(body)),
                        [without_time(item) for item in engine_of(app).requests()["requests"]]))
    assert results[0] == results[1]
    (status, headers, body), entries = results[0]
    assert status.startswith("400") and ("Connection", "close") in headers
    message = json.loads(body)["message"]
    assert message.startswith(
        f"invalid request: the body ended after {len(sent)} of {len(sent) + 40} bytes")
    assert [entry["violations"] for entry in entries] == [
        [message.removeprefix("invalid request: ")]]


def test_other_requests_and_a_size_limit_go_through_flask() -> None:
    app = create_app({"MAX_CONTENT_LENGTH": 10})
    response = app.test_client().post("/api/text", json=BODY)
    assert response.status_code == 413  # Flask's own limit, which the lean path leaves to it
    assert create_app().test_client().get("/api/text").status_code == 405


# --- the quick schema check ----------------------------------------------------------------------

QUICK = fast_accept.build(contract.request_validator().schema)
NUMBERS = (st.integers(-5, 5) | st.floats(-3, 3, allow_nan=False) | st.booleans() | st.none()
           | st.text(max_size=2) | st.just(10**30) | st.just(2.0000001))
FIELDS = ["message", "temperature", "presence_penalty", "top_p", "frequency_penalty", "other"]


def test_the_contract_schema_gets_a_quick_check() -> None:
    assert QUICK is not None
    assert QUICK(BODY)
    assert not QUICK({**BODY, "temperature": 3})


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS), NUMBERS | st.text(max_size=3), max_size=6)
       | st.lists(st.integers(), max_size=2) | NUMBERS)
def test_the_quick_check_never_accepts_what_the_validator_refuses(data: Any) -> None:
    assert QUICK is not None
    valid = not list(contract.request_validator().iter_errors(data))
    if QUICK(data):
        assert valid
    if isinstance(data, dict) and type(data.get("message")) is str and valid and all(
            type(value) in (int, float) for key, value in data.items()
            if key not in ("message", "other")):
        assert QUICK(data), "plain valid bodies take the quick path"


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({field: NUMBERS | st.text(max_size=3) for field in FIELDS[:-1]},
                             optional={"other": NUMBERS}))
def test_a_body_of_every_field_is_checked_like_any_other(data: dict[str, Any]) -> None:
    """A body of every field of the schema (a client's usual body) takes the
    quick check's first case: it accepts only what the validator does, and every plain one."""
    assert QUICK is not None
    valid = not list(contract.request_validator().iter_errors(data))
    assert QUICK(data) == (valid and type(data["message"]) is str and all(
        type(value) in (int, float) for key, value in data.items()
        if key not in ("message", "other")))


NAMES = ["a", "b", "c"]
BOUND_VALUES = st.integers(-3, 3) | st.floats(-3, 3, allow_nan=False)
PROPERTY_SCHEMAS = st.sampled_from(["string", "boolean"]).map(lambda kind: {"type": kind}) | \
    st.builds(lambda kind, bounds: {"type": kind, **bounds},
              st.sampled_from(["number", "integer"]),
              st.dictionaries(st.sampled_from(list(fast_accept.BOUNDS)), BOUND_VALUES,
                              max_size=2))
FLAT_SCHEMAS = st.builds(
    lambda properties, required: {"type": "object", "properties": properties,
                                  **({"required": required} if required is not None else {})},
    st.dictionaries(st.sampled_from(NAMES), PROPERTY_SCHEMAS, max_size=3),
    st.none() | st.lists(st.sampled_from([*NAMES, "d"]), unique=True, max_size=3))
VALUES = st.integers(-4, 4) | st.floats(-4, 4, allow_nan=False) | st.booleans() | st.none() | \
    st.text(max_size=2) | st.just(2.0)


@settings(max_examples=300, deadline=None)
@given(FLAT_SCHEMAS, st.dictionaries(st.sampled_from([*NAMES, "d"]), VALUES, max_size=4))
def test_the_quick_check_of_any_flat_schema_agrees_with_the_validator(
        schema: dict[str, Any], data: dict[str, Any]) -> None:
    """For any flat schema it understands (bounds open or closed, names required that it
    does not describe): the quick check accepts only what the validator accepts, and every
    valid body whose values are of its types exactly (1.0 is an integer to the validator,
    not to the quick check)."""
    check = fast_accept.build(schema)
    assert check is not None
    valid = jsonschema.Draft202012Validator(schema).is_valid(data)
    plain = all(type(value) in fast_accept.TYPES[schema["properties"][name]["type"]]
                for name, value in data.items() if name in schema["properties"])
    assert check(data) == (valid and plain)
    # The same body with every property filled in (the first case's shape).
    full = {name: data.get(name, "") if schema["properties"][name]["type"] == "string"
            else data.get(name, 0) for name in schema["properties"]}
    valid = jsonschema.Draft202012Validator(schema).is_valid(full)
    plain = all(type(value) in fast_accept.TYPES[schema["properties"][name]["type"]]
                for name, value in full.items())
    assert check(full) == (valid and plain)


@pytest.mark.parametrize("schema", [
    {"type": "object", "properties": {"a": {"type": "string", "maxLength": 3}}},
    {"type": "object", "additionalProperties": False},
    {"type": "object", "properties": {"a": {"type": ["string", "null"]}}},
    {"type": "object", "properties": {"a": {"$ref": "#/x"}}},
    {"type": "array"},
    {"type": "object", "properties": {"a": {"type": "string", "minimum": 1}}},
])
def test_schemas_beyond_its_reach_get_no_quick_check(schema: dict[str, Any]) -> None:
    assert fast_accept.build(schema) is None
