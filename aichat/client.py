"""One-call use of the provider."""

from __future__ import annotations

from typing import Any

from . import Aichat


def complete(messages: list[Any], *, model: str = "gpt-3.5-turbo", **kwargs: Any) -> str:
    """Send ``messages`` and return the reply text.

    Takes the keyword arguments of ``Aichat._create_completion`` (``base_url``, ``timeout``
    for the whole call, ``max_response_bytes``, ``proxy``, ``max_retries``, ``temperature``,
    ``presence_penalty``, ``top_p``, ``frequency_penalty``) and raises its ``AichatError``
    subclasses, and nothing else.
    """
    return "".join(Aichat._create_completion(model, messages, False, **kwargs))
