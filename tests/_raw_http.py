"""Helpers for the mock's robustness tests: clients that never use a proxy, an oracle for
what ``POST /api/text`` must answer to a body, and raw-socket HTTP for requests no client
library would send."""

from __future__ import annotations

import contextlib
import json
import math
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import requests
from loopback import load_openapi

MAX_BODY = 1 << 20  # SPEC 4: a longer body answers 413
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


def session() -> requests.Session:
    """A client of its own, never routed through a proxy from the environment."""
    client = requests.Session()
    client.trust_env = False
    return client


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
    """What SPEC 4 lets ``{method} /api/text`` answer to ``body`` with no reply queued.

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
    """SPEC 4's refusal shape: ``{"response": false, "message": "invalid request: ..."}``."""
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

@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-case names; the last value wins
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname == "127.0.0.1" and parts.port is not None, url
    return parts.hostname, parts.port


def connect(url: str, timeout: float = 15.0) -> socket.socket:
    sock = socket.create_connection(address(url), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks: list[bytes] = []
    while True:
        try:
            chunk = sock.recv(65_536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def exchange(url: str, data: bytes, *, shut_write: bool = False) -> bytes:
    """Send ``data`` on a new connection and read until the server closes it; the request
    should ask for ``Connection: close`` (or be one the server gives up on)."""
    with connect(url) as sock:
        sock.sendall(data)
        if shut_write:
            # The server may have answered and closed (or reset) already: gunicorn's gevent
            # workers refuse an over-long request line before the client is done.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)
        return read_all(sock)


def parse_response(raw: bytes) -> RawResponse:
    """The first HTTP/1.1 response in ``raw`` (Content-Length bodies, or up to the close)."""
    head, separator, rest = raw.partition(b"\r\n\r\n")
    assert separator, f"no complete response head in {raw[:200]!r}"
    lines = head.decode("latin-1").split("\r\n")
    version, status, *_ = lines[0].split(" ", 2)
    assert version.startswith("HTTP/1."), lines[0]
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = headers.get("content-length")
    body = rest[:int(length)] if length is not None else rest
    return RawResponse(int(status), headers, body)


def request_bytes(method: str, path: str, url: str, *, body: bytes = b"",
                  headers: list[tuple[str, str]] | None = None,
                  content_length: int | None = None) -> bytes:
    """An HTTP/1.1 request, byte for byte; ``Connection: close`` unless told otherwise."""
    host = "{}:{}".format(*address(url))
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    given = {name.lower() for name, _ in headers or []}
    if "connection" not in given:
        lines.append("Connection: close")
    if "content-length" not in given and "transfer-encoding" not in given:
        lines.append(f"Content-Length: {len(body) if content_length is None else content_length}")
    lines += [f"{name}: {value}" for name, value in headers or []]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
