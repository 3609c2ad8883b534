"""The mock's behaviour without any server: the engine answers an ``IncomingRequest`` as the
Flask app does over HTTP (the same queue, faults, validation and journal), the app factory's
configuration, the store and the reply checks."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from mock_server import Engine, IncomingRequest, MemoryStore, create_app, engine_of
from mock_server.core import faults
from mock_server.core.errors import QueueFullError, ReplyError, SettingsError, UnknownReplyError
from mock_server.core.matching import Facts
from mock_server.core.prompt import last_user_turn
from mock_server.core.replies import parse_reply
from mock_server.core.store import Store
from support.contract_data import BAD_BODIES, FAULT_ERRORS, short_id
from support.expected import HEADERS, MOCK_MAX_BODY

BODY = {"message": "user: Hello\nassistant:", "temperature": 1, "presence_penalty": 0,
        "top_p": 1, "frequency_penalty": 0}


def api_request(body: Any = BODY, **headers: str) -> IncomingRequest:
    return IncomingRequest("POST", "/api/text", headers={**HEADERS, **headers},
                           body=json.dumps(body).encode(), remote_addr="127.0.0.1")


def test_the_engine_answers_without_a_server() -> None:
    engine = Engine()
    engine.queue_replies([{"fault": "rate_limit", "retry_after": 9}])
    limited = engine.handle(api_request())
    assert (limited.answer.status, limited.answer.header("Retry-After")) == (429, "9")
    assert limited.entry["fault"] == "rate_limit"

    echoed = engine.handle(api_request())
    assert json.loads(echoed.answer.body) == {"response": True, "message": "You said: Hello"}
    assert echoed.entry["header_diff"] == {}
    assert engine.requests()["requests"] == [limited.entry, echoed.entry]


def test_the_engine_and_the_flask_app_agree() -> None:
    app = create_app()
    client = app.test_client()
    over_http = client.post("/api/text", json={"message": 3}, headers=HEADERS)
    direct = engine_of(app).handle(api_request({"message": 3}))
    assert over_http.status_code == direct.answer.status == 400
    assert over_http.get_json() == json.loads(direct.answer.body)
    first, second = engine_of(app).requests()["requests"]
    assert first["violations"] == second["violations"] == ["message: 3 is not of type 'string'"]


def test_disconnect_is_described_not_done_by_the_engine() -> None:
    engine = Engine()
    engine.queue_replies({"fault": "disconnect", "delay_ms": 5})
    outcome = engine.handle(api_request())
    assert outcome.answer.disconnect and outcome.answer.body == b""
    assert outcome.answer.delay == 0.005
    assert (outcome.entry["status"], outcome.entry["reply"]) == (None, None)


@pytest.mark.parametrize(("method", "path", "headers", "told"), [
    ("POST", "/api/text", {"content-length": "86"},
     "34 of 86 bytes announced by its Content-Length"),
    ("POST", "/api/text", {"transfer-encoding": "chunked"}, "34 bytes, before its last chunk"),
    ("post", "/api/text", {"content-length": "86"}, "34 of 86 bytes"),
    ("GET", "/chat", {"content-length": "86"}, "34 of 86 bytes"),
    ("PUT", "/nowhere", {"content-length": "86"}, "34 of 86 bytes"),
])
def test_a_body_the_client_stopped_sending_is_refused_whatever_it_asked(
        method: str, path: str, headers: dict[str, str], told: str) -> None:
    """A transport that saw the body end before its announced end says so; the engine then
    answers 400 even when what arrived is valid JSON, and uses up no scripted reply."""
    engine = Engine()
    engine.queue_replies({"message": "kept for a whole request"})
    sent = b'{"message": "user: hi\nassistant:"}'
    assert len(sent) == 34
    outcome = engine.handle(IncomingRequest(method, path, headers=headers, body=sent,
                                            body_complete=False))
    assert outcome.answer.status == 400
    reply = json.loads(outcome.answer.body)
    assert reply["response"] is False
    assert reply["message"].startswith(f"invalid request: the body ended after {told}")
    entry = outcome.entry
    assert (entry["status"], entry["method"], entry["path"]) == (400, method, path)
    assert entry["violations"] == [reply["message"].removeprefix("invalid request: ")]
    assert (entry["body"], entry["body_size"], entry["json"]) == (sent.decode(), 34, None)
    assert engine.requests()["total"] == 1
    assert engine.replies()["replies"][0]["message"] == "kept for a whole request"


def test_apps_share_nothing_unless_given_one_store() -> None:
    one, two = create_app().test_client(), create_app().test_client()
    one.post("/api/text", json=BODY)
    assert two.get("/__mock__/requests").get_json()["total"] == 0

    store = MemoryStore()
    first = create_app({"MOCK_STORE": store}).test_client()
    second = create_app({"MOCK_STORE": store}).test_client()
    first.post("/__mock__/replies", json={"message": "queued on the first"})
    assert second.post("/api/text", json=BODY).get_json()["message"] == "queued on the first"
    assert first.get("/__mock__/requests").get_json()["total"] == 1
    assert isinstance(store, Store)


@pytest.mark.parametrize(("config", "message"), [
    ({"MOCK_REPLY_MODE": "loud"}, "reply mode must be one of echo, fixed"),
    ({"MOCK_REPLY_TEXT": 5}, "reply text must be a string"),
    ({"MOCK_JOURNAL_CAP": 0}, "journal cap must be a whole number of 1 or more"),
    # The store named by text is opened with the cap first: a TypeError escaped from there.
    ({"MOCK_STORE": "memory", "MOCK_JOURNAL_CAP": "5"}, "journal cap must be a whole number"),
    ({"MOCK_STORE": "memory", "MOCK_JOURNAL_CAP": 2.5}, "journal cap must be a whole number"),
    ({"MOCK_JOURNAL_BODY_CAP": -1}, "body cap must be a whole number of 0 or more"),
    ({"MOCK_STORE": object()}, "MOCK_STORE must implement mock_server.Store"),
    ({"MOCK_REPLYMODE": "echo"}, "unknown mock setting(s) MOCK_REPLYMODE"),
])
def test_bad_configuration_is_refused(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        create_app(config)


def test_fixed_mode_and_flask_settings_pass_through() -> None:
    app = create_app({"MOCK_REPLY_MODE": "fixed", "MOCK_REPLY_TEXT": "Fixed.", "TESTING": True})
    assert app.testing
    answer = app.test_client().post("/api/text", json=BODY).get_json()
    assert answer == {"response": True, "message": "Fixed."}


def test_the_journal_file_from_the_app_factory(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    app = create_app({"MOCK_JOURNAL_FILE": str(path)})
    client = app.test_client()
    client.post("/api/text", json=BODY)
    client.get("/__mock__/health")
    client.get("/nothing")
    lines = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    assert [(line["id"], line["path"]) for line in lines] == [(1, "/api/text"), (2, "/nothing")]
    engine_of(app).close()


# A valid request, as a match sees it: every reply without a match holds for it.
ANY_REQUEST = Facts("user: Hello\nassistant:", {"message": "user: Hello\nassistant:"}, {})


def test_the_store_honours_times_and_its_caps() -> None:
    store = MemoryStore(cap=2, queue_cap=3)
    reply = parse_reply({"message": "x", "times": 2})
    assert store.push_replies([reply]) == ["r1"]
    used = [store.take_reply(ANY_REQUEST).reply for _ in range(3)]
    assert [(item["id"], item["message"]) if item else None for item in used] == [
        ("r1", "x"), ("r1", "x"), None]
    with pytest.raises(QueueFullError):
        store.push_replies([reply] * 4)
    assert store.replies() == [], "all or nothing"
    for number in range(3):
        store.append({"path": "/p", "n": number})
    total, entries = store.entries()
    assert (total, [entry["n"] for entry in entries]) == (3, [1, 2])
    assert store.entries(path="/p", limit=1)[1][0]["n"] == 2
    assert store.clear() == 3


def test_a_full_queue_is_a_clear_400() -> None:
    client = create_app({"MOCK_STORE": MemoryStore(queue_cap=2)}).test_client()
    response = client.post("/__mock__/replies", json=[{}, {}, {}])
    assert response.status_code == 400
    assert "the reply queue holds at most 2 replies" in response.get_json()["error"]


def test_the_store_is_safe_across_threads() -> None:
    store = MemoryStore(cap=10_000)
    store.push_replies([parse_reply({"message": "m", "times": 800})])
    popped: list[Any] = []

    def work() -> None:
        for _ in range(200):
            store.append({"path": "/api/text"})
            popped.append(store.take_reply(ANY_REQUEST).reply)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total, entries = store.entries()
    assert total == len(entries) == 800
    assert sorted(entry["id"] for entry in entries) == list(range(1, 801))
    assert None not in popped and store.take_reply(ANY_REQUEST).reply is None


@pytest.mark.parametrize(("prompt", "turn"), [
    ("user: Hello\nassistant:", "Hello"),
    ("user: a\nassistant: b\nuser: c\nassistant:", "c"),
    ("user: multi\nline\nsystem: s\nassistant:", "multi\nline"),
    ("user: tail\nassistant: answer\nassistant:", "tail"),
    ("user: \nassistant:", ""),
    ("assistant:", ""),
    ("user:no space\nassistant:", ""),
])
def test_the_last_user_turn(prompt: str, turn: str) -> None:
    assert last_user_turn(prompt) == turn


def test_every_fault_renders() -> None:
    assert set(faults.FAULTS) == set(FAULT_ERRORS)
    for name, (_, status) in FAULT_ERRORS.items():
        answer = faults.render(name)
        # docs/mock-server.md's status for the fault (docs/provider.md's error table in
        # loopback.FAULT_ERRORS); the disconnect fault answers nothing at all.
        assert answer.disconnect is (name == "disconnect")
        assert answer.status == (0 if status is None else status), name
        assert faults.FAULTS[name].summary


def test_reply_errors_name_the_field() -> None:
    with pytest.raises(ReplyError, match=r"replies\[2\]\.times"):
        Engine().queue_replies([{}, {}, {"times": -1}])


def test_a_bug_of_the_mock_still_answers_json(monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(engine_of(app), "handle", broken)
    app.logger.disabled = True  # the traceback is expected here
    response = app.test_client().post("/api/text", json=BODY)
    assert response.status_code == 500
    assert response.get_json()["response"] is False
    assert response.get_json()["message"].startswith("mock server error: ")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_journal_file_that_cannot_be_written_does_not_stop_the_mock(
        capsys: pytest.CaptureFixture[str]) -> None:
    app = create_app({"MOCK_JOURNAL_FILE": "/dev/full"})
    client = app.test_client()
    for _ in range(2):
        assert client.post("/api/text", json=BODY).status_code == 200
    assert client.get("/__mock__/requests").get_json()["total"] == 2
    assert capsys.readouterr().err.count("cannot write the journal file /dev/full") == 1
    engine_of(app).close()


# --- the admin API of each namespace, in this process (docs/mock-server.md,
# contract/admin.openapi.json): the same calls the HTTP routes make, where make mutants-mock can
# reach them.


def test_each_namespace_has_its_own_journal_queue_and_settings() -> None:
    engine = Engine(reply_text="Fixed by the server.")
    default, alice = engine.admin(), engine.admin("alice")
    assert (default.namespace, alice.namespace) == ("", "alice")
    assert default.within("alice").namespace == "alice"
    with pytest.raises(ValueError, match="namespaces do not nest"):
        alice.within("bob")

    queued = alice.queue_replies([{"message": "one"}, {"message": "standing", "times": None}])
    assert queued["queued"] == 2 and len(set(queued["ids"])) == 2
    assert [reply["id"] for reply in alice.replies()["replies"]] == queued["ids"]
    assert default.replies() == {"replies": []}

    # Settings of its own ({} gives the server's back), the other namespace's untouched.
    fixed = {"reply_mode": "fixed", "reply_text": "Hi from alice."}
    assert alice.put_settings(fixed) == fixed == alice.settings()
    assert default.settings() == {"reply_mode": "echo", "reply_text": "Fixed by the server."}

    def ask(namespace: str) -> str:
        request = IncomingRequest("POST", "/api/text", headers=dict(HEADERS),
                                  body=json.dumps(BODY).encode(), namespace=namespace)
        return str(json.loads(engine.handle(request).answer.body)["message"])

    assert [ask("alice") for _ in range(3)] == ["one", "standing", "standing"]
    assert ask("") == "You said: Hello"
    alice.remove_reply(queued["ids"][1])
    assert ask("alice") == "Hi from alice."  # the namespace's own reply mode
    assert alice.put_settings({}) == {"reply_mode": "echo", "reply_text": "Fixed by the server."}
    assert ask("alice") == "You said: Hello"

    entries = alice.requests()["requests"]
    assert [entry["namespace"] for entry in entries] == ["alice"] * 5
    assert [entry["reply_id"] for entry in entries] == [
        queued["ids"][0], queued["ids"][1], queued["ids"][1], None, None]
    assert [entry["namespace"] for entry in default.requests()["requests"]] == [""]
    assert {item["name"]: (item["requests"], item["replies"])
            for item in engine.namespaces()["namespaces"]} == {"": (1, 0), "alice": (5, 0)}

    # Verification finds in one namespace only, oldest first, also by path and status.
    found = alice.find({"last_turn": "Hello", "status": 200})
    assert found["total"] == 5 and found["requests"] == entries
    assert alice.find({"path": "/chat"}) == {"total": 0, "requests": []}
    assert default.find({"last_turn": "Hello"})["total"] == 1

    alice.queue_replies({"message": "left over"})
    assert alice.clear_replies() == {"cleared": 1} and alice.replies() == {"replies": []}
    assert alice.clear_requests() == {"cleared": 5}
    assert alice.requests() == {"total": 0, "requests": []}
    assert default.requests()["total"] == 1
    default.queue_replies([{"message": "a"}, {"message": "b"}])
    alice.queue_replies({"message": "stays"})
    ask("alice")
    alice.queue_replies({"message": "stays"})
    assert default.reset() == {"cleared_requests": 1, "cleared_replies": 2}
    assert (alice.requests()["total"], len(alice.replies()["replies"])) == (1, 1)


def test_removing_a_reply_that_is_not_queued_is_refused() -> None:
    engine = Engine()
    alice = engine.admin("alice")
    [reply_id] = alice.queue_replies({"message": "mine"})["ids"]
    with pytest.raises(UnknownReplyError, match=repr(reply_id)):
        engine.admin().remove_reply(reply_id)  # another namespace's
    assert alice.remove_reply(reply_id) == {"removed": reply_id}
    with pytest.raises(UnknownReplyError):
        alice.remove_reply(reply_id)  # used once already


@pytest.mark.parametrize(("path", "journaled"), [
    ("/api/text", True), ("/chat", True), ("/__mock__x", True),
    ("/__mock__", False), ("/__mock__/requests", False),
])
def test_a_request_refused_before_it_is_read_is_journaled_unless_admin(
        path: str, journaled: bool) -> None:
    """docs/mock-server.md: a Host the mock does not serve gets 421 {"response": false, "message":
    ...} and is journaled; docs/mock-server.md: admin traffic is not journaled."""
    engine = Engine()
    request = IncomingRequest("POST", path, headers={"host": "evil.example"}, body=b"{}")
    answer = engine.refuse(request, 421, "host evil.example is not served here")
    assert answer.status == 421
    assert json.loads(answer.body) == {"response": False,
                                       "message": "host evil.example is not served here"}
    entries = engine.requests(namespace=None)["requests"]
    assert [(entry["path"], entry["status"]) for entry in entries] == (
        [(path, 421)] if journaled else [])


def test_the_chat_page_answers_get_and_head_only() -> None:
    page = b"<!doctype html><title>chat</title>"
    engine = Engine(chat_page=page)
    for method in ("GET", "HEAD"):  # (the carrier leaves a HEAD's body out)
        answer = engine.handle(IncomingRequest(method, "/chat")).answer
        assert answer.status == 200
        assert (answer.header("content-type") or "").startswith("text/html")
    assert engine.handle(IncomingRequest("GET", "/chat")).answer.body == page
    refused = engine.handle(IncomingRequest("POST", "/chat", body=b"{}")).answer
    # RFC 9110 15.5.6: a 405 lists the methods the resource has in Allow.
    assert refused.status == 405
    allowed = (refused.header("allow") or "").split(",")
    assert [method.strip() for method in allowed] == ["GET", "HEAD"]
    assert json.loads(refused.body)["response"] is False
    assert json.loads(refused.body)["message"].startswith("invalid request: ")
    without = Engine().handle(IncomingRequest("GET", "/chat")).answer
    assert without.status == 404 and json.loads(without.body)["response"] is False
    assert [entry["status"] for entry in engine.requests()["requests"]] == [200, 200, 200, 405]


SERVER_SETTINGS = {"reply_mode": "echo", "reply_text": "The server's."}


@pytest.mark.parametrize(("payload", "named"), [
    ([], "settings"), ("fixed", "settings"),
    ({"reply_mode": "loud"}, "reply_mode"), ({"reply_mode": None}, "reply_mode"),
    ({"reply_text": 5}, "reply_text"), ({"reply_text": None}, "reply_text"),
    ({"mode": "fixed"}, "mode"), ({"reply_mode": "fixed", "extra": 1}, "extra"),
])
def test_settings_outside_the_contract_are_refused_and_named(payload: Any, named: str) -> None:
    """contract/admin.openapi.json, SettingsUpdate: reply_mode echo or fixed, reply_text a
    string, no other field; a bad one is a 400 that names it, and changes nothing."""
    engine = Engine(reply_text=SERVER_SETTINGS["reply_text"])
    with pytest.raises(SettingsError, match=named):
        engine.admin("x").put_settings(payload)
    assert engine.admin("x").settings() == SERVER_SETTINGS


@pytest.mark.parametrize(("payload", "settings"), [
    ({}, SERVER_SETTINGS),
    ({"reply_mode": "fixed"}, {"reply_mode": "fixed", "reply_text": "The server's."}),
    ({"reply_text": "Own."}, {"reply_mode": "echo", "reply_text": "Own."}),
    ({"reply_mode": "echo", "reply_text": ""}, {"reply_mode": "echo", "reply_text": ""}),
])
def test_a_setting_left_out_is_the_servers(payload: Any, settings: dict[str, str]) -> None:
    engine = Engine(reply_text=SERVER_SETTINGS["reply_text"])
    assert engine.admin("x").put_settings(payload) == settings
    assert engine.admin().settings() == SERVER_SETTINGS
    request = IncomingRequest("POST", "/api/text", headers=dict(HEADERS),
                              body=json.dumps(BODY).encode(), namespace="x")
    answered = json.loads(engine.handle(request).answer.body)["message"]
    assert answered == ("You said: Hello" if settings["reply_mode"] == "echo"
                        else settings["reply_text"])


@pytest.mark.parametrize(("retry_after", "accepted"), [
    ("", False), ("~", True), (" ", True), ("x" * 200, True), ("x" * 201, False),
    ("Wed, 21 Oct 2015 07:28:00 GMT", True), ("\x7f", False), ("\x1f", False), ("é", False),
    (-1, False), (0, True), (10**9, True), (10**9 + 1, False), (2.0, True), (2.5, False),
    (True, False), (None, True),
])
def test_retry_after_is_whole_seconds_or_a_short_printable_string(retry_after: Any,
                                                                  accepted: bool) -> None:
    """contract/admin.openapi.json, ScriptedReply.retry_after: an integer from 0 to 10^9, a
    string of 1 to 200 printable ASCII characters (^[ -~]{1,200}$), or null."""
    if accepted:
        assert parse_reply({"retry_after": retry_after})["retry_after"] == retry_after
    else:
        with pytest.raises(ReplyError, match="retry_after"):
            parse_reply({"retry_after": retry_after})


@pytest.mark.parametrize(("data", "fragments"), [
    *BAD_BODIES,
    # A violation quoting a long value is still a 400 (docs/mock-server.md: bad input never gets a
    # 500).
    (json.dumps({"message": "x", "temperature": "9" * 1000}).encode(), ["temperature: '999"]),
], ids=short_id)
def test_bad_bodies_are_refused_in_process(data: bytes, fragments: list[str]) -> None:
    """mock/web/test_site_routes.py's refusals (docs/mock-server.md: 400 {"response": false,
    "message": "invalid request: ..."}), through the engine itself."""
    engine = Engine()
    engine.queue_replies({"message": "for a valid request only"})
    outcome = engine.handle(IncomingRequest("POST", "/api/text", headers=dict(HEADERS),
                                            body=data))
    reply = json.loads(outcome.answer.body)
    assert (outcome.answer.status, reply["response"]) == (400, False)
    assert reply["message"].startswith("invalid request: ")
    assert all(fragment in reply["message"] for fragment in fragments)
    entry = outcome.entry
    assert (entry["status"], entry["reply"], entry["reply_id"]) == (400, reply, None)
    assert entry["violations"] and all(
        fragment in "; ".join(entry["violations"]) for fragment in fragments)
    assert len(engine.replies()["replies"]) == 1, "an invalid request uses no reply"
    if data == b"{}":  # a breach of the whole body, not of one field: no field to name
        assert entry["violations"] == ["'message' is a required property"]


def test_a_reply_without_a_message_answers_what_the_reply_mode_would() -> None:
    """contract/admin.openapi.json, ScriptedReply: message null is what the reply mode would
    answer; response null leaves the key out; retry_after adds a Retry-After header, and
    without it there is none."""
    engine = Engine()
    engine.queue_replies([{"response": False, "status": 503},
                          {"response": None, "message": None},
                          {"message": "Later.", "retry_after": 7},
                          {"fault": "disconnect", "retry_after": 7}])
    first = engine.handle(api_request()).answer
    assert (first.status, json.loads(first.body)) == (
        503, {"response": False, "message": "You said: Hello"})
    assert first.header("Retry-After") is None
    second = engine.handle(api_request()).answer
    assert json.loads(second.body) == {"message": "You said: Hello"}
    assert second.header("Retry-After") is None
    third = engine.handle(api_request()).answer
    assert (json.loads(third.body)["message"], third.header("Retry-After")) == ("Later.", "7")
    dropped = engine.handle(api_request()).answer
    assert dropped.disconnect and dropped.header("Retry-After") is None  # nothing is sent


class EntriesOnlyStore:
    """A Store of one's own (the mock_server.Store protocol): no raw records, no batches."""

    def __init__(self) -> None:
        self._inner = MemoryStore()

    def __getattr__(self, name: str) -> Any:
        if name in ("append_raw", "flush", "waiting"):
            raise AttributeError(name)
        return getattr(self._inner, name)


def test_a_store_of_ones_own_is_given_whole_entries() -> None:
    engine = Engine(store=EntriesOnlyStore())  # type: ignore[arg-type]
    assert engine.handle(api_request()).answer.status == 200
    [entry] = engine.requests()["requests"]
    assert (entry["method"], entry["path"], entry["status"]) == ("POST", "/api/text", 200)
    assert entry["reply"] == {"response": True, "message": "You said: Hello"}
    assert engine.health() == {"journal": "ok"}


@pytest.mark.parametrize(("field", "value", "kept"), [
    ("delay_ms", 0, 0), ("delay_ms", 60_000, 60_000), ("delay_ms", 2.5, 2.5),
    ("delay_ms", None, 0), ("delay_ms", -0.001, None), ("delay_ms", 60_000.5, None),
    ("delay_ms", "5", None), ("delay_ms", True, None), ("delay_ms", float("nan"), None),
    # JSON has one number type: a whole number sent as 503.0 is the integer 503.
    ("status", 503.0, 503), ("status", 200.0, 200), ("status", 503.5, None),
    ("times", 1000.0, 1000), ("retry_after", 30.0, 30),
    # status: 200 to 599, but not the bodyless 204, 205 and 304.
    ("status", 199, None), ("status", 200, 200), ("status", 599, 599), ("status", 600, None),
    ("status", 204, None), ("status", 205, None), ("status", 304, None),
    ("status", "503", None), ("status", True, None),
    ("message", 5, None), ("message", None, "none"), ("response", "yes", None),
    ("response", None, "none"), ("response", False, False),
    # times: 1 to 1,000,000, or null for a standing reply.
    ("times", 0, None), ("times", 1, 1), ("times", 1_000_000, 1_000_000),
    ("times", 1_000_001, None), ("times", None, "none"),
])
def test_numbers_of_a_reply_are_the_contracts(field: str, value: Any, kept: Any) -> None:
    """contract/admin.openapi.json, ScriptedReply: delay_ms a number of milliseconds from 0 to
    60,000 (null: 0); status, times and retry_after integers."""
    if kept is None:
        with pytest.raises(ReplyError, match=field):
            parse_reply({field: value})
    elif kept == "none":  # null, kept as null
        assert parse_reply({field: value})[field] is None  # type: ignore[literal-required]
    else:
        parsed = parse_reply({field: value})[field]  # type: ignore[literal-required]
        assert parsed == kept and type(parsed) is type(kept)


def test_a_reply_that_is_not_an_object_is_named_by_its_place() -> None:
    with pytest.raises(ReplyError, match=r"replies\[1\]"):
        Engine().queue_replies([{"message": "a"}, "b"])
    with pytest.raises(ReplyError):
        Engine().queue_replies("b")


@pytest.mark.parametrize("cap", [-1, 2.5, "5", True, None])
def test_a_body_cap_that_is_no_whole_number_is_refused(cap: Any) -> None:
    with pytest.raises(ValueError, match="body cap"):
        Engine(body_cap=cap)


def test_a_body_cap_of_zero_keeps_no_body() -> None:
    engine = Engine(body_cap=0)
    engine.handle(api_request())
    [entry] = engine.requests()["requests"]
    assert (entry["body"], entry["body_truncated"], entry["body_size"]) == (
        "", True, len(json.dumps(BODY)))


class ClosedStore(MemoryStore):
    closed = 0

    def close(self) -> None:
        self.closed += 1


def test_the_engine_closes_a_store_only_when_it_owns_it() -> None:
    given, owned = ClosedStore(), ClosedStore()
    Engine(store=given).close()
    Engine(store=owned, owns_store=True).close()
    assert (given.closed, owned.closed) == (0, 1)


def test_a_disconnect_has_no_status() -> None:
    """docs/mock-server.md: disconnect closes the connection without an answer, so it has no status
    to give or be given."""
    assert parse_reply({"fault": "disconnect"})["status"] is None
    assert parse_reply({"fault": "server_error"})["status"] == 500
    with pytest.raises(ReplyError, match="status"):
        parse_reply({"fault": "disconnect", "status": 500})


def test_a_bad_match_is_refused_naming_the_reply_and_the_key() -> None:
    """docs/mock-server.md: an unknown match key is refused when the reply is queued, the field
    named, nothing queued."""
    engine = Engine()
    with pytest.raises(ReplyError) as refused:
        engine.queue_replies([{"message": "a"}, {"message": "b", "match": {"nope": 1}}])
    assert "replies[1].match" in str(refused.value) and "nope" in str(refused.value)
    assert engine.replies() == {"replies": []}


def test_a_reply_far_over_a_mebibyte_is_refused_by_its_place() -> None:
    """docs/mock-server.md: memory stays bounded whatever arrives; one reply is bounded too."""
    with pytest.raises(ReplyError, match=r"replies\[0\]"):
        Engine().queue_replies([{"message": "x" * (2 << 20)}])


def test_a_body_with_a_byte_order_mark_is_refused_not_failed() -> None:
    """docs/mock-server.md: bad input never gets a 500 (RFC 8259 8.1: JSON text carries no
    byte-order mark; the mock refuses one as not JSON)."""
    engine = Engine()
    outcome = engine.handle(IncomingRequest("POST", "/api/text", headers=dict(HEADERS),
                                            body=b"\xef\xbb\xbf" + json.dumps(BODY).encode()))
    assert outcome.answer.status == 400
    assert json.loads(outcome.answer.body)["response"] is False


def test_replies_match_on_params_and_headers() -> None:
    """docs/mock-server.md: params holds when each named body parameter equals the number given (1
    == 1.0); headers when each named header (any case) has exactly the value given."""
    engine = Engine()
    engine.queue_replies([{"message": "hot", "match": {"params": {"temperature": 1.5}}},
                          {"message": "kit", "match": {"headers": {"X-Client": "kit"}}},
                          {"message": "one", "match": {"params": {"temperature": 1.0}}}])

    def ask(temperature: float, **headers: str) -> str:
        outcome = engine.handle(api_request({**BODY, "temperature": temperature}, **headers))
        return str(json.loads(outcome.answer.body)["message"])

    assert ask(1.5) == "hot"
    assert ask(1, **{"x-client": "kit"}) == "kit"
    assert ask(1) == "one"
    assert ask(1) == "You said: Hello"


def test_a_body_of_exactly_one_mib_is_answered_and_one_byte_more_is_413() -> None:
    """docs/mock-server.md: a body over 1 MiB answers 413."""
    filler = MOCK_MAX_BODY - len(json.dumps({"message": ""}))
    exactly = json.dumps({"message": "x" * filler}).encode()
    assert len(exactly) == MOCK_MAX_BODY
    engine = Engine()
    ok = engine.handle(IncomingRequest("POST", "/api/text", headers=dict(HEADERS), body=exactly))
    assert ok.answer.status == 200
    over = engine.handle(IncomingRequest("POST", "/api/text", headers=dict(HEADERS),
                                         body=exactly[:-1] + b" }"))
    assert over.answer.status == 413 and json.loads(over.answer.body)["response"] is False


def test_a_reply_without_a_message_answers_the_namespaces_own_reply_mode() -> None:
    engine = Engine()
    alice = engine.admin("alice")
    alice.put_settings({"reply_mode": "fixed", "reply_text": "Hi from alice."})
    alice.queue_replies({"status": 503})
    request = IncomingRequest("POST", "/api/text", headers=dict(HEADERS),
                              body=json.dumps(BODY).encode(), namespace="alice")
    answer = engine.handle(request).answer
    assert (answer.status, json.loads(answer.body)["message"]) == (503, "Hi from alice.")


def test_requests_no_reply_answered_are_journaled_as_not_scripted() -> None:
    """docs/mock-server.md: an entry's reply_id is the scripted reply that answered, or null."""
    engine = Engine()
    engine.queue_replies({"message": "for the API", "times": None})
    for method, path in (("GET", "/chat"), ("GET", "/elsewhere"), ("PUT", "/api/text")):
        engine.handle(IncomingRequest(method, path, headers=dict(HEADERS)))
    entries = engine.requests()["requests"]
    assert [(entry["reply_id"], entry["scripted"]) for entry in entries] == [(None, False)] * 3


def test_the_journal_switched_off_still_answers() -> None:
    engine = Engine(journal_enabled=False)
    outcome = engine.handle(api_request())
    assert json.loads(outcome.answer.body) == {"response": True, "message": "You said: Hello"}
    assert outcome.entry == {} and engine.requests()["total"] == 0


def test_a_store_of_ones_own_gets_the_journal_file_lines_too(tmp_path: Path) -> None:
    """docs/mock-server.md: with --journal every entry is also written as a JSON line."""
    path = tmp_path / "journal.jsonl"
    engine = Engine(store=EntriesOnlyStore(), journal_file=str(path))  # type: ignore[arg-type]
    engine.handle(api_request())
    engine.close()
    [line] = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["path"] == "/api/text"


def test_a_site_body_of_exactly_one_mib_is_journaled_parsed_under_a_body_cap_that_holds_it(
) -> None:
    """docs/mock-server.md: the site keeps a body up to 1 MiB, and an entry's json is the
    parsed body unless it is not JSON or was cut at the body cap (--body-cap): a JSON body
    of exactly 1 MiB sent to another path, under a cap that holds it, is journaled parsed."""
    filler = MOCK_MAX_BODY - len(json.dumps({"note": ""}))
    exactly = json.dumps({"note": "x" * filler}).encode()
    assert len(exactly) == MOCK_MAX_BODY
    engine = Engine(body_cap=MOCK_MAX_BODY)
    outcome = engine.handle(IncomingRequest("POST", "/elsewhere", body=exactly))
    assert outcome.answer.status == 404
    [entry] = engine.requests()["requests"]
    assert (entry["body_size"], entry["body_truncated"]) == (MOCK_MAX_BODY, False)
    assert entry["json"] == {"note": "x" * filler}


def test_every_breach_of_a_body_is_in_the_refusal_separated_by_semicolons() -> None:
    """docs/mock-server.md (POST /api/text): a body with breaches answers
    400 {"response": false, "message": "invalid request: <every breach, '; '-separated>"};
    the entry's violations are those breaches, one each."""
    body = {"message": "user: Hi\nassistant:", "temperature": "hot", "top_p": "high"}
    outcome = Engine().handle(IncomingRequest("POST", "/api/text", headers=dict(HEADERS),
                                              body=json.dumps(body).encode()))
    violations = outcome.entry["violations"]
    assert len(violations) == 2
    assert all(any(name in violation for violation in violations)
               for name in ("temperature", "top_p"))
    assert outcome.answer.status == 400
    assert json.loads(outcome.answer.body) == {
        "response": False, "message": "invalid request: " + "; ".join(violations)}


@pytest.mark.parametrize("namespace", ["", "alice"])
def test_a_prompt_without_a_user_turn_is_echoed_as_nothing(namespace: str) -> None:
    """docs/mock-server.md, POST /api/text: no user turn gives "You said: ", under the
    server's reply mode and under a namespace's own settings alike."""
    # The server answers in fixed mode unless the namespace says echo (its own settings);
    # the default namespace takes the server's echo.
    engine = Engine(reply_mode="echo" if not namespace else "fixed", reply_text="The server's.")
    engine.admin("alice").put_settings({"reply_mode": "echo"})
    answer = engine.handle(IncomingRequest(
        "POST", "/api/text", namespace=namespace,
        body=json.dumps({"message": "system: be brief\nassistant:"}).encode())).answer
    assert json.loads(answer.body) == {"response": True, "message": "You said: "}
