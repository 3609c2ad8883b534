"""The site's routes: a thin Flask adapter over ``Engine.handle``."""

from __future__ import annotations

import contextlib
import functools
import socket
import time
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any, Literal

from flask import Blueprint, Flask, Response, current_app, render_template, request
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import ClientDisconnected
from werkzeug.routing import PathConverter
from werkzeug.wsgi import get_content_length, get_input_stream

from .contract import API_PATH
from .engine import MAX_BODY, Engine
from .wire import IncomingRequest

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse

blueprint = Blueprint("site", __name__)

# Every method reaches the engine, which answers 405 itself where a route wants another.
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]
READ_CHUNK = 65_536
# Bodies up to this size are read to the end (and dropped past MAX_BODY) so that the
# connection stays usable; a longer one is answered at once and the connection closed.
DRAIN_LIMIT = 16 * MAX_BODY
# Where WSGI servers put the client socket: gunicorn and werkzeug's development server.
SOCKET_KEYS = ("gunicorn.socket", "werkzeug.socket")

# How a body read ended: all of it arrived ("whole"); it was left unread past DRAIN_LIMIT
# ("unread"); or the client stopped sending before the end it announced ("cut"). Only a whole
# body leaves the connection fit for the next request.
BodyEnd = Literal["whole", "unread", "cut"]


class RawResponse(Response):
    """A response that adds no Content-Type of its own (``empty_body`` sends none)."""

    default_mimetype = None


@blueprint.route("/api/text", methods=METHODS)
def api_text() -> Response:
    return serve()


@blueprint.route("/chat", methods=METHODS)
def chat() -> Response:
    return serve()


class SitePathConverter(PathConverter):
    """Any path but the admin API's: its unknown routes and methods are the admin's to refuse."""

    regex = "(?!__mock__(?:/|$))" + PathConverter.regex


@blueprint.record_once
def _register_converter(state: BlueprintSetupState) -> None:
    state.app.url_map.converters["site_path"] = SitePathConverter


@blueprint.route("/", defaults={"path": ""}, methods=METHODS)
@blueprint.route("/<site_path:path>", methods=METHODS)
def other(path: str) -> Response:
    return serve()


def serve() -> Response:
    """Hand the current request to the engine and send its answer."""
    engine: Engine = current_app.extensions["aichat_mock"]
    incoming, end = read_request()
    outcome = engine.handle(incoming, chat_page=_render_chat)
    answer = outcome.answer
    if answer.delay > 0:
        time.sleep(answer.delay)  # one worker thread waits; the others go on serving
    if answer.disconnect:
        return disconnect(request.environ)
    response = RawResponse(answer.body, status=answer.status, headers=list(answer.headers))
    if end != "whole":
        response.headers["Connection"] = "close"
    return response


def _render_chat() -> bytes:
    return render_template("chat.html").encode("utf-8")


def read_request() -> tuple[IncomingRequest, BodyEnd]:
    """The request as the engine sees it, and how the read of its body ended."""
    environ = request.environ
    body, size, end = _read_body()
    incoming = IncomingRequest(
        # As sent: werkzeug upper-cases request.method, and "post" is not POST (RFC 9110 9.1).
        method=environ.get("REQUEST_METHOD") or "GET",
        # PATH_INFO as is: Flask's request.path would fold "//api" into "/api".
        path=_wire_text(environ.get("PATH_INFO", "")) or "/",
        query=_wire_text(environ.get("QUERY_STRING", "")),
        headers=headers_of(environ),
        body=body,
        remote_addr=request.remote_addr,
        body_size=size,
        body_complete=end != "cut",
    )
    return incoming, end


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
            headers[name] = value if value.isascii() else _wire_text(value)
    return headers


def _wire_text(value: str) -> str:
    """WSGI hands header bytes over as latin-1 text; UTF-8 senders get their text back."""
    if value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def _read_body() -> tuple[bytes, int, BodyEnd]:
    """Up to MAX_BODY + 1 bytes of the body, the size seen, and how the read ended."""
    length = request.content_length
    if length is not None and length > DRAIN_LIMIT:
        return b"", length, "unread"
    return read_stream(request.stream, length)


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


def disconnect(environ: dict[str, Any]) -> Response:
    """Close the client connection without a byte of answer."""
    sock = client_socket(environ)
    if sock is not None:
        with contextlib.suppress(OSError):  # the client may have gone already
            sock.shutdown(socket.SHUT_RDWR)
        # The server's attempt to write this fails on the closed socket and is dropped.
        return RawResponse(b"", status=200, headers=[("Connection", "close")])
    return RawResponse(
        b"the disconnect fault needs a server that lets the app reach the client socket "
        b"(gunicorn, waitress or werkzeug); this one does not\n",
        status=501, headers=[("Content-Type", "text/plain; charset=utf-8"),
                             ("Connection", "close")])


@functools.cache
def status_line(status: int) -> str:
    """The status line werkzeug would send for ``status`` (``"429 TOO MANY REQUESTS"``)."""
    return RawResponse(status=status).status


class FastPath:
    """WSGI middleware: ``POST /api/text`` goes from the environ to the engine and back
    without Flask's request context, routing and response objects, which cost more than the
    mock's own work. The answer is the one the Flask route gives, byte for byte; every other
    request, and any failure, is the Flask app's as before."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.flask_wsgi_app = app.wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse
                 ) -> Iterable[bytes]:
        if (environ.get("PATH_INFO") != API_PATH or environ.get("REQUEST_METHOD") != "POST"
                or self.app.config["MAX_CONTENT_LENGTH"] is not None):
            return self.flask_wsgi_app(environ, start_response)
        try:
            length = get_content_length(environ)
            end: BodyEnd
            if length is not None and length > DRAIN_LIMIT:
                body, size, end = b"", length, "unread"
            else:
                body, size, end = read_stream(get_input_stream(environ), length)
            incoming = IncomingRequest(
                method="POST", path=API_PATH,
                query=_wire_text(environ.get("QUERY_STRING", "")),
                headers=headers_of(environ), body=body,
                remote_addr=environ.get("REMOTE_ADDR"), body_size=size,
                body_complete=end != "cut")
            engine: Engine = self.app.extensions["aichat_mock"]
            answer = engine.handle(incoming).answer
            if answer.delay > 0:
                time.sleep(answer.delay)  # one worker thread waits; the others go on serving
            if answer.disconnect:
                return disconnect(environ)(environ, start_response)
        except Exception as error:  # a bug of the mock: Flask's handler logs it, answers JSON
            with self.app.request_context(environ):
                response = self.app.handle_exception(error)
            return response(environ, start_response)
        headers = [*answer.headers, ("Content-Length", str(len(answer.body)))]
        if end != "whole":
            headers.append(("Connection", "close"))
        start_response(status_line(answer.status), headers)
        return [answer.body]
