"""The journal records a raw record and derives the entry when it is read: the entries must be,
field for field and in the same order, what recording each entry at once wrote before
(``eager_entry`` below is that code, kept as the reference), in the memory store and in the
SQLite store (where the raw record makes a round trip through JSON), for any request the
engine answers: good and bad bodies, cut and long bodies, every fault, delays, statuses, odd
headers, namespaces."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aichat import Aichat
from mock_server.core import contract, faults
from mock_server.core.engine import Engine
from mock_server.core.journal import Journal, kept_headers
from mock_server.core.raw_record import (
    CHECKED_DEPTH,
    MAX_JSON_DEPTH,
    RawRecord,
    Recorded,
    cut,
    header_diff,
    iso_time,
    nesting,
    realized,
)
from mock_server.core.sqlite_store import SQLiteStore
from mock_server.core.store import MemoryStore
from mock_server.core.wire import Answer, IncomingRequest, json_bytes


def eager_entry(journal: Journal, request: IncomingRequest, answer: Answer, *, parsed: Any,
                violations: list[str], reply_id: str | None, time: str) -> dict[str, Any]:
    """The entry as ``Journal.record`` built it at once before raw records (without ``id``),
    with the headers the journal keeps (secrets redacted, cut at the cap)."""
    headers, headers_truncated = kept_headers(request.headers,
                                              keep_secrets=journal.keep_secrets)
    diff = header_diff(headers) if request.path == contract.API_PATH else {}
    body, body_truncated = cut(request.body.decode("utf-8", errors="replace"),
                               journal.body_cap)
    body_truncated = body_truncated or request.size > len(request.body)
    delay_ms = answer.delay * 1000
    entry: dict[str, Any] = {
        "time": time,
        "namespace": request.namespace,
        "method": request.method,
        "path": request.path,
        "query": request.query,
        "headers": dict(headers),
        "headers_truncated": headers_truncated,
        "json": None if body_truncated else parsed,
        "body": body,
        "body_size": request.size,
        "body_truncated": body_truncated,
        "remote_addr": request.remote_addr,
        "host": request.host,
        "scheme": request.scheme,
        "via": request.via,
        "status": None if answer.disconnect else answer.status,
        "reply": eager_reply(journal.body_cap, answer),
        "violations": violations,
        "header_diff": diff,
        "fault": answer.fault,
        "delay_ms": int(delay_ms) if delay_ms == int(delay_ms) else delay_ms,
        "scripted": reply_id is not None,
        "reply_id": reply_id,
    }
    depth = nesting(entry["json"])
    if depth > MAX_JSON_DEPTH:
        entry["json"] = None
    elif depth > CHECKED_DEPTH:
        try:
            json_bytes(entry)
        except (ValueError, RecursionError):
            entry["json"] = None
    return entry


def eager_reply(body_cap: int, answer: Answer) -> Any:
    if answer.disconnect:
        return None
    text = answer.body.decode("utf-8", errors="replace")
    if len(text) <= body_cap and "json" in (answer.header("Content-Type") or ""):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return cut(text, body_cap)[0]


class Witness(Journal):
    """The engine's journal, also writing down what the eager code would have recorded."""

    expected: list[dict[str, Any]]
    unmade = 0  # records kept to be made when read (the usual request's, in memory)

    def record(self, request: IncomingRequest, answer: Answer, parsed: Any,
               violations: Sequence[str], reply_id: str | None) -> tuple[int, Recorded]:
        entry_id, raw = super().record(request, answer, parsed, list(violations), reply_id)
        self.expected.append(eager_entry(self, request, answer, parsed=parsed,
                                         violations=list(violations), reply_id=reply_id,
                                         time=iso_time(realized(raw).stamp)))
        if type(raw) is not RawRecord:
            # Kept unmade only when making it changes nothing: no value cut or redacted, so
            # that it holds no more than a made record and no credential.
            self.unmade += 1
            made = realized(raw)
            assert made.headers is request.headers and not made.headers_truncated
            assert made.body is request.body
            assert made.answer is None or made.answer is answer.body
        return entry_id, raw


HEADERS = {name.lower(): value for name, value in Aichat.HEADERS.items()}
SEED = {"message": "user: Hello\nassistant:", "temperature": 1, "presence_penalty": 0,
        "top_p": 1, "frequency_penalty": 0}

texts = st.text(max_size=40)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False,
                                                                        allow_infinity=False)
    | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12)
bodies = st.one_of(
    st.just(json.dumps(SEED).encode()),
    st.builds(lambda message, extra: json.dumps({**SEED, "message": message, **extra},
                                                ensure_ascii=False).encode("utf-8",
                                                                           "surrogatepass"),
              texts, st.dictionaries(st.sampled_from(["temperature", "top_p", "x"]),
                                     json_values, max_size=2)),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=80),
    st.integers(1, 400).map(lambda depth: b"[" * depth + b"]" * depth),
    st.just(b'{"message": "' + b"y" * 300 + b'"}'),
)
paths = st.sampled_from([contract.API_PATH, "/chat", "/nowhere", "//api/text", "/ns/x/y"])
header_sets = st.builds(
    lambda keep, extra: {**{name: value for name, value in HEADERS.items()
                            if name in keep}, **extra},
    st.sets(st.sampled_from(sorted(HEADERS))),
    st.dictionaries(st.sampled_from(["x-one", "accept", "cookie"]),
                    texts | st.just("v" * 17_000), max_size=2))


def head_size(method: str, path: str, query: str, headers: dict[str, str]) -> int:
    """The bytes of a request line and headers as a carrier receives them."""
    line = f"{method} {path}{'?' if query else ''}{query} HTTP/1.1\r\n"
    fields = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return len((line + fields + "\r\n").encode("utf-8", "surrogatepass"))


# A carrier that gives the head's size (the mock's own server) or not (WSGI).
requests_ = st.builds(
    lambda method, path, namespace, query, headers, body, more, complete, remote, sized: (
        IncomingRequest(method, path, query, headers, body, remote,
                        len(body) + more, complete or more == 0, namespace,
                        head_size=head_size(method, path, query, headers) if sized else None)),
    st.sampled_from(["POST", "POST", "GET", "HEAD", "post", "PUT"]), paths,
    st.sampled_from(["", "alice"]), st.sampled_from(["", "a=1&b=%20"]), header_sets, bodies,
    st.sampled_from([0, 0, 0, 5, 2 << 20]), st.booleans(),
    st.sampled_from(["127.0.0.1", None]), st.booleans())
replies = st.fixed_dictionaries({}, optional={
    "fault": st.sampled_from(list(faults.FAULTS)),
    "message": st.none() | texts | st.just("z" * 200),
    "delay_ms": st.sampled_from([0, 12.5, 40]),
    "retry_after": st.none() | st.just(3),
    "response": st.none() | st.booleans(),
    "times": st.just(None),
}).filter(lambda reply: not (reply.get("fault") == "disconnect" and "status" in reply))


def run(engine: Engine, witness: Witness, script: list[dict[str, Any]],
        sent: list[IncomingRequest], namespace: str) -> None:
    if script:
        engine.queue_replies(script, namespace=namespace)
    for request in sent:
        engine.handle(request)
    flush = getattr(engine.store, "flush", None)
    if flush is not None:
        flush()


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(sent=st.lists(requests_, min_size=1, max_size=6), script=st.lists(replies, max_size=3),
       body_cap=st.sampled_from([16, 65_536]), batch=st.booleans(),
       keep_secrets=st.booleans())
def test_derived_entries_equal_the_eager_ones(tmp_path: Path, kind: str,
                                              sent: list[IncomingRequest],
                                              script: list[dict[str, Any]], body_cap: int,
                                              batch: bool, keep_secrets: bool) -> None:
    if kind == "memory":
        store: Any = MemoryStore()
    else:
        store = SQLiteStore(tmp_path / f"store-{len(list(tmp_path.iterdir()))}.sqlite3")
        store.batch = batch
    engine = Engine(store=store, body_cap=body_cap, chat_page=b"<html>chat</html>",
                    owns_store=True, keep_secrets=keep_secrets)
    witness = Witness(store, body_cap=body_cap, keep_secrets=keep_secrets)
    witness.expected = []
    engine.journal = witness
    try:
        for namespace in ("", "alice"):
            run(engine, witness, script, [request for request in sent
                                          if request.namespace == namespace], namespace)
        derived = engine.requests(namespace=None)["requests"]
        expected = witness.expected
        assert len(derived) == len(expected) == len(sent)
        for entry, eager in zip(derived, expected, strict=True):
            assert list(entry) == ["id", *eager]
            assert {key: entry[key] for key in eager} == eager  # type: ignore[literal-required]
            assert json_bytes({key: entry[key] for key in eager}) == json_bytes(eager)  # type: ignore[literal-required]
    finally:
        engine.close()


@pytest.mark.parametrize("batch", [False, True])
def test_records_orjson_refuses_are_written_by_the_standard_encoder(tmp_path: Path,
                                                                    batch: bool) -> None:
    """A store in a file writes its records with orjson, and what orjson refuses with the
    standard encoder (``raw_record.raw_json``): a lone surrogate, an integer past 64 bits,
    nesting past orjson's 254 levels but within what an entry shows. Every entry is still
    what the eager code wrote; so are those of requests that share one header dictionary,
    as the own server's requests of one head do."""
    shared = dict(HEADERS)
    bodies = [json.dumps(SEED).encode(), b'{"message": "\\ud800 alone"}',
              b'{"message": "big", "n": 123456789012345678901234567890}',
              b"[" * 255 + b"]" * 255, b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1)]
    sent = [IncomingRequest("POST", contract.API_PATH, "", headers, body, "127.0.0.1",
                            len(body), True, "")
            for body in bodies for headers in (shared, shared, dict(shared))]
    store = SQLiteStore(tmp_path / "store.sqlite3")
    store.batch = batch
    engine = Engine(store=store, body_cap=65_536, chat_page=b"<html>chat</html>",
                    owns_store=True)
    witness = Witness(store, body_cap=65_536, keep_secrets=False)
    witness.expected = []
    engine.journal = witness
    try:
        run(engine, witness, [], sent, "")
        derived = engine.requests(namespace=None, limit=None)["requests"]
        assert len(derived) == len(witness.expected) == len(sent)
        for entry, eager in zip(derived, witness.expected, strict=True):
            assert {key: entry[key] for key in eager} == eager  # type: ignore[literal-required]
        # What each kind of body shows: the surrogate, the integer, the 255 levels, and
        # nothing of a body nested past what entries show.
        shown = [entry["json"] for entry in derived[::3]]
        assert shown[1] == {"message": "\ud800 alone"}
        assert shown[2]["n"] == 123456789012345678901234567890
        assert nesting(shown[3]) == 255 and shown[4] is None
    finally:
        engine.close()


def test_the_usual_request_is_kept_unmade_and_the_rest_made_at_once() -> None:
    """In memory with no file, a request with nothing to cut or redact is kept as it came
    and made when read; a body over the cap, a head over the cap or a credential (unless
    kept) is made at once. Either way its entry is the eager one."""
    store = MemoryStore()
    engine = Engine(store=store, body_cap=200, owns_store=True)
    witness = Witness(store, body_cap=200, keep_secrets=False)
    witness.expected = []
    engine.journal = witness
    seed = json.dumps(SEED).encode()

    def sent(headers: dict[str, str], body: bytes) -> IncomingRequest:
        return IncomingRequest("POST", contract.API_PATH, "", headers, body, "127.0.0.1",
                               len(body), head_size=head_size("POST", contract.API_PATH, "",
                                                              headers))
    usual = [sent(HEADERS, seed), sent({**HEADERS, "x-one": "é" * 40}, seed)]
    made_at_once = [sent(HEADERS, seed + b" " * 200), sent({**HEADERS, "cookie": "a=b"}, seed),
                    sent({**HEADERS, "x-one": "v" * 17_000}, seed)]
    for request in usual + made_at_once:
        engine.handle(request)
    assert witness.unmade == len(usual)
    # Filed under its namespace and path as a made record is: found by both, counted by both.
    sent_all = len(usual) + len(made_at_once)
    for page in (engine.requests(path=contract.API_PATH), engine.requests()):
        assert page["total"] == len(page["requests"]) == sent_all
    assert engine.requests(path="/chat")["total"] == 0
    derived = engine.requests()["requests"]
    assert [{key: entry[key] for key in eager}  # type: ignore[literal-required]
            for entry, eager in zip(derived, witness.expected, strict=True)] == witness.expected
