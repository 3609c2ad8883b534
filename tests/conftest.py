"""Shared fixtures: the mock server command on a free loopback port.

``mock_command`` starts the real ``aichat-mock`` command (``python -m mock_server --port 0``,
on its default server, the mock's own) once per session; ``remote_mock`` hands a test the
client of its admin API (a ``RemoteMock``) with the journal and the reply queue emptied first.
They follow the shape of pytest-httpserver's fixtures: a session's server, cleared per test.
tests/README.md says which server to stand up for what.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator

import pytest
from hypothesis import Phase, settings

from mock_server.testing.child_process import MockProcess
from mock_server.testing.remote import RemoteMock

# make test and CI set this: there, a test that cannot run (a missing library, browser or
# system feature) is a failure, never a quiet skip.
NO_SKIPS_VARIABLE = "AICHAT_NO_SKIPS"

# In CI, the same examples every run (derandomized), so that a green run means the same thing
# each time; elsewhere hypothesis explores anew.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
# Under mutmut (make mutants, make mutants-mock) a failing example is not shrunk: a mutant is
# caught by the first one, and shrinking it ran into the time limit of each mutant's run.
MUTANT_PHASES = (Phase.explicit, Phase.reuse, Phase.generate)
settings.register_profile("mutants", settings.get_profile("ci"), phases=MUTANT_PHASES)

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
        # SIGINT, as Ctrl-C stops it; SIGTERM's stop is tested on its own
        # (mock/serve/test_own_server.py).
        process.stop(signal.SIGINT)


@pytest.fixture
def remote_mock(mock_command: MockProcess) -> RemoteMock:
    """The session's mock server with an empty journal (in every namespace: the inspector shows
    them all) and reply queue."""
    assert mock_command.process.poll() is None, (
        f"the mock server has exited: {mock_command.tail()}")
    mock_command.mock.clear()
    mock_command.mock.admin.call("DELETE", "/requests", params={"namespace": "*"})
    return mock_command.mock


@pytest.fixture
def no_ambient_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy or base URL from the environment reaches the provider."""
    for name in AMBIENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def _no_skips() -> bool:
    return os.environ.get(NO_SKIPS_VARIABLE, "") not in ("", "0")


def _hypothesis_settings(item: pytest.Item) -> settings | None:
    found: settings | None = getattr(getattr(item, "obj", None),
                                     "_hypothesis_internal_use_settings", None)
    return found


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under mutmut, the tests of the mock command are left out; in CI, a test whose own
    settings undo the derandomized profile is a usage error."""
    if os.environ.get("MUTANT_UNDER_TEST"):
        _leave_out_for_mutants(config, items)
        _quickest_files_first(items)
        _fewer_examples(items)
    if not os.environ.get("CI"):
        return
    random = [item.nodeid for item in items
              if (found := _hypothesis_settings(item)) is not None and not found.derandomize]
    if random:
        raise pytest.UsageError(
            f"in CI every hypothesis test must be derandomized; these are not: {random}")


# make mutants (AICHAT_MUTANTS=provider) tries the provider's mutants against these test files;
# make mutants-mock (AICHAT_MUTANTS=mock) the mock's core against the other selected ones.
PROVIDER_TEST_FILES = ("tests/provider/", "tests/contract/test_cases_socketless.py")


def _leave_out_for_mutants(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under mutmut (``MUTANT_UNDER_TEST`` set), the tests that cannot notice a mutant of the
    part being tried, or only repeat others that can, are left out."""
    part = os.environ.get("AICHAT_MUTANTS", "")

    def left_out(item: pytest.Item) -> bool:
        # A mutant is switched on in the test's own process only: the mock command (the
        # session's mock_command, under remote_mock too) runs in a child that never sees it.
        if "mock_command" in getattr(item, "fixturenames", ()):
            return True
        # The other part's tests (its stats run and clean run would only cost time).
        provider = item.nodeid.startswith(PROVIDER_TEST_FILES)
        if (part == "provider" and not provider) or (part == "mock" and provider):
            return True
        # A kit test runs on the live server and on the socketless fixture alike: both hold
        # the same (mutated) engine, the server adds only the web layer, which is not
        # mutated; the socketless run is kept.
        callspec = getattr(item, "callspec", None)
        return callspec is not None and callspec.params.get("kit") == "aichat_server"

    left = [item for item in items if left_out(item)]
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = [item for item in items if not left_out(item)]


def _quickest_files_first(items: list[pytest.Item]) -> None:
    # mutmut hands over the tests that reach a mutant in no particular order: a file's tests
    # are put back together (its module fixtures, such as a live server, set up once) and in
    # their file's order, the files whose tests took least time in mutmut's first run first,
    # so that a mutant a quick test kills is not first run through slow ones (-x).
    try:
        with open("mutmut-stats.json", encoding="utf-8") as file:
            durations: dict[str, float] = json.load(file)["duration_by_test"]
    except (OSError, ValueError, KeyError):
        durations = {}
    per_file: dict[str, list[float]] = {}
    for nodeid, seconds in durations.items():
        per_file.setdefault(nodeid.partition("::")[0], []).append(seconds)
    mean = {name: sum(times) / len(times) for name, times in per_file.items()}
    position = {id(item): index for index, item in enumerate(items)}
    items.sort(key=lambda item: (mean.get(item.nodeid.partition("::")[0], 0.0),
                                 item.nodeid.partition("::")[0], item.location[1] or 0,
                                 position[id(item)]))


def _fewer_examples(items: list[pytest.Item]) -> None:
    # mutmut imports the test modules once, before any mutant is on (MUTANT_UNDER_TEST empty),
    # and forks each mutant's run from there: what a module decides as it is imported is the
    # same for every mutant. So the examples are cut here, for the run at hand: a quarter of
    # each property's (the fixed examples beside them all run), none shrunk.
    settings.load_profile("mutants")
    for item in items:
        test = getattr(item, "obj", None)
        found = getattr(test, "_hypothesis_internal_use_settings", None)
        if found is None or getattr(test, "_aichat_fewer_examples", False):
            continue
        test._hypothesis_internal_use_settings = settings(  # type: ignore[union-attr]
            found, max_examples=max(1, found.max_examples // 4), phases=MUTANT_PHASES)
        test._aichat_fewer_examples = True  # type: ignore[union-attr]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Iterator[None]:
    report: pytest.TestReport = yield
    if _no_skips() and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = (f"skipped where nothing may be skipped ({NO_SKIPS_VARIABLE} is set): "
                           f"{report.longrepr}")
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    report: pytest.CollectReport = yield
    if _no_skips() and report.skipped:
        report.outcome = "failed"
        report.longrepr = (f"{collector.nodeid} skipped where nothing may be skipped "
                           f"({NO_SKIPS_VARIABLE} is set): {report.longrepr}")
    return report
