"""g4f's API server with the provider in it (``python -m aichat.g4f_api``, docs/provider.md,
"g4f's API server"), driven by the official ``openai`` SDK over loopback.

One server for the module, started as a user starts it, pointed at the session's mock, with
every connection and name lookup that is not for loopback refused and logged
(support/network_guard.py); the module ends by checking that the log holds no refusal. The
failures come from the table of docs/provider.md, one test a row.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from openai import OpenAI

from mock_server.testing.child_process import MockProcess
from mock_server.testing.remote import RemoteMock
from support import expected
from support.g4f_api_server import GUARD_LOG, GuardedApiServer, guarded_environment
from support.markdown import the_table
from support.network_guard import ON, REFUSED
from support.paths import ROOT

pytestmark = [pytest.mark.g4f, pytest.mark.usefixtures("no_ambient_configuration")]

FAILURE_TABLE = ("docs/provider.md", "The site's failures through g4f's API")
API_SECTION = ("docs/provider.md", "g4f's API server")
DOCUMENTED_PORT = "1337"  # the command's default, in the documentation's examples
HELLO = [{"role": "user", "content": "Hello"}]
# docs/mock-server.md: the mock's default reply mode echoes the last user turn.
ECHO = "You said: {}"


@pytest.fixture(scope="module")
def api(mock_command: MockProcess, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[GuardedApiServer]:
    with GuardedApiServer(mock_command.url, tmp_path_factory.mktemp("g4f-api")) as server:
        yield server
        # docs/provider.md: Ctrl-C stops it, exit status 130.
        status = server.stop(signal.SIGINT)
    assert status == 130, server.tail()
    server.assert_nothing_left_the_machine()


def test_ctrl_c_stops_it_with_130_when_it_was_started_with_ctrl_c_ignored(
        mock_command: MockProcess, tmp_path: Path) -> None:
    """docs/provider.md: Ctrl-C stops it, exit status 130; also as a shell's background job,
    which starts with SIGINT ignored (the child inherits that)."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        server = GuardedApiServer(mock_command.url, tmp_path)
    finally:
        signal.signal(signal.SIGINT, previous)
    with server:
        status = server.stop(signal.SIGINT)
    assert status == 130, server.tail()


@pytest.fixture
def client(api: GuardedApiServer) -> Iterator[OpenAI]:
    with OpenAI(base_url=api.url, api_key="none", max_retries=0, timeout=30) as sdk:
        yield sdk


@pytest.fixture(autouse=True)
def g4f_folders(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """g4f's cookies, usage logs and caches of the commands run here stay out of the home."""
    monkeypatch.setenv("G4F_CONFIG_DIR", str(tmp_path / "g4f-config"))
    monkeypatch.setenv("G4F_CACHE_DIR", str(tmp_path / "g4f-cache"))


def only_request(mock: RemoteMock) -> dict[str, Any]:
    entries = mock.requests
    assert len(entries) == 1, entries
    return dict(entries[0])


# --- an answer, through the openai SDK, g4f's API and the provider --------------------------------

NAMED = {"Aichat": {"provider": "Aichat"}, "lower-case": {"provider": "aichat"},
         "no provider": {}}


@pytest.mark.parametrize("named", NAMED.values(), ids=NAMED.keys())
def test_the_openai_sdk_gets_the_sites_answer_through_g4f_and_the_provider(
        client: OpenAI, remote_mock: RemoteMock, named: dict[str, str]) -> None:
    answer = client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO,
                                            extra_body=named)
    assert answer.choices[0].message.content == ECHO.format("Hello")
    assert answer.choices[0].finish_reason == "stop"
    assert answer.model == "gpt-3.5-turbo"
    entry = only_request(remote_mock)
    assert (entry["method"], entry["path"], entry["status"]) == ("POST", expected.API_PATH, 200)
    assert entry["json"] == expected.body("user: Hello\nassistant:")
    assert {name: entry["headers"].get(name) for name in expected.HEADERS} == expected.HEADERS
    assert entry["violations"] == []


def test_a_conversation_and_the_sampling_parameters_reach_the_site(
        client: OpenAI, remote_mock: RemoteMock) -> None:
    client.chat.completions.create(
        model="gpt-3.5-turbo", temperature=0.5, top_p=0.25, presence_penalty=-1,
        frequency_penalty=2, extra_body={"provider": "Aichat"},
        messages=[{"role": "system", "content": "Be brief."},
                  {"role": "user", "content": "Hi"},
                  {"role": "assistant", "content": "Hello!"},
                  {"role": "user", "content": "Bye"}])
    assert only_request(remote_mock)["json"] == expected.body(
        "system: Be brief.\nuser: Hi\nassistant: Hello!\nuser: Bye\nassistant:",
        temperature=0.5, top_p=0.25, presence_penalty=-1, frequency_penalty=2)


def test_stream_true_gives_the_whole_reply_in_one_chunk_then_stop(
        client: OpenAI, remote_mock: RemoteMock) -> None:
    chunks = list(client.chat.completions.create(
        model="gpt-3.5-turbo", messages=[{"role": "user", "content": "Stream"}], stream=True,
        extra_body={"provider": "Aichat"}))
    choices = [chunk.choices[0] for chunk in chunks if chunk.choices]
    assert [choice.delta.content for choice in choices if choice.delta.content] == [
        ECHO.format("Stream")]
    assert choices[-1].finish_reason == "stop"
    assert not choices[-1].delta.content
    assert len(remote_mock.requests) == 1


def test_an_unknown_provider_is_a_404_and_reaches_nothing(
        client: OpenAI, remote_mock: RemoteMock) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO,
                                       extra_body={"provider": "NoSuchProvider"})
    assert caught.value.response.json()["error"]["message"] == (
        "Provider not found: NoSuchProvider")
    assert remote_mock.requests == []


def test_g4fs_own_g4f_space_is_not_working_offline(
        client: OpenAI, api: GuardedApiServer) -> None:
    # g4f builds G4FSpace from a list it fetches online; here it is a stand-in that refuses.
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO,
                                       extra_body={"provider": "G4FSpace"})
    assert api.guard_report() == [ON]


# --- the site's failures: the table of docs/provider.md ------------------------------------------

def json_cell(cell: str) -> Any:
    return json.loads(cell.strip("`")) if cell else {}


def failure_rows() -> list[Any]:
    header, *rows = the_table(FAILURE_TABLE)
    assert header == ["the site", "the mock, told", "the request adds", "status",
                      "`openai` raises", "the answer's body"]
    assert [row[0] for row in rows] == ["rate limit", "bot wall", "refusal", "timeout",
                                        "disconnect"]
    return [pytest.param(json_cell(told), json_cell("{" + adds.strip("`") + "}"),
                         int(status.strip("`")), raises.strip("`").removeprefix("openai."),
                         json_cell(body), id=site.replace(" ", "-"))
            for site, told, adds, status, raises, body in rows]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("told, adds, status, raises, body", failure_rows())
def test_each_failure_of_the_site_reaches_the_openai_client_as_the_table_says(
        client: OpenAI, remote_mock: RemoteMock, told: dict[str, Any], adds: dict[str, Any],
        status: int, raises: str, body: dict[str, Any], stream: bool) -> None:
    remote_mock.queue(told)
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO, stream=stream,
                                       extra_body={"provider": "Aichat", **adds})
    error = caught.value
    assert type(error) is getattr(openai, raises)
    assert error.status_code == status
    assert error.response.json() == body
    assert error.body == body["error"]
    entries = remote_mock.requests
    assert entries, "the failure never reached the site"
    assert {entry["fault"] for entry in entries} == {told.get("fault")}


def test_the_providers_message_goes_to_the_servers_log(
        client: OpenAI, remote_mock: RemoteMock, api: GuardedApiServer) -> None:
    remote_mock.queue({"fault": "upstream_error", "message": "not today, thanks"})
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO)
    deadline = time.monotonic() + 10  # the log is read from the server's pipe in a thread
    while not any("not today, thanks" in line for line in api.output):
        assert time.monotonic() < deadline, f"not in the server's log: {api.tail()}"
        time.sleep(0.05)


def test_the_openai_sdk_retries_a_failure_itself_through_g4f(
        api: GuardedApiServer, remote_mock: RemoteMock) -> None:
    # docs/provider.md: by default the SDK tries twice more, each time reaching the site.
    remote_mock.queue({"fault": "cloudflare", "times": None})  # the provider does not retry it
    with OpenAI(base_url=api.url, api_key="none", timeout=30) as sdk, \
            pytest.raises(openai.InternalServerError):
        sdk.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO)
    assert len(remote_mock.requests) == 3


# --- the documentation's examples and make demo-api ----------------------------------------------

def section_code(where: tuple[str, str], language: str) -> list[str]:
    path, heading = where
    text = (ROOT / path).read_text("utf-8")
    section = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text,
                        re.DOTALL | re.MULTILINE)
    assert section is not None, heading
    return re.findall(rf"^```{language}\n(.*?)^```$", section.group(1), re.DOTALL | re.MULTILINE)


def test_the_reference_pages_openai_example_asks_the_mock(
        api: GuardedApiServer, remote_mock: RemoteMock) -> None:
    [code] = section_code(API_SECTION, "python")
    assert f"http://127.0.0.1:{DOCUMENTED_PORT}/v1" in code
    code = code.replace(f"http://127.0.0.1:{DOCUMENTED_PORT}/v1", api.url)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False, cwd=ROOT)
    assert (done.returncode, done.stdout) == (0, ECHO.format("Hello") + "\n"), done.stderr
    assert only_request(remote_mock)["json"] == expected.body("user: Hello\nassistant:")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def readme_demo_output() -> list[str]:
    """The output of ``make demo-api`` the README shows (For demo-givers), ``...`` for lines
    it leaves out."""
    text = (ROOT / "README.md").read_text("utf-8")
    [block] = re.findall(r"^```text\n\$ make demo-api\n(.*?)^```$", text, re.DOTALL | re.MULTILINE)
    return block.splitlines()


def test_make_demo_api_prints_what_the_readme_shows(tmp_path: Path) -> None:
    """``make demo-api``'s script on a free port: the answers of the SDK and curl, the
    requests the mock recorded, both servers stopped; the README's lines, in its order."""
    port = free_port()
    done = subprocess.run(
        [sys.executable, "-m", "mock_server.serve.demo_api", "--port", str(port)],
        capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
        env={**os.environ, "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stdout + done.stderr
    printed = done.stdout.splitlines()
    shown = [line.replace(f":{DOCUMENTED_PORT}/", f":{port}/") for line in readme_demo_output()]
    position = 0
    for line in shown:
        if line == "...":
            continue
        assert line in printed[position:], f"{line!r} not printed after line {position}:\n" + \
            done.stdout
        position = printed.index(line, position) + 1
    question = "Hello, how are you?"
    assert printed.count(f"answer: {ECHO.format(question)}") == 2  # the SDK's, then curl's
    assert any(line.startswith("$ curl ") for line in printed)
    body = json.dumps(expected.body(f"user: {question}\nassistant:"))
    assert printed.count(f"  body: {body}") == 2
    assert f"  referer: {expected.HEADERS['referer']}" in printed
    assert not (tmp_path / ".config").exists(), "the demo left g4f's folders in the home"


# --- the command ---------------------------------------------------------------------------------

def command(*args: str, prelude: str = "") -> subprocess.CompletedProcess[str]:
    """``python -m aichat.g4f_api ARGS``, after ``prelude`` (Python run first, in-process)."""
    code = (f"import runpy, sys\n{prelude}\nsys.argv = ['aichat.g4f_api', *{list(args)!r}]\n"
            "runpy.run_module('aichat.g4f_api', run_name='__main__', alter_sys=True)\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False, cwd=ROOT)


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    [line] = result.stderr.splitlines()
    return line


@pytest.mark.parametrize("args, message", [
    (["--base-url", "ftp://127.0.0.1:8080"], "must be an http(s) URL"),
    (["--base-url", "http://127.0.0.1:8080/?q=1"], "must be an http(s) URL"),
    (["--port", "70000"], "must be from 0 to 65535"),
    (["--port", "port"], "not a whole number"),
])
def test_usage_errors_exit_2_with_a_message(args: list[str], message: str) -> None:
    result = command(*args)
    assert result.returncode == 2
    assert message in result.stderr.splitlines()[-1]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("missing", ["g4f", "fastapi", "uvicorn"])
def test_without_the_g4f_extra_one_line_names_it(missing: str) -> None:
    result = command("--port", "0", prelude=f"sys.modules[{missing!r}] = None")
    assert result.returncode == 1
    line = one_line(result)
    assert missing in line
    assert 'pip install "g4f-aichat[g4f]"' in line


def test_a_port_already_taken_exits_1_with_one_line() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = command("--port", str(port), "--base-url", "http://127.0.0.1:9")
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in one_line(result)


# --- registration: what it goes through in g4f, and a g4f that moved it --------------------------

def guarded(module: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """``python -m MODULE`` (a file in ``folder``) under the network guard."""
    return subprocess.run([sys.executable, "-m", "support.network_guard", module],
                          capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
                          env=guarded_environment(folder, folder))


def test_the_installed_g4f_resolves_aichat_to_the_provider_offline(tmp_path: Path) -> None:
    """Fails with the command's own line, naming what moved, on a g4f that breaks it."""
    code = (
        "from aichat.g4f_api import register\n"
        "register()\n"
        "import g4f.api\n"  # resolves G4FSpace as it is imported
        "from g4f.client.factory import AbstractClientFactory\n"
        "from g4f.Provider import ProviderLoader, ProviderUtils\n"
        "from aichat.g4f_provider import Aichat\n"
        "assert AbstractClientFactory.create_provider(None, 'Aichat') is Aichat\n"
        "assert ProviderLoader.from_name('AICHAT') is Aichat\n"
        "assert ProviderUtils.convert['Aichat'] is Aichat\n"
        "print('resolved')\n")
    (tmp_path / "resolve.py").write_text(code, encoding="utf-8")
    done = guarded("resolve", tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "resolved\n"
    assert (tmp_path / GUARD_LOG).read_text("utf-8").splitlines() == [ON]


MOVES = {
    "loaded": ("from g4f.Provider import ProviderLoader\ndel ProviderLoader.loaded",
               "g4f.Provider.ProviderLoader.loaded"),
    "live-list": ("from g4f.client.factory import AbstractClientFactory\n"
                  "del AbstractClientFactory._live_providers",
                  "g4f.client.factory.AbstractClientFactory._live_providers"),
    "resolution": ("from g4f.Provider import ProviderLoader\n"
                   "def from_name(name): raise ImportError(name)\n"
                   "ProviderLoader.from_name = staticmethod(from_name)",
                   "its provider resolution (AbstractClientFactory.create_provider(None, "
                   "'Aichat') raised ProviderNotFoundError"),
    # A release whose g4f.api fetches something online as it is imported, with no network.
    "import": ("import importlib.abc\n"
               "class Offline(importlib.abc.MetaPathFinder):\n"
               "    def find_spec(self, name, path, target=None):\n"
               "        if name == 'g4f.api': raise ConnectionError('g4f.dev is out of reach')\n"
               "sys.meta_path.insert(0, Offline())",
               "what g4f.api needs as it is imported or built (it raised ConnectionError: "
               "g4f.dev is out of reach)"),
}


@pytest.mark.parametrize("prelude, named", MOVES.values(), ids=MOVES.keys())
def test_a_g4f_that_moved_what_registration_needs_is_named_in_one_line(
        prelude: str, named: str) -> None:
    # The prelude plays a g4f release without the object; the command must say which.
    result = command("--port", "0", "--base-url", "http://127.0.0.1:9", prelude=prelude)
    assert result.returncode == 1
    line = one_line(result)
    assert line.startswith("aichat.g4f_api: g4f 8.")
    assert f"moved {named}" in line
    assert "install a g4f that the g4f-aichat[g4f] extra allows" in line


def test_the_network_guard_refuses_and_reports_in_a_child(tmp_path: Path) -> None:
    """The guard the server runs under does refuse: a lookup and a connection elsewhere fail
    and are logged, loopback passes."""
    (tmp_path / "reach.py").write_text(
        "import socket\n"
        "for attempt in (lambda: socket.getaddrinfo('example.invalid', 80),\n"
        "                lambda: socket.create_connection(('192.0.2.1', 80), timeout=1)):\n"
        "    try:\n"
        "        attempt()\n"
        "    except OSError as error:\n"
        "        print('refused' if 'refused' in str(error) else error)\n"
        "with socket.create_server(('127.0.0.1', 0)) as server:\n"
        "    socket.create_connection(server.getsockname(), timeout=1).close()\n"
        "print('loopback ok')\n", encoding="utf-8")
    done = guarded("reach", tmp_path)
    assert (done.returncode, done.stdout) == (0, "refused\nrefused\nloopback ok\n"), done.stderr
    on, *refused = (tmp_path / GUARD_LOG).read_text("utf-8").splitlines()
    assert on == ON
    # Each refused at its first audit event: a connection to an address looks it up first.
    assert [line.startswith(REFUSED) for line in refused] == [True, True]
    assert [line.rpartition(" to ")[2] for line in refused] == ["'example.invalid'",
                                                               "'192.0.2.1'"]
