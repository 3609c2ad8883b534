"""The one interface a test has to a mock, whatever carries it: the live server of a thread
(``thread_server``), the socketless mock on ``responses`` (``socketless``), or a mock running
anywhere else, reached over HTTP (``remote``).

Each carrier hands ``AichatMock`` an ``AdminAPI`` of one namespace: the ``Engine``'s in this
process, or the admin API's client over HTTP. Scripted replies, matching, faults, validation
and journal entries are the engine's whichever it is, and every answer here is plain JSON
data, as the admin API gives it over HTTP. The assertions are worked out here, once, from
those answers.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar

# The package's name for the class, wherever the core keeps it.
from .. import UnknownReplyError
from ..core import contract, namespaces
from ..core.matching import FIND_KEYS, Facts, Match, compile_match, shown
from ..core.records import AdminAPI, JournalEntry, JournalPage, QueuedReply, Settings
from ..core.wire import json_bytes

# How many requests a failed assertion lists.
SHOWN_REQUESTS = 3
LISTED_REQUESTS = 10
PROMPT_CHARS = 200


# What a test's own check or mistake raises through the kit: a failed assertion, a value the
# mock refuses (a bad reply, match, setting or limit: ValueError), an id not queued.
CALLER_ERRORS = (AssertionError, ValueError, UnknownReplyError)

_P = ParamSpec("_P")
_R = TypeVar("_R")


def shown_from_the_caller(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """A kit method whose failures point at the line that called it: the error's traceback
    starts at this wrapper, which pytest hides (``__tracebackhide__``), so a report shows the
    test's line and the message, not the kit's source or the reply validation's it went
    through. Other exceptions (a bug, a mock that is gone) keep their whole traceback."""

    @functools.wraps(method)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        __tracebackhide__ = True
        try:
            return method(*args, **kwargs)
        except CALLER_ERRORS as error:
            # The same error, its frames below here dropped, its cause kept.
            raise error.with_traceback(None) from error.__cause__

    return wrapper


def _plain(data: Any) -> Any:
    """A deep copy of JSON data, exactly as the admin API's answer parses back."""
    return json.loads(json_bytes(data))


class AichatMock:
    """A mock of chat-gpt.org for one test: where it is, what it received, what it answers.

    ``base_url`` is what the provider takes (``AICHAT_BASE_URL`` points at it while a fixture
    is active); ``requests`` is the journal; ``reply`` and ``fault`` queue scripted answers
    with the fields of a scripted reply (``match``, ``times``, ``delay_ms``, ``retry_after``,
    ``status``, ``response``, ``message``) and return their ids; ``find`` and the
    ``assert_*`` methods check what was sent; ``clear`` empties the journal and the queue.
    """

    def __init__(self, admin: AdminAPI, base_url: str) -> None:
        self.admin = admin
        self._base_url = base_url.rstrip("/")

    @property
    def base_url(self) -> str:
        """The provider's ``base_url`` for this mock, without a trailing slash."""
        return self._base_url

    @property
    def namespace(self) -> str:
        """The namespace this mock is on the server (``""``: the default one)."""
        return self.admin.namespace

    @shown_from_the_caller
    def within(self, name: str) -> AichatMock:
        """The same server's namespace ``name``: a private mock at ``base_url/ns/name``, with
        its own journal view, reply queue and settings."""
        return AichatMock(self.admin.within(namespaces.check(name)),
                          self._base_url + namespaces.prefix(name))

    def url_for(self, path: str) -> str:
        """The full URL of ``path`` (``"/api/text"``, ``"/__mock__/requests?limit=1"``...)."""
        return self._base_url + (path if path.startswith("/") else "/" + path)

    # --- the journal ---------------------------------------------------------------------------

    @property
    def requests(self) -> list[JournalEntry]:
        """The journal entries, oldest first: the ``requests`` list that
        ``GET /__mock__/requests`` answers (fresh copies; changing them changes nothing)."""
        return self.journal()["requests"]

    @shown_from_the_caller
    def journal(self, path: str | None = None, limit: int | None = None) -> JournalPage:
        """``{"total": N, "requests": [...]}`` as ``GET /__mock__/requests?path=&limit=``."""
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                                  or limit < 0):
            raise ValueError(f"limit must be a whole number of 0 or more; got {limit!r}")
        page: JournalPage = _plain(self.admin.requests(path=path, limit=limit))
        return page

    @property
    def last(self) -> JournalEntry | None:
        """The newest journal entry, or ``None`` when there is none."""
        held = self.journal(limit=1)["requests"]
        return held[-1] if held else None

    @property
    def prompts(self) -> list[str]:
        """The flattened prompts (``message``) of the valid ``POST /api/text`` requests,
        oldest first."""
        return [entry["json"]["message"] for entry in self.requests if _is_valid_call(entry)]

    @shown_from_the_caller
    def find(self, **match: Any) -> list[JournalEntry]:
        """The entries the match finds, oldest first: ``POST /__mock__/requests/find``. The
        keys are a reply's (``message``, ``message_contains``, ``message_regex``,
        ``last_turn``, ``last_turn_contains``, ``params``, ``headers``) and ``path`` and
        ``status``; none: every entry. A bad key raises ``ValueError``."""
        found: list[JournalEntry] = _plain(self.admin.find(match or None))["requests"]
        return found

    # --- the replies -----------------------------------------------------------------------

    @shown_from_the_caller
    def reply(self, message: str | None = None, *, match: Mapping[str, Any] | None = None,
              times: int | None = 1, **fields: Any) -> str:
        """Queue one scripted reply and return its id: ``message`` (``None``: what the reply
        mode answers) for the requests ``match`` holds for (``None``: every valid request),
        ``times`` times (``None``: a standing reply, never used up), with any other field of
        a scripted reply, e.g. ``delay_ms=200``, ``response=None`` (an answer without the
        ``response`` key), ``status=201``. A bad field raises ``mock_server.ReplyError``
        (a ``ValueError``) at once, naming it."""
        return self._queue_one({"message": message, "match": _plain_match(match),
                                "times": times, **fields})

    @shown_from_the_caller
    def fault(self, name: str, *, match: Mapping[str, Any] | None = None,
              **fields: Any) -> str:
        """Queue one fault of the catalogue by name (``"rate_limit"``, ``"disconnect"``...)
        for the requests ``match`` holds for, with the other fields of a scripted reply, e.g.
        ``retry_after=0``, ``times=2``, ``status=504``, ``message="..."``; return its id."""
        return self._queue_one({"fault": name, "match": _plain_match(match), **fields})

    def _queue_one(self, reply: dict[str, Any]) -> str:
        ids: list[str] = self.admin.queue_replies(reply)["ids"]
        return ids[0]

    @shown_from_the_caller
    def queue(self, *replies: dict[str, Any]) -> int:
        """Queue scripted reply objects as ``POST /__mock__/replies`` takes them, in order,
        all or none; returns how many were queued."""
        return self.admin.queue_replies(list(replies))["queued"]

    @shown_from_the_caller
    def remove(self, reply_id: str) -> None:
        """Take a queued reply out by its id; an id that is not queued (used up, removed, or
        of another namespace) raises ``mock_server.UnknownReplyError`` (a ``LookupError``)."""
        self.admin.remove_reply(reply_id)

    @property
    def queued(self) -> list[QueuedReply]:
        """The scripted replies in the queue, in queue order, ``times`` being the uses left
        (``None``: a standing reply)."""
        pending: list[QueuedReply] = _plain(self.admin.replies()["replies"])
        return pending

    @property
    def settings(self) -> Settings:
        """``{"reply_mode": ..., "reply_text": ...}``: what a request no reply answers gets."""
        current: Settings = _plain(self.admin.settings())
        return current

    @shown_from_the_caller
    def configure(self, *, reply_mode: str | None = None, reply_text: str | None = None
                  ) -> Settings:
        """Set the reply mode (``"echo"`` or ``"fixed"``) and the fixed text of this mock's
        namespace; what is left out is the server's. ``configure()`` gives back the server's."""
        given = {name: value for name, value in (("reply_mode", reply_mode),
                                                 ("reply_text", reply_text))
                 if value is not None}
        current: Settings = _plain(self.admin.put_settings(given))
        return current

    def clear(self) -> None:
        """Empty the journal and the reply queue (entry ids go on increasing)."""
        self.admin.reset()

    def reset(self) -> dict[str, int]:
        """``POST /__mock__/reset``: empty the journal and the reply queue at once;
        ``{"cleared_requests": N, "cleared_replies": M}``."""
        cleared: dict[str, int] = _plain(self.admin.reset())
        return cleared

    # --- assertions ------------------------------------------------------------------------

    @shown_from_the_caller
    def assert_called(self, times: int | None = None, **match: Any) -> None:
        """Pass when at least one entry matches (``times``: exactly that many do). The
        failure lists the closest requests and how each differs from the match."""
        if times is not None and (isinstance(times, bool) or not isinstance(times, int)
                                  or times < 0):
            raise ValueError(f"times must be a whole number of 0 or more, or None; "
                             f"got {times!r}")
        found = self.find(**match)
        if (times is None and found) or (times is not None and len(found) == times):
            return
        wanted = _describe(match)
        if not found:
            raise AssertionError(
                f"expected {'a request' if times is None else f'{times} request(s)'} "
                f"matching {wanted}, found none{self._where()}."
                f"{self._near_misses(match)}")
        raise AssertionError(
            f"expected {times} request(s) matching {wanted}, found {len(found)}{self._where()}:"
            + "".join(_entry_lines(entry) for entry in found[:LISTED_REQUESTS])
            + _more(len(found), LISTED_REQUESTS))

    @shown_from_the_caller
    def assert_not_called(self, **match: Any) -> None:
        """Pass when no entry matches; the failure lists those that do."""
        found = self.find(**match)
        if found:
            raise AssertionError(
                f"expected no request matching {_describe(match)}, found "
                f"{len(found)}{self._where()}:"
                + "".join(_entry_lines(entry) for entry in found[:LISTED_REQUESTS])
                + _more(len(found), LISTED_REQUESTS))

    @shown_from_the_caller
    def assert_no_violations(self, *, header_diff: bool = True) -> None:
        """Pass when no entry has ``violations`` (contract breaches of its body) nor, unless
        ``header_diff=False``, a ``header_diff`` (headers missing or different from the
        contract's table)."""
        bad = [entry for entry in self.requests
               if entry["violations"] or (header_diff and entry["header_diff"])]
        if bad:
            what = "violations or header differences" if header_diff else "violations"
            raise AssertionError(
                f"{len(bad)} request(s) with {what}{self._where()}:"
                + "".join(_entry_lines(entry, problems=True, header_diff=header_diff)
                          for entry in bad[:LISTED_REQUESTS])
                + _more(len(bad), LISTED_REQUESTS))

    @shown_from_the_caller
    def assert_all_used(self) -> None:
        """Pass when no reply with a finite ``times`` is left in the queue (standing replies,
        ``times=None``, are never used up and do not count)."""
        left = [reply for reply in self.queued if reply["times"] is not None]
        if left:
            raise AssertionError(
                f"{len(left)} scripted reply(ies) not used up{self._where()}:"
                + "".join(f"\n  {reply['id']}: {_reply_summary(reply)}, {reply['times']} "
                          f"use(s) left, match {_describe(reply['match'] or {})}"
                          for reply in left))

    def _where(self) -> str:
        return f" in namespace {self.namespace!r}" if self.namespace else ""

    def _near_misses(self, match: dict[str, Any]) -> str:
        entries = self.requests
        if not entries:
            return " The mock received no request at all."
        checked = compile_match(match or None, "match", keys=FIND_KEYS)
        ranked = sorted(entries, key=lambda entry: _closeness(checked, entry), reverse=True)
        lines = [f" It received {len(entries)} request(s); the closest:"]
        for entry in ranked[:SHOWN_REQUESTS]:
            lines.append(_entry_lines(entry))
            for miss in checked.misses(Facts.of_entry(entry)):
                lines.append(f"\n      {miss}")
        return "".join(lines)


def _plain_match(match: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if match is None else dict(match)


def _is_valid_call(entry: Mapping[str, Any]) -> bool:
    """A ``POST /api/text`` whose body the contract accepts (and the journal kept)."""
    body = entry.get("json")
    return (entry.get("path") == contract.API_PATH and entry.get("method") == "POST"
            and not entry.get("violations") and isinstance(body, dict)
            and isinstance(body.get("message"), str))


def _describe(match: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in match.items()) or "(anything)"


def _more(count: int, shown_count: int) -> str:
    return f"\n  ... and {count - shown_count} more" if count > shown_count else ""


def _reply_summary(reply: Mapping[str, Any]) -> str:
    if reply.get("fault"):
        return f"fault {reply['fault']}"
    message = reply.get("message")
    return "the reply mode's answer" if message is None else f"message {shown(message)}"


def _entry_lines(entry: Mapping[str, Any], *, problems: bool = False,
                 header_diff: bool = True) -> str:
    """One request as a failure lists it: id, method, path, status, prompt; and what is wrong
    with it."""
    status = "no answer" if entry.get("status") is None else entry["status"]
    facts = Facts.of_entry(entry)
    sent = (f"prompt {_cut(facts.message)}" if facts.message is not None
            else f"body {_cut(entry.get('body') or '')}")
    line = f"\n  #{entry.get('id')} {entry.get('method')} {entry.get('path')} -> {status}: {sent}"
    if problems:
        for violation in entry.get("violations") or []:
            line += f"\n      violation: {violation}"
    differ = entry.get("header_diff") or {}
    if differ and header_diff:
        line += "\n      headers that differ from the contract: " + "; ".join(
            f"{name} (expected {shown(diff.get('expected'))}, got "
            f"{'absent' if diff.get('received') is None else shown(diff.get('received'))})"
            for name, diff in differ.items())
    return line


def _cut(text: str) -> str:
    return shown(text) if len(text) <= PROMPT_CHARS else shown(text[-PROMPT_CHARS:]) + \
        f" (its last {PROMPT_CHARS} of {len(text)} characters)"


def _closeness(checked: Match, entry: Mapping[str, Any]) -> tuple[int, float, int]:
    """How close an entry comes to a match: fewer misses first, then text more alike to the
    strings the match wants, then newer."""
    facts = Facts.of_entry(entry)
    misses = checked.misses(facts)
    wanted = [value for key, value in (checked.spec or {}).items()
              if key.startswith(("message", "last_turn")) and isinstance(value, str)]
    likeness = 0.0
    for text in wanted:
        got = facts.message if facts.message is not None else ""
        for candidate in (got, facts.last_turn or ""):
            matcher = difflib.SequenceMatcher(None, text[:500], candidate[:500])
            likeness = max(likeness, matcher.ratio())
    entry_id = entry.get("id")
    return (-len(misses), likeness, entry_id if isinstance(entry_id, int) else 0)
