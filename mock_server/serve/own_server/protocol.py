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

import httptools

from ...core import edge
from ...core.edge import DRAIN_LIMIT, MAX_ADMIN_BODY, MAX_BODY, MAX_HEAD
from ...core.engine import invalid
from ...core.wire import Answer, json_answer, wire_text
from .answers import encode_answer
from .cycle import Again, Request
from .framing import Framing, new_parser
from .head import Head, Refused, decoded_path, kept_whole, read_head
from .limits import AGAIN_BODY, LINGER_BYTES, LINGER_SECONDS, PIPELINE_DEPTH, WRITE_HIGH_WATER
from .proxy import Interception, Refusal
from .server import Server

IDLE, HEAD, BODY, DONE = range(4)
_NEVER = float("inf")  # the deadline of a connection with nothing to wait for

class Conn(asyncio.Protocol):
    """One client connection: its parser, the request being read, the answers it waits for."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.parser = new_parser(self)
        self.transport: asyncio.Transport | None = None
        self.remote: str | None = None
        self.state = IDLE
        self.deadline = server.now + server.head_wait
        self.url = b""
        # The head being read, as the parser is fed it (its fields are read from it at once).
        self.head: list[bytes] = []
        self.head_bytes = 0
        self.framing = Framing()  # where each request ends in the bytes
        # The tunnel it became, as an intercepting proxy (proxy.py).
        self.proxy = Interception(server.authority, server.hosts)
        self.after_connect = b""  # bytes that came with a CONNECT, for the tunnel it opened
        self.upgrade_body = False  # the parser's request asks to switch protocols, with a body
        self.made_up = False  # the head made up after an Upgrade is fed: no request's callbacks
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
        self.refusal: Answer | None = None  # the engine's answer in a parser callback (421)
        self.linger: int | None = None  # bytes still dropped after a refusal (None: not now)
        self.again: Again | None = None  # an answer to give again to the same bytes (_plain)
        self.seen: tuple[Head, bytes] | None = None  # the last request of a known head (_plain)

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
            request.site(False)
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
        tunnel = self.proxy.tunnel
        if tunnel is not None and not self.closed:
            if not tunnel.started and not tunnel.looks_like_tls(data):
                self.refusal = self.proxy.plain_refusal()  # sent in plain: no TLS to speak
                self.proxy.tunnel = None
                self._refuse(400, "")
                return
            decrypted = self.proxy.decrypt(data)
            if decrypted is None:  # not TLS this tunnel takes: nothing can be answered
                self.abort()
                return
            data = decrypted
            if tunnel.ended and not self.eof_received():
                self.close()
        # Fed a request at a time: a request's head up to its empty line, a body framed by
        # Content-Length up to its end. So each request starts a piece of its own, and a
        # method the parser does not know is taken aside for every one of them.
        while data and not (self.closed or self.state == DONE):
            data = self._feed(data)
        if self.after_connect:
            data, self.after_connect = self.after_connect, b""
            self.data_received(data)

    def _send(self, data: bytes) -> None:
        """Write answer bytes: encrypted inside a TLS tunnel."""
        tunnel = self.proxy.tunnel
        if tunnel is not None and tunnel.ready:
            tunnel.send(data)
        elif self.transport is not None:
            self.transport.write(data)

    def _feed(self, data: bytes) -> bytes:
        """Feed the parser what ``data`` holds of the request being read; the rest."""
        state = self.state
        rest = b""
        framing = self.framing
        if state == IDLE:
            again = self.again  # a request given again (_plain): answered before any framing
            if again is not None and (data == again.sent or (
                    len(data) > len(again.sent) and data.startswith(again.sent))) and not (
                    self.busy or self.queue or self.last or not self.writing or framing.pending
                    or self.proxy.via is not None) \
                    and self.server.engine.repeat(again.incoming, again.outcome):
                self.head_bytes = 0
                self.write(again.on(self.server.date), False)
                return data[len(again.sent):]
            size = len(data)
            data, rest, bad = framing.start(data)
            self.head_bytes += size - len(rest)  # as sent, before any stand-in
            if bad is not None:
                self._bad_message(bad)
                return b""
            if not data:
                return rest
            if framing.method is None and self.proxy.via is None:
                plain = self.server.plain.get(data)
                if plain is not None and len(rest) >= plain.declared:
                    return self._plain(plain, data, rest)
            self.head = [data]
        elif state == HEAD:
            end = framing.head_end(data, starting=False)
            if end >= 0:
                data, rest = data[:end], data[end:]
            self.head_bytes += len(data)
            bad = framing.bad_line(data, starting=False)
            if bad is not None:
                self._bad_message(bad)
                return b""
            self.head.append(data)
        elif state == BODY:
            end = framing.body_end(data)
            data, rest = data[:end], data[end:]
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as error:
            cause = error.__context__
            if not isinstance(cause, Refused):
                raise
            if isinstance(cause, Refusal):
                self.refusal = cause.answer
            self._refuse(cause.status, cause.message)
            return b""
        except httptools.HttpParserUpgrade as upgrade:
            if self.proxy.connecting is not None:
                # A CONNECT answered 200: what follows is the tunnel's, read on as such.
                self.after_connect = data[upgrade.args[0]:] + rest
                self._open_tunnel()
                return b""
            # No protocol is switched to: parsing goes on with a new parser.
            return self._after_upgrade() + data[upgrade.args[0]:] + rest
        except httptools.HttpParserError as error:
            self._bad_message(str(error))
            return b""
        if self.state in (IDLE, HEAD) and self.head_bytes > MAX_HEAD and not self.closed:
            self._refuse(431, "the request line and headers are over "
                              f"{MAX_HEAD // 1024} KiB; send fewer or shorter headers")
            return b""
        return rest

    def _plain(self, head: Head, fed: bytes, rest: bytes) -> bytes:
        """A request of a head (bytes ``fed``) needing nothing more of the parser
        (``Server.plain``), its body whole in ``rest``: what the parser's callbacks do, at
        once; the bytes after the body. Sent twice in a row, its answer is kept to give again
        to the same bytes (_feed, before any framing, which the next start() sets anew)."""
        declared = head.declared
        request = Request.of_head(self, head)
        request.host = head.headers.get("host")
        body = rest[:declared]
        if declared:
            request.body.append(body)
            request.size = declared
        self.head_bytes = 0
        self.deadline = _NEVER
        if self.busy or self.queue or not self.writing or self.closed:
            self._enqueue(request)
        elif self.seen is not None and self.seen[0] is head and self.seen[1] == body:
            self.again = request.site(True, fed)
        else:  # its turn has come: run()'s way for a site's request kept open
            request.site(True)
            self.seen = (head, body) if declared <= AGAIN_BODY else None
        return rest[declared:]

    def _open_tunnel(self) -> None:
        """Answer a CONNECT and become its tunnel: a new parser reads the requests inside,
        the first one's head (after the TLS handshake) due within the head timeout."""
        assert self.transport is not None
        self.proxy.open(self.transport.write)
        self.parser = new_parser(self)
        self.state = IDLE
        self.head_bytes = 0
        self.deadline = self.server.now + self.server.head_wait

    def _after_upgrade(self) -> bytes:
        """The parser stopped after a request asking to switch protocols (``Upgrade``, which
        the mock answers as an ordinary request, as RFC 9110 7.8 lets a server). A new parser
        reads on: the request's body first, if it has one (the parser skips the body of an
        upgrade), then the next requests. What is left to feed it before the rest: nothing."""
        self.parser = new_parser(self)
        request = self.current
        if not self.upgrade_body or request is None:
            return b""
        self.upgrade_body = False
        # The new parser is handed a head of the same framing, so that it reads the body with
        # the same rules; its callbacks are not those of a request of the client's.
        remaining = self.framing.remaining
        framing = (b"Transfer-Encoding: chunked" if remaining is None
                   else b"Content-Length: %d" % remaining)
        self.made_up = True
        try:
            self.parser.feed_data(b"PUT / HTTP/1.1\r\n" + framing + b"\r\n\r\n")
        finally:
            self.made_up = False
        return b""

    # --- httptools' callbacks ----------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.made_up:
            return
        self.state = HEAD
        self.deadline = self.server.now + self.server.head_wait
        self.url = b""

    def on_url(self, url: bytes) -> None:
        if not self.made_up:
            self.url += url

    def on_headers_complete(self) -> None:
        if self.made_up:
            return
        self.head_bytes = 0
        parts = self.head
        framing = self.framing
        stand_in = framing.method is not None
        said = framing.said
        if said is None:
            method = (framing.taken_method() or self.parser.get_method()).decode("latin-1")
            version = self.parser.get_http_version()
        else:  # from the request line, as the parser read it
            method, version = said
            framing.said = framing.method = None
        fed = parts[0] if len(parts) == 1 else b"".join(parts)
        head = read_head(method, self.url, fed, version)
        self.head = []
        if head.method == "CONNECT":
            self.proxy.connect(head)  # answered once the parser stops after it
            self.current = None
            return
        # Only a request in a tunnel or in the absolute form can be the proxy's.
        via = None if head.authority is None and self.proxy.via is None else \
            self.proxy.via_of(head)
        target = head.target
        request = Request.of_head(self, head)
        if head.authority is None:
            request.host = head.headers.get("host")  # the Host field, as text already
        else:
            request.host = wire_text(head.authority[1].decode("latin-1"))
        request.via = via
        if self.proxy.via is not None:
            request.scheme = self.proxy.scheme  # inside a tunnel
        elif head.authority is not None:
            request.scheme = head.authority[0] or "http"  # the absolute form names it
        # HTTP/1.0 has no transfer codings: its framing cannot be trusted (RFC 9112 6.1).
        request.keep = self.parser.should_keep_alive() and not (
            head.chunked and head.version == "1.0")
        self.current = request
        self.state = BODY
        self.deadline = self.server.now + self.server.body_wait
        declared = head.declared
        hosts = self.server.hosts
        if not hosts.allows(head.host):
            self._refuse_read(request, declared, 421, hosts.refusal(head.host or b""))
        if "upgrade" in head.headers and self.parser.should_upgrade():
            # The parser ends the request here and skips its body: it is read on after it.
            self.upgrade_body = declared > 0 or head.chunked
        self.framing.start_body(declared if "content-length" in head.headers else None,
                                head.chunked)
        if target.admin and declared > MAX_ADMIN_BODY:
            raise Refused(413, f"the body is over {MAX_ADMIN_BODY} bytes")
        if not target.admin and declared > DRAIN_LIMIT:
            # Not read: answered at once (413) and journaled with the size it announced.
            request.size = declared
            self._answer_unread(request)
        if "expect" in head.headers:
            if head.headers["expect"].lower() == "100-continue" and declared > 0 \
                    and not self.busy and not self.queue and self.transport is not None:
                self._send(b"HTTP/1.1 100 Continue\r\n\r\n")
        elif request.keep and not (stand_in or target.admin or head.chunked
                                   or self.proxy.via is not None or head.authority
                                   or declared > MAX_BODY or "upgrade" in head.headers) \
                and kept_whole(fed, head):
            self.server.plain[fed] = head

    def on_body(self, chunk: bytes) -> None:
        request = self.current
        if request is None:
            return
        framing = self.framing
        if framing.remaining is not None:
            framing.remaining -= len(chunk)
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
        if request is None or self.upgrade_body or self.made_up:
            return  # the body of an upgrade is read after it (_after_upgrade)
        # Read: answered in its turn.
        self.current = None
        self.state = IDLE
        self.head_bytes = 0
        self.deadline = _NEVER
        self._enqueue(request)

    def _refuse_read(self, request: Request, declared: int, status: int, message: str) -> None:
        """Refuse ``request`` as soon as its head is read, its body unread: journaled as the
        engine does (a site's request), answered, the connection closed. Raises, to stop the
        parser."""
        self.refusal = self.server.engine.refuse(request.incoming(b"", declared), status,
                                                 message)
        self.current = None
        raise Refused(status, "")

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
                self._send(data)
            if self.state == DONE and not self.half_closed:
                self._linger()
                return
            self.closed = True
            self._end_tunnel()
            transport.close()
            return
        if self.proxy.tunnel is None:
            transport.write(data)  # the usual case, _send's first
        else:
            self._send(data)
        self.busy = False
        self._next()

    def _end_tunnel(self) -> None:
        tunnel = self.proxy.tunnel
        if tunnel is not None and tunnel.ready:
            tunnel.close()

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
            self.deadline = self.server.now + self.server.idle_wait

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
        self._end_tunnel()
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
