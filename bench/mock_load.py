"""Mock load benchmark: requests/s, p50 and p99 of ``POST /api/text`` with the seed request
and the provider's 13 headers, at 1 and at 16 concurrent connections, for

- the mock with its journal on (the default), and with it off (``--no-journal``);
- the mock with several worker processes, when this checkout has ``--workers``;
- a minimal Flask echo on the mock's own default server, and on gunicorn with 2 sync workers;
- Stoplight Prism serving ``contract/openapi.json`` (when npm could install it).

Load comes from wrk (``bench/wrk_post.lua``, which counts every request it writes), or, when
wrk is missing, from a bounded Python load generator. After each run against a journaling mock
the journal's total must equal the requests sent.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import common, prism
from mock_server.cli import bind

CONNECTIONS = (1, 16)
QUICK_REQUESTS = 300


class Unavailable(Exception):
    """The subject cannot run here; the message says why."""


@dataclass(frozen=True)
class Subject:
    key: str
    label: str
    start: Callable[[], contextlib.AbstractContextManager[common.Server]]
    journaled: bool


@contextlib.contextmanager
def _mock(args: list[str]) -> Iterator[common.Server]:
    with common.mock_server(args) as server:
        yield server


@contextlib.contextmanager
def _echo_same_server() -> Iterator[common.Server]:
    with common.Server("echo", [sys.executable, "-m", "bench.echo_app"]) as server:
        yield server


@contextlib.contextmanager
def _echo_gunicorn_sync() -> Iterator[common.Server]:
    # The same listening socket setup as the mock's (TCP_NODELAY, backlog), handed over.
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    command = [sys.executable, "-m", "gunicorn", "--workers", "2", "--worker-class", "sync",
               "--bind", f"fd://{sock.fileno()}", "--log-level", "warning",
               "bench.echo_app:app"]
    try:
        server = common.Server("gunicorn 2 sync", command, url=f"http://127.0.0.1:{port}",
                               pass_fds=[sock.fileno()])
    finally:
        sock.close()
    with server:
        yield server


@contextlib.contextmanager
def _prism() -> Iterator[common.Server]:
    ok, detail = prism.available()
    if not ok:
        raise Unavailable(detail)
    port = common.free_port()
    with common.Server("prism", prism.command(port), url=f"http://127.0.0.1:{port}") as server:
        yield server


def subjects(quick: bool) -> list[Subject]:
    options = common.mock_options()
    found = [Subject("mock", "mock /api/text, journal on (default)", lambda: _mock([]), True)]
    if "--no-journal" in options and not quick:
        found.append(Subject("mock_off", "mock /api/text, journal off (--no-journal)",
                             lambda: _mock(["--no-journal"]), False))
    if "--workers" in options and not quick:
        # The other side of the default: one process with the memory store, or two sharing
        # the SQLite store.
        workers = 1 if default_workers() > 1 else 2
        label = ("1 worker (memory store)" if workers == 1
                 else "2 workers (SQLite store)")
        found.append(Subject("mock_alt", f"mock /api/text, journal on, --workers {workers}: "
                                         f"{label}",
                             lambda: _mock(["--workers", str(workers)]), True))
    found.append(Subject("echo_same", "minimal Flask echo, the mock's server",
                         _echo_same_server, False))
    if not quick:
        found.append(Subject("echo_gunicorn", "minimal Flask echo, gunicorn 2 sync workers",
                             _echo_gunicorn_sync, False))
    if not quick:
        found.append(Subject("prism", "Stoplight Prism on contract/openapi.json", _prism, False))
    return found


def default_workers() -> int:
    from mock_server.cli import build_parser

    workers: int = getattr(build_parser().parse_args([]), "workers", 1)
    return workers


def probe(url: str) -> tuple[int, str]:
    """One seed request: the status and the start of the answer."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port,
                                            timeout=30)
    try:
        connection.request("POST", common.API_PATH, body=common.seed_body_bytes(),
                           headers=common.contract_headers())
        response = connection.getresponse()
        return response.status, response.read()[:120].decode("utf-8", "replace")
    finally:
        connection.close()


def measure(subject: Subject, seconds: float, warmup: float, use_wrk: bool,
            workdir: Path, connection_counts: tuple[int, ...],
            max_requests: int | None = None) -> dict[str, Any]:
    """``max_requests``: use the Python load generator with this many requests instead."""
    result: dict[str, Any] = {"label": subject.label, "runs": {}}
    try:
        with subject.start() as server:
            result["server"] = server.tail() if subject.key.startswith("mock") else ""
            status, answer = probe(server.url)
            result["probe"] = {"status": status, "answer": answer}
            if status != 200:
                result["note"] = f"answers the seed request with {status}: {answer[:80]}"
            if warmup:
                common.run_load(server.url, 16, warmup, workdir, use_wrk)
                if subject.key.startswith("mock"):
                    # Requests still in flight when wrk stopped must land before the clear.
                    common.settled_total(server.url)
            for connections in connection_counts:
                if subject.journaled or subject.key.startswith("mock"):
                    common.admin(server.url, "DELETE", "/requests")
                if max_requests is not None:
                    load = common.run_python_load(server.url, connections, 60.0, max_requests)
                else:
                    load = common.run_load(server.url, connections, seconds, workdir, use_wrk)
                run: dict[str, Any] = load.as_dict()
                if subject.key.startswith("mock"):
                    run["recorded"] = common.settled_total(
                        server.url, load.sent if subject.journaled else None)
                result["runs"][str(connections)] = run
            result["rss_bytes"] = server.rss_bytes()
    except Unavailable as error:
        result["unavailable"] = str(error)
    return result


def run(seconds: float, warmup: float, quick: bool, use_wrk: bool) -> dict[str, Any]:
    prism_ok, prism_detail = prism.available()
    found = subjects(quick)
    results: dict[str, Any] = {}
    with common.workdir("aichat-bench-") as workdir:
        for subject in found:
            started = time.monotonic()
            # A smoke run only checks that every subject starts, serves and counts: wrk (and
            # its counting script) on the mock, a few hundred requests on the others.
            counts = (16,) if quick else CONNECTIONS
            budget = QUICK_REQUESTS if quick and subject.key != "mock" else None
            results[subject.key] = measure(subject, seconds, warmup, use_wrk, workdir, counts,
                                           budget)
            results[subject.key]["wall_s"] = round(time.monotonic() - started, 1)
    options = common.mock_options()
    missing = [option for option in ("--no-journal", "--workers") if option not in options]
    return {
        "tool": "wrk" if use_wrk else "python",
        "seconds": seconds,
        "subjects": results,
        "prism": {"available": prism_ok, "detail": "skipped (--quick)" if quick
                  else prism_detail},
        "missing_options": missing,
        "journal_ok": journal_ok(results),
    }


def journal_ok(results: dict[str, Any]) -> bool:
    """Every run against a journaling mock recorded exactly the requests sent."""
    for key, result in results.items():
        if key in ("mock", "mock_alt"):
            for run in result.get("runs", {}).values():
                if run["recorded"] != run["sent"]:
                    return False
    return True


def rows(result: dict[str, Any]) -> list[list[str]]:
    table = []
    for item in result["subjects"].values():
        if "unavailable" in item:
            table.append([item["label"], "-", "not available", "-", "-", "-",
                          item["unavailable"]])
            continue
        for connections, run in item["runs"].items():
            journal = (f"{run['sent']:,} / {run['recorded']:,}" if "recorded" in run
                       else f"{run['sent']:,} / n/a")
            table.append([item["label"], connections, f"{run['rps']:,.0f}",
                          f"{run['p50_ms']:.2f}", f"{run['p99_ms']:.2f}",
                          str(run["errors"] + run["non_2xx"]), journal])
    return table


HEADER = ["server", "conns", "req/s", "p50 ms", "p99 ms", "errors", "sent / journaled"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="one 1-second run per server, no Prism, no workers: smoke test")
    parser.add_argument("--seconds", type=float, default=8.0, help="per run")
    parser.add_argument("--python-load", action="store_true",
                        help="use the Python load generator even where wrk is installed")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    use_wrk = common.wrk_path() is not None and not args.python_load
    seconds, warmup = (1.0, 0.0) if args.quick else (args.seconds, 2.0)
    result = run(seconds, warmup, args.quick, use_wrk)
    common.print_table(f"mock load ({result['tool']}, {seconds:g} s per run)", HEADER,
                       rows(result))
    print(f"journal exact after every run: {'yes' if result['journal_ok'] else 'NO'}")
    common.write_json(args.json, result)
    print(json.dumps({"journal_ok": result["journal_ok"]}))
    return 0 if result["journal_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
