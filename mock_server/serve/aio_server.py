"""The mock's own HTTP/1.1 server: asyncio (on uvloop where it is installed) and httptools'
parser (llhttp, Node.js's), in one process by default.

The server owns every connection, so each of the mock's promises is kept here, not left to the
options of another server:

- the site (everything outside ``/__mock__/``) is answered on the event loop by the core's
  ``Engine.handle``: this module only carries bytes to an ``IncomingRequest`` and the
  ``Answer`` back to bytes; the admin API and the pages under ``/__mock__/`` go to the Flask
  app as WSGI, in a small thread pool, their body already read;
- faults: ``disconnect`` aborts the connection (not a byte of the answer is written),
  ``delay_ms`` waits on a timer (no thread held; the connection's later pipelined requests
  wait behind it, other connections go on), ``Retry-After`` is a header of the answer;
- slow and idle clients: the request line and headers must arrive within ``head_timeout``
  (10 s), a body within ``body_timeout`` (30 s) of its headers, and an idle kept-alive
  connection is closed after ``keepalive_timeout`` (30 s). A sweep twice a second closes the
  late ones: a slow head gets 408, a slow body to the site is journaled and answered as a body
  cut short (400);
- memory: the request line and headers are capped (``MAX_HEAD``: 431), an admin body is
  refused (413) as soon as it passes its cap (by its Content-Length before a byte of it is
  read, or while a chunked one is read), a site body over 16 MiB is not read (413, journaled);
  a connection whose client does not read its answers is not read either;
- ``Host``: checked (``core.hosts``) as soon as the headers are in, before the body; a foreign
  one gets 421 (journaled when the path is the site's), and the connection is closed;
- ``--workers N``: N processes share the listening socket and an SQLite store; each writes
  the journal records of one turn of its event loop in one transaction and sends that turn's
  answers only after the commit, so that an answered request is always in the store, even
  after a SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from io import BytesIO
from typing import Any, cast
from urllib.parse import unquote_to_bytes

import httptools
from flask import Flask

from ..core import namespaces
from ..core.engine import ADMIN_PREFIX, MAX_BODY, Engine, invalid
from ..core.hosts import HostPolicy
from ..core.wire import Answer, IncomingRequest, json_answer
from ..web.admin_routes import MAX_ADMIN_BODY
from ..web.app import engine_of
from ..web.environ import DRAIN_LIMIT, wire_text

try:
    import resource
except ImportError:  # Windows: no open-file limit to raise
    resource = None  # type: ignore[assignment]

# The request line and headers, in bytes; over it: 431. It also bounds what an entry's
# headers hold.
MAX_HEAD = 64 * 1024
# Threads of the pool that runs the Flask app for /__mock__/.
ADMIN_THREADS = 4
# Requests read ahead on one connection (pipelined) before reading it pauses.
PIPELINE_DEPTH = 16
# A connection whose client does not read: reading pauses above this many bytes unsent.
WRITE_HIGH_WATER = 256 * 1024
# After a refusal sent before the request was read to its end, what the client still sends is
# read and dropped for this long (and up to this many bytes) before the connection is closed:
# closing with unread bytes would reset the connection, and the client could lose the answer.
LINGER_SECONDS = 2.0
LINGER_BYTES = 16 << 20
# The open files 10,000 connections need, with some to spare.
WANTED_FILES = 12_000
BACKLOG = 4096

# httptools accepts only the methods llhttp knows, in upper case. Any other method token
# reaches the engine too (RFC 9110 9.1: methods are case-sensitive, "post" is not POST): the
# parser is handed a known one in its place.
PARSED_METHODS = frozenset({b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"TRACE",
                            b"PATCH"})
STAND_IN_METHOD = b"PUT"
_TOKEN_BYTES = frozenset(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         b"abcdefghijklmnopqrstuvwxyz")
MAX_METHOD = 64


@dataclass(frozen=True)
class Limits:
    """How long a client may take, in seconds (the command has hidden options for tests)."""

    head_timeout: float = 10.0
    body_timeout: float = 30.0
    keepalive_timeout: float = 30.0
    # In-flight answers (a delay_ms) get this long to be sent when the server stops.
    graceful_timeout: float = 3.0

    @property
    def sweep(self) -> float:
        """How often the deadlines are checked; each deadline gets this much slack."""
        return min(0.5, self.head_timeout / 4, self.body_timeout / 4,
                   self.keepalive_timeout / 4)


def status_line(status: int) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    return b"HTTP/1.1 %d %s\r\n" % (status, phrase.encode("latin-1"))


_STATUS_LINES: dict[int, bytes] = {}


def cached_status_line(status: int) -> bytes:
    line = _STATUS_LINES.get(status)
    if line is None:
        line = _STATUS_LINES[status] = status_line(status)
    return line


_LINES: dict[tuple[tuple[str, str], ...], bytes] = {}


def _header_lines(headers: Iterable[tuple[str, str]]) -> bytes:
    """The header lines of an answer; the few sets the engine answers with are kept."""
    key = headers if isinstance(headers, tuple) else None
    if key is not None:
        lines = _LINES.get(key)
        if lines is not None:
            return lines
    lines = b"".join(b"%s: %s\r\n" % (name.encode("latin-1"), value.encode("latin-1"))
                     for name, value in headers)
    if key is not None and len(_LINES) < 256:
        _LINES[key] = lines
    return lines


class Server:
    """What every connection of one process shares: the engine, the Flask app, the host
    policy, the deadlines' clock and the store's batches."""

    def __init__(self, app: Flask, hosts: HostPolicy, limits: Limits, *,
                 batched: bool) -> None:
        self.engine: Engine = engine_of(app)
        self.wsgi = app.wsgi_app
        self.hosts = hosts
        self.limits = limits
        # Each deadline's slack: the sweep's clock lags by up to one period.
        self.slack = limits.sweep
        self.loop = asyncio.get_running_loop()
        self.now = self.loop.time()
        self.conns: set[Conn] = set()
        self.pool = ThreadPoolExecutor(ADMIN_THREADS, thread_name_prefix="aichat-mock-admin")
        self.batched = batched
        # The journal's flush: a store that fails loses the batch's records (counted, said
        # once), never the answers.
        self._flush = self.engine.journal.flush if batched else None
        # Answers of this turn of the loop, written once the turn's records are committed.
        self.outbox: list[tuple[Conn, bytes, bool]] = []
        self.stopping = False
        self.date = b""
        self._tick_date()
        self._sweeper: asyncio.TimerHandle | None = self.loop.call_later(limits.sweep,
                                                                        self.sweep)

    def _tick_date(self) -> None:
        self.date = b"Date: " + formatdate(usegmt=True).encode("ascii") + b"\r\n"

    def sweep(self) -> None:
        """Close the connections past their deadline."""
        self.now = now = self.loop.time()
        self._tick_date()
        for conn in [conn for conn in self.conns if conn.deadline < now]:
            conn.expire()
        self._sweeper = self.loop.call_later(self.limits.sweep, self.sweep)

    def send(self, conn: Conn, data: bytes, close: bool) -> None:
        """Write an answer (``b""`` with ``close``: the disconnect fault), after the commit
        of this turn's journal records when the store takes them in batches."""
        if self._flush is None:
            conn.write(data, close)
            return
        if not self.outbox:
            self.loop.call_soon(self.commit)
        self.outbox.append((conn, data, close))

    def commit(self) -> None:
        """Write this turn's records in one transaction, then the answers that waited."""
        if self._flush is not None:
            self._flush()
        outbox, self.outbox = self.outbox, []
        for conn, data, close in outbox:
            conn.write(data, close)

    async def stop(self) -> None:
        """Close idle connections at once; let the others finish their answers (a delay,
        an admin call) for up to ``graceful_timeout``; then close what is left."""
        self.stopping = True
        for conn in list(self.conns):
            conn.stop()
        deadline = self.loop.time() + self.limits.graceful_timeout
        while self.conns and self.loop.time() < deadline:
            await asyncio.sleep(0.02)
        for conn in list(self.conns):
            conn.abort()
        if self._sweeper is not None:
            self._sweeper.cancel()
        self.commit()
        self.pool.shutdown(wait=True, cancel_futures=True)


IDLE, HEAD, BODY, DONE = range(4)
_HEADER_NAMES: dict[bytes, str] = {}
_HEADER_NAMES_CAP = 4096


class Request:
    """One parsed request waiting for its answer."""

    __slots__ = (
        "admin",
        "body",
        "complete",
        "headers",
        "keep",
        "method",
        "namespace",
        "path",
        "query",
        "raw_path",
        "raw_query",
        "size",
        "version",
    )

    def __init__(self, method: str, raw_path: bytes, raw_query: bytes, path: str, query: str,
                 namespace: str, headers: dict[str, str], admin: bool, version: str) -> None:
        self.method = method
        self.raw_path = raw_path
        self.raw_query = raw_query
        self.path = path
        self.query = query
        self.namespace = namespace
        self.headers = headers
        self.admin = admin
        self.version = version
        self.body: list[bytes] = []
        self.size = 0
        self.complete = True
        self.keep = True


class Refused(Exception):
    """Raised in a parser callback: the request is answered with this status and closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Conn(asyncio.Protocol):
    """One client connection: its parser, the request being read, the answers it waits for."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.remote: str | None = None
        self.state = IDLE
        self.deadline = server.now + server.limits.head_timeout + server.slack
        self.url = b""
        self.raw_headers: list[tuple[bytes, bytes]] = []
        self.head_bytes = 0
        self.method: bytes | None = None
        self.pending = b""
        self.current: Request | None = None
        self.queue: deque[Request] = deque()
        self.busy = False
        self.closed = False
        self.reading = True
        self.writing = True
        self.half_closed = False
        self.last = False  # no request after the one being answered
        # The answer that closes the connection once the answers owed before it are sent.
        self.closing: bytes | None = None
        # An answer the engine gave in a parser callback (421), for _refuse to send.
        self.refusal: Answer | None = None
        # Bytes still dropped after a refusal (None: not lingering).
        self.linger: int | None = None

    # --- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport = cast("asyncio.Transport", transport)
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        peer = transport.get_extra_info("peername")
        self.remote = peer[0] if isinstance(peer, tuple) else None
        self.server.conns.add(self)
        if self.server.stopping:
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.server.conns.discard(self)
        request = self.current
        if self.state == BODY and request is not None and not request.admin:
            # The client went away in the middle of its body: journaled as cut short.
            request.complete = False
            self._site(request, send=False)
        self.current = None
        self.queue.clear()

    def pause_writing(self) -> None:
        self.writing = False
        self._pause()

    def resume_writing(self) -> None:
        self.writing = True
        if not self.busy:
            self._next()
        self._resume()

    def eof_received(self) -> bool:
        """The client closed its side: answer what it sent whole, then close."""
        if self.linger is not None:
            self.close()
            return False
        self.half_closed = True
        request = self.current
        if self.state == BODY and request is not None:
            request.complete = False
            request.keep = False
            self.state = DONE
            self.current = None
            if request.admin:
                declared = request.headers.get("content-length")
                self._refuse(400, (f"the body ended after {request.size} of {declared} bytes "
                                   f"announced by its Content-Length; send the whole body")
                             if declared else "the body ended before its last chunk; send the "
                                              "whole body")
            else:
                self._enqueue(request)
            return True
        if self.busy or self.queue:
            self.last = True
            return True  # the answers still go out; closed after the last
        return False

    def data_received(self, data: bytes) -> None:
        if self.linger is not None:
            self.linger -= len(data)
            if self.linger < 0:
                self.close()
            return
        if self.closed or self.state == DONE:
            return  # refused or cut: nothing more is read from this connection
        if self.state == IDLE or self.state == HEAD:
            self.head_bytes += len(data)
            if self.state == IDLE:
                data = self._method_for_parser(data)
                if not data:
                    return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as error:
            cause = error.__context__
            if not isinstance(cause, Refused):
                raise
            self._refuse(cause.status, cause.message)
            return
        except httptools.HttpParserUpgrade:
            # No protocol is switched to: the request was answered as it is; nothing after it.
            self.last = True
        except httptools.HttpParserError as error:
            self._bad_message(str(error))
            return
        if self.state in (IDLE, HEAD) and self.head_bytes > MAX_HEAD and not self.closed:
            self._refuse(431, "the request line and headers are over "
                              f"{MAX_HEAD // 1024} KiB; send fewer or shorter headers")

    # --- a method the parser does not know ---------------------------------------------------

    def _method_for_parser(self, data: bytes) -> bytes:
        """The start of a request as the parser takes it: a method token it does not know is
        kept aside and a known one put in its place."""
        if self.pending:
            data, self.pending = self.pending + data, b""
        space = data.find(b" ", 0, MAX_METHOD + 1)
        if space < 0:
            if len(data) <= MAX_METHOD and all(byte in _TOKEN_BYTES for byte in data):
                self.pending = data  # the method token is not whole yet
                return b""
            return data
        token = data[:space]
        if token in PARSED_METHODS or not token or not all(byte in _TOKEN_BYTES
                                                           for byte in token):
            self.method = None
            return data
        self.method = token
        return STAND_IN_METHOD + data[space:]

    # --- httptools' callbacks ----------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.state = HEAD
        self.deadline = self.server.now + self.server.limits.head_timeout + \
            self.server.slack
        self.url = b""
        self.raw_headers = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.raw_headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.head_bytes = 0
        headers: dict[str, str] = {}
        names = _HEADER_NAMES
        host: bytes | None = None
        size = len(self.url)
        for name, value in self.raw_headers:
            size += len(name) + len(value)
            key = names.get(name)
            if key is None:
                key = name.decode("latin-1").lower()
                if "_" in key:  # dropped, as WSGI servers do: HTTP_X_A would be x-a or x_a
                    key = ""
                if len(names) < _HEADER_NAMES_CAP:
                    names[name] = key
            if not key:
                continue
            text = value.decode("latin-1")
            if not text.isascii():
                text = wire_text(text)
            if key in headers:  # a repeated header: joined, as WSGI servers do
                text = headers[key] + "," + text
            elif key == "host":
                host = value
            headers[key] = text
        if size + 4 * len(self.raw_headers) > MAX_HEAD:
            raise Refused(431, f"the request line and headers are over {MAX_HEAD // 1024} KiB; "
                               f"send fewer or shorter headers")
        version = self.parser.get_http_version()
        if version not in ("1.1", "1.0"):
            raise Refused(400, f"HTTP/{version} is not served; send HTTP/1.1")
        method = (self.method or self.parser.get_method()).decode("latin-1")
        self.method = None
        try:
            parsed = httptools.parse_url(self.url)
            raw_path, raw_query = parsed.path or b"/", parsed.query or b""
        except httptools.HttpParserInvalidURLError:
            raw_path, raw_query = self.url.partition(b"?")[::2]
        text = (unquote_to_bytes(raw_path) if b"%" in raw_path else raw_path).decode("latin-1")
        full = (text if text.isascii() else wire_text(text)) or "/"
        found = namespaces.split(full) if full.startswith(namespaces.PREFIX) else None
        namespace, path = found or (namespaces.DEFAULT, full)
        admin = path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")
        query = raw_query.decode("latin-1")
        request = Request(method, raw_path, raw_query, path,
                          query if query.isascii() else wire_text(query), namespace, headers,
                          admin, version)
        request.keep = self.parser.should_keep_alive()
        self.current = request
        self.state = BODY
        self.deadline = self.server.now + self.server.limits.body_timeout + \
            self.server.slack
        hosts = self.server.hosts
        if not hosts.allows(host):
            self.refusal = self.server.engine.refuse(
                self._incoming(request, b"", _declared(headers)), 421,
                hosts.refusal(host or b""))
            self.current = None
            raise Refused(421, "")
        declared = _declared(headers)
        if admin and declared > MAX_ADMIN_BODY:
            raise Refused(413, f"the body is over {MAX_ADMIN_BODY} bytes")
        if not admin and declared > DRAIN_LIMIT:
            # Not read: answered at once (413) and journaled with the size it announced.
            request.size = declared
            self._answer_unread(request)
        if headers.get("expect", "").lower() == "100-continue" and declared > 0 \
                and not self.busy and not self.queue and self.transport is not None:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, chunk: bytes) -> None:
        request = self.current
        if request is None:
            return
        request.size += len(chunk)
        if request.admin:
            if request.size > MAX_ADMIN_BODY:
                raise Refused(413, f"the body is over {MAX_ADMIN_BODY} bytes")
            request.body.append(chunk)
            return
        kept = request.size - len(chunk)
        if kept <= MAX_BODY:
            request.body.append(chunk[:MAX_BODY + 1 - kept])
        if request.size > DRAIN_LIMIT:
            self._answer_unread(request)

    def on_message_complete(self) -> None:
        request = self.current
        if request is None:
            return
        self._finish(request)

    def _answer_unread(self, request: Request) -> None:
        """A site body too long to read on: answered now (the engine says 413) and closed;
        nothing more is read. Raises, to stop the parser."""
        request.keep = False
        self.current = None
        self.state = DONE
        self.deadline = float("inf")
        self._pause()
        self._enqueue(request)
        raise Refused(0, "")

    def _finish(self, request: Request) -> None:
        """The request is read (or will not be read further): answer it in its turn."""
        self.current = None
        self.state = IDLE
        self.head_bytes = 0
        self.deadline = float("inf")
        self._enqueue(request)

    def _enqueue(self, request: Request) -> None:
        if self.closed:
            return  # read after the connection was closed (a disconnect): never answered
        if self.busy or self.queue or not self.writing:
            self.queue.append(request)
            if len(self.queue) >= PIPELINE_DEPTH:
                self._pause()
            return
        self._run(request)

    # --- answering ------------------------------------------------------------------------

    def _final(self, request: Request) -> bool:
        """Whether the answer to ``request`` is the last on this connection."""
        return not request.keep or (self.last and not self.queue and self.closing is None)

    def _run(self, request: Request) -> None:
        if not request.keep:
            self.last = True
            self.queue.clear()  # requests sent after a "Connection: close" are not answered
        if request.admin:
            self.busy = True
            self.server.loop.run_in_executor(self.server.pool, self._admin, request)
            return
        self._site(request, send=True)

    def _incoming(self, request: Request, body: bytes, size: int) -> IncomingRequest:
        return IncomingRequest(request.method, request.path, request.query, request.headers,
                               body, self.remote, size, request.complete, request.namespace)

    def _site(self, request: Request, *, send: bool) -> None:
        body = request.body[0] if len(request.body) == 1 else b"".join(request.body)
        answer = self.server.engine.handle(self._incoming(request, body, request.size)).answer
        if not send:
            return
        if not request.complete:
            request.keep = False
            self.last = True
        if answer.delay > 0:
            self.busy = True
            self.server.loop.call_later(answer.delay, self._deliver, request, answer)
            return
        self._deliver(request, answer)

    def _deliver(self, request: Request, answer: Answer) -> None:
        if self.closed:
            return
        if answer.disconnect:
            self.server.send(self, b"", True)
            return
        keep = not self._final(request)
        data = b"".join((cached_status_line(answer.status), _header_lines(answer.headers),
                         b"Content-Length: %d\r\n" % len(answer.body), self.server.date,
                         _connection(keep, request.version), b"\r\n",
                         b"" if request.method == "HEAD" else answer.body))
        self.server.send(self, data, not keep)

    def write(self, data: bytes, close: bool) -> None:
        """Send an answer; ``close``: then close (``b""``: abort, not a byte sent)."""
        transport = self.transport
        if self.closed or transport is None:
            return
        if close:
            # Closed once the answers before are sent; the disconnect fault (data b"") sends
            # nothing of its own.
            if data:
                transport.write(data)
            if self.state == DONE and not self.half_closed:
                self._linger()
                return
            self.closed = True
            transport.close()
            return
        transport.write(data)
        self.busy = False
        self._next()

    def _next(self) -> None:
        if self.closed or not self.writing:
            return
        if self.queue:
            request = self.queue.popleft()
            if len(self.queue) < PIPELINE_DEPTH:
                self._resume()
            self._run(request)
            return
        if self.closing is not None:
            data, self.closing = self.closing, None
            self.server.send(self, data, True)
            return
        if self.last or self.server.stopping:
            self.close()
            return
        if self.state == IDLE:
            self.deadline = self.server.now + self.server.limits.keepalive_timeout + \
                self.server.slack

    def _admin(self, request: Request) -> None:
        """In a pool thread: the Flask app answers a request to the admin API."""
        try:
            answered = self._wsgi(request)
        except Exception as error:
            print(f"aichat-mock: the admin API failed on {request.method} {request.path}: "
                  f"{error!r}", file=sys.stderr, flush=True)
            answer = json_answer(500, {"error": f"mock server error: {error!r}"})
            answered = (status_line(500), _header_lines(answer.headers), len(answer.body),
                        answer.body)
            request.keep = False
        self.server.loop.call_soon_threadsafe(self._admin_answered, request, answered)

    def _admin_answered(self, request: Request, answered: tuple[bytes, bytes, int, bytes]
                        ) -> None:
        line, headers, length, payload = answered
        final = self._final(request)
        self.write(b"".join((line, headers, b"Content-Length: %d\r\n" % length,
                             self.server.date, _connection(not final, request.version),
                             b"\r\n", b"" if request.method == "HEAD" else payload)), final)

    def _wsgi(self, request: Request) -> tuple[bytes, bytes, int, bytes]:
        """The Flask app's answer: status line, header lines, Content-Length, body."""
        body = b"".join(request.body)
        host, port = _server_address(self.transport)
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(request.raw_path).decode("latin-1"),
            "QUERY_STRING": request.raw_query.decode("latin-1"),
            "RAW_URI": (request.raw_path + (b"?" + request.raw_query if request.raw_query
                                            else b"")).decode("latin-1"),
            "SERVER_NAME": host,
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": f"HTTP/{request.version}",
            "REMOTE_ADDR": self.remote or "",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": self.server.batched,
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
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]],
                           exc_info: Any = None) -> Callable[[bytes], object]:
            started[:] = [status, headers]
            return lambda chunk: None

        chunks = self.server.wsgi(environ, start_response)
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
            if lowered not in ("connection", "transfer-encoding", "keep-alive"):
                kept.append((name, value))
        return (b"HTTP/1.1 " + status.encode("latin-1") + b"\r\n", _header_lines(kept),
                length, payload)

    # --- refusals, timeouts, closing ---------------------------------------------------------

    def _refuse(self, status: int, message: str) -> None:
        """Answer ``status`` at once and close: nothing more is read from this connection.
        Status 0: the answer was given already (a body too long to read)."""
        if self.closed:
            return
        self.state = DONE
        self.current = None
        self._pause()
        if status == 0:
            return
        if self.refusal is not None:
            answer, self.refusal = self.refusal, None
        elif _admin_url(self.url):
            answer = json_answer(status, {"error": message})  # the admin API's shape
        else:
            answer = invalid(status, message)
        data = b"".join((cached_status_line(answer.status), _header_lines(answer.headers),
                         b"Content-Length: %d\r\n" % len(answer.body), self.server.date,
                         b"Connection: close\r\n\r\n", answer.body))
        if self.busy or self.queue:
            # Answers to requests read before are still owed: this one goes after them.
            self.last = True
            self.closing = data
            return
        self.server.send(self, data, True)

    def _bad_message(self, reason: str) -> None:
        request = self.current
        if self.state == BODY and request is not None and not request.admin:
            # The body broke off (a bad chunk): journaled as a body cut short.
            self.last = True
            self._cut_short(request)
            return
        self._refuse(400, f"the request is not valid HTTP/1.1 ({reason})")

    def _cut_short(self, request: Request) -> None:
        """A site request whose body will not come whole: read no more, journal it as cut."""
        request.complete = False
        request.keep = False
        self.current = None
        self.state = DONE
        self._pause()
        self._enqueue(request)

    def expire(self) -> None:
        """Past its deadline: an idle connection is closed; a slow head gets 408; a slow
        body to the site is journaled and answered as a body cut short (400)."""
        if self.linger is not None:
            self.linger = None
            if self.transport is not None:
                self.transport.close()
            return
        if self.closed:
            return
        request = self.current
        if self.state == BODY and request is not None and not request.admin:
            self._cut_short(request)
            self.deadline = float("inf")
            return
        if self.state in (HEAD, BODY):
            what = "request line and headers" if self.state == HEAD else "body"
            limit = (self.server.limits.head_timeout if self.state == HEAD
                     else self.server.limits.body_timeout)
            self._refuse(408, f"the {what} did not arrive within {limit:g} s")
            return
        self.close()

    def _linger(self) -> None:
        """A refusal before the request was read to its end: send the answer and our end of
        the stream, then read and drop what still comes (see ``LINGER_SECONDS``)."""
        transport = self.transport
        if transport is None or self.closed:
            return
        self.closed = True
        self.linger = LINGER_BYTES
        self.deadline = self.server.now + LINGER_SECONDS
        try:
            transport.write_eof()
        except (NotImplementedError, OSError, RuntimeError):
            transport.close()
            return
        self.reading = True
        with contextlib.suppress(RuntimeError):
            transport.resume_reading()

    def stop(self) -> None:
        """The server stops: close now if nothing is owed, else after the answers owed."""
        if self.busy or self.queue:
            self.last = True
            self._pause()
            return
        if self.state == BODY and self.current is not None:
            return  # the body is still coming; the grace period decides
        self.close()

    def close(self) -> None:
        if self.transport is not None and (not self.closed or self.linger is not None):
            self.closed = True
            self.linger = None
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.closed = True
            self.transport.abort()

    def _pause(self) -> None:
        if self.reading and self.transport is not None and not self.closed:
            self.reading = False
            with contextlib.suppress(RuntimeError):
                self.transport.pause_reading()

    def _resume(self) -> None:
        if not self.reading and self.transport is not None and not self.closed \
                and not self.last and len(self.queue) < PIPELINE_DEPTH and self.writing:
            self.reading = True
            with contextlib.suppress(RuntimeError):
                self.transport.resume_reading()


def _admin_url(url: bytes) -> bool:
    """Whether a request target (as received) is one of the admin API's."""
    path = url.partition(b"?")[0]
    if path.startswith(b"/ns/"):
        path = path[path.find(b"/", 4):] if path.find(b"/", 4) > 0 else b"/"
    return path == ADMIN_PREFIX.encode() or path.startswith(ADMIN_PREFIX.encode() + b"/")


def _declared(headers: dict[str, str]) -> int:
    """The Content-Length a request announced (0 when none or not a number)."""
    text = headers.get("content-length", "")
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else 0


def _connection(keep: bool, version: str) -> bytes:
    if not keep:
        return b"Connection: close\r\n"
    return b"Connection: keep-alive\r\n" if version == "1.0" else b""


def _server_address(transport: asyncio.BaseTransport | None) -> tuple[str, int]:
    name = transport.get_extra_info("sockname") if transport is not None else None
    return (str(name[0]), int(name[1])) if isinstance(name, tuple) else ("127.0.0.1", 0)


# --- running ------------------------------------------------------------------------------------

def raise_open_files() -> str | None:
    """Raise the limit of open files to its hard limit (each connection is one); a note to
    show when it stays under what 10,000 connections need, else ``None``."""
    if resource is None:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft != resource.RLIM_INFINITY and soft < WANTED_FILES:
        return (f"aichat-mock: note: open files are limited to {soft} (hard limit {hard}): "
                f"fewer than 10,000 connections can be held at once; raise it with "
                f"ulimit -n {WANTED_FILES}")
    return None


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop where it is installed (not on Windows), else asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def serve(app: Flask, sock: socket.socket, workers: int, config: dict[str, Any],
          announce: Callable[[], None], limits: Limits) -> None:
    """Serve ``app``'s mock on the bound ``sock`` until SIGTERM or SIGINT, in one process or
    (``workers`` > 1, where ``fork`` exists) in that many sharing the socket and the store."""
    note = raise_open_files()
    if note:
        print(note, file=sys.stderr, flush=True)
    hosts = HostPolicy(config.get("MOCK_ALLOWED_HOSTS") or ())
    sock.setblocking(False)
    if workers <= 1:
        _serve_one(app, sock, hosts, limits, announce, batched=False)
        return
    children: list[int] = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child's coverage is not collected
            code = 0
            try:
                _serve_one(app, sock, hosts, limits, None, batched=True)
            except BaseException:
                import traceback
                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        children.append(pid)
    sock.close()

    def forward(signum: int, frame: Any) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    announce()
    for child in children:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(child, 0)
    engine_of(app).close()


def _serve_one(app: Flask, sock: socket.socket, hosts: HostPolicy, limits: Limits,
               announce: Callable[[], None] | None, *, batched: bool) -> None:
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    engine = engine_of(app)
    if batched:
        engine.store.batch = True  # type: ignore[attr-defined]
    try:
        loop.run_until_complete(_main(app, sock, hosts, limits, announce, batched))
    finally:
        loop.close()
        engine.close()


async def _main(app: Flask, sock: socket.socket, hosts: HostPolicy, limits: Limits,
                announce: Callable[[], None] | None, batched: bool) -> None:
    loop = asyncio.get_running_loop()
    server = Server(app, hosts, limits, batched=batched)
    listener = await loop.create_server(lambda: Conn(server), sock=sock, backlog=BACKLOG)
    stopped = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stopped.set)
        except (NotImplementedError, RuntimeError):  # Windows' loop: no signal handlers
            signal.signal(sig, lambda signum, frame: loop.call_soon_threadsafe(stopped.set))
    if announce is not None:
        announce()
    await stopped.wait()
    listener.close()
    await server.stop()
