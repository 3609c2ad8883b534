"""``json_bytes`` writes what ``json.dumps(value, ensure_ascii=False)`` writes, as UTF-8, for
any value (text that UTF-8 cannot carry: ``json.dumps``'s escaped ASCII), and fails as it
fails: the mock's JSON answers and the records of a store in a file are written by it."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mock_server.core.wire import json_bytes

# Any JSON value Python holds: text with lone surrogates and any code point, floats of every
# kind (NaN and the infinities too), big integers, nesting.
scalars = (st.none() | st.booleans() | st.integers() | st.floats()
           | st.text(st.characters(codec=None)))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)


def reference(value: Any) -> bytes:
    try:
        return json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value).encode("ascii")


@given(values)
def test_any_value_is_written_as_the_standard_encoder_writes_it(value: Any) -> None:
    assert json_bytes(value) == reference(value)


def test_a_float_the_standard_encoder_writes_by_name_is_written_so() -> None:
    assert [json_bytes(x) for x in (math.nan, math.inf, -math.inf, 1e300, -0.0)] == [
        b"NaN", b"Infinity", b"-Infinity", b"1e+300", b"-0.0"]


def test_a_value_that_contains_itself_is_refused_as_circular() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        json_bytes(loop)


def test_a_failed_write_leaves_nothing_behind_for_the_next() -> None:
    """The check for circular values starts afresh at every call: a list a failed write was
    inside is written at the next call, not taken for one that contains itself."""
    inner: list[Any] = [object()]
    outer = [inner, inner]
    with pytest.raises(TypeError):
        json_bytes(outer)
    inner[0] = "fine"
    assert json_bytes(outer) == b'[["fine"], ["fine"]]'
    assert json_bytes(outer) == reference(outer)
