"""The site side of the live mock over real HTTP: ``POST /api/text`` answers (echo, scripted,
faults), its refusals (400, 405, 413, 404) and the ``/chat`` page; every answer is checked
against the response schemas of contract/openapi.json."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from mock_server.core import contract
from mock_server.testing.remote import RemoteMock
from support.contract_data import BAD_BODIES, short_id
from support.expected import MOCK_MAX_BODY as MAX_BODY

SEED_BODY = {"message": "user: Hello, how are you?\nassistant:", "temperature": 1,
             "presence_penalty": 0, "top_p": 1, "frequency_penalty": 0}


@pytest.fixture
def http() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def media_type(response: requests.Response) -> str:
    return response.headers.get("Content-Type", "").split(";")[0].strip()


def assert_matches_contract(response: requests.Response) -> None:
    """The answer fits the schema the contract gives for its status and media type."""
    media = media_type(response)
    validator = contract.response_validator(response.status_code, media)
    assert validator is not None, f"the contract has no {response.status_code} {media} answer"
    validator.validate(response.json() if media == "application/json" else response.text)


def assert_refusal(response: requests.Response, status: int, *fragments: str) -> None:
    """The mock's refusal shape: ``{"response": false, "message": "invalid request: ..."}``."""
    assert response.status_code == status
    assert media_type(response) == "application/json"
    contract.component_validator("InvalidRequest").validate(response.json())
    for fragment in fragments:
        assert fragment in response.json()["message"]
    if status != 404:
        assert_matches_contract(response)


def post(http: requests.Session, mock: RemoteMock, body: Any = None, *, data: bytes | None = None,
         headers: dict[str, str] | None = None) -> requests.Response:
    if data is None:
        data = json.dumps(body).encode()
    return http.post(mock.url_for("/api/text"), data=data, timeout=30,
                     headers={"content-type": "application/json", **(headers or {})})


# --- answers ---------------------------------------------------------------------------------

def test_echo_answers_the_last_user_turn(http: requests.Session, remote_mock: RemoteMock) -> None:
    response = post(http, remote_mock, SEED_BODY)
    assert response.status_code == 200
    assert media_type(response) == "application/json"
    assert response.json() == {"response": True, "message": "You said: Hello, how are you?"}
    assert list(response.json()) == ["response", "message"]
    assert_matches_contract(response)


@pytest.mark.parametrize(("prompt", "turn"), [
    ("user: Hi\nassistant: Hello! How can I help?\nuser: Tell me a joke\nassistant:",
     "Tell me a joke"),
    ("system: Be brief.\nuser: Two\nlines\nassistant:", "Two\nlines"),
    ("user: first\nuser: \nassistant:", ""),
    ("user: trailing newline\n\nassistant:", "trailing newline\n"),
    ("user: Привет 🎉\nassistant: answer\nassistant:", "Привет 🎉"),
    ("assistant:", ""),
    ("system: only a system turn\nassistant:", ""),
    ("no format at all", ""),
])
def test_echo_parses_the_flattened_prompt(http: requests.Session, remote_mock: RemoteMock,
                                          prompt: str, turn: str) -> None:
    response = post(http, remote_mock, {"message": prompt})
    assert response.json() == {"response": True, "message": "You said: " + turn}


def test_scripted_replies_come_first_in_order_each_times_times(
        http: requests.Session, remote_mock: RemoteMock) -> None:
    remote_mock.queue({"message": "one", "times": 2}, {"message": "two"})
    assert remote_mock.queued[0]["times"] == 2
    messages = [post(http, remote_mock, SEED_BODY).json()["message"] for _ in range(4)]
    assert messages == ["one", "one", "two", "You said: Hello, how are you?"]
    assert [entry["scripted"] for entry in remote_mock.requests] == [True, True, True, False]


def test_a_reply_without_response_leaves_the_key_out(http: requests.Session,
                                                     remote_mock: RemoteMock) -> None:
    remote_mock.queue({"message": "Hi there", "response": None})
    response = post(http, remote_mock, SEED_BODY)
    assert response.text == '{"message": "Hi there"}'
    assert_matches_contract(response)


def test_a_refusing_reply(http: requests.Session, remote_mock: RemoteMock) -> None:
    remote_mock.queue({"message": "No.", "response": False})
    response = post(http, remote_mock, SEED_BODY)
    assert response.json() == {"response": False, "message": "No."}
    assert_matches_contract(response)


def test_a_reply_without_message_answers_as_the_mode_would(http: requests.Session,
                                                           remote_mock: RemoteMock) -> None:
    remote_mock.queue({"status": 200})
    assert post(http, remote_mock, SEED_BODY).json()["message"] == \
        "You said: Hello, how are you?"


@pytest.mark.parametrize(("fault", "retry_after", "header"), [
    ("rate_limit", 7, "7"),
    ("unavailable", 0, "0"),
    ("rate_limit", "Wed, 21 Oct 2015 07:28:00 GMT", "Wed, 21 Oct 2015 07:28:00 GMT"),
    ("rate_limit", None, None),
])
def test_retry_after(http: requests.Session, remote_mock: RemoteMock, fault: str,
                     retry_after: Any, header: str | None) -> None:
    remote_mock.queue({"fault": fault, "retry_after": retry_after})
    response = post(http, remote_mock, SEED_BODY)
    assert response.headers.get("Retry-After") == header
    assert_matches_contract(response)


@pytest.mark.parametrize(("fault", "status", "media", "text"), [
    ("cloudflare", 403, "text/html", "Just a moment..."),
    ("rate_limit", 429, "text/plain", "Too Many Requests"),
    ("server_error", 500, "text/plain", "Internal Server Error"),
    ("bad_gateway", 502, "text/plain", "Bad Gateway"),
    ("unavailable", 503, "text/plain", "Service Unavailable"),
    ("upstream_error", 200, "application/json", '"response": false'),
])
def test_faults_fit_the_contracts_answers(http: requests.Session, remote_mock: RemoteMock,
                                          fault: str, status: int, media: str,
                                          text: str) -> None:
    remote_mock.queue({"fault": fault})
    response = post(http, remote_mock, SEED_BODY)
    assert (response.status_code, media_type(response)) == (status, media)
    assert text in response.text
    assert_matches_contract(response)


def test_cloudflare_looks_like_the_bot_wall(http: requests.Session,
                                            remote_mock: RemoteMock) -> None:
    remote_mock.queue({"fault": "cloudflare"})
    response = post(http, remote_mock, SEED_BODY)
    assert response.headers["cf-mitigated"] == "challenge"
    assert response.text.startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(("fault", "check"), [
    ("malformed_json", "malformed"),
    ("html", "html"),
    ("empty_body", "empty"),
])
def test_faults_that_break_the_contract_on_purpose(http: requests.Session,
                                                   remote_mock: RemoteMock, fault: str,
                                                   check: str) -> None:
    remote_mock.queue({"fault": fault})
    response = post(http, remote_mock, SEED_BODY)
    assert response.status_code == 200
    if check == "malformed":
        assert media_type(response) == "application/json"
        with pytest.raises(ValueError):
            json.loads(response.text)
    elif check == "html":
        assert media_type(response) == "text/html"
        assert response.text.lstrip().lower().startswith("<!doctype html")
    else:
        assert response.content == b""
        assert "Content-Type" not in response.headers


def test_disconnect_closes_the_connection_without_a_byte(http: requests.Session,
                                                         remote_mock: RemoteMock) -> None:
    remote_mock.queue({"fault": "disconnect"})
    with pytest.raises(requests.ConnectionError) as caught:
        post(http, remote_mock, SEED_BODY)
    assert "RemoteDisconnected" in repr(caught.value) or "aborted" in str(caught.value)
    # The server is none the worse for it.
    assert post(http, remote_mock, SEED_BODY).status_code == 200
    assert [entry["status"] for entry in remote_mock.requests] == [None, 200]


# --- refusals --------------------------------------------------------------------------------



@pytest.mark.parametrize(("data", "fragments"), BAD_BODIES, ids=short_id)
def test_bad_bodies_get_a_400_in_the_refusal_shape(http: requests.Session,
                                                   remote_mock: RemoteMock, data: bytes,
                                                   fragments: list[str]) -> None:
    response = post(http, remote_mock, data=data)
    assert_refusal(response, 400, "invalid request: ", *fragments)
    [entry] = remote_mock.requests
    assert entry["status"] == 400
    assert entry["reply"] == response.json()
    assert entry["violations"], "the breach is in the journal"
    assert all(fragment in "; ".join(entry["violations"]) for fragment in fragments)


def test_extra_keys_are_allowed(http: requests.Session, remote_mock: RemoteMock) -> None:
    response = post(http, remote_mock, {**SEED_BODY, "model": "gpt-3.5-turbo"})
    assert response.status_code == 200
    assert remote_mock.requests[0]["violations"] == []


def test_a_body_over_one_mib_gets_413(http: requests.Session, remote_mock: RemoteMock) -> None:
    filler = MAX_BODY - len(json.dumps({"message": ""}))
    exactly = json.dumps({"message": "x" * filler}).encode()
    assert len(exactly) == MAX_BODY
    assert post(http, remote_mock, data=exactly).status_code == 200

    response = post(http, remote_mock, data=exactly[:-1] + b" }")
    assert_refusal(response, 413, "over the limit", str(MAX_BODY + 1))
    entry = remote_mock.requests[-1]
    assert (entry["status"], entry["body_size"], entry["body_truncated"], entry["json"]) \
        == (413, MAX_BODY + 1, True, None)
    assert len(entry["body"]) < MAX_BODY


def test_a_huge_body_is_refused_without_reading_it_all(http: requests.Session,
                                                       remote_mock: RemoteMock) -> None:
    response = post(http, remote_mock, data=b"x" * (20 * MAX_BODY))
    assert_refusal(response, 413, "over the limit")
    assert post(http, remote_mock, SEED_BODY).status_code == 200


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("GET", "/api/text", "POST"),
    ("PUT", "/api/text", "POST"),
    ("DELETE", "/api/text", "POST"),
    ("PATCH", "/api/text", "POST"),
    ("OPTIONS", "/api/text", "POST"),
    ("BREW", "/api/text", "POST"),
    ("POST", "/chat", "GET, HEAD"),
])
def test_other_methods_get_405(http: requests.Session, remote_mock: RemoteMock, method: str,
                               path: str, allow: str) -> None:
    response = http.request(method, remote_mock.url_for(path), json=SEED_BODY, timeout=30)
    assert_refusal(response, 405, f"method {method} is not allowed")
    assert response.headers["Allow"] == allow
    [entry] = remote_mock.requests
    assert (entry["method"], entry["path"], entry["status"]) == (method, path, 405)


@pytest.mark.parametrize("path", ["/", "/api", "/api/text/", "/api/text2", "//api//text",
                                  "/favicon.ico", "/chat/", "/__mock__x"])
def test_other_paths_get_404(http: requests.Session, remote_mock: RemoteMock, path: str) -> None:
    response = http.post(remote_mock.base_url + path, json=SEED_BODY, timeout=30,
                         allow_redirects=False)
    assert_refusal(response, 404, f"nothing at {path}")
    [entry] = remote_mock.requests
    assert (entry["path"], entry["status"], entry["json"]) == (path, 404, SEED_BODY)


# --- pages -----------------------------------------------------------------------------------

def test_the_chat_page(http: requests.Session, remote_mock: RemoteMock) -> None:
    response = http.get(remote_mock.url_for("/chat"), timeout=30)
    assert response.status_code == 200
    assert media_type(response) == "text/html"
    page = response.text
    for needle in ("<form", "<button", "static/chat.js"):
        assert needle in page
    script = http.get(remote_mock.url_for("/__mock__/static/chat.js"), timeout=30)
    assert script.status_code == 200
    assert "api/text" in script.text
    # The page is the site's and journaled; its static files are the mock's and are not.
    [entry] = remote_mock.requests
    assert (entry["method"], entry["path"], entry["status"]) == ("GET", "/chat", 200)


def test_head_of_the_chat_page(http: requests.Session, remote_mock: RemoteMock) -> None:
    response = http.head(remote_mock.url_for("/chat"), timeout=30)
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["Content-Length"]) > 0
