"""Rules of this suite itself, checked on a small suite of its own run in a child pytest with
this suite's conftest: in make test and CI nothing may be skipped."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.paths import ROOT

HERE = Path(__file__).resolve().parent
SKIPPING = '''
import pytest

def test_skips():
    pytest.skip("no browser here")

def test_passes():
    assert True
'''
IMPORT_SKIPPING = '''
import pytest

pytest.importorskip("a_library_nobody_installed")

def test_never_runs():
    assert True
'''

# A test with settings of its own, as the suite's property tests have: in CI they still inherit
# the derandomized profile that conftest.py loads.
OWN_SETTINGS = '''
from hypothesis import given, settings, strategies as st

FAST = settings(max_examples=5, deadline=None)


@FAST
@given(st.integers())
def test_a_property(number):
    assert isinstance(number, int)


def test_the_property_is_derandomized():
    assert test_a_property._hypothesis_internal_use_settings.derandomize is True
'''
UNDOING = '''
from hypothesis import given, settings, strategies as st


@settings(derandomize=False)
@given(st.integers())
def test_random_on_purpose(number):
    assert isinstance(number, int)
'''


def run_child(tmp_path: Path, code: str, **env: str) -> subprocess.CompletedProcess[str]:
    shutil.copy(HERE / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_child.py").write_text(code, encoding="utf-8")
    environment = {name: value for name, value in os.environ.items()
                   if name not in ("AICHAT_NO_SKIPS", "PYTEST_ADDOPTS", "CI")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), str(tmp_path)],
        # No plugins from the environment: only this suite's conftest, and a quick start.
        cwd=tmp_path, env={**environment, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", **env},
        capture_output=True, text=True, timeout=120,
        check=False)


def last_line(completed: subprocess.CompletedProcess[str]) -> str:
    return completed.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("value", ["1", "yes"])
def test_with_no_skips_a_skip_fails(tmp_path: Path, value: str) -> None:
    completed = run_child(tmp_path, SKIPPING, AICHAT_NO_SKIPS=value)
    assert completed.returncode == 1, completed.stdout
    assert last_line(completed).startswith("1 failed, 1 passed"), completed.stdout
    assert "skipped where nothing may be skipped" in completed.stdout


def test_with_no_skips_a_module_skipped_for_a_missing_library_fails(tmp_path: Path) -> None:
    completed = run_child(tmp_path, IMPORT_SKIPPING, AICHAT_NO_SKIPS="1")
    assert completed.returncode == 2, completed.stdout  # an error while collecting
    assert "skipped where nothing may be skipped" in completed.stdout
    assert "a_library_nobody_installed" in completed.stdout


@pytest.mark.parametrize(("code", "status", "summary"), [
    (SKIPPING, 0, "1 passed, 1 skipped"),
    (IMPORT_SKIPPING, 5, "1 skipped"),  # 5: no test collected
])
def test_elsewhere_a_skip_is_a_skip(tmp_path: Path, code: str, status: int,
                                    summary: str) -> None:
    completed = run_child(tmp_path, code)
    assert completed.returncode == status, completed.stdout
    assert last_line(completed).startswith(summary), completed.stdout


def test_make_test_and_ci_forbid_skips() -> None:
    makefile = (ROOT / "Makefile").read_text("utf-8")
    assert "test: export AICHAT_NO_SKIPS = 1" in makefile
    assert 'export CI="${CI:-1}"' in (ROOT / ".ci" / "run").read_text("utf-8")


def test_in_ci_hypothesis_is_derandomized_even_under_a_tests_own_settings(
        tmp_path: Path) -> None:
    completed = run_child(tmp_path, OWN_SETTINGS, CI="1")
    assert completed.returncode == 0, completed.stdout
    assert last_line(completed).startswith("2 passed"), completed.stdout
    elsewhere = run_child(tmp_path, OWN_SETTINGS)
    assert elsewhere.returncode == 1, elsewhere.stdout  # the second test: random outside CI
    assert last_line(elsewhere).startswith("1 failed, 1 passed"), elsewhere.stdout


def test_in_ci_a_test_that_undoes_the_derandomizing_is_refused(tmp_path: Path) -> None:
    completed = run_child(tmp_path, UNDOING, CI="1")
    assert completed.returncode == 4, completed.stdout + completed.stderr  # a usage error
    assert "every hypothesis test must be derandomized" in completed.stdout + completed.stderr
    assert "test_random_on_purpose" in completed.stdout + completed.stderr
    assert run_child(tmp_path, UNDOING).returncode == 0


def test_every_hand_made_constant_change_finds_its_line_once() -> None:
    """make mutants-mock changes each constant by replacing a piece of its file; a refactor
    that moves that piece would only show as a failure of the long run, so it shows here."""
    from bench.constant_mutants import mutants

    root = ROOT
    changes = mutants()
    assert changes
    for change in changes:
        text = (root / change.path).read_text(encoding="utf-8")
        assert text.count(change.old) == 1, f"{change.name}: {change.path} no longer holds it once"
        assert change.new != change.old


def test_every_serial_test_is_where_make_test_runs_them() -> None:
    """make test leaves the tests marked serial out of its parallel run and runs them in
    tests/contract only: one marked anywhere else would run nowhere."""
    marked = sorted(path.relative_to(HERE).as_posix() for path in HERE.rglob("test_*.py")
                    if "pytest.mark.serial" in path.read_text("utf-8")
                    and path != Path(__file__).resolve())
    assert marked, "make test runs a serial part: something must be marked"
    assert all(path.startswith("contract/") for path in marked), marked
    makefile = (ROOT / "Makefile").read_text("utf-8")
    assert "pytest -n auto -m 'not serial'" in makefile
    assert "-p no:xdist -m serial tests/contract" in makefile
