"""The README's python examples for g4f users, run as a reader would run them after the step
the README gives: with ``AICHAT_BASE_URL`` pointing at a running mock (or, for the ``openai``
example, g4f's API server with the provider pointed at it), in a fresh interpreter. Each prints
the mock's echo of its last user turn (docs/mock-server.md), and the mock records the body
contract/openapi.json describes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mock_server.testing.remote import RemoteMock
from support import expected
from support.g4f_api_server import GuardedApiServer
from support.markdown import code_blocks
from support.paths import ROOT

# The README's base URL of g4f's API server (python -m aichat.g4f_api's default port).
API_URL = "http://127.0.0.1:1337/v1"


def section_examples(heading: str) -> list[str]:
    return code_blocks("README.md", heading, "python")


def test_the_g4f_users_examples_ask_the_mock_they_are_pointed_at(
        remote_mock: RemoteMock, no_ambient_configuration: None) -> None:
    examples = section_examples("For g4f users")
    assert len(examples) == 3, "the provider alone, today's g4f, and g4f's API server"
    env = {**os.environ, expected.BASE_URL_ENV: remote_mock.base_url}
    printed = []
    for code in examples[:2]:
        completed = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT,
                                   capture_output=True, text=True, timeout=120, check=False)
        assert completed.returncode == 0, completed.stderr
        printed.append(completed.stdout)
    assert printed == ["You said: Hello, how are you?\n", "You said: Hello\n"]
    bodies = [entry["json"] for entry in remote_mock.requests]
    assert bodies == [expected.body("user: Hello, how are you?\nassistant:"),
                      expected.body("user: Hello\nassistant:")]


def test_the_g4f_users_openai_example_asks_the_mock_through_g4fs_api_server(
        remote_mock: RemoteMock, no_ambient_configuration: None, tmp_path: Path) -> None:
    """The README starts ``python -m aichat.g4f_api`` against the mock on the default port;
    here it runs on a free one (under the network guard), and the example is pointed at it."""
    code = section_examples("For g4f users")[2]
    assert API_URL in code
    with GuardedApiServer(remote_mock.base_url, tmp_path) as api:
        completed = subprocess.run([sys.executable, "-c", code.replace(API_URL, api.url)],
                                   cwd=ROOT, capture_output=True, text=True, timeout=120,
                                   check=False)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == "You said: Hello\n"
    assert [entry["json"] for entry in remote_mock.requests] == [
        expected.body("user: Hello\nassistant:")]
    api.assert_nothing_left_the_machine()
