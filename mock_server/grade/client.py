"""The graded client in a child process of its own (``harness.py`` in the client's Python): a
call that outruns its bound, or a client that crashes, fails that check and the process is
started anew for the next; the grader goes on."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import threading
from collections import deque
from pathlib import Path
from typing import IO, Any

from .outcome import Outcome

HARNESS = Path(__file__).with_name("harness.py")
# How long the client may take to import (an old g4f with aiohttp and curl_cffi, say).
LOAD_TIMEOUT = 60.0
# The variables that would send the client elsewhere than the grader says.
AMBIENT = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy",
           "all_proxy", "no_proxy", "AICHAT_BASE_URL", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE",
           "CURL_CA_BUNDLE")


class LoadError(Exception):
    """The target cannot be loaded; the message is one line saying why."""


def client_environment(proxy: str, ca_file: str | None) -> dict[str, str]:
    """The environment of a client of the site at ``proxy``: the intercept (docs/mock-server.md)
    for HTTPS, loopback straight, the mock's CA trusted."""
    env = {name: value for name, value in os.environ.items() if name not in AMBIENT}
    for name in ("HTTPS_PROXY", "https_proxy"):
        env[name] = proxy
    for name in ("NO_PROXY", "no_proxy"):
        env[name] = "127.0.0.1,localhost,::1"
    if ca_file is not None:
        for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"):
            env[name] = ca_file
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


class ClientProcess:
    """``python harness.py TARGET`` with ``env``; ``hello`` is what it said of the target."""

    def __init__(self, python: str, target: str, env: dict[str, str]) -> None:
        self.python, self.target, self.env = python, target, env
        self.errors: deque[str] = deque(maxlen=20)
        self.process: subprocess.Popen[str] | None = None
        self.hello: dict[str, Any] = {}
        self._lines: queue.Queue[str | None] = queue.Queue()

    def start(self) -> dict[str, Any]:
        self._lines = queue.Queue()
        try:
            self.process = subprocess.Popen(
                [self.python, str(HARNESS), self.target], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
                errors="replace", env=self.env, start_new_session=True)
        except OSError as error:
            raise LoadError(f"cannot run {self.python}: {error.strerror or error}") from None
        assert self.process.stdout is not None and self.process.stderr is not None
        for stream, lines in ((self.process.stdout, self._lines), (self.process.stderr, None)):
            threading.Thread(target=self._drain, args=(stream, lines), daemon=True).start()
        hello = self._next(LOAD_TIMEOUT)
        if hello is None:
            code = self.process.poll()
            self.stop()
            raise LoadError(f"{self.target} did not load within {LOAD_TIMEOUT:g} s"
                            if code is None else
                            f"the client's Python exited ({code}): {self.tail()}")
        if not hello.get("loaded"):
            self.stop()
            raise LoadError(f"cannot load {self.target}: {hello.get('error')}")
        self.hello = hello
        return hello

    def _drain(self, stream: IO[str], lines: queue.Queue[str | None] | None) -> None:
        for line in stream:
            if lines is not None:
                lines.put(line)
            else:
                self.errors.append(line.rstrip("\n"))
        if lines is not None:
            lines.put(None)

    def _next(self, timeout: float) -> dict[str, Any] | None:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            return None
        if line is None:
            assert self.process is not None
            self.process.wait()
            return None
        report: dict[str, Any] = json.loads(line)
        return report

    def tail(self) -> str:
        return " | ".join(list(self.errors)[-3:]) or "(nothing on standard error)"

    def call(self, messages: Any, kwargs: dict[str, Any], named: dict[str, Any],
             bound: float) -> Outcome:
        """One call; ``named`` are passed only where the callable names them (``proxy``)."""
        if self.process is None or self.process.poll() is not None:
            self.start()
        assert self.process is not None and self.process.stdin is not None
        request = {"messages": messages, "kwargs": kwargs, "named": named}
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except OSError:
            pass  # it died: the read below says how
        report = self._next(bound)
        if report is not None:
            return Outcome.of(report)
        if self.process.poll() is None:
            self.stop()
            return Outcome(missing=f"did not return within {bound:g} s")
        code = self.process.returncode
        self.process = None
        return Outcome(missing=f"the client's process died (exit {code}): {self.tail()}")

    def stop(self) -> None:
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):  # a pipe the child broke
                    stream.close()
        self.process = None
