"""Run a server command as a child process: the ``aichat-mock`` command (``MockProcess``) for
the demos, for test fixtures, for any program that wants a live mock on a free port; or any
other command that prints its URL once it listens (``ChildServer``)."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Sequence
from types import TracebackType
from typing import IO, TypeVar

from .remote import RemoteMock

#: The start of the first line the ``aichat-mock`` command prints on standard output, before
#: its URL: what a program running it waits for.
LISTENING = "aichat-mock listening on"

START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0

_Server = TypeVar("_Server", bound="ChildServer")


class ChildServer:
    """``command`` in a child process, its URL read from the first line of its standard output
    that starts with ``listening``.

    Use it as a context manager, or call ``stop()``; its output is drained all along (a full
    pipe would stall the server) and the last lines are kept for error messages.
    """

    def __init__(self, command: Sequence[str], *, listening: str, name: str = "the server",
                 start_timeout: float = START_TIMEOUT,
                 env: dict[str, str] | None = None) -> None:
        self.name = name
        self._listening = listening
        self.output: deque[str] = deque(maxlen=200)
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, encoding="utf-8", errors="replace", env=env)
        assert self.process.stdout is not None and self.process.stderr is not None
        self._drains = [
            threading.Thread(target=self._drain, args=(self.process.stdout, True), daemon=True),
            threading.Thread(target=self._drain, args=(self.process.stderr, False), daemon=True),
        ]
        for thread in self._drains:
            thread.start()
        self.url = self._wait_for_url(start_timeout)
        self.returncode: int | None = None

    def _drain(self, stream: IO[str], is_stdout: bool) -> None:
        for line in stream:
            self.output.append(line.rstrip("\n"))
            if is_stdout:
                self._lines.put(line)
        if is_stdout:
            self._lines.put(None)

    def _wait_for_url(self, timeout: float) -> str:
        while True:
            try:
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                self.stop()
                raise RuntimeError(f"{self.name} printed no URL within {timeout:g} s; "
                                   f"its output: {self.tail()}") from None
            if line is None:
                code = self.process.wait()
                raise RuntimeError(f"{self.name} exited with status {code} before "
                                   f"listening; its output: {self.tail()}")
            if line.startswith(self._listening):
                return line[len(self._listening):].strip()

    def tail(self, lines: int = 20) -> str:
        return " | ".join(list(self.output)[-lines:]) or "(none)"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        """Send ``sig`` (SIGTERM by default), wait for the exit and return its status."""
        if self.process.poll() is None:
            if os.name == "nt":
                self.process.terminate()
            else:
                self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for thread in self._drains:
            thread.join(timeout=5)
        self.returncode = self.process.returncode
        return self.returncode

    def __enter__(self: _Server) -> _Server:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()


class MockProcess(ChildServer):
    """``python -m mock_server --port 0 ...`` in a child process; ``mock`` is the client of
    its admin API (a ``RemoteMock``), closed when the process is stopped."""

    def __init__(self, args: Sequence[str] = (), *, python: str = sys.executable,
                 start_timeout: float = START_TIMEOUT, env: dict[str, str] | None = None,
                 command: Sequence[str] | None = None) -> None:
        """``command`` runs instead of ``python -m mock_server`` (an installed
        ``aichat-mock``, say); ``--port 0`` and ``args`` follow it either way."""
        super().__init__([*(command or [python, "-m", "mock_server"]), "--port", "0", *args],
                         listening=LISTENING, name="the mock server",
                         start_timeout=start_timeout, env=env)
        self.mock = RemoteMock(self.url)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        if hasattr(self, "mock"):
            self.mock.close()
        return super().stop(sig, timeout)
