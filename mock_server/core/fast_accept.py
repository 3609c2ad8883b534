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
# The Python types of each JSON Schema type: int and float for a number but not bool (a
# subclass of int); parse_json gives no NaN.
TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
}

Check = Callable[[Any], bool]
# A property's rule: the Python types it takes, then its bounds (None: none), in BOUNDS' order.
Rule = tuple[tuple[type, ...], Any, Any, Any, Any]


def _property_rule(schema: Any) -> Rule | None:
    if not isinstance(schema, Mapping) or not set(schema) <= {"type", *BOUNDS, *ANNOTATIONS}:
        return None
    kind = schema.get("type")
    if not isinstance(kind, str) or kind not in TYPES:
        return None
    bounds = {key: schema[key] for key in BOUNDS if key in schema}
    if any(type(limit) not in (int, float) for limit in bounds.values()):
        return None
    if bounds and kind not in ("number", "integer"):
        return None
    low, high, low_open, high_open = (bounds.get(key) for key in BOUNDS)
    return TYPES[kind], low, high, low_open, high_open


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
    rules: dict[str, Rule] = {}
    for name, sub in properties.items():
        rule = _property_rule(sub)
        if rule is None:
            return None
        rules[name] = rule
    needed = tuple(required)

    # One function, the rules read in line: it runs for every request.
    def accepts(data: Any) -> bool:
        if type(data) is not dict:
            return False
        for name in needed:
            if name not in data:
                return False
        for name, value in data.items():
            rule = rules.get(name)
            if rule is None:
                continue
            kinds, low, high, low_open, high_open = rule
            if type(value) not in kinds:
                return False
            if (low is not None and value < low) or (high is not None and value > high) or \
                    (low_open is not None and value <= low_open) or \
                    (high_open is not None and value >= high_open):
                return False
        return True

    return accepts
