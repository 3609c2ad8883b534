"""The g4f Aichat provider: a client for the ``chat-gpt.org`` text API.

Self-contained (standard library and ``requests`` only) so that this file can be dropped,
unchanged, into a 2023 g4f ``Providers/`` folder. The bytes on the wire are those of the
original module; everything around them (errors, timeouts, retries, keep-alive, base URL)
is made robust.

Code that exists only for urllib3 1.26 (the floor in pyproject.toml) says "urllib3 1.26 only",
with what takes its place once the floor is urllib3 2.
"""

from __future__ import annotations

import codecs
import http.client
import importlib
import io
import json
import math
import os
import re
import socket
import sys
import threading
import time
import zlib
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, get_type_hints
from urllib.parse import SplitResult, unquote, urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

# --- What g4f reads, and the facts of the site ------------------------------------------------

url = 'https://chat-gpt.org/chat'
model = ['gpt-3.5-turbo']
supports_stream = False
needs_auth = False
working = True

DEFAULT_BASE_URL = 'https://chat-gpt.org'
BASE_URL_ENV = 'AICHAT_BASE_URL'
API_PATH = '/api/text'
PROXY_SCHEMES = ('http', 'https', 'socks4', 'socks4a', 'socks5', 'socks5h')
# The most one call may take, from its start to the answer's last byte: connecting, sending,
# every read, the retries and their waits (g4f's providers mean ``timeout`` as such a total).
DEFAULT_TIMEOUT = 60.0
MAX_TIMEOUT = 86400.0
# The most an answer's body may hold once decoded (gzip, deflate, br); past it the call fails.
DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024
# The body is read this many bytes at a time, and decoded into pieces of at most as many.
READ_CHUNK = 64 * 1024
DEFAULT_MAX_RETRIES = 2
RETRY_STATUSES = frozenset({429, 502, 503, 504})
BACKOFF_FACTOR = 0.5
# Longest wait between two attempts; a Retry-After beyond it is handed to the caller instead.
RETRY_WAIT_CAP = 30.0
BODY_EXCERPT_CHARS = 200
# The answer's framing (RFC 9112) has bounds of its own: the longest status line, chunk-size
# line (extensions included) or trailer line read, CRLF included (net/http's bound on a
# chunk-size line); the most hex digits in a chunk size (16: below 2**64); the most trailer
# fields; the largest Content-Length (2**63 - 1, as HTTP implementations read it).
MAX_FRAMING_LINE = 4096
MAX_CHUNK_SIZE_DIGITS = 16
MAX_TRAILER_FIELDS = 100
MAX_CONTENT_LENGTH = 2**63 - 1

# The headers of the original module, in its order; they stay the same whatever the base URL.
HEADERS = {
    'authority': 'chat-gpt.org',
    'accept': '*/*',
    'cache-control': 'no-cache',
    'content-type': 'application/json',
    'origin': 'https://chat-gpt.org',
    'pragma': 'no-cache',
    'referer': 'https://chat-gpt.org/chat',
    'sec-ch-ua-mobile': '?0',
    'sec-ch-ua-platform': '"macOS"',
    'sec-fetch-dest': 'empty',
    'sec-fetch-mode': 'cors',
    'sec-fetch-site': 'same-origin',
    'user-agent': 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 '
                  '(KHTML, like Gecko) Chrome/113.0.0.0 Safari/537.36',
}

# Body parameters in wire order: (default, lowest, highest).
PARAMETERS: dict[str, tuple[int, int, int]] = {
    'temperature': (1, 0, 2),
    'presence_penalty': (0, -2, 2),
    'top_p': (1, 0, 1),
    'frequency_penalty': (0, -2, 2),
}


# --- The errors a caller can catch ------------------------------------------------------------

class AichatError(Exception):
    """Base of every error this provider raises."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class AichatInputError(AichatError, ValueError):
    """The messages or parameters were refused before any request was sent."""


class AichatConnectionError(AichatError):
    """The site could not be reached: refused, reset, DNS or proxy failure."""


class AichatTimeoutError(AichatConnectionError):
    """No answer came within the timeout."""


class AichatHTTPError(AichatError):
    """The site answered with a status outside 2xx (or a page where JSON was expected)."""

    def __init__(self, message: str, *, url: str | None = None, status_code: int = 0,
                 body: str = '') -> None:
        super().__init__(message, url=url)
        self.status_code = status_code
        self.body = body


class AichatRateLimitError(AichatHTTPError):
    """429 Too Many Requests; ``retry_after`` is the wait the site asked for, in seconds."""

    def __init__(self, message: str, *, url: str | None = None, status_code: int = 429,
                 body: str = '', retry_after: float | None = None) -> None:
        super().__init__(message, url=url, status_code=status_code, body=body)
        self.retry_after = retry_after


class AichatBlockedError(AichatHTTPError):
    """The site's bot wall: a 403, or an HTML page where JSON was expected."""


class AichatResponseError(AichatError):
    """A 2xx answer that is not a JSON object with a string ``message``."""


class AichatUpstreamError(AichatError):
    """The site answered ``{"response": false, ...}``; ``reason`` is its message, verbatim."""

    def __init__(self, message: str, *, url: str | None = None, reason: str = '') -> None:
        super().__init__(message, url=url)
        self.reason = reason


# --- The entry points g4f calls, and the one path every call takes ----------------------------

# The signature is the seed's: ``params`` below is computed from it, bare ``list`` included.
# (mutmut leaves it whole: its wrapper would hide the signature that ``params`` reflects.)
def _create_completion(model: str, messages: list, stream: bool, **kwargs: Any) -> Iterator[str]:  # type: ignore[type-arg]  # pragma: no mutate block
    """Send the conversation to ``{base}/api/text`` and yield the reply text once.

    Keyword arguments: ``base_url``, ``timeout`` (seconds for the whole call, retries
    included), ``max_response_bytes``, ``proxy``, ``max_retries``, ``temperature``,
    ``presence_penalty``, ``top_p``, ``frequency_penalty``; others (such as g4f's ``auth``) are
    ignored. Input is checked before any request is sent. Only ``AichatError``s are raised.
    """
    data, shown = _ask(messages, kwargs)
    yield _message_of(data, shown)


def fetch(messages: list[Any], **kwargs: Any) -> dict[str, Any]:
    """Send the conversation and return the site's whole JSON object (after the checks)."""
    data, shown = _ask(messages, kwargs)
    _message_of(data, shown)  # the same checks as _create_completion
    result: dict[str, Any] = data
    return result


# The seed's own expression, kept verbatim: 2023 g4f prints it and the tests pin its result.
params = f'g4f.Providers.{os.path.basename(__file__)[:-3]} supports: ' + \
    '(%s)' % ', '.join([f"{name}: {get_type_hints(_create_completion)[name].__name__}" for name in _create_completion.__code__.co_varnames[:_create_completion.__code__.co_argcount]])  # noqa: E501, UP031


def _ask(messages: Any, kwargs: Mapping[str, Any]) -> tuple[Any, str]:
    """The parsed answer and the URL fit for messages; whatever goes wrong is an AichatError."""
    shown: str | None = None
    try:
        request = _prepare(messages, kwargs)
        shown = _redact(request.url)
        return _send(request), shown
    except AichatError:
        raise
    except MemoryError as error:
        where = f' (POST {shown})' if shown else ''
        raise AichatError(f'ran out of memory while preparing or sending the request{where}; '
                          f'send a shorter conversation', url=shown) from error
    except Exception as error:  # a defect of this module: still only AichatErrors leave it
        raise AichatError(f'unexpected {type(error).__name__} in the Aichat provider: '
                          f'{_one_line(str(error), 160)}; please report it', url=shown) from error


# --- The input, checked before anything is sent -----------------------------------------------

class _Request:
    __slots__ = ('body', 'max_response_bytes', 'max_retries', 'proxies', 'timeout', 'url')

    def __init__(self, url: str, body: dict[str, Any], timeout: float,
                 proxies: dict[str, str] | None, max_retries: int,
                 max_response_bytes: int) -> None:
        self.url = url
        self.body = body
        self.timeout = timeout
        self.proxies = proxies
        self.max_retries = max_retries
        self.max_response_bytes = max_response_bytes


def _prepare(messages: Any, kwargs: Mapping[str, Any]) -> _Request:
    url = endpoint(kwargs.get('base_url'))  # first, so that later refusals can name it
    try:
        body: dict[str, Any] = {'message': flatten(messages)}
        for name, (default, low, high) in PARAMETERS.items():
            body[name] = _number(name, kwargs.get(name), default, low, high)
        return _Request(
            url=url,
            body=body,
            timeout=_timeout(kwargs.get('timeout')),
            proxies=_proxies(kwargs.get('proxy')),
            max_retries=_max_retries(kwargs.get('max_retries')),
            max_response_bytes=_max_response_bytes(
                kwargs.get('max_response_bytes', DEFAULT_MAX_RESPONSE_BYTES)),
        )
    except AichatInputError as error:
        shown = _redact(url)
        raise AichatInputError(f'{error}; nothing was sent to POST {shown}', url=shown) from None


def flatten(messages: Any) -> str:
    """The prompt the site expects: ``role: content\\n`` for each message, then ``assistant:``."""
    if not isinstance(messages, list):
        raise AichatInputError(
            f'messages must be a list of {{"role": ..., "content": ...}} mappings, '
            f'not {type(messages).__name__}; wrap a single message in a list')
    base = ''
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise AichatInputError(
                f'messages[{index}] must be a mapping with "role" and "content", '
                f'not {type(message).__name__}')
        role = message.get('role')
        if not isinstance(role, str):
            raise AichatInputError(
                f'messages[{index}]["role"] must be a string such as "user", '
                f'not {_describe(role)}')
        base += role + ': ' + _content(index, message.get('content')) + '\n'
    return base + 'assistant:'


def _content(index: int, content: Any) -> str:
    if isinstance(content, str):
        return content
    if content is None:
        return ''
    if isinstance(content, list):
        texts = []
        for part_index, part in enumerate(content):
            where = f'messages[{index}]["content"][{part_index}]'
            if not isinstance(part, Mapping):
                raise AichatInputError(
                    f'{where} must be a mapping such as {{"type": "text", "text": "..."}}, '
                    f'not {type(part).__name__}')
            if part.get('type') != 'text':
                continue
            text = part.get('text')
            if not isinstance(text, str):
                raise AichatInputError(f'{where}["text"] must be a string, not {_describe(text)}')
            texts.append(text)
        return '\n'.join(texts)
    raise AichatInputError(
        f'messages[{index}]["content"] must be a string, None or a list of text parts, '
        f'not {type(content).__name__}')


def _describe(value: Any) -> str:
    return 'missing' if value is None else type(value).__name__


def _show(value: Any) -> str:
    """A caller's value for an error message: short, on one line, whatever its ``repr`` does."""
    try:
        text = repr(value)
    except Exception:  # a broken __repr__ must not hide the real complaint
        text = f'<{type(value).__name__}>'
    return _one_line(text, 80)


def _number(name: str, value: Any, default: int, low: int, high: int) -> Any:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise AichatInputError(f'{name} must be a number from {low} to {high}, '
                               f'not {type(value).__name__} {_show(value)}')
    if not low <= value <= high:  # also refuses NaN, which JSON cannot carry
        raise AichatInputError(f'{name} must be from {low} to {high}; got {_show(value)}')
    return value


def _url_parts(value: str) -> SplitResult | None:
    """``urlsplit`` of a URL that has no whitespace or control characters and a valid port."""
    if any(ord(char) <= 32 or ord(char) == 127 for char in value):
        return None
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number up to 65535
        # requests sends the user and password as Basic auth, which only carries Latin-1.
        for secret in (parts.username, parts.password):
            unquote(secret or '').encode('latin-1')
    except ValueError:  # also "Invalid IPv6 URL" and UnicodeEncodeError
        return None
    return parts if parts.hostname else None


def endpoint(base_url: Any = None) -> str:
    """``{base}/api/text``, the base taken from the argument, ``AICHAT_BASE_URL`` or the site."""
    name, base = 'base_url', base_url
    if base is None:
        name, base = BASE_URL_ENV, os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    if not isinstance(base, str):
        raise AichatInputError(f'{name} must be a string such as {DEFAULT_BASE_URL!r}, '
                               f'not {type(base).__name__}')
    base = base.strip()
    parts = _url_parts(base)
    # A query or fragment would swallow the /api/text that is appended to the base.
    if parts is None or parts.scheme not in ('http', 'https') or parts.query or parts.fragment:
        raise AichatInputError(f'{name} must be an http(s) URL such as {DEFAULT_BASE_URL!r} '
                               f'(an optional path, no query); got {_show(_redact(base))}')
    return base.rstrip('/') + API_PATH


def _timeout(value: Any) -> float:
    if value is None:
        return DEFAULT_TIMEOUT
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not 0 < value <= MAX_TIMEOUT:
        raise AichatInputError(f'timeout must be a number of seconds above 0 and up to '
                               f'{MAX_TIMEOUT:g}; got {_show(value)}')
    return float(value)


def _proxies(proxy: Any) -> dict[str, str] | None:
    if proxy is None:
        return None
    parts = _url_parts(proxy) if isinstance(proxy, str) else None
    if parts is None or parts.scheme not in PROXY_SCHEMES:
        raise AichatInputError(f'proxy must be a URL such as "http://user:pass@host:3128" '
                               f'(schemes: {", ".join(PROXY_SCHEMES)}); '
                               f'got {_show(_redact(proxy) if isinstance(proxy, str) else proxy)}')
    return {'http': proxy, 'https': proxy}


def _max_retries(value: Any) -> int:
    if value is None:
        return DEFAULT_MAX_RETRIES
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise AichatInputError(f'max_retries must be a whole number of 0 or more; '
                               f'got {_show(value)}')
    return value


def _max_response_bytes(value: Any) -> int:
    # No None here: it would read as "no limit", and an answer is never read without one.
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise AichatInputError(f'max_response_bytes must be a whole number of bytes, 1 or more '
                               f'(default {DEFAULT_MAX_RESPONSE_BYTES}); got {_show(value)}')
    return value


# --- Per-thread state: the running call's deadline, the kept-alive sessions -------------------

_local = threading.local()


def _forget_sessions() -> None:
    # A forked child must not share its parent's kept-alive sockets.
    global _local
    _local = threading.local()


if hasattr(os, 'register_at_fork'):  # not on Windows, which does not fork
    os.register_at_fork(after_in_child=_forget_sessions)


def _time_left() -> float | None:
    """Seconds until the deadline of this thread's running call; ``None`` outside a call."""
    deadline: float | None = getattr(_local, 'deadline', None)
    return None if deadline is None else deadline - time.monotonic()


# --- The deadline: every connect, send and read of a call ends by it --------------------------

class _DeadlineReader(io.RawIOBase):
    """The socket reader under one answer: each read waits at most until the call's deadline,
    so a server that trickles bytes (status line, headers or body) cannot hold a call past
    its timeout."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self._raw = sock.makefile('rb', buffering=0)  # counted by the socket, as any makefile
        self._socket = sock
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError('timed out')
        self._socket.settimeout(left)
        return self._raw.readinto(buffer)

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class _DeadlineSocket:
    """What ``http.client.HTTPResponse`` is given in place of the socket: all it does with one
    is ``makefile('rb')``, and this one makes the deadline-keeping reader."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._socket = sock
        self._deadline = deadline

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._socket, self._deadline))


class _DeadlineResponse(http.client.HTTPResponse):
    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        deadline: float | None = getattr(_local, 'deadline', None)
        if deadline is not None:
            sock = _DeadlineSocket(sock, deadline)  # type: ignore[assignment]
        super().__init__(sock, *args, **kwargs)


# --- The answer's head and framing, held to RFC 9112 ------------------------------------------

class _FramingError(http.client.HTTPException):
    """An answer whose framing cannot be trusted (RFC 9112 sections 4, 6 and 7): where its body
    ends is not known, so none of it is used and its connection is closed."""


_TCHAR = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]"
_QUOTED = rb'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"'
# status-line = HTTP-version SP status-code SP [ reason-phrase ] (section 4), with the last SP
# optional (servers leave it out before an empty reason) and a bare LF allowed to end the line
# (section 2.2). HTTP/1.2 to 1.9 read as 1.1 (RFC 9110 section 2.5).
_STATUS_LINE = re.compile(rb'HTTP/1\.([0-9]) ([1-9][0-9]{2})(?: ([\t\x20-\x7e\x80-\xff]*))?\r?\n')
# chunk-size [ chunk-ext ] CRLF (section 7.1), chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS
# value ] ), a value being a token or a quoted string.
_CHUNK_LINE = re.compile(rb'([0-9A-Fa-f]+)(?:[ \t]*;[ \t]*%s+(?:[ \t]*=[ \t]*(?:%s+|%s))?)*\r\n'
                         % (_TCHAR, _TCHAR, _QUOTED))
_TRAILER_LINE = re.compile(rb'%s+:[\t\x20-\x7e\x80-\xff]*\r\n' % _TCHAR)
# Statuses whose answers have no body, whatever their fields say (section 6.3).
_NO_BODY = frozenset({*range(100, 200), 204, 304})


class _StrictResponse(_DeadlineResponse):
    """http.client's reader of one answer, with its head and framing held to RFC 9112 where
    http.client lets them pass: a status line read with ``int()`` ("+200", "2_00"), 1xx
    answers other than 100 taken for the final one, a Content-Length it cannot read taken for
    none (the body then ends at the close), a Transfer-Encoding other than exactly "chunked"
    read as no coding, and chunk sizes read with ``int()`` too: "-1" there reads the stream
    to its end, into memory."""

    def _read_status(self) -> tuple[str, int, str]:
        while True:
            line = self.fp.readline(MAX_FRAMING_LINE + 1)
            if not line:
                raise http.client.RemoteDisconnected(
                    'Remote end closed connection without response')
            if len(line) > MAX_FRAMING_LINE:
                # (Not http.client's LineTooLong, whose text names its own bound of 64 KiB.)
                raise http.client.BadStatusLine(
                    f'a status line longer than {MAX_FRAMING_LINE} bytes')
            match = _STATUS_LINE.fullmatch(line)
            if match is None:
                raise http.client.BadStatusLine(line.decode('latin-1'))
            status = int(match[2])
            if status >= 200 or status == 101:
                return f'HTTP/1.{match[1].decode()}', status, (match[3] or b'').decode('latin-1')
            # An interim answer, which a client reads past (RFC 9110 section 15.2): its fields
            # are read, within http.client's bounds, and set aside.
            http.client.parse_headers(self.fp)

    def begin(self) -> None:
        super().begin()
        try:
            chunked, length = _framing(self.version, self.headers)
        except _FramingError:
            self._close_conn()  # type: ignore[attr-defined]
            raise
        if self.status in _NO_BODY:
            # No body, even one its fields announce as chunked (http.client would read it).
            # The connection is not used again after a 101 (the server speaks another
            # protocol, which this request never asked for), nor after a 1xx or 204 with the
            # framing fields RFC 9112 forbids there: the body they announce may follow.
            announced = any(self.headers.get(name) is not None
                            for name in ('transfer-encoding', 'content-length'))
            self.chunked, self.length = False, 0
            self.will_close = self.will_close or self.status == 101 or (
                announced and self.status != 304)
            return
        self.chunked, self.length = chunked, length
        if chunked:
            self.chunk_left = None

    def _get_chunk_left(self) -> int | None:
        """What is left of the chunk being read, else the next chunk's size, or ``None`` after
        the last chunk and the trailer section (http.client's own contract for this method)."""
        left = self.chunk_left
        if left:
            return left
        if left == 0 and self._safe_read(2) != b'\r\n':  # type: ignore[attr-defined]
            raise _FramingError("a chunk's data is not followed by CRLF")
        size = self._chunk_size()
        if size:
            self.chunk_left = size
            return size
        self._skip_trailer()
        self._close_conn()  # type: ignore[attr-defined]  # the body is whole
        self.chunk_left = None
        return None

    def _chunk_size(self) -> int:
        line = self.fp.readline(MAX_FRAMING_LINE + 1)
        if len(line) > MAX_FRAMING_LINE:
            raise _FramingError(f'a chunk-size line longer than {MAX_FRAMING_LINE} bytes')
        if not line.endswith(b'\n'):
            raise http.client.IncompleteRead(b'')  # the answer ended inside its framing
        match = _CHUNK_LINE.fullmatch(line)
        if match is None:
            raise _FramingError(f'a malformed chunk-size line {_one_line(repr(line), 60)}')
        if len(match[1]) > MAX_CHUNK_SIZE_DIGITS:
            raise _FramingError(f'a chunk size of {len(match[1])} hex digits, more than '
                                f'{MAX_CHUNK_SIZE_DIGITS}')
        return int(match[1], 16)

    def _skip_trailer(self) -> None:
        """The trailer section, read and set aside: its fields are not used."""
        for _ in range(MAX_TRAILER_FIELDS + 1):
            line = self.fp.readline(MAX_FRAMING_LINE + 1)
            if len(line) > MAX_FRAMING_LINE:
                raise _FramingError(f'a trailer line longer than {MAX_FRAMING_LINE} bytes')
            if line == b'\r\n' or not line.endswith(b'\n'):
                return  # its end; or the answer's, which a few servers send for it
            if not _TRAILER_LINE.fullmatch(line):
                raise _FramingError(f'a malformed trailer line {_one_line(repr(line), 60)}')
        raise _FramingError(f'more than {MAX_TRAILER_FIELDS} trailer fields')


def _framing(version: int, fields: Any) -> tuple[bool, int | None]:
    """Whether a body is chunked, else its Content-Length (``None``: it ends when the server
    closes the connection), from all the answer's field lines as RFC 9112 section 6.3 reads
    them; a ``_FramingError`` when they cannot be trusted."""
    codings = _list_field(fields.get_all('transfer-encoding'))
    if codings is None:
        return False, _content_length(fields.get_all('content-length'))
    if version < 11:
        raise _FramingError('Transfer-Encoding in an HTTP/1.0 answer')
    if fields.get('content-length') is not None:
        raise _FramingError('both Transfer-Encoding and Content-Length')
    if [coding.lower() for coding in codings] != ['chunked']:
        raise _FramingError(f'Transfer-Encoding {_show(", ".join(codings))}, where only '
                            f'chunked is read')
    return True, None


def _list_field(values: list[str] | None) -> list[str] | None:
    """The elements of a list field, all its lines together, empty ones left out (RFC 9110
    section 5.6.1); ``None`` when the answer has no such field."""
    if values is None:
        return None
    return [element.strip(' \t\r\n') for value in values for element in value.split(',')
            if element.strip(' \t\r\n')]


def _content_length(values: list[str] | None) -> int | None:
    """Content-Length from its field lines (``None`` when there is none): digits, the same
    length however often it is given (RFC 9112 section 6.3)."""
    lengths = _list_field(values)
    if lengths is None:
        return None
    if not lengths or not all(length.isascii() and length.isdigit() for length in lengths):
        raise _FramingError(f'a malformed Content-Length {_show(", ".join(values or []))}')
    numbers = {length.lstrip('0') or '0' for length in lengths}
    if len(numbers) > 1:
        raise _FramingError(f'two lengths in Content-Length {_show(", ".join(lengths))}')
    [number] = numbers
    if len(number) > len(str(MAX_CONTENT_LENGTH)) or int(number) > MAX_CONTENT_LENGTH:
        raise _FramingError(f'a Content-Length of {_show(number)}, more than {MAX_CONTENT_LENGTH}')
    return int(number)


# --- Connections: every call's deadline kept, every answer read strictly -----------------------

class _DeadlineConnection(http.client.HTTPConnection):
    """Mixed into urllib3's connection classes: connecting, sending and reading all end by the
    deadline of the call they serve (none outside a call), and answers are read strictly."""

    response_class = _StrictResponse

    def connect(self) -> None:
        left = _time_left()
        if left is not None:
            if left <= 0:
                raise TimeoutError('timed out')
            if isinstance(self.timeout, (int, float)) and self.timeout > left:
                self.timeout = left
        super().connect()

    def send(self, data: Any) -> None:
        left = _time_left()
        if left is not None and self.sock is not None:
            if left <= 0:
                raise TimeoutError('timed out')
            self.sock.settimeout(left)  # a kept-alive socket holds the last call's timeout
        super().send(data)


_DEADLINE_POOLS: dict[type[Any], type[Any]] = {}


def _deadline_pool(pool_class: type[Any]) -> type[Any]:
    """``pool_class`` with connections that keep the call's deadline (made once per class)."""
    if issubclass(pool_class.ConnectionCls, _DeadlineConnection):
        return pool_class
    made = _DEADLINE_POOLS.get(pool_class)
    if made is None:
        connection = type(pool_class.ConnectionCls.__name__,
                          (_DeadlineConnection, pool_class.ConnectionCls), {})
        made = _DEADLINE_POOLS.setdefault(
            pool_class, type(pool_class.__name__, (pool_class,), {'ConnectionCls': connection}))
    return made


def _keep_deadlines(manager: Any) -> Any:
    manager.pool_classes_by_scheme = {scheme: _deadline_pool(pool_class) for scheme, pool_class
                                      in manager.pool_classes_by_scheme.items()}
    return manager


# --- Retries: which failures go again, after what wait ----------------------------------------

class _Retry(Retry):
    """urllib3's retry policy, narrowed to the site's statuses and our reading of Retry-After,
    and held within the call's deadline."""

    # urllib3 alone would also retry a 413 that carries Retry-After.
    RETRY_AFTER_STATUS_CODES: frozenset[int] = frozenset()

    def get_retry_after(self, response: Any) -> float | None:
        # One parser for the wait and for the error's retry_after: urllib3's refuses fractions
        # ("1.5"), so a long fractional wait would slip under the cap.
        return retry_after_seconds(response.headers.get('Retry-After'))

    def get_backoff_time(self) -> float:
        # urllib3 1.26 only, goes when the floor is urllib3 2: 1.26 takes no backoff_max and
        # reads its own 120 s cap from the class; on 2.x, backoff_max=RETRY_WAIT_CAP given to
        # _Retry in _session does the same.
        return min(super().get_backoff_time(), RETRY_WAIT_CAP)

    def sleep_for_retry(self, response: Any) -> bool:
        wait = self.get_retry_after(response)
        if wait is None:
            return False
        time.sleep(wait)  # "Retry-After: 0" means now; urllib3 would back off instead
        return True

    def increment(self, *args: Any, **kwargs: Any) -> Any:
        # urllib3 (1.26 and 2.x) and responses pass the answer or the error by keyword.
        retry = super().increment(*args, **kwargs)
        response = kwargs.get('response')
        wait = None if response is None else self.get_retry_after(response)
        if wait is None:
            wait = retry.get_backoff_time()
        left = _time_left()
        if wait > RETRY_WAIT_CAP or (left is not None and wait >= left):
            # No retry: a longer wait is the caller's to make, and one past the deadline would
            # end it. urllib3's own end of a spent budget follows: the last answer is handed
            # back (raise_on_status=False), or the last error raised.
            return Retry.increment(self.new(total=0), *args, **kwargs)
        if response is not None:
            # A server may close the connection after such an answer without saying so; the
            # retry goes out on a fresh one, and this answer's body is never read.
            response.close()
        return retry


# --- One session per thread, and the call made on it ------------------------------------------

class _Adapter(HTTPAdapter):
    """requests' adapter whose connections, proxied ones included, keep the call's deadline."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _keep_deadlines(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        return _keep_deadlines(super().proxy_manager_for(proxy, **proxy_kwargs))

    def build_response(self, req: Any, resp: Any) -> requests.Response:
        # requests (2.32 and before) reads a charset parameter without a value
        # ("application/json; charset") as True and fails on it while it guesses an encoding
        # the provider never uses (_text reads the charset itself, and reads such a parameter
        # as none): the parameter is left out first.
        content_type = resp.headers.get('content-type')
        if content_type is not None and ';' in content_type:
            parts = content_type.split(';')
            kept = [parts[0], *(part for part in parts[1:] if part.strip().lower() != 'charset')]
            if len(kept) < len(parts):
                resp.headers['Content-Type'] = ';'.join(kept)
        return super().build_response(req, resp)


class _Session(requests.Session):
    """requests' session, minus the look at where a redirect leads: redirects are not followed,
    and requests would read a 3xx answer's whole body (however long) to prepare the next hop."""

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        return None


def _session(max_retries: int) -> requests.Session:
    """One keep-alive session per thread and retry budget: ``requests.Session`` is not
    thread-safe, its connection pool is reused by every call of that thread."""
    sessions: dict[int, requests.Session] | None = getattr(_local, 'sessions', None)
    if sessions is None:
        sessions = _local.sessions = {}
    session = sessions.get(max_retries)
    if session is None:
        # One budget (total) for refused connections and the retried statuses; a broken read
        # or anything else is not retried, as the request may have reached the site.
        retry = _Retry(total=max_retries, read=False, other=0,
                       allowed_methods=frozenset({'POST'}), status_forcelist=RETRY_STATUSES,
                       backoff_factor=BACKOFF_FACTOR, raise_on_status=False)
        session = _Session()
        adapter = _Adapter(max_retries=retry)
        session.mount('http://', adapter)
        session.mount('https://', adapter)
        sessions[max_retries] = session
    return session


# What the transport can raise: requests wraps nearly everything, the rest is caught anyway so
# that no transport exception reaches the caller.
_TRANSPORT_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError,
                     http.client.HTTPException, OSError)
_UNUSABLE_URL = (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema,
                 requests.exceptions.MissingSchema, urllib3.exceptions.LocationValueError,
                 UnicodeError)


def _send(request: _Request) -> Any:
    """POST the body and return the parsed JSON of a 2xx answer, or raise an AichatError.

    ``request.timeout`` from now is the call's deadline: the connections, sends and reads of
    every attempt end by it, and a retry whose wait would cross it is not made."""
    target = request.url
    shown = _redact(target)
    _local.deadline = time.monotonic() + request.timeout
    # Called inside an except block, every error raised here would carry the caller's as its
    # context: the chain of what went wrong in this call stops there.
    _local.outer = sys.exc_info()[1]
    try:
        # The connect timeout is shared out over the attempts, so that a site that never
        # accepts leaves time to retry; the reads are bounded by the deadline.
        timeout = (request.timeout / (request.max_retries + 1), request.timeout)
        response = _session(request.max_retries).post(
            target, headers=HEADERS, json=request.body, timeout=timeout,
            proxies=request.proxies, stream=True)
        status, headers = response.status_code, response.headers
        try:
            connection = getattr(response.raw, 'connection', None)  # before the body frees it
            body = _read_body(response.raw, status, headers, request.max_response_bytes)
            if body is None:
                raise AichatResponseError(
                    f'POST {shown} answered {status} with a body of more than '
                    f'{request.max_response_bytes} bytes (counted after content decoding), and '
                    f'the rest was not read; pass a larger max_response_bytes if such answers '
                    f'are expected', url=shown)
            if status in RETRY_STATUSES and connection is not None:
                # The server may close the connection after this answer without saying so:
                # the next call starts on a fresh one.
                connection.close()
        finally:
            response.close()  # after a body cut short, this closes its connection too
    except _UNUSABLE_URL as error:  # nothing was sent: the URL or proxy cannot be used at all
        advice = ("install PySocks (pip install 'requests[socks]') or use an http proxy"
                  if 'SOCKS' in str(error) else 'fix the base_url or the proxy')
        raise AichatInputError(f'cannot send POST {shown}: {_reason(error)}; {advice}',
                               url=shown) from error
    except requests.exceptions.ContentDecodingError as error:  # all there, but undecodable
        raise AichatResponseError(
            f'POST {shown} answered a body that cannot be decoded ({_reason(error)}); '
            f'the site changed or is failing, try again later', url=shown) from error
    except MemoryError as error:
        raise _out_of_memory(shown) from error
    except _TRANSPORT_ERRORS as error:
        fault = _framing_fault(error)
        if fault is not None:  # all there, maybe, but where the body ends cannot be known
            raise AichatResponseError(
                f'POST {shown} answered with broken framing: {fault} (RFC 9112); the site or '
                f'a proxy on the way is failing, try again later', url=shown) from error
        if _timed_out(error):  # before the answer, or while its body trickled in
            raise AichatTimeoutError(
                f'no answer from POST {shown} within {request.timeout:g} s; '
                f'try again later or pass a larger timeout', url=shown) from error
        raise AichatConnectionError(_connection_message(error, shown, request.proxies),
                                    url=shown) from error
    finally:
        _local.deadline = _local.outer = None
    try:
        text, unreadable = _text(body, headers)
        return _parse(status, text, headers, shown, unreadable)
    except MemoryError as error:
        raise _out_of_memory(shown) from error


def _out_of_memory(shown: str) -> AichatResponseError:
    return AichatResponseError(f'ran out of memory reading the answer of POST {shown}; pass a '
                               f'smaller max_response_bytes', url=shown)


# --- The body: read in pieces, held to max_response_bytes, decoded here -----------------------

def _read_body(raw: Any, status: int, headers: Mapping[str, str],
               limit: int) -> bytearray | None:
    """The body, decoded, read a piece at a time; ``None`` as soon as it grows past ``limit``
    bytes, the rest unread.

    gzip, deflate and br are decoded here, never more than ``READ_CHUNK`` bytes at a time, so a
    compression bomb ends at the limit like any long body. Other codings (zstd) are left to
    urllib3, read in small steps. Whatever the framing (a length, chunks, the close), each
    read is at most a step: _StrictResponse holds the framing to RFC 9112."""
    decoders = _decoders(headers.get('content-encoding', ''))
    delegated = decoders is None
    value = headers.get('content-length')  # its lines joined by ", ", as urllib3 hands them on
    length: int | None = None
    if status in _NO_BODY:
        length = 0
    elif value is not None:
        length = _content_length([value])
    if decoders == [] and length is not None and length > limit:
        return None
    chain = decoders or []
    step = 1024 if delegated else READ_CHUNK
    body = bytearray()
    # A body of known length needs no last read to find its end (the read that brings its
    # last byte gives the connection back); an empty one takes one read, for the same reason.
    # One that urllib3 decodes is read until urllib3 says it ended: it may hold decoded bytes
    # back after the last byte of the wire.
    wire = None if delegated else length
    while wire is None or raw.tell() < wire or not wire:
        data = _read_raw(raw, step, delegated)
        if not data:
            break
        for piece in _decode(chain, data):
            body += piece
            if len(body) > limit:
                return None
    # urllib3 1.26 only, goes when the floor is urllib3 2: 1.26 lets a body short of its
    # Content-Length pass, 2.x raises IncompleteRead itself. (tell() counts the wire's bytes.)
    if length is not None and raw.tell() < length:
        raise requests.exceptions.ChunkedEncodingError(
            f'the body ended {length - raw.tell()} bytes short of its Content-Length')
    return body


def _read_raw(raw: Any, amount: int, decode: bool) -> bytes:
    """Up to ``amount`` bytes of the body; urllib3's errors as requests' (as ``iter_content``
    reports them)."""
    left = _time_left()
    if left is not None and left <= 0:
        raise requests.exceptions.ReadTimeout('read timed out: the call used up its timeout')
    try:
        data: bytes = raw.read(amount, decode_content=decode)
    except urllib3.exceptions.ReadTimeoutError as error:
        raise requests.exceptions.ReadTimeout(error) from error
    except urllib3.exceptions.DecodeError as error:
        raise requests.exceptions.ContentDecodingError(error) from error
    except urllib3.exceptions.ProtocolError as error:
        raise requests.exceptions.ChunkedEncodingError(error) from error
    except urllib3.exceptions.SSLError as error:
        raise requests.exceptions.SSLError(error) from error
    except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as error:
        raise requests.exceptions.ConnectionError(error) from error
    return data


def _optional_module(*names: str) -> Any:
    """The first of ``names`` that imports (urllib3's order for brotli), or ``None``."""
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


_brotli = _optional_module('brotlicffi', 'brotli')


def _decoders(content_encoding: str) -> list[Any] | None:
    """The decoders of a ``Content-Encoding``, in the order they apply (``[]``: none), or
    ``None`` when a coding is not one of those decoded here."""
    if not content_encoding:
        return []
    codings = [coding.strip().lower() for coding in content_encoding.split(',')]
    decoders: list[Any] = []
    for coding in reversed(codings):
        if coding in ('', 'identity'):
            continue
        if coding in ('gzip', 'x-gzip', 'deflate'):
            decoders.append(_ZlibDecoder(gzip=coding != 'deflate'))
        elif coding == 'br' and _brotli is not None:
            decoders.append(_BrotliDecoder())
        else:
            return None
    return decoders


def _decode(decoders: list[Any], data: bytes) -> Iterator[bytes]:
    """``data`` through the decoders in turn, as pieces of at most READ_CHUNK bytes."""
    if not decoders:
        if data:
            yield data
        return
    for piece in decoders[0].decode(data):
        yield from _decode(decoders[1:], piece)


def _zlib_header(data: bytes) -> bool:
    """Whether a deflate body starts with a zlib header (RFC 1950) rather than raw deflate."""
    method, flags = data[0], data[1]
    return method & 0x0F == 8 and method >> 4 <= 7 and (method << 8 | flags) % 31 == 0 \
        and not flags & 0x20


class _ZlibDecoder:
    """gzip (several members in a row, as urllib3 reads them) or deflate (zlib-wrapped, or raw
    as some servers send it), making at most READ_CHUNK bytes at a time."""

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._obj: Any = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
        # deflate: the first bytes, until they tell zlib from raw deflate. No deflate stream is
        # shorter than two bytes: a body of one is cut short, and reads as nothing.
        self._head = b''
        self._later_member = False
        self._ended = False  # what follows the body (garbage after a gzip member) is ignored

    def decode(self, data: bytes) -> Iterator[bytes]:
        if self._obj is None:
            self._head += data
            if len(self._head) < 2:
                return
            data, self._head = self._head, b''
            self._obj = zlib.decompressobj(
                zlib.MAX_WBITS if _zlib_header(data) else -zlib.MAX_WBITS)
        while data and not self._ended:
            obj = self._obj
            if obj.eof:  # gzip: a member ended, and another follows
                obj = self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self._later_member = True
            try:
                while True:
                    piece = obj.decompress(data, READ_CHUNK)
                    if piece:
                        yield piece
                    if obj.eof:  # the rest is in unused_data (unconsumed_tail may repeat it)
                        break
                    data = obj.unconsumed_tail
                    if not data and len(piece) < READ_CHUNK:
                        break
            except zlib.error as error:
                if self._later_member:  # trailing garbage, which gzip readers let pass
                    self._ended = True
                    return
                raise requests.exceptions.ContentDecodingError(
                    f'{"gzip" if self._gzip else "deflate"}: {error}') from error
            data = obj.unused_data if obj.eof else b''
            if obj.eof and not self._gzip:
                self._ended = True  # deflate has one stream; what follows it is ignored


class _BrotliDecoder:
    """br, making about READ_CHUNK bytes at a time where the library can stop at an output
    size (brotli 1.2), else taking the input in small steps."""

    STEP = 16  # bytes of input per step without an output limit

    def __init__(self) -> None:
        self._obj = _brotli.Decompressor()
        self._bounded = hasattr(self._obj, 'can_accept_more_data')

    def decode(self, data: bytes) -> Iterator[bytes]:
        obj = self._obj
        try:
            if self._bounded:
                # Output may wait inside even when more input could go in: drain it all.
                piece = obj.process(data, output_buffer_limit=READ_CHUNK)
                while piece:
                    yield piece
                    piece = obj.process(b'', output_buffer_limit=READ_CHUNK)
            else:
                for start in range(0, len(data), self.STEP):
                    piece = obj.process(data[start:start + self.STEP])
                    if piece:
                        yield piece
        except _brotli.error as error:
            raise requests.exceptions.ContentDecodingError(f'br: {error}') from error


# --- What a failed exchange means: the error chain, read --------------------------------------

def _connection_message(error: BaseException, shown: str,
                        proxies: dict[str, str] | None) -> str:
    reason = _reason(error)
    if isinstance(error, requests.exceptions.ProxyError):
        proxy = _redact(proxies['https']) if proxies else 'set in the environment'
        return (f'could not reach POST {shown} through the proxy {proxy}: {reason}; '
                f'check the proxy address and that it is running')
    if any(isinstance(inner, urllib3.exceptions.NewConnectionError) for inner in _chain(error)):
        return (f'could not connect to POST {shown}: {reason}; check the base URL, '
                f'the network and that the server is running')
    return (f'the connection for POST {shown} broke before a complete answer: {reason}; '
            f'try again later, or check the base URL and the network')


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error and what it wraps, outermost first (requests, urllib3 and the socket), up to
    the error the caller was handling when the call began."""
    outer: BaseException | None = getattr(_local, 'outer', None)
    seen: BaseException | None = error
    for _ in range(10):
        if seen is None or seen is outer:
            return
        yield seen
        # The context: urllib3 1.26 only, goes when the floor is urllib3 2. 1.26 raises some
        # of its errors inside an except without 'from', so the error it handled is only the
        # context; 2.x names it in the arguments or the cause.
        inner = [*seen.args, seen.__cause__,
                 None if seen.__suppress_context__ else seen.__context__]
        seen = next((item for item in inner
                     if isinstance(item, BaseException) and item is not seen), None)


def _framing_fault(error: BaseException) -> str | None:
    """What was wrong with the answer's framing, when that is what failed."""
    return next((str(inner) for inner in _chain(error) if isinstance(inner, _FramingError)),
                None)


def _timed_out(error: BaseException) -> bool:
    return any(isinstance(inner, (requests.Timeout, TimeoutError,
                                  urllib3.exceptions.TimeoutError))
               and not isinstance(inner, urllib3.exceptions.NewConnectionError)
               for inner in _chain(error))


def _reason(error: BaseException) -> str:
    """The innermost cause of a transport error, on one line."""
    *_, inner = _chain(error)
    return _one_line(f'{type(inner).__name__}: {inner}', 160)


# --- The answer's text, and what it means -----------------------------------------------------

def _text(body: bytes | bytearray, headers: Mapping[str, str]) -> tuple[str, str | None]:
    """The body as text, and why it is not the text it says it is (``None`` when it is).

    It is read in the charset its Content-Type names, else in UTF-8 (JSON's, RFC 8259). A body
    that cannot be read so is still given as text, for messages and the bot-wall check: in its
    charset where that is one, else in UTF-8, with what cannot be decoded replaced."""
    # Decoding by hand: requests would read a text/* answer without a charset as ISO-8859-1
    # (JSON is UTF-8), and guess a missing one by scanning the whole body.
    label = _charset(headers.get('content-type', ''))
    codec, problem = _codec(label)
    if codec is not None:
        try:
            return body.decode(codec), None
        except UnicodeError as error:
            named = _one_line(label, 40) if label else 'UTF-8'
            problem = f'that is not {named} text ({_unicode_reason(error)})'
        try:
            return body.decode(codec, errors='replace'), problem
        except (UnicodeError, LookupError):  # a codec without the 'replace' handler
            pass
    return body.decode('utf-8-sig', errors='replace'), problem


# Codecs Python offers for text that are no character encoding of a body: they transform text
# (IDNA labels, Punycode, Python's escapes).
_NOT_CHARSETS = frozenset({'idna', 'punycode', 'unicode-escape', 'raw-unicode-escape'})


def _codec(label: str | None) -> tuple[str | None, str | None]:
    """The codec that reads a body labelled ``charset=label`` (UTF-8, BOM or not, when no
    charset is named), or why there is none."""
    if label is None:
        return 'utf-8-sig', None
    try:
        name = codecs.lookup(label).name
    except (LookupError, ValueError):  # ValueError: a NUL in the name
        return None, f'labelled charset={_show(label)}, which names no known character encoding'
    if not _decodes_text(name):
        return None, f'labelled charset={_show(label)}, which is not a character encoding'
    return name, None


def _decodes_text(codec: str) -> bool:
    """Whether a codec reads bytes as text the way a character encoding does."""
    if codec in _NOT_CHARSETS:
        return False
    try:
        # LookupError from the codecs of bytes to bytes (base64, zlib, hex), UnicodeError from
        # 'undefined', which refuses everything.
        b'a'.decode(codec)
    except UnicodeDecodeError:  # one byte is too short for some (UTF-16), not the wrong kind
        return True
    except (LookupError, UnicodeError):
        return False
    return True


def _unicode_reason(error: UnicodeError) -> str:
    if isinstance(error, UnicodeDecodeError):
        return f'{error.reason} at byte {error.start}'
    return _one_line(str(error), 80)


def _charset(content_type: str) -> str | None:
    for parameter in content_type.split(';')[1:]:
        name, _, value = parameter.partition('=')
        if name.strip().lower() == 'charset':
            return value.strip().strip('"\'') or None
    return None


def _looks_like_html(text: str, headers: Mapping[str, str]) -> bool:
    content_type = headers.get('content-type', '').lower()
    start = text.lstrip()[:15].lower()
    return 'html' in content_type or start.startswith(('<!doctype html', '<html'))


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date; ``None`` when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        try:
            seconds = (when - datetime.now(timezone.utc)).total_seconds()
        except OverflowError:
            return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _status_advice(status: int) -> str:
    if status >= 500:
        return 'the site is failing, try again later'
    if status >= 400:
        return 'the site refused the request; check the base URL (it must serve /api/text)'
    return 'expected 200 with JSON; check the base URL'


def _parse(status: int, text: str, headers: Mapping[str, str], target: str,
           unreadable: str | None = None) -> Any:
    """What the answer means: its status first, then its text (``unreadable`` says why the
    text is not what the answer says it is; it matters only where the JSON is wanted)."""
    excerpt = _one_line(text)
    if status == 429:
        wait = retry_after_seconds(headers.get('retry-after'))
        hint = f'wait {wait:g} s' if wait is not None else 'wait a while'
        raise AichatRateLimitError(
            f'rate limited: POST {target} answered 429; {hint} and try again, or send fewer '
            f'requests', url=target, body=excerpt, retry_after=wait)
    if status == 403 or (_looks_like_html(text, headers) and (
            200 <= status < 300 or headers.get('cf-mitigated'))):
        raise AichatBlockedError(
            f'blocked by the bot wall: POST {target} answered {status} with '
            f'{"an HTML page" if _looks_like_html(text, headers) else repr(excerpt)}; '
            f'use another network or proxy, or point base_url at a reachable server',
            url=target, status_code=status, body=excerpt)
    if not 200 <= status < 300:
        raise AichatHTTPError(
            f'POST {target} answered {status}: {excerpt!r}; {_status_advice(status)}',
            url=target, status_code=status, body=excerpt)
    if unreadable is not None:
        raise AichatResponseError(
            f'POST {target} answered {status} with a body {unreadable}; the site changed or is '
            f'failing, try again later', url=target)
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:
        what = 'an empty body' if not text.strip() else f'no JSON ({excerpt!r})'
        raise AichatResponseError(
            f'POST {target} answered {status} with {what}; the site changed or is failing, '
            f'try again later', url=target) from error


def _message_of(data: Any, target: str) -> str:
    if not isinstance(data, dict):
        raise AichatResponseError(
            f'POST {target} answered JSON that is not an object ({type(data).__name__}); '
            f'expected {{"message": ...}}, the site changed or is failing', url=target)
    message = data.get('message')
    if data.get('response') is False:
        reason = message if isinstance(message, str) else ''
        raise AichatUpstreamError(
            f'the site refused: {_one_line(reason) or "no reason given"} (POST {target}); '
            f'change the prompt or try again later', url=target, reason=reason)
    if not isinstance(message, str):
        raise AichatResponseError(
            f'POST {target} answered a JSON object without a string "message" '
            f'(keys: {_one_line(", ".join(sorted(map(str, data))), 80) or "none"}); '
            f'the site changed or is failing', url=target)
    return message


# --- Messages: one line, no secrets -----------------------------------------------------------

def _redact(url: str) -> str:
    """The URL without its user and password, fit for a message."""
    scheme, separator, rest = url.partition('://')
    end = min((i for i in map(rest.find, '/?#') if i >= 0), default=len(rest))
    if not separator or '@' not in rest[:end]:
        return url
    return f'{scheme}://***@{rest[:end].rpartition("@")[2]}{rest[end:]}'


def _one_line(text: str, limit: int = BODY_EXCERPT_CHARS) -> str:
    text = ' '.join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + '...'
