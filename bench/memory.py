"""Memory benchmark: resident size of the mock (all its processes) after 10k, 100k, 300k and
1,000,000 requests with the default journal cap. Once the cap is reached the journal drops its
oldest entries, so the size must stay flat from there on.

The load is the seed request over 16 connections, in chunks sized to land near each
checkpoint; the figure is taken at the journal's settled total, which must equal the requests
sent. The whole run is bounded by ``--budget`` seconds: a checkpoint not reached in time is
reported as such.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from bench import common

CHECKPOINTS = (10_000, 100_000, 300_000, 1_000_000)
QUICK_CHECKPOINTS = (300, 600)
# Growth allowed from the second-to-last checkpoint to the last: allocator noise, not entries.
FLAT_SHARE = 0.05
FLAT_BYTES = 4 * 2**20
CHUNK_MAX_S = 30.0


def run(checkpoints: tuple[int, ...], budget: float, use_wrk: bool,
        mock_args: list[str], rate: float = 1000.0) -> dict[str, Any]:
    """``rate``: a first guess of the requests/s, which each chunk measures again."""
    deadline = time.monotonic() + budget
    points: list[dict[str, Any]] = []
    sent = 0
    with common.mock_server(mock_args) as mock, common.workdir("aichat-memory-") as workdir:
        common.remote(mock.url).health()  # every worker is up once it answers
        time.sleep(0.5)
        start_rss = mock.rss_bytes()
        start_processes = len(mock.pids())
        total = 0
        for target in checkpoints:
            while total < target and time.monotonic() < deadline:
                left = deadline - time.monotonic()
                if use_wrk:
                    # Aim short of the checkpoint: the next chunk, at a measured rate, lands
                    # closer to it than one long chunk at a guessed one would.
                    seconds = min(max(0.9 * (target - total) / rate, 1.0), CHUNK_MAX_S, left)
                    load = common.run_wrk(mock.url, 16, seconds, workdir)
                else:
                    load = common.run_python_load(mock.url, 16, min(CHUNK_MAX_S, left),
                                                  max_requests=target - total)
                sent += load.sent
                rate = max(load.rps, 50.0)
                total = common.settled_total(mock.url, sent)
            points.append({"target": target, "requests": total, "reached": total >= target,
                           "rss_bytes": mock.rss_bytes(), "processes": len(mock.pids())})
            if total < target:
                break
        server = mock.tail(2)
    reached = [point for point in points if point["reached"]]
    flat = None
    if len(reached) >= 2:
        before, last = reached[-2]["rss_bytes"], reached[-1]["rss_bytes"]
        flat = last - before <= max(FLAT_SHARE * before, FLAT_BYTES)
    return {
        "start_rss_bytes": start_rss,
        "start_processes": start_processes,
        "points": points,
        "sent": sent,
        "recorded": total,
        "journal_ok": sent == total,
        "flat": flat,
        "tool": "wrk" if use_wrk else "python",
        "server": server,
        "budget_s": budget,
    }


def rows(result: dict[str, Any]) -> list[list[str]]:
    table = [["at start", "0", common.mib(result["start_rss_bytes"]),
              str(result.get("start_processes", "-"))]]
    for point in result["points"]:
        label = f"after {point['target']:,}" + ("" if point["reached"] else " (not reached)")
        table.append([label, f"{point['requests']:,}", common.mib(point["rss_bytes"]),
                      str(point["processes"])])
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="a few hundred requests, journal cap 100: smoke test")
    parser.add_argument("--budget", type=float, default=330.0, help="seconds at most")
    parser.add_argument("--python-load", action="store_true",
                        help="use the Python load generator even where wrk is installed")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    use_wrk = common.wrk_path() is not None and not args.python_load
    if args.quick:  # exact request counts from the Python generator: no wrk second to wait
        result = run(QUICK_CHECKPOINTS, 60.0, False, ["--journal-cap", "100"])
    else:
        result = run(CHECKPOINTS, args.budget, use_wrk, [])
    common.print_table("mock memory (resident, all processes)",
                       ["when", "requests journaled", "RSS", "processes"], rows(result))
    flat = {None: "not enough checkpoints reached", True: "yes", False: "NO"}[result["flat"]]
    print(f"flat once the cap is reached: {flat}; journal: {result['sent']:,} sent, "
          f"{result['recorded']:,} recorded")
    common.write_json(args.json, result)
    print(json.dumps({"journal_ok": result["journal_ok"], "flat": result["flat"]}))
    return 0 if result["journal_ok"] and result["flat"] is not False else 1


if __name__ == "__main__":
    sys.exit(main())
