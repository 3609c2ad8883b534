"""What every connection of one process shares: the engine, the admin app, the host policy,
the deadlines' clock, and the answers waiting for their journal records to be written."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate
from typing import TYPE_CHECKING

from flask import Flask

from ...core.hosts import HostPolicy
from ...web.app import engine_of
from .limits import ADMIN_THREADS, Limits

if TYPE_CHECKING:
    from ..certificates import Authority
    from .head import Head
    from .protocol import Conn


class Server:
    """The state of one process's server; ``batched``: the engine writes the journal a turn
    of the event loop at a time (several workers share an SQLite store), and each answer goes
    out after the write of its turn."""

    def __init__(self, app: Flask, hosts: HostPolicy, limits: Limits, *,
                 batched: bool, authority: Authority | None = None) -> None:
        self.engine = engine_of(app)
        # The CA of --intercept: tunnels get their certificates from it (None: no proxy).
        self.authority = authority
        self.wsgi = app.wsgi_app
        self.hosts = hosts
        self.limits = limits
        # Each deadline's slack: the sweep's clock lags by up to one period.
        self.slack = limits.sweep
        # What each deadline adds to the clock, slack included (set on every request).
        self.head_wait = limits.head_timeout + self.slack
        self.body_wait = limits.body_timeout + self.slack
        self.idle_wait = limits.keepalive_timeout + self.slack
        self.loop = asyncio.get_running_loop()
        self.now = self.loop.time()
        self.conns: set[Conn] = set()
        # The heads (their bytes) whose next requests need nothing more of the parser, once it
        # has read one and this server has served it: to the site, in the origin form, a
        # method the parser knows, a body framed by Content-Length within what is read, no
        # Expect, no Upgrade, the connection kept open (see Conn._plain). The parser has checked
        # those very bytes, takes such a body as it comes, and is where a request ends either
        # way. (After a request that closes the connection it would refuse what follows; the
        # requests read without it then are dropped unanswered and unjournaled all the same:
        # Request.run.) Only heads kept whole (head.kept_whole) are noted, so as many as those.
        self.plain: dict[bytes, Head] = {}
        self.pool = ThreadPoolExecutor(ADMIN_THREADS, thread_name_prefix="aichat-mock-admin")
        self.batched = batched
        # Answers of this turn of the loop, written once the turn's records are committed.
        self.outbox: list[tuple[Conn, bytes, bool]] = []
        self.stopping = False
        self.date = b""
        self._tick_date()
        self._sweeper: asyncio.TimerHandle | None = self.loop.call_later(limits.sweep,
                                                                        self.sweep)

    def _tick_date(self) -> None:
        self.date = b"Date: " + formatdate(usegmt=True).encode("ascii") + b"\r\n"

    def sweep(self) -> None:
        """Close the connections past their deadline."""
        self.now = now = self.loop.time()
        self._tick_date()
        for conn in [conn for conn in self.conns if conn.deadline < now]:
            conn.expire()
        self._sweeper = self.loop.call_later(self.limits.sweep, self.sweep)

    def send(self, conn: Conn, data: bytes, close: bool) -> None:
        """Write an answer (``b""`` with ``close``: the disconnect fault), after the commit
        of this turn's journal records when the journal is written in batches."""
        if not self.batched:
            conn.write(data, close)
            return
        if not self.outbox:
            self.loop.call_soon(self.commit)
        self.outbox.append((conn, data, close))

    def commit(self) -> None:
        """Write this turn's records in one transaction (a store that fails loses them,
        counted and said once, never the answers), then the answers that waited."""
        if self.batched:
            self.engine.flush()
        outbox, self.outbox = self.outbox, []
        for conn, data, close in outbox:
            conn.write(data, close)

    async def stop(self) -> None:
        """Close idle connections at once; let the others finish their answers (a delay,
        an admin call) for up to ``graceful_timeout``; then close what is left."""
        self.stopping = True
        # The answers of this turn go out first: a request read in the turn of the stop is
        # journaled only with its answer sent.
        self.commit()
        for conn in list(self.conns):
            conn.stop()
        deadline = self.loop.time() + self.limits.graceful_timeout
        while self.conns and self.loop.time() < deadline:
            await asyncio.sleep(0.02)
        for conn in list(self.conns):
            conn.abort()
        if self._sweeper is not None:
            self._sweeper.cancel()
        self.commit()
        self.pool.shutdown(wait=True, cancel_futures=True)
