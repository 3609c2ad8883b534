"""The Flask application factory."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from ..core import edge
from ..core.engine import Engine
from ..core.journal import DEFAULT_BODY_CAP, STORAGE_ERRORS
from ..core.replies import DEFAULT_REPLY_TEXT
from ..core.store import DEFAULT_JOURNAL_CAP, Store
from ..core.store_setting import open_store
from ..core.wire import PAGE_HEADERS
from . import admin_routes as admin
from . import site_routes as site
from .extension import EXTENSION, engine_of
from .fast_path import FastPath

__all__ = ["CONFIG_DEFAULTS", "chat_page", "create_app", "engine_of"]

#: The configuration keys ``create_app`` reads, with their defaults.
CONFIG_DEFAULTS: dict[str, Any] = {
    # "echo" answers "You said: <last user turn>"; "fixed" answers MOCK_REPLY_TEXT.
    "MOCK_REPLY_MODE": "echo",
    "MOCK_REPLY_TEXT": DEFAULT_REPLY_TEXT,
    # A JSON-lines file every journal entry is appended to (not capped); None for none.
    "MOCK_JOURNAL_FILE": None,
    # How many entries the journal keeps in memory (oldest dropped first).
    "MOCK_JOURNAL_CAP": DEFAULT_JOURNAL_CAP,
    # How many characters of a request body (and of an answer) an entry keeps.
    "MOCK_JOURNAL_BODY_CAP": DEFAULT_BODY_CAP,
    # False: requests are not recorded (for benchmarks); everything else is the same.
    "MOCK_JOURNAL_ENABLED": True,
    # True: the journal keeps the values of authorization, proxy-authorization and cookie
    # headers; by default it keeps "[redacted: N chars]".
    "MOCK_KEEP_SECRETS": False,
    # The journal and the reply queue: a Store instance, or the text "memory" or
    # "sqlite:PATH" (shared by every process that opens the file); None for a new MemoryStore.
    "MOCK_STORE": None,
    # Scripted replies queued in the default namespace when the app is made (a list, as
    # POST /__mock__/replies takes it); None for none.
    "MOCK_REPLIES": None,
    # None: any Host is served. A list of names (the address the server is bound to, those
    # of --allow-host): only those and loopback hosts are; others get 421 (core.hosts).
    "MOCK_ALLOWED_HOSTS": None,
    # The host names the mock answers for as an intercepting proxy (--intercept; served like
    # the allowed ones); None for none.
    "MOCK_INTERCEPT_HOSTS": None,
    # The certificate of the CA of --intercept, which GET /__mock__/ca.pem serves; None: no CA
    # (404).
    "MOCK_CA_FILE": None,
}


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the mock's Flask app. ``config`` takes the keys of ``CONFIG_DEFAULTS`` (other
    Flask settings are passed through); each app gets its own journal and reply queue."""
    settings = dict(config or {})
    unknown = sorted(key for key in settings
                     if key.startswith("MOCK_") and key not in CONFIG_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown mock setting(s) {', '.join(unknown)}; "
                         f"known: {', '.join(CONFIG_DEFAULTS)}")
    app = Flask(__name__, static_url_path="/__mock__/static")
    app.config.update(CONFIG_DEFAULTS)
    app.config.update(settings)
    store: Store | str | None = app.config["MOCK_STORE"]
    opened = isinstance(store, str)
    if isinstance(store, str):
        store = open_store(store, app.config["MOCK_JOURNAL_CAP"])
    elif store is not None and not isinstance(store, Store):
        raise ValueError("MOCK_STORE must implement mock_server.Store, or be 'memory' "
                         "or 'sqlite:PATH'")
    engine = app.extensions[EXTENSION] = Engine(
        reply_mode=app.config["MOCK_REPLY_MODE"],
        reply_text=app.config["MOCK_REPLY_TEXT"],
        store=store,
        journal_cap=app.config["MOCK_JOURNAL_CAP"],
        journal_file=app.config["MOCK_JOURNAL_FILE"],
        body_cap=app.config["MOCK_JOURNAL_BODY_CAP"],
        journal_enabled=app.config["MOCK_JOURNAL_ENABLED"],
        keep_secrets=app.config["MOCK_KEEP_SECRETS"],
        chat_page=chat_page(),
        owns_store=opened,
    )
    allowed = app.config["MOCK_ALLOWED_HOSTS"]
    if allowed is not None and (isinstance(allowed, str) or not all(
            isinstance(name, str) for name in allowed)):
        engine.close()
        raise ValueError("MOCK_ALLOWED_HOSTS must be None or a list of host names")
    if app.config["MOCK_REPLIES"] is not None:
        try:
            engine.queue_replies(app.config["MOCK_REPLIES"])
        except ValueError:
            engine.close()
            raise
    # "//api/text" is a path of its own for the mock, not a redirect to "/api/text".
    app.url_map.merge_slashes = False
    # Journal entries keep their field order and the bodies their key order.
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.register_blueprint(admin.blueprint)
    app.after_request(_page_headers)
    app.register_blueprint(site.blueprint)
    app.register_error_handler(NotFound, _routing_error)
    app.register_error_handler(MethodNotAllowed, _routing_error)
    app.register_error_handler(HTTPException, _other_error)
    for storage_error in STORAGE_ERRORS:
        app.register_error_handler(storage_error, _storage_error)
    # POST /api/text, the request a load is made of, skips Flask's per-request machinery;
    # before anything, a /ns/{name} prefix is split off the path.
    app.wsgi_app = FastPath(app)  # type: ignore[method-assign]
    return app


@cache
def chat_page() -> bytes:
    """The chat page, as every carrier of the mock serves it: the file's bytes."""
    return files("mock_server.web").joinpath("templates").joinpath("chat.html").read_bytes()


def _routing_error(error: NotFound | MethodNotAllowed) -> Any:
    """Requests Flask's routing turns away (an unusual method, say) still get the mock's
    answer, and the site's are journaled like any other."""
    if edge.is_admin(request.path):
        if error.code == 404:
            return admin.not_found(request.path)
        response, status = admin.error(
            error.code or 500, f"{error.name}: {request.method} {request.path} "
                               f"({error.description})")
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
        return response, status
    return site.serve()


def _page_headers(response: Response) -> Response:
    """The admin API's pages, files and answers carry the pages' security headers (the site's
    chat page gets them from the engine; its API answers stay as the real site's)."""
    if edge.is_admin(request.path):
        for name, value in PAGE_HEADERS:
            response.headers.setdefault(name, value)
    return response


def _storage_error(error: Exception) -> Any:
    """The store failed under an admin call (a full disk, a broken database): 503, saying so,
    never a 500. The site's requests are answered whatever the store does (the engine)."""
    reason = f"the store failed: {getattr(error, 'strerror', None) or error}; try again"
    if edge.is_admin(request.path):
        return admin.error(503, reason)
    return jsonify({"response": False, "message": f"mock server error: {reason}"}), 503


def _other_error(error: HTTPException) -> Any:
    """Any other failure (a bug of the mock included: Flask logs its traceback) still answers
    JSON, in the shape of the part of the mock that was asked."""
    status = error.code or 500
    reason = f"{error.name} ({error.description})"
    if edge.is_admin(request.path):
        return admin.error(status, reason)
    return jsonify({"response": False, "message": f"mock server error: {reason}"}), status
