"""The admin API and the pages under ``/__mock__/`` are the Flask app's: a request read by the
server is handed to it as a WSGI environ, its body already read whole, and its answer taken
back as bytes (the server writes them: the app never sees the socket)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from io import BytesIO
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import unquote_to_bytes

from .answers import header_lines

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from .cycle import Request

# Headers the server writes itself (the connection's fate, the framing).
_SERVERS_OWN = frozenset({"connection", "transfer-encoding", "keep-alive"})


class WsgiAnswer(NamedTuple):
    """The app's answer: status line, header lines, the body's length, the body."""

    line: bytes
    headers: bytes
    length: int
    body: bytes


def environ_of(request: Request, body: bytes, remote: str | None,
               server: tuple[str, int], multiprocess: bool) -> dict[str, Any]:
    """The WSGI environ of ``request``, as a WSGI server makes it (headers as latin-1 text,
    ``HTTP_`` keys, ``CONTENT_LENGTH`` the length of the body read)."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(request.raw_path).decode("latin-1"),
        "QUERY_STRING": request.raw_query.decode("latin-1"),
        "RAW_URI": (request.raw_path + (b"?" + request.raw_query if request.raw_query
                                        else b"")).decode("latin-1"),
        "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{request.version}",
        "REMOTE_ADDR": remote or "",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": request.scheme,
        "wsgi.input": BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": multiprocess,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
    }
    for key, value in request.headers.items():
        latin = value if value.isascii() else value.encode("utf-8").decode("latin-1")
        if key == "content-type":
            environ["CONTENT_TYPE"] = latin
        elif key == "content-length":
            environ["CONTENT_LENGTH"] = str(len(body))
        else:
            environ["HTTP_" + key.upper().replace("-", "_")] = latin
    if "CONTENT_LENGTH" not in environ and body:
        environ["CONTENT_LENGTH"] = str(len(body))
    return environ


def call(app: WSGIApplication, request: Request, remote: str | None,
         server: tuple[str, int], multiprocess: bool) -> WsgiAnswer:
    """The app's answer to ``request`` (in a pool thread: the app may block)."""
    body = b"".join(request.body)
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]],
                       exc_info: Any = None) -> Callable[[bytes], object]:
        started[:] = [status, headers]
        return lambda chunk: None

    chunks = app(environ_of(request, body, remote, server, multiprocess), start_response)
    try:
        payload = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    status, headers = started
    length = len(payload)
    kept = []
    for name, value in headers:
        lowered = name.lower()
        if lowered == "content-length":
            if request.method == "HEAD" and value.isdigit():
                length = int(value)
            continue
        if lowered not in _SERVERS_OWN:
            kept.append((name, value))
    return WsgiAnswer(b"HTTP/1.1 " + status.encode("latin-1") + b"\r\n", header_lines(kept),
                      length, payload)
