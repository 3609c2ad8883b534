"""Shared fixtures: a live mock server on a free loopback port.

``mock_server_process`` starts the real ``aichat-mock`` command (``python -m mock_server
--port 0``, its default production WSGI server) once per session; ``mock_server`` hands it to
a test with its journal and reply queue emptied first. They follow the shape of
pytest-httpserver's fixtures: ``url``, ``url_for(path)``, the recorded requests, ``clear()``.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import requests

from mock_server.process import MockProcess

# Variables that would send the tests' loopback traffic through a proxy, or elsewhere.
AMBIENT_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy",
                     "https_proxy", "all_proxy", "no_proxy", "AICHAT_BASE_URL")


class LiveMock:
    """A running mock server and a small client for its admin API."""

    def __init__(self, process: MockProcess) -> None:
        self.process = process
        self.url = process.url
        self.admin = requests.Session()
        self.admin.trust_env = False  # loopback only: never a proxy from the environment

    @property
    def base_url(self) -> str:
        """The provider's ``base_url`` for this mock (the same as ``url``)."""
        return self.url

    def url_for(self, path: str) -> str:
        """The full URL of ``path`` on the mock (``"/api/text"`` → ``http://127.0.0.1:N/api/text``)."""
        return self.url + (path if path.startswith("/") else "/" + path)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.admin.request(method, self.url_for("/__mock__" + path), timeout=30,
                                      **kwargs)
        assert response.ok, f"{method} /__mock__{path}: {response.status_code} {response.text}"
        return response.json()

    def journal(self, path: str | None = None, limit: int | None = None) -> dict[str, Any]:
        """``{"total": N, "requests": [...]}`` as ``GET /__mock__/requests`` answers it."""
        params: dict[str, Any] = {}
        if path is not None:
            params["path"] = path
        if limit is not None:
            params["limit"] = limit
        result: dict[str, Any] = self._call("GET", "/requests", params=params)
        return result

    def entries(self, path: str | None = None) -> list[dict[str, Any]]:
        """The recorded requests, oldest first."""
        entries: list[dict[str, Any]] = self.journal(path)["requests"]
        return entries

    def queue(self, *replies: Mapping[str, Any]) -> int:
        """Queue scripted replies, in order."""
        queued: int = self._call("POST", "/replies", json=list(replies))["queued"]
        return queued

    def replies(self) -> list[dict[str, Any]]:
        queued: list[dict[str, Any]] = self._call("GET", "/replies")["replies"]
        return queued

    def clear(self) -> None:
        """Empty the journal and the reply queue."""
        self._call("DELETE", "/requests")
        self._call("DELETE", "/replies")


@pytest.fixture(scope="session")
def mock_server_process() -> Iterator[LiveMock]:
    """The mock server command, running for the whole session."""
    process = MockProcess()
    live = LiveMock(process)
    try:
        yield live
    finally:
        live.admin.close()
        # SIGINT is gunicorn's quick stop: the provider's pooled keep-alive connections would
        # hold a graceful (SIGTERM) stop for two seconds. Both are tested on their own.
        process.stop(signal.SIGINT)


@pytest.fixture
def mock_server(mock_server_process: LiveMock) -> LiveMock:
    """The session's mock server with an empty journal and reply queue."""
    assert mock_server_process.process.process.poll() is None, (
        f"the mock server has exited: {mock_server_process.process.tail()}")
    mock_server_process.clear()
    return mock_server_process


@pytest.fixture
def no_ambient_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy or base URL from the environment reaches the provider."""
    for name in AMBIENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
