"""The fixtures' life cycle: a pytest session that uses them leaves no thread, port, patched
transport or environment variable behind; ``aichat_mock_config`` configures both; using both
in one test is refused with a clear message. Inner sessions run in a child Python, so the
outer session's own servers and variables cannot blur the picture.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

import aichat
from mock_server.testing.socketless import InProcessMock
from mock_server.testing.thread_server import LiveServer

pytestmark = pytest.mark.usefixtures("no_ambient_configuration")

# Runs an inner pytest session in this process, then reports what it left behind.
DRIVER = """
import json, os, socket, sys, threading
import pytest
from requests.adapters import HTTPAdapter

env_before = dict(os.environ)
threads_before = {thread.ident for thread in threading.enumerate()}
send_before = HTTPAdapter.send
code = pytest.main([sys.argv[1], "-q", "-p", "no:cacheprovider", "--junitxml", sys.argv[2]])
port = int(open(os.path.join(sys.argv[1], "port.txt")).read())
probe = socket.socket()
try:
    probe.connect(("127.0.0.1", port))
    port_state = "open"
except ConnectionRefusedError:
    port_state = "refused"
finally:
    probe.close()
env_after = dict(os.environ)
print(json.dumps({
    "code": int(code),
    "threads": [thread.name for thread in threading.enumerate()
                if thread.ident not in threads_before],
    "port": port_state,
    "transport_restored": HTTPAdapter.send is send_before,
    "env_changed": sorted(name for name in set(env_before) | set(env_after)
                          if env_before.get(name) != env_after.get(name)),
}))
"""

LEAK_SUITE = '''
import os, socket, pytest, requests, aichat

HERE = os.path.dirname(__file__)

def test_live_answers_and_records(aichat_server):
    with open(os.path.join(HERE, "port.txt"), "w") as file:
        file.write(str(aichat_server.port))
    assert os.environ["AICHAT_BASE_URL"] == aichat_server.base_url
    assert os.environ["NO_PROXY"] == "127.0.0.1,example.org"
    assert aichat.complete([{"role": "user", "content": "Hi"}]) == "You said: Hi"
    aichat_server.fault("disconnect")
    with pytest.raises(aichat.AichatConnectionError):
        aichat.complete([{"role": "user", "content": "Hi"}])

def test_live_with_a_request_still_waiting_at_the_end(aichat_server):
    aichat_server.reply("late", delay_ms=1500)
    with pytest.raises(aichat.AichatTimeoutError):
        aichat.complete([{"role": "user", "content": "Hi"}], timeout=0.2)

def test_live_with_an_idle_connection_left_open(aichat_server):
    idle = socket.create_connection(("127.0.0.1", aichat_server.port))
    idle.sendall(b"POST /api/text HTTP/1.1\\r\\nHost: localhost\\r\\n")  # never finished
    test_live_with_an_idle_connection_left_open.socket = idle

def test_in_process(aichat_responses):
    assert os.environ["AICHAT_BASE_URL"] == aichat_responses.base_url
    assert aichat_responses.base_url.startswith("http://aichat.invalid/ns/")
    aichat_responses.reply("scripted")
    assert aichat.complete([{"role": "user", "content": "Hi"}]) == "scripted"
    aichat_responses.fault("disconnect")
    with pytest.raises(aichat.AichatConnectionError):
        aichat.complete([{"role": "user", "content": "Hi"}])
'''

CONFIG_SUITE = {
    "conftest.py": '''
import pytest

@pytest.fixture(scope="session")
def aichat_mock_config():
    return {"MOCK_REPLY_MODE": "fixed", "MOCK_REPLY_TEXT": "Configured."}
''',
    "test_config.py": '''
import aichat, pytest

@pytest.fixture(params=["aichat_server", "aichat_responses"])
def mock(request):
    return request.getfixturevalue(request.param)

def test_the_configuration_reaches_both(mock):
    assert aichat.complete([{"role": "user", "content": "Hi"}]) == "Configured."

def test_both_in_one_test(aichat_server, aichat_responses):
    pass
''',
}


def child_environment() -> dict[str, str]:
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("PYTEST_", "PYTHONPATH"))
           and name.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env["AICHAT_BASE_URL"] = "http://before.invalid"
    env["NO_PROXY"] = "example.org"
    return env


def outcomes(junit: Path) -> dict[str, tuple[str, str]]:
    """Each test's outcome (passed, failed, error, skipped) and message, from JUnit XML."""
    result: dict[str, tuple[str, str]] = {}
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome, message = child.tag, child.get("message", "") + (child.text or "")
        result[case.get("name", "")] = (outcome, message)
    return result


def run_inner(tmp_path: Path, files: dict[str, str]) -> tuple[dict[str, Any], Path]:
    suite = tmp_path / "suite"
    suite.mkdir()
    for name, text in files.items():
        (suite / name).write_text(textwrap.dedent(text))
    (suite / "port.txt").write_text("0")
    junit = tmp_path / "junit.xml"
    completed = subprocess.run(
        [sys.executable, "-c", DRIVER, str(suite), str(junit)], cwd=tmp_path,
        env=child_environment(), capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    report: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    report["output"] = completed.stdout
    return report, junit


def test_a_session_leaves_no_thread_port_patch_or_variable(tmp_path: Path) -> None:
    report, junit = run_inner(tmp_path, {"test_leaks.py": LEAK_SUITE})
    assert report["code"] == 0, report["output"]
    assert set(outcomes(junit).values()) == {("passed", "")}
    assert len(outcomes(junit)) == 4
    assert report["threads"] == []
    assert report["port"] == "refused"
    assert report["transport_restored"] is True
    assert report["env_changed"] == []


def test_the_configuration_reaches_both_and_mixing_them_is_refused(tmp_path: Path) -> None:
    report, junit = run_inner(tmp_path, CONFIG_SUITE)
    results = outcomes(junit)
    assert results["test_the_configuration_reaches_both[aichat_server]"] == ("passed", "")
    assert results["test_the_configuration_reaches_both[aichat_responses]"] == ("passed", "")
    outcome, message = results["test_both_in_one_test"]
    assert outcome == "error"
    assert "uses both aichat_server and aichat_responses" in message
    assert report["code"] == 1
    assert report["threads"] == [] and report["env_changed"] == []


# --- the same, on the classes directly ----------------------------------------------------


def test_stopping_the_live_server_closes_its_port_connections_and_threads() -> None:
    before = set(threading.enumerate())
    server = LiveServer()
    assert aichat.complete([{"role": "user", "content": "Hi"}], base_url=server.base_url) \
        == "You said: Hi"
    idle = socket.create_connection(("127.0.0.1", server.port))
    try:
        idle.sendall(b"GET /chat HTTP/1.1\r\n")  # a request that never ends
        server.stop()
        assert not server.running
        left = set(threading.enumerate()) - before
        assert not left, f"threads still running: {sorted(thread.name for thread in left)}"
        idle.settimeout(10)
        # Closed with a request half read, the connection may also end in a reset.
        with contextlib.suppress(ConnectionResetError):
            assert idle.recv(100) == b"", "the server closed the idle connection"
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", server.port), timeout=10).close()
    finally:
        idle.close()
    server.stop()  # a second stop does nothing


def test_stopping_the_in_process_mock_restores_requests() -> None:
    original = HTTPAdapter.send
    with InProcessMock() as mock:
        assert HTTPAdapter.send is not original
        assert mock.active
        answer = requests.post(mock.url_for("/api/text"), json={"message": "user: Hi"},
                               timeout=5)
        assert answer.json() == {"response": True, "message": "You said: Hi"}
        with pytest.raises(requests.ConnectionError, match="Connection refused by Responses"):
            requests.get("http://example.invalid/", timeout=5)
    assert HTTPAdapter.send is original
    assert not mock.active
    with pytest.raises(RuntimeError, match="not started"):
        _ = mock.requests_mock


def test_the_in_process_mock_wants_a_bare_base_url() -> None:
    for base_url in ("ftp://aichat.invalid", "http://aichat.invalid/v1", "aichat.invalid"):
        with pytest.raises(ValueError, match="base_url must be"):
            InProcessMock(base_url=base_url)
    custom = InProcessMock(base_url="https://chat-gpt.org/")
    assert custom.base_url == "https://chat-gpt.org"
    with custom:
        assert aichat.complete([{"role": "user", "content": "Hi"}]) == "You said: Hi"
        assert custom.requests[0]["headers"]["host"] == "chat-gpt.org"


def test_the_plugin_costs_pytest_no_flask_import() -> None:
    """pytest loads the plugin at every start wherever the package is installed: it imports
    only light modules, and the package's exports come on first use."""
    code = textwrap.dedent("""
        import json, sys
        import pytest
        import mock_server.testing.pytest_plugin
        heavy = sorted(name for name in ("flask", "werkzeug", "jsonschema", "requests",
                                         "mock_server.web.app", "mock_server.core.engine")
                       if name in sys.modules)
        import mock_server
        from mock_server import Engine, __version__, create_app
        from mock_server.core.engine import Engine as engine_class
        print(json.dumps({"heavy": heavy, "same": Engine is engine_class,
                          "version": __version__, "app": type(create_app()).__name__,
                          "listed": set(mock_server.__all__) <= set(dir(mock_server))}))
    """)
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               timeout=60, check=True, env=child_environment())
    report = json.loads(completed.stdout)
    assert report["heavy"] == [], "imported by the plugin alone"
    assert report["same"] and report["app"] == "Flask" and report["listed"]
    assert report["version"]


def test_every_export_of_the_package_is_there() -> None:
    import mock_server
    from mock_server.core import engine, store, wire
    from mock_server.web import app

    for name in mock_server.__all__:
        assert getattr(mock_server, name) is not None
    assert (mock_server.create_app, mock_server.CONFIG_DEFAULTS, mock_server.engine_of) == (
        app.create_app, app.CONFIG_DEFAULTS, app.engine_of)
    assert (mock_server.Engine, mock_server.MemoryStore, mock_server.Store) == (
        engine.Engine, store.MemoryStore, store.Store)
    assert (mock_server.Answer, mock_server.IncomingRequest) == (wire.Answer,
                                                                 wire.IncomingRequest)
    with pytest.raises(AttributeError, match="no attribute 'create_ap'"):
        _ = mock_server.create_ap  # type: ignore[attr-defined]
