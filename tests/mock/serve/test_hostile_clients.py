"""docs/mock-server.md, the mock against hostile clients, through the command as a user starts it:
the pages' security headers, scripted replies capped in bytes, admin bodies refused at their cap
while being read. Each attack is bounded and on loopback."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import requests

from mock_server.testing.remote import RemoteMock

# docs/mock-server.md: what every page sends.
PAGE_HEADERS = {"x-frame-options": "DENY", "x-content-type-options": "nosniff",
                "referrer-policy": "no-referrer"}


@pytest.fixture
def http() -> Iterator[requests.Session]:
    session = requests.Session()
    session.trust_env = False
    yield session
    session.close()


@pytest.mark.parametrize("path", ["/chat", "/__mock__/", "/__mock__/static/chat.js",
                                  "/ns/alice/chat", "/ns/alice/__mock__/"])
def test_pages_send_the_security_headers(remote_mock: RemoteMock, http: requests.Session,
                                         path: str) -> None:
    answer = http.get(remote_mock.url_for(path), timeout=30)
    assert answer.status_code == 200
    for name, value in PAGE_HEADERS.items():
        assert answer.headers.get(name) == value, name
    policy = answer.headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy


def test_the_api_answers_as_the_real_site_without_page_headers(remote_mock: RemoteMock,
                                                                http: requests.Session) -> None:
    answer = http.post(remote_mock.url_for("/api/text"),
                       json={"message": "user: Hi\nassistant:"}, timeout=30)
    assert answer.status_code == 200
    assert not {name.lower() for name in answer.headers} & {*PAGE_HEADERS,
                                                           "content-security-policy"}


def test_an_admin_body_over_its_cap_is_refused_while_it_is_read(remote_mock: RemoteMock
                                                                ) -> None:
    """A chunked body that never ends is refused once 8 MiB (docs/mock-server.md: admin bodies
    capped) have arrived, not read whole; the connection answers before the client stops sending."""
    host, port = remote_mock.base_url.removeprefix("http://").split(":")
    chunk = b"[" + b"{}," * 21_845  # 64 KiB of a JSON list that never closes
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(f"POST /__mock__/replies HTTP/1.1\r\nHost: {host}:{port}\r\n"
                     f"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                     .encode())
        sent = 0
        sock.settimeout(0.001)
        answer = b""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and sent < 64 * 1024 * 1024:
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            except (TimeoutError, BlockingIOError):
                pass
            except OSError:  # the mock closed the connection after refusing
                break
            try:
                answer += sock.recv(65536)
            except (TimeoutError, BlockingIOError):
                continue
            if answer:
                break
        sock.settimeout(10)
        while b"\r\n\r\n" not in answer:
            more = sock.recv(65536)
            if not more:
                break
            answer += more
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 32 * 1024 * 1024, f"refused only after {sent} bytes"
    assert remote_mock.queued == []


def test_a_reply_over_a_mebibyte_is_refused_and_nothing_is_queued(remote_mock: RemoteMock,
                                                                  http: requests.Session
                                                                  ) -> None:
    big = {"message": "x" * (1 << 20)}
    answer = http.post(remote_mock.url_for("/__mock__/replies"), json=[{"message": "a"}, big],
                       timeout=30)
    assert answer.status_code == 400
    assert "replies[1] is 1048" in answer.json()["error"] and "1048576" in answer.json()["error"]
    assert remote_mock.queued == []
    fits = {"message": "x" * ((1 << 20) - 1_000)}
    assert http.post(remote_mock.url_for("/__mock__/replies"), json=fits,
                     timeout=30).status_code == 201


# docs/mock-server.md: the credentials a request may carry, and how the journal keeps them.
SECRETS = {"Authorization": "Bearer sk-very-secret", "Cookie": "session=abc123; theme=dark",
           "Proxy-Authorization": "Basic dXNlcjpwYXNz"}


def test_secrets_are_redacted_in_the_journal_and_the_inspector_feed(
        remote_mock: RemoteMock, http: requests.Session) -> None:
    answer = http.post(remote_mock.url_for("/api/text"), headers=SECRETS,
                       json={"message": "user: Hi\nassistant:"}, timeout=30)
    assert answer.status_code == 200
    [entry] = remote_mock.requests
    for name, value in SECRETS.items():
        assert entry["headers"][name.lower()] == f"[redacted: {len(value)} chars]"
    raw = http.get(remote_mock.url_for("/__mock__/requests"), timeout=30).text
    assert not any(value in raw for value in SECRETS.values())
    assert entry["headers_truncated"] is False


def test_keep_secrets_keeps_them() -> None:
    from mock_server import MockProcess

    with MockProcess(["--keep-secrets"]) as process, requests.Session() as http:
        http.trust_env = False
        http.post(process.url + "/api/text", headers=SECRETS,
                  json={"message": "user: Hi\nassistant:"}, timeout=30)
        [entry] = process.mock.requests
    for name, value in SECRETS.items():
        assert entry["headers"][name.lower()] == value


# 12 headers of 7,000 bytes: 84 KB, over the 64 KiB docs/mock-server.md lets an entry keep.
BIG_HEADERS = {f"X-Filler-{number:02d}": "v" * 7_000 for number in range(12)}


def test_headers_over_the_servers_cap_get_431(remote_mock: RemoteMock,
                                              http: requests.Session) -> None:
    answer = http.post(remote_mock.url_for("/api/text"), headers=BIG_HEADERS,
                       json={"message": "user: Hi\nassistant:"}, timeout=30)
    assert answer.status_code == 431


def test_headers_count_against_the_journal_s_bound() -> None:
    """Where the server lets them through (a WSGI server, the socketless kit): the entry keeps
    64 KiB of names and values and says it cut them."""
    from mock_server import create_app, engine_of

    app = create_app()
    answer = app.test_client().post("/api/text", headers=BIG_HEADERS,
                                    json={"message": "user: Hi\nassistant:"})
    assert answer.status_code == 200
    [entry] = engine_of(app).requests()["requests"]
    assert entry["headers_truncated"] is True
    kept = sum(len(name) + len(value) for name, value in entry["headers"].items())
    assert 60 * 1024 <= kept <= 64 * 1024
