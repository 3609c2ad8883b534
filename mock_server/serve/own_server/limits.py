"""How long a client may take, and how much it may keep the server holding."""

from __future__ import annotations

from dataclasses import dataclass

# Threads of the pool that runs the Flask app for /__mock__/.
ADMIN_THREADS = 4
# Requests read ahead on one connection (pipelined) before reading it pauses.
PIPELINE_DEPTH = 16
# A connection whose client does not read: reading pauses above this many bytes unsent.
WRITE_HIGH_WATER = 256 * 1024
# After a refusal sent before the request was read to its end, what the client still sends is
# read and dropped for this long (and up to this many bytes) before the connection is closed:
# closing with unread bytes would reset the connection, and the client could lose the answer.
LINGER_SECONDS = 2.0
LINGER_BYTES = 16 << 20
# The largest body whose answer a connection keeps to give again to the same bytes
# (cycle.Again): with the answer, a few KB a connection at most.
AGAIN_BODY = 1024


@dataclass(frozen=True)
class Limits:
    """How long a client may take, in seconds (the command has hidden options for tests)."""

    head_timeout: float = 10.0
    body_timeout: float = 30.0
    keepalive_timeout: float = 30.0
    # In-flight answers (a delay_ms) get this long to be sent when the server stops.
    graceful_timeout: float = 3.0

    @property
    def sweep(self) -> float:
        """How often the deadlines are checked; each deadline gets this much slack."""
        return min(0.5, self.head_timeout / 4, self.body_timeout / 4,
                   self.keepalive_timeout / 4)
