"""The regular expressions of ``message_regex``: RE2 (google-re2), which runs in time linear in
the text whatever the pattern, where Python's ``re`` backtracks: ``(a+)+$`` against 30 KB of
``a`` would hold the event loop, and every connection with it, for longer than the universe.

A pattern is checked once (``check``) and kept as its UTF-8 bytes; the compiled automata are
kept for the most recent ``CACHED`` patterns only, so that what the queue holds in memory is
the patterns' text, not an automaton each (one can grow to ``MEMORY`` bytes as it searches).
The bounds, each measured in docs/benchmarks.md:

- ``MAX_INSTRUCTIONS``: RE2 searches with a DFA, at about a nanosecond a byte; a pattern whose
  DFA does not fit in ``MEMORY`` (one made to defeat it, ``a[ab]{94}c``) falls back to RE2's
  NFA, which takes some 10 to 20 ns per byte of text for each instruction of the program. The
  cap keeps that worst case to 1 to 2 ms per KB of prompt, 2 s at the site's 1 MiB body;
- ``MEMORY``: RE2's budget for the program and the DFAs of one pattern (its default, 8 MiB,
  let each of 10,000 queued patterns keep some 3 MiB of DFA states).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import re2

ENGINE = "RE2"
# RE2 instructions one pattern may compile to.
MAX_INSTRUCTIONS = 100
# RE2's max_mem of each pattern: its program and the DFAs' state caches, in bytes.
MEMORY = 256 << 10
# Compiled patterns kept at once (RE2's own cache keeps another 128): at most
# (CACHED + 128) x MEMORY bytes of automata, however many patterns are queued.
CACHED = 256

_OPTIONS = re2.Options()
# Only whether a pattern finds something counts: no group is ever read, and without captures
# RE2 answers with its DFA alone.
_OPTIONS.never_capture = True
_OPTIONS.log_errors = False  # a refusal is said to the client, not logged to stderr
_OPTIONS.max_mem = MEMORY


class PatternError(ValueError):
    """A pattern RE2 cannot run; the message says why."""


def encoded(text: str) -> bytes:
    """``text`` as the UTF-8 bytes RE2 reads; a lone surrogate (JSON lets a string hold one)
    stays one character the pattern can match, not an error."""
    return text.encode("utf-8", "surrogatepass")


@functools.lru_cache(maxsize=CACHED)
def _compiled(pattern: bytes) -> Any:
    return re2.compile(pattern, _OPTIONS)


def _reason(error: re2.error) -> str:
    # google-re2 gives its reason as bytes.
    reason = error.args[0] if error.args else "refused"
    return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)


def check(text: str) -> bytes:
    """``text`` as a pattern ready for ``search``: its UTF-8 bytes. ``PatternError`` says why
    RE2 cannot run it (a back-reference or a look-around, which RE2 does not have) or why the
    mock will not (more than ``MAX_INSTRUCTIONS``)."""
    pattern = encoded(text)
    try:
        compiled = _compiled(pattern)
    except re2.error as error:
        reason = _reason(error)
        if "too large" in reason:
            raise PatternError(f"it is too large for RE2 ({reason}); the most is "
                               f"{MAX_INSTRUCTIONS} instructions") from None
        raise PatternError(f"RE2 cannot run it: {reason} (back-references and look-arounds "
                           f"are not RE2 syntax)") from None
    size = compiled.programsize
    if size > MAX_INSTRUCTIONS:
        raise PatternError(f"it compiles to {size} RE2 instructions; the most is "
                           f"{MAX_INSTRUCTIONS} (a search may cost that many steps for each "
                           f"byte of the prompt)")
    return pattern


def search(pattern: bytes, text: bytes) -> bool:
    """Whether ``pattern`` (from ``check``) finds something in ``text`` (UTF-8)."""
    return _compiled(pattern).search(text) is not None


def joined(patterns: Sequence[bytes]) -> bytes | None:
    """One pattern that finds something wherever one of ``patterns`` does, or ``None`` when
    their alternation does not fit in ``MEMORY``. RE2 scopes an inline flag to the group it is
    in and has no back-reference, so any checked patterns can be joined. The alternation is
    not held to ``MAX_INSTRUCTIONS``: at worst a search of it costs what searching each of
    them in turn would."""
    alternation = b"|".join(b"(?:" + pattern + b")" for pattern in patterns)
    try:
        _compiled(alternation)
    except re2.error:
        return None
    return alternation
