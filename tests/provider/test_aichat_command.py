"""The `aichat` command, run as a real process (``python -m aichat`` and the installed script)
against the loopback server: what it prints, its exit status, and the request it sent."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aichat import Aichat
from support.expected import BASE_URL_ENV, DEFAULTS, HEADERS
from support.fake_site import LoopbackServer, Reply, closed_port, serving
from support.paths import project_version

SCRIPT = Path(sys.executable).with_name("aichat")
COMMANDS = {
    "python -m aichat": [sys.executable, "-m", "aichat"],
    "aichat": [str(SCRIPT)],
}
OPTIONS = ("--base-url", "--system", "--temperature", "--top-p", "--timeout", "--json",
           "--max-retries", "--proxy", "--version")


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    yield from serving()


@pytest.fixture(params=list(COMMANDS))
def command(request: pytest.FixtureRequest) -> list[str]:
    if request.param == "aichat" and not SCRIPT.exists():
        pytest.skip(f"the aichat script is not installed next to {sys.executable}")
    return COMMANDS[request.param]


def clean_environment(**extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items()
           if name.lower() not in {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
           and name != BASE_URL_ENV}
    return {**env, **extra}


def run(command: list[str], *args: str, stdin: str | bytes | None = None,
        env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[
        bytes]:
    return subprocess.run(
        [*command, *args], input=stdin.encode() if isinstance(stdin, str) else stdin,
        stdin=subprocess.DEVNULL if stdin is None else None, capture_output=True,
        env=env or clean_environment(), cwd=cwd, timeout=60, check=False)


def body(**overrides: Any) -> bytes:
    """The exact bytes the provider sends for ``overrides`` (message included)."""
    return json.dumps({"message": overrides.pop("message"), **DEFAULTS, **overrides}).encode()


def one_error_line(result: subprocess.CompletedProcess[bytes]) -> str:
    assert result.returncode == 1
    assert result.stdout == b""
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("aichat: Aichat")
    return lines[0]


def test_help_lists_every_option(command: list[str]) -> None:
    result = run(command, "--help")
    assert result.returncode == 0
    text = result.stdout.decode()
    assert text.startswith("usage: aichat")
    for option in OPTIONS:
        assert option in text
    assert "AICHAT_BASE_URL" in text
    # docs/provider.md: the timeout is the whole call's, and the help says what it bounds.
    words = " ".join(text.split())
    assert "connecting, sending, reading the answer, and the retries with their waits" in words


def test_a_prompt_argument(command: list[str], server: LoopbackServer, tmp_path: Path) -> None:
    result = run(command, "--base-url", server.base_url, "Hello, how are you?", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == "echo: user: Hello, how are you?\nassistant:\n"
    assert result.stderr == b""
    [request] = server.requests
    assert (request.method, request.target) == ("POST", "/api/text")
    assert {name: value for name, value in request.headers if name in HEADERS} == HEADERS
    assert request.body == body(message="user: Hello, how are you?\nassistant:")


def test_the_prompt_from_standard_input(command: list[str], server: LoopbackServer) -> None:
    result = run(command, "--base-url", server.base_url, stdin="Привет, 世界 🎉\nline two\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode("utf-8") == "echo: user: Привет, 世界 🎉\nline two\nassistant:\n"
    assert server.requests[0].body == body(message="user: Привет, 世界 🎉\nline two\nassistant:")


def test_system_temperature_and_top_p(command: list[str], server: LoopbackServer) -> None:
    result = run(command, "--base-url", server.base_url, "--system", "Be brief.",
                 "--temperature", "0.5", "--top-p", "1", "Hi")
    assert result.returncode == 0, result.stderr
    # "1" stays a JSON integer, "0.5" is a float: the number types of the contract.
    assert server.requests[0].body == body(
        message="system: Be brief.\nuser: Hi\nassistant:", temperature=0.5, top_p=1)


def test_json_prints_the_whole_object(command: list[str], server: LoopbackServer) -> None:
    server.script(Reply.json({"response": True, "message": "Здравствуйте!", "id": 7}))
    result = run(command, "--base-url", server.base_url, "--json", "Hi")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"response": True, "message": "Здравствуйте!", "id": 7}
    assert result.stdout.count(b"\n") == 1


def test_the_base_url_from_the_environment(command: list[str], server: LoopbackServer) -> None:
    result = run(command, "Hi", env=clean_environment(AICHAT_BASE_URL=server.base_url))
    assert result.returncode == 0, result.stderr
    assert len(server.requests) == 1


def test_version_prints_the_distributions_version(command: list[str]) -> None:
    result = run(command, "--version")
    assert (result.returncode, result.stderr) == (0, b"")
    assert result.stdout.decode() == f"aichat {project_version()}\n"


def test_a_proxy_carries_the_request(command: list[str], server: LoopbackServer) -> None:
    """docs/provider.md, The command line: --proxy is the provider's proxy keyword."""
    with LoopbackServer(default=lambda _: Reply(action="forward")) as proxy:
        result = run(command, "--base-url", server.base_url, "--proxy",
                     f"http://user:s3cret@127.0.0.1:{proxy.port}", "Hi")
        assert result.returncode == 0, result.stderr
        [via] = proxy.requests
    assert result.stdout.decode() == "echo: user: Hi\nassistant:\n"
    assert via.target == server.base_url + "/api/text"  # the absolute form of a proxy request
    assert via.header("Proxy-Authorization") == "Basic " + base64.b64encode(
        b"user:s3cret").decode()
    [arrived] = server.requests
    assert arrived.body == via.body == body(message="user: Hi\nassistant:")


def test_a_timeout_is_one_line_and_exit_1(command: list[str], server: LoopbackServer) -> None:
    server.script(Reply.json({"message": "too late"}, delay=10))
    result = run(command, "--base-url", server.base_url, "--timeout", "0.3", "Hi")
    line = one_error_line(result)
    assert "AichatTimeoutError" in line and f"{server.base_url}/api/text" in line
    assert len(server.requests) == 1


@pytest.mark.parametrize(("reply", "error"), [
    (Reply.text("Internal Server Error", 500), "AichatHTTPError"),
    (Reply.text("Too Many Requests", 429, headers=[("Retry-After", "120")]),
     "AichatRateLimitError"),
    (Reply.text("<html>bot wall</html>", 403, content_type="text/html"), "AichatBlockedError"),
    (Reply.json({"response": False, "message": "Sorry"}), "AichatUpstreamError"),
    (Reply.text("{broken", content_type="application/json"), "AichatResponseError"),
    (Reply.drop(), "AichatConnectionError"),
], ids=lambda value: value if isinstance(value, str) else "")
def test_request_failures_are_one_line_and_exit_1(server: LoopbackServer, reply: Reply,
                                                  error: str) -> None:
    server.script(reply)
    line = one_error_line(run(COMMANDS["python -m aichat"], "--base-url", server.base_url,
                              "--max-retries", "0", "Hi"))
    assert line.startswith(f"aichat: {error}: ")
    assert f"{server.base_url}/api/text" in line


def test_a_refused_connection_is_exit_1(command: list[str]) -> None:
    base_url = f"http://127.0.0.1:{closed_port()}"
    line = one_error_line(run(command, "--base-url", base_url, "--max-retries", "0", "Hi"))
    assert "AichatConnectionError" in line and base_url in line


@pytest.mark.parametrize("args", [
    [],                                      # no prompt, and nothing on standard input
    ["   "],                                 # a prompt of blanks
    ["--temperature", "3", "Hi"],            # out of range: refused by the provider
    ["--temperature", "abc", "Hi"],          # not a number: refused by argparse
    ["--top-p", "nan", "Hi"],
    ["--timeout", "-1", "Hi"],
    ["--max-retries", "-1", "Hi"],
    ["--base-url", "ftp://127.0.0.1", "Hi"],
    ["--proxy", "ftp://127.0.0.1:21", "Hi"],
    ["--no-such-option", "Hi"],
], ids=lambda args: " ".join(args) or "nothing")
def test_usage_errors_exit_2_before_any_request(server: LoopbackServer, args: list[str]) -> None:
    if "--base-url" not in args:
        args = ["--base-url", server.base_url, *args]
    result = run(COMMANDS["python -m aichat"], *args)
    assert result.returncode == 2, result.stderr
    assert result.stdout == b""
    assert b"usage: aichat" in result.stderr
    assert server.connections == 0


def one_usage_line(result: subprocess.CompletedProcess[bytes]) -> str:
    """docs/provider.md: text that is not valid in its encoding is a usage error: exit 2, one
    line."""
    assert result.returncode == 2, result.stderr
    assert result.stdout == b""
    lines = result.stderr.decode(errors="replace").splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("aichat: error: ")
    return lines[0]


@pytest.mark.parametrize("environment", [
    {"PYTHONIOENCODING": "utf-8"},             # a strict UTF-8 stream
    {"LC_ALL": "C", "PYTHONIOENCODING": ""},  # the C locale: UTF-8 mode, surrogateescape
], ids=["strict", "c-locale"])
@pytest.mark.parametrize("data", [b"\xff\xfe not utf-8", b"caf\xe9", b"ok \xed\xa0\x80 surrogate"],
                         ids=["bom-like", "latin-1", "encoded-surrogate"])
def test_standard_input_that_is_not_text_is_a_usage_error(
        server: LoopbackServer, environment: dict[str, str], data: bytes) -> None:
    env = clean_environment(**environment)
    env.pop("PYTHONUTF8", None)
    line = one_usage_line(run(COMMANDS["python -m aichat"], "--base-url", server.base_url,
                              stdin=data, env=env))
    assert "standard input" in line and "utf-8" in line.lower()
    assert server.connections == 0


def test_a_prompt_argument_that_is_not_text_is_a_usage_error(server: LoopbackServer) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "aichat", "--base-url", server.base_url, b"caf\xe9"],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False,
        env=clean_environment(LC_ALL="C"))
    assert "prompt" in one_usage_line(result)
    assert server.connections == 0


def test_windows_line_ends_on_standard_input_are_read_as_newlines(
        server: LoopbackServer) -> None:
    result = run(COMMANDS["python -m aichat"], "--base-url", server.base_url,
                 stdin=b"line one\r\nline two\r\n")
    assert result.returncode == 0, result.stderr
    assert server.requests[0].body == body(message="user: line one\nline two\nassistant:")


def run_with_stdout(args: list[str], stdout: int) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(args, stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE,
                          env=clean_environment(), timeout=60, check=False)


@pytest.mark.parametrize("extra", [["Hi"], ["--json", "Hi"], ["--help"]],
                         ids=["reply", "json", "help"])
def test_a_closed_stdout_pipe_ends_quietly(command: list[str], server: LoopbackServer,
                                           extra: list[str]) -> None:
    """As in "aichat hi | head -c0": the reader is gone before anything is written."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = run_with_stdout([*command, "--base-url", server.base_url, *extra], write_end)
    finally:
        os.close(write_end)
    assert result.stderr == b""
    assert result.returncode in ((0, 141, 1) if extra == ["--help"] else (141, 1))


def test_a_closed_stdout_is_one_line_and_exit_1(server: LoopbackServer) -> None:
    result = subprocess.run(
        f'"{sys.executable}" -m aichat --base-url {server.base_url} Hi >&-', shell=True,
        stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, env=clean_environment(), timeout=60,
        check=False)
    assert result.returncode == 1
    [line] = result.stderr.decode().splitlines()
    assert line.startswith("aichat: ") and "standard output" in line


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_stdout_is_one_line_and_exit_1(server: LoopbackServer) -> None:
    with open("/dev/full", "wb") as full:
        result = run_with_stdout([*COMMANDS["python -m aichat"], "--base-url",
                                  server.base_url, "Hi"], full.fileno())
    assert result.returncode == 1
    [line] = result.stderr.decode().splitlines()
    assert line.startswith("aichat: cannot write to standard output: ")


def test_a_closed_stderr_still_exits_with_the_status(server: LoopbackServer) -> None:
    server.script(Reply.text("Internal Server Error", 500))
    result = subprocess.run(
        f'"{sys.executable}" -m aichat --base-url {server.base_url} --max-retries 0 Hi 2>&-',
        shell=True, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, env=clean_environment(),
        timeout=60, check=False)
    assert (result.returncode, result.stdout) == (1, b"")


def test_a_reply_the_terminal_cannot_print_is_not_a_traceback(server: LoopbackServer) -> None:
    server.script(Reply(200, b'{"message": "half \\ud83d emoji"}',
                        [("Content-Type", "application/json")]))
    result = run(COMMANDS["python -m aichat"], "--base-url", server.base_url, "Hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"half ? emoji\n"


class _Interrupted:
    """Standard input on which the user presses Ctrl-C."""

    def isatty(self) -> bool:
        return False

    def read(self) -> str:
        raise KeyboardInterrupt


def test_ctrl_c_exits_130_without_a_traceback(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from aichat import cli

    monkeypatch.setattr(sys, "stdin", _Interrupted())
    assert cli.main([]) == 130  # while reading the prompt

    def interrupted(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise KeyboardInterrupt

    monkeypatch.setattr(Aichat, "fetch", interrupted)
    assert cli.main(["Hello"]) == 130  # while waiting for the answer
    assert capsys.readouterr() == ("", "")
