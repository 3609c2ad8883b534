"""The two transports of the test kit give the same results: each scenario runs once against a
``LiveServer`` (real HTTP on loopback) and once against an ``InProcessMock`` (``responses``),
and what the caller saw (reply, error class and message, status, headers, body) and what the
journal recorded must be equal, but for what only differs by nature: the base URL, the
``host`` header (and the entry's ``host``, which is its value), ``remote_addr``, entry ids and
times, and the live server's own response headers (``Server``, ``Date``, ``Content-Length``,
``Connection``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

import aichat
from mock_server.core import contract, faults
from mock_server.testing.kit import AichatMock
from mock_server.testing.socketless import InProcessMock
from mock_server.testing.thread_server import LiveServer

CASES = contract.cases()
MESSAGES = [{"role": "user", "content": "Hello"}]
SERVER_HEADERS = {"server", "date", "content-length", "connection"}
ERROR_ATTRIBUTES = ("status_code", "body", "retry_after", "reason")

Scenario = Callable[[AichatMock, requests.Session], Any]

pytestmark = pytest.mark.usefixtures("no_ambient_configuration")


@pytest.fixture(scope="module")
def transports() -> Iterator[tuple[LiveServer, InProcessMock]]:
    live = LiveServer()
    inprocess = InProcessMock()
    try:
        yield live, inprocess
    finally:
        inprocess.close()
        live.stop()


def outcome_of_call(kit: AichatMock, call: Callable[[], Any]) -> Any:
    """The provider's result, or its error as class, attributes and message."""
    try:
        return {"result": call()}
    except aichat.AichatError as error:
        attributes = {name: getattr(error, name) for name in ERROR_ATTRIBUTES
                      if hasattr(error, name)}
        return {"error": type(error).__name__, "attributes": attributes,
                "message": str(error).replace(kit.base_url, "<base>"),
                "cause": type(error.__cause__).__name__}


def outcome_of_answer(answer: requests.Response) -> Any:
    headers = sorted((name.lower(), value) for name, value in answer.headers.items()
                     if name.lower() not in SERVER_HEADERS)
    return {"status": answer.status_code, "headers": headers, "body": answer.content.decode(
        "utf-8", errors="replace")}


def normalised(entry: dict[str, Any]) -> dict[str, Any]:
    entry = {name: value for name, value in entry.items()
             if name not in ("id", "time", "remote_addr")}
    entry["headers"] = {**entry["headers"], "host": "<host>"}
    entry["host"] = "<host>"  # the host it named: the Host header again
    return entry


def run(kit: AichatMock, scenario: Scenario) -> tuple[Any, list[dict[str, Any]], Any]:
    kit.clear()
    with requests.Session() as session:
        session.trust_env = False  # loopback only, whatever the environment says
        outcome = scenario(kit, session)
    return outcome, [normalised(entry) for entry in kit.requests], kit.queued


def both(transports: tuple[LiveServer, InProcessMock], scenario: Scenario) -> Any:
    live, inprocess = transports
    on_live = run(live, scenario)
    inprocess.start()
    try:
        on_inprocess = run(inprocess, scenario)
    finally:
        inprocess.stop()
    assert on_inprocess == on_live
    return on_live


# --- the provider -------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_golden_case_the_same_on_both(transports: tuple[LiveServer, InProcessMock],
                                      case: dict[str, Any]) -> None:
    def scenario(kit: AichatMock, _: requests.Session) -> Any:
        if case["replies"]:
            kit.queue(*case["replies"])
        return outcome_of_call(kit, lambda: aichat.complete(
            case["messages"], base_url=kit.base_url, **case["kwargs"]))

    outcome, entries, _ = both(transports, scenario)
    assert len(entries) == case["requests_sent"]
    assert ("result" in outcome) == ("result" in case["expect"])


@pytest.mark.parametrize("fault", sorted(faults.FAULTS))
@pytest.mark.parametrize("max_retries", [0, 2])
def test_fault_the_same_on_both(transports: tuple[LiveServer, InProcessMock], fault: str,
                                max_retries: int) -> None:
    def scenario(kit: AichatMock, _: requests.Session) -> Any:
        kit.fault(fault, message="scripted reason", retry_after=0, times=2)
        kit.reply("afterwards")
        return outcome_of_call(kit, lambda: aichat.complete(
            MESSAGES, base_url=kit.base_url, max_retries=max_retries))

    outcome, entries, _ = both(transports, scenario)
    assert entries[0]["fault"] == fault
    if max_retries and faults.FAULTS[fault].status in (429, 502, 503):
        assert (outcome, len(entries)) == ({"result": "afterwards"}, 3)
    else:
        assert ("error" in outcome, len(entries)) == (True, 1)


def test_timeouts_the_same_on_both(transports: tuple[LiveServer, InProcessMock]) -> None:
    def scenario(kit: AichatMock, _: requests.Session) -> Any:
        kit.reply("late", delay_ms=1000)
        kit.reply("in time", delay_ms=20)
        return [outcome_of_call(kit, lambda: aichat.complete(
                    MESSAGES, base_url=kit.base_url, timeout=0.2)),
                outcome_of_call(kit, lambda: aichat.complete(
                    MESSAGES, base_url=kit.base_url, timeout=30))]

    late, in_time = both(transports, scenario)[0]
    assert late["error"] == "AichatTimeoutError"
    assert in_time == {"result": "in time"}


# --- any HTTP request ---------------------------------------------------------------------

REQUESTS: dict[str, Callable[[AichatMock, requests.Session], requests.Response]] = {
    "valid": lambda kit, http: http.post(kit.url_for("/api/text"),
                                         json={"message": "user: Hi\nassistant:"}),
    "not_json": lambda kit, http: http.post(kit.url_for("/api/text"), data=b"{oops"),
    "not_an_object": lambda kit, http: http.post(kit.url_for("/api/text"), json=[1, 2]),
    "wrong_types": lambda kit, http: http.post(
        kit.url_for("/api/text"), json={"message": 1, "temperature": "hot", "top_p": 9}),
    "not_utf8": lambda kit, http: http.post(kit.url_for("/api/text"), data=b"\xff\xfe"),
    "text_body": lambda kit, http: http.post(kit.url_for("/api/text"), data="héllo"),
    "form": lambda kit, http: http.post(kit.url_for("/api/text"), data={"message": "x"}),
    "too_large": lambda kit, http: http.post(
        kit.url_for("/api/text"), data=json.dumps({"message": "x" * (2 << 20)}).encode()),
    "get_api": lambda kit, http: http.get(kit.url_for("/api/text?debug=1")),
    "delete_api": lambda kit, http: http.delete(kit.url_for("/api/text")),
    "chat_page": lambda kit, http: http.get(kit.url_for("/chat")),
    "chat_head": lambda kit, http: http.head(kit.url_for("/chat")),
    "chat_post": lambda kit, http: http.post(kit.url_for("/chat"), json={"a": 1}),
    "unknown_path": lambda kit, http: http.patch(kit.url_for("/v1/models?x=1&y=%20")),
    "root": lambda kit, http: http.options(kit.url_for("/")),
    "unusual_method": lambda kit, http: http.request("PROPFIND", kit.url_for("/api/text")),
    "double_slash": lambda kit, http: http.post(kit.url_for("//api/text"), json={"message": ""}),
    "encoded_path": lambda kit, http: http.get(kit.url_for("/caf%C3%A9/%2F")),
    "odd_headers": lambda kit, http: http.post(
        kit.url_for("/api/text"), json={"message": "x"},
        headers={"X_Underscore": "dropped by the server", "X-Utf8": "café".encode(),
                 "X-Latin1": "naïve", "Content-Type": ""}),
    "streamed_body": lambda kit, http: http.post(
        kit.url_for("/api/text"), data=iter([b'{"message": ', b'"chunks"}'])),
    "admin_health": lambda kit, http: http.get(kit.url_for("/__mock__/health")),
    "admin_inspector": lambda kit, http: http.get(kit.url_for("/__mock__/")),
    "admin_static": lambda kit, http: http.get(kit.url_for("/__mock__/static/chat.js")),
    "admin_unknown": lambda kit, http: http.get(kit.url_for("/__mock__/nothing")),
    "admin_bad_reply": lambda kit, http: http.post(kit.url_for("/__mock__/replies"),
                                                   json={"fault": "nope"}),
    "admin_not_json": lambda kit, http: http.post(kit.url_for("/__mock__/replies"),
                                                  data="message=x"),
    "admin_queue": lambda kit, http: http.post(kit.url_for("/__mock__/replies"),
                                               json=[{"message": "a", "times": 3}]),
    "admin_wrong_method": lambda kit, http: http.put(kit.url_for("/__mock__/requests")),
}


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_request_the_same_on_both(transports: tuple[LiveServer, InProcessMock],
                                  name: str) -> None:
    def scenario(kit: AichatMock, http: requests.Session) -> Any:
        return outcome_of_answer(REQUESTS[name](kit, http))

    outcome, entries, _ = both(transports, scenario)
    assert outcome["status"] < 500
    assert len(entries) == (0 if name.startswith("admin_") else 1)


def test_scripted_answers_the_same_on_both(transports: tuple[LiveServer, InProcessMock]
                                           ) -> None:
    """Every fault and field of a scripted reply, as raw HTTP answers (headers included)."""
    def scenario(kit: AichatMock, http: requests.Session) -> Any:
        for fault in sorted(faults.FAULTS):
            if fault != "disconnect":
                kit.fault(fault, retry_after="Wed, 21 Oct 2015 07:28:00 GMT")
        kit.reply("made", status=201, response=None)
        kit.reply(None, response=False)
        answers = [outcome_of_answer(http.post(kit.url_for("/api/text"),
                                               json={"message": "user: Q\nassistant:"}))
                   for _ in range(len(faults.FAULTS) + 1)]
        return answers

    answers = both(transports, scenario)[0]
    assert [answer["status"] for answer in answers] \
        == [faults.FAULTS[name].status for name in sorted(faults.FAULTS)
            if name != "disconnect"] + [201, 200]
