"""The ``Store`` contract, for the in-memory store and the SQLite one alike, and what only the
SQLite store promises: several connections (processes) on one file share one state."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mock_server import create_app, engine_of
from mock_server.core.matching import Facts
from mock_server.core.replies import parse_reply
from mock_server.core.sqlite_store import SQLiteStore
from mock_server.core.store import MemoryStore, QueueFullError, Store, open_store

MakeStore = Callable[..., Store]


@pytest.fixture(params=["memory", "sqlite"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeStore]:
    """A factory of empty stores of one kind, taking ``cap`` and ``queue_cap``."""
    made: list[SQLiteStore] = []

    def make(**options: Any) -> Store:
        if request.param == "memory":
            return MemoryStore(**options)
        store = SQLiteStore(tmp_path / f"store{len(made)}.sqlite3", **options)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


def entry(path: str = "/api/text", **fields: Any) -> dict[str, Any]:
    return {"time": "2026-01-01T00:00:00.000+00:00", "method": "POST", "path": path,
            "headers": {"x": "ü"}, "json": {"message": "m", "n": [1, 2.5, None, True]},
            "body": "text \ud800 with a lone surrogate", "status": 200, **fields}


def reply(**fields: Any) -> dict[str, Any]:
    return parse_reply(fields)


# A valid request, as a match sees it: every reply without a match holds for it.
ANY_REQUEST = Facts("user: Hello\nassistant:", {"message": "user: Hello\nassistant:"}, {})


def take(store: Store, namespace: str = "") -> dict[str, Any] | None:
    return store.take_reply(ANY_REQUEST, namespace=namespace).reply


def test_a_store_is_a_store(make_store: MakeStore) -> None:
    assert isinstance(make_store(), Store)


def test_entries_come_back_as_recorded_oldest_first(make_store: MakeStore) -> None:
    store = make_store()
    assert store.entries() == (0, [])
    first, second = entry(), entry("/chat", status=None)
    assert store.append(first) == 1
    assert store.append(second) == 2
    total, held = store.entries()
    assert total == 2
    assert held == [{"id": 1, **first}, {"id": 2, **second}]
    assert list(held[0]) == ["id", *first], "the id first, then the fields in their order"


def test_path_and_limit(make_store: MakeStore) -> None:
    store = make_store()
    for index in range(6):
        store.append(entry("/api/text" if index % 2 else "/other", n=index))
    assert [item["n"] for item in store.entries(path="/api/text")[1]] == [1, 3, 5]
    assert store.entries(path="/api/text")[0] == 3
    assert store.entries(path="/nowhere") == (0, [])
    assert [item["n"] for item in store.entries(limit=2)[1]] == [4, 5]
    assert store.entries(limit=0) == (6, [])
    assert len(store.entries(limit=10)[1]) == 6
    assert [item["n"] for item in store.entries(path="/other", limit=2)[1]] == [2, 4]
    assert len(store.entries(limit=10**30)[1]) == 6


def test_the_cap_drops_the_oldest_and_the_totals_still_count_them(make_store: MakeStore
                                                                    ) -> None:
    store = make_store(cap=3)
    for index in range(5):
        store.append(entry("/a" if index < 2 else "/b", n=index))
    total, held = store.entries()
    assert total == 5
    assert [item["id"] for item in held] == [3, 4, 5]
    assert store.entries(path="/a") == (2, [])
    assert store.entries(path="/b")[0] == 3


def test_clear_counts_and_ids_go_on(make_store: MakeStore) -> None:
    store = make_store(cap=2)
    for _ in range(3):
        store.append(entry())
    assert store.clear() == 3
    assert store.entries() == (0, [])
    assert store.entries(path="/api/text") == (0, [])
    assert store.append(entry()) == 4
    assert store.clear() == 1


def test_replies_are_used_in_order_each_times_times(make_store: MakeStore) -> None:
    store = make_store()
    assert take(store) is None
    assert store.push_replies([reply(message="a", times=2), reply(fault="disconnect")]) \
        == ["r1", "r2"]
    assert [item["times"] for item in store.replies()] == [2, 1]
    first = take(store)
    assert first is not None and (first["id"], first["message"]) == ("r1", "a")
    assert store.replies()[0] == {"id": "r1", **reply(message="a"), "times": 1}
    assert next(iter(store.replies()[0])) == "id"
    second = take(store)
    assert second is not None and (second["id"], second["message"]) == ("r1", "a")
    last = take(store)
    assert last is not None and (last["id"], last["fault"]) == ("r2", "disconnect")
    assert take(store) is None
    assert store.replies() == []


def test_the_queue_takes_all_or_none(make_store: MakeStore) -> None:
    store = make_store(queue_cap=3)
    store.push_replies([reply(), reply()])
    with pytest.raises(QueueFullError, match="at most 3"):
        store.push_replies([reply(), reply()])
    assert len(store.replies()) == 2
    assert store.clear_replies() == 2
    assert store.clear_replies() == 0


def test_threads_record_and_take_replies_exactly(make_store: MakeStore) -> None:
    store = make_store(cap=10_000)
    store.push_replies([reply(message="x", times=150)])
    ids: list[int] = []
    used: list[dict[str, Any] | None] = []

    def work() -> None:
        for _ in range(40):
            used.append(take(store))
            ids.append(store.append(entry()))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(ids) == list(range(1, 321))
    assert store.entries()[0] == 320
    assert sum(item is not None for item in used) == 150
    assert store.replies() == []


def test_a_bad_cap_is_refused(make_store: MakeStore) -> None:
    with pytest.raises(ValueError, match="1 or more"):
        make_store(cap=0)


# --- the SQLite store only ----------------------------------------------------------------------


def test_two_stores_on_one_file_share_the_journal_and_the_queue(tmp_path: Path) -> None:
    one, other = SQLiteStore(tmp_path / "s.sqlite3"), SQLiteStore(tmp_path / "s.sqlite3")
    one.append(entry())
    other.append(entry())
    one.push_replies([reply(message="shared", times=2)])
    assert take(other) is not None
    assert take(one) is not None
    assert take(other) is None
    assert one.entries()[0] == other.entries()[0] == 2
    one.close()
    other.close()


def test_a_store_that_found_the_queue_empty_sees_a_later_push(tmp_path: Path) -> None:
    one, other = SQLiteStore(tmp_path / "s.sqlite3"), SQLiteStore(tmp_path / "s.sqlite3")
    for _ in range(3):
        assert take(other) is None
        one.push_replies([reply(message="now")])
        assert take(other) is not None
    one.close()
    other.close()


def test_the_file_keeps_the_state_across_openings(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3")
    store.append(entry(n=1))
    store.push_replies([reply(message="later")])
    store.close()
    again = SQLiteStore(tmp_path / "s.sqlite3")
    assert [item["n"] for item in again.entries()[1]] == [1]
    assert again.append(entry()) == 2
    assert again.replies()[0]["message"] == "later"
    again.close()


def test_the_file_is_in_wal_mode(tmp_path: Path) -> None:
    import sqlite3
    SQLiteStore(tmp_path / "s.sqlite3").close()
    with sqlite3.connect(tmp_path / "s.sqlite3") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    connection.close()


def test_a_store_setting_names_a_store(tmp_path: Path) -> None:
    assert isinstance(open_store("memory"), MemoryStore)
    store = open_store(f"sqlite:{tmp_path / 's.sqlite3'}", cap=5)
    assert isinstance(store, SQLiteStore) and store.cap == 5
    store.close()
    for bad in ("sqlite", "sqlite:", "redis:x", ""):
        with pytest.raises(ValueError, match="'memory' or 'sqlite:PATH'"):
            open_store(bad)
    with pytest.raises(ValueError, match="cannot open the SQLite store"):
        open_store(f"sqlite:{tmp_path / 'missing' / 's.sqlite3'}")


def test_an_app_on_the_sqlite_store(tmp_path: Path) -> None:
    app = create_app({"MOCK_STORE": f"sqlite:{tmp_path / 's.sqlite3'}", "MOCK_JOURNAL_CAP": 2})
    client = app.test_client()
    client.post("/__mock__/replies", json={"message": "scripted"})
    body = {"message": "user: Hi\nassistant:"}
    assert client.post("/api/text", json=body).get_json()["message"] == "scripted"
    assert client.post("/api/text", json=body).get_json()["message"] == "You said: Hi"
    client.get("/chat")
    journal = client.get("/__mock__/requests").get_json()
    assert journal["total"] == 3
    assert [item["path"] for item in journal["requests"]] == ["/api/text", "/chat"]
    assert journal["requests"][0]["reply"] == {"response": True, "message": "You said: Hi"}
    store = engine_of(app).store
    assert isinstance(store, SQLiteStore)
    store.close()


def test_many_entries_over_a_small_cap(make_store: MakeStore) -> None:
    """Past the SQLite store's batch deletes too: the totals still count every entry."""
    store = make_store(cap=10)
    for index in range(700):
        store.append(entry("/a" if index % 3 else "/b", n=index))
    total, held = store.entries()
    assert total == 700
    assert [item["n"] for item in held] == list(range(690, 700))
    assert store.entries(path="/b")[0] == 234
    assert store.entries(path="/a")[0] == 466
    assert [item["n"] for item in store.entries(path="/b")[1]] == [690, 693, 696, 699]
    assert store.clear() == 700
    assert store.entries(path="/a") == (0, [])


def test_the_engine_closes_the_store_create_app_opened_and_no_other(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    closed: list[str] = []
    opened = engine_of(create_app({"MOCK_STORE": f"sqlite:{tmp_path / 'store.sqlite3'}"}))
    monkeypatch.setattr(opened.store, "close", lambda: closed.append("opened"))
    given = MemoryStore()
    monkeypatch.setattr(given, "close", lambda: closed.append("given"))
    lent = engine_of(create_app({"MOCK_STORE": given}))
    opened.close()
    lent.close()
    assert closed == ["opened"], "a store handed in stays its owner's to close"


def test_a_store_calls_back_before_any_other_append(make_store: MakeStore) -> None:
    """append_then: the journal writes its file in the callback, so the callback of one entry
    runs before the next entry gets its id, from any thread."""
    store = make_store()
    order: list[tuple[str, int]] = []

    def then(entry_id: int) -> None:
        order.append(("called", entry_id))

    def record() -> None:
        for _ in range(50):
            entry_id = store.append_then({"path": "/x"}, then)
            order.append(("returned", entry_id))

    threads = [threading.Thread(target=record) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    called = [entry_id for kind, entry_id in order if kind == "called"]
    assert called == list(range(1, 201)), "callbacks in id order, one per entry"
