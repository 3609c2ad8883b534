"""One-line changes to the constants mutmut does not reach, each made in a copy of the tree and
run against the tests that should notice it: every one must be caught.

mutmut 3 mutates function bodies only, so a changed header value, parameter default or range,
retried status, cap, default, path or fault status would never be tried by it. This script
makes each such change by hand (one at a time, in a copy of the tree under a temporary folder,
with that copy first on ``PYTHONPATH`` so child processes import it too), runs the relevant test
files with ``-x``, and reports which test caught it. A change the tests miss makes it exit 1.

    python -m bench.constant_mutants                 # all, a table on stdout
    python -m bench.constant_mutants --doc docs/testing.md
    python -m bench.constant_mutants --only RETRY_WAIT_CAP
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROVIDER = "aichat/Aichat.py"
FAULTS = "mock_server/core/faults.py"

# The test files that should notice such changes, in stages: the quick in-process ones first,
# then those with a loopback server, then those with child processes (the live mock, the
# command, the drop-in copy, g4f). Each stage runs with -x, the next only if it passed. All are
# part of make test.
STAGES = [
    ["tests/mock/core/test_fault_catalogue.py", "tests/contract/test_openapi.py",
     "tests/provider/test_properties.py", "tests/provider/test_decoding.py"],
    ["tests/provider/test_http.py", "tests/contract/test_cases_socketless.py",
     "tests/mock/core/test_engine.py", "tests/mock/core/test_journal.py"],
    ["tests/mock/web/test_site_routes.py", "tests/mock/web/test_faults_through_provider.py",
     "tests/provider/test_aichat_command.py", "tests/provider/test_drop_in_2023.py",
     "tests/provider/test_g4f_adapter.py"],
]
TESTS = [test for stage in STAGES for test in stage]
# Slow, and about the WSGI servers rather than any constant: left out.
DESELECTED = ["--deselect", "tests/mock/web/test_faults_through_provider.py::"
               "test_other_servers_serve_the_same_mock"]
# Left out of the copy: environments, caches, earlier mutants.
IGNORED = shutil.ignore_patterns(".git", ".venv", ".venv-*", "mutants", "__pycache__",
                                 ".hypothesis", ".mypy_cache", ".ruff_cache", ".pytest_cache",
                                 "build", "dist", "*.egg-info", ".node")


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    old: str  # must occur exactly once in the file
    new: str


def _headers() -> Iterator[Mutant]:
    values = {
        "authority": "chat-gpt.org", "accept": "*/*", "cache-control": "no-cache",
        "content-type": "application/json", "origin": "https://chat-gpt.org",
        "pragma": "no-cache", "referer": "https://chat-gpt.org/chat", "sec-ch-ua-mobile": "?0",
        "sec-ch-ua-platform": '"macOS"', "sec-fetch-dest": "empty", "sec-fetch-mode": "cors",
        "sec-fetch-site": "same-origin",
    }
    for name, value in values.items():
        line = f"    '{name}': '{value}',"
        yield Mutant(f"HEADERS[{name!r}] changed", PROVIDER, line,
                     f"    '{name}': '{value}x',")
    yield Mutant("HEADERS['user-agent'] changed", PROVIDER, "Chrome/113.0.0.0 Safari/537.36'",
                 "Chrome/114.0.0.0 Safari/537.36'")
    yield Mutant("HEADERS: 'pragma' left out", PROVIDER, "    'pragma': 'no-cache',\n", "")
    yield Mutant("HEADERS: a name in another case", PROVIDER, "    'referer': ",
                 "    'Referer': ")


def _parameters() -> Iterator[Mutant]:
    rows = {"temperature": (1, 0, 2), "presence_penalty": (0, -2, 2), "top_p": (1, 0, 1),
            "frequency_penalty": (0, -2, 2)}
    for name, (default, low, high) in rows.items():
        line = f"    '{name}': ({default}, {low}, {high}),"
        for label, changed in (("default", (default + 1, low, high)),
                               ("lowest", (default, low - 1, high)),
                               ("lowest", (default, low + 1, high)),
                               ("highest", (default, low, high + 1)),
                               ("highest", (default, low, high - 1))):
            if not changed[1] <= changed[0] <= changed[2]:
                continue
            yield Mutant(f"PARAMETERS[{name!r}] {label} {changed}", PROVIDER, line,
                         f"    '{name}': {changed},")
    yield Mutant("PARAMETERS: two keys swapped (wire order)", PROVIDER,
                 "    'presence_penalty': (0, -2, 2),\n    'top_p': (1, 0, 1),",
                 "    'top_p': (1, 0, 1),\n    'presence_penalty': (0, -2, 2),")
    yield Mutant("PARAMETERS: a default as a float (1.0, not the integer 1)", PROVIDER,
                 "    'temperature': (1, 0, 2),", "    'temperature': (1.0, 0, 2),")


def mutants() -> list[Mutant]:
    provider = [
        Mutant("url", PROVIDER, "url = 'https://chat-gpt.org/chat'",
               "url = 'https://chat-gpt.org/'"),
        Mutant("model", PROVIDER, "model = ['gpt-3.5-turbo']", "model = ['gpt-4']"),
        Mutant("supports_stream", PROVIDER, "supports_stream = False", "supports_stream = True"),
        Mutant("needs_auth", PROVIDER, "needs_auth = False", "needs_auth = True"),
        Mutant("working", PROVIDER, "working = True", "working = False"),
        Mutant("DEFAULT_BASE_URL", PROVIDER, "DEFAULT_BASE_URL = 'https://chat-gpt.org'",
               "DEFAULT_BASE_URL = 'http://chat-gpt.org'"),
        Mutant("BASE_URL_ENV", PROVIDER, "BASE_URL_ENV = 'AICHAT_BASE_URL'",
               "BASE_URL_ENV = 'AICHAT_URL'"),
        Mutant("API_PATH", PROVIDER, "API_PATH = '/api/text'", "API_PATH = '/api/text/'"),
        Mutant("DEFAULT_TIMEOUT 60 -> 61", PROVIDER, "DEFAULT_TIMEOUT = 60.0",
               "DEFAULT_TIMEOUT = 61.0"),
        Mutant("DEFAULT_TIMEOUT 60 -> 59", PROVIDER, "DEFAULT_TIMEOUT = 60.0",
               "DEFAULT_TIMEOUT = 59.0"),
        Mutant("MAX_TIMEOUT +1", PROVIDER, "MAX_TIMEOUT = 86400.0", "MAX_TIMEOUT = 86401.0"),
        Mutant("MAX_TIMEOUT -1", PROVIDER, "MAX_TIMEOUT = 86400.0", "MAX_TIMEOUT = 86399.0"),
        Mutant("DEFAULT_MAX_RESPONSE_BYTES +1", PROVIDER,
               "DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024",
               "DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024 + 1"),
        Mutant("DEFAULT_MAX_RESPONSE_BYTES -1", PROVIDER,
               "DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024",
               "DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024 - 1"),
        Mutant("DEFAULT_MAX_RETRIES 2 -> 3", PROVIDER, "DEFAULT_MAX_RETRIES = 2",
               "DEFAULT_MAX_RETRIES = 3"),
        Mutant("DEFAULT_MAX_RETRIES 2 -> 1", PROVIDER, "DEFAULT_MAX_RETRIES = 2",
               "DEFAULT_MAX_RETRIES = 1"),
        *[Mutant(f"RETRY_STATUSES without {status}", PROVIDER,
                 "RETRY_STATUSES = frozenset({429, 502, 503, 504})",
                 "RETRY_STATUSES = frozenset({%s})" % ", ".join(  # noqa: UP031
                     str(s) for s in (429, 502, 503, 504) if s != status))
          for status in (429, 502, 503, 504)],
        Mutant("RETRY_STATUSES with 500", PROVIDER,
               "RETRY_STATUSES = frozenset({429, 502, 503, 504})",
               "RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})"),
        Mutant("RETRY_WAIT_CAP 30 -> 29", PROVIDER, "RETRY_WAIT_CAP = 30.0",
               "RETRY_WAIT_CAP = 29.0"),
        Mutant("RETRY_WAIT_CAP 30 -> 31", PROVIDER, "RETRY_WAIT_CAP = 30.0",
               "RETRY_WAIT_CAP = 31.0"),
        Mutant("Retry-After cap: > becomes >= (the issue's example)", PROVIDER,
               "if wait > RETRY_WAIT_CAP or",
               "if wait >= RETRY_WAIT_CAP or"),
        Mutant("BACKOFF_FACTOR 0.5 -> 1.5", PROVIDER, "BACKOFF_FACTOR = 0.5",
               "BACKOFF_FACTOR = 1.5"),
        Mutant("HTML detection without its <html rule (the issue's example)", PROVIDER,
               "start.startswith(('<!doctype html', '<html'))",
               "start.startswith(('<!doctype html',))"),
        Mutant("HTML detection without its content-type rule", PROVIDER,
               "return 'html' in content_type or start.startswith(",
               "return start.startswith("),
        Mutant("429 maps to the rate-limit error: 429 -> 428", PROVIDER,
               "    if status == 429:", "    if status == 428:"),
        Mutant("403 maps to the blocked error: 403 -> 401", PROVIDER,
               "    if status == 403 or", "    if status == 401 or"),
        Mutant("2xx range: < 300 -> <= 300", PROVIDER, "    if not 200 <= status < 300:",
               "    if not 200 <= status <= 300:"),
        Mutant("status advice: >= 500 -> > 500", PROVIDER, "    if status >= 500:",
               "    if status > 500:"),
        Mutant("status advice: >= 400 -> > 400", PROVIDER, "    if status >= 400:",
               "    if status > 400:"),
        *_headers(),
        *_parameters(),
    ]
    statuses = {"cloudflare": 403, "rate_limit": 429, "server_error": 500, "bad_gateway": 502,
                "unavailable": 503, "upstream_error": 200, "malformed_json": 200, "html": 200,
                "empty_body": 200, "disconnect": 0}
    mock = [Mutant(f"fault {name!r} status {status} -> {status + 1}", FAULTS,
                   f'Fault("{name}", {status},', f'Fault("{name}", {status + 1},')
            for name, status in statuses.items()]
    mock += [
        Mutant("fault 'unavailable' 503 -> 504 (the issue's example)", FAULTS,
               'Fault("unavailable", 503,', 'Fault("unavailable", 504,'),
        Mutant("fault 'rate_limit' body text", FAULTS, 'partial(_text, "Too Many Requests")',
               'partial(_text, "Too many requests")'),
        Mutant("fault 'cloudflare' without cf-mitigated", FAULTS,
               '("cf-mitigated", "challenge"), ', ""),
        Mutant("fault 'malformed_json' body made whole", FAULTS,
               """MALFORMED_JSON = b'{"response": true, "message": "cut of'""",
               """MALFORMED_JSON = b'{"response": true, "message": "cut of"}'"""),
        Mutant("mock body cap 1 MiB -> 1 MiB + 1", "mock_server/core/edge.py",
               "MAX_BODY = 1 << 20", "MAX_BODY = (1 << 20) + 1"),
        Mutant("mock body cap 1 MiB -> 1 MiB - 1", "mock_server/core/edge.py",
               "MAX_BODY = 1 << 20", "MAX_BODY = (1 << 20) - 1"),
        Mutant("mock journal cap 10,000 -> 10,001", "mock_server/core/store.py",
               "DEFAULT_JOURNAL_CAP = 10_000", "DEFAULT_JOURNAL_CAP = 10_001"),
        Mutant("mock echo prefix", "mock_server/core/replies.py",
               'ECHO_PREFIX = "You said: "', 'ECHO_PREFIX = "You said:"'),
    ]
    return provider + mock


@dataclass
class Outcome:
    mutant: Mutant
    caught: bool
    by: str  # the first failing test, or what went wrong
    seconds: float


def _first_failure(output: str) -> str:
    # "FAILED tests/x.py::test_y[an id, with spaces] - AssertionError: ..."
    match = re.search(r"^(?:FAILED|ERROR) (.+?)(?: - .*)?$", output, re.MULTILINE)
    if match:
        return match.group(1)
    return output.strip().splitlines()[-1] if output.strip() else "no output"


def _copy_tree(into: Path) -> Path:
    tree = into / "tree"
    shutil.copytree(ROOT, tree, ignore=IGNORED, symlinks=True)
    return tree


def _pytest(tree: Path, tests: list[str]) -> subprocess.CompletedProcess[str]:
    # AICHAT_FEWER_EXAMPLES: the property tests try a quarter of their examples (the fixed
    # examples and boundaries, which pin the constants, all run).
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1", "CI": "1",
           "AICHAT_NO_SKIPS": "1", "AICHAT_FEWER_EXAMPLES": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *DESELECTED,
         *tests],
        cwd=tree, env=env, capture_output=True, text=True, timeout=900, check=False)


def _run_one(tree: Path, mutant: Mutant, stages: list[list[str]], tries: int = 2) -> Outcome:
    """The change made, the tests run, the change undone. A failure counts only if the same
    test passes on the unchanged copy (a test that fails either way is a flaky one: try
    again)."""
    path = tree / mutant.path
    original = path.read_text(encoding="utf-8")
    count = original.count(mutant.old)
    if count != 1:
        return Outcome(mutant, False, f"the text to change occurs {count} times: update the "
                       f"script", 0.0)
    started = time.monotonic()
    by = "every test passed"
    for _ in range(tries):
        path.write_text(original.replace(mutant.old, mutant.new), encoding="utf-8")
        try:
            for stage in stages:
                completed = _pytest(tree, stage)
                if completed.returncode != 0:
                    break
        finally:
            path.write_text(original, encoding="utf-8")
        if completed.returncode == 0:
            return Outcome(mutant, False, "every test passed", time.monotonic() - started)
        by = _first_failure(completed.stdout + completed.stderr)
        if "::" not in by or _pytest(tree, [by]).returncode == 0:
            return Outcome(mutant, True, by, time.monotonic() - started)
        by = f"{by} fails on the unchanged copy too"
    return Outcome(mutant, False, by, time.monotonic() - started)


def run(selected: list[Mutant], workers: int) -> list[Outcome]:
    with tempfile.TemporaryDirectory(prefix="constant-mutants-") as folder:
        trees = [_copy_tree(Path(folder) / str(number)) for number in range(workers)]
        baseline = _pytest(trees[0], TESTS)
        if baseline.returncode != 0:  # once more: a flaky test should not stop the run
            baseline = _pytest(trees[0], TESTS)
        if baseline.returncode != 0:
            sys.exit(f"the unchanged copy fails its tests: "
                     f"{_first_failure(baseline.stdout + baseline.stderr)}")
        chunks = [selected[number::workers] for number in range(workers)]

        def work(number: int) -> list[Outcome]:
            done = []
            for mutant in chunks[number]:
                outcome = _run_one(trees[number], mutant, STAGES)
                print(f"{'caught' if outcome.caught else 'MISSED'} in {outcome.seconds:.0f} s: "
                      f"{mutant.name} ({outcome.by})", file=sys.stderr, flush=True)
                done.append(outcome)
            return done

        with ThreadPoolExecutor(workers) as pool:
            results = [outcome for part in pool.map(work, range(workers)) for outcome in part]
    order = {mutant.name: index for index, mutant in enumerate(selected)}
    return sorted(results, key=lambda outcome: order[outcome.mutant.name])


def table(outcomes: list[Outcome]) -> str:
    caught = sum(outcome.caught for outcome in outcomes)
    lines = [f"{caught} of {len(outcomes)} one-line changes caught "
             f"({sum(o.seconds for o in outcomes):.0f} s of test runs).", "",
             "| change | file | caught | by |", "| --- | --- | --- | --- |"]
    for outcome in outcomes:
        lines.append(f"| {outcome.mutant.name.replace('|', '/')} | `{outcome.mutant.path}` | "
                     f"{'yes' if outcome.caught else '**no**'} | `{outcome.by}` |")
    return "\n".join(lines) + "\n"


BEGIN = "<!-- constant-mutants:begin -->"
END = "<!-- constant-mutants:end -->"


def write_doc(path: Path, text: str) -> None:
    """Replace the part of ``path`` between the markers with ``text``."""
    document = path.read_text(encoding="utf-8")
    start, end = document.index(BEGIN) + len(BEGIN), document.index(END)
    path.write_text(document[:start] + "\n" + text + document[end:], encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run the changes whose name contains this text")
    parser.add_argument("--doc", type=Path, help="write the table into this file's section")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    selected = [m for m in mutants() if not args.only or args.only in m.name]
    outcomes = run(selected, max(1, min(args.workers, len(selected))))
    text = table(outcomes)
    print(text)
    if args.doc:
        write_doc(args.doc, text)
    return 0 if all(outcome.caught for outcome in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
