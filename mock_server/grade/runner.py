"""Grading one client: fresh mocks of the grader's own, the client in child processes, the
checks spread over a few workers so that a card takes well under a minute whatever the client
does (each check is bounded by the client's timeout and a grace)."""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from typing import Any

import requests

from ..core import contract
from ..testing.child_process import MockProcess
from .card import FAIL, NOT_APPLICABLE, PASS, Card, Row
from .checks import GRACE, Check, Seen, all_checks
from .client import ClientProcess, LoadError, client_environment
from .trickle import TricklingSite

# Checks run at once: a client that hangs on every call still gets its card in well under a
# minute (each check waits its timeout and a grace).
JOBS = 8
INTERCEPT = "--intercept"
CA_ROUTE = "/__mock__/ca.pem"


def start_mock(ca_dir: str) -> tuple[MockProcess, bool]:
    """A fresh mock, with the intercept (docs/mock-server.md) when the mock has it."""
    try:
        return MockProcess([INTERCEPT, "--ca-dir", ca_dir]), True
    except RuntimeError as error:
        if INTERCEPT not in str(error):
            raise
    return MockProcess(), False


def fetch_ca(url: str, folder: str) -> str:
    """The mock's CA certificate, saved for the client's environment."""
    with requests.Session() as session:
        session.trust_env = False
        answer = session.get(url + CA_ROUTE, timeout=30)
    answer.raise_for_status()
    path = os.path.join(folder, "ca.pem")
    with open(path, "wb") as file:
        file.write(answer.content)
    return path


class Worker:
    """A mock of its own and the client in a child process that reaches it."""

    def __init__(self, target: str, python: str, folder: str) -> None:
        self.mock_process, self.intercept = start_mock(folder)
        try:
            ca_file = fetch_ca(self.mock_process.url, folder) if self.intercept else None
            self.client = ClientProcess(python, target,
                                        client_environment(self.mock_process.url, ca_file))
            self.client.start()
        except BaseException:
            self.mock_process.stop()
            raise

    def run(self, check: Check, extra: dict[str, Any], site: TricklingSite) -> Row:
        mock = self.mock_process.mock
        mock.reset()
        if check.replies:
            mock.queue(*check.replies)
        trickle = check.site == "trickle"
        if trickle:
            site.reset()
        base_url = site.url if trickle else self.mock_process.url
        kwargs = {**extra, **check.kwargs, "base_url": base_url}
        outcome = self.client.call(check.messages, kwargs, {"proxy": self.mock_process.url},
                                   check.bound)
        if outcome.missing is not None and outcome.missing.startswith("did not return"):
            outcome.missing += f" (its timeout {check.timeout:g} s and {GRACE:g} s of grace)"
        # Plain JSON data here: the journal's entries with the keys of any mock version (the
        # intercept's "via" among them).
        entries: list[dict[str, Any]] = [
            dict(entry) for entry in mock.requests if entry.get("path") == contract.API_PATH]
        seen = Seen(outcome, entries, site.requests if trickle else 0)
        problems, summary = check.judged(seen)
        via = next((str(entry["via"]) for entry in entries if entry.get("via")), None)
        return Row(key=check.key, group=check.group, title=check.title,
                   verdict=FAIL if problems else PASS, seen=summary, problems=problems,
                   elapsed=outcome.elapsed, requests=seen.site_requests or len(entries),
                   via=via if entries else None)

    def close(self) -> None:
        self.client.stop()
        self.mock_process.stop()


def _route(row: Row) -> str:
    if not row.requests:
        return "no mock (nothing reached it)"
    return "the intercept" if row.via == "proxy" else "base_url"


def _not_applicable(check: Check, route: str) -> str | None:
    if check.site == "trickle" and route != "base_url":
        return ("needs a base_url: the client reaches the site only through the intercept, "
                "whose answers are the mock's, and none of those trickles")
    return None


class _Grading:
    """One card's checks over ``jobs`` workers. The first check, on the first worker, tells
    the route the client takes; the checks that depend on it (the trickle) wait for it and are
    taken last, while the other workers start and run the rest."""

    def __init__(self, target: str, python: str, folder: str, extra: dict[str, Any],
                 site: TricklingSite, checks: list[Check]) -> None:
        self.target, self.python, self.folder = target, python, folder
        self.extra, self.site, self.checks = extra, site, checks
        self.first = Worker(target, python, os.path.join(folder, "0"))
        self.workers = [self.first]
        self.rows: list[Row | None] = [None] * len(checks)
        self.pending = sorted(range(1, len(checks)), key=lambda at: checks[at].site == "trickle")
        self.route = ""
        self.routed = threading.Event()
        self.lock = threading.Lock()

    def go(self, jobs: int) -> None:
        threads = [threading.Thread(target=self._work, args=(index,), daemon=True)
                   for index in range(max(1, min(jobs, len(self.checks))))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _work(self, index: int) -> None:
        if index == 0:
            worker = self.first
            try:
                probe = self.rows[0] = self._run(worker, 0)
                self.route = _route(probe)
            finally:
                self.routed.set()
        else:
            try:
                worker = Worker(self.target, self.python, os.path.join(self.folder, str(index)))
            except (LoadError, RuntimeError):
                return  # the workers that did start do the checks
            with self.lock:
                self.workers.append(worker)
        while True:
            with self.lock:
                if not self.pending:
                    return
                at = self.pending.pop(0)
            self.rows[at] = self._run(worker, at)

    def _run(self, worker: Worker, at: int) -> Row:
        check = self.checks[at]
        if check.site == "trickle":
            self.routed.wait()
            reason = _not_applicable(check, self.route)
            if reason is not None:
                return Row(key=check.key, group=check.group, title=check.title,
                           verdict=NOT_APPLICABLE, seen=reason)
        try:
            return worker.run(check, self.extra, self.site)
        except Exception as error:  # the mock's admin API failing: say so, go on
            problem = f"the grader could not run this check: {error}"
            return Row(key=check.key, group=check.group, title=check.title, verdict=FAIL,
                       seen=problem, problems=[problem])

    def close(self) -> None:
        for worker in self.workers:
            worker.close()


def grade(target: str, *, python: str = sys.executable, jobs: int = JOBS,
          extra: dict[str, Any] | None = None,
          checks: list[Check] | None = None) -> Card:
    """The report card of ``target``; ``LoadError`` when it cannot be loaded."""
    checks = all_checks() if checks is None else checks
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="aichat-grade-") as folder, \
            TricklingSite() as site:
        grading = _Grading(target, python, folder, extra or {}, site, checks)
        try:
            grading.go(jobs)
        finally:
            grading.close()
    hello = grading.first.client.hello
    return Card(target=target, name=str(hello.get("name")), shape=str(hello.get("shape")),
                python=str(hello.get("python")), route=grading.route,
                intercept=grading.first.intercept,
                rows=[row for row in grading.rows if row is not None],
                seconds=round(time.monotonic() - started, 1))
