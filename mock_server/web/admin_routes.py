"""The admin API under ``/__mock__/``: health, the journal, the reply queue and the inspector
page. Its own traffic is not journaled."""

from __future__ import annotations

import sys
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from ..core.engine import Engine, parse_json
from ..core.replies import ReplyError

PREFIX = "/__mock__"
blueprint = Blueprint("admin", __name__, url_prefix=PREFIX)
# Scripted replies are small; this bounds what a POST may make the mock parse.
MAX_ADMIN_BODY = 8 << 20


def is_admin_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def _engine() -> Engine:
    engine: Engine = current_app.extensions["aichat_mock"]
    return engine


def error(status: int, message: str) -> tuple[Response, int]:
    """The admin API's refusal: ``{"error": "<what is wrong and what to do>"}``."""
    return jsonify({"error": message}), status


@blueprint.before_request
def _method_as_sent() -> tuple[Response, int] | None:
    """Methods are case-sensitive (RFC 9110 9.1) but werkzeug routes by the upper-cased one:
    a "delete" must not empty the journal as DELETE does."""
    sent = request.environ.get("REQUEST_METHOD")
    if sent is None or sent == request.method:
        return None
    response, status = error(405, f"method {sent} is not allowed on {request.path}; methods "
                                  f"are case-sensitive: {request.method} is")
    rule = request.url_rule
    if rule is not None and rule.methods:
        response.headers["Allow"] = ", ".join(sorted(rule.methods))
    return response, status


@blueprint.get("/")
def inspector() -> str:
    from .. import __version__
    return render_template("inspector.html", version=__version__)


@blueprint.get("/health")
def health() -> Response:
    from .. import __version__
    return jsonify({"status": "ok", "version": __version__})


@blueprint.route("/requests", methods=["GET", "DELETE"])
def requests_() -> Any:
    engine = _engine()
    if request.method == "DELETE":
        return jsonify(engine.clear_requests())
    limit_text = request.args.get("limit")
    limit: int | None = None
    if limit_text is not None:
        if not limit_text.isascii() or not limit_text.isdigit():
            return error(400, f"limit must be a whole number of 0 or more; got {limit_text!r}")
        # int() refuses over 4,300 digits; a limit of more than 18 already keeps everything.
        digits = limit_text.lstrip("0")
        limit = int(digits or "0") if len(digits) <= 18 else sys.maxsize
    return jsonify(engine.requests(path=request.args.get("path"), limit=limit))


@blueprint.route("/replies", methods=["GET", "POST", "DELETE"])
def replies_() -> Any:
    engine = _engine()
    if request.method == "GET":
        return jsonify(engine.replies())
    if request.method == "DELETE":
        return jsonify(engine.clear_replies())
    # JSON only: a cross-site form cannot send this without a CORS preflight.
    if not request.is_json:
        return error(415, "send the replies as JSON, with Content-Type: application/json")
    if (request.content_length or 0) > MAX_ADMIN_BODY:
        return error(413, f"the body is over {MAX_ADMIN_BODY} bytes")
    try:
        raw = request.get_data(cache=False)
    except OSError:  # gunicorn: a chunked body that ended before its last chunk
        return error(400, "the body ended before its last chunk; send the whole body")
    if len(raw) > MAX_ADMIN_BODY:
        return error(413, f"the body is over {MAX_ADMIN_BODY} bytes")
    declared = request.content_length
    if declared is not None and len(raw) < declared:
        # gunicorn ends the stream quietly where the client stopped: no reply is queued from
        # a prefix that happens to parse.
        return error(400, f"the body ended after {len(raw)} of {declared} bytes announced by "
                          f"its Content-Length; send the whole body")
    try:
        payload = parse_json(raw.decode("utf-8"))
    except (ValueError, RecursionError) as problem:
        return error(400, f"the body is not JSON ({problem}); send a reply object or a list "
                          f"of them")
    try:
        queued = engine.queue_replies(payload)
    except ReplyError as problem:
        return error(400, str(problem))
    return jsonify(queued), 201


def not_found(path: str) -> tuple[Response, int]:
    return error(404, f"no admin route {path}; see {PREFIX}/ for the inspector, "
                      f"{PREFIX}/health, {PREFIX}/requests and {PREFIX}/replies")
