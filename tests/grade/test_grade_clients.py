"""``aichat-mock grade``: our provider passes every check, clients broken on purpose get the
failing rows they deserve, each naming what is wrong, and a target that cannot be loaded is
one line and exit 2 (docs/grading.md). The checks expected come from the contract's cases and
docs/mock-server.md's fault table, not from the grader."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mock_server.grade.checks import Check, all_checks
from mock_server.grade.runner import grade
from support import contract_data
from support.paths import ROOT

HERE = Path(__file__).resolve().parent
BROKEN = HERE / "clients" / "broken.py"
# docs/grading.md: the behaviour checks after the cases and the faults.
BEHAVIOUR = ["retry-after", "trickle", "refusal"]


def card_keys() -> list[str]:
    return ([f"case {case['name']}" for case in contract_data.load_cases()]
            + [f"fault {name}" for name in contract_data.FAULT_ERRORS] + BEHAVIOUR)


def run_grade(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mock_server", "grade", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


def test_our_provider_passes_every_check(tmp_path: Path) -> None:
    card_file, page = tmp_path / "card.json", tmp_path / "card.md"
    done = run_grade("aichat.Aichat", "--json", str(card_file), "--markdown", str(page))
    assert done.returncode == 0, done.stdout + done.stderr
    card = json.loads(card_file.read_text("utf-8"))
    assert [row["key"] for row in card["rows"]] == card_keys()
    failed = {row["key"]: row["problems"] for row in card["rows"] if row["verdict"] != "pass"}
    assert failed == {}
    assert card["route"] == "base_url" and card["shape"] == "_create_completion"
    text = page.read_text("utf-8")
    assert text.startswith("# Report card of `aichat.Aichat`")
    assert all(f"| {key} | pass |" in text for key in card_keys())
    assert done.stdout.splitlines()[-2] == f"{len(card_keys())} checks: {len(card_keys())} " \
                                           f"pass, 0 fail, 0 n/a"


@pytest.mark.g4f
def test_the_g4f_adapter_passes_every_check() -> None:
    card = grade("aichat.g4f_provider:Aichat")
    assert {row.key: row.problems for row in card.rows if row.verdict != "pass"} == {}
    assert card.shape == "create_completion"


def chosen(*keys: str) -> list[Check]:
    checks = {check.key: check for check in all_checks()}
    return [checks[key] for key in keys]


# The checks each broken client is graded on; each row it must fail, with a word naming why.
CHECKS = ("case simple", "case multi_turn", "fault rate_limit", "trickle")
BROKEN_ROWS = {
    "Careful": {},
    "WrongHeader": {"case simple": "header user-agent", "case multi_turn": "header user-agent"},
    "WrongFlattening": {"case simple": "prompt", "case multi_turn": "prompt"},
    "SwallowedRateLimit": {"fault rate_limit": "returned 'Too Many Requests' as the answer"},
    "NoDeadline": {"trickle": "did not return within 4 s (its timeout 2 s"},
}


@pytest.mark.parametrize("name", BROKEN_ROWS)
def test_a_broken_client_fails_the_rows_it_deserves(name: str) -> None:
    card = grade(f"{BROKEN}:{name}", checks=chosen(*CHECKS))
    failed = {row.key: "; ".join(row.problems) for row in card.rows if row.verdict == "fail"}
    assert set(failed) == set(BROKEN_ROWS[name]), failed
    for key, words in BROKEN_ROWS[name].items():
        assert words in failed[key]
    assert card.shape == "create_completion" and card.route == "base_url"


def test_a_client_that_dies_fails_each_check_and_the_grader_goes_on() -> None:
    card = grade(f"{BROKEN}:Crashing", checks=chosen("case simple", "case error_http"),
                 jobs=1)
    assert [row.verdict for row in card.rows] == ["fail", "fail"]
    assert all(row.problems[0].startswith("the client's process died (exit 70)")
               for row in card.rows)


@pytest.mark.parametrize("target, says", [
    ("no_such_module_here", "cannot load no_such_module_here: ModuleNotFoundError"),
    ("json", "json has no _create_completion and 0 provider classes"),
    (f"{BROKEN}:NoSuchClass", "AttributeError"),
])
def test_a_target_that_cannot_be_loaded_is_one_line_and_exit_2(target: str, says: str) -> None:
    done = run_grade(target)
    assert done.returncode == 2
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith("aichat-mock grade: ") and says in line


def test_a_python_that_is_not_there_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = run_grade("aichat.Aichat", "--python", str(tmp_path / "python"))
    assert (done.returncode, done.stderr.count("\n")) == (2, 1)
    assert "no Python at" in done.stderr
