"""The connection protocol: one client connection's bytes through httptools' parser into
``cycle.Request``s, answered in the order they came; flow control both ways (a client that
does not read its answers is not read either), its deadlines, and the refusals made before a
request reaches the engine (a bad message, a head too long, a body too long to read, a
foreign ``Host``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import cast
from urllib.parse import unquote_to_bytes

import httptools

from ...core import edge
from ...core.edge import DRAIN_LIMIT, MAX_ADMIN_BODY, MAX_BODY, MAX_HEAD
from ...core.engine import invalid
from ...core.wire import Answer, json_answer, wire_text
from .answers import encode_answer
from .cycle import Refused, Request
from .limits import LINGER_BYTES, LINGER_SECONDS, PIPELINE_DEPTH, WRITE_HIGH_WATER
from .server import Server

# httptools accepts only the methods llhttp knows, in upper case. Any other method token
# reaches the engine too (RFC 9110 9.1: methods are case-sensitive, "post" is not POST): the
# parser is handed a known one in its place.
PARSED_METHODS = frozenset({b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"TRACE",
                            b"PATCH"})
STAND_IN_METHOD = b"PUT"
_TOKEN_BYTES = frozenset(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         b"abcdefghijklmnopqrstuvwxyz")
MAX_METHOD = 64

IDLE, HEAD, BODY, DONE = range(4)
_HEADER_NAMES: dict[bytes, str] = {}
_HEADER_NAMES_CAP = 4096


def decoded_path(raw_path: bytes) -> str:
    """A request target's path as the engine sees it: percent-decoded, UTF-8 where it is."""
    text = (unquote_to_bytes(raw_path) if b"%" in raw_path else raw_path).decode("latin-1")
    return (text if text.isascii() else wire_text(text)) or "/"


def _declared(headers: dict[str, str]) -> int:
    """The Content-Length a request announced (0 when none or not a number)."""
    text = headers.get("content-length", "")
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else 0


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
            request.site(send=False)
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
        target = edge.split(decoded_path(raw_path))
        query = raw_query.decode("latin-1")
        request = Request(self, method, raw_path, raw_query, target.path,
                          query if query.isascii() else wire_text(query), target.namespace,
                          headers, target.admin, version)
        request.keep = self.parser.should_keep_alive()
        self.current = request
        self.state = BODY
        self.deadline = self.server.now + self.server.limits.body_timeout + \
            self.server.slack
        hosts = self.server.hosts
        if not hosts.allows(host):
            self.refusal = self.server.engine.refuse(
                request.incoming(b"", _declared(headers)), 421,
                hosts.refusal(host or b""))
            self.current = None
            raise Refused(421, "")
        declared = _declared(headers)
        if target.admin and declared > MAX_ADMIN_BODY:
            raise Refused(413, f"the body is over {MAX_ADMIN_BODY} bytes")
        if not target.admin and declared > DRAIN_LIMIT:
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
        request.run()

    # --- answering ------------------------------------------------------------------------

    def final(self, request: Request) -> bool:
        """Whether the answer to ``request`` is the last on this connection."""
        return not request.keep or (self.last and not self.queue and self.closing is None)

    def server_address(self) -> tuple[str, int]:
        """The address and port the connection was accepted on."""
        name = self.transport.get_extra_info("sockname") if self.transport is not None else None
        return (str(name[0]), int(name[1])) if isinstance(name, tuple) else ("127.0.0.1", 0)

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
            request.run()
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
        elif edge.split(decoded_path(self.url.partition(b"?")[0])).admin:
            answer = json_answer(status, {"error": message})  # the admin API's shape
        else:
            answer = invalid(status, message)
        data = encode_answer(answer, date=self.server.date, keep=False, version="1.1")
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
