"""The selector finds the first match of a queue that holds without testing each in turn: it
must find exactly what testing each in queue order finds, for any queue and request. The
patterns include those it may search for together (one alternation) and those it must not
join: with groups and back-references, with global inline flags (verbose mode would change
how the others read), with scoped flags and look-arounds."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mock_server.core.matching import Facts, Selector, compile_match

PATTERNS = [r"\bitem 1\b", "hel+o", r"^user: ", r"(a)\1", r"(?P<x>b)(?P=x)", "(?i)HELLO",
            "(?x) h e l l o", r"(?i:WORLD)", r"wor(?=ld)", r"(?<!x)abc", "z|y", "[",
            r"\d{2,}", "$^", "assistant:$"]
MESSAGES = ["user: hello\nassistant:", "user: Hello World\nassistant:", "item 1", "item 10",
            "aa", "bb", "xabc", "abc", "world", "WORLD", "h e l l o", "12", "", "y"]

specs = st.one_of(
    st.builds(lambda pattern: {"message_regex": pattern},
              st.sampled_from([pattern for pattern in PATTERNS if pattern != "["])),
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


def test_patterns_with_groups_are_not_joined() -> None:
    """Joined, the second back-reference would point at the first pattern's group."""
    matches = [compile_match({"message_regex": pattern})
               for pattern in (r"(b)\1", r"(a)\1", r"x+")]
    facts = Facts("aa", {"message": "aa"}, {})
    assert Selector(matches).first(facts) == 1
