"""Shared fixtures: the mock server command on a free loopback port.

``mock_command`` starts the real ``aichat-mock`` command (``python -m mock_server --port 0``,
its default production WSGI server) once per session; ``remote_mock`` hands a test the client
of its admin API (a ``RemoteMock``) with the journal and the reply queue emptied first. They
follow the shape of pytest-httpserver's fixtures: a session's server, cleared per test.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from mock_server.serve.child_process import MockProcess
from mock_server.testing.remote import RemoteMock

# Variables that would send the tests' loopback traffic through a proxy, or elsewhere.
AMBIENT_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy",
                     "https_proxy", "all_proxy", "no_proxy", "AICHAT_BASE_URL")


@pytest.fixture(scope="session")
def mock_command() -> Iterator[MockProcess]:
    """The mock server command, running for the whole session."""
    process = MockProcess()
    try:
        yield process
    finally:
        # SIGINT is gunicorn's quick stop: the provider's pooled keep-alive connections would
        # hold a graceful (SIGTERM) stop for two seconds. Both are tested on their own.
        process.stop(signal.SIGINT)


@pytest.fixture
def remote_mock(mock_command: MockProcess) -> RemoteMock:
    """The session's mock server with an empty journal and reply queue."""
    assert mock_command.process.poll() is None, (
        f"the mock server has exited: {mock_command.tail()}")
    mock_command.mock.clear()
    return mock_command.mock


@pytest.fixture
def no_ambient_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy or base URL from the environment reaches the provider."""
    for name in AMBIENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
