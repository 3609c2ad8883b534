"""The test kit's shared scenarios, run against both fixtures: every golden case, every fault,
the fields of a scripted reply, bad bodies and the journal. A test here passes against
``aichat_server`` (real HTTP on loopback) and ``aichat_responses`` (no socket) alike, which is
the promise the kit makes to the people who build on the provider.

The provider is always called without ``base_url``: the fixtures point ``AICHAT_BASE_URL``
at the mock.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

import aichat
from aichat import Aichat
from mock_server.core import contract
from mock_server.core.errors import ReplyError
from mock_server.testing import pytest_plugin
from mock_server.testing.kit import AichatMock
from support.contract_data import FAULT_ERRORS, HTTP_OWN_HEADERS
from support.expected import ENTRY_FIELDS

KINDS = ["aichat_server", "aichat_responses"]
CASES = contract.cases()
MESSAGES = [{"role": "user", "content": "Hello"}]


@pytest.fixture(params=KINDS)
def kit(request: pytest.FixtureRequest) -> AichatMock:
    mock: AichatMock = request.getfixturevalue(request.param)
    return mock


def ask(**kwargs: Any) -> str:
    return aichat.complete(MESSAGES, **kwargs)


def api(kit: AichatMock) -> str:
    return kit.base_url + "/api/text"


# --- the fixtures' setting ----------------------------------------------------------------


def test_the_base_url_is_in_the_environment_for_the_test(kit: AichatMock) -> None:
    assert pytest_plugin.BASE_URL_ENV == Aichat.BASE_URL_ENV
    assert os.environ["AICHAT_BASE_URL"] == kit.base_url
    assert Aichat.endpoint() == api(kit)
    assert "".join(Aichat._create_completion("gpt-3.5-turbo", MESSAGES, False)) \
        == "You said: Hello"
    assert Aichat.fetch(MESSAGES) == {"response": True, "message": "You said: Hello"}


def test_each_test_starts_with_an_empty_journal_and_queue(kit: AichatMock) -> None:
    assert kit.requests == []
    assert kit.queued == []
    assert kit.journal() == {"total": 0, "requests": []}


def test_url_for_joins_the_base_and_a_path(kit: AichatMock) -> None:
    assert kit.url_for("/api/text") == api(kit)
    assert kit.url_for("chat") == kit.base_url + "/chat"
    assert not kit.base_url.endswith("/")


# --- golden cases -------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_golden_case(kit: AichatMock, case: dict[str, Any]) -> None:
    if case["replies"]:
        assert kit.queue(*case["replies"]) == len(case["replies"])
    expect = case["expect"]
    if "error" in expect:
        error_class = getattr(aichat, expect["error"])
        with pytest.raises(error_class) as caught:
            aichat.complete(case["messages"], **case["kwargs"])
        assert type(caught.value) is error_class, caught.value
        for name, value in expect.get("attributes", {}).items():
            assert getattr(caught.value, name) == value, name
        assert api(kit) in str(caught.value)
    else:
        assert aichat.complete(case["messages"], **case["kwargs"]) == expect["result"]

    entries = kit.requests
    assert len(entries) == case["requests_sent"]
    assert kit.queued == [], "every scripted reply was used"
    for entry in entries:
        expected = case["request"]
        assert (entry["method"], entry["path"], entry["query"]) \
            == (expected["method"], expected["path"], "")
        assert {name: entry["headers"].get(name) for name in expected["headers"]} \
            == expected["headers"]
        assert set(entry["headers"]) == set(expected["headers"]) | HTTP_OWN_HEADERS
        assert entry["headers"]["host"] == urlsplit(kit.base_url).netloc
        assert entry["headers"]["content-length"] == str(len(entry["body"].encode()))
        assert entry["header_diff"] == {}
        assert entry["body"] == json.dumps(expected["body"])
        assert entry["json"] == expected["body"]
        assert list(entry["json"]) == list(expected["body"])
        assert entry["violations"] == []


# --- faults and the fields of a scripted reply --------------------------------------------


@pytest.mark.parametrize("fault", sorted(FAULT_ERRORS))
def test_fault(kit: AichatMock, fault: str) -> None:
    error_class, status = FAULT_ERRORS[fault]
    kit.fault(fault)
    with pytest.raises(error_class) as caught:
        ask(max_retries=0)
    assert type(caught.value) is error_class, caught.value
    if isinstance(caught.value, aichat.AichatHTTPError):
        assert caught.value.status_code == status
    assert api(kit) in str(caught.value)
    [entry] = kit.requests
    assert (entry["fault"], entry["status"], entry["scripted"]) == (fault, status, True)
    assert entry["violations"] == []
    assert (entry["reply"] is None) == (fault == "disconnect")
    assert ask() == "You said: Hello", "the fault was used up; the mock answers again"


def test_disconnect_is_a_connection_closed_without_an_answer(kit: AichatMock) -> None:
    kit.fault("disconnect")
    with pytest.raises(aichat.AichatConnectionError) as caught:
        ask(max_retries=2)
    assert "RemoteDisconnected" in str(caught.value)
    assert isinstance(caught.value.__cause__, requests.ConnectionError)
    assert len(kit.requests) == 1, "a broken read is never retried"


def test_a_message_adjusts_the_fault(kit: AichatMock) -> None:
    kit.fault("upstream_error", message="Too many people asking.")
    with pytest.raises(aichat.AichatUpstreamError) as caught:
        ask()
    assert caught.value.reason == "Too many people asking."


def test_a_status_overrides_the_faults_own(kit: AichatMock) -> None:
    kit.fault("server_error", status=504, message="Gateway Timeout")
    with pytest.raises(aichat.AichatHTTPError) as caught:
        ask(max_retries=0)
    assert caught.value.status_code == 504
    assert "Gateway Timeout" in caught.value.body


def test_a_long_retry_after_goes_to_the_caller_unretried(kit: AichatMock) -> None:
    kit.fault("rate_limit", retry_after=3600)
    with pytest.raises(aichat.AichatRateLimitError) as caught:
        ask()
    assert caught.value.retry_after == 3600
    assert len(kit.requests) == 1


def test_retries_follow_the_providers_policy(kit: AichatMock) -> None:
    kit.fault("rate_limit", retry_after=0, times=2)
    kit.reply("at last")
    assert ask(max_retries=2) == "at last"
    assert [(entry["status"], entry["fault"]) for entry in kit.requests] \
        == [(429, "rate_limit"), (429, "rate_limit"), (200, None)]


def test_retries_run_out(kit: AichatMock) -> None:
    kit.fault("unavailable", retry_after=0, times=5)
    with pytest.raises(aichat.AichatHTTPError) as caught:
        ask(max_retries=1)
    assert caught.value.status_code == 503
    assert len(kit.requests) == 2
    assert kit.queued[0]["times"] == 3


def test_a_reply_is_used_times_times(kit: AichatMock) -> None:
    reply_id = kit.reply("twice", times=2)
    assert kit.queued == [{"id": reply_id, "message": "twice", "status": 200, "response": True,
                           "delay_ms": 0, "fault": None, "retry_after": None, "times": 2,
                           "match": None}]
    assert [ask(), ask(), ask()] == ["twice", "twice", "You said: Hello"]
    assert [entry["scripted"] for entry in kit.requests] == [True, True, False]
    assert [entry["reply_id"] for entry in kit.requests] == [reply_id, reply_id, None]


def test_an_early_answer_without_response(kit: AichatMock) -> None:
    kit.reply("old style", response=None)
    assert ask() == "old style"
    assert kit.requests[0]["reply"] == {"message": "old style"}


def test_a_delay_within_the_timeout_is_waited_out(kit: AichatMock) -> None:
    kit.reply("slow", delay_ms=50)
    assert ask(timeout=30) == "slow"
    assert kit.requests[0]["delay_ms"] == 50


def test_a_delay_beyond_the_timeout_is_a_timeout(kit: AichatMock) -> None:
    kit.reply("too late", delay_ms=1500)
    with pytest.raises(aichat.AichatTimeoutError):
        ask(timeout=0.2, max_retries=2)
    [entry] = kit.requests  # a read timeout is never retried
    assert entry["delay_ms"] == 1500
    assert entry["reply"] == {"response": True, "message": "too late"}


@pytest.mark.parametrize(("fields", "complaint"), [
    ({"fault": "teapot"}, "reply.fault must be null or one of"),
    ({"times": 0}, "reply.times must be a whole number"),
    ({"delay_ms": -1}, "reply.delay_ms must be a number"),
    ({"status": 204}, "reply.status must be an integer"),
    ({"colour": "red"}, "reply has unknown field(s) 'colour'"),
])
def test_a_bad_reply_is_refused_at_once(kit: AichatMock, fields: dict[str, Any],
                                        complaint: str) -> None:
    with pytest.raises(ReplyError, match=re.escape(complaint)):
        kit.reply("x", **fields)
    with pytest.raises(ValueError, match=re.escape("reply.fault must be")):
        kit.fault("teapot")
    assert kit.queued == []


def test_clear_empties_the_journal_and_the_queue(kit: AichatMock) -> None:
    ask()
    kit.reply("unused")
    kit.clear()
    assert (kit.requests, kit.queued) == ([], [])
    assert ask() == "You said: Hello"


# --- bad bodies and other requests --------------------------------------------------------

BAD_BODIES: list[tuple[str, bytes, str]] = [
    ("not_json", b"hello", "the body is not JSON"),
    ("nan", b'{"message": "x", "temperature": NaN}', "the body is not JSON"),
    ("not_utf8", b'{"message": "\xff"}', "the body is not UTF-8 text"),
    ("array", b'["message"]', 'the body must be a JSON object with a string "message", not an'
                              ' array'),
    ("no_message", b'{"temperature": 1}', "'message' is a required property"),
    ("message_not_text", b'{"message": 5}', "message: 5 is not of type 'string'"),
    ("out_of_range", b'{"message": "x", "top_p": 7}', "top_p: 7 is greater than the maximum"),
]


@pytest.mark.parametrize(("body", "reason"), [(body, reason) for _, body, reason in BAD_BODIES],
                         ids=[name for name, _, _ in BAD_BODIES])
def test_a_bad_body_answers_400_and_is_journaled(kit: AichatMock, body: bytes,
                                                 reason: str) -> None:
    kit.reply("kept for a valid request")
    answer = requests.post(api(kit), data=body, headers={"Content-Type": "application/json"},
                           timeout=30)
    assert answer.status_code == 400
    assert answer.json()["response"] is False
    assert answer.json()["message"].startswith("invalid request: ")
    assert reason in answer.json()["message"]
    [entry] = kit.requests
    assert entry["status"] == 400
    assert entry["reply"] == answer.json()
    assert entry["violations"] and any(reason in text for text in entry["violations"])
    assert entry["body_size"] == len(body)
    assert kit.queued != [], "a refused request does not use up a scripted reply"


def test_a_body_over_one_mebibyte_answers_413(kit: AichatMock) -> None:
    body = json.dumps({"message": "x" * (1 << 20)}).encode()
    answer = requests.post(api(kit), data=body, timeout=30)
    assert answer.status_code == 413
    assert "over the limit" in answer.json()["message"]
    [entry] = kit.requests
    assert (entry["body_size"], entry["body_truncated"], entry["json"]) \
        == (len(body), True, None)
    assert len(entry["body"]) == 65_536


def test_other_methods_and_paths(kit: AichatMock) -> None:
    wrong_method = requests.get(api(kit), timeout=30)
    assert wrong_method.status_code == 405
    assert wrong_method.headers["Allow"] == "POST"
    nowhere = requests.put(kit.url_for("/v1/chat?x=1"), json={"a": 1}, timeout=30)
    assert nowhere.status_code == 404
    page = requests.get(kit.url_for("/chat"), timeout=30)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "__mock__/static/chat.js" in page.text
    script = requests.get(kit.url_for("/__mock__/static/chat.js"), timeout=30)
    assert script.status_code == 200
    assert "\"api/text\"" in script.text, "the page's script posts to the API"
    assert [(entry["method"], entry["path"], entry["query"], entry["status"])
            for entry in kit.requests] \
        == [("GET", "/api/text", "", 405), ("PUT", "/v1/chat", "x=1", 404),
            ("GET", "/chat", "", 200)]
    assert kit.requests[1]["json"] == {"a": 1}


def test_a_head_request_gets_no_body(kit: AichatMock) -> None:
    answer = requests.head(kit.url_for("/chat"), timeout=30)
    assert (answer.status_code, answer.content) == (200, b"")


# --- the journal --------------------------------------------------------------------------


def test_a_journal_entry_has_every_field(kit: AichatMock) -> None:
    ask(temperature=0.5)
    [entry] = kit.requests
    assert list(entry) == ENTRY_FIELDS
    assert isinstance(entry["id"], int)
    assert entry["time"].endswith("+00:00")
    assert entry["json"] == {"message": "user: Hello\nassistant:", "temperature": 0.5,
                             "presence_penalty": 0, "top_p": 1, "frequency_penalty": 0}
    assert entry["reply"] == {"response": True, "message": "You said: Hello"}
    assert (entry["status"], entry["fault"], entry["delay_ms"], entry["scripted"]) \
        == (200, None, 0, False)
    assert (entry["body_truncated"], entry["violations"], entry["header_diff"]) \
        == (False, [], {})
    # The one field a transport without a socket cannot fill.
    expected_peer = "127.0.0.1" if kit.base_url.startswith("http://127.0.0.1") else None
    assert entry["remote_addr"] == expected_peer
    # Not through a proxy: the host it named is its Host header's.
    assert (entry["host"], entry["scheme"], entry["via"]) == (
        entry["headers"]["host"], "http", None)


def test_entries_are_what_the_admin_api_answers(kit: AichatMock) -> None:
    ask()
    requests.get(kit.url_for("/chat"), timeout=30)
    over_http = requests.get(kit.url_for("/__mock__/requests"), timeout=30).json()
    assert over_http == {"total": 2, "requests": kit.requests}
    assert kit.journal(path="/chat") == {"total": 1, "requests": kit.requests[1:]}
    assert kit.journal(limit=1)["requests"] == kit.requests[1:]
    first, second = kit.requests
    assert second["id"] > first["id"]


def test_entries_are_copies(kit: AichatMock) -> None:
    ask()
    kit.requests[0]["status"] = 999
    assert kit.requests[0]["status"] == 200


def test_header_differences_are_reported_not_refused(kit: AichatMock) -> None:
    answer = requests.post(api(kit), json={"message": "user: Hi\nassistant:"}, timeout=30,
                           headers={"User-Agent": "my-app/1.0", "X-Trace": "abc"})
    assert answer.json() == {"response": True, "message": "You said: Hi"}
    [entry] = kit.requests
    assert entry["headers"]["x-trace"] == "abc"
    assert entry["header_diff"]["user-agent"] == {
        "expected": Aichat.HEADERS["user-agent"], "received": "my-app/1.0"}
    assert entry["header_diff"]["authority"] == {"expected": "chat-gpt.org", "received": None}


def test_the_admin_api_queues_replies_over_http(kit: AichatMock) -> None:
    queued = requests.post(kit.url_for("/__mock__/replies"), timeout=30,
                           json=[{"message": "one"}, {"fault": "html"}])
    assert (queued.status_code, queued.json()["queued"]) == (201, 2)
    assert [reply["id"] for reply in kit.queued] == queued.json()["ids"]
    assert [reply["message"] for reply in kit.queued] == ["one", None]
    assert ask() == "one"
    with pytest.raises(aichat.AichatBlockedError):
        ask()
    refused = requests.post(kit.url_for("/__mock__/replies"), json={"times": 0}, timeout=30)
    assert refused.status_code == 400
    assert "times" in refused.json()["error"]
    assert requests.delete(kit.url_for("/__mock__/requests"), timeout=30).json() \
        == {"cleared": 2}
    assert kit.requests == []


def test_the_provider_keeps_working_across_many_calls(kit: AichatMock) -> None:
    answers = [aichat.complete([{"role": "user", "content": f"n{index}"}])
               for index in range(20)]
    assert answers == [f"You said: n{index}" for index in range(20)]
    assert [entry["json"]["message"] for entry in kit.requests] \
        == [f"user: n{index}\nassistant:" for index in range(20)]
