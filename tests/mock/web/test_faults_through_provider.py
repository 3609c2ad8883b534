"""Every fault of the mock's catalogue, through the provider: each raises the error class
docs/provider.md names for it, and the journal records the request with the fault it was
answered."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import aichat
from mock_server.core import faults
from mock_server.testing.child_process import MockProcess
from mock_server.testing.remote import RemoteMock
from support.contract_data import FAULT_ERRORS

MESSAGES = [{"role": "user", "content": "Hello"}]

pytestmark = pytest.mark.usefixtures("no_ambient_configuration")


def ask(mock: RemoteMock, **kwargs: Any) -> str:
    return aichat.complete(MESSAGES, base_url=mock.base_url, **kwargs)


def test_every_fault_of_the_catalogue_is_covered() -> None:
    assert set(FAULT_ERRORS) == set(faults.FAULTS)


@pytest.mark.parametrize("fault", sorted(FAULT_ERRORS))
def test_fault_raises_the_error_the_spec_names(remote_mock: RemoteMock, fault: str) -> None:
    error_class, status = FAULT_ERRORS[fault]
    remote_mock.queue({"fault": fault})
    with pytest.raises(error_class) as caught:
        ask(remote_mock, max_retries=0)
    assert type(caught.value) is error_class, caught.value
    if isinstance(caught.value, aichat.AichatHTTPError):
        assert caught.value.status_code == status
    assert remote_mock.base_url in str(caught.value)

    [entry] = remote_mock.requests
    assert entry["fault"] == fault
    assert entry["status"] == status
    assert entry["scripted"] is True
    assert entry["violations"] == []


def test_upstream_error_keeps_the_sites_reason(remote_mock: RemoteMock) -> None:
    remote_mock.queue({"fault": "upstream_error", "message": "Too many people asking."})
    with pytest.raises(aichat.AichatUpstreamError) as caught:
        ask(remote_mock)
    assert caught.value.reason == "Too many people asking."


def test_rate_limit_hands_retry_after_to_the_caller(remote_mock: RemoteMock) -> None:
    remote_mock.queue({"fault": "rate_limit", "retry_after": 3600})
    with pytest.raises(aichat.AichatRateLimitError) as caught:
        ask(remote_mock)
    assert caught.value.retry_after == 3600
    assert len(remote_mock.requests) == 1, "a wait beyond the provider's cap is not retried"


def test_a_retried_fault_is_journaled_once_per_attempt(remote_mock: RemoteMock) -> None:
    remote_mock.queue({"fault": "rate_limit", "retry_after": 0, "times": 2},
                      {"message": "at last"})
    assert ask(remote_mock, max_retries=2) == "at last"
    assert [entry["status"] for entry in remote_mock.requests] == [429, 429, 200]
    assert [entry["fault"] for entry in remote_mock.requests] == ["rate_limit", "rate_limit",
                                                                   None]


def test_a_status_overrides_the_faults_own(remote_mock: RemoteMock) -> None:
    remote_mock.queue({"fault": "server_error", "status": 504, "message": "Gateway Timeout"})
    with pytest.raises(aichat.AichatHTTPError) as caught:
        ask(remote_mock, max_retries=0)
    assert caught.value.status_code == 504
    assert "Gateway Timeout" in caught.value.body


def test_a_delay_beyond_the_timeout_is_a_timeout(remote_mock: RemoteMock) -> None:
    remote_mock.queue({"message": "too late", "delay_ms": 2000})
    with pytest.raises(aichat.AichatTimeoutError):
        ask(remote_mock, timeout=0.2)
    [entry] = remote_mock.requests
    assert entry["delay_ms"] == 2000
    assert entry["reply"] == {"response": True, "message": "too late"}


def test_a_delayed_answer_does_not_stall_other_clients(remote_mock: RemoteMock) -> None:
    remote_mock.queue({"message": "slow", "delay_ms": 2000})
    answers: list[str] = []

    def ask_slowly() -> None:
        answers.append(aichat.complete([{"role": "user", "content": "slow"}],
                                       base_url=remote_mock.base_url))

    thread = threading.Thread(target=ask_slowly, daemon=True)
    thread.start()
    # The slow request is journaled as soon as it is in, before its delay: then ask past it.
    while not remote_mock.requests:
        threading.Event().wait(0.01)
    answers.append(ask(remote_mock))
    thread.join(timeout=60)
    assert answers == ["You said: Hello", "slow"], "the fast answer came back first"


@pytest.mark.parametrize("server", ["gevent", "werkzeug", "waitress", "granian"])
def test_other_servers_serve_the_same_mock(server: str) -> None:
    """The alternatives to the default server answer the provider the same way; granian,
    which gives the app no way to the socket, answers the disconnect fault 501."""
    with MockProcess(["--server", server, "--threads", "4"]) as process:
        url = process.url
        assert aichat.complete(MESSAGES, base_url=url) == "You said: Hello"
        process.mock.fault("disconnect")
        if server == "granian":
            with pytest.raises(aichat.AichatHTTPError) as caught:
                aichat.complete(MESSAGES, base_url=url, max_retries=0)
            assert caught.value.status_code == 501
        else:
            with pytest.raises(aichat.AichatConnectionError):
                aichat.complete(MESSAGES, base_url=url, max_retries=0)
        assert process.mock.journal(limit=0)["total"] == 2
    assert process.returncode == 0
