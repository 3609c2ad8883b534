"""A tiny scriptable HTTP/1.1 server on 127.0.0.1 for the provider's real-HTTP tests.

It records every request as it arrived (request line, header names and values in order, raw
body bytes, which TCP connection carried it), answers from a queue of scripted replies (or
echoes the prompt back), and can delay, stall mid-body, drop the connection, write raw bytes,
or forward the request like an HTTP proxy, or stream raw bytes from a generator at any pace
(a hostile server: endless bodies, compression bombs, a trickle). Connections are kept alive,
so tests can count how many TCP connections the provider opened.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

# Hop-by-hop headers a forwarding proxy does not pass on.
_HOP_BY_HOP = {"proxy-authorization", "proxy-connection", "connection", "keep-alive"}


@dataclass(frozen=True)
class Recorded:
    """One request exactly as the server read it."""

    method: str
    target: str  # the request-target: a path, or an absolute URL when sent to a proxy
    version: str
    headers: list[tuple[str, str]]  # names as sent, in order
    body: bytes
    connection: int  # 1 for the first TCP connection the server accepted, and so on

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        assert len(values) <= 1, f"header {name} sent {len(values)} times"
        return values[0] if values else None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    """What the server does with one request."""

    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    delay: float = 0.0  # seconds to wait before answering
    action: str = "answer"  # answer | drop | raw | stall | forward | stream
    raw: bytes = b""  # for "raw": written as is, then the connection is closed (unless keep)
    close: bool = False  # close the connection after answering, without saying so
    linger: float = 0.0  # with close or raw: wait this long first, reading nothing more
    keep: bool = False  # for "raw": the connection stays open for the next request
    # For "stream": the bytes to write, head included, made as they are sent; ``pace`` seconds
    # before each piece. The connection is closed after the last piece or when the client hangs up.
    pieces: Callable[[], Iterable[bytes]] | None = None
    pace: float = 0.0

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: list[tuple[str, str]] | None = None,
             delay: float = 0.0) -> Reply:
        return cls(status, json.dumps(data).encode(),
                   [("Content-Type", "application/json"), *(headers or [])], delay)

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain",
             headers: list[tuple[str, str]] | None = None) -> Reply:
        extra = [("Content-Type", content_type)] if content_type else []
        return cls(status, text.encode(), [*extra, *(headers or [])])

    @classmethod
    def drop(cls) -> Reply:
        """Read the request, then close the connection without a byte of answer."""
        return cls(action="drop")

    @classmethod
    def raw_bytes(cls, raw: bytes, *, keep: bool = False, linger: float = 0.0) -> Reply:
        """Write ``raw`` as is; then read the next request on the connection (``keep``), or
        close it, after ``linger`` seconds (or the server's stop) without reading."""
        return cls(action="raw", raw=raw, keep=keep, linger=linger)

    @classmethod
    def stream(cls, pieces: Callable[[], Iterable[bytes]], pace: float = 0.0) -> Reply:
        """Write each piece ``pieces()`` makes, as is: see ``head`` and ``chunked``."""
        return cls(action="stream", pieces=pieces, pace=pace)

    @classmethod
    def stall(cls, delay: float) -> Reply:
        """Send the status line, headers and half the body, then go quiet for ``delay``."""
        return cls(action="stall", delay=delay)


def echo(request: Recorded) -> Reply:
    """The default answer: the prompt back, so concurrent callers can check their own reply."""
    try:
        prompt = request.json()["message"]
    except (ValueError, KeyError, TypeError):
        return Reply.text("not a JSON body with a message", status=400)
    return Reply.json({"response": True, "message": f"echo: {prompt}"})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection_id = self.server.connection_opened(self.connection)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read the record
        pass

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except OSError:  # the client went away (it timed out, or it was dropped on purpose)
            self.close_connection = True

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        recorded = Recorded(self.command, self.path, self.request_version,
                            list(self.headers.items()), body, self.connection_id)
        reply = self.server.record(recorded)
        if reply.delay and reply.action != "stall" and self.server.stopping.wait(reply.delay):
            self.close_connection = True
            return
        getattr(self, f"_{reply.action}")(reply, recorded)

    do_POST = do_GET = do_PUT = do_DELETE = do_CONNECT = _any

    def _answer(self, reply: Reply, _: Recorded) -> None:
        try:
            phrase = HTTPStatus(reply.status).phrase
        except ValueError:
            phrase = "Whatever"
        head = [f"HTTP/1.1 {reply.status} {phrase}"]
        head += [f"{name}: {value}" for name, value in reply.headers]
        head.append(f"Content-Length: {len(reply.body)}")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + reply.body)
        self.wfile.flush()
        if reply.close:
            if reply.linger:  # a request sent meanwhile stays unread: the close resets it
                self.server.stopping.wait(reply.linger)
            self.close_connection = True

    def _drop(self, reply: Reply, _: Recorded) -> None:
        self.close_connection = True

    def _raw(self, reply: Reply, _: Recorded) -> None:
        self.wfile.write(reply.raw)
        self.wfile.flush()
        if reply.linger:
            self.server.stopping.wait(reply.linger)
        self.close_connection = not reply.keep

    def _stall(self, reply: Reply, _: Recorded) -> None:
        body = b'{"response": true, "message": "half an answer"}'
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(body) + body[:10])
        self.wfile.flush()
        self.server.stopping.wait(reply.delay)
        self.close_connection = True

    def _stream(self, reply: Reply, _: Recorded) -> None:
        assert reply.pieces is not None
        sent = 0
        try:
            for piece in reply.pieces():
                if reply.pace and self.server.stopping.wait(reply.pace):
                    break
                self.wfile.write(piece)
                sent += len(piece)
        except OSError:  # the client hung up: what a hostile body is there to make it do
            pass
        finally:
            self.server.streamed(sent)
        self.close_connection = True

    def _forward(self, _: Reply, recorded: Recorded) -> None:
        """Act as a plain HTTP forward proxy: send the request on, relay the answer."""
        target = urlsplit(recorded.target)
        upstream = http.client.HTTPConnection(target.hostname or "", target.port or 80,
                                              timeout=10)
        try:
            upstream.putrequest(recorded.method, target.path or "/", skip_host=True,
                                skip_accept_encoding=True)
            for name, value in recorded.headers:
                if name.lower() not in _HOP_BY_HOP:
                    upstream.putheader(name, value)
            upstream.endheaders(recorded.body)
            answer = upstream.getresponse()
            body = answer.read()
            headers = [(name, value) for name, value in answer.getheaders()
                       if name.lower() not in _HOP_BY_HOP | {"content-length"}]
        finally:
            upstream.close()
        self._answer(Reply(answer.status, body, headers), recorded)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner: LoopbackServer, port: int) -> None:
        self.owner = owner
        self.stopping = threading.Event()
        super().__init__(("127.0.0.1", port), _Handler)

    def connection_opened(self, sock: socket.socket) -> int:
        with self.owner.lock:
            self.owner.sockets.append(sock)
            return len(self.owner.sockets)

    def shutdown_request(self, request: Any) -> None:
        # Counted once the socket is closed (the handler's finish() comes before that), so
        # that a test waiting for the count knows the client can see the hang-up.
        super().shutdown_request(request)
        with self.owner.lock:
            self.owner.closed += 1

    def streamed(self, sent: int) -> None:
        with self.owner.lock:
            self.owner.streamed.append(sent)

    def record(self, recorded: Recorded) -> Reply:
        with self.owner.lock:
            self.owner.requests.append(recorded)
            scripted = self.owner.replies.popleft() if self.owner.replies else None
        return scripted if scripted is not None else self.owner.default(recorded)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up mid-answer is part of the tests, not a server failure


class LoopbackServer:
    """Start with ``with LoopbackServer() as server:``; ``server.base_url`` is its address."""

    def __init__(self, default: Any = echo, port: int = 0) -> None:
        self.default = default
        self.lock = threading.Lock()
        self.requests: list[Recorded] = []
        self.replies: deque[Reply] = deque()
        self.sockets: list[socket.socket] = []
        self.closed = 0  # connections the server has closed
        self.streamed: list[int] = []  # bytes each "stream" reply wrote before it ended
        self._server = _Server(self, port)
        self.port: int = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.01}, daemon=True)

    def script(self, *replies: Reply) -> None:
        with self.lock:
            self.replies.extend(replies)

    @property
    def connections(self) -> int:
        """How many TCP connections were accepted so far."""
        with self.lock:
            return len(self.sockets)

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        with self.lock:
            for sock in self.sockets:  # end kept-alive connections so no handler lingers
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        self._thread.join(5)


def serving(default: Any = echo) -> Iterator[LoopbackServer]:
    """The body of a pytest fixture: ``yield from serving()``."""
    with LoopbackServer(default) as server:
        yield server


def head(status: int = 200, headers: Iterable[tuple[str, str]] = (),
         version: str = "HTTP/1.1") -> bytes:
    """A status line and headers, for a "stream" reply."""
    lines = [f"{version} {status} {HTTPStatus(status).phrase}",
             *(f"{name}: {value}" for name, value in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunked(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """``pieces`` in the chunked transfer coding (the last chunk follows the last piece)."""
    for piece in pieces:
        if piece:
            yield b"%x\r\n%s\r\n" % (len(piece), piece)
    yield b"0\r\n\r\n"


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released), for "connection refused"."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
