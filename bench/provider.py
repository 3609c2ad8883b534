"""Provider benchmark: calls per second of four single-threaded clients sending the seed
request to the same running mock, one call at a time.

- ``Aichat._create_completion``: the provider, on its kept-alive per-thread session;
- ``requests.Session().post``: the same request through a bare kept-alive session;
- the 2023 module (``tests/provider/legacy``), which calls ``requests.post`` (a new
  connection) per call;
- ``http.client`` on one kept-alive connection: the floor of a Python client.

The clients take turns in rounds of equal length, so that a change of the machine's load
touches them all alike; each figure is the median over the rounds. The client's own CPU time
per call is reported too: it is what the provider adds, without the server's share.
"""

from __future__ import annotations

import argparse
import http.client
import importlib
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from aichat import Aichat
from bench import common

SITE = "https://chat-gpt.org"
LEGACY_ROOT = common.REPO / "tests" / "provider" / "legacy"
LEGACY_MODULE = "gpt4free_2023.Provider.Providers.Aichat"
EXPECTED_REPLY = "You said: Hello"

Call = Callable[[], str]


class ToTheMock(HTTPAdapter):
    """Sends what the 2023 module addresses to the real site to the mock instead."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base

    def send(self, request: requests.PreparedRequest, *args: Any,
             **kwargs: Any) -> requests.Response:
        assert request.url is not None
        request.url = self.base + request.url[len(SITE):]
        return super().send(request, *args, **kwargs)


@contextmanager
def legacy_module(base: str) -> Iterator[Any]:
    """The 2023 module, unchanged, with every new requests session pointed at the mock."""
    original = requests.Session.__init__

    def init(session: requests.Session) -> None:
        original(session)
        session.mount(SITE + "/", ToTheMock(base))

    setattr(requests.Session, "__init__", init)  # noqa: B010 - a method swapped for a while
    sys.path.insert(0, str(LEGACY_ROOT))
    try:
        yield importlib.import_module(LEGACY_MODULE)
    finally:
        setattr(requests.Session, "__init__", original)  # noqa: B010
        sys.path.remove(str(LEGACY_ROOT))


def clients(base: str, legacy: Any) -> dict[str, Call]:
    """The four ways to make the same call; each returns the reply text."""
    url = base + common.API_PATH
    headers, body = common.contract_headers(), common.seed_body()
    messages = common.SEED_MESSAGES
    session = requests.Session()  # as a user would make it: trust_env and all
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port,
                                            timeout=60)

    def provider() -> str:
        return next(Aichat._create_completion("gpt-3.5-turbo", messages, False, base_url=base))

    def bare_session() -> str:
        response = session.post(url, headers=headers, json=body, timeout=60)
        message: str = response.json()["message"]
        return message

    def legacy_2023() -> str:
        reply: str = next(legacy._create_completion("gpt-3.5-turbo", messages, False))
        return reply

    def floor() -> str:
        connection.request("POST", common.API_PATH, body=json.dumps(body).encode("utf-8"),
                           headers=headers)
        message: str = json.loads(connection.getresponse().read())["message"]
        return message

    return {"provider": provider, "session": bare_session, "legacy": legacy_2023,
            "http_client": floor}


LABELS = {
    "provider": "Aichat._create_completion (keep-alive)",
    "session": "bare requests.Session().post",
    "legacy": "2023 module, requests.post per call",
    "http_client": "http.client, kept-alive connection",
}


def measure(call: Call, seconds: float, max_calls: int) -> tuple[int, float, float]:
    """(calls, wall seconds, client CPU seconds) of calling for ``seconds`` or ``max_calls``."""
    calls = 0
    cpu_start, start = time.thread_time(), time.perf_counter()
    deadline = start + seconds
    while calls < max_calls and time.perf_counter() < deadline:
        reply = call()
        if reply != EXPECTED_REPLY:
            raise RuntimeError(f"unexpected reply {reply!r}")
        calls += 1
    return calls, time.perf_counter() - start, time.thread_time() - cpu_start


def run(rounds: int, seconds: float, max_calls: int, mock_args: list[str]) -> dict[str, Any]:
    # No proxy from the environment may carry loopback traffic.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                 "all_proxy", "AICHAT_BASE_URL"):
        os.environ.pop(name, None)
    samples: dict[str, list[tuple[int, float, float]]] = {name: [] for name in LABELS}
    with common.mock_server(mock_args) as mock, legacy_module(mock.url) as legacy:
        calls = clients(mock.url, legacy)
        for call in calls.values():  # connections opened, code paths warm
            for _ in range(20):
                call()
        order = list(calls)
        for number in range(rounds):
            # Each round in another order, so that no client always follows the same one.
            for name in order[number % len(order):] + order[:number % len(order)]:
                samples[name].append(measure(calls[name], seconds, max_calls))
        recorded = common.settled_total(mock.url)
    sent = sum(count for runs in samples.values() for count, _, _ in runs) + 20 * len(calls)
    results: dict[str, Any] = {}
    for name, runs in samples.items():
        results[name] = {
            "label": LABELS[name],
            "calls": sum(count for count, _, _ in runs),
            "calls_per_s": statistics.median(count / wall for count, wall, _ in runs),
            "cpu_us_per_call": statistics.median(cpu / count * 1e6 for count, _, cpu in runs),
        }
    provider, session = results["provider"], results["session"]
    # Per round, the provider against the session measured next to it; then the median.
    paired = [(session_count / session_wall) / (count / wall) - 1
              for (count, wall, _), (session_count, session_wall, _)
              in zip(samples["provider"], samples["session"], strict=True)]
    return {
        "rounds": rounds,
        "seconds_per_round": seconds,
        "clients": results,
        "overhead": statistics.median(paired),
        "overhead_rounds": [round(value, 4) for value in paired],
        "cpu_overhead_us": provider["cpu_us_per_call"] - session["cpu_us_per_call"],
        "journal": {"sent": sent, "recorded": recorded},
    }


def rows(result: dict[str, Any]) -> list[list[str]]:
    clients_ = result["clients"]
    base = clients_["provider"]["calls_per_s"]
    return [[item["label"], f"{item['calls_per_s']:,.0f}", f"{item['cpu_us_per_call']:,.0f}",
             f"{item['calls_per_s'] / base:.2f}"] for item in clients_.values()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few hundred calls: smoke test")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=2.0, help="per client and round")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    rounds, seconds, max_calls = (1, 5.0, 50) if args.quick else (args.rounds, args.seconds,
                                                                  1 << 30)
    result = run(rounds, seconds, max_calls, [])
    common.print_table("provider: calls/s, one client thread, the same mock",
                       ["client", "calls/s", "client CPU µs/call", "ratio to Aichat"], rows(result))
    print(f"provider overhead over a bare session: {result['overhead']:.1%} "
          f"(client CPU: {result['cpu_overhead_us']:+.0f} µs/call); journal: "
          f"{result['journal']['sent']} sent, {result['journal']['recorded']} recorded")
    common.write_json(args.json, result)
    return 0 if result["journal"]["sent"] == result["journal"]["recorded"] else 1


if __name__ == "__main__":
    sys.exit(main())
