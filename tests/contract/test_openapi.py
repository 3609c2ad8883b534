"""contract/openapi.json is valid OpenAPI 3.1 and says what the provider does, and the golden
cases agree with both: one header table, one set of ranges and defaults, one request schema."""

from __future__ import annotations

import copy
import inspect
import json
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

import aichat
from aichat import Aichat
from support.contract_data import load_cases, load_openapi
from support.expected import DEFAULTS, HEADERS, RANGES
from support.paths import CONTRACT

OPENAPI = load_openapi()
OPERATION = OPENAPI["paths"]["/api/text"]["post"]
SCHEMAS = OPENAPI["components"]["schemas"]
CASES = load_cases()


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    """A schema with its local ``$ref``s resolved against the document, for jsonschema."""
    return {**schema, "components": OPENAPI["components"]}


def request_schema() -> dict[str, Any]:
    content = OPERATION["requestBody"]["content"]["application/json"]
    return resolve(content["schema"])


def header_table() -> list[tuple[str, str]]:
    return [(parameter["name"], parameter["schema"]["const"])
            for parameter in OPERATION["parameters"] if parameter["in"] == "header"]


def test_the_document_is_valid_openapi_3_1() -> None:
    assert OPENAPI["openapi"].startswith("3.1")
    validate(OPENAPI, cls=OpenAPIV31SpecValidator)


def test_a_broken_document_is_caught_by_the_validator() -> None:
    """The check above can fail: a parameter without its required "in" is refused."""
    broken = copy.deepcopy(OPENAPI)
    del broken["paths"]["/api/text"]["post"]["parameters"][0]["in"]
    with pytest.raises(OpenAPIValidationError):
        validate(broken, cls=OpenAPIV31SpecValidator)


def test_the_header_table_is_the_specs_and_the_providers_in_order() -> None:
    assert header_table() == list(HEADERS.items())
    assert header_table() == list(Aichat.HEADERS.items())
    assert len(header_table()) == 13
    assert all(name == name.lower() for name, _ in header_table())


def test_only_header_parameters_and_none_required() -> None:
    # The mock reports header differences, it never refuses them (browsers send their own).
    assert {parameter["in"] for parameter in OPERATION["parameters"]} == {"header"}
    assert not any(parameter["required"] for parameter in OPERATION["parameters"])


def test_the_request_schema_has_the_providers_ranges_defaults_and_order() -> None:
    text_request = SCHEMAS["TextRequest"]
    properties = text_request["properties"]
    assert list(properties) == ["message", *Aichat.PARAMETERS]
    assert text_request["required"] == ["message"]
    assert properties["message"]["type"] == "string"
    assert list(properties) == ["message", *DEFAULTS]
    for name, (default, low, high) in Aichat.PARAMETERS.items():
        schema = properties[name]
        assert (schema["default"], [schema["minimum"], schema["maximum"]]) == (
            DEFAULTS[name], list(RANGES[name]))
        assert (schema["default"], schema["minimum"], schema["maximum"]) == (default, low, high)
        assert type(schema["default"]) is int  # the defaults are JSON integers on the wire
        assert schema["type"] == "number"


def test_the_seed_example_is_the_providers_default_body() -> None:
    examples = OPERATION["requestBody"]["content"]["application/json"]["examples"]
    seed = examples["seed"]["value"]
    messages = [{"role": "user", "content": "Hello, how are you?"}]
    assert seed == {"message": Aichat.flatten(messages),
                    **{name: default for name, (default, _, _) in Aichat.PARAMETERS.items()}}
    assert list(seed) == ["message", *Aichat.PARAMETERS]
    for example in examples.values():
        jsonschema.validate(example["value"], request_schema())


def test_the_response_examples_match_their_schemas() -> None:
    checked = 0
    for answer in OPERATION["responses"].values():
        for media in answer.get("content", {}).values():
            schema = resolve(media["schema"])
            values = [example["value"] for example in media.get("examples", {}).values()]
            if "example" in media:
                values.append(media["example"])
            for value in values:
                jsonschema.validate(value, schema)
            checked += len(values)
    assert checked, "the contract gives no response examples to check"


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_each_case_request_follows_the_schema_and_the_table(case: dict[str, Any]) -> None:
    if case["request"] is None:
        # Refused before any request: the call itself must be what is wrong.
        with pytest.raises(Aichat.AichatInputError):
            Aichat._prepare(case["messages"], case["kwargs"])
        return
    request = case["request"]
    assert (request["method"], request["path"]) == ("POST", "/api/text")
    assert list(request["headers"].items()) == header_table()
    jsonschema.validate(request["body"], request_schema())
    assert list(request["body"]) == ["message", *Aichat.PARAMETERS]
    # The body is what the provider builds from the case's call.
    assert Aichat._prepare(case["messages"], case["kwargs"]).body == request["body"]


@pytest.mark.parametrize("case", [case for case in CASES if "result" in case["expect"]],
                         ids=lambda case: case["name"])
def test_each_answered_case_ends_in_a_reply_the_schema_allows(case: dict[str, Any]) -> None:
    last = case["responses"][-1]
    assert last["status"] == 200
    schema = resolve(OPERATION["responses"]["200"]["content"]["application/json"]["schema"])
    jsonschema.validate(json.loads(last["body"]), schema)


def test_the_bad_body_schema_refuses_out_of_range_and_wrong_types() -> None:
    schema = request_schema()
    for bad in ({"message": 1}, {}, {"message": "x", "temperature": 3},
                {"message": "x", "top_p": -0.1}, {"message": "x", "presence_penalty": "0"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def error_classes() -> set[str]:
    """Every error class of docs/provider.md but the base, as the provider defines them."""
    return {name for name, value in inspect.getmembers(Aichat, inspect.isclass)
            if issubclass(value, Aichat.AichatError) and value is not Aichat.AichatError
            and value.__module__ == Aichat.__name__}


# The golden cases by file: one deleted, renamed or added without this list fails here.
CASE_FILES = [
    "01_simple.json", "02_multi_turn.json", "03_system_prompt.json", "04_empty_list.json",
    "05_unicode_and_newlines.json", "06_text_parts.json", "07_overrides.json",
    "08_early_answer.json", "09_retried_then_answered.json", "10_error_input_messages.json",
    "11_error_input_parameter.json", "12_error_connection.json", "13_error_timeout.json",
    "14_error_http.json", "15_error_rate_limit.json", "16_error_blocked.json",
    "17_error_blocked_html.json", "18_error_malformed_json.json", "19_error_empty_body.json",
    "20_error_upstream.json", "21_response_at_the_limit.json",
    "22_error_response_too_large.json", "23_error_input_max_response_bytes.json",
    "24_error_rate_limit_beyond_timeout.json",
]


def test_the_golden_cases_are_the_listed_files() -> None:
    folder = CONTRACT / "cases"
    assert sorted(path.name for path in folder.glob("*.json")) == CASE_FILES
    assert len(CASES) == len(CASE_FILES)


def test_enough_cases_and_one_per_error_class() -> None:
    expected = {case["expect"]["error"] for case in CASES if "error" in case["expect"]}
    assert error_classes() == {
        "AichatInputError", "AichatConnectionError", "AichatTimeoutError", "AichatHTTPError",
        "AichatRateLimitError", "AichatBlockedError", "AichatResponseError",
        "AichatUpstreamError"}
    assert error_classes() <= expected
    assert expected <= set(aichat.__all__)
    assert any("result" in case["expect"] for case in CASES)
    names = [case["name"] for case in CASES]
    assert len(set(names)) == len(names)
