"""The Aichat provider as a class for today's g4f (8.x).

``Aichat`` wraps the seed module (``aichat/Aichat.py``): the wire format, checks, retries and
timeouts all stay there. This class only speaks g4f's provider protocol and turns the seed's
errors into the ones g4f's retry and fallback logic understands, keeping the original as
``__cause__``::

    import g4f
    from aichat.g4f_provider import Aichat

    g4f.ChatCompletion.create(model="gpt-3.5-turbo", messages=[...], provider=Aichat)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar

try:
    from g4f import errors as g4f_errors
    from g4f.providers.base_provider import AbstractProvider, ProviderModelMixin
except ImportError as error:  # g4f is an optional extra, say which one
    raise ImportError(
        f'aichat.g4f_provider needs the g4f package ({error}); '
        f'install it with: pip install "g4f-aichat[g4f]"',
        name=error.name,
    ) from error

from . import Aichat as seed

__all__ = ["Aichat"]

# Most specific first: the seed's classes inherit from one another (a rate limit is an HTTP
# error, a timeout is a connection error).
_ERRORS: tuple[tuple[type[seed.AichatError], type[Exception]], ...] = (
    (seed.AichatRateLimitError, g4f_errors.RateLimitError),
    (seed.AichatBlockedError, g4f_errors.CloudflareError),
    (seed.AichatHTTPError, g4f_errors.ResponseStatusError),
    (seed.AichatTimeoutError, g4f_errors.TimeoutError),
    # No answer at all: not a ResponseError; g4f's word for an unreachable provider. It is not
    # MissingAuthError, so g4f's circuit breaker still counts the failure and falls back.
    (seed.AichatConnectionError, g4f_errors.ProviderNotWorkingError),
    (seed.AichatResponseError, g4f_errors.ResponseError),
    (seed.AichatUpstreamError, g4f_errors.ResponseError),
)


def _g4f_error(error: seed.AichatError) -> Exception:
    """The g4f error for a seed error, with the seed's one-line message."""
    for aichat_class, g4f_class in _ERRORS:
        if isinstance(error, aichat_class):
            return g4f_class(str(error))
    unknown: type[Exception] = g4f_errors.ProviderException  # a seed error not in the table
    return unknown(str(error))


class Aichat(AbstractProvider, ProviderModelMixin):  # type: ignore[misc]  # g4f is untyped
    """chat-gpt.org's text API (``POST {base}/api/text``) through the seed module.

    Keyword arguments g4f forwards reach the seed: ``base_url`` (else ``AICHAT_BASE_URL``),
    ``timeout`` (seconds for the whole call, retries and their waits included, as g4f means
    it), ``max_response_bytes`` (the most the decoded answer may hold, 4 MiB by default),
    ``proxy``, ``max_retries``, ``temperature``, ``presence_penalty``, ``top_p``,
    ``frequency_penalty``; the rest (``api_key``, ``stop``, ``max_tokens``, ...) is ignored.
    """

    url = seed.url
    label = "Aichat (chat-gpt.org)"
    working = seed.working
    needs_auth = seed.needs_auth
    supports_stream = seed.supports_stream
    # Every turn, system ones included, is flattened into the one prompt the site takes.
    supports_message_history = True
    supports_system_message = True
    default_model = seed.model[0]
    models: ClassVar[list[str]] = list(seed.model)
    # g4f's async client reads this; True means g4f only adds its own clock when the caller
    # passes stream_timeout, so the seed's timeout (and its mapped error) stays the one clock.
    use_stream_timeout = True

    @classmethod
    def create_completion(
        cls, model: str, messages: list[Any], stream: bool = False, **kwargs: Any
    ) -> Iterator[str]:
        """Yield the reply once; seed errors come out as g4f errors.

        Bad ``messages`` or parameters raise ``AichatInputError`` (a ``ValueError``) unchanged:
        nothing was sent, and g4f has no error for a caller's mistake outside its HTTP-status
        family.
        """
        try:
            yield from seed._create_completion(cls.get_model(model), messages, stream, **kwargs)
        except seed.AichatInputError:
            raise
        except seed.AichatError as error:
            raise _g4f_error(error) from error

    @classmethod
    async def create_async_generator(
        cls, model: str, messages: list[Any], stream: bool = False, **kwargs: Any
    ) -> AsyncIterator[str]:
        """The same in a worker thread: g4f would otherwise run the blocking request on the
        event loop. Cancelling the caller leaves the request to finish within its timeout."""
        chunks = await asyncio.to_thread(
            lambda: list(cls.create_completion(model, messages, stream, **kwargs)))
        for chunk in chunks:
            yield chunk
