"""The mock's Flask app served on a free loopback port from a background thread of this process:
the live half of the test kit (``aichat_server``), also usable on its own::

    with LiveServer() as server:
        aichat.complete(messages, base_url=server.base_url)
        server.requests  # the journal

It serves with werkzeug's threaded server, which hands the app the client socket (so the
``disconnect`` fault is a real close) and serves other clients while one waits out a
``delay_ms``. ``stop`` leaves nothing behind: the listening socket is closed, open client
connections are shut down and every thread the server started has ended.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from werkzeug.serving import BaseWSGIServer, ThreadedWSGIServer, WSGIRequestHandler

from ..core import contract, namespaces
from ..web.app import create_app, engine_of
from .kit import AichatMock

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

HOST = "127.0.0.1"

def join_timeout() -> float:
    """How long to wait for a request thread: it may be waiting out the longest delay a reply
    can ask for."""
    return contract.admin_limits().max_delay_ms / 1000 + 10


class _Connections:
    """The connections being served and the threads serving them, each noted by the thread
    that accepted it before its own thread starts: a thread not yet in its handler, or past
    it but not yet ended, is waited for all the same (noted from the handler itself, such a
    thread outlived stop() now and then)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[threading.Thread, socket.socket] = {}

    def add(self, thread: threading.Thread, connection: socket.socket) -> None:
        with self._lock:
            # The ended ones go here, so that as many are held as are running.
            self._open = {held: kept for held, kept in self._open.items() if held.is_alive()}
            self._open[thread] = connection

    def close_all(self, timeout: float) -> list[threading.Thread]:
        """Shut every connection down, wait for its thread; the threads still running."""
        with self._lock:
            held = list(self._open.items())
        for _, connection in held:
            with contextlib.suppress(OSError):  # closed by its thread in the meantime
                connection.shutdown(socket.SHUT_RDWR)
        for thread, _ in held:
            thread.join(timeout)
        return [thread for thread, _ in held if thread.is_alive()]


class _Server(ThreadedWSGIServer):
    """werkzeug's threaded server, whose request threads (daemons, which ``socketserver``
    does not keep) are noted in ``connections`` before they start."""

    def __init__(self, app: Any, connections: _Connections) -> None:
        super().__init__(HOST, 0, app, _handler_class())
        self.connections = connections

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(target=self.process_request_thread,
                                  args=(request, client_address), daemon=True)
        self.connections.add(thread, request)
        thread.start()


def _handler_class() -> type[WSGIRequestHandler]:
    class Handler(WSGIRequestHandler):
        # werkzeug would switch its shared handler class to HTTP/1.1 itself; say it here.
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Head and body go out in separate writes: no Nagle wait for the client's ACK.
            with contextlib.suppress(OSError):
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def make_environ(self) -> WSGIEnvironment:
            environ = super().make_environ()
            # http.server folds a leading "//" into "/" before werkzeug sees the path; the mock
            # journals paths as received, as its command's server does.
            words = self.requestline.split()
            path = words[1].partition("?")[0] if len(words) == 3 else ""
            if path.startswith("//"):
                environ["PATH_INFO"] = unquote(path).encode("utf-8").decode("latin-1")
            return environ

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass  # the journal is the record; a line per request would flood test output

    return Handler


class LiveServer(AichatMock):
    """``create_app(config)`` on ``http://127.0.0.1:<free port>``, served from a thread.

    It serves from the constructor on; ``stop()`` or leaving the ``with`` block ends it,
    for good.
    """

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        app = create_app(config)
        self.app = app
        self.engine = engine_of(app)
        self._connections = _Connections()
        self._server: BaseWSGIServer = _Server(app, self._connections)
        self.port: int = self._server.server_port
        super().__init__(self.engine.admin(), f"http://{HOST}:{self.port}")
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name=f"aichat-mock-server:{self.port}", daemon=True)
        self._thread.start()
        self._stopped = False

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def within(self, name: str) -> LiveNamespace:
        """Namespace ``name`` of this server: ``base_url/ns/name``, with a journal view, a
        reply queue and settings of its own."""
        return LiveNamespace(self, name)

    def stop(self) -> None:
        """Stop serving, close every connection and wait for the server's threads."""
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()  # serve_forever returns and closes the listening socket
        self._thread.join(join_timeout())
        self._server.server_close()  # already done by serve_forever; closing twice is safe
        stuck = self._connections.close_all(join_timeout())
        self.engine.close()
        if stuck or self._thread.is_alive():
            names = ", ".join(thread.name for thread in [*stuck, self._thread]
                              if thread.is_alive())
            raise RuntimeError(f"the mock server on port {self.port} did not stop: {names}")

    def __enter__(self) -> LiveServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()


class LiveNamespace(AichatMock):
    """A namespace of a ``LiveServer``: the same server and port, its own journal view, reply
    queue and settings."""

    def __init__(self, server: LiveServer, name: str) -> None:
        super().__init__(server.engine.admin(name), server.base_url + namespaces.prefix(name))
        self.server = server

    @property
    def port(self) -> int:
        return self.server.port
