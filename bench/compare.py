"""Two or more versions of the mock (or one with different options) under the same load, in
interleaved rounds: each server's own CPU time per request, its rate and its p99, as medians
over the rounds, with every round's CPU figure beside them.

A change to the mock's speed is judged this way (docs/benchmarks.md): on a shared machine the
figures of one run move by a tenth from one minute to the next, so the versions take turns
(the first round in the order given, each next one starting one further on) and only what
holds across the rounds counts. Each variant is ``LABEL=CHECKOUT`` with the mock's options
after a space, in one argument; its ``mock_server`` is the checkout's, run by this Python.

    python -m bench.compare [--rounds 5] [--connections 16] [--seconds 3] [--distinct]
                            [--json FILE]
        "before=/tmp/old" "now=." "workers=. --workers 2"
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any, NamedTuple

from bench import common, mock_load


class Variant(NamedTuple):
    label: str
    checkout: Path
    options: list[str]


def variant(text: str) -> Variant:
    """``LABEL=CHECKOUT [OPTIONS]`` as a ``Variant``; ``ValueError`` when it is not one."""
    head, _, rest = text.partition(" ")
    label, equals, checkout = head.partition("=")
    if not (label and equals and checkout):
        raise ValueError(f"{text!r} is not LABEL=CHECKOUT [OPTIONS]")
    path = Path(checkout).resolve()
    if not (path / "mock_server" / "__main__.py").is_file():
        raise ValueError(f"{checkout!r} is no checkout of the mock (no mock_server/ there)")
    return Variant(label, path, shlex.split(rest))


def start(chosen: Variant) -> common.Server:
    command = [sys.executable, "-m", "mock_server", "--port", "0", *chosen.options]
    return common.Server(chosen.label, command, cwd=chosen.checkout,
                         env={"PYTHONPATH": str(chosen.checkout)})


def run(variants: list[Variant], rounds: int, connections: int, seconds: float,
        warmup: float, use_wrk: bool, distinct: bool = False) -> dict[str, Any]:
    """Every server started and warmed up first, then ``rounds`` rounds going round them."""
    samples: dict[str, list[dict[str, Any]]] = {chosen.label: [] for chosen in variants}
    said: dict[str, str] = {}
    with common.workdir("aichat-compare-") as folder:
        servers = []
        try:
            for chosen in variants:
                servers.append(start(chosen))
                if warmup:
                    common.run_load(servers[-1].url, connections, warmup, folder, use_wrk,
                                    distinct)
            order = list(zip(variants, servers, strict=True))
            for number in range(rounds):
                shift = number % len(order)
                for chosen, server in order[shift:] + order[:shift]:
                    pids = server.pids()
                    before = mock_load.cpu_seconds(pids)
                    load = common.run_load(server.url, connections, seconds, folder, use_wrk,
                                           distinct)
                    cpu = mock_load.cpu_seconds(pids) - before
                    samples[chosen.label].append(
                        {**load.as_dict(), "cpu_us": cpu * 1e6 / max(load.completed, 1)})
        finally:
            for chosen, server in zip(variants, servers, strict=False):
                said[chosen.label] = server.tail()  # what it said when it started
                server.stop()
    return {"rounds": rounds, "connections": connections, "seconds": seconds,
            "tool": "wrk" if use_wrk else "python", "distinct": distinct,
            "variants": [{"label": chosen.label, "checkout": str(chosen.checkout),
                          "options": chosen.options, "server": said.get(chosen.label, ""),
                          "samples": samples[chosen.label],
                          # The medians of the rates and percentiles, the sums of the counts.
                          **mock_load.combine(samples[chosen.label])}
                         for chosen in variants]}


def rows(result: dict[str, Any]) -> list[list[str]]:
    return [[item["label"], " ".join(item["options"]) or "-", f"{item['cpu_us']:.1f}",
             ", ".join(f"{sample['cpu_us']:.0f}" for sample in item["samples"]),
             f"{item['rps']:,.0f}", f"{item['p99_ms']:.2f}",
             str(item["errors"] + item["non_2xx"])]
            for item in result["variants"]]


HEADER = ["variant", "options", "CPU µs/req (median)", "each round", "req/s", "p99 ms",
          "errors"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="*", metavar="LABEL=CHECKOUT [OPTIONS]",
                        help="a version of the mock and its options, in one argument")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=3.0, help="per run")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: this checkout twice, one round of 1 s, no warm-up")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--distinct", action="store_true",
                        help="a new question in every request (wrk only), none sent again")
    args = parser.parse_args(argv)
    texts = args.variants or (["a=.", "b=. --no-journal"] if args.quick else [])
    try:
        variants = [variant(text) for text in texts]
    except ValueError as error:
        parser.error(str(error))
    if len(variants) < 2 or len({chosen.label for chosen in variants}) < len(variants):
        parser.error("give two variants or more, each with a label of its own")
    if args.rounds < 1 or args.connections < 1 or args.seconds <= 0:
        parser.error("--rounds and --connections take 1 or more, --seconds more than 0")
    rounds, seconds, warmup = (1, 1.0, 0.0) if args.quick else (args.rounds, args.seconds, 2.0)
    result = run(variants, rounds, args.connections, seconds, warmup,
                 use_wrk=common.wrk_path() is not None, distinct=args.distinct)
    common.print_table(f"interleaved ({result['tool']}, {rounds} round(s) of {seconds:g} s at "
                       f"{args.connections} connections; medians)", HEADER, rows(result))
    common.write_json(args.json, result)
    print(json.dumps({item["label"]: round(item["cpu_us"], 1) for item in result["variants"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
