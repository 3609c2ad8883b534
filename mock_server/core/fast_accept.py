"""A fast yes for the request bodies the contract plainly accepts.

The JSON Schema validator costs about a tenth of a millisecond a request, most of the mock's
own time. The request schema is a flat object of typed, bounded properties, so a predicate
built from it once at start-up can say "valid" in a microsecond or two. It never says
"invalid": whatever it does not accept goes to the full validator, which alone writes the
violations. A schema using any keyword it does not know gets no predicate at all.
"""

from __future__ import annotations

import operator
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

    # One function, the rules read in line: it runs for every body the shape below does not
    # fit.
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

    if not rules or not set(needed) <= set(rules):
        return accepts
    return _of_every_property(rules, accepts)


def _of_every_property(rules: dict[str, Rule], otherwise: Check) -> Check:
    """``otherwise``, with a first case for a body of every property, others or not (the usual
    body: a client sends them all), its checks written out as one expression (as dataclasses
    writes ``__init__``): a few bytecodes a property, where the loop takes dozens. The source
    holds only made-up names; the schema's values are in the function's globals."""
    scope: dict[str, Any] = {"_names": frozenset(rules), "_otherwise": otherwise,
                             "_values": operator.itemgetter(*rules)}
    tests = []
    for number, (kinds, *bounds) in enumerate(rules.values()):
        value = f"v{number}"
        scope[f"_k{number}"] = kinds[0] if len(kinds) == 1 else kinds
        tests.append(f"type({value}) {'is' if len(kinds) == 1 else 'in'} _k{number}")
        for (key, limit), compare in zip(zip(BOUNDS, bounds, strict=True),
                                         ("{l} <= {v}", "{v} <= {l}", "{l} < {v}", "{v} < {l}"),
                                         strict=True):
            if limit is not None:
                scope[f"_{key}{number}"] = limit
                tests.append(compare.format(l=f"_{key}{number}", v=value))
    values = ", ".join(f"v{number}" for number in range(len(rules)))
    source = (f"def accepts(data):\n"
              f"    if type(data) is dict and data.keys() >= _names:\n"
              f"        {values}{',' if len(rules) == 1 else ''} = "
              f"{'(_values(data),)' if len(rules) == 1 else '_values(data)'}\n"
              f"        return {' and '.join(tests)}\n"
              f"    return _otherwise(data)\n")
    exec(compile(source, "<fast_accept>", "exec"), scope)  # the source: made-up names only
    check: Check = scope["accepts"]
    return check
