"""A tunnel the mock answers inside as an intercepting proxy (``--intercept``): once ``CONNECT
host:443`` is answered 200, the connection's bytes are TLS, decrypted here with the mock's
certificate for that host into the HTTP/1.1 the protocol reads, its answers encrypted back.

TLS runs on memory buffers (``ssl.MemoryBIO``) rather than on a transport of its own, so the
connection keeps every byte in hand: a client that sends plain HTTP into the tunnel gets a
plain answer saying so, and a handshake that does not finish is cut at the head timeout like
a slow head.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Callable

# The first byte of a TLS record that starts a handshake (a ClientHello).
HANDSHAKE = 0x16
READ_SIZE = 65_536


class TlsTunnel:
    """The TLS of one tunnel, server side; ``write`` sends the encrypted bytes."""

    def __init__(self, context: ssl.SSLContext, host: str,
                 write: Callable[[bytes], None]) -> None:
        self.host = host
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._write = write
        self.started = False  # a byte of the client's arrived
        self.ready = False  # the handshake is done
        self.ended = False  # the client said its end (close_notify)

    @staticmethod
    def looks_like_tls(data: bytes) -> bool:
        """Whether the first bytes in a tunnel are the start of a TLS handshake."""
        return data[:1] == bytes([HANDSHAKE])

    def receive(self, data: bytes) -> bytes:
        """What ``data`` decrypts to (``b""`` while the handshake goes on); raises
        ``ssl.SSLError`` for bytes that are not TLS this tunnel can take."""
        self.started = True
        self._incoming.write(data)
        if not self.ready:
            try:
                self._tls.do_handshake()
            except ssl.SSLWantReadError:
                return self._flushed(b"")
            self.ready = True
        pieces: list[bytes] = []
        while True:
            try:
                piece = self._tls.read(READ_SIZE)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                self.ended = True
                break
            if not piece:
                break
            pieces.append(piece)
        return self._flushed(b"".join(pieces))

    def send(self, data: bytes) -> None:
        """Encrypt ``data`` and write it."""
        view = memoryview(data)
        while view:
            view = view[self._tls.write(view):]
        self._flushed(b"")

    def close(self) -> None:
        """Say this end of the tunnel is done (TLS close_notify)."""
        # The client's close_notify is not waited for.
        with contextlib.suppress(ssl.SSLError, ValueError):
            self._tls.unwrap()
        self._flushed(b"")

    def _flushed(self, result: bytes) -> bytes:
        data = self._outgoing.read()
        if data:
            self._write(data)
        return result
