"""What a request's head says, once the parser has read it: its headers as the engine sees
them, where it goes, the host it names, its version and the framing of its body; and the
refusals made of a head that cannot be served (``Refused``)."""

from __future__ import annotations

import sys
from typing import NamedTuple
from urllib.parse import unquote_to_bytes

import httptools

from ...core import edge
from ...core.edge import MAX_HEAD
from ...core.wire import wire_text

# Header name of each name seen so far ("" for one that is dropped): the same few dozen come
# with every request. Bounded, against a client that invents new names on every request.
_HEADER_NAMES: dict[str, str] = {}
_HEADER_NAMES_CAP = 4096
# The name and value of each short field line seen so far: a client sends the same lines
# (its User-Agent, its Accept, ...) with every request. Bounded in lines and in their length.
_FIELDS: dict[str, tuple[str, str]] = {}
_FIELDS_CAP = 4096
_FIELD_CHARS = 256
# What each short request target seen so far says: clients ask for the same few paths.
_TARGETS: dict[bytes, Place] = {}
_TARGETS_CAP = 4096
_TARGET_BYTES = 256
# What each whole head seen so far says: a client sends the same head again and again (the
# same headers, a body of the same length). Fewer and longer than the lines above; a head's
# answer is kept only when it is served (a refused head is read anew each time).
_HEADS: dict[bytes, Head] = {}
_HEADS_CAP = 1024
_HEAD_BYTES = 2048
# A Content-Length of more digits than this is over every limit, whatever its value.
_LONGEST_LENGTH = 18


class Refused(Exception):
    """Raised in a parser callback: the request is answered with this status and closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Head(NamedTuple):
    method: str  # as sent
    raw_path: bytes
    raw_query: bytes
    target: edge.Target  # the namespace, the path within it, admin or site
    query: str
    headers: dict[str, str]  # lower-case names, values as text; repeated ones joined
    version: str  # "1.0" or "1.1" (a later 1.x is read as 1.1: RFC 9110 2.5)
    host: bytes | None  # the host it names: the target's in the absolute form, else Host's
    declared: int  # the Content-Length (0 when none)
    chunked: bool
    # The target's own scheme and authority: an absolute-form target ("http", b"host:80"),
    # a CONNECT's ("", b"host:443"); None: the usual path (origin form).
    authority: tuple[str, bytes] | None
    size: int  # the head's bytes, as the parser was fed them


# Made as a tuple is, every field given, without the class's own __new__ (a Python call).
_new_head = tuple.__new__


def decoded_path(raw_path: bytes) -> str:
    """A request target's path as the engine sees it: percent-decoded, UTF-8 where it is."""
    text = (unquote_to_bytes(raw_path) if b"%" in raw_path else raw_path).decode("latin-1")
    return (text if text.isascii() else wire_text(text)) or "/"


def declared_length(headers: dict[str, str]) -> int:
    """The Content-Length a request announced (0 when none or not a number; the parser
    refuses one that is not a number before this is asked)."""
    text = headers.get("content-length", "")
    if not (text.isascii() and text.isdigit()):
        return 0
    digits = text.lstrip("0")
    return int(digits or "0") if len(digits) <= _LONGEST_LENGTH else sys.maxsize


def field_bytes(url: bytes, fields: list[str]) -> int:
    """What a head's target and fields count against ``MAX_HEAD``: the target, and each
    field's name and value and 4 bytes."""
    size = len(url)
    for line in fields:
        name, _, value = line.partition(":")
        size += len(name) + len(value.lstrip(" \t")) + 4
    return size


def _field(line: str, plain: bool) -> tuple[str, str]:
    """The header name (``""``: dropped) and value of a field line; kept for the next
    requests while there is room, when the line is short and ASCII."""
    name, _, value = line.partition(":")
    key = _HEADER_NAMES.get(name)
    if key is None:
        key = name.lower()
        if "_" in key:  # dropped, as WSGI servers do: HTTP_X_A would be x-a or x_a
            key = ""
        if len(_HEADER_NAMES) < _HEADER_NAMES_CAP:
            _HEADER_NAMES[name] = key
    field = key, value.lstrip(" \t")
    if plain and len(line) <= _FIELD_CHARS and len(_FIELDS) < _FIELDS_CAP:
        _FIELDS[line] = field
    return field


# What a request target says: its raw path and query, where it goes, its query as text, and
# its scheme and authority in the absolute form (else None).
Place = tuple[bytes, bytes, edge.Target, str, "tuple[str, bytes] | None"]


def read_target(raw_path: bytes, raw_query: bytes,
                authority: tuple[str, bytes] | None) -> Place:
    """What a target of this raw path, query and authority says."""
    query = raw_query.decode("latin-1")
    return (raw_path, raw_query, edge.split(decoded_path(raw_path)),
            query if query.isascii() else wire_text(query), authority)


def read_url(url: bytes) -> Place:
    """What a request target in the origin or the absolute form says (``Refused`` for one
    that is not a URL); kept for the next requests while there is room, when it is short."""
    authority: tuple[str, bytes] | None = None
    try:
        parsed = httptools.parse_url(url)
        raw_path, raw_query = parsed.path or b"/", parsed.query or b""
        if parsed.schema is not None:
            # The absolute form (to a proxy): the target names the host, not the Host
            # header (RFC 9112 3.2.2).
            named = parsed.host or b""
            if parsed.port is not None:
                named += b":%d" % parsed.port
            authority = (parsed.schema.decode("latin-1").lower(), named)
    except httptools.HttpParserInvalidURLError:
        if b"://" in url.partition(b"?")[0]:
            raise Refused(400, "the request target is not a URL this mock can read; send "
                               "a path, or an http:// URL with a valid host") from None
        raw_path, raw_query = url.partition(b"?")[::2]
    place = read_target(raw_path, raw_query, authority)
    if len(url) <= _TARGET_BYTES and len(_TARGETS) < _TARGETS_CAP:
        _TARGETS[url] = place
    return place


def read_head(method: str, url: bytes, head: bytes, version: str) -> Head:
    """The head the parser read (``head``: its bytes as the parser was fed them, up to its
    empty line); ``Refused`` when it cannot be served. A head read before is not read again:
    its bytes hold its request line, so they say all the rest (the method aside, which may
    have reached the parser as a stand-in)."""
    seen = _HEADS.get(head)
    if seen is not None and seen.method == method:
        return seen
    read = _read_head(method, url, head, version)
    if len(head) <= _HEAD_BYTES and len(_HEADS) < _HEADS_CAP:
        _HEADS[head] = read
    return read


def kept_whole(head: bytes, read: Head) -> bool:
    """Whether what ``head`` (its bytes) says is kept as ``read`` (at most 1,024 heads are:
    what a server keeps of each of them is bounded with them)."""
    return _HEADS.get(head) is read


def _read_head(method: str, url: bytes, head: bytes, version: str) -> Head:
    """The head the parser read (``head``: its bytes as the parser was fed them, up to its
    empty line); ``Refused`` when it cannot be served.

    The parser has checked every byte of ``head`` by the time this is asked (strictly: each
    line ends in CRLF, a field name is a token followed by its colon, no line is folded), so
    its fields are read here from its text at once, not in one parser callback a field: a
    field's value is what follows the colon less the spaces and tabs before it, as the parser
    hands it over (the ones after it are kept)."""
    headers: dict[str, str] = {}
    repeated_host = False
    sent_host = ""  # the Host field as sent, where it is not ASCII (before wire_text)
    # Empty lines before the request line are passed over (RFC 9112 2.2), as the parser does.
    text = head.decode("latin-1").lstrip("\r\n")
    plain = text.isascii()
    # The request line, the fields, and the two empty strings after the last CRLF.
    lines = text.split("\r\n")
    fields = lines[1:-2]
    known = _FIELDS
    for line in fields:
        field = known.get(line) if plain else None
        if field is None:
            field = _field(line, plain)
        key, value = field
        if not key:
            continue
        if not plain:
            if key == "host":
                sent_host = value
            value = wire_text(value)
        if key in headers:  # a repeated header: joined, as WSGI servers do
            value = headers[key] + "," + value
            repeated_host = repeated_host or key == "host"
        headers[key] = value
    named = headers.get("host")
    host = None if named is None else (named if plain else sent_host).encode("latin-1")
    # Each field counts its name, its value and 4 bytes (": " and CRLF): at most its line with
    # its CRLF and one byte more, so that only a head near the limit is counted field by field.
    if len(head) + len(fields) > MAX_HEAD and field_bytes(url, fields) > MAX_HEAD:
        raise Refused(431, f"the request line and headers are over {MAX_HEAD // 1024} KiB; "
                           f"send fewer or shorter headers")
    if not version.startswith("1."):
        raise Refused(400, f"HTTP/{version} is not served; send HTTP/1.1")
    if version != "1.0":
        version = "1.1"
    coded = headers.get("transfer-encoding")
    if coded is not None and any(coding.strip().lower() != "chunked"
                                 for coding in coded.split(",")):
        # RFC 9112 6.1 suggests 501; bad input never gets a 5xx from the mock.
        raise Refused(400, f"the transfer coding of {coded!r} is not implemented; send "
                           f"the body as it is, or chunked")
    if method == "CONNECT":
        # The authority form (RFC 9112 3.2.3): the target is the host and port to tunnel to.
        place = read_target(b"/", b"", ("", url))
    else:
        seen = _TARGETS.get(url)
        place = read_url(url) if seen is None else seen
    # RFC 9112 3.2: one Host, and one at least in HTTP/1.1 (the absolute form and CONNECT
    # too, though the target names the host then).
    if repeated_host or (host is None and version == "1.1"):
        # Not a request the mock can tell the host of: refused as a malformed head is.
        raise Refused(400, "more than one Host header; send one" if repeated_host else
                      "an HTTP/1.1 request names its Host; send a Host header")
    raw_path, raw_query, target, query, authority = place
    return _new_head(Head, (method, raw_path, raw_query, target, query,
                            headers, version, host if authority is None else authority[1],
                            declared_length(headers), coded is not None, authority,
                            len(head)))
