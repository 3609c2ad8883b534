"""Namespaces: ``/ns/{name}/...`` is a private mock on a shared server, with its own journal view,
reply queue and reply mode. Paths without the prefix are the default namespace, ``""``.

The carriers (the WSGI middleware of the Flask app, the socketless adapter) split the prefix off
with ``split``; the engine then sees the namespace and the path within it.
"""

from __future__ import annotations

import re

DEFAULT = ""
PREFIX = "/ns/"
MAX_NAME = 64
_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}\Z")
# "." and ".." are dot segments: URL clients remove them before a request is sent (RFC 3986
# 5.2.4), so a base URL ending in /ns/.. would never reach its namespace.
DOT_SEGMENTS = frozenset({".", ".."})
RULE = (f"a namespace name is 1 to {MAX_NAME} of the characters A-Z a-z 0-9 . _ - "
        f"(but not . or ..)")


def is_name(name: object) -> bool:
    return isinstance(name, str) and bool(_NAME.match(name)) and name not in DOT_SEGMENTS


def check(name: object) -> str:
    """``name`` if it is a namespace name, else ``ValueError`` saying the rule."""
    if not is_name(name):
        raise ValueError(f"{name!r} is not a namespace name: {RULE}")
    assert isinstance(name, str)
    return name


def split(path: str) -> tuple[str, str] | None:
    """``("alice", "/api/text")`` for ``/ns/alice/api/text``; ``None`` for a path that is not
    under a namespace (or names one against the rule: it stays a path of the default one)."""
    if not path.startswith(PREFIX):
        return None
    end = path.find("/", len(PREFIX))
    name = path[len(PREFIX):] if end < 0 else path[len(PREFIX):end]
    if not is_name(name):
        return None
    return name, "/" if end < 0 else path[end:]


def refused(path: str) -> str | None:
    """Why ``path`` is not under a namespace though it starts like one, or ``None``."""
    if path.startswith(PREFIX) and split(path) is None:
        end = path.find("/", len(PREFIX))
        name = path[len(PREFIX):] if end < 0 else path[len(PREFIX):end]
        shown = name if len(name) <= 80 else name[:77] + "..."
        return f"{shown!r} is not a namespace: {RULE}"
    return None


def prefix(name: str) -> str:
    """The path prefix of namespace ``name``: ``""`` for the default one."""
    return "" if name == DEFAULT else PREFIX + name
