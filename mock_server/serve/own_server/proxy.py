"""The mock as an intercepting proxy (``aichat-mock --intercept``), for one connection: a
``CONNECT`` to a host it intercepts is answered 200 and the connection becomes a tunnel (TLS
with the mock's certificate for that host, ``tunnel.TlsTunnel``; plain HTTP for port 80), in
which the requests are the site's as on the plain port; a ``CONNECT`` or an absolute-form
request for any other host is refused 403, and nothing is ever dialled.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING

from ...core.hosts import HostPolicy, host_name
from ...core.wire import Answer, json_answer
from .head import Head, Refused
from .tunnel import TlsTunnel

if TYPE_CHECKING:
    from ..certificates import Authority

ESTABLISHED = b"HTTP/1.1 200 Connection established\r\n\r\n"
PLAIN_PORT = 80


class Refusal(Refused):
    """A refusal with the answer given whole: ``{"response": false, "message": ...}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, message)
        self.answer: Answer = json_answer(status, {"response": False, "message": message})


class Interception:
    """What the proxy knows of one connection: the tunnel it became, if any."""

    __slots__ = ("_authority", "_hosts", "connecting", "scheme", "tunnel", "via")

    def __init__(self, authority: Authority | None, hosts: HostPolicy) -> None:
        self._authority = authority
        self._hosts = hosts
        self.connecting: bytes | None = None  # a CONNECT's authority, answered once parsed
        self.tunnel: TlsTunnel | None = None
        self.via: str | None = None  # "proxy" inside a tunnel
        self.scheme = "http"

    def connect(self, head: Head) -> None:
        """A ``CONNECT``: to be answered 200 (``open``) when it is for a host the mock
        intercepts; else ``Refusal`` (405 without ``--intercept``, 403 for another host)."""
        assert head.authority is not None
        target = head.authority[1]
        if self.via is not None:
            raise Refusal(400, "a CONNECT inside a tunnel: send the request itself")
        if self._authority is None:
            raise Refusal(405, "this mock is no proxy: it answers CONNECT only when started "
                               "with --intercept, for the site's host names")
        if not self._hosts.intercepts(target):
            raise Refusal(403, self._hosts.proxy_refusal(target))
        self.connecting = target

    def via_of(self, head: Head) -> str | None:
        """``"proxy"`` for a request the mock answers as the proxy: in a tunnel, or in
        absolute form for a host it intercepts; ``Refusal`` (403) for an absolute-form request
        for a host it neither intercepts nor serves, when it intercepts at all."""
        if self.via is not None:
            return self.via
        if head.authority is None or self._authority is None:
            return None
        if self._hosts.intercepts(head.authority[1]):
            return "proxy"
        if not self._hosts.allows(head.authority[1]):
            raise Refusal(403, self._hosts.proxy_refusal(head.authority[1]))
        return None

    def open(self, write: Callable[[bytes], None]) -> None:
        """Answer the ``CONNECT`` (200) and become its tunnel."""
        target, self.connecting = self.connecting or b"", None
        write(ESTABLISHED)
        name = host_name(target.decode("latin-1"))
        _, _, port = target.decode("latin-1").rpartition(":")
        self.via = "proxy"
        if port == str(PLAIN_PORT):
            return  # plain HTTP goes on inside
        assert self._authority is not None
        self.scheme = "https"
        self.tunnel = TlsTunnel(self._authority.context(name), name, write)

    def plain_refusal(self) -> Answer:
        """The answer, in plain text, to a client that sends plain HTTP into a TLS tunnel."""
        host = self.tunnel.host if self.tunnel is not None else "the site"
        return json_answer(400, {"response": False, "message": (
            f"invalid request: this is a TLS tunnel to {host}; send https:// requests through "
            f"it (a plain http:// request goes to the proxy as it is, without CONNECT)")})

    def decrypt(self, data: bytes) -> bytes | None:
        """What the tunnel's bytes decrypt to; ``None`` when they are not TLS it can take."""
        assert self.tunnel is not None
        try:
            return self.tunnel.receive(data)
        except ssl.SSLError:
            return None
