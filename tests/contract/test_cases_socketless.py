"""Every golden case of contract/cases through the provider, with `responses` (no socket).

Each case pins the call, the exact request (headers with their exact names and values, body
bytes with key order and number types), how many requests reach the site (retries included)
and the outcome: the reply text, or the exact error class and its attributes.

Retries: `responses` replaces HTTPAdapter.send, below which urllib3 would retry, so it replays
the adapter's Retry itself: it asks the provider's policy ``is_retry`` and ``increment`` (the
cap on Retry-After included) and sends again, but never sleeps. retried_then_answered therefore
checks which answers are retried and how often; the waits are checked in test_provider_http.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests
import responses
from responses.registries import OrderedRegistry

import aichat
from aichat import Aichat
from support.contract_data import HTTP_OWN_HEADERS, load_cases, seed_headers
from support.expected import BASE_URL_ENV

CASES = load_cases()
SITE = "https://chat-gpt.org"
TRANSPORT_FAILURES: dict[str, type[Exception]] = {
    "ConnectionError": requests.ConnectionError,
    "ReadTimeout": requests.ReadTimeout,
}

# The three ways in: the 2023 generator, the convenience function, and the CLI's fetch.
ENTRY_POINTS: dict[str, Callable[[list[Any], dict[str, Any]], str]] = {
    "_create_completion": lambda messages, kwargs: "".join(
        Aichat._create_completion("gpt-3.5-turbo", messages, False, **kwargs)),
    "complete": lambda messages, kwargs: aichat.complete(messages, **kwargs),
    "fetch": lambda messages, kwargs: Aichat.fetch(messages, **kwargs)["message"],
}


@pytest.fixture(autouse=True)
def _site_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BASE_URL_ENV, raising=False)


def script(mock: responses.RequestsMock, case: dict[str, Any]) -> None:
    for answer in case["responses"]:
        if "raise" in answer:
            mock.add(responses.POST, SITE + "/api/text",
                     body=TRANSPORT_FAILURES[answer["raise"]]("scripted transport failure"))
        else:  # responses wants Content-Type apart from the other headers
            headers = {name: value for name, value in answer["headers"].items()
                       if name.lower() != "content-type"}
            content_type = next((value for name, value in answer["headers"].items()
                                 if name.lower() == "content-type"), None)
            mock.add(responses.POST, SITE + "/api/text", status=answer["status"],
                     headers=headers, body=answer["body"], content_type=content_type)


def check_request(sent: requests.PreparedRequest, expected: dict[str, Any]) -> None:
    assert sent.method == expected["method"]
    assert sent.url == SITE + expected["path"]
    assert sent.path_url == expected["path"]
    # Every header of the table, under its exact (lower-case) name, with its exact value.
    sent_headers = list(sent.headers.items())
    table = [(name, value) for name, value in sent_headers if name in expected["headers"]]
    assert sorted(table) == sorted(expected["headers"].items())
    extra = {name.lower() for name, _ in sent_headers} - set(expected["headers"])
    assert extra <= HTTP_OWN_HEADERS
    # Names, values and order exactly as the 2023 module's requests.post produced them.
    assert sent_headers == seed_headers(SITE + expected["path"], expected["headers"],
                                        expected["body"])
    # Body bytes: json.dumps of the case body, so key order and int-vs-float are pinned too.
    assert sent.body == json.dumps(expected["body"]).encode()
    assert list(json.loads(sent.body or b"")) == list(expected["body"])


def check_error(error: Aichat.AichatError, case: dict[str, Any]) -> None:
    expect = case["expect"]
    assert type(error).__name__ == expect["error"]  # the exact class, not just a base
    assert type(error) is getattr(aichat, expect["error"])
    for name, value in expect.get("attributes", {}).items():
        assert getattr(error, name) == value, name
    text = str(error)
    assert text and "\n" not in text
    if case["request"] is not None:
        assert f"{SITE}/api/text" in text
        assert error.url == f"{SITE}/api/text"
    if case["responses"] and "raise" in case["responses"][-1]:
        assert isinstance(error.__cause__, requests.RequestException)  # the original is kept


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_golden_case(case: dict[str, Any], entry: str) -> None:
    with responses.RequestsMock(registry=OrderedRegistry,
                                assert_all_requests_are_fired=True) as mock:
        script(mock, case)
        call = ENTRY_POINTS[entry]
        if "result" in case["expect"]:
            assert call(case["messages"], case["kwargs"]) == case["expect"]["result"]
        else:
            with pytest.raises(Aichat.AichatError) as caught:
                call(case["messages"], case["kwargs"])
            check_error(caught.value, case)
        assert len(mock.calls) == case["requests_sent"]
        for sent in mock.calls:
            check_request(sent.request, case["request"])


def test_the_cases_cover_retries_and_refusals() -> None:
    """The suite above means something only if the data has these shapes."""
    assert any(case["requests_sent"] > 1 for case in CASES)
    assert any(case["request"] is None and case["requests_sent"] == 0 for case in CASES)
    for case in CASES:
        assert (case["request"] is None) == (case["requests_sent"] == 0)
        assert len(case["responses"]) == case["requests_sent"]
