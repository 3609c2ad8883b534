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

from requests import RequestException, Response, Session

from ..core.records import JournalPage, ScriptedReply
from ..core.replies import ReplyError
from .kit import AichatMock

ADMIN_PREFIX = "/__mock__"
TIMEOUT = 30.0


class MockAdminError(RuntimeError):
    """The admin API refused a call or could not be reached; the message says which and why."""


class AdminClient:
    """The admin API of the mock at ``base_url``, over HTTP: the ``AdminAPI`` of a running
    mock. One kept-alive connection per client; never through a proxy of the environment."""

    def __init__(self, base_url: str, *, timeout: float = TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = Session()
        self._session.trust_env = False

    def call(self, method: str, path: str, *, params: dict[str, Any] | None = None,
             payload: Any = None) -> Any:
        """``method`` on ``/__mock__{path}``, the answer's JSON; ``payload`` is sent as JSON."""
        url = self.base_url + ADMIN_PREFIX + path
        try:
            response = self._session.request(
                method, url, params=params, timeout=self.timeout,
                **({} if payload is None else {"json": payload}))
        except RequestException as error:
            raise MockAdminError(f"{method} {url}: {error}") from error
        if response.status_code == 400 and method == "POST" and path == "/replies":
            raise ReplyError(self._reason(response))
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
        params = {key: value for key, value in (("path", path), ("limit", limit))
                  if value is not None}
        page: JournalPage = self.call("GET", "/requests", params=params)
        return page

    def clear_requests(self) -> dict[str, int]:
        cleared: dict[str, int] = self.call("DELETE", "/requests")
        return cleared

    def queue_replies(self, payload: Any) -> dict[str, int]:
        queued: dict[str, int] = self.call("POST", "/replies", payload=payload)
        return queued

    def replies(self) -> dict[str, list[ScriptedReply]]:
        held: dict[str, list[ScriptedReply]] = self.call("GET", "/replies")
        return held

    def clear_replies(self) -> dict[str, int]:
        cleared: dict[str, int] = self.call("DELETE", "/replies")
        return cleared

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

    def __init__(self, base_url: str, *, timeout: float = TIMEOUT) -> None:
        super().__init__(AdminClient(base_url, timeout=timeout), base_url)

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
