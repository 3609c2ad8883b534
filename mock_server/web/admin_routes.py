"""The admin API under ``/__mock__/`` (and ``/ns/{name}/__mock__/`` for each namespace): health,
the journal, the reply queue, the settings and the inspector page. Its own traffic is not
journaled."""

from __future__ import annotations

import sys
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from ..core import contract, namespaces
from ..core.edge import ADMIN_PREFIX as PREFIX
from ..core.edge import MAX_ADMIN_BODY, MAX_SMALL_BODY
from ..core.errors import ReplyError, SettingsError, UnknownReplyError
from ..core.faults import FAULTS
from ..core.matching import find_payload
from ..core.wire import parse_json
from .environ import READ_CHUNK, namespace_of
from .extension import current_engine as _engine

blueprint = Blueprint("admin", __name__, url_prefix=PREFIX)


def default_page() -> int:
    """How many entries GET /__mock__/requests and POST /__mock__/requests/find (and namespaces
    GET /__mock__/namespaces) answer unless ?limit= says otherwise (the admin contract's
    default): a page is encoded in one go, and a long one would hold up the site's answers
    meanwhile. Older entries are read a page at a time with ?before_id=, further namespaces
    with ?after=."""
    return contract.admin_limits().default_page


def _namespace() -> str:
    return namespace_of(request.environ)


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


# The query parameters each admin route takes (any other is refused, as is one given twice).
QUERY_PARAMETERS: dict[tuple[str, str], frozenset[str]] = {
    ("admin.requests_", "GET"): frozenset({"path", "limit", "before_id", "namespace"}),
    ("admin.requests_", "DELETE"): frozenset({"namespace"}),
    ("admin.find", "POST"): frozenset({"limit", "before_id"}),
    ("admin.namespaces_", "GET"): frozenset({"limit", "after"}),
}


@blueprint.before_request
def _known_parameters() -> tuple[Response, int] | None:
    """A typo in a query parameter (?limt=5) is refused rather than ignored."""
    taken = QUERY_PARAMETERS.get((request.endpoint or "", request.method), frozenset())
    for name in request.args:
        if name not in taken:
            listed = ", ".join(sorted(taken)) if taken else "none"
            return error(400, f"unknown query parameter {name!r} for {request.method} "
                              f"{request.path}; it takes {listed}")
        if len(request.args.getlist(name)) > 1:
            return error(400, f"the query parameter {name!r} is given more than once")
    return None


@blueprint.get("/")
def inspector() -> str:
    from .. import __version__
    return render_template("inspector.html", version=__version__, namespace=_namespace(),
                           faults=FAULTS.values())


@blueprint.get("/health")
def health() -> Response:
    from .. import __version__
    return jsonify({"status": "ok", "version": __version__, **_engine().health()})


def _chosen_namespace() -> str | None:
    """``?namespace=``: another namespace's view (``*``: every namespace), else this one's.
    Raises ``ValueError`` for a name against the rule."""
    chosen = request.args.get("namespace")
    if chosen is None:
        return _namespace()
    if chosen == "*":
        return None
    if chosen == namespaces.DEFAULT:
        return chosen
    try:
        return namespaces.check(chosen)
    except ValueError as problem:
        raise ValueError(f"namespace must be a namespace name or *; {problem}") from None


@blueprint.route("/requests", methods=["GET", "DELETE"])
def requests_() -> Any:
    engine = _engine()
    try:
        chosen = _chosen_namespace()
    except ValueError as problem:
        return error(400, str(problem))
    if request.method == "DELETE":
        return jsonify(engine.clear_requests(namespace=chosen))
    try:
        limit = _whole_number("limit", default_page())
        before_id = _whole_number("before_id", None)
    except ValueError as problem:
        return error(400, str(problem))
    return jsonify(engine.requests(path=request.args.get("path"), limit=limit,
                                   namespace=chosen, before_id=before_id))


def _whole_number(name: str, default: int | None) -> int | None:
    """The query parameter ``name`` as a whole number of 0 or more (``default`` when it is
    not given); ``ValueError`` says what is wrong."""
    text = request.args.get(name)
    if text is None:
        return default
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"{name} must be a whole number of 0 or more; got {text!r}")
    # int() refuses over 4,300 digits; a number of more than 18 already says "all".
    digits = text.lstrip("0")
    return int(digits or "0") if len(digits) <= 18 else sys.maxsize


@blueprint.post("/requests/find")
def find() -> Any:
    payload = _json_body("a search")
    if isinstance(payload, tuple):
        return payload
    try:
        limit = _whole_number("limit", default_page())
        before_id = _whole_number("before_id", None)
        return jsonify(_engine().find(find_payload(payload.value), namespace=_namespace(),
                                      limit=limit, before_id=before_id))
    except ValueError as problem:  # a MatchError too
        return error(400, str(problem))


@blueprint.route("/replies", methods=["GET", "POST", "DELETE"])
def replies_() -> Any:
    engine = _engine()
    if request.method == "GET":
        return jsonify(engine.replies(namespace=_namespace()))
    if request.method == "DELETE":
        return jsonify(engine.clear_replies(namespace=_namespace()))
    payload = _json_body("the replies", cap=MAX_ADMIN_BODY)
    if isinstance(payload, tuple):
        return payload
    try:
        queued = engine.queue_replies(payload.value, namespace=_namespace())
    except ReplyError as problem:
        return error(400, str(problem))
    return jsonify(queued), 201


@blueprint.delete("/replies/<reply_id>")
def reply(reply_id: str) -> Any:
    try:
        return jsonify(_engine().remove_reply(reply_id, namespace=_namespace()))
    except UnknownReplyError as problem:
        return error(404, str(problem))


@blueprint.post("/reset")
def reset() -> Any:
    payload = _json_body("the reset", empty_allowed=True)
    if isinstance(payload, tuple):
        return payload
    if not payload.empty and payload.value != {}:
        return error(400, "the body of a reset is empty or {}: it takes no field")
    return jsonify(_engine().reset(namespace=_namespace()))


@blueprint.route("/settings", methods=["GET", "PUT"])
def settings() -> Any:
    engine = _engine()
    if request.method == "GET":
        return jsonify(engine.settings(namespace=_namespace()))
    payload = _json_body("the settings")
    if isinstance(payload, tuple):
        return payload
    try:
        return jsonify(engine.put_settings(payload.value, namespace=_namespace()))
    except SettingsError as problem:
        return error(400, str(problem))


@blueprint.get("/ca.pem")
def ca_certificate() -> Any:
    """The certificate of the CA the mock signs its tunnels' certificates with (--intercept),
    for a client to trust."""
    path = current_app.config.get("MOCK_CA_FILE")
    if path is None:
        return error(404, "this mock has no CA: start it with --intercept to make one")
    try:
        with open(path, "rb") as file:
            pem = file.read()
    except OSError as problem:
        return error(503, f"the CA certificate {path} cannot be read "
                          f"({problem.strerror or problem}); start the mock again")
    return Response(pem, mimetype="application/x-pem-file")


@blueprint.get("/namespaces")
def namespaces_() -> Any:
    """A page of the namespaces, as the journal is paged: a mock with namespaces without end
    never answers all of them at once. The next page: ``?after=`` the last name of this one."""
    try:
        limit = _whole_number("limit", default_page())
    except ValueError as problem:
        return error(400, str(problem))
    return jsonify(_engine().namespaces(limit=limit, after=request.args.get("after")))


class _Body:
    """A JSON body, parsed; ``empty`` when no body was sent, where none is allowed."""

    def __init__(self, value: Any, *, empty: bool = False) -> None:
        self.value = value
        self.empty = empty


def _too_large(cap: int) -> tuple[Response, int]:
    response, status = error(413, f"the body is over {cap} bytes, the most this route takes")
    response.headers["Connection"] = "close"  # the rest of the body is left unread
    return response, status


def _read_capped(cap: int) -> bytes | None:
    """The body, read a piece at a time; ``None`` as soon as it passes ``cap`` bytes (the rest
    is never read, so a body without end costs no more than the cap)."""
    pieces: list[bytes] = []
    size = 0
    while piece := request.stream.read(READ_CHUNK):
        size += len(piece)
        if size > cap:
            return None
        pieces.append(piece)
    return b"".join(pieces)


def _json_body(what: str, *, empty_allowed: bool = False, cap: int = MAX_SMALL_BODY
               ) -> _Body | tuple[Response, int]:
    """The request's JSON body, or the refusal to answer: JSON only, whole, within the cap
    (refused while it is read, not after). A cross-site form cannot send JSON without a CORS
    preflight."""
    if not request.is_json:
        # A body-less POST (curl -X POST) may leave the type out where no body is needed;
        # one sent by a web page carries an Origin, and a page elsewhere must not reset the
        # mock with a request a browser sends without a preflight.
        if (empty_allowed and request.content_type is None and "Origin" not in request.headers
                and _read_capped(0) == b""):
            return _Body(None, empty=True)
        return error(415, f"send {what} as JSON, with Content-Type: application/json")
    if (request.content_length or 0) > cap:
        return _too_large(cap)
    try:
        raw = _read_capped(cap)
    except OSError:  # gunicorn: a chunked body that ended before its last chunk
        return error(400, "the body ended before its last chunk; send the whole body")
    if raw is None:
        return _too_large(cap)
    declared = request.content_length
    if declared is not None and len(raw) < declared:
        # gunicorn ends the stream quietly where the client stopped: nothing is done from a
        # prefix that happens to parse.
        return error(400, f"the body ended after {len(raw)} of {declared} bytes announced by "
                          f"its Content-Length; send the whole body")
    if empty_allowed and not raw.strip():
        return _Body(None, empty=True)
    try:
        return _Body(parse_json(raw.decode("utf-8")))
    except (ValueError, RecursionError) as problem:
        return error(400, f"the body is not JSON ({problem}); send {what} as JSON")


def not_found(path: str) -> tuple[Response, int]:
    return error(404, f"no admin route {path}; see {PREFIX}/ for the inspector, "
                      f"{PREFIX}/health, {PREFIX}/requests, {PREFIX}/requests/find, "
                      f"{PREFIX}/replies, {PREFIX}/reset, {PREFIX}/settings and "
                      f"{PREFIX}/namespaces")
