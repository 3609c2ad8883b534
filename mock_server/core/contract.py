"""The contract, read from ``contract/``: the one source of truth of the wire
(``openapi.json``: the request schema, the header table, the response schemas) and of the
admin API's limits (``admin.openapi.json``: what a scripted reply and a match may hold).

``mock_server/contract`` is a link to the top-level ``contract/`` folder and ships in the
wheel, so both are read from the same documents the tests use; nothing here copies them.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any, NamedTuple
from urllib.parse import urlsplit

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
def _document(name: str) -> dict[str, Any]:
    """The OpenAPI document ``contract/{name}``, parsed once."""
    document = _read(name)
    if not isinstance(document, dict):
        raise RuntimeError(f"contract/{name} is not a JSON object")
    return document


def openapi() -> dict[str, Any]:
    """The site's OpenAPI document."""
    return _document("openapi.json")


def site_hosts() -> tuple[str, ...]:
    """The real site's host names: the host of the contract's first server, and its ``www.``
    name (what ``aichat-mock --intercept`` answers for)."""
    host = urlsplit(openapi()["servers"][0]["url"]).hostname or ""
    return (host, "www." + host)


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


def admin_openapi() -> dict[str, Any]:
    """The admin API's OpenAPI document."""
    return _document("admin.openapi.json")


class AdminLimits(NamedTuple):
    """The bounds the admin contract sets: on a scripted reply's fields, on a match, and the
    journal's page."""

    max_delay_ms: float
    max_times: int
    max_retry_after: int
    max_pattern: int
    default_page: int


@cache
def admin_limits() -> AdminLimits:
    """The bounds of ``ScriptedReply`` and ``Match`` in ``admin.openapi.json``, and the page
    of the journal ``GET /__mock__/requests`` answers unless ``?limit=`` says otherwise."""
    document = admin_openapi()
    schemas = document["components"]["schemas"]
    fields = schemas["ScriptedReply"]["properties"]
    seconds = next(option for option in fields["retry_after"]["anyOf"]
                   if option.get("type") == "integer")
    limit = next(parameter for parameter in document["paths"]["/__mock__/requests"]["get"]
                 ["parameters"] if parameter["name"] == "limit")
    return AdminLimits(
        max_delay_ms=fields["delay_ms"]["maximum"],
        max_times=fields["times"]["maximum"],
        max_retry_after=seconds["maximum"],
        max_pattern=schemas["Match"]["properties"]["message_regex"]["maxLength"],
        default_page=limit["schema"]["default"])
