"""Where each request ends in a connection's bytes, so that the parser (``new_parser``) is fed
one request at a time: a head up to its empty line, a body framed by Content-Length up to its
length, a chunked body up to the empty line after its trailers. Each request then starts a
piece of its own, and a method the parser does not know is taken aside for every one of them
(``stand_in``).

Only where to stop feeding is worked out here; the parser still reads and checks every byte,
so a stream this misjudges is parsed just the same, in other pieces.
"""

from __future__ import annotations

import re

import httptools

# httptools accepts only the methods llhttp knows, in upper case. Any other method token
# reaches the engine too (RFC 9110 9.1: methods are case-sensitive, "post" is not POST): the
# parser is handed a known one in its place.
# CONNECT is handed over as it is: its target is an authority, which PUT's is not.
PARSED_METHODS = frozenset({b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"TRACE",
                            b"PATCH", b"CONNECT"})
STAND_IN_METHOD = b"PUT"
_TOKEN_BYTES = frozenset(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         b"abcdefghijklmnopqrstuvwxyz")
MAX_METHOD = 64
# A chunk size line (or a trailer) longer than this is not followed to find the body's end.
MAX_CHUNK_LINE = 8192
# Request lines seen so far that RFC 9112 reads, each with the method token the parser is
# handed a stand-in for (b"": none), and its method and version: a client sends the same few.
# Bounded.
_LINES: dict[bytes, tuple[bytes, tuple[str, str]]] = {}
_LINES_CAP = 4096
_LINE_BYTES = 256
BAD_LINE = "its request line is not method, target and version, one space apart"
# RFC 9112 3: method SP request-target SP HTTP-version, one space each (the parser lets more
# through; a server should not read such a line by guessing: RFC 9112 3, 400).
_REQUEST_LINE = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+ [^ \t\r\n]+ HTTP/[0-9]\.[0-9]")


def new_parser(conn: object) -> httptools.HttpRequestParser:
    """A request parser calling back ``conn`` (the connection protocol's ``on_*`` methods):
    strict (llhttp's defaults) but for the version, so that a later HTTP/1 minor version
    reaches ``on_headers_complete``, which reads it as 1.1 (RFC 9110 2.5) and refuses any other
    major version."""
    parser = httptools.HttpRequestParser(conn)
    parser.set_dangerous_leniencies(lenient_version=True)
    return parser


class Framing:
    """One connection's place in its request stream."""

    __slots__ = ("chunk_left", "chunk_line", "chunk_trailer", "chunked", "head_tail",
                 "line", "line_done", "method", "pending", "remaining", "said")

    def __init__(self) -> None:
        # The last bytes of the head read so far: its end (an empty line) may straddle reads.
        self.head_tail = b""
        # Body bytes still to come of a request framed by Content-Length (None: chunked, or
        # no body being read).
        self.remaining: int | None = None
        # A chunked body: the chunk data still to pass (with its CRLF), the part of a size or
        # trailer line read so far, and whether the last chunk was seen (trailers follow).
        self.chunked = False
        self.chunk_left = 0
        self.chunk_line = b""
        self.chunk_trailer = False
        # The method token the parser was handed a stand-in for, and the start of one not
        # whole yet.
        self.method: bytes | None = None
        self.pending = b""
        # The request line read so far, until it is whole and checked.
        self.line = b""
        self.line_done = False
        # The method and version of the request line start() read whole (None: it did not).
        self.said: tuple[str, str] | None = None

    def start(self, data: bytes) -> tuple[bytes, bytes, str | None]:
        """A new request's first bytes: what of its head they hold, as the parser takes it
        (``b""`` while its method token is not whole: ``stand_in``), the bytes after its head,
        and why its request line is not one RFC 9112 reads (``bad_line``; ``None``: it is, or
        it is not whole yet). ``head_end``, ``bad_line`` and ``stand_in`` in one call where
        the request line is whole at the start of ``data``, as it nearly always is."""
        line_end = data.find(b"\r\n")
        # An empty line before the request line (CR or LF first) is passed over there.
        if self.pending or line_end <= 0 or data[0] in (10, 13):
            self.said = None
            end = self.head_end(data, starting=True)
            rest = b""
            if end >= 0:
                data, rest = data[:end], data[end:]
            bad = self.bad_line(data, starting=True)
            return (b"" if bad else self.stand_in(data)), rest, bad
        self.line, self.line_done = b"", True
        self.head_tail = data[-3:]
        end = data.find(b"\r\n\r\n", line_end)
        rest = b""
        if end >= 0:
            data, rest = data[:end + 4], data[end + 4:]
        line = data[:line_end]
        seen = _LINES.get(line)
        if seen is None:
            if not _REQUEST_LINE.fullmatch(line):
                return b"", rest, BAD_LINE
            space = line.find(b" ")
            # The method token the parser is handed a stand-in for (b"": none: it knows the
            # method, or the token is too long to be taken aside, and the parser refuses it).
            token = b"" if space > MAX_METHOD or line[:space] in PARSED_METHODS \
                else line[:space]
            # The method and the version ("1.1") as the parser reads them: one digit each.
            seen = token, (line[:space].decode("latin-1"), line[-3:].decode("latin-1"))
            if line_end <= _LINE_BYTES and len(_LINES) < _LINES_CAP:
                _LINES[line] = seen
        token, self.said = seen
        if not token:
            self.method = None
            return data, rest, None
        self.method = token
        return STAND_IN_METHOD + data[len(token):], rest, None

    def head_end(self, data: bytes, starting: bool) -> int:
        """Where in ``data`` the head being read ends (after its empty line), or -1; a new
        request's head when ``starting``."""
        if starting:
            self.head_tail = b""
        seen = self.head_tail + data
        end = seen.find(b"\r\n\r\n")
        self.head_tail = seen[-3:]
        return -1 if end < 0 else end + 4 - (len(seen) - len(data))

    def bad_line(self, data: bytes, starting: bool) -> str | None:
        """Why the request line ``data`` starts or goes on is not one RFC 9112 reads, once it
        is whole (``None``: it is, or it is not whole yet); a new request's when ``starting``.
        Empty lines before it are passed over, as the parser does (RFC 9112 2.2)."""
        if starting and not self.pending:
            self.line, self.line_done = b"", False
        if self.line_done:
            return None
        line = (self.line + data).lstrip(b"\r\n")
        end = line.find(b"\r\n")
        if end < 0 and len(line) <= MAX_CHUNK_LINE and b"\n" not in line:
            self.line = line
            return None
        self.line, self.line_done = b"", True
        if _REQUEST_LINE.fullmatch(line if end < 0 else line[:end]):
            return None
        return BAD_LINE

    def start_body(self, length: int | None, chunked: bool) -> None:
        """A body follows the head: ``length`` bytes of it (Content-Length), or chunked."""
        self.remaining = length
        self.chunked = chunked
        self.chunk_left, self.chunk_line, self.chunk_trailer = 0, b"", False

    def body_end(self, data: bytes) -> int:
        """How much of ``data`` goes up to the end of the body being read: all of it when the
        end is not in it."""
        if self.remaining is not None:
            return self.remaining if 0 < self.remaining < len(data) else len(data)
        if not self.chunked:
            return len(data)
        at, size = 0, len(data)
        while at < size:
            if self.chunk_left:
                step = min(self.chunk_left, size - at)
                self.chunk_left -= step
                at += step
                continue
            end = data.find(b"\n", at)
            if end < 0:
                if len(self.chunk_line) < MAX_CHUNK_LINE:
                    self.chunk_line += data[at:]
                return size
            line, self.chunk_line = self.chunk_line + data[at:end], b""
            at = end + 1
            if self.chunk_trailer:
                if not line.rstrip(b"\r"):
                    return at  # the empty line after the trailers: the body's end
                continue
            try:
                chunk = int(line.partition(b";")[0].strip(), 16)
            except ValueError:
                return size  # the parser says what is wrong with it
            if chunk:
                self.chunk_left = chunk + 2  # the data and its CRLF
            else:
                self.chunk_trailer = True
        return size

    def stand_in(self, data: bytes) -> bytes:
        """The start of a request as the parser takes it: a method token it does not know is
        kept aside (``method``) and a known one put in its place; ``b""`` while the token is
        not whole yet."""
        if self.pending:
            data, self.pending = self.pending + data, b""
        space = data.find(b" ", 0, MAX_METHOD + 1)
        if space < 0:
            if len(data) <= MAX_METHOD and all(byte in _TOKEN_BYTES for byte in data):
                self.pending = data  # the method token is not whole yet
                return b""
            return data
        token = data[:space]
        if token in PARSED_METHODS or not token or not all(byte in _TOKEN_BYTES
                                                           for byte in token):
            self.method = None
            return data
        self.method = token
        return STAND_IN_METHOD + data[space:]

    def taken_method(self) -> bytes | None:
        """The method token the parser was handed a stand-in for (once)."""
        method, self.method = self.method, None
        return method
