"""The g4f Aichat provider: a client for the ``chat-gpt.org`` text API.

Self-contained (standard library and ``requests`` only) so that this file can be dropped,
unchanged, into a 2023 g4f ``Providers/`` folder. The bytes on the wire are those of the
original module; everything around them (errors, timeouts, retries, keep-alive, base URL)
is made robust.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Iterator, Mapping
from email.utils import parsedate_to_datetime
from datetime import datetime, timezone
from typing import Any, get_type_hints
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InvalidHeader, MaxRetryError
from urllib3.util.retry import Retry

url = 'https://chat-gpt.org/chat'
model = ['gpt-3.5-turbo']
supports_stream = False
needs_auth = False
working = True

DEFAULT_BASE_URL = 'https://chat-gpt.org'
BASE_URL_ENV = 'AICHAT_BASE_URL'
API_PATH = '/api/text'
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


def _create_completion(model: str, messages: list, stream: bool, **kwargs: Any) -> Iterator[str]:
    """Send the conversation to ``{base}/api/text`` and yield the reply text once.

    Keyword arguments: ``base_url``, ``timeout``, ``proxy``, ``max_retries``,
    ``temperature``, ``presence_penalty``, ``top_p``, ``frequency_penalty``; others (such as
    g4f's ``auth``) are ignored. Input is checked before any request is sent.
    """
    request = _prepare(messages, kwargs)
    yield _message_of(_send(request), request.url)


def fetch(messages: list, **kwargs: Any) -> dict[str, Any]:
    """Send the conversation and return the site's whole JSON object (after the checks)."""
    request = _prepare(messages, kwargs)
    data = _send(request)
    _message_of(data, request.url)
    return data


params = f'g4f.Providers.{os.path.basename(__file__)[:-3]} supports: ' + \
    '(%s)' % ', '.join([f"{name}: {get_type_hints(_create_completion)[name].__name__}" for name in _create_completion.__code__.co_varnames[:_create_completion.__code__.co_argcount]])


# --- request ---------------------------------------------------------------------------------

class _Request:
    __slots__ = ('url', 'body', 'timeout', 'proxies', 'max_retries')

    def __init__(self, url: str, body: dict[str, Any], timeout: float,
                 proxies: dict[str, str] | None, max_retries: int) -> None:
        self.url = url
        self.body = body
        self.timeout = timeout
        self.proxies = proxies
        self.max_retries = max_retries


def _prepare(messages: Any, kwargs: Mapping[str, Any]) -> _Request:
    body: dict[str, Any] = {'message': flatten(messages)}
    for name, (default, low, high) in PARAMETERS.items():
        body[name] = _number(name, kwargs.get(name), default, low, high)
    return _Request(
        url=endpoint(kwargs.get('base_url')),
        body=body,
        timeout=_timeout(kwargs.get('timeout')),
        proxies=_proxies(kwargs.get('proxy')),
        max_retries=_max_retries(kwargs.get('max_retries')),
    )


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


def _number(name: str, value: Any, default: int, low: int, high: int) -> Any:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise AichatInputError(f'{name} must be a number from {low} to {high}, '
                               f'not {type(value).__name__} {value!r}')
    if not low <= value <= high:
        raise AichatInputError(f'{name} must be from {low} to {high}; got {value!r}')
    return value


def endpoint(base_url: Any = None) -> str:
    """``{base}/api/text``, the base taken from the argument, ``AICHAT_BASE_URL`` or the site."""
    base = base_url if base_url is not None else (os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL)
    if not isinstance(base, str):
        raise AichatInputError(f'base_url must be a string such as {DEFAULT_BASE_URL!r}, '
                               f'not {type(base).__name__}')
    parts = urlsplit(base.strip())
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        raise AichatInputError(f'base_url must be an http(s) URL such as {DEFAULT_BASE_URL!r}; '
                               f'got {base!r}')
    return base.strip().rstrip('/') + API_PATH


def _timeout(value: Any) -> float:
    if value is None:
        return DEFAULT_TIMEOUT
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not 0 < value <= MAX_TIMEOUT:
        raise AichatInputError(f'timeout must be a number of seconds above 0 and up to '
                               f'{MAX_TIMEOUT:g}; got {value!r}')
    return float(value)


def _proxies(proxy: Any) -> dict[str, str] | None:
    if proxy is None:
        return None
    parts = urlsplit(proxy) if isinstance(proxy, str) else None
    if parts is None or not parts.scheme or not parts.hostname:
        raise AichatInputError(f'proxy must be a URL such as "http://user:pass@host:3128"; '
                               f'got {proxy!r}')
    return {'http': proxy, 'https': proxy}


def _max_retries(value: Any) -> int:
    if value is None:
        return DEFAULT_MAX_RETRIES
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise AichatInputError(f'max_retries must be a whole number of 0 or more; got {value!r}')
    return value


# --- transport -------------------------------------------------------------------------------

class _Retry(Retry):
    """urllib3's retry policy, handing a Retry-After beyond the cap back to the caller."""

    def get_retry_after(self, response: Any) -> float | None:
        try:
            return super().get_retry_after(response)
        except (InvalidHeader, ValueError, OverflowError):
            return None

    def increment(self, method: str | None = None, url: str | None = None,
                  response: Any = None, error: Exception | None = None,
                  _pool: Any = None, _stacktrace: Any = None) -> Any:
        if response is not None:
            wait = self.get_retry_after(response)
            if wait is not None and wait > RETRY_WAIT_CAP:
                raise MaxRetryError(_pool, url or '', None)  # type: ignore[arg-type]
        return super().increment(method, url, response, error, _pool, _stacktrace)


_local = threading.local()


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


def _send(request: _Request) -> Any:
    """POST the body and return the parsed JSON of a 2xx answer, or raise an AichatError."""
    target = request.url
    try:
        response = _session(request.max_retries).post(
            target, headers=HEADERS, json=request.body, timeout=request.timeout,
            proxies=request.proxies, allow_redirects=False)
        status, text, headers = response.status_code, _text(response), response.headers
    except requests.Timeout as error:
        raise AichatTimeoutError(
            f'no answer from POST {target} within {request.timeout:g} s; '
            f'try again later or pass a larger timeout', url=target) from error
    except requests.RequestException as error:
        raise AichatConnectionError(
            f'could not reach POST {target}: {_reason(error)}; check the base URL, '
            f'the proxy and the network', url=target) from error
    return _parse(status, text, headers, target)


def _text(response: requests.Response) -> str:
    # Decoding by hand: requests would guess a missing charset by scanning the whole body.
    try:
        return response.content.decode(response.encoding or 'utf-8', errors='replace')
    except LookupError:
        return response.content.decode('utf-8', errors='replace')


def _reason(error: BaseException) -> str:
    """The innermost cause of a transport error, on one line."""
    seen = error
    for _ in range(8):
        inner = getattr(seen, 'reason', None) or seen.__context__ or (
            seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None)
        if not isinstance(inner, BaseException) or inner is seen:
            break
        seen = inner
    return _one_line(f'{type(seen).__name__}: {seen}', 160)


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
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


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
            f'POST {target} answered {status}: {excerpt!r}; the site is failing, '
            f'try again later', url=target, status_code=status, body=excerpt)
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
            f'the site refused: {_one_line(reason) or "no reason given"} (POST {target}); change the prompt '
            f'or try again later', url=target, reason=reason)
    if not isinstance(message, str):
        raise AichatResponseError(
            f'POST {target} answered a JSON object without a string "message" '
            f'(keys: {", ".join(sorted(map(str, data))) or "none"}); the site changed or is '
            f'failing', url=target)
    return message
