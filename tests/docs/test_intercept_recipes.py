"""The python recipes of docs/mock-server.md ("Each client, unchanged"), run as a reader would
run them: each in a fresh interpreter, with the variables of the ``for clients:`` line that
``aichat-mock --intercept`` printed exported, and nothing else of the mock's in the code. Each
prints the mock's echo, and the mock journals its request at the site's own address, via the
proxy. The page's console recipes (the mock and curl) run in test_console_sessions.py, its
Chromium recipe in mock/serve/test_intercept_in_chromium.py.
"""

from __future__ import annotations

import ast
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mock_server.testing.child_process import MockProcess
from support.markdown import code_blocks

RECIPES = ("docs/mock-server.md", "Each client, unchanged")
FOR_CLIENTS = "aichat-mock: for clients: "
# The clients the page gives a recipe for, by the module each recipe imports.
CLIENTS = ["requests", "httpx", "curl_cffi", "aiohttp", "aichat"]
ECHO = "You said: Hello\n"


@pytest.fixture(scope="module")
def intercepting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockProcess]:
    with MockProcess(["--intercept", "--ca-dir", str(tmp_path_factory.mktemp("ca"))]) as process:
        yield process


def printed_environment(process: MockProcess) -> dict[str, str]:
    """The variables of the mock's ``for clients:`` line, in a reader's environment with no
    proxy or base URL of its own."""
    [line] = [line for line in process.output if line.startswith(FOR_CLIENTS)]
    variables = dict(word.split("=", 1) for word in shlex.split(line[len(FOR_CLIENTS):]))
    reader = {name: value for name, value in os.environ.items()
              if not name.lower().endswith("_proxy") and name != "AICHAT_BASE_URL"}
    return {**reader, **variables}


def imported(code: str) -> set[str]:
    """The top-level modules a recipe imports."""
    found = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            found.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module.partition(".")[0])
    return found


def recipe_of(client: str) -> str:
    found = [code for code in code_blocks(*RECIPES, "python") if client in imported(code)]
    assert len(found) == 1, f"one recipe for {client}, found {len(found)}"
    return found[0]


def test_the_page_has_a_python_recipe_for_each_client() -> None:
    assert len(code_blocks(*RECIPES, "python")) == len(CLIENTS)
    for client in CLIENTS:
        assert recipe_of(client)


@pytest.mark.parametrize("client", CLIENTS)
def test_a_recipe_reaches_the_mock_at_the_sites_address(intercepting: MockProcess,
                                                        client: str, tmp_path: Path) -> None:
    intercepting.mock.reset()
    code = recipe_of(client)
    assert "127.0.0.1" not in code, "the code knows nothing of the mock"
    completed = subprocess.run([sys.executable, "-c", code], cwd=tmp_path,
                               env=printed_environment(intercepting), capture_output=True,
                               text=True, timeout=60, check=False)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == ECHO
    [entry] = intercepting.mock.requests
    assert (entry["method"], entry["path"], entry["status"]) == ("POST", "/api/text", 200)
    assert (entry["via"], entry["scheme"], entry["host"]) == ("proxy", "https", "chat-gpt.org")
    assert entry["json"]["message"] == "user: Hello\nassistant:"

