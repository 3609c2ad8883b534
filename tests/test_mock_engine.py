"""The mock's behaviour without any server: the engine answers an ``IncomingRequest`` as the
Flask app does over HTTP (the same queue, faults, validation and journal), the app factory's
configuration, the store and the reply checks."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from loopback import FAULT_ERRORS
from spec_values import HEADERS

from mock_server import Engine, IncomingRequest, MemoryStore, create_app, engine_of
from mock_server.core import faults
from mock_server.core.matching import Facts
from mock_server.core.replies import ReplyError, last_user_turn, parse_reply
from mock_server.core.store import QueueFullError, Store

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
        # SPEC 4's status for the fault (SPEC 3.1's error table in loopback.FAULT_ERRORS);
        # the disconnect fault answers nothing at all.
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
