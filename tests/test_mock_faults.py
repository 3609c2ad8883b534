"""Every fault of the mock's catalogue, through the provider: each raises the error class
SPEC 3.1 names for it, and the journal records the request with the fault it was answered."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import requests
from conftest import LiveMock
from loopback import FAULT_ERRORS

import aichat
from mock_server import faults
from mock_server.process import MockProcess

MESSAGES = [{"role": "user", "content": "Hello"}]

pytestmark = pytest.mark.usefixtures("no_ambient_configuration")


def ask(mock: LiveMock, **kwargs: Any) -> str:
    return aichat.complete(MESSAGES, base_url=mock.url, **kwargs)


def test_every_fault_of_the_catalogue_is_covered() -> None:
    assert set(FAULT_ERRORS) == set(faults.FAULTS)


@pytest.mark.parametrize("fault", sorted(FAULT_ERRORS))
def test_fault_raises_the_error_the_spec_names(mock_server: LiveMock, fault: str) -> None:
    error_class, status = FAULT_ERRORS[fault]
    mock_server.queue({"fault": fault})
    with pytest.raises(error_class) as caught:
        ask(mock_server, max_retries=0)
    assert type(caught.value) is error_class, caught.value
    if isinstance(caught.value, aichat.AichatHTTPError):
        assert caught.value.status_code == status
    assert mock_server.url in str(caught.value)

    [entry] = mock_server.entries()
    assert entry["fault"] == fault
    assert entry["status"] == status
    assert entry["scripted"] is True
    assert entry["violations"] == []


def test_upstream_error_keeps_the_sites_reason(mock_server: LiveMock) -> None:
    mock_server.queue({"fault": "upstream_error", "message": "Too many people asking."})
    with pytest.raises(aichat.AichatUpstreamError) as caught:
        ask(mock_server)
    assert caught.value.reason == "Too many people asking."


def test_rate_limit_hands_retry_after_to_the_caller(mock_server: LiveMock) -> None:
    mock_server.queue({"fault": "rate_limit", "retry_after": 3600})
    with pytest.raises(aichat.AichatRateLimitError) as caught:
        ask(mock_server)
    assert caught.value.retry_after == 3600
    assert len(mock_server.entries()) == 1, "a wait beyond the provider's cap is not retried"


def test_a_retried_fault_is_journaled_once_per_attempt(mock_server: LiveMock) -> None:
    mock_server.queue({"fault": "rate_limit", "retry_after": 0, "times": 2},
                      {"message": "at last"})
    assert ask(mock_server, max_retries=2) == "at last"
    assert [entry["status"] for entry in mock_server.entries()] == [429, 429, 200]
    assert [entry["fault"] for entry in mock_server.entries()] == ["rate_limit", "rate_limit",
                                                                   None]


def test_a_status_overrides_the_faults_own(mock_server: LiveMock) -> None:
    mock_server.queue({"fault": "server_error", "status": 504, "message": "Gateway Timeout"})
    with pytest.raises(aichat.AichatHTTPError) as caught:
        ask(mock_server, max_retries=0)
    assert caught.value.status_code == 504
    assert "Gateway Timeout" in caught.value.body


def test_a_delay_beyond_the_timeout_is_a_timeout(mock_server: LiveMock) -> None:
    mock_server.queue({"message": "too late", "delay_ms": 2000})
    with pytest.raises(aichat.AichatTimeoutError):
        ask(mock_server, timeout=0.2)
    [entry] = mock_server.entries()
    assert entry["delay_ms"] == 2000
    assert entry["reply"] == {"response": True, "message": "too late"}


def test_a_delayed_answer_does_not_stall_other_clients(mock_server: LiveMock) -> None:
    mock_server.queue({"message": "slow", "delay_ms": 2000})
    answers: list[str] = []

    def ask_slowly() -> None:
        answers.append(aichat.complete([{"role": "user", "content": "slow"}],
                                       base_url=mock_server.url))

    thread = threading.Thread(target=ask_slowly, daemon=True)
    thread.start()
    # The slow request is journaled as soon as it is in, before its delay: then ask past it.
    while not mock_server.entries():
        threading.Event().wait(0.01)
    answers.append(ask(mock_server))
    thread.join(timeout=60)
    assert answers == ["You said: Hello", "slow"], "the fast answer came back first"


@pytest.mark.parametrize("server", ["werkzeug", "waitress", "granian"])
def test_other_servers_serve_the_same_mock(server: str) -> None:
    """The alternatives to the default server answer the provider the same way; granian,
    which gives the app no way to the socket, answers the disconnect fault 501."""
    with MockProcess(["--server", server, "--threads", "4"]) as process:
        url = process.url
        assert aichat.complete(MESSAGES, base_url=url) == "You said: Hello"
        admin = requests.Session()
        admin.trust_env = False
        admin.post(f"{url}/__mock__/replies", json={"fault": "disconnect"}).raise_for_status()
        if server == "granian":
            with pytest.raises(aichat.AichatHTTPError) as caught:
                aichat.complete(MESSAGES, base_url=url, max_retries=0)
            assert caught.value.status_code == 501
        else:
            with pytest.raises(aichat.AichatConnectionError):
                aichat.complete(MESSAGES, base_url=url, max_retries=0)
        total = admin.get(f"{url}/__mock__/requests").json()["total"]
        assert total == 2
        admin.close()
    assert process.returncode == 0
