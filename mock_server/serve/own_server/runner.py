"""Running the server: one process, or ``--workers N`` forked processes sharing the listening
socket (and an SQLite store); the signals that stop them; the open-file limit raised for
10,000 connections; uvloop's event loop where it is installed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Flask

from ...core.hosts import HostPolicy
from ...web.app import engine_of
from .limits import Limits
from .protocol import Conn
from .server import Server

if TYPE_CHECKING:
    from ..certificates import Authority

try:
    import resource
except ImportError:  # Windows: no open-file limit to raise
    resource = None  # type: ignore[assignment]

# The open files 10,000 connections need, with some to spare.
WANTED_FILES = 12_000
BACKLOG = 4096


def raise_open_files() -> str | None:
    """Raise the limit of open files to its hard limit (each connection is one); a note to
    show when it stays under what 10,000 connections need, else ``None``."""
    if resource is None:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft != resource.RLIM_INFINITY and soft < WANTED_FILES:
        return (f"aichat-mock: note: open files are limited to {soft} (hard limit {hard}): "
                f"fewer than 10,000 connections can be held at once; raise it with "
                f"ulimit -n {WANTED_FILES}")
    return None


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop where it is installed (not on Windows), else asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


@dataclass(frozen=True)
class Setting:
    """What every process of one mock serves by: the hosts, the limits, the CA of
    ``--intercept`` (None: no proxy)."""

    hosts: HostPolicy
    limits: Limits
    authority: Authority | None


def serve(app: Flask, sock: socket.socket, workers: int, config: dict[str, Any],
          announce: Callable[[], None], limits: Limits,
          authority: Authority | None = None) -> None:
    """Serve ``app``'s mock on the bound ``sock`` until SIGTERM or SIGINT, in one process or
    (``workers`` > 1, where ``fork`` exists) in that many sharing the socket and the store;
    with ``authority``, as an intercepting proxy too (``MOCK_INTERCEPT_HOSTS``)."""
    note = raise_open_files()
    if note:
        print(note, file=sys.stderr, flush=True)
    setting = Setting(HostPolicy(config.get("MOCK_ALLOWED_HOSTS") or (),
                                 config.get("MOCK_INTERCEPT_HOSTS") or ()), limits, authority)
    sock.setblocking(False)
    if workers <= 1:
        _serve_one(app, sock, setting, announce, batched=False)
        return
    children: list[int] = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child's coverage is not collected
            code = 0
            try:
                _serve_one(app, sock, setting, None, batched=True)
            except BaseException:
                import traceback
                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        children.append(pid)
    sock.close()

    def forward(signum: int, frame: Any) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    announce()
    for child in children:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(child, 0)
    engine_of(app).close()


def _serve_one(app: Flask, sock: socket.socket, setting: Setting,
               announce: Callable[[], None] | None, *, batched: bool) -> None:
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    engine = engine_of(app)
    if batched:
        engine.batch_writes()
    try:
        loop.run_until_complete(_main(app, sock, setting, announce, batched))
    finally:
        loop.close()
        engine.close()


async def _main(app: Flask, sock: socket.socket, setting: Setting,
                announce: Callable[[], None] | None, batched: bool) -> None:
    loop = asyncio.get_running_loop()
    server = Server(app, setting.hosts, setting.limits, batched=batched,
                    authority=setting.authority)
    listener = await loop.create_server(lambda: Conn(server), sock=sock, backlog=BACKLOG)
    stopped = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stopped.set)
        except (NotImplementedError, RuntimeError):  # Windows' loop: no signal handlers
            signal.signal(sig, lambda signum, frame: loop.call_soon_threadsafe(stopped.set))
    if announce is not None:
        announce()
    await stopped.wait()
    listener.close()
    await server.stop()
