"""The one interface a test has to a mock, whatever carries it: the live server of a thread
(``thread_server``), the socketless mock on ``responses`` (``socketless``), or a mock running
anywhere else, reached over HTTP (``remote``).

Each carrier hands ``AichatMock`` an ``AdminAPI``: the ``Engine`` itself in this process, or
the admin API's client over HTTP. Scripted replies, faults, validation and journal entries are
the engine's whichever it is, and every answer here is plain JSON data, as the admin API gives
it over HTTP.
"""

from __future__ import annotations

import json
from typing import Any

from ..core.records import AdminAPI, JournalEntry, JournalPage, ScriptedReply
from ..core.wire import json_bytes


def _plain(data: Any) -> Any:
    """A deep copy of JSON data, exactly as the admin API's answer parses back."""
    return json.loads(json_bytes(data))


class AichatMock:
    """A mock of chat-gpt.org for one test: where it is, what it received, what it answers.

    ``base_url`` is what the provider takes (``AICHAT_BASE_URL`` points at it while a fixture
    is active); ``requests`` is the journal; ``reply`` and ``fault`` queue scripted answers
    with the fields of a scripted reply (``times``, ``delay_ms``, ``retry_after``, ``status``,
    ``response``, ``message``); ``clear`` empties the journal and the queue.
    """

    def __init__(self, admin: AdminAPI, base_url: str) -> None:
        self.admin = admin
        self._base_url = base_url.rstrip("/")

    @property
    def base_url(self) -> str:
        """The provider's ``base_url`` for this mock, without a trailing slash."""
        return self._base_url

    def url_for(self, path: str) -> str:
        """The full URL of ``path`` (``"/api/text"``, ``"/__mock__/requests?limit=1"``...)."""
        return self._base_url + (path if path.startswith("/") else "/" + path)

    @property
    def requests(self) -> list[JournalEntry]:
        """The journal entries, oldest first: the ``requests`` list that
        ``GET /__mock__/requests`` answers (fresh copies; changing them changes nothing)."""
        return self.journal()["requests"]

    def journal(self, path: str | None = None, limit: int | None = None) -> JournalPage:
        """``{"total": N, "requests": [...]}`` as ``GET /__mock__/requests?path=&limit=``."""
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                                  or limit < 0):
            raise ValueError(f"limit must be a whole number of 0 or more; got {limit!r}")
        page: JournalPage = _plain(self.admin.requests(path=path, limit=limit))
        return page

    def reply(self, message: str | None = None, **fields: Any) -> None:
        """Queue one scripted reply: ``message`` (``None``: what the reply mode answers) and
        any other field of a scripted reply, e.g. ``times=3``, ``delay_ms=200``,
        ``response=None`` (an answer without the ``response`` key), ``status=201``.
        A bad field raises ``mock_server.ReplyError`` (a ``ValueError``) at once."""
        self.admin.queue_replies({"message": message, **fields})

    def fault(self, name: str, **fields: Any) -> None:
        """Queue one fault of the catalogue by name (``"rate_limit"``, ``"disconnect"``...),
        with the other fields of a scripted reply, e.g. ``retry_after=0``, ``times=2``,
        ``status=504``, ``message="..."``."""
        self.admin.queue_replies({"fault": name, **fields})

    def queue(self, *replies: dict[str, Any]) -> int:
        """Queue scripted reply objects as ``POST /__mock__/replies`` takes them, in order,
        all or none; returns how many were queued."""
        return self.admin.queue_replies(list(replies))["queued"]

    @property
    def queued(self) -> list[ScriptedReply]:
        """The scripted replies not used yet, next first, ``times`` being the uses left."""
        pending: list[ScriptedReply] = _plain(self.admin.replies()["replies"])
        return pending

    def clear(self) -> None:
        """Empty the journal and the reply queue (entry ids go on increasing)."""
        self.admin.clear_requests()
        self.admin.clear_replies()
