"""The ``Store`` contract, for the in-memory store and the SQLite one alike, and what only the
SQLite store promises: several connections (processes) on one file share one state."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mock_server import create_app, engine_of
from mock_server.core.errors import QueueFullError
from mock_server.core.matching import Facts
from mock_server.core.raw_record import RawRecord
from mock_server.core.replies import parse_reply
from mock_server.core.sqlite_store import SQLiteStore
from mock_server.core.store import MemoryStore, Store
from mock_server.core.store_setting import open_store

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


def raw() -> RawRecord:
    """A journal record as the engine keeps it, for ``append_raw``."""
    return RawRecord(0.0, "", "POST", "/api/text", "", {"x": "ü"}, b"{}", 2, False, None, {},
                     [], 200, "application/json", b"{}", 0.0, None, None, 65_536)


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
    """docs/mock-server.md, Journal entries: the totals count the entries dropped for the cap
    of each path the journal still holds an entry of; a path none of whose entries is held
    counts nothing (its count is not kept: Limits)."""
    store = make_store(cap=3)
    for index in range(5):
        store.append(entry("/a" if index < 3 else "/b", n=index))
    total, held = store.entries()
    assert total == 5
    assert [item["id"] for item in held] == [3, 4, 5]
    assert store.entries(path="/a") == (3, held[:1])
    assert store.entries(path="/b") == (2, held[1:])
    store.append(entry("/b", n=5))
    assert store.entries() == (3, store.entries(path="/b")[1])
    assert store.entries(path="/a") == (0, [])
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


def test_ids_go_on_after_a_clear_took_the_greatest(make_store: MakeStore) -> None:
    """docs/internals.md, SQLite store: ids are never reused, not even after a clear. The
    clear of one namespace can take the journal's greatest row and leave others."""
    store = make_store()
    assert [store.append(entry(namespace=name)) for name in ("a", "b", "b")] == [1, 2, 3]
    assert store.clear(namespace="b") == 2
    assert store.append(entry(namespace="a")) == 4
    assert store.append(entry(namespace="b")) == 5
    assert [held["id"] for held in store.entries(namespace=None)[1]] == [1, 4, 5]


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


@pytest.mark.parametrize(("dropped_only", "others"), [(246, 10), (250, 6)])
def test_a_path_whose_last_entry_is_dropped_counts_afresh(make_store: MakeStore,
                                                           dropped_only: int,
                                                           others: int) -> None:
    """docs/mock-server.md, Journal entries: once the last entry of a path is dropped for the
    cap, its count goes with it; while one is held, the dropped ones still count. 256 entries
    over a cap of 10 take the SQLite store past a batch delete of one path's entries
    (``/b``'s first 246): with 246 of them, ``/b`` has none left; with 250, four."""
    store = make_store(cap=10)
    for index in range(dropped_only + others):
        store.append(entry("/b" if index < dropped_only else "/a"))
    held = 250 - 246 if dropped_only == 250 else 0
    assert store.entries(path="/b")[0] == (dropped_only if held else 0)
    store.append(entry("/b"))
    assert store.entries(path="/b")[0] == (dropped_only + 1 if held else 1)
    assert store.entries(path="/a")[0] == others


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


# --- namespaces, both stores ---------------------------------------------------------------------


def test_each_namespace_has_its_own_view_of_the_journal(make_store: MakeStore) -> None:
    store = make_store(cap=4)
    for index, namespace in enumerate(["", "a", "b", "a", "", "a"]):
        store.append(entry("/api/text" if index % 2 else "/chat", namespace=namespace, n=index))
    # The cap is the journal's: ids 1 and 2 are gone, still counted in their namespaces.
    assert [item["n"] for item in store.entries(namespace="a")[1]] == [3, 5]
    assert store.entries(namespace="a")[0] == 3
    assert store.entries(namespace="")[0] == 2
    assert [item["n"] for item in store.entries(namespace=None)[1]] == [2, 3, 4, 5]
    assert store.entries(namespace=None)[0] == 6
    assert store.entries(namespace="a", path="/api/text") == (3, store.entries(namespace="a")[1])
    assert store.entries(namespace="b", path="/api/text") == (0, [])
    assert store.entries(namespace="nobody") == (0, [])
    listed = {item["name"]: item for item in store.namespaces()[1]}
    assert listed["a"] == {"name": "a", "requests": 3, "replies": 0}
    assert listed[""]["requests"] == 2
    assert store.clear(namespace="a") == 3
    assert [item["n"] for item in store.entries(namespace=None)[1]] == [2, 4]
    assert store.entries(namespace="a") == (0, [])
    assert store.clear(namespace=None) == 3
    assert store.entries(namespace=None) == (0, [])
    assert [item["name"] for item in store.namespaces()[1]] == [""]


def test_each_namespace_has_its_own_queue_and_settings(make_store: MakeStore) -> None:
    store = make_store()
    [mine] = store.push_replies([reply(message="a's", times=None)], namespace="a")
    [theirs] = store.push_replies([reply(message="default's")])
    assert mine != theirs
    used = take(store, "a")
    assert used is not None and (used["id"], used["message"]) == (mine, "a's")
    assert take(store, "b") is None
    assert store.remove_reply(mine) is False, "not in the default namespace"
    assert store.remove_reply(theirs, namespace="a") is False
    assert store.take_reply(ANY_REQUEST, namespace="a").settings is None
    store.put_settings({"reply_mode": "fixed"}, namespace="a")
    assert store.settings(namespace="a") == {"reply_mode": "fixed"}
    assert store.take_reply(ANY_REQUEST, namespace="a").settings == {"reply_mode": "fixed"}
    assert store.settings() is None
    listed = {item["name"]: item for item in store.namespaces()[1]}
    assert listed["a"]["replies"] == 1 and listed[""]["replies"] == 1
    store.put_settings(None, namespace="a")
    assert store.settings(namespace="a") is None
    assert store.clear_replies(namespace="a") == 1
    assert [item["id"] for item in store.replies()] == [theirs]
    assert store.remove_reply(theirs) is True


def test_a_standing_reply_is_never_used_up(make_store: MakeStore) -> None:
    store = make_store()
    store.push_replies([reply(message="always", times=None)])
    for _ in range(5):
        used = take(store)
        assert used is not None and used["message"] == "always"
    assert [item["times"] for item in store.replies()] == [None]


# --- the SQLite store only: what another process changed, and older files -----------------------


def test_a_store_sees_what_another_on_the_file_changed(tmp_path: Path) -> None:
    one, other = SQLiteStore(tmp_path / "s.sqlite3"), SQLiteStore(tmp_path / "s.sqlite3")
    [standing] = one.push_replies([reply(message="standing", times=None)])
    assert take(other) is not None  # read, and kept by the other process
    one.remove_reply(standing)
    assert take(other) is None
    one.put_settings({"reply_text": "new"}, namespace="x")
    assert other.settings(namespace="x") == {"reply_text": "new"}
    one.push_replies([reply(message="finite", times=1)])
    assert take(other) is not None
    assert take(one) is None, "used up by the other"
    one.close()
    other.close()


@pytest.mark.parametrize("batch", [False, True], ids=["one by one", "in batches"])
def test_ids_go_on_after_another_process_or_a_restart_cleared(tmp_path: Path,
                                                              batch: bool) -> None:
    """A process that has written rows learns of another's clear before it writes again, and
    a store opened again after a clear goes on from the last id given."""
    path = tmp_path / "s.sqlite3"
    one, other = SQLiteStore(path), SQLiteStore(path)
    one.batch = batch

    def append(store: SQLiteStore) -> int:
        ids: list[int] = []
        store.append_raw(raw(), ids.append)
        store.flush()
        return ids[0]

    assert [append(one), append(one)] == [1, 2]
    other.clear()
    assert append(one) == 3
    assert one.clear() == 1
    one.close()
    other.close()
    again = SQLiteStore(path)
    assert append(again) == 4
    again.close()


@pytest.mark.parametrize("marker", [None, b"...", b"." * 300, b"\xff" * 8],
                         ids=["new", "3 changes of 0.2", "300 changes of 0.2", "largest count"])
def test_the_count_of_changes_is_8_bytes_and_any_earlier_marker_serves(
        tmp_path: Path, marker: bytes | None) -> None:
    """docs/internals.md, SQLite store: PATH-queue holds the count of changes to the replies
    and settings in 8 bytes, whatever the number of changes. A file of an earlier version
    (a byte a change) serves as it is, and a count at its largest goes on from 0."""
    path = tmp_path / "s.sqlite3"
    queue = tmp_path / "s.sqlite3-queue"
    if marker is not None:
        queue.write_bytes(marker)
    one, other = SQLiteStore(path), SQLiteStore(path)
    for number in range(50):
        [standing] = one.push_replies([reply(message=f"standing {number}", times=None)])
        assert take(other) is not None
        one.remove_reply(standing)
        assert take(other) is None
    assert queue.stat().st_size == max(8, len(marker or b""))
    one.close()
    other.close()


# The layout a store of the mock's version 0.1 made (user_version 0).
SCHEMA_1 = """
CREATE TABLE journal (id INTEGER PRIMARY KEY AUTOINCREMENT, path TEXT NOT NULL,
                      entry BLOB NOT NULL);
CREATE TABLE dropped (path TEXT PRIMARY KEY, total INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE settings (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO settings (name, value) VALUES ('cleared_after', 0);
CREATE TABLE replies (seq INTEGER PRIMARY KEY AUTOINCREMENT, reply BLOB NOT NULL,
                      times INTEGER NOT NULL);
"""


def test_a_store_made_by_version_1_is_brought_up_to_date(tmp_path: Path) -> None:
    import json
    import sqlite3

    path = tmp_path / "old.sqlite3"
    old_entry = {"time": "2026-01-01T00:00:00.000+00:00", "method": "POST", "path": "/api/text",
                 "status": 200, "scripted": False}
    old_reply = {"message": "kept", "status": 200, "response": True, "delay_ms": 0,
                 "fault": None, "retry_after": None, "times": 2}
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA_1)
        for _ in range(3):
            db.execute("INSERT INTO journal (path, entry) VALUES (?, ?)",
                       ("/api/text", json.dumps(old_entry)))
        db.execute("INSERT INTO dropped (path, total) VALUES ('/api/text', 5)")
        for times in (1, 2, 3):
            db.execute("INSERT INTO replies (reply, times) VALUES (?, ?)",
                       (json.dumps(old_reply), times))
        db.execute("DELETE FROM replies WHERE seq = 3")  # used up: its id is not given again
    db.close()

    store = SQLiteStore(path)
    total, held = store.entries()
    assert total == 8
    assert held[0] == {"id": 1, "time": old_entry["time"], "namespace": "", "method": "POST",
                       "path": "/api/text", "status": 200, "scripted": False, "reply_id": None}
    assert list(held[0]) == ["id", "time", "namespace", "method", "path", "status",
                             "scripted", "reply_id"]
    assert store.replies() == [{"id": "r1", **old_reply, "times": 1, "match": None},
                               {"id": "r2", **old_reply, "times": 2, "match": None}]
    used = take(store)
    assert used is not None and used["id"] == "r1"
    assert store.push_replies([reply(message="new")]) == ["r4"]
    assert store.append(entry()) == 4
    assert store.clear() == 9
    store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 3
    db.close()
    SQLiteStore(path).close()  # opening it again changes nothing


def test_a_store_made_by_a_newer_version_is_refused(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "newer.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 4")  # docs/internals.md: this layout is 3
    db.close()
    with pytest.raises(ValueError, match="made by a newer version of the mock"):
        SQLiteStore(path)


def test_the_queues_are_capped_in_bytes_as_well_as_in_count(make_store: MakeStore) -> None:
    store = make_store(queue_bytes=10_000)
    reply = parse_reply({"message": "x" * 2_000})
    ids = store.push_replies([reply] * 4)  # some 2,100 bytes each as JSON: 4 fit
    with pytest.raises(QueueFullError, match="at most 10000 bytes"):
        store.push_replies([reply])
    with pytest.raises(QueueFullError, match="at most 10000 bytes"):
        store.push_replies([reply], namespace="other")  # the cap is the store's, in all
    assert store.remove_reply(ids[0])
    assert len(store.push_replies([reply], namespace="other")) == 1, "room again"
    assert store.clear_replies() == 3
    assert len(store.push_replies([reply] * 3)) == 3, "a clear gives the room back"


# A store written by version 0.2.0 of the mock (data/make_store_0_2_0.py, run against that
# release), and what 0.2.0 listed of it: its entries, replies, settings and namespaces.
STORE_0_2_0 = Path(__file__).parent / "data" / "store-0.2.0.sqlite3"
LISTED_BY_0_2_0 = Path(__file__).parent / "data" / "store-0.2.0.json"


def test_a_store_written_by_0_2_0_opens_and_lists_what_0_2_0_listed(tmp_path: Path) -> None:
    import json
    import shutil

    path = tmp_path / "store.sqlite3"
    shutil.copyfile(STORE_0_2_0, path)
    listed = json.loads(LISTED_BY_0_2_0.read_text("utf-8"))
    engine = engine_of(create_app({"MOCK_STORE": SQLiteStore(path, cap=10)}))
    # Entries gained host, scheme and via after 0.2.0: its records have none of them, and
    # read back as a request to the mock itself (docs/mock-server.md, "Journal entries").
    since = {"host": None, "scheme": "http", "via": None}
    for namespace, page in listed["requests"].items():
        now = engine.requests(namespace=namespace, limit=None)
        assert [{name: entry[name] for name in since} for entry in now["requests"]] == (
            [since] * len(page["requests"]))
        assert {"total": now["total"], "requests": [
            {name: value for name, value in entry.items() if name not in since}
            for entry in now["requests"]]} == page, namespace
    for namespace, queued in listed["replies"].items():
        assert engine.replies(namespace=namespace) == queued, namespace
    for namespace, settings in listed["settings"].items():
        assert engine.settings(namespace=namespace) == settings, namespace
    # 0.2.0 listed every namespace in one piece; now a page of them with their count.
    page = listed["namespaces"]["namespaces"]
    assert engine.namespaces() == {"total": len(page), "namespaces": page}
    # And it goes on from there: its standing reply answers, the next id follows 0.2.0's last.
    [standing] = listed["replies"][""]["replies"]
    weather = Facts("user: How is the weather?\nassistant:", {}, {})
    assert engine.store.take_reply(weather).reply == standing
    last = max(entry["id"] for page in listed["requests"].values()
               for entry in page["requests"])
    assert engine.store.append({"namespace": "", "path": "/api/text"}) == last + 1


def test_a_store_of_0_2_0_whose_journal_was_emptied_goes_on_from_its_last_id(
        tmp_path: Path) -> None:
    """0.2.0's layout gave the journal's ids by AUTOINCREMENT, whose counter outlives the rows:
    the next id after the upgrade still follows the last one 0.2.0 gave."""
    import json
    import shutil
    import sqlite3

    path = tmp_path / "store.sqlite3"
    shutil.copyfile(STORE_0_2_0, path)
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM journal")
    db.close()
    listed = json.loads(LISTED_BY_0_2_0.read_text("utf-8"))
    last = max(entry["id"] for page in listed["requests"].values()
               for entry in page["requests"])
    store = SQLiteStore(path)
    assert store.entries(namespace=None) == (0, [])
    assert store.append(entry()) == last + 1
    store.close()
