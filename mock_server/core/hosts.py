"""Which ``Host`` a request may name to be served: a loopback address, ``localhost`` (and
names under ``.localhost``), the address the mock is bound to, or a name given with
``--allow-host``. Any other is turned away with ``421`` before the request is read further: a
page on another origin that resolved its own name to this machine (DNS rebinding) must not
drive the mock or read its journal.

Every carrier asks the same ``HostPolicy``: the mock's own server before it reads a body, the
WSGI app (``web``) for the other servers.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

# Answers kept per distinct Host value; bounded against a client that sends a new one every time.
_CACHED = 1024


def host_name(value: str) -> str:
    """The name or address of a ``Host`` value, without port, brackets or a final dot,
    in lower case: ``"[::1]:8080"`` gives ``"::1"``."""
    text = value.strip().lower()
    if text.startswith("["):
        end = text.find("]")
        return text[1:end] if end > 0 else text[1:]
    if text.count(":") == 1:
        text = text.partition(":")[0]
    return text.rstrip(".")


def is_loopback(name: str) -> bool:
    """``localhost``, a name under ``.localhost`` (RFC 6761), or a loopback address."""
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class HostPolicy:
    """The hosts one mock serves: loopback ones always, ``names`` (the bound address, the
    ``--allow-host`` names), and the names it intercepts as a proxy (``--intercept``: the
    site's own, and each ``--intercept-host``)."""

    def __init__(self, names: Iterable[str] = (), intercepted: Iterable[str] = ()) -> None:
        self.intercepted = frozenset(host_name(name) for name in intercepted if name)
        self.names = frozenset(host_name(name) for name in names if name) | self.intercepted
        self._known: dict[str | bytes, bool] = {}

    def allows(self, value: str | bytes | None) -> bool:
        """Whether a request with this ``Host`` value is served. A request without one (HTTP/1.0
        allows it) names no other host, and is."""
        if value is None:
            return True
        known = self._known.get(value)
        if known is not None:
            return known
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        name = host_name(text)
        allowed = name in self.names or is_loopback(name)
        if len(self._known) < _CACHED:
            self._known[value] = allowed
        return allowed

    def intercepts(self, value: str | bytes) -> bool:
        """Whether the mock answers for this host (a ``Host`` value, or a ``CONNECT`` or
        absolute-form authority) as a proxy would: it is one of the intercepted names."""
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        return host_name(text) in self.intercepted

    def proxy_refusal(self, value: str | bytes) -> str:
        """The message of the 403 for a host the proxy does not answer for."""
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        shown = text if len(text) <= 80 else text[:77] + "..."
        listed = ", ".join(sorted(self.intercepted)) or "none"
        return (f"this mock is no proxy for {shown!r}: it answers only for the hosts it "
                f"intercepts ({listed}) and opens no connection anywhere; add "
                f"--intercept-host NAME to answer for another name")

    def refusal(self, value: str | bytes) -> str:
        """The message of the 421 for a ``Host`` not served."""
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        shown = text if len(text) <= 80 else text[:77] + "..."
        return (f"misdirected request: this mock serves only loopback hosts, localhost, the "
                f"address it listens on and the names given with --allow-host, not "
                f"{shown!r}; start it with --allow-host NAME to serve that name")
