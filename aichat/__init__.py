"""aichat: the g4f Aichat provider for the chat-gpt.org text API, made testable.

``aichat.Aichat`` is the provider module itself (the file a 2023 g4f ``Providers/`` folder
takes as is); ``aichat.complete`` is the one-call convenience; the error classes are those of
the module.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from . import Aichat
from .Aichat import (
    AichatBlockedError,
    AichatConnectionError,
    AichatError,
    AichatHTTPError,
    AichatInputError,
    AichatRateLimitError,
    AichatResponseError,
    AichatTimeoutError,
    AichatUpstreamError,
)
from .client import complete

try:
    __version__ = version("g4f-aichat")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = [
    "Aichat",
    "AichatBlockedError",
    "AichatConnectionError",
    "AichatError",
    "AichatHTTPError",
    "AichatInputError",
    "AichatRateLimitError",
    "AichatResponseError",
    "AichatTimeoutError",
    "AichatUpstreamError",
    "__version__",
    "complete",
]
