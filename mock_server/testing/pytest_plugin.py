"""pytest fixtures to test code built on the aichat provider offline, against the mock of
chat-gpt.org this project tests itself with.

Installing the package registers this module with pytest (the ``pytest11`` entry point
``aichat``); nothing needs importing. ``-p no:aichat`` turns it off.

- ``aichat_server``: the real Flask mock served on ``127.0.0.1`` from a background thread (or
  the mock at ``--aichat-server-url``, shared by every process of the run);
- ``aichat_responses``: the same mock answering in this process through ``responses``;
- ``aichat_intercept``: the ``aichat-mock`` command with ``--intercept``, answering at
  ``https://chat-gpt.org`` itself for code that has the site's address written in (below).

The first two hand the test a ``mock_server.testing.kit.AichatMock`` with the same attributes
and the same journal entries, on a namespace of its own (``/ns/{name}``) of the session's mock,
and point ``AICHAT_BASE_URL`` at it for the test, so the provider (and ``aichat.complete``)
reaches it with no argument. Use one of them per test. ``@pytest.mark.aichat(...)`` configures one
test's mock.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import secrets
import warnings
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from .. import TESTING_EXTRA

if TYPE_CHECKING:
    from .kit import AichatMock
    from .remote import RemoteMock
    from .socketless import InProcessMock
    from .thread_server import LiveServer

# The provider's variable, aichat.Aichat.BASE_URL_ENV (a test checks they agree). The live and
# in-process modules are imported by the fixtures that use them: responses is optional.
BASE_URL_ENV = "AICHAT_BASE_URL"
NO_PROXY_VARIABLES = ("NO_PROXY", "no_proxy")
LOOPBACK = "127.0.0.1"
KINDS = ("aichat_server", "aichat_responses", "aichat_intercept")
# Where a run finds a mock to share (--aichat-server-url, else this variable, else the ini).
SERVER_URL_OPTION = "--aichat-server-url"
SERVER_URL_ENV = "AICHAT_MOCK_URL"
SERVER_URL_INI = "aichat_server_url"
MARKER = "aichat"
MARKER_OPTIONS = ("reply_mode", "reply_text", "replies", "strict")
# Settings of aichat_mock_config that a shared server can take per namespace.
NAMESPACE_SETTINGS = {"MOCK_REPLY_MODE": "reply_mode", "MOCK_REPLY_TEXT": "reply_text"}
NAME_LENGTH = 64

# Each session's namespaces start with a token of its own: sessions sharing a server (the
# processes of pytest-xdist, or two runs at once) never pick the same name.
_SESSION_TOKEN = secrets.token_hex(4)
_COUNTER = itertools.count(1)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("aichat", "aichat mock of chat-gpt.org")
    group.addoption(SERVER_URL_OPTION, metavar="URL", default=None,
                    help=f"run aichat_server against the mock at URL (e.g. started with "
                         f"aichat-mock), shared by every process of the run (pytest-xdist), "
                         f"each test in a namespace of its own; also ${SERVER_URL_ENV} or "
                         f"the ini setting {SERVER_URL_INI}")
    parser.addini(SERVER_URL_INI, f"the mock aichat_server uses, as {SERVER_URL_OPTION}",
                  default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(reply_mode=None, reply_text=None, replies=(), strict=False): configure the "
        f"aichat mock of one test (aichat_server or aichat_responses): its reply mode ('echo' "
        f"or 'fixed') and fixed text, scripted replies queued first, and with strict=True a "
        f"failure at teardown when a reply with a finite times was not used or a request "
        f"broke the contract")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed
    return report


_CALL_FAILED = pytest.StashKey[bool]()


def server_url(config: pytest.Config) -> str | None:
    """The URL of a mock the run shares, if one is given."""
    given = (config.getoption(SERVER_URL_OPTION) or os.environ.get(SERVER_URL_ENV)
             or str(config.getini(SERVER_URL_INI) or ""))
    return given.strip().rstrip("/") or None


def namespace_for(request: pytest.FixtureRequest) -> str:
    """A namespace name of the test's own: this session's token, a number, the test's name."""
    head = f"{_SESSION_TOKEN}-{next(_COUNTER)}-"
    tail = re.sub(r"[^A-Za-z0-9._-]+", "_", request.node.name).strip("._") or "test"
    return (head + tail)[:NAME_LENGTH]


@pytest.fixture(scope="session")
def aichat_mock_config() -> dict[str, Any]:
    """Settings of ``mock_server.create_app`` for the mock of both fixtures, such as
    ``{"MOCK_REPLY_MODE": "fixed", "MOCK_REPLY_TEXT": "Hi!"}``; empty by default (echo
    mode). Override it in your ``conftest.py`` with a session-scoped fixture of this name."""
    return {}


@pytest.fixture(scope="session")
def aichat_server_session(aichat_mock_config: dict[str, Any], pytestconfig: pytest.Config
                          ) -> Iterator[LiveServer | RemoteMock]:
    """The session's live mock: a server started on first use in a thread of this process
    and stopped at the end of the session (its port closed and its threads ended), or the
    mock at ``--aichat-server-url``. Tests want ``aichat_server`` instead."""
    url = server_url(pytestconfig)
    if url is not None:
        yield _shared_server(url, aichat_mock_config)
        return
    with _needs_testing_extra("aichat_server"):
        from .thread_server import LiveServer

    server = LiveServer(aichat_mock_config)
    try:
        yield server
    finally:
        server.stop()


def _shared_server(url: str, config: dict[str, Any]) -> RemoteMock:
    with _needs_testing_extra("aichat_server"):
        from .remote import MockAdminError, RemoteMock

    ignored = sorted(key for key in config if key not in NAMESPACE_SETTINGS)
    if ignored:
        warnings.warn(f"aichat_mock_config: {', '.join(ignored)} cannot change the mock at "
                      f"{url}, which was started elsewhere; only the reply mode and text "
                      f"are applied, to each test's namespace", stacklevel=2)
    mock = RemoteMock(url)
    try:
        mock.health()
    except MockAdminError as error:
        mock.close()
        pytest.fail(f"the aichat mock at {url} ({SERVER_URL_OPTION}) does not answer: "
                    f"{error}; start it first (aichat-mock --port PORT)", pytrace=False)
    return mock


@pytest.fixture
def aichat_server(aichat_server_session: LiveServer | RemoteMock,
                  aichat_mock_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                  request: pytest.FixtureRequest) -> Iterator[AichatMock]:
    """A live mock of chat-gpt.org, real HTTP: the session's server (on
    ``http://127.0.0.1:<port>``, or at ``--aichat-server-url``), in a namespace of this
    test's own, ``base_url`` being ``<server>/ns/<name>``.

    Each test gets an empty journal and reply queue that no other test, in this process or
    another sharing the server, can see or use; ``AICHAT_BASE_URL`` set to its ``base_url``;
    and the server's host added to ``NO_PROXY``/``no_proxy`` so a proxy in the environment
    does not catch it. ``@pytest.mark.aichat(...)`` configures it.

    ``base_url``, ``url_for(path)``, ``requests``, ``find(**match)``, ``last``, ``prompts``,
    ``reply(...)``, ``fault(...)``, ``remove(id)``, ``queued``, the ``assert_*`` methods:
    see ``mock_server.testing.kit.AichatMock``. The admin API
    (``url_for("/__mock__/requests")``...) and the ``/chat`` page are there too.
    """
    _only_one_kind(request)
    mock = aichat_server_session.within(namespace_for(request))
    shared = server_url(request.config) is not None
    try:
        if shared:
            given = {NAMESPACE_SETTINGS[key]: value for key, value in aichat_mock_config.items()
                     if key in NAMESPACE_SETTINGS}
            if given:
                mock.configure(**given)
        strict = _apply_marker(mock, request)
        monkeypatch.setenv(BASE_URL_ENV, mock.base_url)
        host = urlsplit(mock.base_url).hostname or LOOPBACK
        for name in NO_PROXY_VARIABLES:
            current = [entry for entry in os.environ.get(name, "").split(",") if entry.strip()]
            monkeypatch.setenv(name, ",".join([host, *current]))
        yield mock
        _check_strict(mock, request, strict)
    finally:
        # The journal stays, for the inspector to show; replies and settings go.
        mock.admin.clear_replies()
        mock.admin.put_settings({})
        close = getattr(mock, "close", None)
        if close is not None:
            close()


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
                     request: pytest.FixtureRequest) -> Iterator[AichatMock]:
    """The mock of chat-gpt.org answering in this process, with no socket: every request
    ``requests`` sends to ``http://aichat.invalid`` is answered by the same engine as
    ``aichat_server``'s, through ``responses``; the test has a namespace of its own,
    ``base_url`` being ``http://aichat.invalid/ns/<name>``.

    Each test gets an empty journal and reply queue and ``AICHAT_BASE_URL`` set to its
    ``base_url``; ``requests`` to other URLs are refused during the test (add your own routes
    to ``aichat_responses.requests_mock``, a ``responses.RequestsMock``). The interface is
    ``aichat_server``'s, and so is ``@pytest.mark.aichat(...)``. What a socket alone can
    show is played as closely as possible: ``disconnect`` raises
    ``requests.ConnectionError``, ``delay_ms`` sleeps (and raises ``requests.ReadTimeout``
    past the request's timeout), retries do not wait, and entries have ``remote_addr``
    ``None``.
    """
    _only_one_kind(request)
    session = aichat_responses_session
    mock = session.within(namespace_for(request))
    try:
        strict = _apply_marker(mock, request)
        monkeypatch.setenv(BASE_URL_ENV, mock.base_url)
        session.start()
        try:
            yield mock
        finally:
            session.stop()
        _check_strict(mock, request, strict)
    finally:
        # Nobody can look at an in-process journal after the test: all of it goes.
        mock.admin.reset()
        mock.admin.put_settings({})


def _apply_marker(mock: AichatMock, request: pytest.FixtureRequest) -> bool:
    """Apply ``@pytest.mark.aichat(...)`` to the test's mock; whether it is strict."""
    marker = request.node.get_closest_marker(MARKER)
    if marker is None:
        return False
    where = f"{request.node.nodeid}: @pytest.mark.{MARKER}"
    if marker.args:
        pytest.fail(f"{where} takes keyword arguments only ({', '.join(MARKER_OPTIONS)})",
                    pytrace=False)
    unknown = sorted(set(marker.kwargs) - set(MARKER_OPTIONS))
    if unknown:
        pytest.fail(f"{where} has unknown argument(s) {', '.join(unknown)}; it takes "
                    f"{', '.join(MARKER_OPTIONS)}", pytrace=False)
    options = marker.kwargs
    strict = options.get("strict", False)
    if not isinstance(strict, bool):
        pytest.fail(f"{where}: strict must be True or False; got {strict!r}", pytrace=False)
    try:
        if options.get("reply_mode") is not None or options.get("reply_text") is not None:
            mock.configure(reply_mode=options.get("reply_mode"),
                           reply_text=options.get("reply_text"))
        replies = options.get("replies") or ()
        if isinstance(replies, dict) or not isinstance(replies, (list, tuple)):
            raise ValueError(f"replies must be a list of scripted replies; got {replies!r}")
        if replies:
            mock.queue(*replies)
    except ValueError as error:
        pytest.fail(f"{where}: {error}", pytrace=False)
    return strict


def _check_strict(mock: AichatMock, request: pytest.FixtureRequest, strict: bool) -> None:
    """With ``strict=True``: fail the test at teardown when a reply with a finite ``times``
    was not used or an entry has ``violations`` (not when the test failed already)."""
    if not strict or request.node.stash.get(_CALL_FAILED, False):
        return
    problems = []
    for check in (mock.assert_all_used, lambda: mock.assert_no_violations(header_diff=False)):
        try:
            check()
        except AssertionError as error:
            problems.append(str(error))
    if problems:
        pytest.fail(f"@pytest.mark.{MARKER}(strict=True): " + "\n".join(problems),
                    pytrace=False)


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
    used = [name for name in KINDS if name in request.fixturenames]
    if len(used) > 1:
        pytest.fail(f"{request.node.nodeid} uses both {' and '.join(used)}; they each set "
                    f"where the provider goes (and aichat_responses takes over requests): use "
                    f"one per test (parametrise over them to run a test against each)",
                    pytrace=False)


# The variables aichat_intercept sets for a test: the proxy, and the CA each kind of client
# reads (requests; OpenSSL, which httpx and aiohttp's default context use; curl).
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")
CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")
LOOPBACK_NAMES = "localhost,127.0.0.1,::1"


@pytest.fixture(scope="session")
def aichat_intercept_session(tmp_path_factory: pytest.TempPathFactory
                             ) -> Iterator[tuple[RemoteMock, str]]:
    """The session's intercepting mock: the ``aichat-mock`` command with ``--intercept``, its
    CA in a folder of the session's; and the CA certificate's path. Tests want
    ``aichat_intercept``."""
    from .child_process import MockProcess

    folder = tmp_path_factory.mktemp("aichat-ca")
    process = MockProcess(["--intercept", "--ca-dir", str(folder)])
    try:
        yield process.mock, str(folder / "ca.pem")
    finally:
        process.stop()


@pytest.fixture
def aichat_intercept(aichat_intercept_session: tuple[RemoteMock, str],
                     monkeypatch: pytest.MonkeyPatch,
                     request: pytest.FixtureRequest) -> Iterator[RemoteMock]:
    """The mock at the site's own address, for code that calls ``https://chat-gpt.org``
    unchanged (a g4f release's Aichat, a script, a browser): for this test, the proxy
    variables point at the session's mock started with ``--intercept``, whose CA the
    variables of requests, OpenSSL and curl name, and loopback is kept out of the proxy.
    Everything is restored after the test. The mock starts the test empty (journal and
    replies); its entries of intercepted requests say ``"via": "proxy"``.

    Clients that ignore the environment take the proxy and the CA as arguments:
    ``aichat_intercept.base_url`` is the proxy's URL, and ``ca_file`` its CA's file (aiohttp:
    ``session.post(url, proxy=aichat_intercept.base_url, ssl=ssl.create_default_context(
    cafile=aichat_intercept.ca_file))``). ``@pytest.mark.aichat(...)`` configures it.
    """
    _only_one_kind(request)
    mock, ca_file = aichat_intercept_session
    mock.admin.reset()
    mock.admin.put_settings({})
    strict = _apply_marker(mock, request)
    for name in PROXY_VARIABLES:
        monkeypatch.setenv(name, mock.base_url)
    for name in NO_PROXY_VARIABLES:
        monkeypatch.setenv(name, LOOPBACK_NAMES)
    for name in CA_VARIABLES:
        monkeypatch.setenv(name, ca_file)
    # The provider goes to the site's own address, as code that knows nothing of the mock.
    monkeypatch.delenv(BASE_URL_ENV, raising=False)
    mock.ca_file = ca_file
    try:
        yield mock
        _check_strict(mock, request, strict)
    finally:
        mock.admin.clear_replies()
