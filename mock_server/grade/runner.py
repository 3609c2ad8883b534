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
from ..serve.child_process import MockProcess
from .card import FAIL, NOT_APPLICABLE, PASS, Card, Row
from .checks import GRACE, Check, Seen, all_checks
from .client import ClientProcess, LoadError, client_environment
from .trickle import TricklingSite

JOBS = 4
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


def grade(target: str, *, python: str = sys.executable, jobs: int = JOBS,
          extra: dict[str, Any] | None = None,
          checks: list[Check] | None = None) -> Card:
    """The report card of ``target``; ``LoadError`` when it cannot be loaded."""
    checks = all_checks() if checks is None else checks
    extra = extra or {}
    started = time.monotonic()
    rows: list[Row | None] = [None] * len(checks)
    with tempfile.TemporaryDirectory(prefix="aichat-grade-") as folder, \
            TricklingSite() as site:
        first = Worker(target, python, os.path.join(folder, "0"))
        workers = [first]
        try:
            probe = rows[0] = first.run(checks[0], extra, site)
            route = _route(probe)
            pending = list(range(1, len(checks)))
            lock = threading.Lock()

            def work(worker: Worker | None, index: int) -> None:
                if worker is None:
                    try:
                        worker = Worker(target, python, os.path.join(folder, str(index)))
                    except (LoadError, RuntimeError):
                        return  # the workers that did start do the checks
                    with lock:
                        workers.append(worker)
                while True:
                    with lock:
                        if not pending:
                            return
                        at = pending.pop(0)
                    check = checks[at]
                    reason = _not_applicable(check, route)
                    try:
                        row = (Row(key=check.key, group=check.group, title=check.title,
                                   verdict=NOT_APPLICABLE, seen=reason) if reason is not None
                               else worker.run(check, extra, site))
                    except Exception as error:  # the mock's admin API failing: say so, go on
                        problem = f"the grader could not run this check: {error}"
                        row = Row(key=check.key, group=check.group, title=check.title,
                                  verdict=FAIL, seen=problem, problems=[problem])
                    rows[at] = row

            threads = [threading.Thread(target=work, args=(first if index == 0 else None,
                                                           index), daemon=True)
                       for index in range(max(1, min(jobs, len(pending))))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            for worker in workers:
                worker.close()
    hello = first.client.hello
    return Card(target=target, name=str(hello.get("name")), shape=str(hello.get("shape")),
                python=str(hello.get("python")), route=route, intercept=first.intercept,
                rows=[row for row in rows if row is not None],
                seconds=round(time.monotonic() - started, 1))
