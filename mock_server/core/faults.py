"""The fault catalogue: every misbehaviour of the real site the mock can play, in one place.

A fault is chosen by name in a scripted reply (``{"fault": "rate_limit"}``). ``message`` and
``status`` of the reply adjust it where noted; ``retry_after`` and ``delay_ms`` apply to any
reply and are handled by ``replies``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from html import escape

from .wire import HTML_TYPE, JSON_TYPE, TEXT_TYPE, Answer, json_bytes

CHALLENGE_PAGE = (
    "<!DOCTYPE html><html lang=\"en-US\"><head><title>Just a moment...</title>"
    "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\">"
    "<meta name=\"robots\" content=\"noindex,nofollow\"></head><body>"
    "<div id=\"challenge\"><h1>chat-gpt.org</h1>"
    "<h2>Checking if the site connection is secure</h2>"
    "<p>{text}</p></div></body></html>"
)
DEFAULT_CHALLENGE_TEXT = (
    "chat-gpt.org needs to review the security of your connection before proceeding."
)
HTML_PAGE = ("<!DOCTYPE html><html><head><title>chat-gpt.org</title></head>"
             "<body>{text}</body></html>")
DEFAULT_HTML_TEXT = "Please enable JavaScript to continue."
DEFAULT_UPSTREAM_REASON = "Sorry, the model is overloaded. Please try again later."
# A JSON answer cut off in the middle of a string, as a dropped upstream stream leaves it.
MALFORMED_JSON = b'{"response": true, "message": "cut of'


@dataclass(frozen=True)
class Fault:
    """A named misbehaviour: its default status and how it renders an answer."""

    name: str
    status: int
    summary: str
    render: Callable[[int, str | None], Answer]


# The text faults are partials of this: their answer is made by a module-level function when
# the fault renders (which mutation testing can reach), not by a closure made with the catalogue.
def _text(default: str, status: int, message: str | None) -> Answer:
    return Answer(status, (("Content-Type", TEXT_TYPE),),
                  (default if message is None else message).encode("utf-8"))


def _challenge(status: int, message: str | None) -> Answer:
    text = escape(DEFAULT_CHALLENGE_TEXT if message is None else message)
    # Cloudflare marks its challenges with these headers; the provider may look at them.
    headers = (("Content-Type", HTML_TYPE), ("Server", "cloudflare"),
               ("cf-mitigated", "challenge"), ("Cache-Control", "no-store"))
    return Answer(status, headers, CHALLENGE_PAGE.format(text=text).encode("utf-8"))


def _html(status: int, message: str | None) -> Answer:
    text = escape(DEFAULT_HTML_TEXT if message is None else message)
    return Answer(status, (("Content-Type", HTML_TYPE),), HTML_PAGE.format(text=text).encode())


def _upstream(status: int, message: str | None) -> Answer:
    reason = DEFAULT_UPSTREAM_REASON if message is None else message
    return Answer(status, (("Content-Type", JSON_TYPE),),
                  json_bytes({"response": False, "message": reason}))


def _malformed(status: int, message: str | None) -> Answer:
    return Answer(status, (("Content-Type", JSON_TYPE),), MALFORMED_JSON)


def _empty(status: int, message: str | None) -> Answer:
    return Answer(status)


def _disconnect(status: int, message: str | None) -> Answer:
    return Answer(0, disconnect=True)


FAULTS: dict[str, Fault] = {fault.name: fault for fault in (
    Fault("cloudflare", 403, "403 with an HTML Cloudflare challenge page "
          "(message: the page's text)", _challenge),
    Fault("rate_limit", 429, "429 'Too Many Requests' (message: the body text); "
          "Retry-After when retry_after is given", partial(_text, "Too Many Requests")),
    Fault("server_error", 500, "500 'Internal Server Error' (message: the body text)",
          partial(_text, "Internal Server Error")),
    Fault("bad_gateway", 502, "502 'Bad Gateway' (message: the body text)",
          partial(_text, "Bad Gateway")),
    Fault("unavailable", 503, "503 'Service Unavailable' (message: the body text); "
          "Retry-After when retry_after is given", partial(_text, "Service Unavailable")),
    Fault("upstream_error", 200, "200 {\"response\": false, \"message\": <message>}, "
          "the site refusing", _upstream),
    Fault("malformed_json", 200, "200 application/json with a body cut off mid-string",
          _malformed),
    Fault("html", 200, "200 text/html page where JSON was expected (message: the page's text)",
          _html),
    Fault("empty_body", 200, "200 with no body and no Content-Type", _empty),
    Fault("disconnect", 0, "the connection is closed without a byte of answer", _disconnect),
)}


def render(name: str, *, status: int | None = None, message: str | None = None) -> Answer:
    """The answer of fault ``name``; ``status``, when given, replaces the fault's own."""
    fault = FAULTS[name]
    return fault.render(fault.status if status is None else status, message)
