"""``make bench``: run the provider, mock load and memory benchmarks and time ``make test``,
all in one run, then print one table of ratios and write it, with the machine it ran on, to
``docs/benchmarks.md`` (between markers, so that ``make soak`` keeps its own section).

The memory run has ``MEMORY_BUDGET_S`` at most and says so when a checkpoint could not be
reached in it.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from typing import Any

from bench import common, memory, mock_load, prism, profile, provider, tunnel, wiremock

# The memory run's time at most: a million requests at a few thousand per second.
MEMORY_BUDGET_S = 300.0
MAKE_TEST_TIMEOUT_S = 420.0
TARGET_OVERHEAD = 0.10
TARGET_VS_PRISM = 2.0
# Issue 13, tightened by issue 25: 1.5x WireMock's rate (journal on, warmed up) at 16
# connections, a p99 of 5 ms at 16 (100 ms at 64), and at most 150 MiB, flat, after a million
# requests.
TARGET_VS_WIREMOCK = 1.5
TARGET_P99_16_MS = 5.0
TARGET_P99_64_MS = 100.0
TARGET_RSS_MIB = 150.0
# Issue 25: the server CPU each request costs, which the machine's load does not flip as it
# does the rates: at most 0.4x WireMock's at 16 connections, 0.5x at 1 and 64; the journal at
# most 15 % of it; the multi-process store (--workers) at most 100 µs a request.
TARGET_CPU_VS_WIREMOCK = {16: 0.4, 1: 0.5, 64: 0.5}
TARGET_JOURNAL_COST = 0.15
TARGET_WORKERS_CPU_US = 100.0
TARGET_VS_GUNICORN = 1.0
TARGET_P99_VS_PRISM = 2.0
# Issue 11: with 100 standing replies queued, POST /api/text keeps 80 % of its rate at least.
TARGET_STANDING_REPLIES = 0.8

INTRO = """# Benchmarks and reliability runs

`make bench` measures the provider and the mock server and rewrites the section between the
`bench` markers below; `make soak` runs the reliability checks and rewrites the `soak`
section. Both run from a fresh clone (they install what they need: the virtual environment,
Debian's `wrk` and Java, Stoplight Prism and WireMock from npm into the git-ignored
`bench/.node/`) and finish in about ten minutes. Only loopback traffic; every run is bounded
in requests and time.

These machines are shared and noisy: only the ratios between figures taken in the same run
mean something, not the absolute figures, which move with the load of the machine (given
with each run).
"""


# --- running ---------------------------------------------------------------------------------

def time_make_test() -> dict[str, Any]:
    """``make test`` once, its wall time and whether it passed (output kept in a log)."""
    log = common.REPO / "bench" / ".make-test.log"
    started = time.monotonic()
    env = {key: value for key, value in os.environ.items()
           if key not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    try:
        with log.open("w", encoding="utf-8") as stream:
            done = subprocess.run(["make", "test"], cwd=common.REPO, stdout=stream,
                                  stderr=subprocess.STDOUT, env=env, check=False,
                                  timeout=MAKE_TEST_TIMEOUT_S)
        code: int | None = done.returncode
    except subprocess.TimeoutExpired:
        code = None
    elapsed = time.monotonic() - started
    summary = ""
    text = log.read_text(encoding="utf-8", errors="replace")
    # The main run's summary (a line of "="), else the last one (the Python 3.10 run's).
    found = [line for line in text.splitlines() if re.search(r"\d+ (passed|failed)", line)]
    main = [line for line in found if line.startswith("=")]
    if main or found:
        summary = (main or found)[-1].strip("= ")
    return {"seconds": round(elapsed, 1), "returncode": code, "summary": summary,
            "log": str(log.relative_to(common.REPO))}


def run(quick: bool, make_test: bool, started_at: float | None = None) -> dict[str, Any]:
    """``started_at``: when ``make bench`` started (epoch seconds), installs included."""
    started = time.monotonic()
    spent_before = max(0.0, time.time() - started_at) if started_at else 0.0
    result: dict[str, Any] = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": common.machine(),
        "quick": quick,
        "phases": {},
    }
    use_wrk = common.wrk_path() is not None
    result["load_tool"] = "wrk " + result["machine"]["wrk"] if use_wrk else (
        "Python load generator (wrk is not installed)")
    ok, detail = prism.available() if quick else prism.install()
    result["prism"] = {"available": ok, "detail": detail}
    result["node"] = prism.node_version()
    ok, detail = wiremock.available() if quick else wiremock.install()
    result["wiremock"] = {"available": ok, "detail": detail, "java": wiremock.java_version()}

    def phase(name: str, work: Any) -> Any:
        print(f"bench: {name}...", file=sys.stderr, flush=True)
        begun = time.monotonic()
        value = work()
        result["phases"][name] = round(time.monotonic() - begun, 1)
        return value

    if quick:
        result["provider"] = phase("provider", lambda: provider.run(1, 5.0, 50, []))
        result["load"] = phase("mock load", lambda: mock_load.run(1.0, 0.0, True, use_wrk))
        result["memory"] = phase("memory", lambda: memory.run(
            memory.QUICK_CHECKPOINTS, 60.0, use_wrk, ["--journal-cap", "100"]))
    else:
        # Rounds of 2 s and 5 rounds of load: with 1 s and 3 rounds, the medians of a shared
        # machine moved by a tenth from one run to the next (docs/benchmarks.md).
        result["provider"] = phase("provider", lambda: provider.run(8, 2.0, 1 << 30, []))
        result["load"] = phase("mock load", lambda: mock_load.run(3.0, 2.0, False, use_wrk,
                                                                  rounds=5))
    result["tunnel"] = phase("tunnel", lambda: tunnel.run(1.0 if quick else 3.0,
                                                          1 if quick else 3, quick))
    if not quick:
        result["profile"] = phase("profile", lambda: profile.run(10.0, use_wrk=use_wrk))
        # A million requests at the measured rate, before make test: the memory goal is
        # after 1,000,000 requests, and make test's time does not depend on what is left.
        mock_rate = (result["load"]["subjects"]["mock"].get("runs", {}).get("16", {})
                     .get("rps") or 1000.0)
        result["memory"] = phase("memory", lambda: memory.run(
            memory.CHECKPOINTS, MEMORY_BUDGET_S, use_wrk, [], rate=mock_rate))
    if make_test:
        result["make_test"] = phase("make test", time_make_test)
    result["machine"]["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
    result["seconds"] = round(time.monotonic() - started, 1)
    result["seconds_before"] = round(spent_before, 1)
    return result


# --- the table -------------------------------------------------------------------------------

def _run(result: dict[str, Any], key: str, connections: int) -> dict[str, Any] | None:
    subject = result["load"]["subjects"].get(key)
    if not subject or "unavailable" in subject:
        return None
    found: dict[str, Any] | None = subject["runs"].get(str(connections))
    return found


def _ratio(result: dict[str, Any], key: str, other: str, connections: int,
           field: str = "rps") -> float | None:
    mine, theirs = _run(result, key, connections), _run(result, other, connections)
    if mine is None or theirs is None or not theirs[field]:
        return None
    return float(mine[field] / theirs[field])


def _us(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} µs"


def _cpu(result: dict[str, Any], key: str, connections: int) -> float | None:
    run = _run(result, key, connections)
    return None if run is None else float(run["cpu_us"])


def _verdict(value: float | None, target: float, higher_is_better: bool = True) -> str:
    if value is None:
        return "not measured"
    met = value >= target if higher_is_better else value <= target
    if met:
        return "met"
    missed = (target - value) / target if higher_is_better else (value - target) / target
    return f"MISSED by {missed:.0%}"


def _fmt(value: float | None, suffix: str = "x") -> str:
    return "-" if value is None else f"{value:.2f}{suffix}"


def _figure(result: dict[str, Any], key: str, connections: int) -> str:
    run = _run(result, key, connections)
    if run is None:
        subject = result["load"]["subjects"].get(key, {})
        return f"n/a ({subject.get('unavailable', 'not run')})"
    return f"{run['rps']:,.0f} req/s, p99 {run['p99_ms']:.1f} ms"


def ratio_rows(result: dict[str, Any]) -> list[list[str]]:
    """The one table: each row a ratio measured in this run, with both figures and a target."""
    rows: list[list[str]] = []
    clients = result["provider"]["clients"]
    aichat, session = clients["provider"], clients["session"]
    overhead = result["provider"]["overhead"]
    rows.append([
        "provider: own overhead over a bare `requests.Session().post`",
        f"{aichat['calls_per_s']:,.0f} vs {session['calls_per_s']:,.0f} calls/s "
        f"(client CPU {aichat['cpu_us_per_call']:,.0f} vs {session['cpu_us_per_call']:,.0f} "
        f"µs/call)",
        f"{overhead:+.1%}", "≤ +10%", _verdict(overhead, TARGET_OVERHEAD, False)])
    for key, what in (("legacy", "the 2023 module (`requests.post` per call)"),
                      ("http_client", "`http.client` on a kept-alive connection (floor)")):
        other = clients[key]
        rows.append([f"provider: {what} / Aichat",
                     f"{other['calls_per_s']:,.0f} vs {aichat['calls_per_s']:,.0f} calls/s",
                     _fmt(other["calls_per_s"] / aichat["calls_per_s"]), "-", "-"])
    for connections in (16, 64, 1):
        at = _ratio(result, "mock", "wiremock", connections)
        rows.append([
            f"mock: journal on / WireMock (journal on, warmed up), req/s at {connections}",
            f"{_figure(result, 'mock', connections)} vs {_figure(result, 'wiremock', connections)}",
            _fmt(at), f"≥ {TARGET_VS_WIREMOCK:g}x" if connections == 16 else "-",
            _verdict(at, TARGET_VS_WIREMOCK) if connections == 16 else "-"])
    for connections, target in TARGET_CPU_VS_WIREMOCK.items():
        mine, theirs = _run(result, "mock", connections), _run(result, "wiremock", connections)
        at = _ratio(result, "mock", "wiremock", connections, "cpu_us")
        rows.append([
            f"mock: server CPU per request / WireMock's (journal on), at {connections}",
            f"{_us(mine and mine['cpu_us'])} vs {_us(theirs and theirs['cpu_us'])}",
            _fmt(at), f"≤ {target:g}x", _verdict(at, target, False)])
    for connections in (16, 1):
        mine = _run(result, "mock_distinct", connections)
        if mine is None:
            continue
        theirs = _run(result, "wiremock", connections)
        rows.append([
            f"mock: server CPU per request / WireMock's (journal on), a new question in every "
            f"request, at {connections}",
            f"{_us(mine['cpu_us'])} vs {_us(theirs and theirs['cpu_us'])}",
            _fmt(_ratio(result, "mock_distinct", "wiremock", connections, "cpu_us")), "-", "-"])
    journal = _ratio(result, "mock", "mock_off", 16, "cpu_us")
    rows.append(["mock: server CPU per request, journal on / off, at 16",
                 f"{_us(_cpu(result, 'mock', 16))} vs {_us(_cpu(result, 'mock_off', 16))}",
                 _fmt(journal), f"≤ {1 + TARGET_JOURNAL_COST:g}x",
                 _verdict(journal, 1 + TARGET_JOURNAL_COST, False)])
    alt = result["load"]["subjects"].get("mock_alt", {})
    if "--workers 1 " not in alt.get("label", "--workers 1 "):
        workers_cpu = _cpu(result, "mock_alt", 16)
        rows.append([f"mock: server CPU per request, {alt['label'].split(', ', 1)[1]}, at 16",
                     _us(workers_cpu), _us(workers_cpu),
                     f"≤ {TARGET_WORKERS_CPU_US:g} µs",
                     _verdict(workers_cpu, TARGET_WORKERS_CPU_US, False)])
    for connections, limit in ((16, TARGET_P99_16_MS), (64, TARGET_P99_64_MS)):
        run = _run(result, "mock", connections)
        theirs = _run(result, "wiremock", connections)
        p99 = None if run is None else float(run["p99_ms"])
        rows.append([f"mock: p99 at {connections} connections",
                     f"{_fmt(p99, ' ms')} (WireMock {_fmt(theirs and theirs['p99_ms'], ' ms')})",
                     _fmt(p99, " ms"), f"≤ {limit:g} ms", _verdict(p99, limit, False)])
    mine = result["load"]["subjects"].get("mock", {}).get("rss_bytes")
    theirs_rss = result["load"]["subjects"].get("wiremock", {}).get("rss_bytes")
    if mine and theirs_rss:
        rows.append(["mock: RSS / WireMock's RSS, after the load runs",
                     f"{common.mib(mine)} vs {common.mib(theirs_rss)}",
                     _fmt(mine / theirs_rss), "-", "-"])
    pairs = [
        ("mock", "prism", "journal on / Prism, req/s", TARGET_VS_PRISM, True, "rps"),
        ("mock", "echo_gunicorn", "journal on / Flask echo on gunicorn 2 sync, req/s",
         TARGET_VS_GUNICORN, True, "rps"),
        ("mock", "prism", "journal on / Prism, p99", TARGET_P99_VS_PRISM, False, "p99_ms"),
        ("mock", "mock_off", "journal on / journal off, req/s", None, True, "rps"),
        ("mock", "mock_alt", "default / the other worker count (journal on), req/s", None,
         True, "rps"),
        ("mock", "mock_gevent", "default / the former default (gunicorn, 2 gevent workers, "
                                "SQLite), req/s", None, True, "rps"),
        ("mock_replies", "mock_distinct", "100 standing replies queued / none (a new question "
                                          "in every request), req/s",
         TARGET_STANDING_REPLIES, True, "rps"),
    ]
    for key, other, what, target, higher, field in pairs:
        if key not in result["load"]["subjects"] or other not in result["load"]["subjects"]:
            continue
        at16 = _ratio(result, key, other, 16, field)
        at1 = _ratio(result, key, other, 1, field)
        sign = "≥" if higher else "≤"
        rows.append([
            f"mock: {what}",
            f"16 conns: {_figure(result, key, 16)} vs {_figure(result, other, 16)}",
            f"{_fmt(at16)} at 16 conns ({_fmt(at1)} at 1)",
            f"{sign} {target:g}x at 16" if target else "-",
            _verdict(at16, target, higher) if target else "-"])
    journal_runs = [(subject["label"], run) for key, subject in result["load"]["subjects"].items()
                    if key in mock_load.JOURNALED and key != "wiremock"
                    for run in subject.get("runs", {}).values()]
    sent = sum(run["sent"] for _, run in journal_runs)
    recorded = sum(run["recorded"] for _, run in journal_runs)
    memory_result = result.get("memory")
    if memory_result:
        sent += memory_result["sent"]
        recorded += memory_result["recorded"]
    exact = result["load"]["journal_ok"] and (not memory_result or memory_result["journal_ok"])
    rows.append(["journal: entries recorded / requests sent, every load run",
                 f"{recorded:,} / {sent:,} over {len(journal_runs) + (1 if memory_result else 0)}"
                 f" runs", "1 (exact)" if exact else f"{recorded / max(sent, 1):.4f}",
                 "= 1 every run", "met" if exact else "MISSED"])
    if memory_result:
        points = memory_result["points"]
        shown = ", ".join(f"{point['requests']:,}: {common.mib(point['rss_bytes'])}"
                          + ("" if point["reached"] else " (time budget spent)")
                          for point in points)
        growth = "-"
        reached = [point for point in points if point["reached"]]
        if len(reached) >= 2:
            growth = f"{reached[-1]['rss_bytes'] / reached[-2]['rss_bytes']:.3f}"
        flat = {None: "not measured", True: "met", False: "MISSED"}[memory_result["flat"]]
        rows.append(["memory: mock RSS after N requests (cap 10,000), last / previous point",
                     shown, growth, "flat (≤ 1.05)", flat])
        if reached:
            top = max(point["rss_bytes"] for point in reached) / 2**20
            last = reached[-1]["requests"]
            rows.append([f"memory: the mock's largest RSS, up to {last:,} requests",
                         f"{top:,.1f} MiB", "-", f"≤ {TARGET_RSS_MIB:g} MiB",
                         _verdict(top, TARGET_RSS_MIB, False)
                         if last >= memory.CHECKPOINTS[-1] else
                         f"not measured to {memory.CHECKPOINTS[-1]:,}"])
    make_test = result.get("make_test")
    if make_test:
        status = ("passed" if make_test["returncode"] == 0 else
                  "timed out" if make_test["returncode"] is None else "FAILED")
        rows.append(["`make test` wall time", f"{make_test['seconds']:.0f} s ({status}; "
                     f"{make_test['summary'] or 'no summary'})", "-", "-", "-"])
    return rows


RATIO_HEADER = ["comparison", "figures (this run)", "ratio", "target", "verdict"]


def machine_lines(result: dict[str, Any]) -> list[str]:
    machine = result["machine"]
    packages = ", ".join(f"{name} {value}" for name, value in machine["packages"].items())
    prism_text = (f"Prism {result['prism']['detail']} on node {result['node']}"
                  if result["prism"]["available"]
                  else f"Prism: not available ({result['prism']['detail']})")
    phases = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in result["phases"].items())
    return [
        f"- run: {result['date']}, {result['seconds']:.0f} s ({phases})"
        + (f", after {result['seconds_before']:.0f} s of installs"
           if result.get("seconds_before") else ""),
        f"- machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB, "
        f"{machine['os']}",
        f"- load average (1, 5, 15 min): {machine['load_average']} at the start, "
        f"{machine.get('load_average_at_end', '-')} at the end",
        f"- Python {machine['python']}; {packages}",
        f"- load: {result['load_tool']}, 2 threads for 16 and 64 connections, 1 for 1; the seed "
        f"request (`{common.seed_body_bytes().decode()}`) with the provider's 13 headers; "
        f"each server started first and warmed up, then {result['load'].get('rounds', 1)} "
        f"rounds of {result['load']['seconds']:g} s runs going round them in a rotating order;"
        f" rates and percentiles are medians over the rounds",
        f"- {prism_text}",
        f"- {_wiremock_line(result)}",
        f"- the mock: {_mock_server_line(result)}",
    ]


def _wiremock_line(result: dict[str, Any]) -> str:
    found = result.get("wiremock") or {}
    if not found.get("available"):
        return f"WireMock: not available ({found.get('detail', 'not run')})"
    return (f"WireMock {found['detail']} standalone (npm package `wiremock`) on "
            f"{found.get('java') or 'java'}, default settings (journal on), warmed up "
            f"{wiremock.WARMUP_S:g} s under load before the rounds")


def _mock_server_line(result: dict[str, Any]) -> str:
    text = result["load"]["subjects"].get("mock", {}).get("server", "")
    match = re.search(r"aichat-mock: ([^;]+;[^;]+)", text)
    if not match:
        return "default options"
    return re.sub(r"sqlite:\S+", "sqlite (a temporary file)", match.group(1))


def detail_tables(result: dict[str, Any]) -> list[str]:
    lines = ["", "Provider, one client thread against the same mock (median of "
             f"{result['provider']['rounds']} interleaved rounds):", "",
             common.markdown_table(["client", "calls/s", "client CPU µs/call", "ratio to Aichat"],
                                   provider.rows(result["provider"])),
             "", "Mock load (`POST /api/text`):", "",
             common.markdown_table(mock_load.HEADER, mock_load.rows(result["load"]))]
    through = result.get("tunnel")
    if through:
        found_ratios = tunnel.ratios(through)
        lines += ["", "The mock at the site's own address (`--intercept`) beside its plain port, "
                  "on one server, from the same Python load generator (wrk cannot speak "
                  f"through a proxy; median of {through['rounds']} interleaved rounds, "
                  "`bench/tunnel.py`). A tunnel's request costs "
                  f"{tunnel.ratio_text(found_ratios['kept_alive_cpu'])} the plain port's "
                  "server CPU kept alive; a new tunnel (CONNECT, a full TLS handshake, one "
                  f"request) {tunnel.ratio_text(found_ratios['new_cpu'])} a new plain "
                  "connection's.", "",
                  common.markdown_table(tunnel.HEADER, tunnel.rows(through))]
    found = result.get("profile")
    if found and "unavailable" not in found:
        lines += ["", "Where the mock spends its time (`bench/profile.py`): py-spy, "
                  f"{found['rate']} samples a second for {found['seconds']:g} s, while wrk "
                  f"posts the seed request on 16 connections ({found['rps']:,.0f} req/s, "
                  f"{found['samples']:,} samples; idle samples left out). Self: the function "
                  "itself runs (a call into C or the kernel counts for the Python function "
                  "that made it); on the stack: from `Conn.data_received` down.", "",
                  common.markdown_table(profile.HEADER, profile.rows(found))]
    elif found:
        lines += ["", f"Profile: not taken ({found['unavailable']})."]
    if result.get("memory"):
        lines += ["", "Mock memory, default journal cap (resident size of all its processes):",
                  "", common.markdown_table(["when", "requests journaled", "RSS", "processes"],
                                            memory.rows(result["memory"]))]
    return lines


def bench_section(result: dict[str, Any]) -> str:
    lines = ["## Latest `make bench`", "", *machine_lines(result), "",
             common.markdown_table(RATIO_HEADER, ratio_rows(result)), *detail_tables(result)]
    return "\n".join(lines) + "\n"


def soak_section(result: dict[str, Any]) -> str:
    from bench import soak

    machine = result["machine"]
    lines = ["## Latest `make soak`", "",
             f"- machine: {machine['cpu']}, {machine['cores']} cores, {machine['os']}; "
             f"Python {machine['python']}; load average {machine['load_average_at_start']} at "
             f"the start; {result['seconds']:.0f} s in all; seed {result['seed']}",
             "", common.markdown_table(soak.HEADER, soak.rows(result))]
    cases = next((check["data"]["cases"] for check in result["checks"]
                  if check["name"] == "provider through every fault"), None)
    if cases:
        merged: dict[str, dict[str, Any]] = {}
        for case in cases:
            row = merged.setdefault(case["case"], {**case, "max": case["seconds"], "n": 0,
                                                   "all_ok": True})
            row["max"] = max(row["max"], case["seconds"])
            row["n"] += 1
            row["all_ok"] = row["all_ok"] and case["ok"]
        lines += ["", "The provider through every fault (`max_retries=2`, timeout 2 s unless "
                  "said; each call under a wall-clock guard):", "",
                  common.markdown_table(
                      ["fault", "expected", "got", "attempts", "slowest", "result"],
                      [[name, row["expected"], row["got"],
                        str(row["attempts"]) if row["attempts"] else "- (nothing listens)",
                        f"{row['max']:.2f} s", "pass" if row["all_ok"] else "FAIL"]
                       for name, row in merged.items()])]
    return "\n".join(lines) + "\n"


def write_section(name: str, text: str) -> None:
    """Replace the section between ``<!-- name:start -->`` and ``<!-- name:end -->`` in
    docs/benchmarks.md (made when missing), leaving the rest of the file as it is."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{text}{end}"
    doc = common.DOC.read_text(encoding="utf-8") if common.DOC.exists() else INTRO
    if start in doc and end in doc:
        before, rest = doc.split(start, 1)
        after = rest.split(end, 1)[1]
        doc = before + block + after
    else:
        doc = doc.rstrip("\n") + "\n\n" + block + "\n"
    common.DOC.write_text(doc, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="seconds, not minutes: no Prism, no make test, doc untouched")
    parser.add_argument("--no-make-test", action="store_true", help="skip timing make test")
    parser.add_argument("--no-doc", action="store_true", help="leave docs/benchmarks.md alone")
    parser.add_argument("--started", type=float, metavar="EPOCH",
                        help="when make bench started, so that installs count in the budget")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    result = run(args.quick, make_test=not (args.quick or args.no_make_test),
                 started_at=args.started)
    print()
    print("\n".join(machine_lines(result)))
    common.print_table("bench: ratios measured in this run", RATIO_HEADER, ratio_rows(result))
    print("\n".join(detail_tables(result)))
    common.write_json(args.json, result)
    if not (args.quick or args.no_doc):
        write_section("bench", bench_section(result))
        print(f"\nwritten to {common.DOC.relative_to(common.REPO)}")
    checks_ok = result["load"]["journal_ok"] and (
        not result.get("memory") or (result["memory"]["journal_ok"]
                                     and result["memory"]["flat"] is not False))
    return 0 if checks_ok else 1


if __name__ == "__main__":
    sys.exit(main())
