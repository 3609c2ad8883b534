"""A site on loopback that answers ``POST /api/text`` with a valid head at once and then its
body a byte at a time: a client whose deadline is per read waits for all of it, one whose
deadline is the whole call's stops at it. The mock's replies are late whole (``delay_ms``) or
not at all; none arrives slowly, so the grader brings this one along for the trickle check.
"""

from __future__ import annotations

import socketserver
import threading
from types import TracebackType

# One byte every this many seconds: the whole body takes longer than any check's bound.
BYTE_EVERY = 0.25
BODY = b'{"response": true, "message": "This answer arrives one byte at a time, too slowly."}'
HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(BODY)).encode() + b"\r\n\r\n")
MAX_HEAD = 64 * 1024


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        data = b""
        while b"\r\n\r\n" not in data and len(data) < MAX_HEAD:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length" and value.strip().isdigit():
                length = int(value.strip())
        while len(body) < length:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            body += chunk
        with self.server.lock:
            self.server.requests += 1
        try:
            self.request.sendall(HEAD)
            for byte in BODY:
                if self.server.stopping.wait(BYTE_EVERY):
                    return
                self.request.sendall(bytes([byte]))
        except OSError:  # the client gave up: that is what is being checked
            return


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.requests = 0
        self.stopping = threading.Event()


class TricklingSite:
    """The site in a thread of this process: ``url`` is its base URL, ``requests`` how many
    requests it has answered (or is answering)."""

    def __init__(self) -> None:
        self._server = _Server()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        host, port = self._server.server_address[:2]
        self.url = f"http://{host!s}:{port}"

    @property
    def requests(self) -> int:
        with self._server.lock:
            return self._server.requests

    def reset(self) -> None:
        with self._server.lock:
            self._server.requests = 0

    def close(self) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> TricklingSite:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

