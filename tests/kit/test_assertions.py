"""The kit of docs/testing-your-code.md, the same on every carrier: the two fixtures and a
RemoteMock of a namespace of the mock command. reply and fault return ids, remove, find, last,
prompts, the assert_* methods and their failure messages, and the marker's configuration."""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

import aichat
from mock_server.core.errors import ReplyError, UnknownReplyError
from mock_server.testing.kit import AichatMock
from mock_server.testing.remote import RemoteMock

KINDS = ["aichat_server", "aichat_responses", "remote"]
_NAMES = itertools.count(1)


@pytest.fixture(params=KINDS)
def kit(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[AichatMock]:
    if request.param != "remote":
        mock: AichatMock = request.getfixturevalue(request.param)
        yield mock
        return
    root: RemoteMock = request.getfixturevalue("remote_mock")
    remote = root.within(f"kit-{next(_NAMES)}")
    monkeypatch.setenv("AICHAT_BASE_URL", remote.base_url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    try:
        yield remote
    finally:
        remote.reset()
        remote.close()


def say(text: str, *, system: str | None = None, **kwargs: Any) -> str:
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": text}]
    return aichat.complete(messages, **kwargs)


def post(kit: AichatMock, body: Any, **kwargs: Any) -> requests.Response:
    with requests.Session() as client:
        client.trust_env = False
        return client.post(kit.url_for("/api/text"), json=body, timeout=30, **kwargs)


def test_each_test_has_a_namespace_of_its_own(kit: AichatMock) -> None:
    assert kit.namespace
    assert kit.base_url.endswith("/ns/" + kit.namespace)
    assert os.environ["AICHAT_BASE_URL"] == kit.base_url
    say("Hi")
    assert [entry["namespace"] for entry in kit.requests] == [kit.namespace]
    assert [entry["path"] for entry in kit.requests] == ["/api/text"]


def test_reply_and_fault_return_ids_and_remove_takes_one_out(kit: AichatMock) -> None:
    first = kit.reply("first")
    limited = kit.fault("rate_limit", retry_after=0, match={"last_turn": "limit me"})
    standing = kit.reply("always", times=None)
    assert len({first, limited, standing}) == 3
    assert [(reply["id"], reply["times"]) for reply in kit.queued] == [
        (first, 1), (limited, 1), (standing, None)]
    kit.remove(first)
    assert [reply["id"] for reply in kit.queued] == [limited, standing]
    with pytest.raises(UnknownReplyError, match="no reply"):
        kit.remove(first)
    with pytest.raises(LookupError):
        kit.remove("nothing-like-it")
    assert say("Hi") == "always"
    with pytest.raises(aichat.AichatRateLimitError):
        say("limit me", max_retries=0)
    assert [entry["reply_id"] for entry in kit.requests] == [standing, limited]


def test_a_bad_match_is_refused_at_once(kit: AichatMock) -> None:
    with pytest.raises(ReplyError, match=re.escape("reply.match has unknown key(s) 'turn'")):
        kit.reply("x", match={"turn": "Hi"})
    with pytest.raises(ValueError, match=re.escape("reply.match.message_regex is not a valid")):
        kit.fault("html", match={"message_regex": "(unclosed"})
    assert kit.queued == []


def test_find_last_and_prompts(kit: AichatMock) -> None:
    assert kit.last is None
    assert kit.prompts == []
    say("one", temperature=0.5)
    say("two", system="Be brief.")
    post(kit, {"message": 5})
    with requests.Session() as client:
        client.trust_env = False
        client.get(kit.url_for("/chat"), timeout=30)
    assert kit.prompts == ["user: one\nassistant:", "system: Be brief.\nuser: two\nassistant:"]
    last = kit.last
    assert last is not None and (last["path"], last["method"]) == ("/chat", "GET")
    assert [entry["json"]["message"] for entry in kit.find(last_turn="two")] == [
        "system: Be brief.\nuser: two\nassistant:"]
    assert len(kit.find(params={"temperature": 0.5})) == 1
    assert len(kit.find(status=400)) == 1
    assert len(kit.find(path="/api/text")) == 3
    assert len(kit.find()) == 4
    assert kit.find(last_turn="three") == []
    with pytest.raises(ValueError, match="unknown key"):
        kit.find(last="two")


def test_assert_called_and_not_called(kit: AichatMock) -> None:
    say("What is the weather in Paris?")
    say("What is the weather in Paris?")
    kit.assert_called()
    kit.assert_called(last_turn="What is the weather in Paris?")
    kit.assert_called(times=2, message_contains="Paris")
    kit.assert_called(times=0, last_turn="Rome")
    kit.assert_not_called(last_turn_contains="Rome")
    with pytest.raises(AssertionError) as caught:
        kit.assert_called(times=1, last_turn_contains="Paris")
    assert "expected 1 request(s) matching last_turn_contains='Paris', found 2" in \
        str(caught.value)
    with pytest.raises(AssertionError) as caught:
        kit.assert_not_called(message_contains="weather")
    assert "expected no request matching message_contains='weather', found 2" in \
        str(caught.value)
    assert "prompt 'user: What is the weather in Paris?\\nassistant:'" in str(caught.value)


def test_the_near_miss_message_shows_the_closest_requests_and_what_differs(
        kit: AichatMock) -> None:
    say("Tell me a joke")
    say("What is the weather in paris?", system="Be brief.")
    post(kit, {"message": "user: Hello\nassistant:"}, headers={"X-Trace": "t2"})
    with pytest.raises(AssertionError) as caught:
        kit.assert_called(last_turn="What is the weather in Paris?",
                          headers={"x-trace": "t1"})
    message = str(caught.value)
    assert message.startswith("expected a request matching last_turn='What is the weather in "
                              "Paris?', headers={'x-trace': 't1'}, found none")
    assert "It received 3 request(s); the closest:" in message
    # The closest first: the same words but for one letter, then the one with an x-trace.
    closest = message.index("What is the weather in paris?")
    assert closest < message.index("Hello") < message.index("Tell me a joke")
    assert ("last_turn: expected 'What is the weather in Paris?', got "
            "'What is the weather in paris?'") in message
    assert "headers.x-trace: expected 't1', got absent" in message
    assert "headers.x-trace: expected 't1', got 't2'" in message
    # The third, sent without the provider's headers, shows those that differ from the
    # contract.
    assert "headers that differ from the contract: authority (expected 'chat-gpt.org', got " \
           "absent)" in message


def test_assert_called_on_an_empty_journal(kit: AichatMock) -> None:
    with pytest.raises(AssertionError, match="The mock received no request at all"):
        kit.assert_called(last_turn="anything")


def test_assert_no_violations(kit: AichatMock) -> None:
    say("fine")
    kit.assert_no_violations()
    post(kit, {"message": "user: x\nassistant:"}, headers={"User-Agent": "my-app/1.0"})
    kit.assert_no_violations(header_diff=False)
    with pytest.raises(AssertionError) as caught:
        kit.assert_no_violations()
    assert "1 request(s) with violations or header differences" in str(caught.value)
    assert "user-agent (expected 'Mozilla/5.0" in str(caught.value)
    post(kit, {"message": "x", "temperature": 3})
    with pytest.raises(AssertionError) as caught:
        kit.assert_no_violations(header_diff=False)
    assert "violation: temperature: 3 is greater than the maximum of 2" in str(caught.value)


def test_assert_all_used(kit: AichatMock) -> None:
    kit.reply("standing", times=None, match={"last_turn": "Bye"})
    kit.assert_all_used()
    left = kit.reply("twice", times=2, match={"last_turn": "Hi"})
    say("Hi")
    with pytest.raises(AssertionError) as caught:
        kit.assert_all_used()
    assert f"{left}: message 'twice', 1 use(s) left, match last_turn='Hi'" in str(caught.value)
    say("Hi")
    kit.assert_all_used()


def test_configure_sets_the_reply_mode_of_the_namespace(kit: AichatMock) -> None:
    assert kit.configure(reply_mode="fixed", reply_text="Set.") == {
        "reply_mode": "fixed", "reply_text": "Set."}
    assert say("Hi") == "Set."
    assert kit.configure()["reply_mode"] == "echo"
    assert say("Hi") == "You said: Hi"
    with pytest.raises(ValueError, match="reply_mode must be one of echo, fixed"):
        kit.configure(reply_mode="loud")


@pytest.mark.aichat(reply_mode="fixed", reply_text="Marked.")
@pytest.mark.parametrize("fixture", ["aichat_server", "aichat_responses"])
def test_the_marker_sets_the_reply_mode(request: pytest.FixtureRequest, fixture: str) -> None:
    mock: AichatMock = request.getfixturevalue(fixture)
    assert mock.settings == {"reply_mode": "fixed", "reply_text": "Marked."}
    assert say("Hi") == "Marked."


@pytest.mark.aichat(replies=[{"message": "sunny", "match": {"last_turn_contains": "weather"},
                              "times": None},
                             {"fault": "upstream_error", "message": "busy"}])
@pytest.mark.parametrize("fixture", ["aichat_server", "aichat_responses"])
def test_the_marker_queues_replies(request: pytest.FixtureRequest, fixture: str) -> None:
    mock: AichatMock = request.getfixturevalue(fixture)
    assert [reply["times"] for reply in mock.queued] == [None, 1]
    assert say("How is the weather?") == "sunny"
    with pytest.raises(aichat.AichatUpstreamError, match="busy"):
        say("Hi")
    assert say("Hi") == "You said: Hi"
