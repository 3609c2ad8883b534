"""``POST /api/text`` without Flask's per-request machinery: the request a load is made of."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flask import Flask

from ..core.edge import API_PATH
from ..core.hosts import HostPolicy
from ..core.wire import wsgi_status
from .environ import request_from_environ, request_head, split_namespace
from .extension import engine_of
from .site_routes import disconnect

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse


class FastPath:
    """WSGI middleware: ``POST /api/text`` goes from the environ to the engine and back
    without Flask's request context, routing and response objects, which cost more than the
    mock's own work. The request is built and the answer given as the Flask route does, byte
    for byte; every other request, and any failure, is the Flask app's as before. First of
    all, for every request, a ``/ns/{name}`` prefix is split off the path (``environ``), and a
    ``Host`` the app does not serve (``MOCK_ALLOWED_HOSTS``) is answered 421, its body unread."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.flask_wsgi_app = app.wsgi_app
        allowed = app.config.get("MOCK_ALLOWED_HOSTS")
        self.hosts = None if allowed is None else HostPolicy(
            allowed, app.config.get("MOCK_INTERCEPT_HOSTS") or ())

    def __call__(self, environ: dict[str, Any], start_response: StartResponse
                 ) -> Iterable[bytes]:
        split_namespace(environ)
        if self.hosts is not None and not self.hosts.allows(environ.get("HTTP_HOST")):
            return self._misdirected(environ, start_response, self.hosts)
        if (environ.get("PATH_INFO") != API_PATH or environ.get("REQUEST_METHOD") != "POST"
                or self.app.config["MAX_CONTENT_LENGTH"] is not None):
            return self.flask_wsgi_app(environ, start_response)
        try:
            incoming, end = request_from_environ(environ)
            answer = engine_of(self.app).handle(incoming).answer
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
        start_response(wsgi_status(answer.status), headers)
        return [answer.body]

    def _misdirected(self, environ: dict[str, Any], start_response: StartResponse,
                     hosts: HostPolicy) -> Iterable[bytes]:
        answer = engine_of(self.app).refuse(request_head(environ), 421,
                                            hosts.refusal(environ.get("HTTP_HOST", "")))
        start_response(wsgi_status(421), [*answer.headers,
                                          ("Content-Length", str(len(answer.body))),
                                          ("Connection", "close")])
        return [answer.body]
