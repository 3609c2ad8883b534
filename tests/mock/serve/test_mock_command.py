"""The ``aichat-mock`` command (``python -m mock_server``) and ``make demo``'s script."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import aichat
from mock_server import __version__
from mock_server.serve import cli
from mock_server.serve.cli import is_loopback
from mock_server.testing.child_process import LISTENING, MockProcess
from support.expected import MOCK_ADMIN_BODY
from support.paths import ROOT

pytestmark = pytest.mark.usefixtures("no_ambient_configuration")


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The command with ``args``, for runs that end on their own (usage errors)."""
    return subprocess.run([sys.executable, "-m", "mock_server", *args], capture_output=True,
                          text=True, timeout=timeout, check=False, cwd=ROOT)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::", "example.invalid"])
def test_a_non_loopback_host_is_refused_without_allow_remote(host: str) -> None:
    result = run("--host", host, "--port", "0")
    assert result.returncode == 2
    assert "--allow-remote" in result.stderr
    assert f"refusing to listen on {host}" in result.stderr
    assert LISTENING not in result.stdout


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True),
    ("localhost", True), ("LOCALHOST", True), ("0.0.0.0", False), ("10.0.0.1", False),
    ("::", False), ("chat-gpt.org", False), ("", False),
])
def test_what_counts_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(("args", "message"), [
    (["--port", "70000"], "must be from 0 to 65535"),
    (["--port", "eighty"], "not a whole number"),
    (["--journal-cap", "0"], "must be 1 or more"),
    (["--threads", "0"], "must be 1 or more"),
    (["--reply-mode", "silly"], "invalid choice"),
    (["--server", "nginx"], "invalid choice"),
    (["--journal", "/nonexistent-dir/journal.jsonl"], "cannot open the journal file"),
])
def test_usage_errors_exit_2_with_a_message(args: list[str], message: str) -> None:
    result = run("--port", "0", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_help() -> None:
    result = run("--help")
    assert result.returncode == 0
    for option in ("--host", "--port", "--reply-mode", "--reply-text", "--journal",
                   "--journal-cap", "--server", "--allow-remote"):
        assert option in result.stdout


def test_a_busy_port_exits_1() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = run("--port", str(port))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_port_0_prints_the_url_and_serves_fixed_replies() -> None:
    with MockProcess(["--reply-mode", "fixed", "--reply-text", "Bonjour !",
                      "--host", "localhost"]) as process:
        assert re.fullmatch(r"http://(127\.0\.0\.1|\[::1\]):[1-9][0-9]*", process.url)
        assert process.mock.health() == {"status": "ok", "version": __version__,
                                         "journal": "ok"}
        assert aichat.complete([{"role": "user", "content": "Hi"}],
                               base_url=process.url) == "Bonjour !"
        assert process.stop(signal.SIGINT) == 0
    assert any(line.startswith(LISTENING) for line in process.output)
    # Where to point a browser: the chat page and the inspector, on one line.
    assert f"aichat-mock: chat page {process.url}/chat, inspector {process.url}/__mock__/" \
        in process.output


@pytest.mark.parametrize("proxy", [None, "http://127.0.0.1:9"], ids=["no-proxy", "dead-proxy"])
def test_the_demo_script(proxy: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    if proxy is not None:  # a proxy of the user's must not catch the demo's loopback traffic
        for name in ("HTTP_PROXY", "http_proxy"):
            monkeypatch.setenv(name, proxy)
    result = subprocess.run([sys.executable, "-m", "mock_server.serve.demo"], capture_output=True,
                            text=True, timeout=120, check=False, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "answer: You said: Hello, how are you?" in out
    assert "POST /api/text" in out
    for line in ("authority: chat-gpt.org", 'sec-ch-ua-platform: "macOS"',
                 '"message": "user: Hello, how are you?\\nassistant:"', '"temperature": 1',
                 "contract breaches: none; header differences: none",
                 "mock server stopped (exit status 0)"):
        assert line in out


def test_the_makefile_runs_the_demo_and_the_server() -> None:
    makefile = (ROOT / "Makefile").read_text("utf-8")
    assert re.search(r"^demo:.*\n\t\$\(BIN\)/python -m mock_server\.serve\.demo$", makefile, re.M)
    assert re.search(r"^serve:.*\n\t\$\(BIN\)/python -m mock_server --host \$\(HOST\) "
                     r"--port \$\(PORT\)$", makefile, re.M)


def extras_installed(target: str, folder: Path) -> list[str]:
    """The extras of the project that ``make -n target`` (nothing is run) would install."""
    printed = subprocess.run(["make", "-n", target], cwd=folder, capture_output=True, text=True,
                             timeout=60, check=False).stdout
    return re.findall(r"pip install .*-e '\.\[(\w+)\]'", printed)


def test_make_demo_and_serve_install_the_mock_extra_alone(tmp_path: Path) -> None:
    """README.md: make demo (and make serve) install only what they run, the mock's extra;
    make install, and so make test, everything the tests use."""
    for name in ("Makefile", "pyproject.toml"):
        (tmp_path / name).write_bytes((ROOT / name).read_bytes())
    assert extras_installed("demo", tmp_path) == ["mock"]
    assert extras_installed("serve", tmp_path) == ["mock"]
    assert extras_installed("install", tmp_path) == ["dev"]


# --- --replies FILE.json -----------------------------------------------------------------------

STUBS = [
    {"message": "It is sunny.", "match": {"last_turn_contains": "weather"}, "times": None},
    {"fault": "rate_limit", "retry_after": 0, "match": {"last_turn": "limit me"}},
    {"message": "Once."},
]


def test_replies_from_a_file_are_queued_at_start(tmp_path: Path) -> None:
    stubs = tmp_path / "stubs.json"
    stubs.write_text(json.dumps(STUBS), encoding="utf-8")
    # The default server: two worker processes, the file queued once for both.
    with MockProcess(["--replies", str(stubs)]) as process:
        queued = process.mock.queued
        assert [(reply["match"], reply["times"]) for reply in queued] == [
            (stub.get("match"), stub.get("times", 1))
            for stub in STUBS]
        assert len({reply["id"] for reply in queued}) == 3
        base = process.url
        ask = [{"role": "user", "content": "How is the weather?"}]
        assert aichat.complete(ask, base_url=base) == "It is sunny."
        assert aichat.complete(ask, base_url=base) == "It is sunny."
        with pytest.raises(aichat.AichatRateLimitError):
            aichat.complete([{"role": "user", "content": "limit me"}], base_url=base,
                            max_retries=0)
        assert aichat.complete([{"role": "user", "content": "Hi"}], base_url=base) == "Once."
        assert aichat.complete([{"role": "user", "content": "Hi"}], base_url=base) \
            == "You said: Hi"
        # SIGINT: gunicorn's quick stop; the provider's kept-alive connections would hold a
        # graceful one for seconds.
        assert process.stop(signal.SIGINT) == 0


@pytest.mark.parametrize(("content", "message"), [
    (json.dumps([{"message": "fine"}, {"match": {"message_regex": "(unclosed"}}]),
     "replies[1].match.message_regex is not a valid regular expression"),
    (json.dumps([{"message": "fine"}, {"times": 0}]),
     "replies[1].times must be a whole number"),
    (json.dumps([{"mesage": "typo"}]), "replies[0] has unknown field(s) 'mesage'"),
    (json.dumps({"message": "an object"}), "it must hold a JSON list of scripted replies"),
    ("[{\"message\": ", "it is not JSON"),
    (b"[\xff\xfe]", "it is not UTF-8 text"),
])
def test_a_bad_replies_file_exits_2_with_one_line(tmp_path: Path, content: str | bytes,
                                                  message: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    stubs = tmp_path / "stubs.json"
    stubs.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    # The command's main in this process: the file is refused before anything is served.
    assert cli.main(["--port", "0", "--replies", str(stubs)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    [line] = err.splitlines()
    assert line.startswith(f"aichat-mock: error: --replies {stubs}: ")
    assert message in line


@pytest.mark.parametrize("name", ["/dev/zero", "over-the-cap.json"])
def test_a_replies_file_over_the_admin_cap_exits_2_unread(tmp_path: Path, name: str) -> None:
    """docs/mock-server.md: the file is read up to the admin body cap (8 MiB), as POST
    /__mock__/replies is; /dev/zero, which never ends, is refused in one line, not a
    MemoryError."""
    path = Path(name) if name.startswith("/") else tmp_path / name
    if not name.startswith("/"):
        # A JSON list one byte over the cap: valid but for its size.
        path.write_text("[" + " " * (MOCK_ADMIN_BODY - 1) + "]", encoding="utf-8")
    result = run("--port", "0", "--replies", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line == (f"aichat-mock: error: --replies {path}: it is over {MOCK_ADMIN_BODY} bytes, "
                    f"the most a list of scripted replies may be (as POST /__mock__/replies "
                    f"takes them)")


def test_a_replies_file_at_the_admin_cap_is_read(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Up to the cap the file is read whole: the same list padded to exactly 8 MiB gets as far
    as its contents (an unknown field), not refused for its size."""
    stubs = tmp_path / "stubs.json"
    content = json.dumps([{"mesage": "typo"}])
    stubs.write_text(content + " " * (MOCK_ADMIN_BODY - len(content)), encoding="utf-8")
    assert cli.main(["--port", "0", "--replies", str(stubs)]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "replies[0] has unknown field(s) 'mesage'" in line


def test_a_missing_replies_file_exits_2(tmp_path: Path) -> None:
    result = run("--port", "0", "--replies", str(tmp_path / "none.json"))
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line == (f"aichat-mock: error: --replies {tmp_path / 'none.json'}: cannot read it: "
                    f"No such file or directory")


@pytest.mark.parametrize("module", ["mock_server", "aichat"])
def test_help_fits_an_80_column_terminal(module: str) -> None:
    result = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True,
                            text=True, timeout=60, check=False, cwd=ROOT,
                            env={**os.environ, "COLUMNS": "80"})
    assert result.returncode == 0
    long = [line for line in result.stdout.splitlines() if len(line) > 79]
    assert long == []
