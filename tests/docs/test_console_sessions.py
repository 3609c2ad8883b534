"""The console sessions of the README and of docs/, run as a reader would type them, from the
project's folder with its ``.venv`` activated (the step the README asks for first), and compared
with what the page shows.

A session is a ```` ```console ```` block: ``$ command`` lines, each followed by the output the
page promises. A session whose first command starts the mock (``aichat-mock`` or ``make
serve``; not ``aichat-mock grade``, which runs and exits) is a server: it is started on a free
port (the page's 8080, or the port its command names, is changed to it everywhere after), its
output must begin with the lines shown, and it runs on for the sessions after it, to the end
of the page. In the output, ``<port>`` stands for the page's 8080 and ``...`` for any lines.
Each page has its own ports and servers, and a home of its own (``HOME``), empty at first,
where the mock keeps its CA (``--intercept``) as on a reader's machine.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.paths import ROOT

README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```console\n(.*?)^```$", re.DOTALL | re.MULTILINE)
SERVERS = ("aichat-mock", "make serve")
# A server's own port, when its command names one (aichat-mock --port N, make serve PORT=N).
PORT_OPTION = re.compile(r"(?:--port[ =]|PORT=)(\d+)")
# Commands of aichat-mock that run and exit, not servers.
ONE_SHOT = ("aichat-mock grade",)
README_PORT = "8080"
STEP_TIMEOUT = 60


@dataclass
class Step:
    command: str
    expected: list[str]


def sessions(text: str) -> list[list[Step]]:
    found = []
    for block in BLOCK.findall(text):
        steps: list[Step] = []
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append(Step(line[2:], []))
            elif steps:
                steps[-1].expected.append(line)
            elif line.strip():
                raise AssertionError(f"a console block starts with output: {line!r}")
        found.append(steps)
    return found


class Ports(dict[str, str]):
    """The page's ports and the free ports they run on here."""

    def moved(self, text: str) -> str:
        for page_port, port in self.items():
            text = text.replace(page_port, port)
        return text


def matches(expected: list[str], actual: list[str], ports: Ports) -> bool:
    """Whether ``actual`` is ``expected``, ``<port>`` standing for the page's 8080, each port of
    the page for its own here, and ``...`` for any lines (none included)."""
    pattern = ""
    for line in expected:
        if line == "...":
            pattern += r"(?:.*\n)*?"
        else:
            escaped = re.escape(ports.moved(line)).replace(re.escape("<port>"),
                                                           re.escape(ports[README_PORT]))
            pattern += escaped + r"\n"
    return re.fullmatch(pattern, "".join(line + "\n" for line in actual)) is not None


def free_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


def reader_environment(home: Path) -> dict[str, str]:
    """The environment of a reader who activated the project's .venv, with no proxy, in
    ``home``."""
    env = {name: value for name, value in os.environ.items()
           if not name.lower().endswith("_proxy") and name not in (
               "PYTHONPATH", "AICHAT_BASE_URL", "PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST",
               "PYTEST_VERSION", "MAKEFLAGS", "MAKELEVEL", "MFLAGS", "XDG_STATE_HOME")}
    venv = Path(sys.prefix)
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["COLUMNS"] = "80"
    env["HOME"] = str(home)
    return env


@dataclass
class Reader:
    """Where a page's sessions run: its ports and its environment."""

    ports: Ports
    env: dict[str, str]


@pytest.fixture
def reader(tmp_path: Path) -> Reader:
    home = tmp_path / "home"
    home.mkdir()
    return Reader(Ports({README_PORT: free_port()}), reader_environment(home))


@pytest.fixture
def servers() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def start_server(step: Step, reader: Reader, servers: list[subprocess.Popen[str]]) -> None:
    named = PORT_OPTION.search(step.command)
    if named is not None and named.group(1) not in reader.ports:
        reader.ports[named.group(1)] = free_port()
    command = reader.ports.moved(step.command)
    if command.startswith("make serve") and "PORT=" not in command:
        # make serve's 8080, moved to the free port
        command += f" PORT={reader.ports[README_PORT]}"
    process = subprocess.Popen(["bash", "-c", command], cwd=ROOT, env=reader.env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    servers.append(process)
    assert process.stdout is not None
    wanted = [line for line in step.expected if line != "..."]
    seen: list[str] = []
    deadline = time.monotonic() + STEP_TIMEOUT
    while len(seen) < len(step.expected) and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line.rstrip("\n"))
        if matches(step.expected, seen, reader.ports):
            return
    raise AssertionError(f"{step.command!r} printed {seen!r}, the page shows {wanted!r}")


def run_step(step: Step, reader: Reader) -> None:
    command = reader.ports.moved(step.command)
    completed = subprocess.run(["bash", "-c", command], cwd=ROOT, env=reader.env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               timeout=STEP_TIMEOUT, check=False)
    actual = completed.stdout.splitlines()
    assert completed.returncode == 0, f"{step.command!r} exited {completed.returncode}:\n" \
                                      f"{completed.stdout}"
    assert matches(step.expected, actual, reader.ports), (
        f"{step.command!r} printed:\n" + "\n".join(actual) +
        "\nthe page shows:\n" + "\n".join(step.expected))


def test_the_readme_has_console_sessions() -> None:
    found = sessions(README.read_text("utf-8"))
    assert found, "no console session in the README"
    assert any(steps[0].command.startswith(SERVERS) for steps in found)


def test_the_parser_and_the_matcher() -> None:
    [steps] = sessions("```console\n$ echo a\na\n$ true\n```\n")
    assert [(step.command, step.expected) for step in steps] == [("echo a", ["a"]),
                                                                ("true", [])]
    ports = Ports({README_PORT: "99", "8081": "98"})
    assert matches(["x <port>", "...", "z"], ["x 99", "y", "y", "z"], ports)
    assert matches(["on 127.0.0.1:8080"], ["on 127.0.0.1:99"], ports)
    assert matches(["on 127.0.0.1:8081"], ["on 127.0.0.1:98"], ports)
    assert not matches(["x"], ["x", "y"], ports)
    assert not matches(["x <port>"], ["x 98"], ports)
    assert [PORT_OPTION.findall(command) for command in (
        "aichat-mock --port 8081", "make serve PORT=9000", "aichat-mock")] == [
        ["8081"], ["9000"], []]


def test_the_reference_pages_have_console_sessions_too() -> None:
    """The provider's and the mock's pages show the commands at work, run here too."""
    with_sessions = {page.name for page in PAGES if sessions(page.read_text("utf-8"))}
    assert {"README.md", "provider.md", "mock-server.md"} <= with_sessions


@pytest.mark.parametrize("page", [page for page in PAGES if BLOCK.search(page.read_text("utf-8"))],
                         ids=lambda page: page.name)
def test_the_console_sessions_print_what_the_page_shows(
        page: Path, reader: Reader, servers: list[subprocess.Popen[str]]) -> None:
    for steps in sessions(page.read_text("utf-8")):
        for step in steps:
            if step.command.startswith(SERVERS) and not step.command.startswith(ONE_SHOT):
                start_server(step, reader, servers)
            else:
                run_step(step, reader)
    assert all(process.poll() is None for process in servers), "the servers kept running"
    for process in servers:
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(15) in (0, -signal.SIGINT), shlex.join(process.args)
