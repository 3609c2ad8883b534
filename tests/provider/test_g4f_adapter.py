"""The g4f adapter (``aichat.g4f_provider.Aichat``) inside the real g4f package, offline.

Every request goes to a scripted HTTP server on 127.0.0.1 started here; an audit hook refuses
(and reports) any other connection or DNS lookup, so a g4f code path that reaches the network
fails the test instead of slowing it down.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import g4f
import g4f.client
import g4f.cookies
import g4f.debug
import g4f.errors
import pytest
from g4f.config import AppConfig
from g4f.providers.base_provider import AbstractProvider, ProviderModelMixin
from g4f.providers.retry_provider import ProviderCircuitBreaker, RetryProvider

from aichat import Aichat as seed
from aichat.g4f_provider import Aichat
from support.expected import HEADERS as DOCUMENTED_HEADERS
from support.expected import HTTP_OWN_HEADERS as HTTP_ADDED
from support.network_guard import GUARD
from support.paths import ROOT

pytestmark = pytest.mark.g4f



MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hello"},
    {"role": "assistant", "content": "Hi!"},
    {"role": "user", "content": "Привет, мир"},
]
PROMPT = "system: Be brief.\nuser: Hello\nassistant: Hi!\nuser: Привет, мир\nassistant:"


def spec_body(message: str, temperature: Any = 1, presence_penalty: Any = 0, top_p: Any = 1,
              frequency_penalty: Any = 0) -> list[tuple[str, Any, type]]:
    """The contract's body as (key, value, type) in wire order: 1 and 1.0 are not the same here."""
    body = {"message": message, "temperature": temperature, "presence_penalty": presence_penalty,
            "top_p": top_p, "frequency_penalty": frequency_penalty}
    return [(key, value, type(value)) for key, value in body.items()]


# --- no network but loopback ------------------------------------------------------------------

@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """g4f without its outside world: no version check, cookies dir in tmp, no proxies from
    the environment, and any non-loopback socket refused and reported."""
    monkeypatch.setattr(g4f.debug, "version_check", False)  # else a thread asks PyPI/GitHub
    cookies_dir = g4f.cookies.CookiesConfig.cookies_dir
    g4f.cookies.set_cookies_dir(str(tmp_path / "g4f-cookies"))  # the clients log usage there
    for name in ("G4F_PROXY", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
                 "http_proxy", "https_proxy", "all_proxy", "no_proxy", "AICHAT_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(AppConfig, "proxy", None)  # Client default, from G4F_PROXY
    GUARD.attempts.clear()
    GUARD.active = True
    try:
        yield
    finally:
        GUARD.active = False
        g4f.cookies.set_cookies_dir(cookies_dir)
    assert GUARD.attempts == [], "g4f or the provider tried to leave the machine"


# --- a scripted loopback server -----------------------------------------------------------------

@dataclass
class Recorded:
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes

    def header_map(self) -> dict[str, str]:
        return {name.lower(): value for name, value in self.headers}

    def body_items(self) -> list[tuple[str, Any, type]]:
        data = json.loads(self.body)
        return [(key, value, type(value)) for key, value in data.items()]


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | dict[str, Any] = field(
        default_factory=lambda: {"response": True, "message": "Hello from the loopback"})
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # hold the answer until the test ends (for timeouts)
    barrier: threading.Barrier | None = None  # answer only once N requests are in


class ScriptedServer:
    """Records every request; answers queued replies in order, then the default one."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.queue: list[Reply] = []
        self.release = threading.Event()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with server._lock:
                    server.requests.append(
                        Recorded(self.command, self.path, list(self.headers.items()), body))
                    reply = server.queue.pop(0) if server.queue else Reply()
                if reply.hang:
                    server.release.wait(30)
                    return
                if reply.barrier is not None:
                    reply.barrier.wait()
                self._answer(reply)

            def _answer(self, reply: Reply) -> None:
                raw = reply.body
                if isinstance(raw, dict):
                    payload = json.dumps(raw).encode()
                    content_type = "application/json"
                else:
                    payload = raw.encode() if isinstance(raw, str) else raw
                    content_type = "text/plain; charset=utf-8"
                self.send_response(reply.status)
                headers = {"content-type": content_type, **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        # A short poll keeps shutdown() quick (it waits for the serving loop to notice).
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,),
                                        daemon=True)

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self.queue.extend(replies)

    def only_request(self) -> Recorded:
        assert len(self.requests) == 1, [r.path for r in self.requests]
        return self.requests[0]

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedServer]:
    with ScriptedServer() as running:
        monkeypatch.setenv("AICHAT_BASE_URL", running.url)
        yield running


def closed_port_url() -> str:
    """A loopback URL where nothing listens: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def assert_spec_request(recorded: Recorded, body: list[tuple[str, Any, type]]) -> None:
    assert recorded.method == "POST"
    assert recorded.path == "/api/text"
    headers = recorded.header_map()
    assert {name: headers.get(name) for name in DOCUMENTED_HEADERS} == DOCUMENTED_HEADERS
    assert set(headers) - set(DOCUMENTED_HEADERS) <= HTTP_ADDED
    assert recorded.body_items() == body


# --- the three entry points (and the async one of ChatCompletion) --------------------------------

def via_chat_completion(messages: list[Any], **kwargs: Any) -> str:
    result = g4f.ChatCompletion.create(model="gpt-3.5-turbo", messages=messages,
                                       provider=Aichat, **kwargs)
    assert isinstance(result, str)
    return result


def via_chat_completion_async(messages: list[Any], **kwargs: Any) -> str:
    async def run() -> str:
        return str(await g4f.ChatCompletion.create_async(
            model="gpt-3.5-turbo", messages=messages, provider=Aichat, **kwargs))
    return asyncio.run(run())


def via_client(messages: list[Any], **kwargs: Any) -> str:
    client = g4f.client.Client(provider=Aichat)
    response = client.chat.completions.create(model="gpt-3.5-turbo", messages=messages, **kwargs)
    assert response.choices[0].finish_reason == "stop"
    return str(response.choices[0].message.content)


def via_client_stream(messages: list[Any], **kwargs: Any) -> str:
    client = g4f.client.Client(provider=Aichat)
    chunks = client.chat.completions.create(model="gpt-3.5-turbo", messages=messages,
                                            stream=True, **kwargs)
    return "".join(chunk.choices[0].delta.content or "" for chunk in chunks)


def via_async_client(messages: list[Any], **kwargs: Any) -> str:
    async def run() -> str:
        client = g4f.client.AsyncClient(provider=Aichat)
        response = await client.chat.completions.create(
            model="gpt-3.5-turbo", messages=messages, **kwargs)
        return str(response.choices[0].message.content)
    return asyncio.run(run())


def via_async_client_stream(messages: list[Any], **kwargs: Any) -> str:
    async def run() -> str:
        client = g4f.client.AsyncClient(provider=Aichat)
        text = ""
        async for chunk in client.chat.completions.stream(
                model="gpt-3.5-turbo", messages=messages, **kwargs):
            text += chunk.choices[0].delta.content or ""
        return text
    return asyncio.run(run())


ENTRY_POINTS: dict[str, Callable[..., str]] = {
    "ChatCompletion.create": via_chat_completion,
    "ChatCompletion.create_async": via_chat_completion_async,
    "Client": via_client,
    "Client-stream": via_client_stream,
    "AsyncClient": via_async_client,
    "AsyncClient-stream": via_async_client_stream,
}


@pytest.mark.parametrize("call", ENTRY_POINTS.values(), ids=ENTRY_POINTS.keys())
def test_entry_point_returns_the_reply_and_sends_the_spec_request(
        server: ScriptedServer, call: Callable[..., str]) -> None:
    server.script(Reply(body={"response": True, "message": "Здравствуй!\nHow can I help?"}))
    assert call([dict(message) for message in MESSAGES]) == "Здравствуй!\nHow can I help?"
    assert_spec_request(server.only_request(), spec_body(PROMPT))


@pytest.mark.parametrize("call", [via_chat_completion, via_client, via_async_client],
                         ids=["ChatCompletion.create", "Client", "AsyncClient"])
def test_sampling_parameters_reach_the_wire(server: ScriptedServer,
                                           call: Callable[..., str]) -> None:
    call([{"role": "user", "content": "Hi"}], temperature=0.5, top_p=0.25,
         presence_penalty=-1, frequency_penalty=2)
    assert_spec_request(server.only_request(), spec_body(
        "user: Hi\nassistant:", temperature=0.5, presence_penalty=-1, top_p=0.25,
        frequency_penalty=2))


def test_client_base_url_reaches_the_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    # The environment points at a dead port: only the client's base_url can reach the server.
    monkeypatch.setenv("AICHAT_BASE_URL", closed_port_url())
    with ScriptedServer() as running:
        client = g4f.client.Client(provider=Aichat, base_url=running.url)
        response = client.chat.completions.create(
            model="gpt-3.5-turbo", messages=[{"role": "user", "content": "Hello"}])
        assert response.choices[0].message.content == "Hello from the loopback"
        assert_spec_request(running.only_request(), spec_body("user: Hello\nassistant:"))


def test_base_url_keyword_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AICHAT_BASE_URL", closed_port_url())
    with ScriptedServer() as running:
        assert via_chat_completion([{"role": "user", "content": "Hi"}],
                                   base_url=running.url + "/") == "Hello from the loopback"
        assert running.only_request().path == "/api/text"


def proxy_by_keyword(url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    return via_chat_completion(MESSAGES[1:2], proxy=url)


def proxy_by_g4f_environment(url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("G4F_PROXY", url)  # ChatCompletion reads it when no proxy is given
    return via_chat_completion(MESSAGES[1:2])


def proxy_by_client(url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    client = g4f.client.Client(provider=Aichat, proxies=url)
    return str(client.chat.completions.create(messages=MESSAGES[1:2]).choices[0].message.content)


PROXY_ROUTES = {"ChatCompletion-proxy": proxy_by_keyword,
                "ChatCompletion-G4F_PROXY": proxy_by_g4f_environment,
                "Client-proxies": proxy_by_client}


@pytest.mark.parametrize("route", PROXY_ROUTES.values(), ids=PROXY_ROUTES.keys())
def test_proxy_reaches_the_provider(monkeypatch: pytest.MonkeyPatch,
                                    route: Callable[..., str]) -> None:
    # The scripted server plays the HTTP proxy: a proxied request names its full target URL,
    # and the target host (reserved .invalid) is never looked up by the client.
    monkeypatch.setenv("AICHAT_BASE_URL", "http://chat-gpt.invalid")
    with ScriptedServer() as proxy:
        assert route(proxy.url, monkeypatch) == "Hello from the loopback"
        recorded = proxy.only_request()
        assert recorded.path == "http://chat-gpt.invalid/api/text"
        assert recorded.header_map()["host"] == "chat-gpt.invalid"
        assert recorded.body_items() == spec_body("user: Hello\nassistant:")


def test_keyword_arguments_flow_through_g4f_to_the_seed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[Any, ...]] = []

    def fake(model: str, messages: list[Any], stream: bool, **kwargs: Any) -> Iterator[str]:
        seen.append((model, messages, stream, kwargs))
        yield "stubbed"

    monkeypatch.setattr(seed, "_create_completion", fake)
    given = {"base_url": "http://127.0.0.1:9", "timeout": 7, "proxy": "http://p:3128",
             "max_retries": 1, "temperature": 0.3, "presence_penalty": 0.1, "top_p": 0.9,
             "frequency_penalty": -0.5, "max_response_bytes": 1000}
    assert via_chat_completion(MESSAGES[1:2], **given) == "stubbed"
    assert via_async_client(MESSAGES[1:2], api_key="ignored", **given) == "stubbed"
    for model, messages, stream, kwargs in seen:
        assert (model, messages, stream) == ("gpt-3.5-turbo", MESSAGES[1:2], False)
        assert given.items() <= kwargs.items()
    assert seen[1][3]["api_key"] == "ignored"  # extra g4f arguments arrive and are ignored


def test_empty_model_means_the_default_model(monkeypatch: pytest.MonkeyPatch) -> None:
    models: list[str] = []

    def fake(model: str, messages: list[Any], stream: bool, **kwargs: Any) -> Iterator[str]:
        models.append(model)
        yield "ok"

    monkeypatch.setattr(seed, "_create_completion", fake)
    assert via_client(MESSAGES[1:2]) == "ok"  # the client's model defaults to ""
    assert models == ["gpt-3.5-turbo"]


def test_async_requests_do_not_block_the_event_loop(server: ScriptedServer) -> None:
    # Each answer waits until both requests are in: that only happens if the first
    # request does not hold the event loop while it waits.
    barrier = threading.Barrier(2, timeout=10)
    server.script(Reply(barrier=barrier), Reply(barrier=barrier))

    async def run() -> list[str]:
        client = g4f.client.AsyncClient(provider=Aichat)
        responses = await asyncio.gather(*(client.chat.completions.create(
            model="gpt-3.5-turbo", messages=[{"role": "user", "content": text}])
            for text in ("one", "two")))
        return [str(response.choices[0].message.content) for response in responses]

    assert asyncio.run(run()) == ["Hello from the loopback"] * 2
    assert sorted(r.body_items()[0][1] for r in server.requests) == [
        "user: one\nassistant:", "user: two\nassistant:"]


def test_g4f_clients_rewrite_messages_before_the_provider_sees_them(
        server: ScriptedServer) -> None:
    # g4f's clients (not ChatCompletion) run optimize_request first: among others it drops a
    # repeated turn, in the caller's own list. The flattening is the seed's; its input differs.
    def conversation() -> list[dict[str, str]]:
        return [{"role": "user", "content": "Hello"}, {"role": "user", "content": "Hello"}]

    via_chat_completion(conversation())
    given = conversation()
    via_client(given)
    sent = [recorded.body_items()[0][1] for recorded in server.requests]
    assert sent == ["user: Hello\nuser: Hello\nassistant:", "user: Hello\nassistant:"]
    assert given == [{"role": "user", "content": "Hello"}]


def test_clients_log_usage_only_in_the_redirected_cookies_dir(
        server: ScriptedServer, tmp_path: Path) -> None:
    via_client(MESSAGES[1:2])
    assert list((tmp_path / "g4f-cookies" / ".usage").glob("*.jsonl"))


# --- error mapping, through real HTTP -------------------------------------------------------------

ERROR_CASES: dict[str, tuple[Reply, type[Exception], type[Exception]]] = {
    "429": (Reply(429, "Too Many Requests", {"retry-after": "7"}),
            g4f.errors.RateLimitError, seed.AichatRateLimitError),
    "403-cloudflare": (Reply(403, "<!DOCTYPE html><html><title>Just a moment...</title></html>",
                             {"content-type": "text/html"}),
                       g4f.errors.CloudflareError, seed.AichatBlockedError),
    "200-html": (Reply(200, "<html><body>challenge</body></html>", {"content-type": "text/html"}),
                 g4f.errors.CloudflareError, seed.AichatBlockedError),
    "500": (Reply(500, "boom"), g4f.errors.ResponseStatusError, seed.AichatHTTPError),
    "502": (Reply(502, "bad gateway"), g4f.errors.ResponseStatusError, seed.AichatHTTPError),
    "503": (Reply(503, "down"), g4f.errors.ResponseStatusError, seed.AichatHTTPError),
    "200-not-json": (Reply(200, "not json"), g4f.errors.ResponseError, seed.AichatResponseError),
    "200-no-message": (Reply(200, {"response": True}),
                       g4f.errors.ResponseError, seed.AichatResponseError),
    "200-refused": (Reply(200, {"response": False, "message": "no, thanks"}),
                    g4f.errors.ResponseError, seed.AichatUpstreamError),
    "timeout": (Reply(hang=True), g4f.errors.TimeoutError, seed.AichatTimeoutError),
}


@pytest.mark.parametrize("reply, g4f_class, seed_class", ERROR_CASES.values(),
                         ids=ERROR_CASES.keys())
def test_seed_errors_become_g4f_errors(server: ScriptedServer, reply: Reply,
                                       g4f_class: type[Exception],
                                       seed_class: type[Exception]) -> None:
    server.script(reply)
    with pytest.raises(g4f_class) as caught:
        via_chat_completion(MESSAGES[1:2], max_retries=0, timeout=0.25)
    error = caught.value
    assert type(error) is g4f_class
    assert type(error.__cause__) is seed_class
    assert str(error) == str(error.__cause__)
    assert server.url in str(error)
    assert len(server.requests) == 1


@pytest.mark.parametrize("call", [via_chat_completion, via_client, via_async_client],
                         ids=["ChatCompletion.create", "Client", "AsyncClient"])
def test_max_response_bytes_reaches_the_seed_through_g4f(
        server: ScriptedServer, call: Callable[..., str]) -> None:
    server.script(Reply(200, {"response": True, "message": "x" * 100}))
    with pytest.raises(g4f.errors.ResponseError) as caught:
        call(MESSAGES[1:2], max_response_bytes=64)
    assert type(caught.value.__cause__) is seed.AichatResponseError
    assert "more than 64 bytes" in str(caught.value)


def test_rate_limit_keeps_retry_after_on_the_cause(server: ScriptedServer) -> None:
    server.script(Reply(429, "Too Many Requests", {"retry-after": "7"}))
    with pytest.raises(g4f.errors.RateLimitError) as caught:
        via_client(MESSAGES[1:2], max_retries=0)
    cause = caught.value.__cause__
    assert isinstance(cause, seed.AichatRateLimitError)
    assert (cause.status_code, cause.retry_after) == (429, 7.0)


def test_upstream_refusal_keeps_the_reason_on_the_cause(server: ScriptedServer) -> None:
    server.script(Reply(200, {"response": False, "message": "no, thanks"}))
    with pytest.raises(g4f.errors.ResponseError) as caught:
        via_async_client(MESSAGES[1:2])
    assert isinstance(caught.value.__cause__, seed.AichatUpstreamError)
    assert caught.value.__cause__.reason == "no, thanks"


def test_unreachable_site_is_provider_not_working(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AICHAT_BASE_URL", closed_port_url())
    with pytest.raises(g4f.errors.ProviderNotWorkingError) as caught:
        via_chat_completion(MESSAGES[1:2], max_retries=0)
    assert type(caught.value.__cause__) is seed.AichatConnectionError


@pytest.mark.parametrize("call", [via_chat_completion, via_client, via_async_client],
                         ids=["ChatCompletion.create", "Client", "AsyncClient"])
def test_input_errors_pass_through_unchanged_before_any_request(
        server: ScriptedServer, call: Callable[..., str]) -> None:
    with pytest.raises(seed.AichatInputError) as caught:
        call(MESSAGES[1:2], temperature=5)
    assert isinstance(caught.value, ValueError)
    assert "temperature" in str(caught.value)
    assert server.requests == []


def test_g4f_retry_provider_retries_on_a_mapped_error(server: ScriptedServer) -> None:
    # The seed does not retry here (max_retries=0): g4f's own retry loop does.
    server.script(Reply(503, "down"))
    provider = RetryProvider([Aichat], shuffle=False, single_provider_retry=True, max_retries=2)
    try:
        reply = g4f.ChatCompletion.create(model="gpt-3.5-turbo", messages=MESSAGES[1:2],
                                          provider=provider, max_retries=0)
    finally:
        ProviderCircuitBreaker.reset()
    assert reply == "Hello from the loopback"
    assert len(server.requests) == 2


# --- the class ------------------------------------------------------------------------------------

def test_class_attributes() -> None:
    assert issubclass(Aichat, AbstractProvider)
    assert issubclass(Aichat, ProviderModelMixin)
    assert Aichat.url == "https://chat-gpt.org/chat"
    assert Aichat.working is True
    assert Aichat.needs_auth is False
    assert Aichat.supports_stream is False
    assert Aichat.supports_message_history is True
    assert Aichat.supports_system_message is True
    assert Aichat.default_model == "gpt-3.5-turbo"
    assert Aichat.models == ["gpt-3.5-turbo"]
    assert Aichat.get_models() == ["gpt-3.5-turbo"]
    assert Aichat.get_dict() == {"name": "Aichat", "url": "https://chat-gpt.org/chat",
                                 "label": "Aichat (chat-gpt.org)"}
    assert set(Aichat.get_parameters()) == {"model", "messages"}  # no stream: it cannot
    # g4f's own rendering of the class's signature: no stream, which the site cannot do.
    assert Aichat.get_params() == (
        "g4f.Provider.Aichat supports: (\n    model: str,\n    messages: list[Any],\n)")


def test_use_stream_timeout_is_set_on_the_class() -> None:
    # g4f 8.8.6's async path reads it for every provider; AbstractProvider lacks it.
    assert not hasattr(AbstractProvider, "use_stream_timeout")
    assert "use_stream_timeout" in vars(Aichat)
    # True: g4f adds a clock of its own only when the caller passes stream_timeout, so the
    # seed's timeout (and the error it maps to) stays the one clock.
    assert Aichat.use_stream_timeout is True


def test_create_completion_has_g4f_signature() -> None:
    parameters = inspect.signature(Aichat.create_completion).parameters
    assert list(parameters)[:3] == ["model", "messages", "stream"]
    assert parameters["stream"].default is False  # g4f's config routes call it without stream
    assert inspect.isgeneratorfunction(Aichat.create_completion.__func__)


def test_create_completion_yields_the_reply_once(server: ScriptedServer) -> None:
    chunks = list(Aichat.create_completion("gpt-3.5-turbo", MESSAGES[1:2]))
    assert chunks == ["Hello from the loopback"]


def test_streaming_through_chat_completion_is_refused_by_g4f(server: ScriptedServer) -> None:
    with pytest.raises(g4f.errors.StreamNotSupportedError):
        g4f.ChatCompletion.create(model="gpt-3.5-turbo", messages=MESSAGES[1:2],
                                  provider=Aichat, stream=True)
    assert server.requests == []


def test_import_without_g4f_names_the_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['g4f'] = None\n"
        "import aichat\n"  # the package itself must not need g4f
        "try:\n"
        "    import aichat.g4f_provider\n"
        "except ImportError as error:\n"
        "    print(error)\n"
        "else:\n"
        "    raise SystemExit('imported without g4f')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, env=env, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert 'pip install "g4f-aichat[g4f]"' in result.stdout
