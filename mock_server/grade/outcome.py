"""What reached the caller of a graded client, in words: the answer, or the error sorted by
what a caller can do with it (docs/grading.md):

- ``typed``: a class of the provider's own (or of its framework, g4f's errors): a caller can
  catch it without knowing the transport underneath;
- ``transport``: the HTTP library's own error (requests, aiohttp, curl_cffi, ...) or a raw
  ``OSError``: the caller must know the library to catch it;
- ``json``: a JSON parse error, the answer read as JSON without a check;
- ``bug``: ``KeyError``, ``TypeError``, ``AttributeError``...: the answer read without a check;
- ``bare``: ``Exception``, ``RuntimeError``, ``ValueError`` themselves, which say nothing of
  what happened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TRANSPORT_MODULES = ("requests", "urllib3", "aiohttp", "curl_cffi", "httpx", "httpcore",
                     "http.client", "ssl", "socket", "asyncio", "concurrent.futures")
JSON_ERRORS = ("json.decoder.JSONDecodeError",)
BARE = ("builtins.Exception", "builtins.RuntimeError", "builtins.ValueError",
        "builtins.BaseException")
TRANSPORT_BUILTINS = ("builtins.OSError", "builtins.ConnectionError", "builtins.TimeoutError")
KINDS = {
    "typed": "a typed error",
    "transport": "a raw transport error",
    "json": "a JSON parse error",
    "bug": "an unchecked read's error",
    "bare": "a bare error",
}
ANSWER_CHARS = 60


def shown(text: str, limit: int = ANSWER_CHARS) -> str:
    """A text as the card quotes it: repr, cut to ``limit`` characters."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."


def kind_of(error: dict[str, Any]) -> str:
    """The kind (a key of ``KINDS``) of one error of a chain, as the harness describes it."""
    name: str = error["class"]
    mro: list[str] = error["mro"]
    if any(klass in JSON_ERRORS for klass in mro):
        return "json"
    if name in BARE:
        return "bare"
    if name in TRANSPORT_BUILTINS or name.startswith(
            tuple(module + "." for module in TRANSPORT_MODULES)):
        return "transport"
    if name.startswith("builtins."):
        return "transport" if "builtins.OSError" in mro else "bug"
    return "typed"


@dataclass
class Outcome:
    """One call's result as the harness reported it, or why there is none."""

    answer: str | None = None
    chain: list[dict[str, Any]] = field(default_factory=list)
    elapsed: float | None = None
    # Why no result came: the call outran its bound, or the client's process died.
    missing: str | None = None

    @classmethod
    def of(cls, report: dict[str, Any]) -> Outcome:
        return cls(answer=report.get("answer"), chain=report.get("chain") or [],
                   elapsed=report.get("elapsed"))

    @property
    def raised(self) -> bool:
        return bool(self.chain)

    @property
    def kind(self) -> str | None:
        return kind_of(self.chain[0]) if self.chain else None

    @property
    def error_class(self) -> str:
        name: str = self.chain[0]["class"] if self.chain else ""
        return name.removeprefix("builtins.")

    def attribute(self, name: str) -> Any:
        """``name`` of the error or of the first in its chain that has it."""
        for error in self.chain:
            if name in error["attributes"]:
                return error["attributes"][name]
        return None

    def summary(self) -> str:
        """What reached the caller, in a few words."""
        if self.missing is not None:
            return self.missing
        if not self.chain:
            return f"returned {shown(self.answer or '')}"
        error = self.chain[0]
        message = error["message"].split("\n")[0]
        return f"raised {self.error_class}: {shown(message)}"

    def error_fault(self) -> str | None:
        """Why the error is not one a caller can handle, or ``None`` when it is typed."""
        kind = self.kind
        if kind is None or kind == "typed":
            return None
        return f"{KINDS[kind]}, {self.summary().removeprefix('raised ')}"
