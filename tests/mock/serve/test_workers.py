"""The mock's serving options: ``--no-journal`` and ``--workers``."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import requests

from mock_server import create_app
from mock_server.testing.child_process import MockProcess

pytestmark = pytest.mark.usefixtures("no_ambient_configuration")

BODY: dict[str, Any] = {"message": "user: Hello\nassistant:", "temperature": 1,
                        "presence_penalty": 0, "top_p": 1, "frequency_penalty": 0}


def session() -> requests.Session:
    client = requests.Session()
    client.trust_env = False  # loopback only
    return client


def note_of(mock: MockProcess, pattern: str) -> re.Match[str]:
    """The match of ``pattern`` in what the command wrote, waiting for its start-up notes."""
    for _ in range(500):
        found = re.search(pattern, mock.tail())
        if found:
            return found
        threading.Event().wait(0.01)
    raise AssertionError(f"no {pattern!r} in {mock.tail()}")


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux's /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_without_the_journal_nothing_is_recorded_and_the_rest_is_the_same() -> None:
    client = create_app({"MOCK_JOURNAL_ENABLED": False}).test_client()
    assert client.post("/__mock__/replies", json={"message": "scripted"}).status_code == 201
    first = client.post("/api/text", json=BODY)
    assert first.get_json() == {"response": True, "message": "scripted"}
    assert client.post("/api/text", json=BODY).get_json() == {
        "response": True, "message": "You said: Hello"}
    assert client.post("/api/text", json={"message": 1}).status_code == 400
    assert client.get("/nowhere").status_code == 404
    assert client.get("/__mock__/requests").get_json() == {"total": 0, "requests": []}
    assert client.get("/__mock__/replies").get_json() == {"replies": []}


def test_the_no_journal_option() -> None:
    with MockProcess(["--no-journal"]) as mock, session() as client:
        answer = client.post(mock.url + "/api/text", json=BODY, timeout=30)
        assert answer.json() == {"response": True, "message": "You said: Hello"}
        assert mock.mock.journal()["total"] == 0
        note_of(mock, "journal off")


@pytest.mark.parametrize(("args", "message"), [
    (["--workers", "2", "--server", "waitress"], "needs asyncio or gevent or granian or gunicorn"),
    (["--workers", "2", "--store", "memory"], "needs --store sqlite"),
    (["--store", "redis"], "expected memory, sqlite or sqlite:PATH"),
    (["--workers", "0"], "must be 1 or more"),
])
def test_usage_errors(args: list[str], message: str) -> None:
    result = subprocess.run([sys.executable, "-m", "mock_server", "--port", "0", *args],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert message in result.stderr


def test_two_workers_keep_one_exact_journal_and_share_the_reply_queue() -> None:
    with MockProcess(["--workers", "2", "--threads", "4"]) as mock:
        store_file = note_of(mock, r"2 workers[^;]*; store sqlite:(\S+);")
        mock.mock.reply("scripted", times=50)
        answers: list[str] = []

        def client() -> None:
            with session() as http:
                for _ in range(20):
                    answer = http.post(mock.url + "/api/text", json=BODY, timeout=30)
                    answers.append(answer.json()["message"])

        threads = [threading.Thread(target=client) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(answers) == 160
        assert len(children(mock.process.pid)) == 2, "two worker processes served"
        assert answers.count("scripted") == 50
        assert mock.mock.queued == []
        journal = mock.mock.journal()
        assert journal["total"] == 160
        assert sorted(item["id"] for item in journal["requests"]) == list(range(1, 161))
        assert sum(item["scripted"] for item in journal["requests"]) == 50
    assert mock.returncode == 0
    assert not Path(store_file.group(1)).exists(), "the temporary store is removed at exit"


def test_what_the_journal_acknowledged_survives_sigkill(tmp_path: Path) -> None:
    store = tmp_path / "journal.sqlite3"
    lines = tmp_path / "journal.jsonl"
    args = ["--store", f"sqlite:{store}", "--journal", str(lines)]
    sent = 60
    with MockProcess(args) as mock, session() as http:
        for index in range(sent):
            body = {**BODY, "message": f"user: {index}\nassistant:"}
            assert http.post(mock.url + "/api/text", json=body, timeout=30).status_code == 200
        mock.stop(signal.SIGKILL)
    assert mock.returncode == -signal.SIGKILL
    with MockProcess(args) as again:
        journal = again.mock.journal()
    assert journal["total"] == sent
    assert [item["reply"]["message"] for item in journal["requests"]] == [
        f"You said: {index}" for index in range(sent)]
    assert len(lines.read_text("utf-8").splitlines()) == sent


def test_granian_with_two_workers_journals_once_and_takes_no_header_from_the_environment() -> None:
    env = {**os.environ, "HTTP_PROXY": "http://proxy.invalid:1"}  # never used: loopback only
    with MockProcess(["--server", "granian", "--workers", "2"], env=env) as mock, \
            session() as http:
        note_of(mock, r"granian server, 2 workers")
        for _ in range(10):
            assert http.post(mock.url + "/api/text", json=BODY, timeout=30).status_code == 200
        journal = mock.mock.journal()
    assert journal["total"] == 10
    assert all("proxy" not in entry["headers"] for entry in journal["requests"])
