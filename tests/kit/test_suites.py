"""Suites of the fixtures' users, run by a child pytest as a project that installed the package
would run them: strict mode failing a test at teardown, the marker registered, a suite run
under pytest-xdist against one live mock with no test seeing another's traffic, and the
guides' examples that are not test files (the conftest.py and the script without pytest).
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from mock_server.testing.child_process import MockProcess
from support.paths import ROOT

# The pages whose examples a test author copies: the README's first test, the guide's others.
GUIDES = (ROOT / "README.md", ROOT / "docs" / "testing-your-code.md")
TIMEOUT = 120

pytestmark = pytest.mark.usefixtures("no_ambient_configuration")


def guides_text() -> str:
    return "\n".join(page.read_text("utf-8") for page in GUIDES)


def readme_block(name: str) -> str:
    """The guides' python example that starts with the line ``# <name>``."""
    found = re.findall(rf"```python\n(# {re.escape(name)}\n.*?)```", guides_text(), re.DOTALL)
    assert len(found) == 1, f"one example {name} in the guides, found {len(found)}"
    return found[0]


def child_environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items()
            if not name.startswith(("PYTEST_", "PYTHONPATH", "AICHAT_"))
            and name.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}


# Plugins of this environment that the suites do not use, left out of each child pytest and
# each of its xdist workers: schemathesis's and hypothesis's cost a process about a second
# each to load, which made a run under xdist five times slower.
UNUSED_PLUGINS = ("-p", "no:schemathesis", "-p", "no:hypothesispytest", "-p", "no:anyio",
                  "-p", "no:cacheprovider")


def run_pytest(folder: Path, *args: str) -> tuple[dict[str, tuple[str, str]], str]:
    """A child pytest in ``folder``: each test's outcome and message (JUnit XML), its output."""
    junit = folder / "junit.xml"
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", *UNUSED_PLUGINS, "-q", "-rA", "--strict-markers",
         f"--junitxml={junit}", *args],
        cwd=folder, env=child_environment(), capture_output=True, text=True, timeout=TIMEOUT,
        check=False)
    outcomes: dict[str, tuple[str, str]] = {}
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome, message = child.tag, child.get("message", "") + (child.text or "")
        outcomes[case.get("name", "")] = (outcome, message)
    return outcomes, completed.stdout + completed.stderr


# --- strict mode and the marker ----------------------------------------------------------------

STRICT_SUITE = '''
import aichat, pytest, requests

HELLO = [{"role": "user", "content": "Hello"}]


@pytest.mark.aichat(strict=True)
def test_strict_with_a_reply_left(aichat_server):
    aichat_server.reply("never asked for", match={"last_turn": "Bye"})
    assert aichat.complete(HELLO) == "You said: Hello"


@pytest.mark.aichat(strict=True)
def test_strict_with_every_reply_used(aichat_server):
    aichat_server.reply("used")
    aichat_server.reply("standing", times=None)
    assert aichat.complete(HELLO) == "used"
    assert aichat.complete(HELLO) == "standing"


@pytest.mark.aichat(strict=True)
def test_strict_with_a_bad_body(aichat_responses):
    requests.post(aichat_responses.url_for("/api/text"), json={"message": 1})


@pytest.mark.aichat(strict=True, replies=[{"message": "from the marker"}])
def test_strict_with_the_markers_reply_left(aichat_responses):
    pass


@pytest.mark.aichat(strict=True)
def test_strict_that_fails_itself(aichat_server):
    aichat_server.reply("left")
    assert False, "the test's own failure"


def test_not_strict_with_a_reply_left(aichat_server):
    aichat_server.reply("never asked for")


@pytest.mark.aichat(colour="red")
def test_a_marker_with_an_unknown_argument(aichat_server):
    pass


@pytest.mark.aichat(replies=[{"times": 0}])
def test_a_marker_with_a_bad_reply(aichat_responses):
    pass
'''


def test_strict_mode_fails_a_test_at_teardown(tmp_path: Path) -> None:
    (tmp_path / "test_strict.py").write_text(STRICT_SUITE, encoding="utf-8")
    outcomes, output = run_pytest(tmp_path)
    assert "PytestUnknownMarkWarning" not in output, "the plugin registers the marker"

    outcome, message = outcomes["test_strict_with_a_reply_left"]
    assert outcome == "error", output  # the test passed; its teardown failed
    assert "failed on teardown" in message
    assert "@pytest.mark.aichat(strict=True): 1 scripted reply(ies) not used up" in message
    assert "message 'never asked for', 1 use(s) left, match last_turn='Bye'" in message

    outcome, message = outcomes["test_strict_with_a_bad_body"]
    assert outcome == "error"
    assert "1 request(s) with violations" in message
    assert "violation: message: 1 is not of type 'string'" in message

    outcome, message = outcomes["test_strict_with_the_markers_reply_left"]
    assert outcome == "error" and "message 'from the marker'" in message

    assert outcomes["test_strict_with_every_reply_used"] == ("passed", "")
    assert outcomes["test_not_strict_with_a_reply_left"] == ("passed", "")
    outcome, message = outcomes["test_strict_that_fails_itself"]
    assert outcome == "failure" and "the test's own failure" in message
    assert "not used up" not in message, "no second report on a test that failed already"

    outcome, message = outcomes["test_a_marker_with_an_unknown_argument"]
    assert outcome == "error"
    assert "@pytest.mark.aichat has unknown argument(s) colour; it takes reply_mode, " \
           "reply_text, replies, strict" in message
    outcome, message = outcomes["test_a_marker_with_a_bad_reply"]
    assert outcome == "error" and "replies[0].times must be a whole number" in message


def test_the_marker_is_listed(tmp_path: Path) -> None:
    completed = subprocess.run([sys.executable, "-m", "pytest", *UNUSED_PLUGINS, "--markers"],
                               cwd=tmp_path,
                               env=child_environment(), capture_output=True, text=True,
                               timeout=TIMEOUT, check=True)
    assert "@pytest.mark.aichat(reply_mode=None, reply_text=None, replies=(), strict=False)" \
        in completed.stdout


# --- what a failing test shows -----------------------------------------------------------------

# A downstream suite whose every test fails through the kit, on each of its carriers: each line
# that fails ends in "# fails", and its message is the one docs/testing-your-code.md shows.
FAILING_SUITE = '''
import aichat, pytest, requests

HELLO = [{"role": "user", "content": "Hello"}]


@pytest.fixture(params=["aichat_server", "aichat_responses"])
def mock(request):
    return request.getfixturevalue(request.param)


def test_assert_called(mock):
    aichat.complete(HELLO)
    mock.assert_called(last_turn="Goodbye")  # fails


def test_assert_not_called(mock):
    aichat.complete(HELLO)
    mock.assert_not_called(last_turn="Hello")  # fails


def test_assert_no_violations(mock):
    requests.post(mock.url_for("/api/text"), json={"message": 1}, timeout=30)
    mock.assert_no_violations(header_diff=False)  # fails


def test_assert_all_used(mock):
    mock.reply("never asked for")
    mock.assert_all_used()  # fails


def test_a_mistyped_match_key(mock):
    mock.reply("Hi", match={"last_trun": "Hello"})  # fails


def test_a_mistyped_search_key(mock):
    mock.find(staus=200)  # fails


def test_an_id_that_is_not_queued(mock):
    mock.remove("r0")  # fails
'''

# The start of each failure's message (docs/testing-your-code.md, Verify what was sent, and
# the reference table of the fixtures; docs/mock-server.md, Matching).
FAILURE_MESSAGES = {
    "test_assert_called": "AssertionError: expected a request matching last_turn='Goodbye', "
                          "found none",
    "test_assert_not_called": "AssertionError: expected no request matching "
                              "last_turn='Hello', found 1",
    "test_assert_no_violations": "AssertionError: 1 request(s) with violations",
    "test_assert_all_used": "AssertionError: 1 scripted reply(ies) not used up",
    "test_a_mistyped_match_key": "ReplyError: reply.match has unknown key(s) 'last_trun'",
    "test_a_mistyped_search_key": "MatchError: match has unknown key(s) 'staus'",
    "test_an_id_that_is_not_queued": "UnknownReplyError: ",
}


def failure_sections(output: str) -> dict[str, list[str]]:
    """The lines of each test's report in pytest's FAILURES section, by test id."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in output.splitlines():
        header = re.fullmatch(r"_{3,} (test_\S+) _{3,}", line)
        if header:
            current = sections.setdefault(header.group(1), [])
        elif line.startswith("=") and current is not None:
            current = None
        elif current is not None:
            current.append(line)
    return sections


@pytest.mark.parametrize("carrier", ["the fixtures' own", "a shared mock"])
def test_a_failure_through_the_kit_shows_the_tests_line_and_the_message(
        tmp_path: Path, carrier: str, mock_command: MockProcess) -> None:
    """docs/testing-your-code.md: a failing assert_* or a refused reply is reported at the
    test's line, with the message, and none of the kit's or the mock's source."""
    (tmp_path / "test_downstream.py").write_text(FAILING_SUITE, "utf-8")
    shared = ("--aichat-server-url", mock_command.url) if carrier == "a shared mock" else ()
    outcomes, output = run_pytest(tmp_path, *shared)

    assert {outcome for outcome, _ in outcomes.values()} == {"failure"}, output
    sections = failure_sections(output)
    assert len(sections) == len(outcomes) == 2 * len(FAILURE_MESSAGES), output
    failing_lines = [line.strip() for line in FAILING_SUITE.splitlines()
                     if line.endswith("# fails")]
    for test_id, lines in sections.items():
        name = test_id.partition("[")[0]
        report = "\n".join(lines)
        # The test's own line, marked, and the message right under it.
        marked = [line for line in lines if line.startswith(">")]
        assert len(marked) == 1 and marked[0][1:].strip() in failing_lines, report
        # (Python 3.11 and later point at the call with a line of carets.)
        after = next(line for line in lines[lines.index(marked[0]) + 1:]
                     if line.strip(" ^"))
        assert after.startswith("E   ") and FAILURE_MESSAGES[name] in after, report
        # Nothing but the test file is quoted: no frame of the kit, the replies or requests.
        assert re.findall(r"^(\S+):\d+: \w+$", report, re.M) == ["test_downstream.py"], report
        assert "mock_server" + os.sep not in report and "def " not in report.replace(
            f"def {name}(mock):", ""), report
        assert len(lines) < 25, report


# --- parallel runs against one mock ------------------------------------------------------------

CROSS_TALK_SUITE = '''
import time
import aichat
import pytest


@pytest.mark.parametrize("number", range(8))
def test_no_cross_talk(aichat_server, number):
    token = f"token-{number}"
    aichat_server.reply(token, times=None)
    aichat_server.fault("server_error", match={"last_turn": "boom"}, times=3)
    sent = 0
    deadline = time.monotonic() + 0.25
    while time.monotonic() < deadline or sent < 5:
        assert aichat.complete([{"role": "user", "content": f"{token} #{sent}"}]) == token
        sent += 1
    assert aichat_server.prompts == [f"user: {token} #{index}\\nassistant:"
                                     for index in range(sent)]
    assert {entry["namespace"] for entry in aichat_server.requests} == {aichat_server.namespace}
    assert [reply["times"] for reply in aichat_server.queued] == [None, 3]
    aichat_server.assert_called(times=sent, last_turn_contains=token)
'''


def readme_command() -> list[str]:
    """The guide's command that runs a suite in parallel against one mock."""
    text = guides_text()
    [line] = re.findall(r"^\$ (pytest -n .*)$", text, re.MULTILINE)
    return shlex.split(line)


def test_a_suite_under_xdist_against_one_mock_sees_no_cross_talk(
        tmp_path: Path, mock_command: MockProcess) -> None:
    command = readme_command()
    assert command[:4] == ["pytest", "-n", "4", "--aichat-server-url"]
    (tmp_path / "test_parallel.py").write_text(readme_block("test_parallel.py"), "utf-8")
    (tmp_path / "test_cross_talk.py").write_text(CROSS_TALK_SUITE, "utf-8")

    outcomes, output = run_pytest(tmp_path, *command[1:4], mock_command.url)

    assert len(outcomes) == 16
    assert {outcome for outcome, _ in outcomes.values()} == {"passed"}, output
    # One server saw it all: every test in a namespace of its own, named after its worker's
    # session (four of them), and the tests ran at the same time (the namespaces' requests
    # interleave in the journal's order).
    every = mock_command.mock.admin.call("GET", "/requests", params={"namespace": "*"})
    ours = [entry["namespace"] for entry in every["requests"]
            if re.search(r"-test_(no_cross_talk|each_test_sees_only)", entry["namespace"])]
    assert len(set(ours)) == 16
    assert len({name.split("-")[0] for name in ours}) == 4, "four sessions: the workers"
    switches = sum(1 for before, after in itertools.pairwise(ours) if before != after)
    assert switches > 2 * len(set(ours)), "the workers ran the tests one after another"


# --- the guides' examples that are not test files ---------------------------------------------


def test_the_readme_conftest_example_configures_both_fixtures(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(readme_block("conftest.py"), "utf-8")
    (tmp_path / "test_configured.py").write_text(textwrap.dedent('''
        import aichat, pytest

        @pytest.mark.parametrize("fixture", ["aichat_server", "aichat_responses"])
        def test_configured(request, fixture):
            request.getfixturevalue(fixture)
            assert aichat.complete([{"role": "user", "content": "Hi"}]) \\
                == "Hello from the test double."
    '''), "utf-8")
    outcomes, output = run_pytest(tmp_path)
    assert {outcome for outcome, _ in outcomes.values()} == {"passed"}, output
    assert len(outcomes) == 2


def test_the_readme_example_without_pytest_prints_what_it_says(tmp_path: Path) -> None:
    script = tmp_path / "without_pytest.py"
    script.write_text(readme_block("without_pytest.py"), "utf-8")
    completed = subprocess.run([sys.executable, str(script)], cwd=tmp_path,
                               env=child_environment(), capture_output=True, text=True,
                               timeout=TIMEOUT, check=True)
    lines = completed.stdout.splitlines()
    assert lines[0] == "Hi!"
    assert re.fullmatch(r"127\.0\.0\.1:\d+", lines[1])
    assert lines[2:] == ["You said: Hello", "Hi, Alice!"]
