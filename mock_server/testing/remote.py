"""A client for a mock that runs anywhere (the ``aichat-mock`` command, a child process, a
server of another machine's test run): ``AichatMock`` over the admin API on HTTP::

    with RemoteMock("http://127.0.0.1:8080") as mock:
        mock.reply("Hi!")
        aichat.complete(messages, base_url=mock.base_url)
        mock.requests  # the journal
"""

from __future__ import annotations

from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import urllib3.exceptions
from requests import RequestException, Response, Session
from requests.exceptions import ConnectionError as BrokenConnection

from ..core import contract, namespaces
from ..core.edge import ADMIN_PREFIX
from ..core.errors import MatchError, MockError, ReplyError, SettingsError, UnknownReplyError
from ..core.records import AdminAPI, JournalPage, Queued, QueuedReply, Settings
from .kit import AichatMock

TIMEOUT = 30.0


class MockAdminError(MockError, RuntimeError):
    """The admin API refused a call or could not be reached; the message says which and why."""


def namespace_in(base_url: str) -> str:
    """The namespace a base URL ending in ``/ns/{name}`` is on; ``""`` for any other."""
    _, found, name = urlsplit(base_url).path.rstrip("/").rpartition(namespaces.PREFIX)
    return name if found and namespaces.is_name(name) else namespaces.DEFAULT


# The error each refusal (400, 404) of these admin calls raises: the kit's, as in-process.
REFUSALS: dict[tuple[str, str], type[Exception]] = {
    ("POST", "/replies"): ReplyError,
    ("POST", "/requests/find"): MatchError,
    ("PUT", "/settings"): SettingsError,
    ("DELETE", "/replies/"): UnknownReplyError,
}


def _cut_under_a_call(error: RequestException) -> bool:
    """Whether the connection broke after it was made, before an answer came."""
    return isinstance(error, BrokenConnection) and isinstance(
        error.args[0] if error.args else None, urllib3.exceptions.ProtocolError)


class AdminClient:
    """The admin API of the mock at ``base_url``, over HTTP: the ``AdminAPI`` of a running
    mock's namespace (``base_url`` ends with ``/ns/{name}`` for one but the default). One
    kept-alive connection per client; never through a proxy of the environment."""

    def __init__(self, base_url: str, *, timeout: float = TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._namespace = namespace_in(self.base_url)
        self._session = Session()
        self._session.trust_env = False

    @property
    def namespace(self) -> str:
        return self._namespace

    def within(self, name: str) -> AdminAPI:
        if self._namespace != namespaces.DEFAULT:
            raise ValueError(f"namespaces do not nest: this is namespace "
                             f"{self._namespace!r} already")
        return AdminClient(self.base_url + namespaces.prefix(namespaces.check(name)),
                           timeout=self.timeout)

    def call(self, method: str, path: str, *, params: dict[str, Any] | None = None,
             payload: Any = None) -> Any:
        """``method`` on ``/__mock__{path}``, the answer's JSON; ``payload`` is sent as JSON."""
        url = self.base_url + ADMIN_PREFIX + path
        for attempt in (1, 2):
            try:
                response = self._session.request(
                    method, url, params=params, timeout=self.timeout,
                    **({} if payload is None else {"json": payload}))
                break
            except RequestException as error:
                # The mock closes a connection left idle past its keep-alive timeout, and a
                # call can meet that close on the kept-alive connection before it is read:
                # once, it goes again on a fresh one. A mock that is not there is not retried.
                if attempt == 2 or not _cut_under_a_call(error):
                    raise MockAdminError(f"{method} {url}: {error}") from error
        refusal = REFUSALS.get((method, path if not path.startswith("/replies/")
                                else "/replies/"))
        if refusal is not None and response.status_code in (400, 404):
            raise refusal(self._reason(response))
        if not response.ok:
            raise MockAdminError(f"{method} {url} answered {response.status_code}: "
                                 f"{self._reason(response)}")
        try:
            return response.json()
        except ValueError as error:
            raise MockAdminError(f"{method} {url} answered {response.status_code} with no "
                                 f"JSON: {response.text[:200]!r}") from error

    @staticmethod
    def _reason(response: Response) -> str:
        try:
            return str(response.json()["error"])
        except (ValueError, KeyError, TypeError):
            return response.text[:200]

    def requests(self, *, path: str | None = None, limit: int | None = None) -> JournalPage:
        """The most recent ``limit`` entries (``None``: every one held), read a page at a time
        from the newest (``?limit=`` and ``?before_id=``), and the total of the first page."""
        return self._pages("GET", "/requests", {} if path is None else {"path": path}, None,
                           limit)

    def find(self, match: Any) -> JournalPage:
        """Every entry the match finds, read a page at a time as ``requests`` does."""
        return self._pages("POST", "/requests/find", {}, {"match": match}, None)

    def _pages(self, method: str, route: str, params: dict[str, Any], payload: Any,
               wanted: int | None) -> JournalPage:
        held: list[Any] = []
        total: int | None = None
        before: int | None = None
        # Entries asked for per call: the server's default page.
        page_size = contract.admin_limits().default_page
        while True:
            size = page_size if wanted is None else min(page_size, wanted - len(held))
            query = {**params, "limit": size}
            if before is not None:
                query["before_id"] = before
            page: JournalPage = self.call(method, route, params=query, payload=payload)
            if total is None:
                total = page["total"]
            held[:0] = page["requests"]
            if len(page["requests"]) < size or not page["requests"] or (
                    wanted is not None and len(held) >= wanted):
                break
            before = page["requests"][0]["id"]
        return {"total": total, "requests": held}

    def clear_requests(self) -> dict[str, int]:
        cleared: dict[str, int] = self.call("DELETE", "/requests")
        return cleared

    def queue_replies(self, payload: Any) -> Queued:
        queued: Queued = self.call("POST", "/replies", payload=payload)
        return queued

    def replies(self) -> dict[str, list[QueuedReply]]:
        held: dict[str, list[QueuedReply]] = self.call("GET", "/replies")
        return held

    def remove_reply(self, reply_id: str) -> dict[str, str]:
        removed: dict[str, str] = self.call("DELETE", "/replies/" + quote(reply_id, safe=""))
        return removed

    def clear_replies(self) -> dict[str, int]:
        cleared: dict[str, int] = self.call("DELETE", "/replies")
        return cleared

    def reset(self) -> dict[str, int]:
        cleared: dict[str, int] = self.call("POST", "/reset", payload={})
        return cleared

    def settings(self) -> Settings:
        current: Settings = self.call("GET", "/settings")
        return current

    def put_settings(self, payload: Any) -> Settings:
        current: Settings = self.call("PUT", "/settings", payload=payload)
        return current

    def health(self) -> dict[str, Any]:
        status: dict[str, Any] = self.call("GET", "/health")
        return status

    def close(self) -> None:
        self._session.close()


class RemoteMock(AichatMock):
    """The mock at ``base_url``, for a test or a script: the ``AichatMock`` interface over its
    admin API. ``health()`` asks whether it is up; ``close()`` (or ``with``) lets go of the
    connection."""

    admin: AdminClient
    #: The certificate of the mock's CA, for a mock that intercepts (aichat-mock --intercept)
    #: where it is known (the ``aichat_intercept`` fixture's); else None.
    ca_file: str | None = None

    def __init__(self, base_url: str, *, timeout: float = TIMEOUT) -> None:
        super().__init__(AdminClient(base_url, timeout=timeout), base_url)

    def within(self, name: str) -> RemoteMock:
        """The same server's namespace ``name``, as a ``RemoteMock`` of its own (close it
        too)."""
        if self.namespace != namespaces.DEFAULT:
            raise ValueError(f"namespaces do not nest: this is namespace "
                             f"{self.namespace!r} already")
        return RemoteMock(self.base_url + namespaces.prefix(namespaces.check(name)),
                          timeout=self.admin.timeout)

    def health(self) -> dict[str, Any]:
        """``GET /__mock__/health``: ``{"status": "ok", "version": ...}``."""
        return self.admin.health()

    def close(self) -> None:
        self.admin.close()

    def __enter__(self) -> RemoteMock:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()
