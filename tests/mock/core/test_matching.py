"""docs/mock-server.md over HTTP, against the mock as its command starts it (and, where processes
could disagree, with two worker processes sharing the SQLite store): matching, standing replies,
reply ids, removal, selection, the journal's reply_id and namespace, POST
/__mock__/requests/find, POST /__mock__/reset, and the namespaces. Expected answers come
from the sentences of docs/mock-server.md, written out by hand."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from mock_server.testing.child_process import MockProcess
from mock_server.testing.remote import RemoteMock
from support.expected import MOCK_PATTERN_INSTRUCTIONS
from support.raw_client import session

ECHO = "You said: "
# A conversation of three turns: the prompt the provider flattens it to (docs/provider.md, What it
# sends).
PROMPT = ("system: Be brief.\nuser: Hi\nassistant: Hello!\nuser: What's the weather?\n"
          "assistant:")
LAST_TURN = "What's the weather?"
DEFAULTS = {"temperature": 1, "presence_penalty": 0, "top_p": 1, "frequency_penalty": 0}
_NAMES = itertools.count(1)


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with session() as client:
        yield client


@pytest.fixture
def ns(remote_mock: RemoteMock) -> Iterator[RemoteMock]:
    """A namespace of the session's mock that no other test uses, emptied afterwards."""
    mock = remote_mock.within(f"matching-{next(_NAMES)}")
    try:
        yield mock
    finally:
        mock.reset()
        mock.close()


def ask(http: requests.Session, mock: RemoteMock, prompt: str = PROMPT,
        headers: dict[str, str] | None = None, **params: Any) -> requests.Response:
    body = {"message": prompt, **DEFAULTS, **params}
    return http.post(mock.url_for("/api/text"), json=body, headers=headers, timeout=30)


def answer_of(http: requests.Session, mock: RemoteMock, prompt: str = PROMPT,
              headers: dict[str, str] | None = None, **params: Any) -> str:
    response = ask(http, mock, prompt, headers, **params)
    assert response.status_code == 200, response.text
    message: str = response.json()["message"]
    return message


def admin(http: requests.Session, mock: RemoteMock, method: str, path: str,
          **kwargs: Any) -> requests.Response:
    return http.request(method, mock.url_for("/__mock__" + path), timeout=30, **kwargs)


# --- every match key ---------------------------------------------------------------------------

# (match, what the request differs in, whether the match holds). The request is PROMPT with the
# default parameters and no header but those of requests, unless the case says otherwise.
MATCH_CASES: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
    ("message equal", {"message": PROMPT}, {}, True),
    ("message not equal", {"message": "user: What's the weather?\nassistant:"}, {}, False),
    ("message_contains", {"message_contains": "assistant: Hello!\nuser:"}, {}, True),
    ("message_contains case", {"message_contains": "WEATHER"}, {}, False),
    ("message_regex", {"message_regex": r"weather\?\nassistant:$"}, {}, True),
    ("message_regex anchored", {"message_regex": r"^user:"}, {}, False),
    ("message_regex flags", {"message_regex": "(?i)WEATHER"}, {}, True),
    ("last_turn", {"last_turn": LAST_TURN}, {}, True),
    ("last_turn is not an earlier turn", {"last_turn": "Hi"}, {}, False),
    ("last_turn of one turn", {"last_turn": "Hi"}, {"prompt": "user: Hi\nassistant:"}, True),
    ("last_turn_contains", {"last_turn_contains": "weather"}, {}, True),
    ("last_turn_contains not the system turn", {"last_turn_contains": "brief"}, {}, False),
    ("params", {"params": {"temperature": 0.5}}, {"temperature": 0.5}, True),
    ("params other value", {"params": {"temperature": 0.5}}, {}, False),
    ("params 1 == 1.0", {"params": {"temperature": 1, "top_p": 1.0}},
     {"temperature": 1.0, "top_p": 1}, True),
    ("params all named", {"params": {"temperature": 1, "presence_penalty": 2}}, {}, False),
    ("headers any case", {"headers": {"X-Trace": "abc"}}, {"headers": {"x-trace": "abc"}}, True),
    ("headers exact value", {"headers": {"x-trace": "abc"}}, {"headers": {"X-Trace": "ABC"}},
     False),
    ("headers null is absent", {"headers": {"x-trace": None}}, {}, True),
    ("headers null but present", {"headers": {"x-trace": None}}, {"headers": {"x-trace": ""}},
     False),
    ("every key must hold", {"last_turn": LAST_TURN, "params": {"top_p": 0.9}}, {}, False),
    ("every key holds", {"last_turn_contains": "weather", "message_contains": "brief",
                         "params": {"top_p": 0.9}, "headers": {"x-trace": "t"}},
     {"top_p": 0.9, "headers": {"x-trace": "t"}}, True),
    ("an empty match", {}, {}, True),
]


@pytest.mark.parametrize(("match", "request_", "holds"),
                         [case[1:] for case in MATCH_CASES], ids=[case[0] for case in MATCH_CASES])
def test_a_match_key(http: requests.Session, ns: RemoteMock, match: dict[str, Any],
                     request_: dict[str, Any], holds: bool) -> None:
    reply_id = ns.reply("matched", match=match, times=None)
    options = dict(request_)
    prompt = options.pop("prompt", PROMPT)
    headers = options.pop("headers", None)
    answered = answer_of(http, ns, prompt, headers, **options)
    turn = "Hi" if prompt != PROMPT else LAST_TURN
    assert answered == ("matched" if holds else ECHO + turn)
    [entry] = ns.requests
    assert entry["reply_id"] == (reply_id if holds else None)
    assert entry["scripted"] is holds


def test_a_reply_without_a_match_answers_any_valid_request(http: requests.Session,
                                                             ns: RemoteMock) -> None:
    ns.reply("anything")
    assert answer_of(http, ns, "hello, not even flattened") == "anything"


# --- refusals --------------------------------------------------------------------------------

REFUSALS: list[tuple[Any, str]] = [
    ({"match": {"mesage": "x"}}, "reply.match has unknown key(s) 'mesage'"),
    ({"match": "weather"}, "reply.match must be an object"),
    ({"match": [1]}, "reply.match must be an object"),
    ({"match": {"message": 1}}, "reply.match.message must be a string"),
    ({"match": {"message_contains": None}}, "reply.match.message_contains must be a string"),
    ({"match": {"message_regex": "("}},
     "reply.match.message_regex is not a valid regular expression"),
    ({"match": {"message_regex": ["a"]}}, "reply.match.message_regex must be a string"),
    # RE2 syntax: no back-reference, no look-around, \z rather than \Z.
    ({"match": {"message_regex": r"(a)\1"}},
     "reply.match.message_regex is not a valid regular expression: RE2 cannot run it"),
    ({"match": {"message_regex": "wor(?=ld)"}}, "RE2 cannot run it: invalid perl operator"),
    ({"match": {"message_regex": r"end\Z"}}, "RE2 cannot run it: invalid escape sequence"),
    ({"match": {"message_regex": ".{20}"}},
     f"RE2 instructions; the most is {MOCK_PATTERN_INSTRUCTIONS}"),
    ({"match": {"last_turn": 5}}, "reply.match.last_turn must be a string"),
    ({"match": {"last_turn_contains": True}}, "reply.match.last_turn_contains must be a string"),
    ({"match": {"params": [1]}}, "reply.match.params must be an object"),
    ({"match": {"params": {"temprature": 1}}}, "reply.match.params has an unknown parameter"),
    ({"match": {"params": {"temperature": "1"}}}, "reply.match.params.temperature must be a"),
    ({"match": {"params": {"top_p": True}}}, "reply.match.params.top_p must be a number"),
    ({"match": {"headers": "x-trace"}}, "reply.match.headers must be an object"),
    ({"match": {"headers": {"x-trace": 1}}}, "reply.match.headers.x-trace must be a string"),
    ({"match": {"headers": {"bad name": "v"}}}, "reply.match.headers has an invalid header name"),
    ({"match": {"headers": {"A": "1", "a": "2"}}}, "reply.match.headers names 'a' twice"),
    ({"match": {"path": "/api/text"}}, "reply.match.path is for searching the journal"),
    ({"match": {"status": 200}}, "reply.match.status is for searching the journal"),
    ([{"message": "fine"}, {"match": {"last_turn": 5}}],
     "replies[1].match.last_turn must be a string"),
    ({"times": 0}, "reply.times must be a whole number from 1"),
    ({"times": "always"}, "or null for a standing reply"),
]


@pytest.mark.parametrize(("payload", "fragment"), REFUSALS,
                         ids=[fragment for _, fragment in REFUSALS])
def test_a_bad_match_is_refused_when_queued_and_nothing_is_queued(
        http: requests.Session, ns: RemoteMock, payload: Any, fragment: str) -> None:
    response = admin(http, ns, "POST", "/replies", json=payload)
    assert response.status_code == 400
    assert fragment in response.json()["error"]
    assert ns.queued == []


# --- ids, standing replies, the listing, removal --------------------------------------------


def test_queued_replies_have_ids_and_the_listing_shows_id_match_and_times(
        http: requests.Session, ns: RemoteMock) -> None:
    queued = admin(http, ns, "POST", "/replies", json=[
        {"message": "standing", "times": None, "match": {"last_turn": "Hi"}},
        {"message": "twice", "times": 2}])
    assert queued.status_code == 201
    assert queued.json()["queued"] == 2
    ids = queued.json()["ids"]
    assert len(ids) == len(set(ids)) == 2 and all(isinstance(item, str) for item in ids)
    listed = admin(http, ns, "GET", "/replies").json()["replies"]
    assert [(reply["id"], reply["match"], reply["times"]) for reply in listed] == [
        (ids[0], {"last_turn": "Hi"}, None), (ids[1], None, 2)]

    for _ in range(3):
        assert answer_of(http, ns, "user: Hi\nassistant:") == "standing"
    assert [answer_of(http, ns), answer_of(http, ns), answer_of(http, ns)] == [
        "twice", "twice", ECHO + LAST_TURN]
    listed = admin(http, ns, "GET", "/replies").json()["replies"]
    assert [(reply["id"], reply["times"]) for reply in listed] == [(ids[0], None)], \
        "a standing reply is never used up; the other left the queue at 0"


def test_remove_one_reply_by_its_id(http: requests.Session, ns: RemoteMock) -> None:
    first, second = ns.reply("first"), ns.reply("second")
    removed = admin(http, ns, "DELETE", f"/replies/{first}")
    assert (removed.status_code, removed.json()) == (200, {"removed": first})
    assert [reply["id"] for reply in ns.queued] == [second]
    assert answer_of(http, ns) == "second"
    for unknown in (first, second, "r0", "nope", "r" + "9" * 30):
        gone = admin(http, ns, "DELETE", f"/replies/{unknown}")
        assert gone.status_code == 404, unknown
        assert unknown in gone.json()["error"]


def test_ids_are_never_reused_not_even_after_a_clear(http: requests.Session,
                                                     ns: RemoteMock) -> None:
    seen = {ns.reply("a"), ns.reply("b")}
    ns.reset()
    assert not seen & {ns.reply("c"), ns.reply("d")}


def test_ids_are_unique_across_the_worker_processes() -> None:
    """Four clients queue at once, each request on a new connection, so that both worker
    processes give ids."""
    with MockProcess(["--workers", "2"]) as process:
        _ids_are_unique(process.mock.within("workers"))


def _ids_are_unique(ns: RemoteMock) -> None:
    ids: list[str] = []
    lock = threading.Lock()

    def queue() -> None:
        with session() as client:
            for _ in range(15):
                response = client.post(ns.url_for("/__mock__/replies"), json=[{}, {}],
                                       headers={"Connection": "close"}, timeout=30)
                with lock:
                    ids.extend(response.json()["ids"])

    threads = [threading.Thread(target=queue) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(ids) == len(set(ids)) == 120
    assert sorted(reply["id"] for reply in ns.queued) == sorted(ids)


# --- selection -------------------------------------------------------------------------------


def test_the_first_reply_in_queue_order_whose_match_holds_answers(http: requests.Session,
                                                                    ns: RemoteMock) -> None:
    ns.reply("about the weather", match={"last_turn_contains": "weather"}, times=None)
    ns.reply("to Hi", match={"last_turn": "Hi"})
    ns.reply("to anything")
    ns.reply("also to Hi", match={"last_turn": "Hi"}, times=None)
    assert answer_of(http, ns, "user: Hi\nassistant:") == "to Hi"
    assert answer_of(http, ns, "user: Hi\nassistant:") == "to anything"
    assert answer_of(http, ns, "user: Hi\nassistant:") == "also to Hi"
    assert answer_of(http, ns) == "about the weather"
    assert answer_of(http, ns, "user: Bye\nassistant:") == ECHO + "Bye", "none holds: the mode"


def test_with_no_reply_holding_the_reply_mode_answers(http: requests.Session,
                                                      ns: RemoteMock) -> None:
    ns.reply("never", match={"last_turn": "nobody says this"}, times=None)
    assert answer_of(http, ns) == ECHO + LAST_TURN
    ns.configure(reply_mode="fixed", reply_text="The fixed text.")
    assert answer_of(http, ns) == "The fixed text."
    assert [reply["times"] for reply in ns.queued] == [None]


def test_invalid_requests_never_use_a_reply(http: requests.Session, ns: RemoteMock) -> None:
    standing = ns.reply("standing", match={"message_contains": "x"}, times=None)
    once = ns.reply("once")
    api = ns.url_for("/api/text")
    refused = [
        http.post(api, data=b"{not json", timeout=30),
        http.post(api, json={"message": "x", "temperature": 9}, timeout=30),
        http.post(api, json={"text": "x"}, timeout=30),
        http.get(api, timeout=30),
        http.put(api, json={"message": "x"}, timeout=30),
        http.post(api, data=json.dumps({"message": "x" * ((1 << 20) + 1)}), timeout=30),
    ]
    assert [response.status_code for response in refused] == [400, 400, 400, 405, 405, 413]
    assert [(reply["id"], reply["times"]) for reply in ns.queued] == [(standing, None),
                                                                      (once, 1)]
    assert [entry["reply_id"] for entry in ns.requests] == [None] * 6
    assert answer_of(http, ns, "user: x\nassistant:") == "standing"
    assert answer_of(http, ns) == "once"
    assert [entry["reply_id"] for entry in ns.requests][-2:] == [standing, once]


# --- verification: find and reset --------------------------------------------------------------


def test_find_with_the_match_keys_path_and_status(http: requests.Session,
                                                  ns: RemoteMock) -> None:
    ns.fault("rate_limit", match={"last_turn": "limited"})
    ns.fault("disconnect", match={"last_turn": "cut"})
    answer_of(http, ns, "user: one\nassistant:", temperature=0.5)
    assert ask(http, ns, "user: limited\nassistant:").status_code == 429
    with pytest.raises(requests.ConnectionError):
        ask(http, ns, "user: cut\nassistant:")
    http.get(ns.url_for("/chat"), timeout=30)
    http.post(ns.url_for("/api/text"), json={"message": 5}, timeout=30)

    def find(match: Any) -> list[str]:
        response = admin(http, ns, "POST", "/requests/find", json={"match": match})
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["total"] == len(page["requests"])
        ids = [entry["id"] for entry in page["requests"]]
        assert ids == sorted(ids), "oldest first"
        return [f"{entry['path']} {entry['status']}" for entry in page["requests"]]

    assert find({"last_turn": "one"}) == ["/api/text 200"]
    assert find({"params": {"temperature": 0.5}}) == ["/api/text 200"]
    assert find({"status": 429}) == ["/api/text 429"]
    assert find({"status": None}) == ["/api/text None"]
    assert find({"path": "/chat"}) == ["/chat 200"]
    assert find({"path": "/api/text", "status": 400}) == ["/api/text 400"]
    assert find({"message_regex": "^user: (one|cut)"}) == ["/api/text 200", "/api/text None"]
    assert len(find({})) == len(find(None)) == 5
    assert find({"last_turn": "nobody"}) == []
    bad = admin(http, ns, "POST", "/requests/find", json={"match": {"staus": 200}})
    assert bad.status_code == 400 and "match has unknown key(s) 'staus'" in bad.json()["error"]
    wrong = admin(http, ns, "POST", "/requests/find", json={"last_turn": "one"})
    assert wrong.status_code == 400 and "it takes one, match" in wrong.json()["error"]
    unrunnable = admin(http, ns, "POST", "/requests/find",
                       json={"match": {"message_regex": r"(one)\1"}})
    assert unrunnable.status_code == 400
    assert "match.message_regex is not a valid regular expression: RE2 cannot run it" in \
        unrunnable.json()["error"]


def test_reset_empties_the_journal_and_the_queue_at_once(http: requests.Session,
                                                         ns: RemoteMock) -> None:
    ns.reply("once")
    ns.reply("standing", times=None)
    assert [answer_of(http, ns), answer_of(http, ns)] == ["once", "standing"]
    reset = admin(http, ns, "POST", "/reset", json={})
    assert (reset.status_code, reset.json()) == (200, {"cleared_requests": 2,
                                                      "cleared_replies": 1})
    assert (ns.requests, ns.queued) == ([], [])
    assert admin(http, ns, "POST", "/reset", data="",
                 headers={"Content-Type": "application/json"}).json() == {
        "cleared_requests": 0, "cleared_replies": 0}
    # docs/mock-server.md, Routes: no body needs no Content-Type (curl -X POST), but a body
    # must be JSON, and so must a request a web page sends (it has an Origin).
    ns.reply("queued again")
    bare = admin(http, ns, "POST", "/reset")
    assert (bare.status_code, bare.json()) == (200, {"cleared_requests": 0,
                                                     "cleared_replies": 1})
    ns.reply("kept")
    refused = [admin(http, ns, "POST", "/reset", data="{}",
                     headers={"Content-Type": "text/plain"}),
               admin(http, ns, "POST", "/reset", data="{}"),
               admin(http, ns, "POST", "/reset", headers={"Origin": "https://elsewhere.example"}),
               admin(http, ns, "POST", "/reset", headers={"Origin": "null"})]
    assert [response.status_code for response in refused] == [415] * 4
    assert all("Content-Type: application/json" in response.json()["error"]
               for response in refused)
    assert [reply["message"] for reply in ns.queued] == ["kept"]


# --- namespaces --------------------------------------------------------------------------------


def test_each_namespace_has_its_own_journal_and_queue(http: requests.Session,
                                                      remote_mock: RemoteMock) -> None:
    alice, bob = remote_mock.within("alice.1"), remote_mock.within("bob_2-B")
    try:
        assert alice.base_url == remote_mock.base_url + "/ns/alice.1"
        alice.reply("for alice", times=None)
        assert answer_of(http, bob, "user: Hi\nassistant:") == ECHO + "Hi"
        assert answer_of(http, remote_mock, "user: Hi\nassistant:") == ECHO + "Hi"
        assert answer_of(http, alice, "user: Hi\nassistant:") == "for alice"
        assert http.get(alice.url_for("/chat"), timeout=30).status_code == 200
        assert [(entry["namespace"], entry["path"]) for entry in alice.requests] == [
            ("alice.1", "/api/text"), ("alice.1", "/chat")]
        assert [entry["namespace"] for entry in bob.requests] == ["bob_2-B"]
        assert [entry["namespace"] for entry in remote_mock.requests] == [""]
        assert bob.queued == [] and remote_mock.queued == []
        assert [entry["reply_id"] is not None for entry in alice.find(path="/api/text")] \
            == [True]
        everything = admin(http, remote_mock, "GET", "/requests",
                           params={"namespace": "*"}).json()
        assert sorted(entry["namespace"] for entry in everything["requests"]) == [
            "", "alice.1", "alice.1", "bob_2-B"]
        assert everything["total"] == 4
        names = admin(http, remote_mock, "GET", "/namespaces").json()["namespaces"]
        assert {"name": "alice.1", "requests": 2, "replies": 1} in names
        assert alice.reset() == {"cleared_requests": 2, "cleared_replies": 1}
        assert [entry["namespace"] for entry in bob.requests] == ["bob_2-B"]
    finally:
        for mock in (alice, bob):
            mock.reset()
            mock.close()


def test_a_reply_id_of_another_namespace_is_unknown(http: requests.Session,
                                                    remote_mock: RemoteMock,
                                                    ns: RemoteMock) -> None:
    reply_id = ns.reply("mine")
    assert admin(http, remote_mock, "DELETE", f"/replies/{reply_id}").status_code == 404
    assert [reply["id"] for reply in ns.queued] == [reply_id]


@pytest.mark.parametrize("name", ["a", "A-Z_a.z-09", "x" * 64])
def test_a_namespace_name_is_1_to_64_of_the_allowed_characters(
        http: requests.Session, remote_mock: RemoteMock, name: str) -> None:
    response = http.post(f"{remote_mock.base_url}/ns/{name}/api/text",
                         json={"message": "user: Hi\nassistant:"}, timeout=30)
    assert response.json() == {"response": True, "message": ECHO + "Hi"}
    mock = remote_mock.within(name)
    try:
        assert [entry["namespace"] for entry in mock.requests] == [name]
    finally:
        mock.reset()
        mock.close()


@pytest.mark.parametrize("name", ["x" * 65, "bad!", "sp%20ace", "caf%C3%A9", ".", ".."])
def test_a_path_with_a_bad_namespace_name_is_a_404_of_the_default_namespace(
        http: requests.Session, remote_mock: RemoteMock, name: str) -> None:
    # Sent as is, dot segments included (requests would fold /ns/../ away).
    raw = requests.Request("POST", f"{remote_mock.base_url}/ns/{name}/api/text",
                           json={"message": "user: Hi\nassistant:"}).prepare()
    raw.url = f"{remote_mock.base_url}/ns/{name}/api/text"
    response = http.send(raw, timeout=30)
    assert response.status_code == 404
    assert "is not a namespace" in response.json()["message"]
    [entry] = remote_mock.requests
    assert entry["namespace"] == "" and entry["path"].startswith("/ns/")
    assert entry["status"] == 404


def test_every_admin_route_exists_in_a_namespace(http: requests.Session, ns: RemoteMock) -> None:
    for method, path, body in [("GET", "/health", None), ("GET", "/requests", None),
                               ("DELETE", "/requests", None), ("GET", "/replies", None),
                               ("POST", "/replies", {}), ("DELETE", "/replies", None),
                               ("POST", "/requests/find", {"match": None}),
                               ("POST", "/reset", {}), ("GET", "/settings", None),
                               ("PUT", "/settings", {}), ("GET", "/namespaces", None)]:
        response = admin(http, ns, method, path, **({} if body is None else {"json": body}))
        assert response.status_code in (200, 201), (method, path, response.text)
    page = http.get(ns.url_for("/__mock__/"), timeout=30)
    assert page.status_code == 200
    assert f'data-requests-url="/ns/{ns.namespace}/__mock__/requests"' in page.text
    assert http.get(ns.url_for("/__mock__/static/inspector.js"), timeout=30).status_code == 200


def test_settings_are_the_namespaces_own(http: requests.Session, remote_mock: RemoteMock,
                                         ns: RemoteMock) -> None:
    changed = admin(http, ns, "PUT", "/settings",
                    json={"reply_mode": "fixed", "reply_text": "Namespaced."})
    assert changed.json() == {"reply_mode": "fixed", "reply_text": "Namespaced."}
    assert answer_of(http, ns) == "Namespaced."
    assert answer_of(http, remote_mock) == ECHO + LAST_TURN
    assert admin(http, remote_mock, "GET", "/settings").json()["reply_mode"] == "echo"
    assert admin(http, ns, "PUT", "/settings", json={}).json()["reply_mode"] == "echo"
    assert answer_of(http, ns) == ECHO + LAST_TURN
    for bad, fragment in (({"reply_mode": "loud"}, "settings.reply_mode must be one of"),
                          ({"reply_text": 1}, "settings.reply_text must be a string"),
                          ({"mode": "echo"}, "unknown field(s) 'mode'"), ([], "an object")):
        refused = admin(http, ns, "PUT", "/settings", json=bad)
        assert refused.status_code == 400 and fragment in refused.json()["error"]


def test_unknown_or_repeated_query_parameters_are_refused(http: requests.Session,
                                                          ns: RemoteMock) -> None:
    typo = admin(http, ns, "GET", "/requests", params={"limt": 5})
    assert typo.status_code == 400 and "unknown query parameter 'limt'" in typo.json()["error"]
    twice = admin(http, ns, "GET", "/requests", params=[("limit", 1), ("limit", 2)])
    assert twice.status_code == 400 and "more than once" in twice.json()["error"]
    bad = admin(http, ns, "GET", "/requests", params={"namespace": "no way"})
    assert bad.status_code == 400 and "namespace" in bad.json()["error"]
