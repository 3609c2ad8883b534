"""``Engine.repeat``: a request handed in again gets its answer again, journaled as ``handle``
journals it, exactly while nothing but its bytes and the server's reply mode decide that
answer (docs/internals.md, "Answers given again"): a body the contract accepts, no reply
queued, no namespace with settings of its own. The expected answers come from the contract's
schema (tests/support/contract_data.py) and the documented echo."""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mock_server import Engine, IncomingRequest
from mock_server.core.sqlite_store import SQLiteStore
from support.contract_data import BAD_BODIES, expected_statuses
from support.expected import HEADERS

SEED = {"message": "user: Hello\nassistant:", "temperature": 1, "presence_penalty": 0,
        "top_p": 1, "frequency_penalty": 0}
# What differs between two entries of the same request.
VARYING = ("id", "time")
# How the store stands when the request is first answered, and whether an answer in the
# server's reply mode may then be given again (docs/internals.md).
STATES = {
    "quiet": True,
    "a reply for every request": False,  # taken: a scripted answer
    "a reply for another prompt": False,  # not taken, but the store is not quiet
    "a reply used up": True,
    "settings of its own": False,  # the namespace's mode answers
    "settings given back": True,
}


def request(body: bytes, *, method: str = "POST", path: str = "/api/text",
            complete: bool = True, head_size: int | None = None,
            **headers: str) -> IncomingRequest:
    return IncomingRequest(method, path, headers={**HEADERS, **headers}, body=body,
                           remote_addr="127.0.0.1", body_complete=complete,
                           head_size=head_size)


def same(entry: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in entry.items() if name not in VARYING}


def put_in(engine: Engine, state: str) -> None:
    if state == "a reply for every request":
        engine.queue_replies({"message": "Scripted.", "times": None})
    elif state == "a reply for another prompt":
        engine.queue_replies({"message": "Scripted.", "match": {"last_turn": "no such turn"}})
    elif state == "a reply used up":
        engine.queue_replies({"message": "Scripted."})
        engine.handle(request(json.dumps(SEED).encode()))
    elif state == "settings of its own":
        engine.put_settings({"reply_text": "The namespace's."})
    elif state == "settings given back":
        engine.put_settings({"reply_mode": "fixed"})
        engine.put_settings({})


bodies = st.one_of(
    st.sampled_from([body for body, _ in BAD_BODIES]),
    st.builds(lambda message, extra: json.dumps({"message": message, **extra}).encode(),
              st.text(max_size=30),
              st.dictionaries(st.sampled_from(["temperature", "top_p", "presence_penalty",
                                               "frequency_penalty", "model"]),
                              st.one_of(st.integers(-3, 3), st.floats(-3, 3, allow_nan=False),
                                        st.text(max_size=4)),
                              max_size=3)))


@settings(max_examples=300, deadline=None)
@given(body=bodies, method=st.sampled_from(["POST", "POST", "GET", "PUT"]),
       path=st.sampled_from(["/api/text", "/api/text", "/chat", "/elsewhere"]),
       complete=st.booleans(), state=st.sampled_from(sorted(STATES)),
       cookie=st.booleans(), journal=st.booleans(),
       head_size=st.sampled_from([None, 700, 10**6]), copy=st.booleans())
def test_a_request_is_given_its_answer_again_exactly_when_nothing_else_decides_it(
        body: bytes, method: str, path: str, complete: bool, state: str, cookie: bool,
        journal: bool, head_size: int | None, copy: bool) -> None:
    """``head_size``: a head the server measured (short of the headers' cap, or over it) or
    not; ``copy``: the same request handed in as another object, as a carrier may."""
    engine = Engine(journal_enabled=journal)
    put_in(engine, state)
    first = request(body, method=method, path=path, complete=complete, head_size=head_size,
                    **({"cookie": "session=1"} if cookie else {}))
    outcome = engine.handle(first)
    sent = dataclasses.replace(first) if copy else first
    before = engine.requests()["total"]
    accepted = expected_statuses("POST", body) == {200}
    expected = (method == "POST" and path == "/api/text" and complete and accepted
                and STATES[state])
    assert engine.repeat(sent, outcome) is expected
    if not expected:
        assert engine.requests()["total"] == before  # nothing journaled
        return
    if journal:
        # The entry handle records for the same request, field for field (the newest last).
        again = engine.requests()["requests"][-1]
        assert engine.repeat(sent, outcome)
        fresh = engine.handle(sent)
        assert same(again) == same(fresh.entry) == same(outcome.entry)
        if cookie:
            assert again["headers"]["cookie"] != "session=1"  # redacted as ever
        assert engine.requests()["total"] == before + 3
    else:
        assert engine.requests()["total"] == 0
    # The server's reply mode: the echo of the prompt's last turn.
    assert outcome.answer.status == 200
    assert json.loads(outcome.answer.body)["message"].startswith("You said: ")


@pytest.mark.parametrize(("method", "body", "state", "journal", "head_size", "expected"), [
    ("POST", json.dumps(SEED).encode(), "quiet", True, 700, True),  # kept unmade
    ("POST", json.dumps(SEED).encode(), "quiet", True, None, True),  # made at once
    ("POST", json.dumps(SEED).encode(), "quiet", False, 700, True),
    ("GET", json.dumps(SEED).encode(), "quiet", True, 700, False),  # 405, a body that parses
    ("POST", b"[1, 2]", "quiet", True, 700, False),  # 400, parsed but not an object
    ("POST", json.dumps({"message": 1}).encode(), "quiet", True, 700, False),  # 400
    ("POST", json.dumps(SEED).encode(), "a reply for every request", True, 700, False),
    ("POST", json.dumps(SEED).encode(), "settings of its own", True, 700, False),
])
def test_each_kind_of_answer_is_given_again_or_not(method: str, body: bytes, state: str,
                                                   journal: bool, head_size: int | None,
                                                   expected: bool) -> None:
    """The property above, a case of each kind written out (a mutant run tries few examples)."""
    engine = Engine(journal_enabled=journal)
    put_in(engine, state)
    sent = request(body, method=method, head_size=head_size)
    outcome = engine.handle(sent)
    before = engine.requests()["total"]
    engine.store.clear_replies()
    engine.store.put_settings(None)  # quiet now: what decides is the answer's own kind
    assert engine.repeat(sent, outcome) is expected
    added = engine.requests()["requests"][before:]
    assert len(added) == (1 if expected and journal else 0)
    if added:
        assert same(added[0]) == same(outcome.entry)
        assert added[0]["json"] == json.loads(body)
        # Filed under its path, as handle files it.
        assert engine.requests(path="/api/text")["total"] == before + 1


def test_a_reply_or_settings_put_in_between_end_the_repeats_until_they_are_gone() -> None:
    engine = Engine()
    sent = request(json.dumps(SEED).encode())
    outcome = engine.handle(sent)
    assert json.loads(outcome.answer.body) == {"response": True, "message": "You said: Hello"}
    assert engine.repeat(sent, outcome)

    engine.queue_replies({"message": "Scripted."})
    assert not engine.repeat(sent, outcome)
    assert json.loads(engine.handle(sent).answer.body)["message"] == "Scripted."
    assert engine.repeat(sent, outcome)  # the reply used up: quiet again

    engine.put_settings({"reply_mode": "fixed", "reply_text": "Fixed."})
    assert not engine.repeat(sent, outcome)
    fixed = engine.handle(sent)
    assert json.loads(fixed.answer.body)["message"] == "Fixed."
    engine.put_settings({})
    # An answer read with a namespace's settings is never given again, even once they go.
    assert not engine.repeat(sent, fixed)
    assert engine.repeat(sent, outcome)
    # Each request journaled with the answer it got: handle's, then repeat's.
    assert [entry["reply"]["message"] for entry in engine.requests()["requests"]] == [
        "You said: Hello", "You said: Hello", "Scripted.", "You said: Hello", "Fixed.",
        "You said: Hello"]


def test_a_store_other_processes_change_never_gives_an_answer_again(tmp_path: Path) -> None:
    engine = Engine(store=SQLiteStore(tmp_path / "store.sqlite3"), owns_store=True)
    try:
        sent = request(json.dumps(SEED).encode())
        outcome = engine.handle(sent)
        assert outcome.answer.status == 200
        assert not engine.repeat(sent, outcome)
        assert engine.requests()["total"] == 1
    finally:
        engine.close()


# Where requests go in the journal test below: (namespace, path), answered again or not.
PLACES = [("", "/api/text"), ("team", "/api/text"), ("", "/elsewhere")]


class JournalModel:
    """The journal as docs/mock-server.md (Journal entries) defines it: the most recent
    ``cap`` entries, ids one by one; a (namespace, path)'s count counts its entries dropped for
    the cap only while one of its entries is still held, and a namespace's total is the sum of
    its paths'."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.held: list[tuple[int, str, str]] = []
        self.counts: dict[tuple[str, str], int] = {}
        self.next_id = 1

    def add(self, namespace: str, path: str) -> None:
        key = namespace, path
        self.counts[key] = self.counts.get(key, 0) + 1
        self.held.append((self.next_id, namespace, path))
        self.next_id += 1
        if len(self.held) > self.cap:
            _, *gone = self.held.pop(0)
            if all((where_ns, where_path) != tuple(gone)
                   for _, where_ns, where_path in self.held):
                del self.counts[gone[0], gone[1]]

    def total(self, namespace: str, path: str | None = None) -> int:
        return sum(count for (where_ns, where_path), count in self.counts.items()
                   if where_ns == namespace and path in (None, where_path))


@settings(max_examples=60, deadline=None)
@given(cap=st.integers(1, 12),
       steps=st.lists(st.tuples(st.sampled_from(["handle", "again", "again", "again", "read"]),
                                st.integers(0, len(PLACES) - 1)), max_size=300))
def test_requests_given_again_are_journaled_in_order_with_the_counts_of_the_cap(
        cap: int, steps: list[tuple[str, int]]) -> None:
    """Requests answered again wait for the store (up to 64) and are taken in before anything
    else is recorded or read: entries, ids and counts as if each had been recorded alone."""
    journal_as_the_model(cap, steps)


@pytest.mark.parametrize(("cap", "steps"), [
    # A run taken in over a journal of its own path, then another path's entry pushes the
    # oldest out: the path still holds entries, so its count stays.
    (3, [("handle", 0), ("again", 0), ("again", 0), ("read", 0), ("handle", 2), ("read", 0)]),
    # One take-in of two namespaces' runs, interleaved.
    (5, [("handle", 0), ("handle", 1), ("again", 0), ("again", 1), ("again", 0),
         ("read", 0)]),
    # Runs of two places in one take-in, the first of two entries.
    (6, [("handle", 0), ("handle", 1), ("again", 0), ("again", 0), ("again", 1),
         ("read", 0)]),
    # A take-in of two places while the journal holds only the first's entry.
    (1, [("handle", 1), ("handle", 0), ("again", 0), ("again", 1), ("read", 0)]),
    # A run of several, counted as several.
    (10, [("handle", 0), ("again", 0), ("again", 0), ("again", 0), ("read", 0)]),
    # Two places answered again in turn, past the inbox's first mark: all held as they come.
    (3, [("handle", 0), ("handle", 1), *[("again", 0), ("again", 1)] * 80, ("read", 0)]),
    # One place answered again while the journal also holds another's entry, past the mark.
    (5, [("handle", 2), ("handle", 0), *[("again", 0)] * 140, ("read", 0)]),
    # One place, far past the cap and the mark, read in between and at the end.
    (7, [("handle", 1), *[("again", 1)] * 300, ("read", 1), *[("again", 1)] * 9,
         ("read", 1)]),
    # One place past the first look, then another: the second look finds two places.
    (3, [("handle", 0), ("handle", 1), *[("again", 0)] * 64, *[("again", 1)] * 70,
         ("read", 0)]),
    # Another place among what comes after the first look, then the first place again.
    (3, [("handle", 0), ("handle", 1), *[("again", 0)] * 64, *[("again", 1)] * 3,
         *[("again", 0)] * 70, ("read", 0)]),
    # The same after a read took in what the first look saw.
    (3, [("handle", 0), ("handle", 1), *[("again", 0)] * 64, ("read", 0),
         *[("again", 1)] * 3, *[("again", 0)] * 70, ("read", 0)]),
    # More than the inbox holds, over a small cap, then another path.
    (4, [("handle", 0), *[("again", 0)] * 150, ("handle", 2), ("again", 0), ("read", 0)]),
])
def test_journal_cases_written_out(cap: int, steps: list[tuple[str, int]]) -> None:
    """The property above, in the cases that tell a run taken in at once from one taken in
    entry by entry (a mutant run tries few examples)."""
    journal_as_the_model(cap, steps)


def journal_as_the_model(cap: int, steps: list[tuple[str, int]]) -> None:
    """Run ``steps`` (handle a request to a place, answer it again, read the counts) on an
    engine and on ``JournalModel``; the journal must be the model's at every read and at the
    end."""
    engine = Engine(journal_cap=cap)
    model = JournalModel(cap)
    answered: dict[int, tuple[IncomingRequest, Any]] = {}
    for kind, place in steps:
        namespace, path = PLACES[place]
        if kind == "read":
            for where_ns, where_path in PLACES:
                page = engine.requests(namespace=where_ns, path=where_path)
                assert page["total"] == model.total(where_ns, where_path)
            continue
        if kind == "again" and place in answered:
            sent, outcome = answered[place]
            assert engine.repeat(sent, outcome) is (path == "/api/text")
            if path != "/api/text":
                continue  # a 404 is not given again: nothing journaled
        else:
            sent = request(json.dumps(SEED).encode(), path=path, head_size=700)
            sent = dataclasses.replace(sent, namespace=namespace)
            answered[place] = sent, engine.handle(sent)
        model.add(namespace, path)
    held = engine.requests(namespace=None)["requests"]
    assert [(entry["id"], entry.get("namespace", ""), entry["path"]) for entry in held] == \
        model.held
    for namespace in {namespace for namespace, _ in PLACES}:
        assert engine.requests(namespace=namespace)["total"] == model.total(namespace)


def test_a_reader_in_another_thread_sees_every_request_given_again_once() -> None:
    """The server answers again on its own thread while the admin API reads on others: no
    entry lost, none twice, ids in order, and what waits for the store stays bounded."""
    engine = Engine(journal_cap=500)
    sent = request(json.dumps(SEED).encode(), head_size=700)
    outcome = engine.handle(sent)
    done = threading.Event()
    seen: list[int] = []
    waiting: list[int] = []

    def read() -> None:
        while not done.is_set():
            page = engine.requests(limit=50)
            ids = [entry["id"] for entry in page["requests"]]
            assert ids == sorted(set(ids))
            seen.append(page["total"])

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(20_000):
            assert engine.repeat(sent, outcome)
            waiting.append(len(engine.store.inbox) // 2)  # type: ignore[attr-defined]
    finally:
        done.set()
        reader.join()
    page = engine.requests()
    assert page["total"] == 20_001
    assert [entry["id"] for entry in page["requests"]] == list(range(19_502, 20_002))
    assert seen == sorted(seen) and seen[-1] <= 20_001
    # docs/internals.md: fewer than the cap and as many again (at least 64) wait.
    assert max(waiting) < 500 + 500


def test_the_journal_records_again_only_a_record_kept_unmade_of_that_very_request() -> None:
    """``Journal.again`` (what ``repeat`` journals through): a first record that is none, one
    made at once, or another request's, records nothing and says so."""
    engine = Engine()
    kept = request(json.dumps(SEED).encode(), head_size=700)
    made = request(json.dumps(SEED).encode())  # no head size: its record is made at once
    first_kept, first_made = engine.handle(kept), engine.handle(made)
    other = dataclasses.replace(kept)
    for sent, first in [(kept, None), (made, first_made._raw), (other, first_kept._raw)]:
        assert engine.journal.again(sent, first) is False
    assert engine.requests()["total"] == 2
    assert engine.journal.again(kept, first_kept._raw) is True
    assert engine.requests()["total"] == 3
