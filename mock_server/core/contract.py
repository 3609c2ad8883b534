"""The wire contract, read from ``contract/openapi.json``: the one source of truth.

``mock_server/contract`` is a link to the top-level ``contract/`` folder and ships in the
wheel, so the request schema, the header table and the response schemas are read from the
same document the provider's tests use; nothing here copies them.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from referencing import Registry
from referencing.jsonschema import DRAFT202012

API_PATH = "/api/text"
API_METHOD = "post"
# The document is registered under this URI so that its "#/components/..." references resolve.
DOCUMENT_URI = "urn:aichat:contract:openapi"


def _read(*parts: str) -> Any:
    resource = files("mock_server").joinpath("contract")
    for part in parts:
        resource = resource.joinpath(part)
    return json.loads(resource.read_text("utf-8"))


@cache
def openapi() -> dict[str, Any]:
    """The OpenAPI document, parsed once."""
    document = _read("openapi.json")
    if not isinstance(document, dict):
        raise RuntimeError("contract/openapi.json is not a JSON object")
    return document


def operation() -> dict[str, Any]:
    """The ``POST /api/text`` operation object."""
    result: dict[str, Any] = openapi()["paths"][API_PATH][API_METHOD]
    return result


@cache
def _registry() -> Registry[Any]:
    registry: Registry[Any] = Registry().with_resource(
        DOCUMENT_URI, DRAFT202012.create_resource(openapi()))
    return registry


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    schema = _absolute_refs(schema)
    # A schema that is only a reference is replaced by its target: the same verdicts, without
    # a lookup on every request.
    while set(schema) == {"$ref"}:
        schema = _absolute_refs(_registry().resolver().lookup(schema["$ref"]).contents)
    return Draft202012Validator(schema, registry=_registry())


def _absolute_refs(node: Any) -> Any:
    """The schema with its in-document references (``#/...``) made to point at the document."""
    if isinstance(node, dict):
        return {key: (DOCUMENT_URI + value
                      if key == "$ref" and isinstance(value, str) and value.startswith("#")
                      else _absolute_refs(value))
                for key, value in node.items()}
    if isinstance(node, list):
        return [_absolute_refs(item) for item in node]
    return node


@cache
def request_validator() -> Draft202012Validator:
    """A Draft 2020-12 validator for the request body schema of ``POST /api/text``."""
    schema = operation()["requestBody"]["content"]["application/json"]["schema"]
    return _validator(schema)


@cache
def header_table() -> dict[str, str]:
    """The headers the provider must send: ``in: header`` parameters with a ``const`` value."""
    table: dict[str, str] = {}
    for parameter in operation().get("parameters", []):
        const = parameter.get("schema", {}).get("const")
        if parameter.get("in") == "header" and isinstance(const, str):
            table[parameter["name"].lower()] = const
    return table


def response_validator(status: int, media_type: str = "application/json"
                       ) -> Draft202012Validator | None:
    """A validator for the answer body of ``status`` (e.g. 200, or 500 through ``5XX``), or
    ``None`` when the contract gives no schema for that status and media type."""
    return _response_validator(status, media_type)


@cache
def _response_validator(status: int, media_type: str) -> Draft202012Validator | None:
    responses = operation()["responses"]
    answer = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX")
    if answer is None:
        return None
    content = answer.get("content", {})
    media = content.get(media_type) or content.get("*/*")
    if media is None or "schema" not in media:
        return None
    return _validator(media["schema"])


def component_validator(name: str) -> Draft202012Validator:
    """A validator for a schema of ``components/schemas`` by name."""
    return _validator({"$ref": f"#/components/schemas/{name}"})


def cases() -> list[dict[str, Any]]:
    """The golden cases of ``contract/cases``, in file name order."""
    folder = files("mock_server").joinpath("contract").joinpath("cases")
    names = sorted(item.name for item in folder.iterdir() if item.name.endswith(".json"))
    return [_read("cases", name) for name in names]
