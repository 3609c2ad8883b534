"""The live mock's admin API fuzzed from contract/admin.openapi.json by schemathesis: every
route, in a namespace of its own, with valid and invalid bodies, parameters and methods. No
answer is a 5xx, every answer is one the contract documents (status, content type, body
schema), what the contract calls valid is accepted and what it calls invalid refused.

Offline, like contract/test_schemathesis_site.py: the schema is read from the file and every socket
the test opens is checked to go to loopback.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import socket
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jsonschema
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS

from mock_server.core.faults import FAULTS
from mock_server.core.matching import FIND_KEYS, REPLY_KEYS
from mock_server.core.records import JournalEntry, QueuedReply, ScriptedReply, field_names
from mock_server.testing.remote import RemoteMock
from support.contract_data import load_openapi
from support.paths import CONTRACT
from support.raw_client import session

ADMIN_OPENAPI_FILE = CONTRACT / "admin.openapi.json"
NAMESPACE = "admin-fuzz"

SCHEMA = schemathesis.openapi.from_path(ADMIN_OPENAPI_FILE, config=schemathesis.Config())
SCHEMA.config.generation.update(modes=list(GenerationMode), max_examples=30, deterministic=True,
                                database="none")
# The examples, then random fuzzing. The coverage phase is left out: working out its boundary
# cases from these schemas took schemathesis some 20 s at collection, the refusals it would
# add are each tested by name in mock/web/test_admin_routes.py.
SCHEMA.config.phases.update(phases=["examples", "fuzzing"])
CHECKS_RUN = CHECKS.get_all()

# The fuzzing and the check that it reached every operation share SEEN, and schemathesis gives
# the items of every operation one node id, which pytest-xdist cannot tell apart: make test
# runs these in one process (the "serial" mark).
pytestmark = pytest.mark.serial
SEEN: Counter[tuple[str, str, int]] = Counter()
DOCUMENT = json.loads(ADMIN_OPENAPI_FILE.read_text("utf-8"))
SCHEMAS = DOCUMENT["components"]["schemas"]


# --- the document ----------------------------------------------------------------------------


def test_the_admin_contract_is_valid_openapi_3_1() -> None:
    assert DOCUMENT["openapi"].startswith("3.1")
    validate(DOCUMENT, cls=OpenAPIV31SpecValidator)
    broken = copy.deepcopy(DOCUMENT)
    del broken["paths"]["/__mock__/replies/{reply_id}"]["delete"]["parameters"][0]["in"]
    with pytest.raises(OpenAPIValidationError):
        validate(broken, cls=OpenAPIV31SpecValidator)


def test_the_admin_contract_has_the_fields_of_the_code() -> None:
    """One definition of each field: the contract lists those of core/records.py, the match
    keys of core/matching.py, the faults and the site contract's body parameters."""
    assert sorted(SCHEMAS["JournalEntry"]["properties"]) == sorted(field_names(JournalEntry))
    assert set(SCHEMAS["JournalEntry"]["required"]) == set(field_names(JournalEntry))
    assert list(SCHEMAS["ScriptedReply"]["properties"]) == list(field_names(ScriptedReply))
    assert set(SCHEMAS["QueuedReply"]["required"]) == set(field_names(QueuedReply))
    assert list(SCHEMAS["Match"]["properties"]) == list(REPLY_KEYS)
    assert list(SCHEMAS["FindMatch"]["properties"]) == list(FIND_KEYS)
    faults = SCHEMAS["ScriptedReply"]["properties"]["fault"]["enum"]
    assert faults == [*FAULTS, None]
    site = load_openapi()["components"]["schemas"]["TextRequest"]["properties"]
    assert list(SCHEMAS["Match"]["properties"]["params"]["properties"]) == [
        name for name in site if name != "message"]


def test_the_examples_follow_their_schemas() -> None:
    checked = 0
    for item in DOCUMENT["paths"].values():
        for operation in item.values():
            media = operation.get("requestBody", {}).get("content", {}).get("application/json")
            for example in (media or {}).get("examples", {}).values():
                jsonschema.validate(example["value"], {**media["schema"],
                                                       "components": DOCUMENT["components"]})
                checked += 1
    assert checked >= 4


# --- the live mock, fuzzed -------------------------------------------------------------------


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


def only_the_query_is_negative(case: schemathesis.Case) -> bool:
    components = case.meta.components if case.meta is not None else {}
    negative = {str(location.value) for location, info in components.items()
                if info.mode == GenerationMode.NEGATIVE}
    return negative == {"query"}


def query_is_valid(case: schemathesis.Case, url: str) -> bool:
    """Whether the query string of ``url`` is one the contract calls valid for the case's
    operation: each parameter given once, as its schema asks (an integer's digits read as
    one)."""
    sent: dict[str, list[str]] = {}
    for name, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        sent.setdefault(name, []).append(value)
    for parameter in case.operation.definition.raw.get("parameters", []):
        if parameter["in"] != "query":
            continue
        values = sent.pop(parameter["name"], None)
        if values is None:
            if parameter.get("required"):
                return False
            continue
        if len(values) != 1:
            return False
        schema = parameter["schema"]
        value: Any = values[0]
        if schema.get("type") == "integer":
            if not value.isascii() or not value.lstrip("-").isdigit():
                return False
            value = int(value)
        if not jsonschema.Draft202012Validator(schema).is_valid(value):
            return False
    return not sent


@SCHEMA.parametrize()
@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                  HealthCheck.too_slow,
                                                  HealthCheck.filter_too_much])
@pytest.mark.usefixtures("loopback_only")
def test_the_admin_api_honours_its_contract(case: schemathesis.Case, remote_mock: RemoteMock,
                                            client: requests.Session) -> None:
    base = remote_mock.base_url + "/ns/" + NAMESPACE
    response = case.call(base_url=base, session=client, timeout=30)
    checks = CHECKS_RUN
    if only_the_query_is_negative(case) and query_is_valid(case, response.request.url or ""):
        # What was sent is valid after all: a value drawn as invalid (an object, an empty
        # array) was written into the URL as a valid one (nothing, or ``namespace=``).
        checks = [check for check in checks if check.__name__ != "negative_data_rejection"]
    case.validate_response(response, checks=checks)
    SEEN[(case.operation.method.upper(), case.operation.path, response.status_code)] += 1
    assert response.status_code < 500, response.text[:300]
    content_type = (response.headers.get("content-type") or [""])[0]
    if response.status_code >= 400 and content_type.startswith("application/json"):
        assert isinstance(response.json()["error"], str)


def test_the_run_reached_every_operation() -> None:
    """The fuzzing above is not vacuous: every operation of the contract was called and
    answered, some of them with a success and some with a refusal."""
    if not SEEN:
        pytest.skip("runs after test_the_admin_api_honours_its_contract in the same session")
    operations = {(method, path) for method, path, _ in SEEN}
    assert len(operations) == sum(len(item) for item in SCHEMA.raw_schema["paths"].values())
    statuses = {status for _, _, status in SEEN}
    assert {200, 201, 400, 404} <= statuses, SEEN
