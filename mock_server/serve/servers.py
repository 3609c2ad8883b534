"""The servers the mock can run on, each started on an already bound socket.

The default is the mock's own HTTP/1.1 server (``asyncio``, ``own_server``: asyncio on uvloop
with httptools' parser), one process with the memory store: it answers the site on its event
loop through the engine, the admin API through the Flask app in a few threads, plays every
fault itself and keeps the limits against slow or hostile clients (docs/internals.md).
``--workers N`` runs N such processes sharing an SQLite store. The WSGI servers remain
choices: gunicorn with gevent workers (``gevent``) or a thread pool (``gunicorn``), waitress,
werkzeug (Flask's development server), and granian, which cannot play ``disconnect``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from flask import Flask

# The mock's own server: the fastest measured, and the one that keeps every limit itself.
DEFAULT_SERVER = "asyncio"
# One process: on a 2-core machine a second one mostly competes with the load generator, and
# the memory store is the cheaper one (docs/internals.md). More share an SQLite store.
DEFAULT_WORKERS = 1
DEFAULT_THREADS = 16
# In-flight requests (a long delay_ms, say) get this long to finish on SIGTERM.
GRACEFUL_SECONDS = 3
# Idle keep-alive connections stay open this long: clients reusing them rarely race a close.
KEEPALIVE_SECONDS = 30
# The granian worker rebuilds the app from this environment variable (JSON of the config).
GRANIAN_CONFIG_ENV = "AICHAT_MOCK_CONFIG"
# Servers that let the app reach the client socket, which the disconnect fault needs.
CAN_DISCONNECT = frozenset({"asyncio", "gunicorn", "gevent", "waitress", "werkzeug"})
# Servers that can run several worker processes (the mock's own forks them: not on Windows).
MULTI_PROCESS = frozenset({"gunicorn", "gevent", "granian",
                           *(("asyncio",) if hasattr(os, "fork") else ())})
# Any method token reaches the app (RFC 9110 9.1): gunicorn by default refuses lower-case ones,
# ones with "#", or shorter than 3 or longer than 20 characters, with an HTML 400 of its own
# that the journal never sees; and methods stay case-sensitive ("post" is not POST). gunicorn
# marks both settings temporary: a version without them is left as it is.
GUNICORN_METHOD_SETTINGS = {
    "permit_unconventional_http_method": True,
    "casefold_http_method": False,
}


def _stop_on_sigterm() -> None:
    """SIGTERM ends the server as Ctrl-C does, so that it shuts down cleanly."""
    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, interrupt)


def serve_asyncio(app: Flask, sock: socket.socket, threads: int, workers: int,
                  config: dict[str, Any], announce: Callable[[], None], *,
                  limits: Any = None, authority: Any = None) -> None:
    """The mock's own server (``own_server``); ``limits``: its ``Limits`` (timeouts);
    ``authority``: the CA of ``--intercept`` (``certificates.Authority``), if any."""
    from .own_server import Limits, serve

    serve(app, sock, workers, config, announce,
          limits if limits is not None else Limits(graceful_timeout=GRACEFUL_SECONDS),
          authority)


def serve_gunicorn(app: Flask, sock: socket.socket, threads: int, workers: int,
                   config: dict[str, Any], announce: Callable[[], None]) -> None:
    _run_gunicorn(app, sock, workers, announce, worker_class="gthread", threads=threads)


def serve_gevent(app: Flask, sock: socket.socket, threads: int, workers: int,
                 config: dict[str, Any], announce: Callable[[], None]) -> None:
    # The standard library is patched here, once, before the workers are forked: each would
    # otherwise spend some 0.3 s importing and patching before its first answer (what gunicorn
    # advises when the app is loaded in the arbiter, as here).
    from gevent import monkey
    monkey.patch_all()

    # One greenlet per connection instead of a thread pool; a delay_ms sleeps cooperatively.
    _run_gunicorn(app, sock, workers, announce, worker_class="gevent",
                  post_request=_let_others_run)


def _let_others_run(worker: Any, req: Any, environ: Any, resp: Any) -> None:
    """After each answer, let the other connections' greenlets run. A client that sends its
    next request at once would otherwise find it already read and keep the worker to itself:
    under load, some connections waited a quarter of a second."""
    import gevent
    gevent.sleep(0)


def _run_gunicorn(app: Flask, sock: socket.socket, workers: int, announce: Callable[[], None],
                  **settings: Any) -> None:
    from gunicorn.app.base import BaseApplication

    options: dict[str, Any] = {
        # gunicorn takes the socket over (and closes our descriptor when done).
        "bind": [f"fd://{sock.detach()}"],
        "workers": workers,
        **settings,
        "keepalive": KEEPALIVE_SECONDS,
        "graceful_timeout": GRACEFUL_SECONDS,
        "loglevel": "warning",
        "accesslog": None,
        "proc_name": "aichat-mock",
        # Announced once the arbiter handles SIGINT and SIGTERM: a caller that stops the mock
        # as soon as it has the URL gets a clean exit. Early clients wait in the backlog.
        "when_ready": lambda arbiter: announce(),
    }

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)
            for key, value in GUNICORN_METHOD_SETTINGS.items():
                if key in self.cfg.settings:
                    self.cfg.set(key, value)

        def load(self) -> Flask:
            return app

    # The arbiter handles SIGINT and SIGTERM itself and exits with status 0.
    Server().run()


def serve_waitress(app: Flask, sock: socket.socket, threads: int, workers: int,
                   config: dict[str, Any], announce: Callable[[], None]) -> None:
    from waitress.server import create_server

    server = create_server(app, sockets=[sock], threads=threads, ident="aichat-mock")
    _stop_on_sigterm()
    announce()
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


def serve_werkzeug(app: Flask, sock: socket.socket, threads: int, workers: int,
                   config: dict[str, Any], announce: Callable[[], None]) -> None:
    from werkzeug.serving import make_server

    host, port = sock.getsockname()[:2]
    server = make_server(host, port, app, threaded=True, fd=sock.fileno())
    _stop_on_sigterm()
    announce()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def serve_granian(app: Flask, sock: socket.socket, threads: int, workers: int,
                  config: dict[str, Any], announce: Callable[[], None]) -> None:
    from granian import Granian
    from granian.constants import Interfaces
    from granian.log import LogLevels

    # granian binds by itself and builds the app in its worker processes: free the port and
    # pass the configuration along (a store travels as its text setting, "sqlite:PATH").
    host, port = sock.getsockname()[:2]
    sock.close()
    # The replies of --replies are in a shared store already (create_app queued them here);
    # a worker's own memory store gets them when the worker makes its app.
    shared = isinstance(config.get("MOCK_STORE"), str) and config["MOCK_STORE"] != "memory"
    os.environ[GRANIAN_CONFIG_ENV] = json.dumps(
        {key: value for key, value in config.items()
         if (key != "MOCK_STORE" or isinstance(value, str))
         and not (key == "MOCK_REPLIES" and shared)})
    threading.Thread(target=_announce_when_open, args=(host, port, announce), daemon=True).start()
    Granian(f"{__name__}:granian_app", address=host, port=port, interface=Interfaces.WSGI,
            factory=True, workers=workers, blocking_threads=threads, websockets=False,
            log_level=LogLevels.warning).serve()


def _announce_when_open(host: str, port: int, announce: Callable[[], None]) -> None:
    """Announce once the port takes connections (granian gives no hook for it)."""
    while True:
        try:
            socket.create_connection((host, port), timeout=1).close()
        except OSError:
            time.sleep(0.05)
            continue
        announce()
        return


def granian_app() -> Flask:
    """The app of a granian worker, built from the configuration the parent passed on."""
    from ..web.app import create_app
    # granian starts every WSGI environ from a copy of the process environment, which it
    # reads after this: an HTTP_PROXY there would be journaled as a "proxy" request header.
    for name in [name for name in os.environ
                 if name.startswith("HTTP_") or name in ("CONTENT_TYPE", "CONTENT_LENGTH")]:
        del os.environ[name]
    return create_app(json.loads(os.environ.get(GRANIAN_CONFIG_ENV, "{}")))


# (app, bound socket, threads, worker processes, configuration, announce)
Runner = Callable[[Flask, socket.socket, int, int, dict[str, Any], Callable[[], None]], None]
SERVERS: dict[str, Runner] = {
    "asyncio": serve_asyncio,
    "gunicorn": serve_gunicorn,
    "gevent": serve_gevent,
    "waitress": serve_waitress,
    "granian": serve_granian,
    "werkzeug": serve_werkzeug,
}


def available(name: str) -> bool:
    modules = {"werkzeug": ["werkzeug.serving"], "gevent": ["gunicorn", "gevent"],
               "asyncio": ["httptools"]}
    try:
        for module in modules.get(name, [name]):
            __import__(module)
    except ImportError:
        return False
    return not (name in ("gunicorn", "gevent") and sys.platform == "win32")
