"""The mock at the site's own address: ``aichat-mock --intercept`` as an intercepting proxy
(docs/mock-server.md, "Unmodified clients"), with real clients, unchanged, on loopback: curl,
requests and httpx through the environment, aiohttp with ``proxy=``, curl_cffi impersonating
Chrome 110 (as g4f 0.1.7.2 called the site), the provider itself with no base URL; a CONNECT
or absolute-form request for any other host refused with nothing dialled; the CA kept, reused
and refused when damaged; the limits inside a tunnel."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import requests
from curl_cffi import requests as curl_requests

import aichat
from mock_server.testing.child_process import MockProcess
from mock_server.testing.remote import RemoteMock
from support import expected
from support.raw_client import connect, parse_response, read_all, read_response, session

SITE = expected.SITE  # https://chat-gpt.org
HEAD_TIMEOUT = 1.0
SLACK = 1.5
BODY = {"message": "user: Hello\nassistant:"}
ECHO = {"response": True, "message": "You said: Hello"}


@pytest.fixture(scope="module")
def ca_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ca") / "state"


@pytest.fixture(scope="module")
def proxy(ca_dir: Path) -> Iterator[MockProcess]:
    with MockProcess(["--intercept", "--ca-dir", str(ca_dir), "--intercept-host",
                      "other.test", "--head-timeout", str(HEAD_TIMEOUT)]) as process:
        yield process


@pytest.fixture
def mock(proxy: MockProcess) -> RemoteMock:
    proxy.mock.reset()
    proxy.mock.admin.call("DELETE", "/requests", params={"namespace": "*"})
    return proxy.mock


@pytest.fixture
def ca_file(ca_dir: Path) -> str:
    return str(ca_dir / "ca.pem")


def environment(proxy_url: str, ca_file: str) -> dict[str, str]:
    """The variables the mock prints at start, for a client process of the test's own."""
    return {**os.environ, "HTTPS_PROXY": proxy_url, "HTTP_PROXY": proxy_url,
            "NO_PROXY": "localhost,127.0.0.1,::1", "REQUESTS_CA_BUNDLE": ca_file,
            "SSL_CERT_FILE": ca_file, "CURL_CA_BUNDLE": ca_file}


def proxied(entry: dict[str, object], scheme: str = "https") -> bool:
    return (entry["via"], entry["host"], entry["scheme"]) == ("proxy", "chat-gpt.org", scheme)


# --- real clients, unchanged ------------------------------------------------------------------

def test_curl_through_the_proxy_gets_the_mocks_answer(mock: RemoteMock, ca_file: str) -> None:
    curl = shutil.which("curl")
    assert curl, "curl is installed by make test (Makefile, target curl)"
    result = subprocess.run(
        [curl, "-sS", "--proxy", mock.base_url, "--cacert", ca_file, f"{SITE}/api/text",
         "-H", "Content-Type: application/json", "-d", json.dumps(BODY)],
        capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ECHO
    [entry] = mock.requests
    assert proxied(entry) and entry["json"] == BODY


def printed_by(script: str, mock: RemoteMock, ca_file: str) -> object:
    """What ``script`` prints (as JSON), run in a process of its own with the variables the
    mock prints at start."""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=environment(mock.base_url, ca_file), timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_requests_and_httpx_through_the_environment(mock: RemoteMock, ca_file: str) -> None:
    script = (
        "import json, sys, requests, httpx\n"
        f"body = {BODY!r}\n"
        f"a = requests.post('{SITE}/api/text', json=body, timeout=10).json()\n"
        f"b = httpx.post('{SITE}/api/text', json=body, timeout=10).json()\n"
        "print(json.dumps([a, b]))\n")
    assert printed_by(script, mock, ca_file) == [ECHO, ECHO]
    entries = mock.requests
    assert len(entries) == 2 and all(proxied(entry) for entry in entries)


def test_aiohttp_with_the_proxy_as_an_argument(mock: RemoteMock, ca_file: str) -> None:
    async def ask() -> object:
        context = ssl.create_default_context(cafile=ca_file)
        async with aiohttp.ClientSession() as client, client.post(
                f"{SITE}/api/text", json=BODY, proxy=mock.base_url, ssl=context) as answer:
            return await answer.json()

    assert asyncio.run(ask()) == ECHO
    [entry] = mock.requests
    assert proxied(entry)


# What g4f 0.1.7.2's Aichat asked curl_cffi to look like; Chrome 110 says so in its own headers.
IMPERSONATE = "chrome110"
CHROME_110 = '"Chromium";v="110"'


def impersonated(entry: dict[str, object]) -> bool:
    headers = entry["headers"]
    assert isinstance(headers, dict)
    return CHROME_110 in headers.get("sec-ch-ua", "") and "Chrome/110." in headers["user-agent"]


def test_curl_cffi_impersonating_chrome_through_the_environment(mock: RemoteMock,
                                                               ca_file: str) -> None:
    """libcurl takes the proxy from the environment, curl_cffi the CA from
    ``REQUESTS_CA_BUNDLE`` (else certifi's bundle): the code is as it would be for the site."""
    script = (
        "import json\n"
        "from curl_cffi import requests\n"
        f"answer = requests.post('{SITE}/api/text', json={BODY!r}, "
        f"impersonate='{IMPERSONATE}', timeout=10)\n"
        "print(json.dumps(answer.json()))\n")
    assert printed_by(script, mock, ca_file) == ECHO
    [entry] = mock.requests
    assert proxied(entry) and entry["json"] == BODY
    assert impersonated(entry), entry["headers"]


def test_curl_cffi_with_the_proxy_and_the_ca_as_arguments(mock: RemoteMock, ca_file: str,
                                                         no_ambient_configuration: None) -> None:
    """g4f 0.1.7.2's shape (an ``AsyncSession`` given ``proxies``), verifying with the mock's
    CA; without it the mock's certificate is refused, so the check is not switched off."""
    async def ask(verify: str | bool) -> object:
        async with curl_requests.AsyncSession(impersonate=IMPERSONATE, trust_env=False,
                                              proxies={"https": mock.base_url},
                                              verify=verify, timeout=10) as client:
            answer = await client.post(f"{SITE}/api/text", json=BODY)
            return answer.json()

    assert asyncio.run(ask(ca_file)) == ECHO
    with pytest.raises(curl_requests.exceptions.CertificateVerifyError):
        asyncio.run(ask(True))  # certifi's bundle: the mock's CA is not in it
    [entry] = mock.requests
    assert proxied(entry) and impersonated(entry)


def test_the_provider_called_with_no_base_url_reaches_the_mock(
        mock: RemoteMock, ca_file: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in environment(mock.base_url, ca_file).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(expected.BASE_URL_ENV, raising=False)
    mock.reply("through the proxy")
    assert aichat.complete([{"role": "user", "content": "Hello"}]) == "through the proxy"
    [entry] = mock.requests
    assert proxied(entry)
    # What the site would have seen: the contract's headers, untouched by the proxy.
    assert entry["header_diff"] == {}


def test_an_absolute_form_request_is_served_as_the_site(mock: RemoteMock) -> None:
    with session() as http:
        http.proxies = {"http": mock.base_url}
        answer = http.post("http://chat-gpt.org/api/text", json=BODY, timeout=10)
    assert answer.json() == ECHO
    [entry] = mock.requests
    assert proxied(entry, scheme="http")


def test_an_intercept_host_given_at_start_is_answered(mock: RemoteMock, ca_file: str) -> None:
    with requests.Session() as http:
        http.trust_env = False
        answer = http.post("https://other.test/api/text", json=BODY, timeout=10,
                           proxies={"https": mock.base_url}, verify=ca_file)
    assert answer.json() == ECHO
    assert mock.requests[0]["host"] == "other.test"


def test_the_fixture_reaches_the_test_s_mock(aichat_intercept: RemoteMock) -> None:
    aichat_intercept.reply("from the fixture")
    assert aichat.complete([{"role": "user", "content": "Hi"}]) == "from the fixture"
    assert aichat_intercept.last is not None and aichat_intercept.last["via"] == "proxy"
    assert os.environ["REQUESTS_CA_BUNDLE"] == aichat_intercept.ca_file


# --- not an open proxy ------------------------------------------------------------------------

@pytest.fixture
def bystander() -> Iterator[tuple[str, list[socket.socket]]]:
    """A listener on another loopback address: any connection the mock dialled would land
    here."""
    server = socket.create_server(("127.0.0.2", 0))
    accepted: list[socket.socket] = []
    server.settimeout(0.2)

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.2:{server.getsockname()[1]}", accepted
    finally:
        server.close()
        thread.join(2)


def test_a_connect_to_another_host_is_refused_and_nothing_is_dialled(
        mock: RemoteMock, bystander: tuple[str, list[socket.socket]]) -> None:
    target, accepted = bystander
    for host in (target, "example.com:443"):
        with connect(mock.base_url) as sock:
            sock.sendall(f"CONNECT {host} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            answer = parse_response(read_all(sock))
        assert answer.status == 403
        message = answer.json()["message"]
        assert "chat-gpt.org" in message and "other.test" in message
    with connect(mock.base_url) as sock:
        sock.sendall(b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n")
        assert parse_response(read_all(sock)).status == 403
    time.sleep(0.3)
    assert accepted == [], "the mock connected somewhere"
    assert mock.requests == []


def test_without_intercept_connect_gets_405_naming_the_flag(
        remote_mock: RemoteMock) -> None:
    with connect(remote_mock.base_url) as sock:
        sock.sendall(b"CONNECT chat-gpt.org:443 HTTP/1.1\r\nHost: chat-gpt.org:443\r\n\r\n")
        answer = parse_response(read_all(sock))
    assert answer.status == 405 and "--intercept" in answer.json()["message"]
    with session() as http:
        assert http.get(remote_mock.url_for("/__mock__/ca.pem"), timeout=10).status_code == 404


def test_a_wsgi_server_refuses_intercept_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mock_server", "--intercept", "--server", "waitress",
         "--ca-dir", str(tmp_path)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "--intercept needs the mock's own server" in result.stderr.splitlines()[-1]


# --- the certificate authority ----------------------------------------------------------------

def test_the_ca_is_kept_owner_only_served_and_reused(proxy: MockProcess, ca_dir: Path) -> None:
    key = ca_dir / "ca-key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((ca_dir / "ca.pem").stat().st_mode) == 0o644
    with session() as http:
        served = http.get(proxy.url + "/__mock__/ca.pem", timeout=10)
    assert served.headers["content-type"] == "application/x-pem-file"
    assert served.content == (ca_dir / "ca.pem").read_bytes()
    with MockProcess(["--intercept", "--ca-dir", str(ca_dir)]) as again, session() as http:
        assert http.get(again.url + "/__mock__/ca.pem", timeout=10).content == served.content
    assert any("REQUESTS_CA_BUNDLE=" + str(ca_dir / "ca.pem") in line
               for line in proxy.output)


@pytest.mark.parametrize("damage", ["garbage", "key missing", "key readable by others"])
def test_a_damaged_ca_folder_is_refused_in_one_line(tmp_path: Path, damage: str) -> None:
    folder = tmp_path / "ca"
    with MockProcess(["--intercept", "--ca-dir", str(folder)]):
        pass
    if damage == "garbage":
        (folder / "ca.pem").write_text("not a certificate")
    elif damage == "key missing":
        (folder / "ca-key.pem").unlink()
    else:
        (folder / "ca-key.pem").chmod(0o644)
    result = subprocess.run([sys.executable, "-m", "mock_server", "--intercept", "--ca-dir",
                             str(folder), "--port", "0"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(folder) in lines[0], lines


# --- the limits inside a tunnel ---------------------------------------------------------------

def open_tunnel(mock: RemoteMock) -> socket.socket:
    sock = connect(mock.base_url)
    sock.sendall(b"CONNECT chat-gpt.org:443 HTTP/1.1\r\nHost: chat-gpt.org:443\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1024)
        assert chunk, head
        head += chunk
    assert head.startswith(b"HTTP/1.1 200"), head
    return sock


def test_plain_http_inside_a_tls_tunnel_is_refused_clearly(mock: RemoteMock) -> None:
    with open_tunnel(mock) as sock:
        sock.sendall(b"POST /api/text HTTP/1.1\r\nHost: chat-gpt.org\r\nContent-Length: 2\r\n"
                     b"\r\n{}")
        answer = parse_response(read_all(sock))
    assert answer.status == 400 and "TLS tunnel" in answer.json()["message"]
    assert mock.requests == []


def test_a_handshake_that_does_not_finish_is_cut_at_the_head_timeout(
        mock: RemoteMock) -> None:
    with open_tunnel(mock) as sock:
        sock.sendall(b"\x16\x03\x01")  # the start of a ClientHello, and no more
        started = time.monotonic()
        sock.settimeout(HEAD_TIMEOUT + SLACK + 5)
        assert sock.recv(1024) == b""
        assert time.monotonic() - started < HEAD_TIMEOUT + SLACK + 1


def test_no_client_certificate_is_asked_for(mock: RemoteMock, ca_file: str) -> None:
    context = ssl.create_default_context(cafile=ca_file)
    with open_tunnel(mock) as raw, context.wrap_socket(raw,
                                                        server_hostname="chat-gpt.org") as tls:
        # A server that asks for one fails the handshake of a client that has none.
        tls.sendall(b"GET /chat HTTP/1.1\r\nHost: chat-gpt.org\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := tls.recv(65_536):
            data += chunk
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
        assert tls.selected_alpn_protocol() in (None, "http/1.1")
    assert parse_response(data).status == 200
    [entry] = mock.requests
    assert entry["path"] == "/chat" and proxied(entry)


def test_hundreds_of_held_tunnels_do_not_hold_up_a_normal_request(mock: RemoteMock,
                                                                 ca_file: str) -> None:
    """docs/mock-server.md, Limits, inside tunnels in small: 100 tunnels opened and left
    before their handshake, 100 with half a ClientHello and 100 with TLS made and idle, all
    held at once; a normal request through the proxy is answered within a second, and the
    unfinished handshakes are cut at the head timeout."""
    context = ssl.create_default_context(cafile=ca_file)
    held: list[socket.socket] = []
    handshaking: list[socket.socket] = []
    try:
        for kind in range(300):
            sock = open_tunnel(mock)
            if kind % 3 == 1:
                sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
                handshaking.append(sock)
            elif kind % 3 == 2:
                sock = context.wrap_socket(sock, server_hostname="chat-gpt.org")
            else:
                handshaking.append(sock)
            held.append(sock)
        with session() as http:
            http.proxies = {"https": mock.base_url}
            http.verify = ca_file
            started = time.monotonic()
            answer = http.post(f"{SITE}/api/text", json=BODY, timeout=10)
            took = time.monotonic() - started
        assert answer.status_code == 200 and answer.json() == ECHO
        assert took < 1.0
        deadline = time.monotonic() + HEAD_TIMEOUT + 3 * SLACK
        for sock in handshaking:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            assert sock.recv(1024) == b""  # closed by the mock, none left hanging
    finally:
        for sock in held:
            sock.close()
    [entry] = mock.requests
    assert entry["path"] == "/api/text" and proxied(entry)


def test_a_request_given_again_before_a_connect_is_read_afresh_inside_the_tunnel(
        mock: RemoteMock, ca_file: str) -> None:
    """docs/internals.md, "Answers given again": what a connection kept of a plain request
    sent over and over is not given to the same bytes once it is a tunnel, where the request is
    the site's over TLS and is journaled as such."""
    body = json.dumps(BODY).encode()
    plain = (b"POST /api/text HTTP/1.1\r\nHost: chat-gpt.org\r\nContent-Type: application/json"
             b"\r\nContent-Length: %d\r\n\r\n" % len(body)) + body
    context = ssl.create_default_context(cafile=ca_file)
    with connect(mock.base_url) as raw:
        for _ in range(4):  # read by the parser, then known, then twice in a row: kept
            raw.sendall(plain)
            assert read_response(raw).json() == ECHO
        raw.sendall(b"CONNECT chat-gpt.org:443 HTTP/1.1\r\nHost: chat-gpt.org:443\r\n\r\n")
        assert read_response(raw, head=True).status == 200
        with context.wrap_socket(raw, server_hostname="chat-gpt.org") as tls:
            tls.sendall(plain)
            assert read_response(tls).json() == ECHO
    entries = mock.requests
    assert [(entry["via"], entry["scheme"]) for entry in entries] == [(None, "http")] * 4 + [
        ("proxy", "https")]
    assert proxied(entries[-1])
