"""Every golden case of contract/cases through the provider, against the live mock server.

The case's scripted ``replies`` are queued on the mock; the provider must come back with the
case's result or error, and the mock's journal must hold the case's exact request (every
header of the contract table, the body's bytes, keys, order and number types) as many times
as the case says requests reach the site.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import aichat
from aichat import Aichat
from mock_server.core import contract
from mock_server.testing.remote import RemoteMock
from support.contract_data import HTTP_OWN_HEADERS

CASES = contract.cases()

pytestmark = pytest.mark.usefixtures("no_ambient_configuration")


def ask(mock: RemoteMock, case: dict[str, Any]) -> str:
    return "".join(Aichat._create_completion(
        "gpt-3.5-turbo", case["messages"], False, base_url=mock.base_url, **case["kwargs"]))


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_golden_case_against_the_live_mock(remote_mock: RemoteMock, case: dict[str, Any]) -> None:
    if case["replies"]:
        assert remote_mock.queue(*case["replies"]) == len(case["replies"])
    expect = case["expect"]

    if "error" in expect:
        error_class = getattr(aichat, expect["error"])
        with pytest.raises(error_class) as caught:
            ask(remote_mock, case)
        assert type(caught.value) is error_class, caught.value
        for name, value in expect.get("attributes", {}).items():
            assert getattr(caught.value, name) == value, name
    else:
        assert ask(remote_mock, case) == expect["result"]

    entries = remote_mock.requests
    assert len(entries) == case["requests_sent"]
    assert remote_mock.queued == [], "every scripted reply was used"
    for entry in entries:
        expected = case["request"]
        assert entry["method"] == expected["method"]
        assert entry["path"] == expected["path"]
        assert entry["query"] == ""
        assert entry["remote_addr"] == "127.0.0.1"
        # Every header of the contract, exactly; nothing else but what HTTP adds itself.
        assert {name: entry["headers"].get(name) for name in expected["headers"]} \
            == expected["headers"]
        assert set(entry["headers"]) == set(expected["headers"]) | HTTP_OWN_HEADERS
        assert entry["headers"]["host"] == remote_mock.base_url.removeprefix("http://")
        assert entry["header_diff"] == {}
        # The body's bytes: what requests' json= puts on the wire for the case's body
        # (keys in order, integers as integers, non-ASCII escaped).
        assert entry["body"] == json.dumps(expected["body"])
        assert entry["headers"]["content-length"] == str(len(entry["body"].encode()))
        assert entry["json"] == expected["body"]
        assert list(entry["json"]) == list(expected["body"])
        assert entry["violations"] == []


def test_the_cases_cover_every_fault_the_provider_must_survive() -> None:
    faults = {reply.get("fault") for case in CASES for reply in case["replies"]}
    assert faults >= {"disconnect", "server_error", "rate_limit", "cloudflare", "html",
                      "malformed_json", "empty_body", "upstream_error", "bad_gateway",
                      "unavailable"}
