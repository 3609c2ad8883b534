"""An answer's bytes on the wire: the one serialiser of the site's answers, the refusals and
the admin app's answers alike (status line, headers, ``Content-Length``, ``Date``, the
connection's fate, the body)."""

from __future__ import annotations

from collections.abc import Iterable

from ...core.wire import Answer, status_line

# Header lines of the header sets seen so far: the engine answers with a few fixed tuples.
_LINES: dict[tuple[tuple[str, str], ...], bytes] = {}
_LINES_CAP = 256


# Content-Length lines of the body sizes seen so far, up to this size.
_LENGTHS: dict[int, bytes] = {}
_LENGTHS_KEPT = 1 << 16


def header_lines(headers: Iterable[tuple[str, str]]) -> bytes:
    """The header lines of an answer; the few sets the engine answers with are kept."""
    key = headers if isinstance(headers, tuple) else None
    if key is not None:
        lines = _LINES.get(key)
        if lines is not None:
            return lines
    lines = b"".join(b"%s: %s\r\n" % (name.encode("latin-1"), value.encode("latin-1"))
                     for name, value in headers)
    if key is not None and len(_LINES) < _LINES_CAP:
        _LINES[key] = lines
    return lines


def connection_header(keep: bool, version: str) -> bytes:
    """What the answer says of the connection: closed after it, or kept (said only to an
    HTTP/1.0 client, for which keeping it is not the default)."""
    if not keep:
        return b"Connection: close\r\n"
    return b"Connection: keep-alive\r\n" if version == "1.0" else b""


def encode(line: bytes, headers: bytes, length: int, body: bytes, *, date: bytes, keep: bool,
           version: str) -> bytes:
    """An answer of status ``line``, header lines ``headers`` and ``body`` (left out by the
    caller for a HEAD; ``length`` is still the body's)."""
    return b"".join((line, headers, content_length(length), date,
                     connection_header(keep, version), b"\r\n", body))


def content_length(size: int) -> bytes:
    """The Content-Length line of a body of ``size`` bytes (the short ones' made once)."""
    line = _LENGTHS.get(size)
    if line is None:
        line = b"Content-Length: %d\r\n" % size
        if size < _LENGTHS_KEPT:
            _LENGTHS[size] = line
    return line


def encode_answer(answer: Answer, date: bytes, keep: bool, version: str,
                  head: bool = False) -> bytes:
    """The engine's ``Answer`` on the wire; ``head``: to a HEAD request, without its body.
    (``encode``'s bytes, written out: this runs for every answer of the site.)"""
    body = answer.body
    size = len(body)
    return b"".join((status_line(answer.status), header_lines(answer.headers),
                     _LENGTHS.get(size) or content_length(size), date,
                     b"" if keep and version != "1.0" else connection_header(keep, version),
                     b"\r\n", b"" if head else body))
