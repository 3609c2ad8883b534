"""A fast yes for the request bodies the contract plainly accepts.

The JSON Schema validator costs about a tenth of a millisecond a request, most of the mock's
own time. The request schema is a flat object of typed, bounded properties, so a predicate
built from it once at start-up can say "valid" in a microsecond or two. It never says
"invalid": whatever it does not accept goes to the full validator, which alone writes the
violations. A schema using any keyword it does not know gets no predicate at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

# Keywords that say nothing about validity.
ANNOTATIONS = frozenset({"description", "default", "title", "examples", "$comment",
                         "deprecated", "readOnly", "writeOnly"})
BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda value: type(value) is str,
    # JSON numbers: int and float but not bool (a subclass of int); parse_json gives no NaN.
    "number": lambda value: type(value) in (int, float),
    "integer": lambda value: type(value) is int,
    "boolean": lambda value: type(value) is bool,
}

Check = Callable[[Any], bool]


def _property_check(schema: Any) -> Check | None:
    if not isinstance(schema, Mapping) or not set(schema) <= {"type", *BOUNDS, *ANNOTATIONS}:
        return None
    kind = schema.get("type")
    if not isinstance(kind, str) or kind not in TYPES:
        return None
    is_kind = TYPES[kind]
    bounds = {key: schema[key] for key in BOUNDS if key in schema}
    if any(type(limit) not in (int, float) for limit in bounds.values()):
        return None
    if bounds and kind not in ("number", "integer"):
        return None
    low, high = bounds.get("minimum"), bounds.get("maximum")
    low_open, high_open = bounds.get("exclusiveMinimum"), bounds.get("exclusiveMaximum")

    def check(value: Any) -> bool:
        return (is_kind(value)
                and (low is None or value >= low) and (high is None or value <= high)
                and (low_open is None or value > low_open)
                and (high_open is None or value < high_open))

    return check


def build(schema: Any) -> Check | None:
    """A predicate that is true only for instances ``schema`` accepts, or ``None`` when the
    schema is not of the flat shape it understands."""
    if not isinstance(schema, Mapping) or schema.get("type") != "object":
        return None
    if not set(schema) <= {"type", "required", "properties", *ANNOTATIONS}:
        return None
    required = schema.get("required", [])
    properties = schema.get("properties", {})
    if not isinstance(required, list) or not isinstance(properties, Mapping):
        return None
    checks: dict[str, Check] = {}
    for name, sub in properties.items():
        check = _property_check(sub)
        if check is None:
            return None
        checks[name] = check
    needed = tuple(required)

    def accepts(data: Any) -> bool:
        if type(data) is not dict:
            return False
        for name in needed:
            if name not in data:
                return False
        for name, value in data.items():
            check = checks.get(name)
            if check is not None and not check(value):
                return False
        return True

    return accepts
