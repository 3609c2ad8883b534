"""The 2023 module check: the provider module as g4f shipped it in 2023, run unchanged against
the mock, must put on the wire exactly what ``aichat.Aichat`` puts there, and what the contract
says, byte for byte.

Two copies of it: the 2023 tree's (tests/provider/legacy), imported in this process, and the
one g4f 0.0.1.5 shipped, from that release's wheel on the package index, installed as released
into an environment of its own with what it imports at their versions of its release's day
(make test prepares it in .history/ before the tests run, as docs/grading.md says; nothing is
fetched here). The release's module runs there, called by the grader's harness
(mock_server/grade/harness.py), which loads the file with its bare parent packages: the
release's package ``__init__`` files import every other provider and what each needs.

Both call ``https://chat-gpt.org`` as written: they reach the mock through ``aichat_intercept``
(docs/mock-server.md, "Unmodified clients"), the proxy and the CA taken from the environment by
``requests``, as on any machine set up for the mock. Nothing in either is touched.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from aichat import Aichat
from mock_server.core import contract
from mock_server.grade import harness
from mock_server.grade.revisions import Cache, Environment, HistoryError, Revision, environment
from mock_server.testing.remote import RemoteMock
from support import expected
from support.contract_data import HTTP_OWN_HEADERS, seed_headers
from support.paths import ROOT

LEGACY_ROOT = Path(__file__).resolve().parent / "legacy"
LEGACY_MODULE = "gpt4free_2023.Provider.Providers.Aichat"
# The release's card, and the cache make test prepares it in (the Makefile's history-envs).
RELEASE_CARD = ROOT / "tests" / "grade" / "expected" / "g4f-0.0.1.5.json"
HISTORY = Cache(ROOT / ".history", offline=True)

# The golden cases the 2023 module can take: plain string contents, no keyword arguments.
CASES = [case for case in contract.cases()
         if case["request"] is not None and not case["kwargs"]
         and all(isinstance(message.get("content"), str) for message in case["messages"])]

pytestmark = pytest.mark.usefixtures("no_ambient_configuration")


@pytest.fixture
def legacy(monkeypatch: pytest.MonkeyPatch, aichat_intercept: RemoteMock) -> Iterator[ModuleType]:
    """The 2023 module, imported from its 2023 package layout, the mock at its site's address."""
    monkeypatch.syspath_prepend(str(LEGACY_ROOT))
    module = importlib.import_module(LEGACY_MODULE)
    yield module


def assert_the_contracts_bytes(entry: dict[str, Any], request: dict[str, Any]) -> None:
    """The entry is the request the contract describes, as ``requests.post(url, headers=...,
    json=...)`` puts it on the wire inside the tunnel: every header in that order (``Host``
    first, as HTTP sends it), each of the contract's with its value, and the body's bytes. The
    values of the headers HTTP adds itself are the HTTP library's (``Accept-Encoding`` names
    ``br`` only where a brotli library is installed)."""
    sent = [("host", "chat-gpt.org"), *((name.lower(), value) for name, value in seed_headers(
        expected.SITE + request["path"], request["headers"], request["body"]))]
    got = list(entry["headers"].items())
    assert [name for name, _ in got] == [name for name, _ in sent]
    assert [header for header in got if header[0] not in HTTP_OWN_HEADERS] == [
        header for header in sent if header[0] not in HTTP_OWN_HEADERS]
    assert entry["body"] == json.dumps(request["body"])
    assert entry["headers"]["content-length"] == str(len(entry["body"].encode()))
    assert (entry["method"], entry["path"]) == (request["method"], request["path"])
    assert (entry["via"], entry["scheme"], entry["host"]) == ("proxy", "https", "chat-gpt.org")
    assert entry["header_diff"] == {} and entry["violations"] == []


def test_the_2023_module_is_the_seeds(legacy: ModuleType) -> None:
    assert (legacy.url, legacy.model, legacy.supports_stream, legacy.needs_auth) == (
        Aichat.url, Aichat.model, Aichat.supports_stream, Aichat.needs_auth)
    assert legacy.params == Aichat.params == (
        "g4f.Providers.Aichat supports: (model: str, messages: list, stream: bool)")


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_the_2023_module_and_ours_send_the_same_request(legacy: ModuleType,
                                                        aichat_intercept: RemoteMock,
                                                        case: dict[str, Any]) -> None:
    messages = case["messages"]
    aichat_intercept.queue({"message": "from 2023"}, {"message": "from today"})

    assert list(legacy._create_completion("gpt-3.5-turbo", messages, False)) == ["from 2023"]
    assert list(Aichat._create_completion("gpt-3.5-turbo", messages, False)) == ["from today"]

    then, now = aichat_intercept.requests
    assert list(then["headers"].items()) == list(now["headers"].items()), "the same headers"
    assert then["body"] == now["body"], "the same body bytes"
    assert_the_contracts_bytes(then, case["request"])


def test_the_2023_module_reads_the_mocks_echo(legacy: ModuleType,
                                              aichat_intercept: RemoteMock) -> None:
    answer = legacy._create_completion(
        "gpt-3.5-turbo", [{"role": "user", "content": "Hello, how are you?"}], False)
    assert next(answer) == "You said: Hello, how are you?"
    assert len(aichat_intercept.requests) == 1


# --- the module of a release on the package index --------------------------------------------

@pytest.fixture(scope="module")
def release() -> Environment:
    """g4f 0.0.1.5's environment, its Aichat file the one the expected card names (written
    from reading that file, tests/grade/expected) and installed as released."""
    wanted = json.loads(RELEASE_CARD.read_text("utf-8"))
    try:
        read = HISTORY.read(wanted["release"])
        assert (read.path, read.sha256) == (wanted["file"], wanted["sha256"])
        prepared = environment(HISTORY, Revision(wanted["sha256"], wanted["file"], [read]))
    except HistoryError as error:
        pytest.fail(f"{error} (make test prepares it before the tests run)", pytrace=False)
    installed = hashlib.sha256(Path(prepared.target).read_bytes()).hexdigest()
    assert installed == wanted["sha256"], "the installed file is not the release's"
    return prepared


def run_release(release: Environment, messages: list[dict[str, str]]) -> dict[str, Any]:
    """What ``_create_completion`` gave its caller, called once in the release's environment by
    the grader's harness, with this process's environment (the intercept's variables)."""
    call = json.dumps({"messages": messages, "kwargs": {}})
    child = subprocess.run([release.python, harness.__file__, release.target], input=call + "\n",
                           cwd=Path(release.target).parent, capture_output=True, text=True,
                           timeout=60, check=False)
    assert child.returncode == 0, child.stderr
    loaded, outcome = (json.loads(line) for line in child.stdout.splitlines())
    assert (loaded["loaded"], loaded["shape"]) == (True, "_create_completion"), loaded
    result: dict[str, Any] = outcome
    return result


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_g4f_0_0_1_5_from_the_package_index_sends_the_contracts_bytes(
        release: Environment, aichat_intercept: RemoteMock, case: dict[str, Any]) -> None:
    aichat_intercept.reply("from the release")
    outcome = run_release(release, case["messages"])
    assert outcome["outcome"] == "answer" and outcome["answer"] == "from the release", outcome
    [entry] = aichat_intercept.requests
    assert_the_contracts_bytes(entry, case["request"])
