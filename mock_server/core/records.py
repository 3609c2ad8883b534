"""The shapes of what the mock keeps and hands out: a journal entry, a scripted reply, a page
of the journal, and the admin API as a protocol.

These are the one definition of each field. The journal derives its entries to ``JournalEntry``,
``replies`` checks reply objects against ``ScriptedReply``'s fields, and a test checks that the
reference documentation lists exactly these fields.
"""

from __future__ import annotations

from typing import Any, Protocol, TypedDict


class Recorded(TypedDict):
    """A journal entry before the store gives it its ``id``."""

    time: str  # ISO 8601, UTC, milliseconds
    namespace: str  # "" for the default namespace, else the name of /ns/{name}/
    method: str  # as sent, case and all
    path: str  # as sent, percent-decoded, without the /ns/{name} prefix
    query: str
    headers: dict[str, str]  # lower-case names, values as received; secrets redacted
    headers_truncated: bool  # the headers were cut at HEADERS_CAP bytes in all
    json: Any  # the parsed body, or None (not JSON, cut at the body cap, or nested too deep)
    body: str  # the body as text, cut at the body cap
    body_size: int  # bytes received
    body_truncated: bool
    remote_addr: str | None
    host: str | None  # the host it named: its Host, or an absolute-form target's authority
    scheme: str  # "https" inside a TLS tunnel (--intercept), else "http"
    via: str | None  # "proxy": answered as an intercepting proxy (--intercept); else None
    status: int | None  # None when the connection was closed without an answer
    reply: Any  # the answer's JSON value, or its text, or None
    violations: list[str]  # contract breaches of the body; empty when valid
    header_diff: dict[str, dict[str, str | None]]  # {name: {"expected", "received"}}
    fault: str | None  # the fault played, by name
    delay_ms: int | float
    scripted: bool  # answered by a scripted reply rather than the reply mode
    reply_id: str | None  # the id of the scripted reply that answered


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
    times: int | None  # uses left; None: a standing reply, never used up
    match: dict[str, Any] | None  # the requests it answers (matching.REPLY_KEYS); None: all


class QueuedReply(ScriptedReply):
    """A scripted reply in the queue, as ``GET /__mock__/replies`` lists it."""

    id: str  # given when queued; unique in the server's life


class JournalPage(TypedDict):
    """``GET /__mock__/requests``: how many entries were recorded, and those held."""

    total: int
    requests: list[JournalEntry]


def field_names(shape: type) -> tuple[str, ...]:
    """The fields of a ``TypedDict`` (its bases' included, first), in declaration order."""
    return tuple(shape.__annotations__)


class Queued(TypedDict):
    """``POST /__mock__/replies``: how many replies were queued, and their ids in order."""

    queued: int
    ids: list[str]


class Settings(TypedDict):
    """``GET /__mock__/settings``: what a valid request no reply answers gets, in a namespace."""

    reply_mode: str  # "echo" or "fixed"
    reply_text: str  # the answer in fixed mode


class AdminAPI(Protocol):
    """The admin API of one namespace, as ``Engine`` performs it in-process
    (``Engine.admin(name)``) and ``RemoteMock``'s client performs it over HTTP on a running
    mock (``/__mock__/...`` or ``/ns/{name}/__mock__/...``)."""

    @property
    def namespace(self) -> str:
        """The namespace this API acts on: ``""`` for the default one."""
        ...

    def within(self, name: str) -> AdminAPI:
        """The admin API of namespace ``name`` of the same server (``ValueError`` when this one
        is not the default namespace's: namespaces do not nest)."""
        ...

    def requests(self, *, path: str | None = None, limit: int | None = None) -> JournalPage:
        """``GET /__mock__/requests?path=&limit=``."""
        ...

    def find(self, match: Any) -> JournalPage:
        """``POST /__mock__/requests/find`` with ``{"match": match}``: the entries that match,
        oldest first; a bad match raises ``MatchError``."""
        ...

    def clear_requests(self) -> dict[str, int]:
        """``DELETE /__mock__/requests``: ``{"cleared": N}``."""
        ...

    def queue_replies(self, payload: Any) -> Queued:
        """``POST /__mock__/replies``: ``{"queued": N, "ids": [...]}``; a bad reply raises
        ``ReplyError`` and queues nothing."""
        ...

    def replies(self) -> dict[str, list[QueuedReply]]:
        """``GET /__mock__/replies``: ``{"replies": [...]}``, in queue order."""
        ...

    def remove_reply(self, reply_id: str) -> dict[str, str]:
        """``DELETE /__mock__/replies/{id}``: ``{"removed": id}``; an id that is not queued
        raises ``UnknownReplyError``."""
        ...

    def clear_replies(self) -> dict[str, int]:
        """``DELETE /__mock__/replies``: ``{"cleared": N}``."""
        ...

    def reset(self) -> dict[str, int]:
        """``POST /__mock__/reset``: ``{"cleared_requests": N, "cleared_replies": M}``."""
        ...

    def settings(self) -> Settings:
        """``GET /__mock__/settings``."""
        ...

    def put_settings(self, payload: Any) -> Settings:
        """``PUT /__mock__/settings``: the settings given, the server's for those left out;
        bad ones raise ``ValueError``."""
        ...
