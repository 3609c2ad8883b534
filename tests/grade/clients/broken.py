"""Clients of the site for the grader's tests, in g4f's ``BaseProvider`` shape: ``Careful``
keeps the contract on the checks the tests run it through, and each other class breaks it in
one way, the way real providers did.

Graded as ``tests/grade/clients/broken.py:NAME``; the harness runs them in a child process."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import requests

from mock_server.core import contract

DEFAULTS = {"temperature": 1, "presence_penalty": 0, "top_p": 1, "frequency_penalty": 0}


class SiteError(Exception):
    """Every failure of these clients; ``status_code`` where the site answered."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class Careful:
    url = "https://chat-gpt.org/chat"
    working = True

    @classmethod
    def headers(cls) -> dict[str, str]:
        return contract.header_table()

    @classmethod
    def prompt(cls, messages: list[dict[str, str]]) -> str:
        return "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant:"

    @classmethod
    def read(cls, response: requests.Response, deadline: float) -> bytes:
        """The body, read against the call's deadline (not per read)."""
        body = b""
        for chunk in response.iter_content(1):
            body += chunk
            if time.monotonic() > deadline:
                raise SiteError("no whole answer within the timeout")
        return body

    @classmethod
    def create_completion(cls, model: str, messages: list[dict[str, str]], stream: bool,
                          **kwargs: Any) -> Iterator[str]:
        timeout = float(kwargs.get("timeout", 60))
        deadline = time.monotonic() + timeout
        try:
            response = requests.post(
                kwargs.get("base_url", "https://chat-gpt.org") + "/api/text",
                headers=cls.headers(), json={"message": cls.prompt(messages), **DEFAULTS},
                timeout=min(timeout, 1.0), stream=True)
            body = cls.read(response, deadline)
        except requests.RequestException as error:
            raise SiteError(f"the site could not be reached: {error}") from error
        if response.status_code == 429:
            raise SiteError("rate limited", 429)
        if response.status_code != 200:
            raise SiteError(f"status {response.status_code}", response.status_code)
        try:
            answer = requests.models.complexjson.loads(body)
            if answer.get("response") is False:
                raise SiteError(f"refused: {answer.get('message')}")
            yield str(answer["message"])
        except (ValueError, KeyError, AttributeError) as error:
            raise SiteError(f"not an answer: {body[:100]!r}") from error


class WrongHeader(Careful):
    """Sends a newer browser's user-agent than the contract's."""

    @classmethod
    def headers(cls) -> dict[str, str]:
        return {**contract.header_table(),
                "user-agent": contract.header_table()["user-agent"].replace("113", "114")}


class WrongFlattening(Careful):
    """Joins the turns with blank lines and leaves out the closing ``assistant:``."""

    @classmethod
    def prompt(cls, messages: list[dict[str, str]]) -> str:
        return "\n\n".join(f"{m['role']}: {m['content']}" for m in messages)


class SwallowedRateLimit(Careful):
    """Hands the 429's body to the caller as the answer."""

    @classmethod
    def create_completion(cls, model: str, messages: list[dict[str, str]], stream: bool,
                          **kwargs: Any) -> Iterator[str]:
        try:
            yield from super().create_completion(model, messages, stream, **kwargs)
        except SiteError as error:
            if error.status_code != 429:
                raise
            yield "Too Many Requests"


class NoDeadline(Careful):
    """Reads the answer to its end, however slowly it comes (a timeout per read only)."""

    @classmethod
    def read(cls, response: requests.Response, deadline: float) -> bytes:
        return response.content


class Crashing(Careful):
    """Ends its own process in the middle of a call."""

    @classmethod
    def create_completion(cls, model: str, messages: list[dict[str, str]], stream: bool,
                          **kwargs: Any) -> Iterator[str]:
        os._exit(70)
        yield ""  # a generator, as the others
