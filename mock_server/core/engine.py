"""The mock's behaviour, free of any web framework.

``Engine.handle`` takes an ``IncomingRequest`` for the site (anything outside ``/__mock__/``)
and returns the ``Answer`` together with the journal entry it recorded; the admin methods
back the ``/__mock__/`` API of each namespace (``Engine.admin(name)`` is the ``AdminAPI`` of
``records`` for one). The Flask app is a thin adapter over this class, and the socketless test
kit reuses it as is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from . import contract, edge, fast_accept
from .edge import CHAT_PATH, MAX_BODY
from .errors import QueueFullError, ReplyError, UnknownReplyError
from .journal import DEFAULT_BODY_CAP, STORAGE_ERRORS, Journal
from .journal_file import JournalFile
from .matching import FIND_KEYS, Facts, compile_match, describe_kind
from .namespaces import DEFAULT as DEFAULT_NAMESPACE
from .namespaces import check as check_namespace
from .namespaces import refused as refused_namespace
from .raw_record import Recorded, derive, realized
from .records import AdminAPI, JournalEntry, JournalPage, Queued, QueuedReply, Settings
from .replies import (
    DEFAULT_REPLY_TEXT,
    ECHO_PREFIX,
    REPLY_MODES,
    default_answer,
    parse_replies,
    parse_settings,
    scripted_answer,
)
from .store import DEFAULT_JOURNAL_CAP, MemoryStore, QuietStore, Store, check_cap
from .wire import HTML_TYPE, PAGE_HEADERS, Answer, IncomingRequest, json_answer, parse_json

VIOLATION_CHARS = 300
# Entries a search reads from the store at a time.
FIND_CHUNK = 500
# The violations of a request that broke no rule: one tuple for all (a record keeps it).
NONE_BROKEN: tuple[str, ...] = ()


class Outcome:
    """An answer, and the journal entry that records it (empty when the journal is off),
    derived from the raw record when asked for. ``again``: the parsed body, when the answer
    is one the same request may be given again (``Engine.repeat``), else ``None``."""

    __slots__ = ("_entry_id", "_raw", "again", "answer")

    def __init__(self, answer: Answer, entry_id: int = 0, raw: Recorded | None = None,
                 again: Any = None) -> None:
        self.answer = answer
        self._entry_id = entry_id
        self._raw = raw
        self.again = again

    @property
    def entry(self) -> dict[str, Any]:
        return {} if self._raw is None else derive(self._entry_id, realized(self._raw))


def invalid(status: int, reason: str, *, extra: tuple[tuple[str, str], ...] = ()) -> Answer:
    """The mock's refusal: ``{"response": false, "message": "invalid request: ..."}``."""
    return json_answer(status, {"response": False, "message": f"invalid request: {reason}"},
                       extra=extra)


def _never(data: Any) -> bool:
    return False


def _quiet_never() -> bool:
    return False


def describe_error(path: list[Any], message: str) -> str:
    where = ".".join(str(part) for part in path)
    text = f"{where}: {message}" if where else message
    return text if len(text) <= VIOLATION_CHARS else text[:VIOLATION_CHARS - 3] + "..."


def cut_short_reason(request: IncomingRequest) -> str:
    """Why a body that stopped before its announced end is refused, in the client's terms."""
    declared = request.headers.get("content-length", "").strip()
    if declared.isascii() and declared.isdigit():
        told = f"{request.size} of {int(declared)} bytes announced by its Content-Length"
    else:
        told = f"{request.size} bytes, before its last chunk"
    return f"the body ended after {told}; send the whole body"


class Engine:
    """The mock of chat-gpt.org: reply mode, reply queue, fault catalogue and journal."""

    def __init__(self, *, reply_mode: str = "echo",
                 reply_text: str = DEFAULT_REPLY_TEXT,
                 store: Store | None = None, journal_cap: int = DEFAULT_JOURNAL_CAP,
                 journal_file: str | None = None, body_cap: int = DEFAULT_BODY_CAP,
                 journal_enabled: bool = True, chat_page: bytes | None = None,
                 owns_store: bool = False, keep_secrets: bool = False) -> None:
        """``chat_page`` is what ``GET /chat`` answers (``None``: 404, no page); with
        ``owns_store`` the engine closes ``store`` when it is closed."""
        if reply_mode not in REPLY_MODES:
            raise ValueError(f"reply mode must be one of {', '.join(REPLY_MODES)}; "
                             f"got {reply_mode!r}")
        if not isinstance(reply_text, str):
            raise ValueError(f"reply text must be a string; got {type(reply_text).__name__}")
        check_cap(journal_cap)
        if isinstance(body_cap, bool) or not isinstance(body_cap, int) or body_cap < 0:
            raise ValueError(f"body cap must be a whole number of 0 or more; got {body_cap!r}")
        self.reply_mode = reply_mode
        self.reply_text = reply_text
        self.store: Store = store if store is not None else MemoryStore(journal_cap)
        self._owns_store = owns_store or store is None
        self.chat_page = chat_page
        try:
            file = JournalFile(journal_file) if journal_file else None
        except OSError as error:
            raise ValueError(f"cannot open the journal file {journal_file!r}: "
                             f"{error.strerror or error}") from error
        self.journal = Journal(self.store, file=file, body_cap=body_cap,
                               keep_secrets=bool(keep_secrets))
        # Whether the store holds nothing a request could take (repeat); never, for a store
        # that cannot tell.
        self._quiet: Callable[[], bool] = (self.store.quiet if isinstance(self.store, QuietStore)
                                           else _quiet_never)
        # Built once: a fast yes for the bodies the contract plainly accepts.
        self._accepts = fast_accept.build(contract.request_validator().schema) or _never
        # Off for benchmarks of the serving alone: nothing is recorded, all else is the same.
        self.journal_enabled = bool(journal_enabled)

    # --- the site ----------------------------------------------------------------------------

    def handle(self, request: IncomingRequest) -> Outcome:
        """Answer one request to the site and record it in the journal."""
        parsed: Any = None
        violations: Sequence[str] = NONE_BROKEN
        reply_id: str | None = None
        again = False
        if not request.body_complete:
            # Whatever it asked, an unfinished request is not answered as if it were whole:
            # a prefix of the body may well be valid JSON.
            reason = cut_short_reason(request)
            answer, violations = invalid(400, reason), [reason]
        elif request.path == contract.API_PATH:
            answer, parsed, violations, reply_id, again = self._api(request)
        else:
            parsed = self._lenient_json(request)
            if request.path == CHAT_PATH:
                answer = self._chat(request)
            else:
                answer = invalid(404, refused_namespace(request.path) or (
                    f"nothing at {request.path}; the API is POST {contract.API_PATH} and the "
                    f"chat page GET {CHAT_PATH}"))
        if not self.journal_enabled:
            return Outcome(answer, 0, None, parsed if again else None)
        entry_id, raw = self.journal.record(request, answer, parsed, violations, reply_id)
        return Outcome(answer, entry_id, raw, parsed if again else None)

    def repeat(self, request: IncomingRequest, outcome: Outcome) -> bool:
        """Journal ``request`` as answered with ``outcome``'s answer once more, and say so;
        ``False`` (nothing done) unless that is the answer ``handle`` would give it.

        A carrier that has answered a request with ``outcome`` may hand its bytes in again:
        the same request line, headers and body, from the same client over the same kind of
        connection. Its answer is the same while it hangs on nothing but those bytes and the
        server's own reply mode (``outcome.again``: a body the contract accepts, answered in
        the reply mode, no reply taken, no namespace's settings read), and the store still
        holds no reply and no settings to take instead (``QuietStore.quiet``). The entry is
        the one ``handle`` would record."""
        again = outcome.again
        if again is None or not self._quiet():
            return False
        if self.journal_enabled and not self.journal.again(request, outcome._raw):
            self.journal.record(request, outcome.answer, again, NONE_BROKEN, None)
        return True

    def refuse(self, request: IncomingRequest, status: int, message: str) -> Answer:
        """The answer to a request the server turns away before reading it (a ``Host`` it
        does not serve: 421), ``{"response": false, "message": ...}``; a request to the site
        is journaled with it (its body, if any, is not read: left out)."""
        answer = json_answer(status, {"response": False, "message": message})
        if self.journal_enabled and not edge.is_admin(request.path):
            self.journal.record(request, answer, parsed=None, violations=NONE_BROKEN,
                                reply_id=None)
        return answer

    def _api(self, request: IncomingRequest
             ) -> tuple[Answer, Any, Sequence[str], str | None, bool]:
        """The answer to a request to the API, its parsed body, the rules it broke, the id of
        the reply taken, and whether the answer may be given again (``repeat``)."""
        if request.method != "POST":
            return (invalid(405, f"method {request.method} is not allowed on "
                                 f"{contract.API_PATH}; use POST", extra=(("Allow", "POST"),)),
                    self._lenient_json(request), NONE_BROKEN, None, False)
        if request.size > MAX_BODY:
            reason = f"the body is {request.size} bytes, over the limit of {MAX_BODY} (1 MiB)"
            return invalid(413, reason), None, [reason], None, False
        try:
            data = parse_json(request.body.decode("utf-8"))
        except UnicodeDecodeError:
            reason = "the body is not UTF-8 text; send a JSON object"
            return invalid(400, reason), None, [reason], None, False
        except (ValueError, RecursionError) as error:
            reason = f"the body is not JSON ({describe_error([], str(error))}); send a JSON object"
            return invalid(400, reason), None, [reason], None, False
        if not isinstance(data, dict):
            reason = (f"the body must be a JSON object with a string \"message\", not "
                      f"{describe_kind(data)}")
            return invalid(400, reason), data, [reason], None, False
        if not self._accepts(data):  # the full validator only for the bodies in doubt
            errors = sorted(contract.request_validator().iter_errors(data),
                            key=lambda error: [str(part) for part in error.absolute_path])
            violations = [describe_error(list(error.absolute_path), error.message)
                          for error in errors]
            if violations:
                return invalid(400, "; ".join(violations)), data, violations, None, False
        facts = Facts(data["message"], data, request.headers)
        try:
            reply, own = self.store.take_reply(facts, namespace=request.namespace)
        except STORAGE_ERRORS as error:  # a broken store still answers, in the reply mode
            self.journal.failed("store", error, lost=False)
            reply, own = None, None
        # What the reply mode answers: the answer, or a scripted reply's without a message
        # (the server's own settings, unless the namespace has its own: _mode_text).
        if own is None and self.reply_mode == "echo":
            text = ECHO_PREFIX + (facts.last_turn or "")
        else:
            text = self._mode_text(own, facts)
        if reply is None:
            # In the server's own reply mode, the answer hangs on the body alone: it may be
            # given again to the same body (repeat).
            return default_answer(text), data, NONE_BROKEN, None, own is None
        return scripted_answer(reply, text), data, NONE_BROKEN, reply["id"], False

    def _mode_text(self, own: Mapping[str, Any] | None, facts: Facts) -> str:
        """What the reply mode answers, with a namespace's own settings (``own``) if any."""
        mode, text = ((self.reply_mode, self.reply_text) if own is None else
                      (own.get("reply_mode", self.reply_mode),
                       own.get("reply_text", self.reply_text)))
        return ECHO_PREFIX + (facts.last_turn or "") if mode == "echo" else text

    def _chat(self, request: IncomingRequest) -> Answer:
        if request.method not in ("GET", "HEAD"):
            return invalid(405, f"method {request.method} is not allowed on {CHAT_PATH}; "
                                f"use GET", extra=(("Allow", "GET, HEAD"),))
        if self.chat_page is None:
            return invalid(404, f"this mock serves no chat page at {CHAT_PATH}")
        return Answer(200, (("Content-Type", HTML_TYPE), *PAGE_HEADERS), self.chat_page)

    def _lenient_json(self, request: IncomingRequest) -> Any:
        """The body as JSON for the journal, when it is small enough and parses."""
        if not request.body or request.size > MAX_BODY:
            return None
        try:
            return parse_json(request.body.decode("utf-8"))
        except (ValueError, RecursionError):
            return None

    # --- the admin API, of one namespace each (of every one where namespace is None) -------

    def admin(self, namespace: str = DEFAULT_NAMESPACE) -> NamespaceAdmin:
        """The ``AdminAPI`` of ``namespace`` (``ValueError`` for a name against the rule)."""
        if namespace != DEFAULT_NAMESPACE:
            check_namespace(namespace)
        return NamespaceAdmin(self, namespace)

    def requests(self, *, path: str | None = None, limit: int | None = None,
                 namespace: str | None = DEFAULT_NAMESPACE,
                 before_id: int | None = None) -> JournalPage:
        """The most recent ``limit`` entries (``None``: all) of ``namespace`` whose id is
        below ``before_id`` (``None``: any), oldest first, and the namespace's total."""
        total, entries = self.store.entries(namespace=namespace, path=path, limit=limit,
                                            before_id=before_id)
        return {"total": total, "requests": cast("list[JournalEntry]", entries)}

    def find(self, match: Any, *, namespace: str = DEFAULT_NAMESPACE, limit: int | None = None,
             before_id: int | None = None) -> JournalPage:
        """The most recent ``limit`` entries (``None``: all) of ``namespace`` whose id is below
        ``before_id`` that ``match`` (the keys of a reply's match, and ``path`` and ``status``)
        finds, oldest first, and how many it finds in all; raises ``matching.MatchError``.
        The journal is read a chunk at a time from the newest, never listed whole."""
        checked = compile_match(match, keys=FIND_KEYS)  # where: "match", the default
        found: list[dict[str, Any]] = []
        total = 0
        below = before_id
        while True:
            _, chunk = self.store.entries(namespace=namespace, limit=FIND_CHUNK,
                                          before_id=below)
            for entry in reversed(chunk):
                if checked.holds(Facts.of_entry(entry)):
                    total += 1
                    if limit is None or len(found) < limit:
                        found.append(entry)
            if len(chunk) < FIND_CHUNK:
                break
            below = chunk[0]["id"]
        found.reverse()
        return {"total": total, "requests": cast("list[JournalEntry]", found)}

    def clear_requests(self, *, namespace: str | None = DEFAULT_NAMESPACE) -> dict[str, int]:
        return {"cleared": self.store.clear(namespace=namespace)}

    def queue_replies(self, payload: Any, *, namespace: str = DEFAULT_NAMESPACE) -> Queued:
        """Queue one reply object or a list of them; raises ``ReplyError``."""
        parsed = parse_replies(payload)
        try:
            ids = self.store.push_replies(parsed, namespace=namespace)
        except QueueFullError as error:
            raise ReplyError(str(error)) from error
        return {"queued": len(ids), "ids": ids}

    def replies(self, *, namespace: str = DEFAULT_NAMESPACE) -> dict[str, list[QueuedReply]]:
        return {"replies": cast("list[QueuedReply]", self.store.replies(namespace=namespace))}

    def remove_reply(self, reply_id: str, *, namespace: str = DEFAULT_NAMESPACE
                     ) -> dict[str, str]:
        """Take one reply out of the queue; raises ``UnknownReplyError``."""
        if not isinstance(reply_id, str) or not self.store.remove_reply(reply_id,
                                                                        namespace=namespace):
            where = f" of namespace {namespace!r}" if namespace else ""
            raise UnknownReplyError(
                f"no reply {reply_id!r} in the queue{where}: it was used up, removed, or "
                f"never queued here")
        return {"removed": reply_id}

    def clear_replies(self, *, namespace: str = DEFAULT_NAMESPACE) -> dict[str, int]:
        return {"cleared": self.store.clear_replies(namespace=namespace)}

    def reset(self, *, namespace: str = DEFAULT_NAMESPACE) -> dict[str, int]:
        """Empty the journal view and the reply queue of ``namespace`` at once."""
        return {"cleared_requests": self.store.clear(namespace=namespace),
                "cleared_replies": self.store.clear_replies(namespace=namespace)}

    def settings(self, *, namespace: str = DEFAULT_NAMESPACE) -> Settings:
        own = self.store.settings(namespace=namespace) or {}
        return {"reply_mode": own.get("reply_mode", self.reply_mode),
                "reply_text": own.get("reply_text", self.reply_text)}

    def put_settings(self, payload: Any, *, namespace: str = DEFAULT_NAMESPACE) -> Settings:
        """Give ``namespace`` the settings of ``payload``, the server's for those it leaves
        out; raises ``SettingsError``."""
        self.store.put_settings(parse_settings(payload), namespace=namespace)
        return self.settings(namespace=namespace)

    def namespaces(self, *, limit: int | None = None, after: str | None = None
                   ) -> dict[str, Any]:
        """The namespaces with entries, replies or settings (the default one always), by
        name: how many in all, and the first ``limit`` (``None``: all) after ``after``."""
        total, page = self.store.namespaces(limit=limit, after=after)
        return {"total": total, "namespaces": page}

    def health(self) -> dict[str, Any]:
        """The journal's state: ``{"journal": "ok"}`` or ``"degraded"`` with the reason."""
        return self.journal.health()

    # --- for a server that batches the journal's writes ------------------------------------

    def batch_writes(self) -> None:
        """Keep the journal's records for ``flush`` to write in one go, from now on
        (``ValueError`` for a store that cannot: only the SQLite one does). A server that does
        this sends each answer only after the ``flush`` that follows its request."""
        self.journal.batch_writes()

    def flush(self) -> None:
        """Write the records kept since the last ``flush``; a store that fails loses them,
        counted and said once, never raised."""
        self.journal.flush()

    def close(self) -> None:
        """Close the journal file, and the store when the engine opened or owns it."""
        self.journal.close()
        if self._owns_store:
            self.store.close()


class NamespaceAdmin:
    """The admin API of one namespace of an ``Engine``, in this process (``records.AdminAPI``)."""

    def __init__(self, engine: Engine, namespace: str = DEFAULT_NAMESPACE) -> None:
        self.engine = engine
        self._namespace = namespace

    @property
    def namespace(self) -> str:
        return self._namespace

    def within(self, name: str) -> AdminAPI:
        if self._namespace != DEFAULT_NAMESPACE:
            raise ValueError(f"namespaces do not nest: this is namespace "
                             f"{self._namespace!r} already")
        return self.engine.admin(name)

    def requests(self, *, path: str | None = None, limit: int | None = None) -> JournalPage:
        return self.engine.requests(path=path, limit=limit, namespace=self._namespace)

    def find(self, match: Any) -> JournalPage:
        return self.engine.find(match, namespace=self._namespace)

    def clear_requests(self) -> dict[str, int]:
        return self.engine.clear_requests(namespace=self._namespace)

    def queue_replies(self, payload: Any) -> Queued:
        return self.engine.queue_replies(payload, namespace=self._namespace)

    def replies(self) -> dict[str, list[QueuedReply]]:
        return self.engine.replies(namespace=self._namespace)

    def remove_reply(self, reply_id: str) -> dict[str, str]:
        return self.engine.remove_reply(reply_id, namespace=self._namespace)

    def clear_replies(self) -> dict[str, int]:
        return self.engine.clear_replies(namespace=self._namespace)

    def reset(self) -> dict[str, int]:
        return self.engine.reset(namespace=self._namespace)

    def settings(self) -> Settings:
        return self.engine.settings(namespace=self._namespace)

    def put_settings(self, payload: Any) -> Settings:
        return self.engine.put_settings(payload, namespace=self._namespace)
