"""GET /__mock__/requests pages the journal (docs/mock-server.md): the most recent 1,000 entries
unless ?limit= says otherwise, older ones with ?before_id=; POST /__mock__/requests/find pages what
it finds the same way; GET /__mock__/namespaces pages the namespaces by name, the next page
?after= the last name; the kit reads every page, so that
``requests``, ``journal()`` and ``find()`` still return everything held."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mock_server import Engine, MemoryStore, create_app, engine_of
from mock_server.core.wire import IncomingRequest
from mock_server.testing.remote import RemoteMock
from support.raw_client import session

SEED = json.dumps({"message": "user: Hi\nassistant:"}).encode()


def test_the_journal_is_read_a_page_at_a_time() -> None:
    app = create_app({"MOCK_JOURNAL_CAP": 5000})
    engine = engine_of(app)
    for number in range(2500):
        engine.handle(IncomingRequest("POST", "/api/text", f"n={number}", {}, SEED))
    client = app.test_client()
    page = client.get("/__mock__/requests").get_json()
    assert page["total"] == 2500 and len(page["requests"]) == 1000
    assert [entry["id"] for entry in page["requests"]] == list(range(1501, 2501))
    before = client.get("/__mock__/requests?before_id=1501&limit=600").get_json()
    assert [entry["id"] for entry in before["requests"]] == list(range(901, 1501))
    assert before["total"] == 2500
    first = client.get("/__mock__/requests?before_id=3&limit=1000").get_json()
    assert [entry["id"] for entry in first["requests"]] == [1, 2]
    everything = client.get("/__mock__/requests?limit=999999").get_json()
    assert len(everything["requests"]) == 2500
    path = client.get("/__mock__/requests?path=/api/text&before_id=11&limit=3").get_json()
    assert [entry["id"] for entry in path["requests"]] == [8, 9, 10]


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_the_namespaces_are_read_a_page_at_a_time(store: str, tmp_path: Path) -> None:
    setting = "memory" if store == "memory" else f"sqlite:{tmp_path / 'store.sqlite3'}"
    app = create_app({"MOCK_STORE": setting})
    engine = engine_of(app)
    names = [f"ns{number:04}" for number in range(1500)]
    for name in names:
        engine.handle(IncomingRequest("POST", "/api/text", "", {}, SEED, namespace=name))
    client = app.test_client()
    first = client.get("/__mock__/namespaces").get_json()
    # docs/mock-server.md: 1,000 a page by default, the default namespace ("") always, first.
    assert first["total"] == 1501
    assert [item["name"] for item in first["namespaces"]] == ["", *names[:999]]
    assert first["namespaces"][1] == {"name": "ns0000", "requests": 1, "replies": 0}
    rest = client.get(f"/__mock__/namespaces?after={names[998]}").get_json()
    assert rest["total"] == 1501
    assert [item["name"] for item in rest["namespaces"]] == names[999:]
    some = client.get("/__mock__/namespaces?after=&limit=2").get_json()
    assert [item["name"] for item in some["namespaces"]] == names[:2]
    assert client.get("/__mock__/namespaces?after=~").get_json()["namespaces"] == []
    refused = client.get("/__mock__/namespaces?limit=x")
    assert refused.status_code == 400 and "limit" in refused.get_json()["error"]
    engine.close()


@pytest.mark.parametrize("value", ["-1", "x", "1.5", ""])
def test_a_bad_before_id_is_refused(value: str) -> None:
    client = create_app().test_client()
    answer = client.get(f"/__mock__/requests?before_id={value}")
    assert answer.status_code == 400 and "before_id" in answer.get_json()["error"]


def test_the_kit_reads_every_page(remote_mock: RemoteMock) -> None:
    with session() as http:
        for number in range(1100):
            http.post(remote_mock.url_for(f"/api/text?n={number}"), data=SEED, timeout=30)
    held = remote_mock.requests
    assert len(held) == 1100 and [entry["query"] for entry in held] == [
        f"n={number}" for number in range(1100)]
    assert remote_mock.journal(limit=1050)["requests"] == held[-1050:]
    assert remote_mock.journal()["total"] == 1100
    assert remote_mock.last == held[-1]
    assert remote_mock.find(path="/api/text") == held
    assert remote_mock.find(path="/api/text", status=200)[:3] == held[:3]


def turn(text: str) -> bytes:
    return json.dumps({"message": f"user: {text}\nassistant:"}).encode()


def test_a_search_is_paged_like_the_journal() -> None:
    app = create_app({"MOCK_JOURNAL_CAP": 5000})
    engine = engine_of(app)
    for number in range(2500):
        engine.handle(IncomingRequest("POST", "/api/text", f"n={number}", {},
                                      turn("Even" if number % 2 == 0 else "Odd")))
    client = app.test_client()
    evens = {"match": {"last_turn": "Even"}}
    page = client.post("/__mock__/requests/find", json=evens).get_json()
    # Entry n is id n + 1: the evens are the odd ids.
    assert page["total"] == 1250 and len(page["requests"]) == 1000
    assert [entry["id"] for entry in page["requests"]] == list(range(501, 2501, 2))
    older = client.post("/__mock__/requests/find?before_id=501", json=evens).get_json()
    assert [entry["id"] for entry in older["requests"]] == list(range(1, 501, 2))
    assert older["total"] == 250, "what it finds below before_id"
    three = client.post("/__mock__/requests/find?limit=3", json=evens).get_json()
    assert [entry["id"] for entry in three["requests"]] == [2495, 2497, 2499]
    none = client.post("/__mock__/requests/find?limit=0", json=evens).get_json()
    assert none == {"total": 1250, "requests": []}
    for query in ("limit=-1", "before_id=x", "limt=3", "limit=1&limit=2"):
        answer = client.post(f"/__mock__/requests/find?{query}", json=evens)
        assert answer.status_code == 400, query


def test_the_server_raises_its_open_file_limit_or_says_it_cannot() -> None:
    """Each connection is an open file: the server raises its limit to the hard limit at
    start, and says so when that is not enough for 10,000 connections."""
    probe = ("import resource; soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE); "
             "resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, {low}), {high})); "
             "from mock_server.serve.own_server import raise_open_files; "
             "note = raise_open_files(); "
             "print(resource.getrlimit(resource.RLIMIT_NOFILE)[0], note)")
    lowered = subprocess.run([sys.executable, "-c", probe.format(low=500, high=1000)],
                             capture_output=True, text=True, timeout=60, check=True)
    assert lowered.stdout.startswith("1000 ") and "open files are limited to 1000" in \
        lowered.stdout
    raised = subprocess.run([sys.executable, "-c", probe.format(low=500, high="hard")],
                            capture_output=True, text=True, timeout=60, check=True)
    import resource
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    soft, note = raised.stdout.split(" ", 1)
    assert int(soft) == hard or hard == resource.RLIM_INFINITY
    assert (note.strip() == "None") == (hard == resource.RLIM_INFINITY or hard >= 12_000)


class ReadCountingStore(MemoryStore):
    """A memory store that notes how many entries each read of the journal handed over."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reads: list[int] = []

    def entries(self, *args: Any, **kwargs: Any) -> tuple[int, list[dict[str, Any]]]:
        total, entries = super().entries(*args, **kwargs)
        self.reads.append(len(entries))
        return total, entries


def test_a_search_reads_the_journal_a_part_at_a_time() -> None:
    """docs/mock-server.md (Limits): a read or a search of the journal never
    builds the whole of it at once, even when what it finds is a page of the newest."""
    store = ReadCountingStore(5000)
    engine = Engine(store=store)
    for number in range(1200):
        engine.handle(IncomingRequest("POST", "/api/text", f"n={number}", {}, turn("Hi")))
    page = engine.find({"path": "/api/text"}, limit=1000)
    assert page["total"] == 1200 and len(page["requests"]) == 1000
    assert [entry["id"] for entry in page["requests"]] == list(range(201, 1201))
    assert store.reads and sum(store.reads) == 1200
    assert max(store.reads) < 1200, "the whole journal in one read"
