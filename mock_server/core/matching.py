"""``match``: which requests a scripted reply answers, and which journal entries a search finds.

A match is a JSON object; every key given must hold. The keys of a scripted reply:

- ``message``: the flattened prompt equals this string;
- ``message_contains``: the flattened prompt contains this string;
- ``message_regex``: this RE2 pattern (``patterns``) finds something in the flattened prompt;
- ``last_turn``: the last user turn (what echo mode answers with) equals this string;
- ``last_turn_contains``: the last user turn contains this string;
- ``params``: each named body parameter equals the given number (``1 == 1.0``; a parameter the
  body does not have equals nothing);
- ``headers``: each named header (any case) has exactly this value; ``null``: it is absent.

A search of the journal also takes ``path`` (the path within the namespace) and ``status``
(the status answered; ``null``: none, the connection was closed).

``compile_match`` checks a match once, when it is given, and raises ``MatchError`` naming the
field; the ``Match`` it returns is then cheap to test against a request (``Facts``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from . import contract, patterns
from .errors import MatchError
from .prompt import last_user_turn

REPLY_KEYS = ("message", "message_contains", "message_regex", "last_turn",
              "last_turn_contains", "params", "headers")
FIND_KEYS = (*REPLY_KEYS, "path", "status")
SHOWN_CHARS = 120
# RFC 9110 token characters: what a header name may be made of.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")


class Facts:
    """What a match looks at in one request: the flattened prompt (``None`` when the body has
    no string ``message``), the body, the headers (lower-case names) and, for a search of
    the journal, the path and the status answered. The last user turn is worked out once,
    when a match first asks for it."""

    __slots__ = ("_encoded", "_last_turn", "body", "headers", "message", "path", "status")

    def __init__(self, message: str | None, body: Mapping[str, Any] | None,
                 headers: Mapping[str, str], path: str | None = None,
                 status: int | None = None) -> None:
        self.message = message
        self.body = body
        self.headers = headers
        self.path = path
        self.status = status
        self._last_turn: str | None = None
        self._encoded: bytes | None = None

    @property
    def encoded(self) -> bytes:
        """The prompt as the UTF-8 a pattern searches (``b""`` without one), made once."""
        if self._encoded is None:
            self._encoded = b"" if self.message is None else patterns.encoded(self.message)
        return self._encoded

    @property
    def last_turn(self) -> str | None:
        if self.message is None:
            return None
        if self._last_turn is None:
            self._last_turn = last_user_turn(self.message)
        return self._last_turn

    @classmethod
    def of_entry(cls, entry: Mapping[str, Any]) -> Facts:
        """The facts of a journal entry."""
        body = entry.get("json")
        body = body if isinstance(body, dict) else None
        message = body.get("message") if body is not None else None
        return cls(message if isinstance(message, str) else None, body,
                   entry.get("headers") or {}, entry.get("path"), entry.get("status"))


Test = Callable[[Facts], bool]
# What did not hold, one line per key (per parameter, per header).
Explain = Callable[[Facts], list[str]]


def _always(facts: Facts) -> bool:
    return True


# What a selector can look a match up by: (kind, name, value); see Selector.
Guard = tuple[str, str, Any]


class Match:
    """A checked match: ``holds(facts)``, and ``misses(facts)`` saying what did not hold.
    ``guard`` is the one condition a ``Selector`` finds it by, when it has one."""

    __slots__ = ("_checks", "guard", "holds", "spec")

    def __init__(self, spec: dict[str, Any] | None,
                 checks: tuple[tuple[Test, Explain], ...]) -> None:
        self.spec = spec
        self._checks = checks
        # One call per match tested: most matches have one key, whose test is holds itself.
        self.holds: Test = (_always if not checks else checks[0][0] if len(checks) == 1
                            else self._all)
        self.guard = _guard(spec or {})

    def _all(self, facts: Facts) -> bool:
        # A loop, not all() over a generator: this runs for every queued reply a request
        # passes on its way down the queue.
        for test, _ in self._checks:  # noqa: SIM110
            if not test(facts):
                return False
        return True

    def misses(self, facts: Facts) -> list[str]:
        """One line for each key (each parameter, each header) that does not hold, saying
        what was expected and what was found."""
        return [line for test, explain in self._checks if not test(facts)
                for line in explain(facts)]


def _guard(spec: Mapping[str, Any]) -> Guard | None:
    """The condition of ``spec`` a selector looks it up by: an exact value where there is one
    (found in a table), else a substring (found by one search for all of them)."""
    if "message" in spec:
        return ("message", "", spec["message"])
    if "last_turn" in spec:
        return ("last_turn", "", spec["last_turn"])
    for name, value in (spec.get("headers") or {}).items():
        if value is not None:
            return ("header", name, value)
    for name, value in (spec.get("params") or {}).items():
        return ("param", name, value)
    if "message_contains" in spec:
        return ("message_contains", "", spec["message_contains"])
    if "last_turn_contains" in spec:
        return ("last_turn_contains", "", spec["last_turn_contains"])
    return None


ANYTHING = Match(None, ())


class Selector:
    """The first of a queue's matches that holds for a request, without testing each in turn.

    Every match with a guard is filed under it: an exact prompt, last user turn, header value
    or body parameter in a table, a substring in one regular expression of all of them (one
    search says whether any occurs). Matches made of a ``message_regex`` alone are searched
    for together too, as one alternation, when it stays within the engine's caps: when it finds
    nothing, none of them holds. A request is then tested only against
    the matches its own values find and those without a guard, in queue order.
    """

    __slots__ = ("_exact", "_matches", "_patterns", "_substrings", "_unguarded")

    def __init__(self, matches: list[Match]) -> None:
        self._matches = matches
        self._unguarded: list[int] = []
        # (kind, name) -> value -> positions
        self._exact: dict[tuple[str, str], dict[Any, list[int]]] = {}
        # kind -> (search for any of the substrings, positions)
        substrings: dict[str, tuple[list[str], list[int]]] = {}
        for index, match in enumerate(matches):
            guard = match.guard
            if guard is None:
                self._unguarded.append(index)
            elif guard[0].endswith("_contains"):
                texts, positions = substrings.setdefault(guard[0], ([], []))
                texts.append(guard[2])
                positions.append(index)
            else:
                table = self._exact.setdefault((guard[0], guard[1]), {})
                table.setdefault(guard[2], []).append(index)
        self._substrings = {
            kind: (re.compile("|".join(re.escape(text) for text in sorted(set(texts)))),
                   positions)
            for kind, (texts, positions) in substrings.items()}
        self._patterns = _patterns_together(matches, self._unguarded)
        if self._patterns is not None:
            grouped = set(self._patterns[1])
            self._unguarded = [index for index in self._unguarded if index not in grouped]

    def first(self, facts: Facts) -> int:
        """The position of the first match that holds for ``facts``, or -1."""
        found: list[list[int]] = [self._unguarded] if self._unguarded else []
        for (kind, name), table in self._exact.items():
            if kind == "message":
                value: Any = facts.message
            elif kind == "last_turn":
                value = facts.last_turn
            elif kind == "header":
                value = facts.headers.get(name)
            else:
                value = facts.body.get(name) if facts.body is not None else None
                if type(value) not in (int, float):
                    continue
            positions = table.get(value)
            if positions:
                found.append(positions)
        for kind, (search, positions) in self._substrings.items():
            text = facts.message if kind == "message_contains" else facts.last_turn
            if text is not None and search.search(text) is not None:
                found.append(positions)
        if self._patterns is not None and facts.message is not None \
                and patterns.search(self._patterns[0], facts.encoded):
            found.append(self._patterns[1])
        if not found:
            return -1
        candidates = found[0] if len(found) == 1 else sorted(set().union(*found))
        matches = self._matches
        for index in candidates:
            if matches[index].holds(facts):
                return index
        return -1


def _patterns_together(matches: list[Match], unguarded: list[int]
                       ) -> tuple[bytes, list[int]] | None:
    """One alternation of the patterns of the unguarded matches made of a ``message_regex``
    alone, and their positions; ``None`` when fewer than two can be joined or their
    alternation would pass the engine's caps. Joined, they find a text only where one of them
    does."""
    found: list[bytes] = []
    positions: list[int] = []
    for index in unguarded:
        spec = matches[index].spec
        if spec is None or set(spec) != {"message_regex"}:
            continue
        found.append(patterns.encoded(spec["message_regex"]))
        positions.append(index)
    if len(positions) < 2:
        return None
    alternation = patterns.joined(found)
    return None if alternation is None else (alternation, positions)


def shown(value: Any) -> str:
    """A value for a message: its repr, cut in the middle when long."""
    text = repr(value)
    if len(text) <= SHOWN_CHARS:
        return text
    half = SHOWN_CHARS // 2 - 2
    return f"{text[:half]} ... {text[-half:]}"


def describe_kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


@cache
def body_parameters() -> tuple[str, ...]:
    """The body parameters ``params`` may name: the contract's, but ``message``."""
    properties = contract.request_validator().schema.get("properties", {})
    return tuple(name for name in properties if name != "message")


def _is_number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def _text(where: str, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise MatchError(f"{where}.{key} must be a string, not {describe_kind(value)}")
    return value


def _got_message(facts: Facts) -> str:
    return "no message (the body has no string message)" if facts.message is None \
        else shown(facts.message)


def _message_check(where: str, key: str, value: Any) -> tuple[Test, Explain]:
    """The checks of the keys on the prompt and the last user turn."""
    if key == "message_regex":
        text = _text(where, key, value)
        most = contract.admin_limits().max_pattern
        if len(text) > most:
            raise MatchError(f"{where}.{key} is {len(text)} characters; the most is {most}")
        try:
            pattern = patterns.check(text)
        except patterns.PatternError as error:
            raise MatchError(f"{where}.{key} is not a valid regular expression: "
                             f"{error}") from None
        return ((lambda facts: facts.message is not None
                 and patterns.search(pattern, facts.encoded)),
                lambda facts: [f"{key}: {shown(text)} finds nothing in {_got_message(facts)}"])
    text = _text(where, key, value)
    if key == "message":
        return ((lambda facts: facts.message == text),
                lambda facts: [f"{key}: expected {shown(text)}, got {_got_message(facts)}"])
    if key == "message_contains":
        return ((lambda facts: facts.message is not None and text in facts.message),
                lambda facts: [f"{key}: {shown(text)} is not in {_got_message(facts)}"])

    def got_turn(facts: Facts) -> str:
        return _got_message(facts) if facts.message is None else shown(facts.last_turn)

    if key == "last_turn":
        return ((lambda facts: facts.message is not None and facts.last_turn == text),
                lambda facts: [f"{key}: expected {shown(text)}, got {got_turn(facts)}"])
    return ((lambda facts: facts.message is not None and text in (facts.last_turn or "")),
            lambda facts: [f"{key}: {shown(text)} is not in {got_turn(facts)}"])


def _params_check(where: str, value: Any) -> tuple[dict[str, Any], tuple[Test, Explain]]:
    if not isinstance(value, Mapping):
        raise MatchError(f"{where}.params must be an object of body parameters and numbers, "
                         f"such as {{\"temperature\": 0.5}}; not {describe_kind(value)}")
    known = body_parameters()
    wanted: dict[str, int | float] = {}
    for name, number in value.items():
        if name not in known:
            raise MatchError(f"{where}.params has an unknown parameter {shown(name)}; the "
                             f"parameters are {', '.join(known)}")
        if not _is_number(number):
            raise MatchError(f"{where}.params.{name} must be a number, not "
                             f"{describe_kind(number)}")
        wanted[name] = number

    def got(facts: Facts, name: str) -> Any:
        body = facts.body
        return body.get(name, _ABSENT) if body is not None else _ABSENT

    def test(facts: Facts) -> bool:
        body = facts.body
        if body is None:
            return False
        for name, number in wanted.items():
            found = body.get(name)
            if type(found) not in (int, float) or found != number:
                return False
        return True

    def explain(facts: Facts) -> list[str]:
        return [f"params.{name}: expected {number!r}, got {_show_found(got(facts, name))}"
                for name, number in wanted.items()
                if not (type(got(facts, name)) in (int, float) and got(facts, name) == number)]

    return dict(wanted), (test, explain)


class _Absent:
    def __repr__(self) -> str:
        return "absent"


_ABSENT = _Absent()


def _show_found(value: Any) -> str:
    return "absent" if value is _ABSENT or value is None else shown(value)


def _headers_check(where: str, value: Any) -> tuple[dict[str, Any], tuple[Test, Explain]]:
    if not isinstance(value, Mapping):
        raise MatchError(f"{where}.headers must be an object of header names and values "
                         f"(null: absent), not {describe_kind(value)}")
    wanted: dict[str, str | None] = {}
    for name, expected in value.items():
        if not isinstance(name, str) or not _TOKEN.match(name):
            raise MatchError(f"{where}.headers has an invalid header name {shown(name)}")
        lowered = name.lower()
        if lowered in wanted:
            raise MatchError(f"{where}.headers names {lowered!r} twice (names are "
                             f"matched in any case)")
        if expected is not None and not isinstance(expected, str):
            raise MatchError(f"{where}.headers.{name} must be a string or null (absent), "
                             f"not {describe_kind(expected)}")
        wanted[lowered] = expected
    pairs = tuple(wanted.items())

    def test(facts: Facts) -> bool:
        headers = facts.headers
        for name, expected in pairs:  # noqa: SIM110 (as in Match.holds)
            if headers.get(name) != expected:
                return False
        return True

    def explain(facts: Facts) -> list[str]:
        return [f"headers.{name}: expected {_show_found(expected)}, got "
                f"{_show_found(facts.headers.get(name))}"
                for name, expected in pairs if facts.headers.get(name) != expected]

    return wanted, (test, explain)


def _path_check(path: str) -> tuple[Test, Explain]:
    return ((lambda facts: facts.path == path),
            lambda facts: [f"path: expected {shown(path)}, got {shown(facts.path)}"])


def _status_check(status: int | None) -> tuple[Test, Explain]:
    def named(value: int | None) -> str:
        return "no answer" if value is None else str(value)

    return ((lambda facts: facts.status == status),
            lambda facts: [f"status: expected {named(status)}, got {named(facts.status)}"])


def find_payload(payload: Any) -> Any:
    """The match a ``POST /__mock__/requests/find`` body gives: ``{"match": {...}}`` (``{}``
    or ``{"match": null}``: every entry)."""
    if not isinstance(payload, Mapping):
        raise MatchError(f"the body must be an object such as {{\"match\": {{\"last_turn\": "
                         f"\"Hi\"}}}}, not {describe_kind(payload)}")
    unknown = [str(key) for key in payload if key != "match"]
    if unknown:
        raise MatchError(f"the body has unknown field(s) {', '.join(map(shown, unknown))}; "
                         f"it takes one, match")
    return payload.get("match")


def compile_match(spec: Any, where: str = "match", *, keys: tuple[str, ...] = REPLY_KEYS
                  ) -> Match:
    """Check ``spec`` (an object of match keys, or ``None`` for every request) and build its
    ``Match``; ``MatchError`` names the field (``where`` first) when it cannot be used.
    ``keys``: the keys allowed, ``REPLY_KEYS`` for a reply, ``FIND_KEYS`` for a search."""
    if spec is None:
        return ANYTHING
    if not isinstance(spec, Mapping):
        raise MatchError(f"{where} must be an object of match keys or null, "
                         f"not {describe_kind(spec)}")
    unknown = [str(key) for key in spec if key not in keys]
    if unknown:
        if all(key in FIND_KEYS for key in unknown):
            raise MatchError(f"{where}.{unknown[0]} is for searching the journal "
                             f"(POST /__mock__/requests/find); a reply answers valid "
                             f"POST /api/text requests only. The keys of a reply's match "
                             f"are {', '.join(keys)}")
        raise MatchError(f"{where} has unknown key(s) {', '.join(map(shown, unknown))}; "
                         f"the keys are {', '.join(keys)}")
    normal: dict[str, Any] = {}
    checks: list[tuple[Test, Explain]] = []
    for key, value in spec.items():
        if key in ("params", "headers"):
            build = _params_check if key == "params" else _headers_check
            normal[key], check = build(where, value)
        elif key == "path":
            normal[key] = _text(where, key, value)
            check = _path_check(value)
        elif key == "status":
            if type(value) is float and value.is_integer():  # 200.0: JSON has one number type
                value = int(value)
            if value is not None and not (type(value) is int and 100 <= value <= 599):
                raise MatchError(f"{where}.status must be a status from 100 to 599, or null "
                                 f"(no answer); got {shown(value)}")
            normal[key] = value
            check = _status_check(value)
        else:
            normal[key] = value
            check = _message_check(where, key, value)
        checks.append(check)
    return Match(normal, tuple(checks))
