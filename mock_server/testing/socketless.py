"""The mock without a socket: the ``responses`` library hands every request ``requests`` sends to
the fake base URL to the same ``Engine`` the Flask app uses (the in-process half of the test
kit, ``aichat_responses``; also usable on its own)::

    with InProcessMock() as mock:
        aichat.complete(messages, base_url=mock.base_url)
        mock.requests  # the journal

The request is turned into the ``IncomingRequest`` werkzeug's server would have made of it, so
journal entries match the live server's (``remote_addr`` is ``None``: there is no peer), and
the engine's ``Answer`` into what ``requests`` returns or raises:

- ``disconnect`` raises the ``requests.ConnectionError`` a closed connection raises;
- ``delay_ms`` really sleeps; a delay the request's read timeout would not wait out sleeps
  that timeout and raises ``requests.ReadTimeout``, as a socket would;
- retries: ``responses`` replays the adapter's urllib3 ``Retry`` (which answers are retried,
  how often, the cap on ``Retry-After``) but never sleeps between attempts.

Paths under ``/__mock__/`` go to the Flask app itself, so the admin API answers here too.
"""

from __future__ import annotations

import http.client
import re
import time
from collections.abc import Iterable, Mapping
from importlib.metadata import version
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
import responses
import urllib3.exceptions
from requests.models import PreparedRequest

from ..core import edge, namespaces
from ..core.edge import MAX_BODY
from ..core.wire import Answer, IncomingRequest
from ..web.app import create_app, engine_of
from ..web.environ import headers_of
from .kit import AichatMock

#: Where the in-process mock answers: a name that never resolves (RFC 6761 ``.invalid``).
FAKE_BASE_URL = "http://aichat.invalid"
DEFAULT_PORTS = {"http": 80, "https": 443}
# A text body goes out as UTF-8 from urllib3 2; urllib3 1.26 leaves it to http.client, which
# sends Latin-1 (and refuses what Latin-1 cannot carry).
TEXT_BODY_CODEC = "latin-1" if version("urllib3").startswith("1.") else "utf-8"

# What ``responses`` hands back: a result to build a response from, or an error to raise.
Result = tuple[int, list[tuple[str, str]], bytes] | Exception


class _Route(responses.CallbackResponse):
    """Every method and path under one base URL: the engine answers 405 and 404 itself."""

    def __init__(self, pattern: re.Pattern[str], callback: Any) -> None:
        super().__init__("GET", pattern, callback, content_type=None)
        self.pattern = pattern

    def matches(self, request: PreparedRequest) -> tuple[bool, str]:
        if self.pattern.match(str(request.url)):
            return True, ""
        return False, "URL does not match"


def _wire_bytes(value: str | bytes) -> bytes:
    # http.client sends text header values as Latin-1 (and refuses what Latin-1 cannot carry).
    return value if isinstance(value, bytes) else value.encode("latin-1")


def _host_header(url: str) -> str:
    """The ``Host`` header http.client sends for ``url``: the port only when not the default."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode(TEXT_BODY_CODEC)
    if isinstance(body, Iterable):  # a generator: sent chunked, read whole by the server
        return b"".join(_body_bytes(chunk) for chunk in body)
    raise TypeError(f"cannot send a body of type {type(body).__name__}")


def incoming_request(prepared: PreparedRequest) -> IncomingRequest:
    """What the mock sees of ``prepared`` once HTTP and werkzeug's server have carried it.

    HTTP adds a ``Host`` header first; werkzeug drops header names with ``_`` and hands the
    app the path percent-decoded and the query as sent. The headers then go through the very
    function the Flask app uses (``web.environ.headers_of``).
    """
    target = prepared.path_url
    path, _, query = target.partition("?")
    environ: dict[str, Any] = {}
    given = {name.lower() for name in prepared.headers}
    headers: list[tuple[str, str | bytes]] = (
        [] if "host" in given else [("Host", _host_header(str(prepared.url)))])
    headers.extend(prepared.headers.items())
    for name, value in headers:
        if "_" in name:
            continue
        key = name.upper().replace("-", "_")
        text = _wire_bytes(value).decode("latin-1")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        environ[key] = text
    body = _body_bytes(prepared.body)
    where = edge.split(unquote(path) or "/")
    received = headers_of(environ)
    return IncomingRequest(
        method=str(prepared.method).upper(),
        path=where.path,
        namespace=where.namespace,
        query=query,
        headers=received,
        host=received.get("host"),
        scheme=urlsplit(str(prepared.url)).scheme or "http",
        body=body[:MAX_BODY + 1],  # what the live server keeps of a long body
        remote_addr=None,
        body_size=len(body),
        # body_complete stays True: requests hands over the whole body, never a part of it.
    )


def read_timeout(timeout: Any) -> float | None:
    """The read part of a ``requests`` timeout (a number, a pair, or urllib3's ``Timeout``)."""
    if isinstance(timeout, tuple):
        timeout = timeout[1]
    elif isinstance(timeout, urllib3.Timeout):
        timeout = timeout.read_timeout
    return float(timeout) if isinstance(timeout, (int, float)) else None


def transport_result(answer: Answer, prepared: PreparedRequest,
                     timeout: float | None) -> Result:
    """What ``requests`` gets for ``answer``: status, headers and body, or the error a socket
    would have given. Sleeps for the answer's delay (at most ``timeout``)."""
    if answer.delay > 0:
        if timeout is not None and answer.delay >= timeout:
            time.sleep(timeout)
            return requests.ReadTimeout(
                f"{prepared.url}: Read timed out. (read timeout={timeout:g})", request=prepared)
        time.sleep(answer.delay)
    if answer.disconnect:
        return requests.ConnectionError(
            urllib3.exceptions.ProtocolError(
                "Connection aborted.",
                http.client.RemoteDisconnected("Remote end closed connection without response")),
            request=prepared)
    body = b"" if prepared.method == "HEAD" else answer.body
    return answer.status, list(answer.headers), body


class InProcessMock(AichatMock):
    """``create_app(config)``'s engine answering ``requests`` calls to ``base_url`` in this
    process. ``start()``/``stop()`` (or ``with``) turn the interception on and off; the engine,
    its journal and its queue live as long as the object. Requests to any other URL are
    refused with a ``requests.ConnectionError`` while it is on (``responses``' way); use
    ``requests_mock`` to add routes of your own or ``add_passthru``."""

    def __init__(self, config: Mapping[str, Any] | None = None, *,
                 base_url: str = FAKE_BASE_URL) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname \
                or parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(f"base_url must be http(s)://host[:port] with no path; "
                             f"got {base_url!r}")
        self.app = create_app(config)
        self.engine = engine_of(self.app)
        super().__init__(self.engine.admin(), base_url)
        self._pattern = re.compile(re.escape(self.base_url) + r"(?=[/?#]|\Z)", re.IGNORECASE)
        self._mock: responses.RequestsMock | None = None

    @property
    def active(self) -> bool:
        return self._mock is not None

    def within(self, name: str) -> InProcessNamespace:
        """Namespace ``name`` of this mock: ``base_url/ns/name``, with a journal view, a reply
        queue and settings of its own, answered while this mock is started."""
        return InProcessNamespace(self, name)

    @property
    def requests_mock(self) -> responses.RequestsMock:
        """The active ``responses.RequestsMock``: add routes of your own to it."""
        if self._mock is None:
            raise RuntimeError("the in-process mock is not started")
        return self._mock

    def start(self) -> None:
        """Answer ``requests``' calls to ``base_url`` from now on."""
        if self._mock is not None:
            return
        mock = responses.RequestsMock(assert_all_requests_are_fired=False)
        mock.add(_Route(self._pattern, self._answer))
        mock.start()
        self._mock = mock

    def stop(self) -> None:
        """Give ``requests`` its real transport back."""
        mock, self._mock = self._mock, None
        if mock is not None:
            try:
                mock.stop(allow_assert=False)
            finally:
                mock.reset()

    def close(self) -> None:
        """Stop, and close the engine (its journal file, when it has one)."""
        self.stop()
        self.engine.close()

    def __enter__(self) -> InProcessMock:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def _answer(self, prepared: PreparedRequest) -> Result:
        incoming = incoming_request(prepared)
        if edge.is_admin(incoming.path):
            return self._admin(prepared, incoming)
        outcome = self.engine.handle(incoming)
        kwargs: dict[str, Any] = getattr(prepared, "req_kwargs", {})
        return transport_result(outcome.answer, prepared, read_timeout(kwargs.get("timeout")))

    def _admin(self, prepared: PreparedRequest, incoming: IncomingRequest) -> Result:
        """The admin API and the pages under ``/__mock__/``, from the Flask app itself."""
        headers = [(name, value) for name, value in incoming.headers.items()
                   if name not in ("host", "content-length")]
        response = self.app.test_client().open(
            prepared.path_url, base_url=self.base_url, method=incoming.method,
            headers=headers, data=incoming.body)
        try:
            return response.status_code, list(response.headers.items()), response.get_data()
        finally:
            response.close()


class InProcessNamespace(AichatMock):
    """A namespace of an ``InProcessMock``: the same engine and interception, its own journal
    view, reply queue and settings."""

    def __init__(self, parent: InProcessMock, name: str) -> None:
        super().__init__(parent.engine.admin(name), parent.base_url + namespaces.prefix(name))
        self.parent = parent

    @property
    def requests_mock(self) -> responses.RequestsMock:
        """The active ``responses.RequestsMock`` of the mock: add routes of your own to it."""
        return self.parent.requests_mock
