"""From a WSGI environ to the core's ``IncomingRequest``: the one request builder of the Flask
routes and the fast path; the namespace prefix split off the path before routing; and the
client socket the ``disconnect`` fault closes."""

from __future__ import annotations

import contextlib
import socket
from typing import IO, Any, Literal

from werkzeug.exceptions import ClientDisconnected
from werkzeug.wsgi import get_content_length, get_input_stream

from ..core import edge, namespaces
from ..core.edge import DRAIN_LIMIT, MAX_BODY
from ..core.wire import IncomingRequest, wire_text

# What a body is read by.
READ_CHUNK = 65_536
# Where WSGI servers put the client socket: gunicorn and werkzeug's development server.
SOCKET_KEYS = ("gunicorn.socket", "werkzeug.socket")

# Where the namespace of a request under /ns/{name}/ is kept in the environ.
NAMESPACE_KEY = "aichat_mock.namespace"


def split_namespace(environ: dict[str, Any]) -> None:
    """Move a ``/ns/{name}`` prefix from ``PATH_INFO`` to ``SCRIPT_NAME`` and note the
    namespace: the routes then see the path within it, and the URLs Flask builds (the
    inspector's) keep the prefix."""
    path = environ.get("PATH_INFO", "")
    if path.startswith(namespaces.PREFIX):
        name = edge.split(path).namespace
        if name != namespaces.DEFAULT:
            prefix = namespaces.prefix(name)
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + prefix
            environ["PATH_INFO"] = path[len(prefix):]
            environ[NAMESPACE_KEY] = name


def namespace_of(environ: dict[str, Any]) -> str:
    """The namespace of a request (``""``: the default one)."""
    name: str = environ.get(NAMESPACE_KEY, namespaces.DEFAULT)
    return name


# How a body read ended: all of it arrived ("whole"); it was left unread past DRAIN_LIMIT
# ("unread"); or the client stopped sending before the end it announced ("cut"). Only a whole
# body leaves the connection fit for the next request.
BodyEnd = Literal["whole", "unread", "cut"]


def request_from_environ(environ: dict[str, Any], max_content_length: int | None = None
                         ) -> tuple[IncomingRequest, BodyEnd]:
    """The request as the engine sees it, and how the read of its body ended.
    ``max_content_length`` is Flask's setting of that name: a longer body raises werkzeug's
    ``RequestEntityTooLarge``."""
    length = get_content_length(environ)
    end: BodyEnd
    stream = get_input_stream(environ, max_content_length=max_content_length)
    if length is not None and length > DRAIN_LIMIT:
        body, size, end = b"", length, "unread"
    else:
        body, size, end = read_stream(stream, length)
    incoming = IncomingRequest(
        # As sent: werkzeug upper-cases request.method, and "post" is not POST (RFC 9110 9.1).
        method=environ.get("REQUEST_METHOD") or "GET",
        # PATH_INFO as is: Flask's request.path would fold "//api" into "/api".
        path=wire_text(environ.get("PATH_INFO", "")) or "/",
        query=wire_text(environ.get("QUERY_STRING", "")),
        headers=headers_of(environ),
        body=body,
        remote_addr=environ.get("REMOTE_ADDR"),
        body_size=size,
        body_complete=end != "cut",
        namespace=namespace_of(environ),
        host=_host_of(environ),
        scheme=environ.get("wsgi.url_scheme") or "http",
    )
    return incoming, end


def request_head(environ: dict[str, Any]) -> IncomingRequest:
    """The request as the engine sees it when its body is not read: no body, ``body_size``
    the length it announced (0 when it announced none)."""
    return IncomingRequest(
        method=environ.get("REQUEST_METHOD") or "GET",
        path=wire_text(environ.get("PATH_INFO", "")) or "/",
        query=wire_text(environ.get("QUERY_STRING", "")),
        headers=headers_of(environ),
        remote_addr=environ.get("REMOTE_ADDR"),
        body_size=get_content_length(environ) or 0,
        namespace=namespace_of(environ),
        host=_host_of(environ),
        scheme=environ.get("wsgi.url_scheme") or "http",
    )


def _host_of(environ: dict[str, Any]) -> str | None:
    host: str | None = environ.get("HTTP_HOST")
    return None if host is None else wire_text(host)


# Header name of each environ key seen so far ("" for keys that are not headers): the same
# few dozen keys come with every request, so each is worked out once. Bounded, against a
# client that invents new header names on every request.
_HEADER_NAMES: dict[str, str] = {}
_HEADER_NAMES_CAP = 4096


def _header_name(key: str) -> str:
    if key.startswith("HTTP_"):
        name = key[5:].replace("_", "-").lower()
    elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):  # present even when sent empty
        name = key.replace("_", "-").lower()
    else:
        name = ""
    if len(_HEADER_NAMES) < _HEADER_NAMES_CAP:
        _HEADER_NAMES[key] = name
    return name


def headers_of(environ: dict[str, Any]) -> dict[str, str]:
    """Request headers from a WSGI environ: lower-case names, values as sent."""
    headers: dict[str, str] = {}
    names = _HEADER_NAMES
    for key, value in environ.items():
        name = names.get(key)
        if name is None:
            name = _header_name(key)
        if name:
            headers[name] = value if value.isascii() else wire_text(value)
    return headers


def read_stream(stream: IO[bytes], length: int | None) -> tuple[bytes, int, BodyEnd]:
    """Up to MAX_BODY + 1 bytes of a body stream, the size seen, and how the read ended (a
    body past DRAIN_LIMIT is left unread). ``length`` is the Content-Length, if any."""
    kept: list[bytes] = []
    room = MAX_BODY + 1
    size = 0

    def take(chunk: bytes) -> None:
        nonlocal room, size
        size += len(chunk)
        if room > 0:
            kept.append(chunk[:room])
            room -= len(kept[-1])

    try:
        while chunk := stream.read(READ_CHUNK):
            take(chunk)
            if size > DRAIN_LIMIT:
                return b"".join(kept), size, "unread"
    except (ClientDisconnected, OSError):
        # werkzeug's own server raises when the stream ends before its Content-Length, and
        # gunicorn when a chunked body does before its last chunk. gunicorn still holds the
        # chunks it decoded before that: one more read hands them over, for the journal.
        with contextlib.suppress(ClientDisconnected, OSError):
            take(stream.read(READ_CHUNK))
        return b"".join(kept), size, "cut"
    # gunicorn (wsgi.input_terminated) ends the stream quietly where the client stopped.
    return b"".join(kept), size, "whole" if length is None or size >= length else "cut"


def client_socket(environ: dict[str, Any]) -> socket.socket | None:
    """The client's socket, when the server lets the app reach it."""
    sock = next((environ[key] for key in SOCKET_KEYS if key in environ), None)
    if sock is None:
        # waitress has no socket in the environ, but its disconnect check is a method of the
        # connection's channel, which holds the socket.
        channel = getattr(environ.get("waitress.client_disconnected"), "__self__", None)
        sock = getattr(channel, "socket", None)
    return sock if isinstance(sock, socket.socket) else None
