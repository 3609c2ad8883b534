"""The request edge: where every carrier of the mock (its own server, the WSGI app, the
socketless kit, the admin API's client) finds the same answers to the same questions about a
request before anything else is done with it.

- ``split(path)``: the namespace (``/ns/{name}`` split off), the path within it, and whether
  it is the admin API's (``/__mock__`` and below, never journaled) or the site's;
- the paths of the site and of the admin API;
- the limits on what a client may send: the request line and headers, a body to the site
  (answered 413 past ``MAX_BODY``, not even read past ``DRAIN_LIMIT``), an admin body.
"""

from __future__ import annotations

from typing import NamedTuple

from . import namespaces
from .contract import API_PATH

__all__ = ["ADMIN_PREFIX", "API_PATH", "CHAT_PATH", "DRAIN_LIMIT", "MAX_ADMIN_BODY",
           "MAX_BODY", "MAX_HEAD", "MAX_SMALL_BODY", "Target", "is_admin", "split"]

CHAT_PATH = "/chat"
# The admin API's paths (in each namespace): never journaled.
ADMIN_PREFIX = "/__mock__"

# The request line and headers, in bytes; over it: 431. It also bounds what an entry's
# headers hold.
MAX_HEAD = 64 * 1024
# A body to the site over 1 MiB answers 413.
MAX_BODY = 1 << 20
# Bodies up to this size are read to the end (and dropped past MAX_BODY) so that the
# connection stays usable; a longer one is answered at once and the connection closed.
DRAIN_LIMIT = 16 * MAX_BODY
# Scripted replies are small; this bounds what a POST of them may make the mock parse.
MAX_ADMIN_BODY = 8 << 20
# The other admin bodies (a search, a reset, settings) are a few fields.
MAX_SMALL_BODY = 64 << 10


class Target(NamedTuple):
    """Where a request goes: its namespace (``""``: the default one), the path within it, and
    whether that path is the admin API's."""

    namespace: str
    path: str
    admin: bool


_ADMIN_BELOW = ADMIN_PREFIX + "/"
# Made as a tuple is, without the class's own __new__: split runs for every request.
_new_target = tuple.__new__


def is_admin(path: str) -> bool:
    """Whether ``path`` (within its namespace) is the admin API's."""
    return path == ADMIN_PREFIX or path.startswith(_ADMIN_BELOW)


def split(path: str) -> Target:
    """The target of a decoded request path. A path that starts like a namespace but names one
    against the rule (``/ns/bad!/__mock__``) stays a path of the default namespace, and a
    site's: the engine answers it 404 saying why, and journals it."""
    if path.startswith(namespaces.PREFIX):
        found = namespaces.split(path)
        if found is not None:
            name, inner = found
            return _new_target(Target, (name, inner, is_admin(inner)))
    return _new_target(Target, (namespaces.DEFAULT, path,
                                path == ADMIN_PREFIX or path.startswith(_ADMIN_BELOW)))
