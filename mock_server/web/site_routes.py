"""The site's routes: a thin Flask adapter over ``Engine.handle``."""

from __future__ import annotations

import contextlib
import re
import socket
import time
from typing import Any

from flask import Blueprint, Response, current_app, request
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import PathConverter

from ..core.edge import ADMIN_PREFIX, API_PATH, CHAT_PATH
from ..core.wire import wsgi_status
from .environ import client_socket, request_from_environ
from .extension import current_engine

blueprint = Blueprint("site", __name__)

# Every method reaches the engine, which answers 405 itself where a route wants another.
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]


class RawResponse(Response):
    """A response that adds no Content-Type of its own (``empty_body`` sends none)."""

    default_mimetype = None


@blueprint.route(API_PATH, methods=METHODS)
def api_text() -> Response:
    return serve()


@blueprint.route(CHAT_PATH, methods=METHODS)
def chat() -> Response:
    return serve()


class SitePathConverter(PathConverter):
    """Any path but the admin API's: its unknown routes and methods are the admin's to refuse."""

    regex = f"(?!{re.escape(ADMIN_PREFIX.lstrip('/'))}(?:/|$))" + PathConverter.regex


@blueprint.record_once
def _register_converter(state: BlueprintSetupState) -> None:
    state.app.url_map.converters["site_path"] = SitePathConverter


@blueprint.route("/", defaults={"path": ""}, methods=METHODS)
@blueprint.route("/<site_path:path>", methods=METHODS)
def other(path: str) -> Response:
    return serve()


def serve() -> Response:
    """Hand the current request to the engine and send its answer."""
    incoming, end = request_from_environ(request.environ,
                                         current_app.config["MAX_CONTENT_LENGTH"])
    answer = current_engine().handle(incoming).answer
    if answer.delay > 0:
        time.sleep(answer.delay)  # one worker thread waits; the others go on serving
    if answer.disconnect:
        return disconnect(request.environ)
    response = RawResponse(answer.body, status=wsgi_status(answer.status),
                           headers=list(answer.headers))
    if end != "whole":
        response.headers["Connection"] = "close"
    return response


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
