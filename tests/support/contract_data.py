"""The contract as data (contract/openapi.json and contract/cases), and an oracle written from
it: what the mock may answer to a body, and the header differences it reports. The tests take
their expected values from here and from ``expected``, never from the code under test."""

from __future__ import annotations

import json
import math
from typing import Any

import jsonschema
import requests

import aichat
from support import expected
from support.paths import CONTRACT

# Added by HTTP itself, never by the provider (docs/provider.md): the only headers beyond the
# table.
HTTP_OWN_HEADERS = expected.HTTP_OWN_HEADERS
# docs/mock-server.md's fault table and docs/provider.md's errors: the error each fault of the
# mock's catalogue must become, and its status.
FAULT_ERRORS: dict[str, tuple[type[aichat.AichatError], int | None]] = {
    "cloudflare": (aichat.AichatBlockedError, 403),
    "rate_limit": (aichat.AichatRateLimitError, 429),
    "server_error": (aichat.AichatHTTPError, 500),
    "bad_gateway": (aichat.AichatHTTPError, 502),
    "unavailable": (aichat.AichatHTTPError, 503),
    "upstream_error": (aichat.AichatUpstreamError, 200),
    "malformed_json": (aichat.AichatResponseError, 200),
    "html": (aichat.AichatBlockedError, 200),
    "empty_body": (aichat.AichatResponseError, 200),
    "disconnect": (aichat.AichatConnectionError, None),
}


def load_cases() -> list[dict[str, Any]]:
    return [json.loads(path.read_text(encoding="utf-8"))
            for path in sorted((CONTRACT / "cases").glob("*.json"))]


def load_openapi() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CONTRACT / "openapi.json").read_text(encoding="utf-8"))
    return data


def seed_headers(url: str, headers: dict[str, str], body: Any) -> list[tuple[str, str]]:
    """The headers, in order, that the 2023 module's ``requests.post(url, headers=..., json=...)``
    put on the wire (Host aside): the bytes the real site saw."""
    prepared = requests.Session().prepare_request(
        requests.Request("POST", url, headers=headers, json=body))
    return list(prepared.headers.items())


MAX_BODY = expected.MOCK_MAX_BODY  # a longer body answers 413
INVALID_PREFIX = "invalid request: "
AMBIGUOUS_DEPTH = 400
OPENAPI = load_openapi()
# The contract's request schema, its references resolved against the document.
REQUEST_SCHEMA = {
    **OPENAPI["paths"]["/api/text"]["post"]["requestBody"]["content"]["application/json"]
    ["schema"],
    "components": OPENAPI["components"],
}
_REQUEST_VALIDATOR = jsonschema.Draft202012Validator(REQUEST_SCHEMA)
HEADER_TABLE = {parameter["name"].lower(): parameter["schema"]["const"]
                for parameter in OPENAPI["paths"]["/api/text"]["post"]["parameters"]
                if parameter["in"] == "header"}


class _NotJSON(ValueError):
    pass


def _no_constant(name: str) -> Any:
    raise _NotJSON(name)


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _NotJSON(text)
    return value


def strict_json(body: bytes) -> Any:
    """The body as the contract reads JSON (RFC 8259: no NaN, no Infinity, no number beyond a
    double); raises ``ValueError`` for anything else."""
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_no_constant,
                          parse_float=_finite)
    except RecursionError as error:
        raise _NotJSON("nested too deep") from error


def depth(value: Any) -> int:
    """How deep arrays and objects nest in ``value`` (0 for a scalar)."""
    level, found = [value], 0
    while containers := [node for node in level if isinstance(node, (dict, list))]:
        found += 1
        level = [child for node in containers
                 for child in (node.values() if isinstance(node, dict) else node)]
    return found


def raw_depth(body: bytes) -> int:
    """How deep ``[`` and ``{`` nest in ``body`` outside JSON strings, without parsing it."""
    deepest = level = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            level += 1
            deepest = max(deepest, level)
        elif byte in (0x5D, 0x7D):
            level -= 1
    return deepest


def expected_statuses(method: str, body: bytes, size: int | None = None) -> set[int]:
    """What docs/mock-server.md lets ``{method} /api/text`` answer to ``body`` with no reply queued.

    The contract sets no limit on nesting, and Python's parser stops where its thread's stack
    runs out, which differs between the mock and this process: a body nested deeper than
    ``AMBIGUOUS_DEPTH`` may be read (200) or refused (400), but must not break anything.
    """
    if method != "POST":
        return {405}
    if (len(body) if size is None else size) > MAX_BODY:
        return {413}
    if raw_depth(body) > AMBIGUOUS_DEPTH:
        return {200, 400}
    try:
        data = strict_json(body)
    except ValueError:
        return {400}
    return {200} if _REQUEST_VALIDATOR.is_valid(data) else {400}


def is_refusal(data: Any) -> bool:
    """docs/mock-server.md's refusal shape: ``{"response": false, "message": "invalid request:
    ..."}``."""
    return (isinstance(data, dict) and data.get("response") is False
            and isinstance(data.get("message"), str)
            and data["message"].startswith(INVALID_PREFIX)
            and len(data["message"]) > len(INVALID_PREFIX))


def wire_text(value: str | bytes) -> str:
    """A header value as the mock journals it: the bytes sent, read as UTF-8 when they are,
    else as latin-1 (how HTTP/1.1 servers hand them over)."""
    raw = value if isinstance(value, bytes) else value.encode("latin-1")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def header_diff(sent: dict[str, str]) -> dict[str, dict[str, str | None]]:
    """What the journal's ``header_diff`` must say for the headers ``sent`` (lower-case
    names, values as journaled)."""
    return {name: {"expected": expected, "received": sent.get(name)}
            for name, expected in HEADER_TABLE.items() if sent.get(name) != expected}


# --- raw sockets ----------------------------------------------------------------------------


# Bodies POST /api/text refuses with 400, and words its refusal must hold: over HTTP
# (mock/web/test_site_routes.py) and in this process (mock/core/test_engine.py), where make
# mutants-mock reaches them.
def short_id(value: object) -> str | None:
    """A test id for a long body, or one with bytes pytest writes escaped: pytest's own id for
    one of 200 KB would go into PYTEST_CURRENT_TEST, whose value a child process started by
    the test then cannot take (Linux refuses an environment string over 128 KiB); and an id
    with a backslash is not found again by its node id (mutmut runs tests by theirs)."""
    if isinstance(value, bytes) and (len(value) > 40 or any(
            byte < 0x20 or byte > 0x7E or byte == 0x5C for byte in value)):
        start = "".join(char if char.isascii() and char.isalnum() else "_"
                        for char in value[:12].decode("latin-1"))
        return f"{start}-{len(value)}-bytes"
    return None


BAD_BODIES = [
    (b"not json", ["the body is not JSON"]),
    (b"", ["the body is not JSON"]),
    (b"[1, 2]", ["must be a JSON object", "not an array"]),
    (b'"Hello"', ["must be a JSON object", "not a string"]),
    (b"null", ["must be a JSON object", "not null"]),
    (b"{}", ["'message' is a required property"]),
    (b'{"message": 1}', ["message: 1 is not of type 'string'"]),
    (b'{"message": null}', ["message: None is not of type 'string'"]),
    (b'{"message": "x", "temperature": 3}', ["temperature: 3 is greater than the maximum of 2"]),
    (b'{"message": "x", "top_p": -0.5}', ["top_p: -0.5 is less than the minimum of 0"]),
    (b'{"message": "x", "presence_penalty": "1"}', ["presence_penalty: '1' is not of type"]),
    (b'{"message": "x", "frequency_penalty": true}', ["frequency_penalty: True is not of type"]),
    (b'{"message": "x", "temperature": NaN}', ["NaN is not allowed in JSON"]),
    (b'{"message": "x", "temperature": Infinity}', ["Infinity is not allowed in JSON"]),
    (b'{"message": "x", "temperature": 1e999}', ["out of range"]),
    (b'{"message": "\xff"}', ["not UTF-8"]),
    (b"[" * 100_000 + b"]" * 100_000, ["the body is not JSON"]),
    (b'{"message": 1, "temperature": 9}', ["message: 1 is not", "temperature: 9 is greater"]),
]
