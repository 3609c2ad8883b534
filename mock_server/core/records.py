"""The shapes of what the mock keeps and hands out: a journal entry, a scripted reply, a page
of the journal, and the admin API as a protocol.

These are the one definition of each field. The journal builds its entries to ``Recorded``,
``replies`` checks reply objects against ``ScriptedReply``'s fields, and a test checks that the
reference documentation lists exactly these fields.
"""

from __future__ import annotations

from typing import Any, Protocol, TypedDict


class Recorded(TypedDict):
    """A journal entry before the store gives it its ``id``."""

    time: str  # ISO 8601, UTC, milliseconds
    method: str  # as sent, case and all
    path: str  # as sent, percent-decoded
    query: str
    headers: dict[str, str]  # lower-case names, values as received
    json: Any  # the parsed body, or None (not JSON, cut at the body cap, or nested too deep)
    body: str  # the body as text, cut at the body cap
    body_size: int  # bytes received
    body_truncated: bool
    remote_addr: str | None
    status: int | None  # None when the connection was closed without an answer
    reply: Any  # the answer's JSON value, or its text, or None
    violations: list[str]  # contract breaches of the body; empty when valid
    header_diff: dict[str, dict[str, str | None]]  # {name: {"expected", "received"}}
    fault: str | None  # the fault played, by name
    delay_ms: int | float
    scripted: bool  # answered by a scripted reply rather than the reply mode


class JournalEntry(Recorded):
    """A journal entry as the admin API lists it."""

    id: int  # increasing, never reused, not even after a clear


class ScriptedReply(TypedDict):
    """A scripted reply once checked: every field present (``replies.parse_reply``)."""

    message: str | None  # None: what the reply mode would answer
    status: int | None  # None only for the disconnect fault
    response: bool | None  # None: the answer has no "response" key
    delay_ms: int | float
    fault: str | None  # a name of faults.FAULTS
    retry_after: int | str | None  # seconds, or an HTTP date
    times: int  # uses left


class JournalPage(TypedDict):
    """``GET /__mock__/requests``: how many entries were recorded, and those held."""

    total: int
    requests: list[JournalEntry]


def field_names(shape: type) -> tuple[str, ...]:
    """The fields of a ``TypedDict`` (its bases' included, first), in declaration order."""
    return tuple(shape.__annotations__)


class AdminAPI(Protocol):
    """The admin API's operations, as ``Engine`` performs them in-process and
    ``RemoteMock``'s client performs them over HTTP on a running mock."""

    def requests(self, *, path: str | None = None, limit: int | None = None) -> JournalPage:
        """``GET /__mock__/requests?path=&limit=``."""
        ...

    def clear_requests(self) -> dict[str, int]:
        """``DELETE /__mock__/requests``: ``{"cleared": N}``."""
        ...

    def queue_replies(self, payload: Any) -> dict[str, int]:
        """``POST /__mock__/replies``: ``{"queued": N}``; a bad reply raises
        ``replies.ReplyError`` and queues nothing."""
        ...

    def replies(self) -> dict[str, list[ScriptedReply]]:
        """``GET /__mock__/replies``: ``{"replies": [...]}``, next first."""
        ...

    def clear_replies(self) -> dict[str, int]:
        """``DELETE /__mock__/replies``: ``{"cleared": N}``."""
        ...
