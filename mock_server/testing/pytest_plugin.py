"""pytest fixtures to test code built on the aichat provider offline, against the mock of
chat-gpt.org this project tests itself with.

Installing the package registers this module with pytest (the ``pytest11`` entry point
``aichat``); nothing needs importing. ``-p no:aichat`` turns it off.

- ``aichat_server``: the real Flask mock served on ``127.0.0.1`` from a background thread;
- ``aichat_responses``: the same mock answering in this process through ``responses``.

Both hand the test a ``mock_server.testing.kit.AichatMock`` with the same attributes and the same
journal entries, and point ``AICHAT_BASE_URL`` at the mock for the test, so the provider (and
``aichat.complete``) reaches it with no argument. Use one of them per test.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .socketless import InProcessMock
    from .thread_server import LiveServer

# The provider's variable, aichat.Aichat.BASE_URL_ENV (a test checks they agree). The live and
# in-process modules are imported by the fixtures that use them: responses is optional.
BASE_URL_ENV = "AICHAT_BASE_URL"
NO_PROXY_VARIABLES = ("NO_PROXY", "no_proxy")
LOOPBACK = "127.0.0.1"
KINDS = ("aichat_server", "aichat_responses")
TESTING_EXTRA = "g4f-aichat[testing]"


@pytest.fixture(scope="session")
def aichat_mock_config() -> dict[str, Any]:
    """Settings of ``mock_server.create_app`` for the mock of both fixtures, such as
    ``{"MOCK_REPLY_MODE": "fixed", "MOCK_REPLY_TEXT": "Hi!"}``; empty by default (echo
    mode). Override it in your ``conftest.py`` with a session-scoped fixture of this name."""
    return {}


@pytest.fixture(scope="session")
def aichat_server_session(aichat_mock_config: dict[str, Any]) -> Iterator[LiveServer]:
    """The live mock server, started on first use and stopped at the end of the session
    (its port closed and its threads ended). Tests want ``aichat_server`` instead."""
    with _needs_testing_extra("aichat_server"):
        from .thread_server import LiveServer

    server = LiveServer(aichat_mock_config)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def aichat_server(aichat_server_session: LiveServer, monkeypatch: pytest.MonkeyPatch,
                  request: pytest.FixtureRequest) -> LiveServer:
    """A live mock of chat-gpt.org on ``http://127.0.0.1:<port>``, real HTTP on loopback.

    The server (werkzeug's, threaded) runs once per session; each test gets it with an empty
    journal and reply queue, ``AICHAT_BASE_URL`` set to its ``base_url``, and ``127.0.0.1``
    added to ``NO_PROXY``/``no_proxy`` so a proxy in the environment does not catch it.

    ``base_url``, ``url_for(path)``, ``requests`` (the journal entries), ``journal(path,
    limit)``, ``reply(message, **fields)``, ``fault(name, **fields)``, ``queue(*replies)``,
    ``queued`` and ``clear()``: see ``mock_server.testing.kit.AichatMock``. The admin API
    (``url_for("/__mock__/requests")``...) and the ``/chat`` page are there too.
    """
    _only_one_kind(request)
    server = aichat_server_session
    server.clear()
    monkeypatch.setenv(BASE_URL_ENV, server.base_url)
    for name in NO_PROXY_VARIABLES:
        current = [host for host in os.environ.get(name, "").split(",") if host.strip()]
        monkeypatch.setenv(name, ",".join([LOOPBACK, *current]))
    return server


@pytest.fixture(scope="session")
def aichat_responses_session(aichat_mock_config: dict[str, Any]) -> Iterator[InProcessMock]:
    """The in-process mock's engine, kept for the session like the live server's (entry ids
    go on increasing); it intercepts nothing between tests. Tests want ``aichat_responses``."""
    with _needs_testing_extra("aichat_responses"):
        from .socketless import InProcessMock

    mock = InProcessMock(aichat_mock_config)
    try:
        yield mock
    finally:
        mock.close()


@pytest.fixture
def aichat_responses(aichat_responses_session: InProcessMock, monkeypatch: pytest.MonkeyPatch,
                     request: pytest.FixtureRequest) -> Iterator[InProcessMock]:
    """The mock of chat-gpt.org answering in this process, with no socket: every request
    ``requests`` sends to ``http://aichat.invalid`` (its ``base_url``) is answered by the
    same engine as ``aichat_server``'s, through ``responses``.

    Each test gets an empty journal and reply queue and ``AICHAT_BASE_URL`` set to its
    ``base_url``; ``requests`` to other URLs are refused during the test (add your own routes
    to ``aichat_responses.requests_mock``, a ``responses.RequestsMock``). The interface is
    ``aichat_server``'s. What a socket alone can show is played as closely as possible:
    ``disconnect`` raises ``requests.ConnectionError``, ``delay_ms`` sleeps (and raises
    ``requests.ReadTimeout`` past the request's timeout), retries do not wait, and entries
    have ``remote_addr`` ``None``.
    """
    _only_one_kind(request)
    mock = aichat_responses_session
    mock.clear()
    monkeypatch.setenv(BASE_URL_ENV, mock.base_url)
    mock.start()
    try:
        yield mock
    finally:
        mock.stop()


@contextlib.contextmanager
def _needs_testing_extra(fixture: str) -> Iterator[None]:
    """A library of the testing extra that is not installed fails the test in one line."""
    try:
        yield
    except ModuleNotFoundError as error:
        if (error.name or "").partition(".")[0] in ("mock_server", ""):
            raise
        raise pytest.fail.Exception(f"{fixture} needs {error.name}, which is not installed: "
                                    f"pip install '{TESTING_EXTRA}'", pytrace=False) from None


def _only_one_kind(request: pytest.FixtureRequest) -> None:
    if all(name in request.fixturenames for name in KINDS):
        pytest.fail(f"{request.node.nodeid} uses both {' and '.join(KINDS)}; they both set "
                    f"AICHAT_BASE_URL and aichat_responses takes over requests: use one per "
                    f"test (parametrise over the two to run a test against both)",
                    pytrace=False)
