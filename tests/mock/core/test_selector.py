"""The selector finds the first match of a queue that holds without testing each in turn: it
must find exactly what testing each in queue order finds, for any queue and request. The
patterns (RE2 syntax, docs/mock-server.md "Matching") are searched for together as one
alternation: among them groups, anchors, a global inline flag (RE2 scopes it to the pattern's
own group once joined) and scoped flags, which must not leak into the others."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mock_server.core.matching import Facts, Selector, compile_match

PATTERNS = [r"\bitem 1\b", "hel+o", r"^user: ", r"(a)a", r"(?P<x>b)b", "(?i)HELLO",
            "(?s)o.W", r"(?i:WORLD)", r"wor(ld)?$", r"[^x]abc", "z|y", r"\d{2,}", "$^",
            "assistant:$", "(?m)^item", "(?U)l+o"]
MESSAGES = ["user: hello\nassistant:", "user: Hello World\nassistant:", "item 1", "item 10",
            "aa", "bb", "xabc", "abc", "world", "WORLD", "h e l l o", "12", "", "y",
            "hellO\nWorld", "x\nitem 2", "HELLO", "wor"]

specs = st.one_of(
    st.builds(lambda pattern: {"message_regex": pattern},
              st.sampled_from(PATTERNS)),
    st.builds(lambda text: {"message_contains": text}, st.sampled_from(["hello", "abc", "1"])),
    st.builds(lambda text: {"message": text}, st.sampled_from(MESSAGES)),
    st.builds(lambda pattern, text: {"message_regex": pattern, "message_contains": text},
              st.sampled_from(["hel+o", "b"]), st.sampled_from(["hello", "b"])),
    st.just(None),
)


@settings(max_examples=300, deadline=None)
@given(queue=st.lists(specs, max_size=12), message=st.sampled_from(MESSAGES) | st.none())
def test_the_selector_finds_what_testing_each_in_turn_finds(queue: list[Any],
                                                            message: str | None) -> None:
    matches = [compile_match(spec) for spec in queue]
    facts = Facts(message, None if message is None else {"message": message}, {})
    expected = next((index for index, match in enumerate(matches) if match.holds(facts)), -1)
    assert Selector(matches).first(facts) == expected


def test_a_flag_of_one_joined_pattern_does_not_apply_to_the_others() -> None:
    """Joined, a global (?i) of the first pattern must not make the second case-insensitive."""
    matches = [compile_match({"message_regex": pattern}) for pattern in ("(?i)HELLO", "x+")]
    selector = Selector(matches)
    assert selector.first(Facts("X", {"message": "X"}, {})) == -1
    assert selector.first(Facts("hello", {"message": "hello"}, {})) == 0
