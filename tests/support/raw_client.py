"""HTTP clients for the mock's tests: a ``requests`` session that never goes through a proxy
from the environment, and raw-socket HTTP for requests no client library would send."""

from __future__ import annotations

import contextlib
import json
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests


def session() -> requests.Session:
    """A client of its own, never routed through a proxy from the environment."""
    client = requests.Session()
    client.trust_env = False
    return client


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


_LEFT: dict[int, bytes] = {}  # bytes read past the last response, per socket


def read_response(sock: socket.socket, *, head: bool = False) -> RawResponse:
    """One response (Content-Length framed) from a kept-alive connection."""
    data = _LEFT.pop(sock.fileno(), b"")
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65_536)
        assert chunk, f"the connection closed after {data!r}"
        data += chunk
    head_bytes, _, rest = data.partition(b"\r\n\r\n")
    response = parse_response(head_bytes + b"\r\n\r\n")
    length = 0 if head else int(response.headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65_536)
        assert chunk, "the connection closed in the middle of a body"
        rest += chunk
    if rest[length:]:
        _LEFT[sock.fileno()] = rest[length:]
    return RawResponse(response.status, response.headers, rest[:length])


def closed_without_a_byte(sock: socket.socket) -> bool:
    """Whether the mock closed ``sock`` with nothing more to read (read_response's leftovers
    count)."""
    if _LEFT.pop(sock.fileno(), b""):
        return False
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


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
