"""The live mock fuzzed from contract/openapi.json by schemathesis: valid and invalid bodies,
headers and methods for ``POST /api/text``. No answer is a 5xx, every answer is one the
contract documents (status, content type, body schema), valid bodies are answered 200 and
invalid ones 400, and each request lands in the journal exactly once, as sent.

Offline: the schema is read from the file, the mock listens on 127.0.0.1 and every socket the
test opens is checked to go there; schemathesis 4 has no reporting service of its own, and no
report is configured.
"""

from __future__ import annotations

import ipaddress
import socket
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS

from mock_server.testing.remote import RemoteMock
from support.contract_data import expected_statuses, header_diff, is_refusal, strict_json, wire_text
from support.paths import CONTRACT
from support.raw_client import session

OPENAPI_FILE = CONTRACT / "openapi.json"
# Characters of a body the journal keeps by default (docs/mock-server.md: "cut at a cap").
BODY_CAP = 65_536

# An explicit configuration: no schemathesis.toml found on disk changes what CI runs.
SCHEMA = schemathesis.openapi.from_path(OPENAPI_FILE, config=schemathesis.Config())
SCHEMA.config.generation.update(modes=list(GenerationMode), max_examples=100, deterministic=True,
                                database="none")
# Examples, the coverage phase's boundary and negative cases, then random fuzzing; the
# contract has no links, so there is nothing stateful to run.
SCHEMA.config.phases.update(phases=["examples", "coverage", "fuzzing"])

# schemathesis expects any invalid input to be refused, but the mock must never refuse a
# header that differs from the contract table (docs/mock-server.md: reported in header_diff, "never
# refused"), so its own negative-data check is replaced by the body oracle below.
CHECKS_RUN = [check for check in CHECKS.get_all() if check.__name__ != "negative_data_rejection"]

# What the run saw, for the test that proves it exercised both outcomes.
# The fuzzing and the check that it reached every operation share SEEN, and schemathesis gives
# the items of every operation one node id, which pytest-xdist cannot tell apart: make test
# runs these in one process (the "serial" mark).
pytestmark = pytest.mark.serial
SEEN: Counter[tuple[str, int]] = Counter()


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail any connection the test makes to somewhere other than loopback."""
    original = socket.socket.connect

    def connect(self: socket.socket, target: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            assert ipaddress.ip_address(target[0]).is_loopback, f"network access to {target}"
        original(self, target)

    monkeypatch.setattr(socket.socket, "connect", connect)
    yield


@pytest.fixture
def client() -> Iterator[requests.Session]:
    with session() as client:
        yield client


@SCHEMA.parametrize()
# The fixtures are meant to span every example: the journal is cleared once and each example
# compares it before and after its own request.
@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                  HealthCheck.too_slow])
@pytest.mark.usefixtures("loopback_only")
def test_the_mock_honours_its_contract(case: schemathesis.Case, remote_mock: RemoteMock,
                                       client: requests.Session) -> None:
    before = remote_mock.journal(limit=0)["total"]
    response = case.call(base_url=remote_mock.base_url, session=client, timeout=30)
    case.validate_response(response, checks=CHECKS_RUN)

    sent = response.request
    body = sent.body or b""
    body = body.encode("utf-8") if isinstance(body, str) else body
    method = str(sent.method)
    status = response.status_code
    SEEN[(method, status)] += 1

    # The oracle: docs/mock-server.md from the bytes sent, whatever schemathesis meant them to be.
    assert status in expected_statuses(method, body), (method, body[:300], response.text[:300])
    if status == 200:
        answer = response.json()
        assert answer["response"] is True
        assert answer["message"].startswith("You said: ")
    elif method != "HEAD":
        assert is_refusal(response.json()), response.text[:300]
    if status == 405:
        assert response.headers.get("allow") == ["POST"]

    journal = remote_mock.journal(limit=1)
    assert journal["total"] == before + 1, "one request, one journal entry"
    [entry] = journal["requests"]
    assert entry["method"] == method
    assert entry["path"] == "/api/text"
    assert entry["status"] == status
    assert entry["scripted"] is False
    assert entry["body_size"] == len(body)
    text = body.decode("utf-8", errors="replace")
    assert entry["body"] == text[:BODY_CAP]
    if status == 200:
        assert entry["json"] == strict_json(body)
        assert entry["violations"] == []
    elif method == "POST":
        assert entry["violations"], "a refused body says why"
    sent_headers = {name.lower(): wire_text(value).strip() for name, value in sent.headers.items()}
    assert entry["header_diff"] == header_diff(sent_headers)


def test_the_run_saw_valid_and_invalid_requests() -> None:
    """The fuzzing above is not vacuous: it sent valid bodies, invalid bodies and other
    methods, and each got its own answer."""
    if not SEEN:
        pytest.skip("runs after test_the_mock_honours_its_contract in the same session")
    statuses = {status for _, status in SEEN}
    assert {200, 400, 405} <= statuses, SEEN
    assert all(status < 500 for status in statuses), SEEN
