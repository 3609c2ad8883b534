"""Mock load benchmark: requests/s, p50 and p99 of ``POST /api/text`` with the seed request
and the provider's 13 headers, at 1, 16 and 64 concurrent connections, for

- the mock with its journal on (the default), and with it off (``--no-journal``);
- the mock with 100 standing replies queued (``--replies``), none of which holds for the seed
  request, so that each request goes through the selection of every one;
- the mock with two worker processes sharing the SQLite store (``--workers 2``);
- the mock on gunicorn with 2 gevent workers and the SQLite store (the default before the
  mock had a server of its own);
- a minimal Flask echo on gunicorn with 2 sync workers;
- WireMock 3 (standalone jar from npm, journal on, warmed up 30 s) and Stoplight Prism 5
  serving ``contract/openapi.json`` (when they could be installed).

Load comes from wrk (``bench/wrk_post.lua``, which counts every request it writes), or, when
wrk is missing, from a bounded Python load generator. After each run against a journaling
server (the mock, WireMock) its journal's total must equal the requests sent. The CPU time the
server's processes spent per request is measured too.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import common, prism, wiremock
from mock_server.serve.cli import bind

CONNECTIONS = (1, 16, 64)
QUICK_REQUESTS = 300


class Unavailable(Exception):
    """The subject cannot run here; the message says why."""


@dataclass(frozen=True)
class Subject:
    key: str
    label: str
    start: Callable[[], contextlib.AbstractContextManager[common.Server]]
    journaled: bool
    # The connection counts it is measured at (the peers of one ratio only at 16).
    connections: tuple[int, ...] = CONNECTIONS
    # "mock" or "wiremock": whose journal is cleared and counted; None: no journal.
    kind: str | None = "mock"
    warmup: float | None = None  # seconds; None: the run's own
    # A new question in every request: none is the one before it again (the mock answers a
    # request sent again from what it kept: docs/internals.md, "Answers given again").
    distinct: bool = False


@contextlib.contextmanager
def _mock(args: list[str]) -> Iterator[common.Server]:
    with common.mock_server(args) as server:
        yield server


# 100 standing replies, 20 of each kind of match, none holding for the seed request.
STANDING_REPLIES = 100


def standing_replies(count: int = STANDING_REPLIES) -> list[dict[str, Any]]:
    kinds = [lambda number: {"last_turn": f"question {number}"},
             lambda number: {"message_contains": f"topic {number}"},
             lambda number: {"message_regex": rf"\bitem {number}\b"},
             lambda number: {"params": {"temperature": 0.25 + number / 1000}},
             lambda number: {"headers": {"x-test": f"{number}"}}]
    return [{"message": f"reply {number}", "times": None, "match": kinds[number % 5](number)}
            for number in range(count)]


@contextlib.contextmanager
def _mock_with_replies() -> Iterator[common.Server]:
    with tempfile.TemporaryDirectory(prefix="aichat-bench-") as folder:
        path = Path(folder) / "replies.json"
        path.write_text(json.dumps(standing_replies()), encoding="utf-8")
        with common.mock_server(["--replies", str(path)]) as server:
            yield server


@contextlib.contextmanager
def _wiremock() -> Iterator[common.Server]:
    ok, detail = wiremock.available()
    if not ok:
        raise Unavailable(detail)
    port = common.free_port()
    with tempfile.TemporaryDirectory(prefix="aichat-wiremock-") as folder, \
            common.Server("wiremock", wiremock.command(port, wiremock.root_dir(Path(folder))),
                          url=f"http://127.0.0.1:{port}") as server:
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
    found = [Subject("mock", "mock /api/text, journal on (default)", lambda: _mock([]), True)]
    if quick:
        return found
    at16 = (16,)
    workers = 1 if default_workers() > 1 else 2
    found += [
        Subject("mock_off", "mock /api/text, journal off (--no-journal)",
                lambda: _mock(["--no-journal"]), False, at16),
        Subject("mock_distinct", "mock /api/text, journal on, a new question in every request",
                lambda: _mock([]), True, (1, 16), distinct=True),
        # Beside the new questions' run: with replies queued, no answer is given again.
        Subject("mock_replies", f"mock /api/text, journal on, {STANDING_REPLIES} standing "
                                f"replies queued, none holding, a new question in every request",
                _mock_with_replies, True, at16, distinct=True),
        # The other side of the default: two processes sharing the SQLite store, or one.
        Subject("mock_alt", f"mock /api/text, journal on, --workers {workers} "
                            f"({'SQLite' if workers > 1 else 'memory'} store)",
                lambda: _mock(["--workers", str(workers)]), True),
        Subject("mock_gevent", "mock /api/text, journal on, --server gevent --workers 2 "
                               "(SQLite store; the former default)",
                lambda: _mock(["--server", "gevent", "--workers", "2"]), True, (1, 16)),
        Subject("echo_gunicorn", "minimal Flask echo, gunicorn 2 sync workers",
                _echo_gunicorn_sync, False, at16, None),
        Subject("wiremock", "WireMock 3 standalone (journal on, warmed up 30 s)", _wiremock,
                True, kind="wiremock", warmup=wiremock.WARMUP_S),
        Subject("prism", "Stoplight Prism on contract/openapi.json", _prism, False, kind=None),
    ]
    return found


def default_workers() -> int:
    from mock_server.serve.cli import build_parser

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


def prepare(subject: Subject, server: common.Server, warmup: float, use_wrk: bool,
            workdir: Path) -> dict[str, Any]:
    """Probe a started server with one seed request, then warm it up."""
    result: dict[str, Any] = {"label": subject.label, "runs": {}, "samples": {}}
    result["server"] = server.tail() if subject.kind == "mock" else ""
    status, answer = probe(server.url)
    result["probe"] = {"status": status, "answer": answer}
    if status != 200:
        result["note"] = f"answers the seed request with {status}: {answer[:80]}"
    if subject.warmup is not None and warmup:
        warmup = subject.warmup
    while warmup > 0:  # in runs of at most 10 s: wrk's duration is whole seconds
        common.run_load(server.url, 16, min(warmup, 10.0), workdir, use_wrk)
        warmup -= 10.0
    if subject.kind == "mock":
        # Requests still in flight when wrk stopped must land before the next clear.
        common.settled_total(server.url)
    return result


def _clear(subject: Subject, url: str) -> None:
    if subject.kind == "mock":
        common.remote(url).admin.clear_requests()
    elif subject.kind == "wiremock":
        wiremock.clear_journal(url)


def _total(subject: Subject, url: str, expected: int | None) -> int:
    if subject.kind == "wiremock":
        return common.settle(lambda: wiremock.journal_total(url), expected)
    return common.settled_total(url, expected)


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time of these processes so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def one_run(subject: Subject, server: common.Server, connections: int, seconds: float,
            use_wrk: bool, workdir: Path, max_requests: int | None) -> dict[str, Any]:
    """One load run; ``max_requests``: the Python load generator with that many requests."""
    _clear(subject, server.url)
    pids = server.pids()
    cpu_before = cpu_seconds(pids)
    if max_requests is not None:
        load = common.run_python_load(server.url, connections, 60.0, max_requests)
    else:
        load = common.run_load(server.url, connections, seconds, workdir, use_wrk,
                               subject.distinct)
    cpu = cpu_seconds(pids) - cpu_before
    run: dict[str, Any] = load.as_dict()
    run["cpu_us"] = cpu * 1e6 / max(load.completed, 1)
    if subject.kind is not None:
        run["recorded"] = _total(subject, server.url, load.sent if subject.journaled else None)
        run["exact"] = run["recorded"] == run["sent"] if subject.journaled else None
    return run


def combine(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """The rounds of one server and connection count: medians of the rates and percentiles,
    sums of the counts."""
    combined = dict(samples[0])
    for name in ("rps", "p50_ms", "p99_ms", "cpu_us"):
        combined[name] = statistics.median(sample[name] for sample in samples)
    for name in ("seconds", "sent", "completed", "errors", "non_2xx", "recorded"):
        if name in combined:
            combined[name] = sum(sample[name] for sample in samples)
    if "exact" in combined and combined["exact"] is not None:
        combined["exact"] = all(sample["exact"] for sample in samples)
    combined["rounds"] = len(samples)
    return combined


def run(seconds: float, warmup: float, quick: bool, use_wrk: bool,
        rounds: int = 1) -> dict[str, Any]:
    """Every server is started first, then the runs go round them ``rounds`` times in a
    rotating order, so that a change of the machine's load touches them all alike."""
    prism_ok, prism_detail = prism.available()
    wiremock_ok, wiremock_detail = wiremock.available()
    results: dict[str, Any] = {}
    live: dict[str, tuple[Subject, common.Server]] = {}
    counts = (16,) if quick else CONNECTIONS
    with contextlib.ExitStack() as stack, common.workdir("aichat-bench-") as workdir:
        for subject in subjects(quick):
            try:
                server = stack.enter_context(subject.start())
            except Unavailable as error:
                results[subject.key] = {"label": subject.label, "runs": {},
                                        "unavailable": str(error)}
                continue
            results[subject.key] = prepare(subject, server, warmup, use_wrk, workdir)
            live[subject.key] = (subject, server)
        keys = list(live)
        for number in range(rounds):
            for key in keys[number % len(keys):] + keys[:number % len(keys)]:
                subject, server = live[key]
                # A smoke run only checks that every server starts, serves and counts: wrk
                # (and its counting script) on the mock, a few hundred requests elsewhere.
                budget = QUICK_REQUESTS if quick and key != "mock" else None
                for connections in [count for count in counts
                                    if count in subject.connections]:
                    results[key]["samples"].setdefault(str(connections), []).append(
                        one_run(subject, server, connections, seconds, use_wrk, workdir,
                                budget))
        for key, (subject, server) in live.items():
            results[key]["rss_bytes"] = server.rss_bytes()
            if subject.kind == "mock":  # its notes on standard error, all read by now
                results[key]["server"] = server.tail()
            results[key]["runs"] = {connections: combine(samples) for connections, samples
                                    in results[key]["samples"].items()}
    options = common.mock_options()
    missing = [option for option in ("--no-journal", "--workers") if option not in options]
    return {
        "tool": "wrk" if use_wrk else "python",
        "seconds": seconds,
        "rounds": rounds,
        "subjects": results,
        "prism": {"available": prism_ok, "detail": "skipped (--quick)" if quick
                  else prism_detail},
        "wiremock": {"available": wiremock_ok, "detail": "skipped (--quick)" if quick
                     else wiremock_detail, "java": wiremock.java_version()},
        "missing_options": missing,
        "journal_ok": journal_ok(results),
    }


JOURNALED = ("mock", "mock_distinct", "mock_alt", "mock_replies", "mock_gevent", "wiremock")


def journal_ok(results: dict[str, Any]) -> bool:
    """Every run against a journaling mock recorded exactly the requests sent."""
    for key, result in results.items():
        if key in JOURNALED:
            for run in result.get("runs", {}).values():
                if run["recorded"] != run["sent"] or run.get("exact") is False:
                    return False
    return True


def rows(result: dict[str, Any]) -> list[list[str]]:
    table = []
    for item in result["subjects"].values():
        if "unavailable" in item:
            table.append([item["label"], "-", "not available", "-", "-", "-", "-", "-",
                          item["unavailable"]])
            continue
        for connections, run in item["runs"].items():
            journal = (f"{run['sent']:,} / {run['recorded']:,}" if "recorded" in run
                       else f"{run['sent']:,} / n/a")
            table.append([item["label"], str(connections), f"{run['rps']:,.0f}",
                          f"{run['p50_ms']:.2f}", f"{run['p99_ms']:.2f}",
                          f"{run.get('cpu_us', 0):,.0f}", str(run["errors"] + run["non_2xx"]),
                          common.mib(item.get("rss_bytes", 0)), journal])
    return table


HEADER = ["server", "conns", "req/s", "p50 ms", "p99 ms", "server CPU µs/req", "errors",
          "RSS at the end", "sent / journaled"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="one 1-second run per server, no Prism, no workers: smoke test")
    parser.add_argument("--seconds", type=float, default=3.0, help="per run")
    parser.add_argument("--rounds", type=int, default=3, help="runs per server, interleaved")
    parser.add_argument("--python-load", action="store_true",
                        help="use the Python load generator even where wrk is installed")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    use_wrk = common.wrk_path() is not None and not args.python_load
    seconds, warmup, rounds = (1.0, 0.0, 1) if args.quick else (args.seconds, 2.0, args.rounds)
    result = run(seconds, warmup, args.quick, use_wrk, rounds)
    common.print_table(f"mock load ({result['tool']}, median of {rounds} rounds of {seconds:g} "
                       f"s)", HEADER,
                       rows(result))
    print(f"journal exact after every run: {'yes' if result['journal_ok'] else 'NO'}")
    common.write_json(args.json, result)
    print(json.dumps({"journal_ok": result["journal_ok"]}))
    return 0 if result["journal_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
