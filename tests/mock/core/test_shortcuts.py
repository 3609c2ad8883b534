"""The engine's shortcuts for the usual request give what the general way gives: the echo
answer's bytes are the JSON the standard library writes of it, a body is read as the
standard library's strict reader reads it (and refused with its words), and the last user
turn of a one-question prompt (docs/provider.md: ``role: content`` and a newline per message,
then ``assistant:``) is that question."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from mock_server.core.prompt import last_user_turn
from mock_server.core.replies import default_answer
from mock_server.core.wire import parse_json

# JSON values: finite numbers (the mock refuses NaN and infinities), any text.
SCALARS = (st.none() | st.booleans() | st.integers() | st.text()
           | st.floats(allow_nan=False, allow_infinity=False))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.text())
@example("You said: Hello")
@example("a lone surrogate: \ud800")
@example("")
def test_the_echo_answer_is_the_json_the_standard_library_writes(message: str) -> None:
    data = {"response": True, "message": message}
    try:
        expected = json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: UTF-8 cannot carry it, escaped instead
        expected = json.dumps(data).encode("ascii")
    answer = default_answer(message)
    assert (answer.status, answer.body) == (200, expected)
    assert answer.header("Content-Type") == "application/json"


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=8), VALUES, max_size=6),
       st.sampled_from([(",", ":"), (", ", ": "), (" ,", " :\t")]),
       st.sampled_from(["", " ", "\n", "x", "}", " {}", "\ufeff"]), st.booleans())
def test_a_body_is_read_as_the_strict_standard_reader_reads_it(
        data: dict[str, Any], separators: tuple[str, str], around: str, before: bool) -> None:
    text = json.dumps(data, separators=separators)
    text = around + text if before else text + around
    try:
        expected: Any = json.loads(text)
    except ValueError as error:
        expected = error
    try:
        got: Any = parse_json(text)
    except ValueError as error:
        got = error
    if isinstance(expected, ValueError):
        assert isinstance(got, ValueError) and str(got) == str(expected)
    else:
        assert got == expected


@given(st.text().filter(lambda text: "\n" not in text))
def test_the_last_turn_of_a_one_question_prompt_is_the_question(question: str) -> None:
    assert last_user_turn(f"user: {question}\nassistant:") == question
