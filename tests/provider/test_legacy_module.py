"""The 2023 module check: the provider module as g4f shipped it in 2023 (tests/provider/legacy), run
unchanged against the mock, must put on the wire exactly what ``aichat.Aichat`` puts there.

Its URL is hard-coded to https://chat-gpt.org, so a transport adapter that sends the request
to the mock instead is mounted on every ``requests`` session the test makes; nothing in the
module is touched.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from aichat import Aichat
from mock_server.core import contract
from mock_server.testing.remote import RemoteMock

SITE = "https://chat-gpt.org"
LEGACY_ROOT = Path(__file__).resolve().parent / "legacy"
LEGACY_MODULE = "gpt4free_2023.Provider.Providers.Aichat"

# The golden cases the 2023 module can take: plain string contents, no keyword arguments.
CASES = [case for case in contract.cases()
         if case["request"] is not None and not case["kwargs"]
         and all(isinstance(message.get("content"), str) for message in case["messages"])]

pytestmark = pytest.mark.usefixtures("no_ambient_configuration")


class ToTheMock(HTTPAdapter):
    """Sends what was addressed to the real site to the mock, path and all."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base

    def send(self, request: requests.PreparedRequest, *args: Any,
             **kwargs: Any) -> requests.Response:
        assert request.url is not None and request.url.startswith(SITE + "/")
        request.url = self.base + request.url[len(SITE):]
        return super().send(request, *args, **kwargs)


@pytest.fixture
def legacy(monkeypatch: pytest.MonkeyPatch, remote_mock: RemoteMock) -> Iterator[ModuleType]:
    """The 2023 module, imported from its 2023 package layout, talking to the mock."""
    original_init = requests.Session.__init__

    def init(session: requests.Session) -> None:
        original_init(session)
        session.mount(SITE + "/", ToTheMock(remote_mock.base_url))

    monkeypatch.setattr(requests.Session, "__init__", init)
    monkeypatch.syspath_prepend(str(LEGACY_ROOT))
    module = importlib.import_module(LEGACY_MODULE)
    yield module


def test_the_2023_module_is_the_seeds(legacy: ModuleType) -> None:
    assert (legacy.url, legacy.model, legacy.supports_stream, legacy.needs_auth) == (
        Aichat.url, Aichat.model, Aichat.supports_stream, Aichat.needs_auth)
    assert legacy.params == Aichat.params == (
        "g4f.Providers.Aichat supports: (model: str, messages: list, stream: bool)")


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_the_2023_module_and_ours_send_the_same_request(legacy: ModuleType,
                                                        remote_mock: RemoteMock,
                                                        case: dict[str, Any]) -> None:
    messages = case["messages"]
    remote_mock.queue({"message": "from 2023"}, {"message": "from today"})

    assert list(legacy._create_completion("gpt-3.5-turbo", messages, False)) == ["from 2023"]
    assert list(Aichat._create_completion("gpt-3.5-turbo", messages, False,
                                          base_url=remote_mock.base_url)) == ["from today"]

    then, now = remote_mock.requests
    assert then["headers"] == now["headers"]
    assert list(then["headers"]) == list(now["headers"]), "the same header order"
    assert then["body"] == now["body"], "the same body bytes"
    assert then["json"] == now["json"] == case["request"]["body"]
    assert (then["method"], then["path"]) == (now["method"], now["path"]) == ("POST",
                                                                               "/api/text")
    assert then["header_diff"] == now["header_diff"] == {}
    assert then["violations"] == now["violations"] == []


def test_the_2023_module_reads_the_mocks_echo(legacy: ModuleType, remote_mock: RemoteMock) -> None:
    answer = legacy._create_completion(
        "gpt-3.5-turbo", [{"role": "user", "content": "Hello, how are you?"}], False)
    assert next(answer) == "You said: Hello, how are you?"
    assert len(remote_mock.requests) == 1
