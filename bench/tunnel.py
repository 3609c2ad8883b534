"""The mock at the site's own address (``aichat-mock --intercept``, docs/mock-server.md,
"Unmodified clients") under load, beside its plain port, on the same server:

- kept alive: the seed request on ``CONNECTIONS`` kept-alive connections, each either a TLS
  tunnel to ``chat-gpt.org:443`` through the mock or a plain connection to its port, from the
  same Python load generator (wrk cannot speak through a proxy), rounds interleaved;
- new connections: one after another, a new tunnel (``CONNECT``, a full TLS handshake, one
  request, closed) beside a new plain connection with one request.

Reported for each: requests (or connections) a second, p50/p99, the server's own CPU time per
request (or per connection), and the journal, which must hold every request sent, each
intercepted one marked ``via: proxy``.

    python -m bench.tunnel [--quick] [--seconds 3] [--rounds 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import ssl
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import common
from bench.mock_load import cpu_seconds

CONNECTIONS = 8
SITE_HOST = "chat-gpt.org"
NEW_CONNECTIONS = 1_000
QUICK_NEW_CONNECTIONS = 20
QUICK_REQUESTS = 200
MODES = ("plain", "tunnel")


@contextlib.contextmanager
def intercepting_mock(folder: Path) -> Iterator[tuple[common.Server, ssl.SSLContext]]:
    """The mock with ``--intercept`` and its CA in ``folder``; a client context trusting it."""
    ca_dir = folder / "ca"
    with common.mock_server(["--intercept", "--ca-dir", str(ca_dir)], "mock --intercept") as (
            server):
        yield server, ssl.create_default_context(cafile=str(ca_dir / "ca.pem"))


def connector(server: common.Server, context: ssl.SSLContext,
              mode: str) -> Callable[[], http.client.HTTPConnection]:
    """A new connection of ``mode``: plain to the mock's port, or a TLS tunnel through it."""
    parts = urlsplit(server.url)
    host, port = parts.hostname or "127.0.0.1", parts.port

    def plain() -> http.client.HTTPConnection:
        return http.client.HTTPConnection(host, port, timeout=30)

    def tunnel() -> http.client.HTTPConnection:
        connection = http.client.HTTPSConnection(host, port, timeout=30, context=context)
        connection.set_tunnel(SITE_HOST, 443)
        return connection

    return plain if mode == "plain" else tunnel


def journal_check(url: str, sent: int, mode: str) -> dict[str, Any]:
    """The journal after a run: its total against what was sent, and whether its newest
    entries came the way the run sent them (``via: proxy`` for the tunnel)."""
    recorded = common.settled_total(url, sent)
    page = common.remote(url).journal(limit=50)
    # docs/mock-server.md, the journal: "via" is "proxy" for an intercepted request, null
    # for one sent to the mock's own address.
    want = "proxy" if mode == "tunnel" else None
    via_ok = all(entry.get("via") == want for entry in page["requests"])
    return {"recorded": recorded, "exact": recorded == sent and via_ok}


def kept_alive_run(server: common.Server, context: ssl.SSLContext, mode: str, seconds: float,
                   max_requests: int | None) -> dict[str, Any]:
    common.remote(server.url).admin.clear_requests()
    pids = server.pids()
    before = cpu_seconds(pids)
    load = common.run_python_load(server.url, CONNECTIONS, seconds if max_requests is None
                                  else 60.0, max_requests, connector(server, context, mode))
    cpu = cpu_seconds(pids) - before
    run: dict[str, Any] = load.as_dict()
    run["cpu_us"] = cpu * 1e6 / max(load.completed, 1)
    run.update(journal_check(server.url, load.sent, mode))
    return run


def new_connections_run(server: common.Server, context: ssl.SSLContext, mode: str,
                        count: int) -> dict[str, Any]:
    """``count`` connections one after another, each with one seed request, then closed."""
    common.remote(server.url).admin.clear_requests()
    connect = connector(server, context, mode)
    body, headers = common.seed_body_bytes(), common.contract_headers()
    pids = server.pids()
    before = cpu_seconds(pids)
    times: list[float] = []
    errors = 0
    started = time.perf_counter()
    for _ in range(count):
        begun = time.perf_counter()
        connection = connect()
        try:
            connection.request("POST", common.API_PATH, body=body, headers=headers)
            answer = connection.getresponse()
            answer.read()
            errors += answer.status != 200
        except (OSError, http.client.HTTPException):
            errors += 1
        finally:
            connection.close()
        times.append(time.perf_counter() - begun)
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(pids) - before
    times.sort()
    run: dict[str, Any] = {
        "connections": count, "errors": errors, "per_second": count / elapsed,
        "p50_ms": common.percentile(times, 50) * 1000,
        "p99_ms": common.percentile(times, 99) * 1000, "cpu_us": cpu * 1e6 / count}
    run.update(journal_check(server.url, count, mode))
    return run


def median_of(samples: list[dict[str, Any]], names: tuple[str, ...]) -> dict[str, Any]:
    combined = dict(samples[-1])
    for name in names:
        combined[name] = statistics.median(sample[name] for sample in samples)
    for name in ("sent", "completed", "errors", "non_2xx", "recorded", "connections"):
        if name in combined:
            combined[name] = sum(sample[name] for sample in samples)
    combined["exact"] = all(sample["exact"] for sample in samples)
    combined["rounds"] = len(samples)
    return combined


def run(seconds: float, rounds: int, quick: bool) -> dict[str, Any]:
    """Each round runs every mode once, the order turned each round, on one server."""
    kept: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    new: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    count = QUICK_NEW_CONNECTIONS if quick else NEW_CONNECTIONS
    with common.workdir("aichat-tunnel-") as folder, intercepting_mock(folder) as (
            server, context):
        for round_number in range(rounds):
            order = MODES if round_number % 2 == 0 else MODES[::-1]
            for mode in order:
                kept[mode].append(kept_alive_run(server, context, mode, seconds,
                                                 QUICK_REQUESTS if quick else None))
                new[mode].append(new_connections_run(server, context, mode, count))
    result: dict[str, Any] = {
        "connections": CONNECTIONS, "seconds": seconds, "rounds": rounds,
        "kept_alive": {mode: median_of(kept[mode], ("rps", "p50_ms", "p99_ms", "cpu_us"))
                       for mode in MODES},
        "new": {mode: median_of(new[mode], ("per_second", "p50_ms", "p99_ms", "cpu_us"))
                for mode in MODES}}
    result["journal_ok"] = all(item["exact"] for part in ("kept_alive", "new")
                               for item in result[part].values())
    return result


HEADER = ["load", "through", "per second", "p50 ms", "p99 ms", "server CPU µs", "errors",
          "sent / journaled"]


def rows(result: dict[str, Any]) -> list[list[str]]:
    labels = {"plain": "the plain port", "tunnel": "a TLS tunnel"}
    table = []
    for mode in MODES:
        run = result["kept_alive"][mode]
        table.append([f"{result['connections']} connections kept alive, req/s", labels[mode],
                      f"{run['rps']:,.0f}", f"{run['p50_ms']:.2f}", f"{run['p99_ms']:.2f}",
                      f"{run['cpu_us']:,.0f} a request", str(run["errors"] + run["non_2xx"]),
                      f"{run['sent']:,} / {run['recorded']:,}"])
    for mode in MODES:
        run = result["new"][mode]
        table.append(["a new connection and one request, one after another, conn/s",
                      labels[mode], f"{run['per_second']:,.0f}", f"{run['p50_ms']:.2f}",
                      f"{run['p99_ms']:.2f}", f"{run['cpu_us']:,.0f} a connection",
                      str(run["errors"]), f"{run['connections']:,} / {run['recorded']:,}"])
    return table


def _over(value: float, base: float) -> float | None:
    # A quick run can end inside one tick of the process clock (10 ms): no figure then.
    return value / base if base > 0 else None


def ratios(result: dict[str, Any]) -> dict[str, float | None]:
    """The tunnel's figures over the plain port's: CPU per request kept alive, and CPU per
    new connection (what a new tunnel costs over a new plain connection)."""
    kept, new = result["kept_alive"], result["new"]
    return {"kept_alive_cpu": _over(kept["tunnel"]["cpu_us"], kept["plain"]["cpu_us"]),
            "kept_alive_rate": _over(kept["tunnel"]["rps"], kept["plain"]["rps"]),
            "new_cpu": _over(new["tunnel"]["cpu_us"], new["plain"]["cpu_us"])}


def ratio_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"one round of {QUICK_REQUESTS} requests and "
                             f"{QUICK_NEW_CONNECTIONS} new connections a mode: smoke test")
    parser.add_argument("--seconds", type=float, default=3.0, help="per kept-alive run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, interleaved")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    rounds = 1 if args.quick else args.rounds
    result = run(args.seconds, rounds, args.quick)
    common.print_table(f"the mock through a TLS tunnel and on its plain port (Python load, "
                       f"median of {rounds} rounds)", HEADER, rows(result))
    found = ratios(result)
    print(f"tunnel / plain: CPU per request kept alive {ratio_text(found['kept_alive_cpu'])}, "
          f"rate {ratio_text(found['kept_alive_rate'])}; CPU per new connection "
          f"{ratio_text(found['new_cpu'])}")
    print(f"journal exact after every run: {'yes' if result['journal_ok'] else 'NO'}")
    common.write_json(args.json, result)
    return 0 if result["journal_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
