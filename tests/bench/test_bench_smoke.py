"""The benchmark and soak scripts (bench/) in their quick mode, so that they do not rot between
two ``make bench`` runs. Only what they count is checked, never how fast anything was.

The four scripts run at once, each in its own process against its own servers: their checks
do not depend on timing, and the suite waits for the slowest instead of the sum of them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from support.paths import ROOT as REPO

SCRIPTS = ("provider", "mock_load", "memory", "soak", "tunnel", "compare")
RUN_TIMEOUT = 180

pytestmark = pytest.mark.usefixtures("no_ambient_configuration")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    """Each script's exit status, output and JSON results, from one concurrent quick run."""
    folder = tmp_path_factory.mktemp("bench")
    started = {
        name: subprocess.Popen(
            [sys.executable, "-m", f"bench.{name}", "--quick", "--json",
             str(folder / f"{name}.json")],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for name in SCRIPTS}
    results: dict[str, dict[str, Any]] = {}
    try:
        for name, process in started.items():
            output, _ = process.communicate(timeout=RUN_TIMEOUT)
            path = folder / f"{name}.json"
            results[name] = {
                "code": process.returncode,
                "output": output,
                "data": json.loads(path.read_text()) if path.exists() else None,
            }
        yield results
    finally:
        for process in started.values():
            if process.poll() is None:
                process.kill()
                process.wait()


def result_of(runs: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    run = runs[name]
    assert run["code"] == 0 and run["data"] is not None, run["output"][-3000:]
    data: dict[str, Any] = run["data"]
    return data


def test_provider_clients_all_answer_and_every_call_is_journaled(
        runs: dict[str, dict[str, Any]]) -> None:
    data = result_of(runs, "provider")
    assert set(data["clients"]) == {"provider", "session", "legacy", "http_client"}
    assert all(client["calls"] > 0 for client in data["clients"].values())
    assert data["journal"]["sent"] == data["journal"]["recorded"] > 0
    assert "calls/s" in runs["provider"]["output"]


def test_mock_load_counts_what_it_sends(runs: dict[str, dict[str, Any]]) -> None:
    data = result_of(runs, "mock_load")
    subjects = data["subjects"]
    assert set(subjects) == {"mock"}
    assert data["journal_ok"] is True
    for key, subject in subjects.items():
        assert subject["probe"]["status"] == 200, (key, subject["probe"])
        (run,) = subject["runs"].values()
        assert run["sent"] >= run["completed"] > 0, (key, run)
        assert run["errors"] == run["non_2xx"] == 0, (key, run)
    journal_on = subjects["mock"]["runs"]["16"]
    assert journal_on["tool"] in ("wrk", "python")
    assert journal_on["recorded"] == journal_on["sent"]


def test_compare_runs_each_variant_with_its_own_options(runs: dict[str, dict[str, Any]]
                                                        ) -> None:
    """bench/compare.py in its quick mode: this checkout as it is and with --no-journal, a
    round each; what each variant ran with and what it answered, never how fast."""
    data = result_of(runs, "compare")
    assert [(item["label"], item["options"]) for item in data["variants"]] == [
        ("a", []), ("b", ["--no-journal"])]
    # The options reached the server: it says whether it journals when it starts.
    on, off = data["variants"]
    assert "journal off" in off["server"] and "journal off" not in on["server"], data
    for item in data["variants"]:
        assert item["checkout"] == str(REPO)
        (sample,) = item["samples"]
        assert sample["completed"] > 0 and sample["errors"] == 0, item
        assert item["cpu_us"] == sample["cpu_us"] > 0
    assert data["tool"] in ("wrk", "python")


@pytest.mark.parametrize(("variants", "reason"), [
    (["a=."], "give two variants or more"),
    (["a=.", "a=. --no-journal"], "each with a label of its own"),
    (["a=.", "b=/nonexistent"], "is no checkout of the mock"),
    (["a=.", "no-label"], "is not LABEL=CHECKOUT"),
], ids=["one", "same label", "no checkout", "no label"])
def test_compare_refuses_what_it_cannot_compare_in_one_line(variants: list[str],
                                                            reason: str) -> None:
    completed = subprocess.run([sys.executable, "-m", "bench.compare", *variants], cwd=REPO,
                               capture_output=True, text=True, timeout=60, check=False)
    assert completed.returncode == 2
    last = completed.stderr.strip().splitlines()[-1]
    assert "error: " in last and reason in last, completed.stderr
    assert "Traceback" not in completed.stderr


def test_tunnel_run_journals_every_request_the_way_it_came(
        runs: dict[str, dict[str, Any]]) -> None:
    """bench/tunnel.py: the seed request through a TLS tunnel and on the plain port, kept alive
    and on new connections; every one answered and journaled (``via`` checked by the run)."""
    data = result_of(runs, "tunnel")
    assert data["journal_ok"] is True
    for part in ("kept_alive", "new"):
        assert set(data[part]) == {"plain", "tunnel"}
    for run in data["kept_alive"].values():
        assert run["sent"] == run["completed"] == run["recorded"] > 0 and run["errors"] == 0
    for run in data["new"].values():
        assert run["connections"] == run["recorded"] > 0 and run["errors"] == 0
    assert "tunnel / plain" in runs["tunnel"]["output"]


def test_memory_run_reaches_its_checkpoints_and_counts_exactly(
        runs: dict[str, dict[str, Any]]) -> None:
    data = result_of(runs, "memory")
    assert data["journal_ok"] is True and data["sent"] == data["recorded"]
    assert all(point["reached"] and point["rss_bytes"] > 0 for point in data["points"])
    assert data["flat"] is not None


def test_soak_checks_all_pass(runs: dict[str, dict[str, Any]]) -> None:
    checks = {check["name"]: check for check in result_of(runs, "soak")["checks"]}
    assert len(checks) == 7
    assert all(check["ok"] for check in checks.values()), checks
    mixed = checks["mixed load, exact journal"]["data"]
    assert mixed["sent"] == mixed["journaled"] == mixed["total"] == 240
    assert mixed["lost"] == mixed["duplicated"] == mixed["five_xx_outside_scripted"] == 0
    fuzz = checks["hypothesis-made bodies"]["data"]
    assert fuzz["sent"] == fuzz["journaled"] >= 100 and fuzz["five_xx"] == 0
    crash = checks["SIGKILL mid-load, restart"]["data"]
    assert crash["answered"] > 0 and crash["file_entries"] >= crash["answered"]
    cases = checks["provider through every fault"]["data"]["cases"]
    assert all(case["ok"] for case in cases), cases
    attacks = checks["connection attacks"]["data"]
    assert attacks["held"] == 300 and sum(attacks["cut"].values()) == 300
    assert attacks["journal"]["total"] == attacks["journal"]["expected"]
    storage = checks["storage faults and secrets"]["data"]
    # (20, 50, 20) requests before, during and after the full disk in the quick run.
    for run in (storage["journal_file"], storage["sqlite_store"]):
        assert run["statuses"] == {"200": 90}, run  # read back from JSON
        assert run["kept"] + run["lost"] == run["sent"] == 90
    assert storage["journal_file"]["file_lines_lost"] == 50
    assert storage["sqlite_store"]["lost"] == 50
    assert storage["foreign"]["exit"] == 2
    conformance = checks["HTTP conformance against h11"]["data"]
    # The corpus, each stream whole and in pieces, and 20 of each hypothesis kind.
    assert conformance["streams"] >= 2 * 20 + 50 and conformance["requests"] > 0


def test_the_profile_ranks_functions_by_their_own_samples_and_those_under_the_server() -> None:
    from bench import profile

    # py-spy's raw lines: a stack (outermost first) and its samples.
    raw = "\n".join([
        "main (/x/mock_server/serve/cli.py:1);Conn.data_received (/x/mock_server/p.py:2);"
        "read_head (/x/mock_server/h.py:3) 6",
        "main (/x/mock_server/serve/cli.py:1);Conn.data_received (/x/mock_server/p.py:2) 3",
        "main (/x/mock_server/serve/cli.py:1);_serve_one (/x/mock_server/r.py:9) 1",
    ])
    ranked = profile.rank(raw, top=3)
    assert ranked["samples"] == 10
    assert ranked["self"] == [("read_head (mock_server/h.py)", 0.6),
                              ("Conn.data_received (mock_server/p.py)", 0.3),
                              ("_serve_one (mock_server/r.py)", 0.1)]
    # From the server's entry down; the command's frames above it are on every stack.
    assert ranked["inclusive"] == [("Conn.data_received (mock_server/p.py)", 0.9),
                                   ("read_head (mock_server/h.py)", 0.6),
                                   ("_serve_one (mock_server/r.py)", 0.1)]
