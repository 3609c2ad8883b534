"""The admin API under /__mock__/: health, the journal, the reply queue, and the answers it
gives to bad input."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import requests

from mock_server import __version__, create_app
from mock_server.core import faults
from mock_server.core.replies import REPLY_FIELDS
from mock_server.testing.remote import RemoteMock
from support.contract_data import FAULT_ERRORS
from support.paths import CONTRACT

BODY = {"message": "user: Hello\nassistant:"}


@pytest.fixture
def http() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def admin(http: requests.Session, mock: RemoteMock, method: str, path: str,
          **kwargs: Any) -> requests.Response:
    return http.request(method, mock.url_for("/__mock__" + path), timeout=30, **kwargs)


def test_health(http: requests.Session, remote_mock: RemoteMock) -> None:
    response = admin(http, remote_mock, "GET", "/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__, "journal": "ok"}


def test_the_inspector_page(http: requests.Session, remote_mock: RemoteMock) -> None:
    response = admin(http, remote_mock, "GET", "/")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<title>Inspector · aichat mock</title>" in response.text
    assert '<script src="/__mock__/static/inspector.js"></script>' in response.text
    script = admin(http, remote_mock, "GET", "/static/inspector.js")
    assert script.status_code == 200
    assert script.headers["Content-Type"].split(";")[0] in ("text/javascript",
                                                            "application/javascript")
    # The table refreshes itself from the journal (docs/mock-server.md).
    assert "fetch(requestsUrl" in script.text
    assert '<script src="/__mock__/static/replies.js"></script>' in response.text
    # The control panel's picker: every fault of the catalogue (docs/mock-server.md, Faults),
    # with its own status.
    picked = re.findall(r'<option value="(\w+)" data-status="(\d*)"', response.text)
    assert [(name, int(status) if status else None) for name, status in picked] == [
        (name, status) for name, (_, status) in FAULT_ERRORS.items()]


def test_requests_filtered_by_path_and_limit(http: requests.Session,
                                             remote_mock: RemoteMock) -> None:
    for number in range(4):
        http.post(remote_mock.url_for("/api/text"), timeout=30,
                  json={"message": f"user: {number}\nassistant:"})
    http.get(remote_mock.url_for("/chat"), timeout=30)

    everything = admin(http, remote_mock, "GET", "/requests").json()
    assert everything["total"] == 5
    assert [entry["path"] for entry in everything["requests"]] == ["/api/text"] * 4 + ["/chat"]

    latest = admin(http, remote_mock, "GET", "/requests", params={"limit": 2}).json()
    assert latest["total"] == 5
    assert latest["requests"] == everything["requests"][-2:], "the most recent, oldest first"

    api = admin(http, remote_mock, "GET", "/requests",
                params={"path": "/api/text", "limit": 3}).json()
    assert api["total"] == 4
    assert [entry["json"]["message"] for entry in api["requests"]] == [
        f"user: {number}\nassistant:" for number in (1, 2, 3)]

    assert admin(http, remote_mock, "GET", "/requests", params={"limit": 0}).json() == {
        "total": 5, "requests": []}
    assert admin(http, remote_mock, "GET", "/requests", params={"path": "/nowhere"}).json() \
        == {"total": 0, "requests": []}


def test_a_limit_of_any_length_is_taken() -> None:
    # Python's int() refuses over 4,300 digits: such a limit answered 500. (gunicorn refuses
    # a request line this long itself; werkzeug and waitress pass it on.)
    client = create_app().test_client()
    for number in range(2):
        client.post("/api/text", json={"message": f"user: {number}\nassistant:"})
    for limit, kept in (("9" * 4400, 2), ("0" * 4400 + "1", 1), ("0" * 4400, 0)):
        response = client.get("/__mock__/requests", query_string={"limit": limit})
        assert response.status_code == 200, response.text
        assert response.json["total"] == 2
        assert len(response.json["requests"]) == kept


@pytest.mark.parametrize("limit", ["-1", "two", "1.5", "", "٣"])
def test_a_bad_limit_is_refused(http: requests.Session, remote_mock: RemoteMock,
                                limit: str) -> None:
    response = admin(http, remote_mock, "GET", "/requests", params={"limit": limit})
    assert response.status_code == 400
    assert "limit must be a whole number" in response.json()["error"]


def test_delete_requests_reports_how_many(http: requests.Session,
                                          remote_mock: RemoteMock) -> None:
    for _ in range(3):
        http.post(remote_mock.url_for("/api/text"), json=BODY, timeout=30)
    assert admin(http, remote_mock, "DELETE", "/requests").json() == {"cleared": 3}
    assert admin(http, remote_mock, "GET", "/requests").json() == {"total": 0, "requests": []}
    assert admin(http, remote_mock, "DELETE", "/requests").json() == {"cleared": 0}


def test_queue_one_reply_or_a_list_and_list_them(http: requests.Session,
                                                 remote_mock: RemoteMock) -> None:
    one = admin(http, remote_mock, "POST", "/replies", json={"message": "first"})
    assert one.status_code == 201
    assert one.json() == {"queued": 1, "ids": [one.json()["ids"][0]]}
    more = admin(http, remote_mock, "POST", "/replies",
                 json=[{"fault": "rate_limit", "retry_after": 5, "times": 2},
                       {"message": "late", "delay_ms": 10, "response": None}])
    assert (more.status_code, more.json()["queued"], len(more.json()["ids"])) == (201, 2, 2)
    empty = admin(http, remote_mock, "POST", "/replies", json=[])
    assert (empty.status_code, empty.json()) == (201, {"queued": 0, "ids": []})
    ids = one.json()["ids"] + more.json()["ids"]
    assert all(isinstance(reply_id, str) for reply_id in ids)
    assert len(set(ids)) == 3, "every reply has an id of its own"

    queued = admin(http, remote_mock, "GET", "/replies").json()["replies"]
    assert queued == [
        {"id": ids[0], "message": "first", "status": 200, "response": True, "delay_ms": 0,
         "fault": None, "retry_after": None, "times": 1, "match": None},
        {"id": ids[1], "message": None, "status": 429, "response": True, "delay_ms": 0,
         "fault": "rate_limit", "retry_after": 5, "times": 2, "match": None},
        {"id": ids[2], "message": "late", "status": 200, "response": None, "delay_ms": 10,
         "fault": None, "retry_after": None, "times": 1, "match": None},
    ]
    assert all(list(reply) == ["id", *REPLY_FIELDS] for reply in queued)

    http.post(remote_mock.url_for("/api/text"), json=BODY, timeout=30)
    http.post(remote_mock.url_for("/api/text"), json=BODY, timeout=30)
    left = admin(http, remote_mock, "GET", "/replies").json()["replies"]
    assert [(reply["id"], reply["fault"], reply["times"]) for reply in left] == [
        (ids[1], "rate_limit", 1), (ids[2], None, 1)]
    assert admin(http, remote_mock, "DELETE", "/replies").json() == {"cleared": 2}
    assert admin(http, remote_mock, "GET", "/replies").json() == {"replies": []}


@pytest.mark.parametrize(("payload", "fragment"), [
    ("a string", "expected a reply object or a list of them, not a string"),
    (42, "not a number"),
    (None, "not null"),  # sent as the JSON text null
    ([{"message": "ok"}, "nope"], "replies[1] must be an object, not a string"),
    ({"mesage": "typo"}, "unknown field(s) 'mesage'"),
    ({"message": 1}, "reply.message must be a string or null"),
    ({"fault": "meltdown"}, "reply.fault must be null or one of " + ", ".join(faults.FAULTS)),
    ({"status": 99}, "reply.status must be an integer from 200 to 599"),
    ({"status": 204}, "not 204, 205 or 304"),
    ({"status": "200"}, "reply.status must be an integer"),
    ({"status": True}, "reply.status must be an integer"),
    ({"response": "yes"}, "reply.response must be true, false or null"),
    ({"delay_ms": -1}, "reply.delay_ms must be a number of milliseconds from 0 to 60000"),
    ({"delay_ms": 600_000}, "from 0 to 60000"),
    ({"retry_after": -5}, "reply.retry_after must be null, a whole number of seconds"),
    ({"retry_after": "a\r\nSet-Cookie: x=1"}, "reply.retry_after must be null"),
    ({"times": 0}, "reply.times must be a whole number from 1"),
    ({"times": -1}, "or null for a standing reply"),
    ({"times": 2.5}, "reply.times must be a whole number"),
    ({"fault": "disconnect", "status": 200}, "a disconnect sends no status"),
])
def test_bad_replies_are_refused_with_a_clear_message(http: requests.Session,
                                                      remote_mock: RemoteMock, payload: Any,
                                                      fragment: str) -> None:
    response = admin(http, remote_mock, "POST", "/replies", data=json.dumps(payload),
                     headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert fragment in response.json()["error"]
    assert admin(http, remote_mock, "GET", "/replies").json() == {"replies": []}, \
        "nothing of a refused list is queued"


def test_replies_must_be_sent_as_json(http: requests.Session, remote_mock: RemoteMock) -> None:
    form = admin(http, remote_mock, "POST", "/replies", data={"message": "hi"})
    assert form.status_code == 415
    assert "Content-Type: application/json" in form.json()["error"]
    broken = admin(http, remote_mock, "POST", "/replies", data=b"{oops",
                   headers={"Content-Type": "application/json"})
    assert broken.status_code == 400
    assert "the body is not JSON" in broken.json()["error"]
    assert admin(http, remote_mock, "GET", "/replies").json() == {"replies": []}


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/nowhere", 404),
    ("POST", "/health", 405),
    ("PUT", "/requests", 405),
    ("PATCH", "/replies", 405),
    ("BREW", "/replies", 405),
])
def test_admin_errors_are_json(http: requests.Session, remote_mock: RemoteMock, method: str,
                               path: str, status: int) -> None:
    response = admin(http, remote_mock, method, path)
    assert response.status_code == status
    assert isinstance(response.json()["error"], str)
    if status == 405:
        assert method not in response.headers["Allow"] and "GET" in response.headers["Allow"]
    assert remote_mock.requests == [], "admin traffic is not journaled"


def test_whole_numbers_written_with_a_fraction_are_taken_as_integers(
        http: requests.Session, remote_mock: RemoteMock) -> None:
    """JSON has one number type (RFC 8259 6), and JSON Schema's integer takes 201.0: such a
    status, times or retry_after is queued as the integer it is; 201.5 is still refused."""
    queued = admin(http, remote_mock, "POST", "/replies",
                   json={"status": 201.0, "times": 2.0, "retry_after": 5.0})
    assert queued.status_code == 201, queued.text
    [reply] = remote_mock.queued
    assert (reply["status"], reply["times"], reply["retry_after"]) == (201, 2, 5)
    assert all(type(reply[name]) is int for name in ("status", "times", "retry_after"))
    refused = admin(http, remote_mock, "POST", "/replies", json={"status": 201.5})
    assert refused.status_code == 400


def test_the_longest_list_the_contract_allows_is_queued_and_one_more_refused() -> None:
    """contract/admin.openapi.json: a list of replies is at most ``maxItems`` long, the queue's
    cap (docs/mock-server.md): that many fit an empty queue, one more is refused whole."""
    contract = json.loads((CONTRACT / "admin.openapi.json").read_text("utf-8"))
    schema = contract["paths"]["/__mock__/replies"]["post"][
        "requestBody"]["content"]["application/json"]["schema"]
    longest = next(option for option in schema["anyOf"] if option.get("type") == "array")[
        "maxItems"]
    client = create_app().test_client()
    over = client.post("/__mock__/replies", json=[{}] * (longest + 1))
    assert over.status_code == 400
    assert f"the reply queue holds at most {longest} replies" in over.get_json()["error"]
    assert client.get("/__mock__/replies").get_json() == {"replies": []}
    fits = client.post("/__mock__/replies", json=[{}] * longest)
    assert (fits.status_code, fits.get_json()["queued"]) == (201, longest)
