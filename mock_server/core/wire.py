"""Transport-neutral descriptions of a request the mock received and of the answer it gives.

The Flask routes (and an in-process adapter such as one built on the ``responses`` library)
translate to and from these, so the mock behaves the same whatever carries the bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
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
HTML_TYPE = "text/html; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class IncomingRequest:
    """What the mock needs to know about a request.

    ``headers`` holds lower-case names and the values as received; ``body`` may be cut short
    by the transport (see ``MAX_BODY`` in ``engine``) while ``body_size`` is the size it saw.
    ``body_complete`` is False when the client stopped sending before the end of the body it
    announced (fewer bytes than its Content-Length, or a chunked body without its last chunk):
    ``body`` is then all that arrived. ``namespace`` is the name of the ``/ns/{name}`` prefix
    the carrier split off ``path`` (``""``: none, the default namespace).
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

    @property
    def size(self) -> int:
        return len(self.body) if self.body_size is None else self.body_size


@dataclass(frozen=True)
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
        return next((value for key, value in self.headers if key.lower() == lowered), None)


# Made once: json.dumps with options builds an encoder on every call.
_ENCODE_TEXT = json.JSONEncoder(ensure_ascii=False).encode


def json_bytes(data: Any) -> bytes:
    """Compact UTF-8 JSON; text with lone surrogates (valid in JSON escapes) is kept escaped."""
    try:
        return _ENCODE_TEXT(data).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(data).encode("ascii")


def json_answer(status: int, data: Any, *, extra: tuple[tuple[str, str], ...] = ()) -> Answer:
    return Answer(status, (("Content-Type", JSON_TYPE), *extra), json_bytes(data))
