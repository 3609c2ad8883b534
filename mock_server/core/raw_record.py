"""The journal's raw record: what is kept of one request and its answer when it is recorded,
and the journal entry derived from it when it is read.

Recording keeps the request's and the answer's own values, with only what bounds memory done
then (see ``journal``). The entry the admin API lists is derived when it is read
(``derive``): the time as ISO text, ``header_diff``, ``reply`` (the answer's JSON parsed
again) and the depth check cost nothing for the requests whose entries nobody reads.

A store in a file keeps a record as one JSON array, its fields in the order of ``RawRecord``
(``raw_json``; read back with ``from_json``): that order is part of the store's format. Records
written before entries said whether their headers were cut have 19 fields, those written
before entries said how the request came (``host``, ``scheme``, ``via``) 20.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, NamedTuple

import orjson

from . import contract
from .records import JournalEntry
from .wire import json_bytes

# An entry keeps a parsed body only up to this nesting. Python's JSON encoder recurses once
# per level, and the journal is written out again one or two levels deeper (inside the
# admin API's answer) and on another thread's stack: a body the parser just managed must not
# make the whole journal unreadable.
MAX_JSON_DEPTH = 256
# Bodies nested deeper than this are written out once as a check; shallower ones cannot fail.
CHECKED_DEPTH = 32


class RawRecord(NamedTuple):
    """One request and its answer as recorded; a tuple, so that making one costs little."""

    stamp: float  # seconds since the epoch
    namespace: str
    method: str
    path: str
    query: str
    headers: Mapping[str, str]  # as the entry keeps them: secrets redacted, cut at the cap
    body: bytes | str  # decoded and cut at body_cap (bytes: within it, decoded when read)
    body_size: int
    body_truncated: bool
    remote_addr: str | None
    json: Any  # the parsed body; None when cut
    violations: Sequence[str]
    status: int | None  # None: the connection was closed without an answer
    content_type: str | None
    answer: bytes | str | None  # the answer's body (text once read back from a file)
    delay: float  # seconds
    fault: str | None
    reply_id: str | None
    body_cap: int
    headers_truncated: bool = False  # not in records of 19 fields, which were never cut
    # Not in records of 19 or 20 fields, made before the mock was a proxy:
    host: str | None = None
    scheme: str = "http"
    via: str | None = None


# A record of the journal as kept: a RawRecord, or one still to be made when first read (a
# plain tuple: the function that makes it, ``Journal.raw_of``, then its arguments).
Recorded = RawRecord | tuple[Any, ...]
# Where the request is in a record kept unmade (``Journal.raw_of``'s second argument).
REQUEST = 2


def made_again(stamp: float, first: tuple[Any, ...]) -> RawRecord:
    """The raw record of a request answered again at ``stamp`` (``Journal.again``), made as
    its ``first`` record, still unmade, is: by its maker, from its values."""
    made: RawRecord = first[0](stamp, *first[REQUEST:])
    return made


def realized(record: Recorded) -> RawRecord:
    """The raw record of ``record``, made now if it was kept unmade."""
    if isinstance(record, RawRecord):
        return record
    made: RawRecord = record[0](*record[1:])
    return made


# Where the body, the answer and the parsed body are in a record's fields.
_BODY = RawRecord._fields.index("body")
_ANSWER = RawRecord._fields.index("answer")
_JSON = RawRecord._fields.index("json")


def iso_time(stamp: float) -> str:
    """``stamp`` (seconds since the epoch), ISO 8601 in UTC with milliseconds."""
    return datetime.fromtimestamp(stamp, timezone.utc).isoformat(timespec="milliseconds")


def header_diff(headers: Mapping[str, str]) -> dict[str, dict[str, str | None]]:
    """The contract headers missing from ``headers`` or different there."""
    return {name: {"expected": expected, "received": headers.get(name)}
            for name, expected in contract.header_table().items()
            if headers.get(name) != expected}


def nesting(value: Any) -> int:
    """How deep arrays and objects nest in a parsed JSON value (0 for a scalar), counted
    level by level rather than by recursion."""
    depth, level = 0, [value]
    while True:
        containers = [node for node in level if isinstance(node, (dict, list))]
        if not containers:
            return depth
        depth += 1
        level = [child for node in containers
                 for child in (node.values() if isinstance(node, dict) else node)]


def cut(text: str, cap: int) -> tuple[str, bool]:
    """``text`` cut at ``cap`` characters, and whether it was."""
    return (text, False) if len(text) <= cap else (text[:cap], True)


def reply_value(content_type: str | None, answer: bytes | str | None, body_cap: int) -> Any:
    """What was answered: the JSON value when the body is JSON, else its text; an excerpt
    of the text when it is over the body cap; ``None`` when nothing was sent."""
    if answer is None:
        return None
    text = answer if isinstance(answer, str) else answer.decode("utf-8", errors="replace")
    if len(text) <= body_cap and "json" in (content_type or ""):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return cut(text, body_cap)[0]


def derive(entry_id: int, raw: RawRecord) -> dict[str, Any]:
    """The journal entry (``id`` first) of a raw record."""
    delay_ms = raw.delay * 1000
    entry: JournalEntry = {
        "id": entry_id,
        "time": iso_time(raw.stamp),
        "namespace": raw.namespace,
        "method": raw.method,
        "path": raw.path,
        "query": raw.query,
        "headers": dict(raw.headers),
        "headers_truncated": raw.headers_truncated,
        "json": raw.json,
        "body": body if isinstance(body := raw.body, str) else body.decode(
            "utf-8", errors="replace"),
        "body_size": raw.body_size,
        "body_truncated": raw.body_truncated,
        "remote_addr": raw.remote_addr,
        "host": raw.host,
        "scheme": raw.scheme,
        "via": raw.via,
        "status": raw.status,
        "reply": reply_value(raw.content_type, raw.answer, raw.body_cap),
        "violations": list(raw.violations),
        "header_diff": header_diff(raw.headers) if raw.path == contract.API_PATH else {},
        "fault": raw.fault,
        "delay_ms": int(delay_ms) if delay_ms == int(delay_ms) else delay_ms,
        "scripted": raw.reply_id is not None,
        "reply_id": raw.reply_id,
    }
    depth = nesting(raw.json)
    if depth > MAX_JSON_DEPTH:
        entry["json"] = None  # the body text is still there
    elif depth > CHECKED_DEPTH:
        try:
            json_bytes(entry)
        except (ValueError, RecursionError):  # a body nested too deep to write out again
            entry["json"] = None
    return dict(entry)


def raw_json(raw: RawRecord) -> bytes:
    """A raw record as one JSON array (for a store in a file); the body and the answer as
    text. A parsed body nested too deep to write out is left out: its entry would not show it
    anyway."""
    values = list(raw)  # (not raw._replace: a Python call of its own, for every record)
    for where in (_BODY, _ANSWER):
        if isinstance(value := values[where], bytes):
            values[where] = value.decode("utf-8", errors="replace")
    # orjson writes a record in a quarter of the standard encoder's time (2.0 against 8.6 µs a
    # seed request's). What it refuses (text with lone surrogates, integers past 64 bits,
    # nesting past 254 levels) the standard encoder writes. (It would write a float that is
    # not finite as null: a record has none, its time being the clock's, its delay one of 0
    # to 60,000 ms, and its parsed body strict JSON.)
    try:
        return orjson.dumps(values)
    except orjson.JSONEncodeError:
        pass
    try:
        return json_bytes(values)
    except (ValueError, RecursionError):
        values[_JSON] = None
        return json_bytes(values)


def from_json(values: Sequence[Any]) -> RawRecord:
    """The raw record of a JSON array ``raw_json`` wrote (of 19, 20 or 23 fields)."""
    return RawRecord(*values)
