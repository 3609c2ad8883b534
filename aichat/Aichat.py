"""The g4f Aichat provider: a client for the ``chat-gpt.org`` text API.

Self-contained (standard library and ``requests`` only) so that this file can be dropped,
unchanged, into a 2023 g4f ``Providers/`` folder. The bytes on the wire are those of the
original module; everything around them (errors, timeouts, retries, keep-alive, base URL)
is made robust.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, get_type_hints
from urllib.parse import SplitResult, unquote, urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError
from urllib3.util.retry import Retry

url = 'https://chat-gpt.org/chat'
model = ['gpt-3.5-turbo']
supports_stream = False
needs_auth = False
working = True

DEFAULT_BASE_URL = 'https://chat-gpt.org'
BASE_URL_ENV = 'AICHAT_BASE_URL'
API_PATH = '/api/text'
PROXY_SCHEMES = ('http', 'https', 'socks4', 'socks4a', 'socks5', 'socks5h')
DEFAULT_TIMEOUT = 60.0
MAX_TIMEOUT = 86400.0
DEFAULT_MAX_RETRIES = 2
RETRY_STATUSES = frozenset({429, 502, 503, 504})
BACKOFF_FACTOR = 0.5
# Longest wait between two attempts; a Retry-After beyond it is handed to the caller instead.
RETRY_WAIT_CAP = 30.0
BODY_EXCERPT_CHARS = 200

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


# The signature is the seed's: ``params`` below is computed from it, bare ``list`` included.
def _create_completion(model: str, messages: list, stream: bool, **kwargs: Any) -> Iterator[str]:  # type: ignore[type-arg]
    """Send the conversation to ``{base}/api/text`` and yield the reply text once.

    Keyword arguments: ``base_url``, ``timeout``, ``proxy``, ``max_retries``,
    ``temperature``, ``presence_penalty``, ``top_p``, ``frequency_penalty``; others (such as
    g4f's ``auth``) are ignored. Input is checked before any request is sent.
    """
    request = _prepare(messages, kwargs)
    yield _message_of(_send(request), _redact(request.url))


def fetch(messages: list[Any], **kwargs: Any) -> dict[str, Any]:
    """Send the conversation and return the site's whole JSON object (after the checks)."""
    request = _prepare(messages, kwargs)
    data: dict[str, Any] = _send(request)
    _message_of(data, _redact(request.url))  # the same checks as _create_completion
    return data


# The seed's own expression, kept verbatim: 2023 g4f prints it and the tests pin its result.
params = f'g4f.Providers.{os.path.basename(__file__)[:-3]} supports: ' + \
    '(%s)' % ', '.join([f"{name}: {get_type_hints(_create_completion)[name].__name__}" for name in _create_completion.__code__.co_varnames[:_create_completion.__code__.co_argcount]])  # noqa: E501, UP031


# --- request ---------------------------------------------------------------------------------

class _Request:
    __slots__ = ('body', 'max_retries', 'proxies', 'timeout', 'url')

    def __init__(self, url: str, body: dict[str, Any], timeout: float,
                 proxies: dict[str, str] | None, max_retries: int) -> None:
        self.url = url
        self.body = body
        self.timeout = timeout
        self.proxies = proxies
        self.max_retries = max_retries


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


# --- transport -------------------------------------------------------------------------------

class _Retry(Retry):
    """urllib3's retry policy, narrowed to the site's statuses and our reading of Retry-After."""

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        # urllib3 alone would also retry a 413 that carries Retry-After.
        return status_code in RETRY_STATUSES and super().is_retry(
            method, status_code, has_retry_after)

    def get_retry_after(self, response: Any) -> float | None:
        # One parser for the wait and for the error's retry_after: urllib3's refuses fractions
        # ("1.5"), so a long fractional wait would slip under the cap.
        return retry_after_seconds(response.headers.get('Retry-After'))

    def sleep_for_retry(self, response: Any) -> bool:
        wait = self.get_retry_after(response)
        if wait is None:
            return False
        time.sleep(wait)  # "Retry-After: 0" means now; urllib3 would back off instead
        return True

    def increment(self, method: str | None = None, url: str | None = None,
                  response: Any = None, error: Exception | None = None,
                  _pool: Any = None, _stacktrace: Any = None) -> Any:
        if response is not None:
            wait = self.get_retry_after(response)
            if wait is not None and wait > RETRY_WAIT_CAP:
                # Ends the retries; with raise_on_status=False urllib3 hands back this answer.
                raise MaxRetryError(_pool, url or '', None)
        return super().increment(method, url, response, error, _pool, _stacktrace)


_local = threading.local()


def _forget_sessions() -> None:
    # A forked child must not share its parent's kept-alive sockets.
    global _local
    _local = threading.local()


if hasattr(os, 'register_at_fork'):  # not on Windows, which does not fork
    os.register_at_fork(after_in_child=_forget_sessions)


def _session(max_retries: int) -> requests.Session:
    """One keep-alive session per thread and retry budget: ``requests.Session`` is not
    thread-safe, its connection pool is reused by every call of that thread."""
    sessions: dict[int, requests.Session] | None = getattr(_local, 'sessions', None)
    if sessions is None:
        sessions = _local.sessions = {}
    session = sessions.get(max_retries)
    if session is None:
        retry = _Retry(
            total=max_retries, connect=max_retries, read=False, status=max_retries,
            other=0, redirect=0, allowed_methods=frozenset({'POST'}),
            status_forcelist=RETRY_STATUSES, backoff_factor=BACKOFF_FACTOR,
            raise_on_status=False, raise_on_redirect=False, respect_retry_after_header=True,
        )
        retry.backoff_max = RETRY_WAIT_CAP  # an attribute on every urllib3 1.26+/2.x Retry
        session = requests.Session()
        adapter = HTTPAdapter(max_retries=retry)
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
    """POST the body and return the parsed JSON of a 2xx answer, or raise an AichatError."""
    target = request.url
    shown = _redact(target)
    try:
        response = _session(request.max_retries).post(
            target, headers=HEADERS, json=request.body, timeout=request.timeout,
            proxies=request.proxies, allow_redirects=False)
        status, text, headers = response.status_code, _text(response), response.headers
    except _UNUSABLE_URL as error:  # nothing was sent: the URL or proxy cannot be used at all
        advice = ("install PySocks (pip install 'requests[socks]') or use an http proxy"
                  if 'SOCKS' in str(error) else 'fix the base_url or the proxy')
        raise AichatInputError(f'cannot send POST {shown}: {_reason(error)}; {advice}',
                               url=shown) from error
    except requests.exceptions.ContentDecodingError as error:  # all there, but undecodable
        raise AichatResponseError(
            f'POST {shown} answered a body that cannot be decoded ({_reason(error)}); '
            f'the site changed or is failing, try again later', url=shown) from error
    except _TRANSPORT_ERRORS as error:
        if _timed_out(error):  # before the answer, or while its body trickled in
            raise AichatTimeoutError(
                f'no answer from POST {shown} within {request.timeout:g} s; '
                f'try again later or pass a larger timeout', url=shown) from error
        raise AichatConnectionError(_connection_message(error, shown, request.proxies),
                                    url=shown) from error
    return _parse(status, text, headers, shown)


def _connection_message(error: BaseException, shown: str,
                        proxies: dict[str, str] | None) -> str:
    reason = _reason(error)
    if isinstance(error, requests.exceptions.ProxyError) or any(
            isinstance(inner, urllib3.exceptions.ProxyError) for inner in _chain(error)):
        proxy = _redact(proxies['https']) if proxies else 'the proxy'
        return (f'could not reach POST {shown} through the proxy {proxy}: {reason}; '
                f'check the proxy address and that it is running')
    if any(isinstance(inner, urllib3.exceptions.NewConnectionError) for inner in _chain(error)):
        return (f'could not connect to POST {shown}: {reason}; check the base URL, '
                f'the network and that the server is running')
    return (f'the connection for POST {shown} broke before a complete answer: {reason}; '
            f'try again later, or check the base URL and the network')


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error and what it wraps, outermost first (requests, urllib3 and the socket)."""
    seen: BaseException | None = error
    for _ in range(10):
        if seen is None:
            return
        yield seen
        inner = [getattr(seen, 'reason', None), getattr(seen, 'original_error', None),
                 *seen.args, seen.__cause__]
        seen = next((item for item in inner
                     if isinstance(item, BaseException) and item is not seen), None)


def _timed_out(error: BaseException) -> bool:
    return any(isinstance(inner, (requests.Timeout, TimeoutError,
                                  urllib3.exceptions.TimeoutError))
               and not isinstance(inner, urllib3.exceptions.NewConnectionError)
               for inner in _chain(error))


def _reason(error: BaseException) -> str:
    """The innermost cause of a transport error, on one line."""
    *_, inner = _chain(error)
    return _one_line(f'{type(inner).__name__}: {inner}', 160)


def _redact(url: str) -> str:
    """The URL without its user and password, fit for a message."""
    scheme, separator, rest = url.partition('://')
    end = min((i for i in map(rest.find, '/?#') if i >= 0), default=len(rest))
    if not separator or '@' not in rest[:end]:
        return url
    return f'{scheme}://***@{rest[:end].rpartition("@")[2]}{rest[end:]}'


def _text(response: requests.Response) -> str:
    # Decoding by hand: requests would read a text/* answer without a charset as ISO-8859-1
    # (JSON is UTF-8), and guess a missing one by scanning the whole body.
    charset = _charset(response.headers.get('content-type', ''))
    try:
        return response.content.decode(charset or 'utf-8-sig', errors='replace')
    except LookupError:
        return response.content.decode('utf-8-sig', errors='replace')


def _charset(content_type: str) -> str | None:
    for parameter in content_type.split(';')[1:]:
        name, _, value = parameter.partition('=')
        if name.strip().lower() == 'charset':
            return value.strip().strip('"\'') or None
    return None


def _one_line(text: str, limit: int = BODY_EXCERPT_CHARS) -> str:
    text = ' '.join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + '...'


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


def _parse(status: int, text: str, headers: Mapping[str, str], target: str) -> Any:
    excerpt = _one_line(text)
    if status == 429:
        wait = retry_after_seconds(headers.get('retry-after'))
        hint = f'wait {wait:g} s' if wait is not None else 'wait a while'
        raise AichatRateLimitError(
            f'rate limited: POST {target} answered 429; {hint} and try again, or send fewer '
            f'requests', url=target, status_code=status, body=excerpt, retry_after=wait)
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
