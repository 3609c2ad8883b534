"""One request's cycle, from its parsed head to its answer on the wire: the site's through the
core's ``Engine`` on the event loop (after a delay on a timer, for a ``delay_ms`` reply), the
admin API's through the Flask app in a pool thread (``wsgi_bridge``)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from ...core.wire import Answer, IncomingRequest, json_answer, status_line
from . import wsgi_bridge
from .answers import encode, encode_answer, header_lines

if TYPE_CHECKING:
    from ...core.engine import Outcome
    from .head import Head
    from .protocol import Conn


class Again:
    """A connection's last answer to a request of a head the server knows (``Server.plain``),
    kept to be given again to the same bytes (``Engine.repeat``): the bytes of the request
    (head and body), the request as the engine saw it, its outcome, the bytes written, and
    the ``Date`` line they carry (``Server.date`` when they were written)."""

    __slots__ = ("data", "date", "incoming", "outcome", "sent")

    def __init__(self, head: bytes, incoming: IncomingRequest, outcome: Outcome, data: bytes,
                 date: bytes) -> None:
        self.sent = head + incoming.body
        self.incoming = incoming
        self.outcome = outcome
        self.data = data
        self.date = date

    def on(self, date: bytes) -> bytes:
        """The answer's bytes with ``date``, the server's ``Date`` line now, in place of the
        one they carry (the first match is in the head, which comes before the body)."""
        if date is not self.date:
            self.data, self.date = self.data.replace(self.date, date, 1), date
        return self.data


class Request:
    """One parsed request of a connection, waiting for its answer (requests of a connection
    are answered in the order they came)."""

    __slots__ = (
        "admin",
        "body",
        "complete",
        "conn",
        "head_size",
        "headers",
        "host",
        "keep",
        "method",
        "namespace",
        "path",
        "query",
        "raw_path",
        "raw_query",
        "scheme",
        "size",
        "version",
        "via",
    )

    def __init__(self, conn: Conn, method: str, raw_path: bytes, raw_query: bytes, path: str,
                 query: str, namespace: str, headers: dict[str, str], admin: bool,
                 version: str) -> None:
        self.conn = conn
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
        self.complete = True  # False: the body stopped before its announced end
        self.keep = True  # False: the connection closes after this answer
        self.host: str | None = None  # the host it named
        self.scheme = "http"  # "https" inside a TLS tunnel
        self.via: str | None = None  # "proxy": answered as an intercepting proxy
        self.head_size: int | None = None  # the bytes of its request line and headers

    @classmethod
    def of_head(cls, conn: Conn, head: Head) -> Request:
        """A request of ``head`` on ``conn``, its body still to be read."""
        target = head.target
        request = cls(conn, head.method, head.raw_path, head.raw_query, target.path,
                      head.query, target.namespace, head.headers, target.admin, head.version)
        request.head_size = head.size
        return request

    def incoming(self, body: bytes, size: int) -> IncomingRequest:
        """The request as the engine sees it, with ``body`` (of ``size`` bytes sent)."""
        return IncomingRequest(self.method, self.path, self.query, self.headers, body,
                               self.conn.remote, size, self.complete, self.namespace,
                               self.host, self.scheme, self.via, self.head_size)

    def run(self) -> None:
        """Answer the request: its turn on the connection has come."""
        conn = self.conn
        if not self.keep:
            conn.last = True
            conn.queue.clear()  # requests sent after a "Connection: close" are not answered
        if self.admin:
            conn.busy = True
            conn.server.loop.run_in_executor(conn.server.pool, self._admin)
            return
        self.site(True)

    # --- the site -----------------------------------------------------------------------------

    def site(self, send: bool, head: bytes | None = None) -> Again | None:
        """The engine answers (and journals) the request; ``send``: the answer goes out (not
        when the client has gone). With the bytes of its ``head`` (one the server knows):
        the answer as it may be given again to the same bytes, if it may."""
        conn = self.conn
        body = self.body[0] if len(self.body) == 1 else b"".join(self.body)
        incoming = self.incoming(body, self.size)
        outcome = conn.server.engine.handle(incoming)
        answer = outcome.answer
        if not send:
            return None
        if not self.complete:
            self.keep = False
            conn.last = True
        if answer.delay > 0:
            conn.busy = True
            conn.server.loop.call_later(answer.delay, self._deliver, answer)
            return None
        data = self._deliver(answer)
        if data is None or head is None or outcome.again is None:
            return None
        return Again(head, incoming, outcome, data, conn.server.date)

    def _deliver(self, answer: Answer) -> bytes | None:
        """Send ``answer``; the bytes, when written at once on a connection kept open."""
        conn = self.conn
        if conn.closed:
            return None
        if answer.disconnect:
            conn.server.send(conn, b"", True)
            return None
        keep = not conn.final(self)
        server = conn.server
        data = encode_answer(answer, server.date, keep, self.version, self.method == "HEAD")
        if server.batched:
            server.send(conn, data, not keep)
            return None
        conn.write(data, not keep)  # Server.send's first case, without the call
        return data if keep else None

    # --- the admin API ------------------------------------------------------------------------

    def _admin(self) -> None:
        """In a pool thread: the Flask app answers a request to the admin API."""
        conn = self.conn
        try:
            answered = wsgi_bridge.call(conn.server.wsgi, self, conn.remote,
                                        conn.server_address(), conn.server.batched)
        except Exception as error:
            print(f"aichat-mock: the admin API failed on {self.method} {self.path}: "
                  f"{error!r}", file=sys.stderr, flush=True)
            failed = json_answer(500, {"error": f"mock server error: {error!r}"})
            answered = wsgi_bridge.WsgiAnswer(status_line(500), header_lines(failed.headers),
                                              len(failed.body), failed.body)
            self.keep = False
        conn.server.loop.call_soon_threadsafe(self._admin_answered, answered)

    def _admin_answered(self, answered: wsgi_bridge.WsgiAnswer) -> None:
        conn = self.conn
        final = conn.final(self)
        conn.write(encode(answered.line, answered.headers, answered.length,
                          b"" if self.method == "HEAD" else answered.body,
                          date=conn.server.date, keep=not final, version=self.version), final)
