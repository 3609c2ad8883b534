"""The README's python examples for g4f users, run as a reader would run them after the step
the README gives: with ``AICHAT_BASE_URL`` pointing at a running mock, in a fresh interpreter.
Each prints the mock's echo of its last user turn (docs/mock-server.md), and the mock records the
body contract/openapi.json describes."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from mock_server.testing.remote import RemoteMock
from support import expected
from support.paths import ROOT

README = ROOT / "README.md"


def section_examples(heading: str) -> list[str]:
    text = README.read_text("utf-8")
    section = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## )", text, re.DOTALL | re.MULTILINE)
    assert section is not None, heading
    return re.findall(r"^```python\n(.*?)^```$", section.group(1), re.DOTALL | re.MULTILINE)


def test_the_g4f_users_examples_ask_the_mock_they_are_pointed_at(
        remote_mock: RemoteMock, no_ambient_configuration: None) -> None:
    examples = section_examples("For g4f users")
    assert len(examples) == 2, "the provider alone, and today's g4f"
    env = {**os.environ, expected.BASE_URL_ENV: remote_mock.base_url}
    printed = []
    for code in examples:
        completed = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT,
                                   capture_output=True, text=True, timeout=120, check=False)
        assert completed.returncode == 0, completed.stderr
        printed.append(completed.stdout)
    assert printed == ["You said: Hello, how are you?\n", "You said: Hello\n"]
    bodies = [entry["json"] for entry in remote_mock.requests]
    assert bodies == [expected.body("user: Hello, how are you?\nassistant:"),
                      expected.body("user: Hello\nassistant:")]
