"""Transport-neutral descriptions of a request the mock received and of the answer it gives.

The Flask routes (and an in-process adapter such as one built on the ``responses`` library)
translate to and from these, so the mock behaves the same whatever carries the bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

# Sent with every page (the chat page, the inspector and what they load): only this origin's
# scripts, styles and requests; never in a frame; no type sniffing; no referrer sent out.
PAGE_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Security-Policy",
     "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
)

JSON_TYPE = "application/json"
# The headers of a JSON answer (most of the mock's answers): one tuple, made once.
JSON_HEADERS: tuple[tuple[str, str], ...] = (("Content-Type", JSON_TYPE),)
HTML_TYPE = "text/html; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"


# Neither type is frozen: a frozen dataclass sets each field through object.__setattr__, which
# cost 0.7 µs (Answer) and 1.3 µs (IncomingRequest) a request, a tenth of the server's own work.
# Nothing changes one after it is made.
@dataclass(slots=True)
class IncomingRequest:
    """What the mock needs to know about a request.

    ``headers`` holds lower-case names and the values as received; ``body`` may be cut short
    by the transport (see ``MAX_BODY`` in ``engine``) while ``body_size`` is the size it saw.
    ``body_complete`` is False when the client stopped sending before the end of the body it
    announced (fewer bytes than its Content-Length, or a chunked body without its last chunk):
    ``body`` is then all that arrived. ``namespace`` is the name of the ``/ns/{name}`` prefix
    the carrier split off ``path`` (``""``: none, the default namespace). ``host`` is the host
    the request named (its ``Host``, or the authority of an absolute-form target), ``scheme``
    ``"https"`` inside a TLS tunnel, and ``via`` ``"proxy"`` for a request the mock answered
    as an intercepting proxy (``--intercept``). ``head_size``, where the carrier knows it, is
    the size of the request line and headers as received: no more characters than that are in
    the names and values of ``headers`` (the journal then need not count them).
    """

    method: str
    path: str
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    remote_addr: str | None = None
    body_size: int | None = None
    body_complete: bool = True
    namespace: str = ""
    host: str | None = None
    scheme: str = "http"
    via: str | None = None
    head_size: int | None = None

    @property
    def size(self) -> int:
        return len(self.body) if self.body_size is None else self.body_size


@dataclass(slots=True)
class Answer:
    """What to send back.

    ``delay`` is in seconds, to wait before answering; ``disconnect`` means close the
    connection without sending a byte (status and body are then ignored).
    """

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    delay: float = 0.0
    disconnect: bool = False
    fault: str | None = None

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


# Made once: json.loads with options builds a decoder on every call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


# The decoder's scanner (an attribute its __init__ sets, which typeshed does not name).
_SCAN: Callable[[str, int], tuple[Any, int]] = vars(_DECODER)["scan_once"]


def parse_json(text: str) -> Any:
    """Strict JSON: no NaN or Infinity, no number that overflows to infinity."""
    if text[:1] == "{":
        # An object with nothing around it, as clients send: read by the decoder's scanner
        # at once (what decode does after skipping whitespace, less two calls and two regex
        # matches); anything else, and every error, is decode's.
        try:
            value, end = _SCAN(text, 0)
        except StopIteration:
            pass
        else:
            if end == len(text):
                return value
    if text.startswith("\ufeff"):  # what json.loads says of it
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _DECODER.decode(text)


# Made once: json.dumps with options builds an encoder on every call.
_ENCODER = json.JSONEncoder(ensure_ascii=False)
# The C encoder JSONEncoder.encode ends in, where the module has it. encode makes a Python
# closure (its fallback's float writer) and goes through iterencode around every call: three
# quarters of what a short value costs (4.4 against 1.1 µs for a record's first five fields).
_MAKE_C_ENCODER: Callable[..., Callable[[Any, int], Sequence[str]]] | None = getattr(
    json.encoder, "c_make_encoder", None)


def _encode_text(data: Any) -> str:
    """``_ENCODER.encode(data)``, by the C encoder made as encode makes it: a fresh dictionary
    of the containers being written (the circular reference check) for every call."""
    if _MAKE_C_ENCODER is None:
        return _ENCODER.encode(data)
    return "".join(_MAKE_C_ENCODER({}, _ENCODER.default, json.encoder.encode_basestring, None,
                                   _ENCODER.key_separator, _ENCODER.item_separator,
                                   False, False, True)(data, 0))


def json_bytes(data: Any) -> bytes:
    """Compact UTF-8 JSON; text with lone surrogates (valid in JSON escapes) is kept escaped."""
    try:
        return _encode_text(data).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(data).encode("ascii")


def json_answer(status: int, data: Any, *, extra: tuple[tuple[str, str], ...] = ()) -> Answer:
    return Answer(status, JSON_HEADERS + extra if extra else JSON_HEADERS, json_bytes(data))


# The encoder's own function for a string (the C one where the module has it).
_ENCODE_STRING = json.encoder.encode_basestring


def json_string(text: str) -> bytes | None:
    """``text`` as the JSON string ``json_bytes`` writes inside a value, or ``None`` for text
    UTF-8 cannot carry (lone surrogates), which ``json_bytes`` writes escaped."""
    try:
        return _ENCODE_STRING(text).encode("utf-8")
    except UnicodeEncodeError:
        return None


# Status lines made so far, per status: the engine answers with a few dozen at most.
_STATUS_LINES: dict[int, bytes] = {}


def reason_phrase(status: int) -> str:
    """The reason phrase every carrier sends with ``status`` (``"Too Many Requests"``); a
    status HTTP does not name is ``"Unknown"``."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def status_line(status: int) -> bytes:
    """The HTTP/1.1 status line of ``status``, CRLF included."""
    line = _STATUS_LINES.get(status)
    if line is None:
        line = b"HTTP/1.1 %d %s\r\n" % (status, reason_phrase(status).encode("latin-1"))
        if len(_STATUS_LINES) < 1000:
            _STATUS_LINES[status] = line
    return line


def wsgi_status(status: int) -> str:
    """The status as a WSGI app hands it to its server (``"429 Too Many Requests"``): the same
    phrase as ``status_line``."""
    return f"{status} {reason_phrase(status)}"


def wire_text(value: str) -> str:
    """Received bytes taken as latin-1 text (as HTTP parsers and WSGI hand them over) made the
    text a UTF-8 sender meant; anything else is kept as it is."""
    if value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value
