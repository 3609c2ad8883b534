"""aichat/Aichat.py, copied unchanged into a 2023-style g4f tree, works there as
``g4f.Providers.Aichat``: the attributes g4f reads, ``params``, and a real round trip.

The tree is built in a temporary folder and imported by a fresh interpreter, so nothing of
the installed ``aichat`` package can help the copy along.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aichat import Aichat
from support.expected import HEADERS
from support.expected import body as spec_body
from support.fake_site import LoopbackServer, Reply, serving

SOURCE = Path(Aichat.__file__)

# The shape of 2023's g4f: a package whose ChatCompletion drives a provider *module*.
G4F_INIT = '''
from . import Providers


class ChatCompletion:
    @staticmethod
    def create(model, messages, provider, stream=False, auth=False, **kwargs):
        if provider.needs_auth and not auth:
            raise ValueError(f"{provider.__name__} needs auth")
        if not provider.working:
            raise RuntimeError(f"{provider.__name__} is not working")
        if stream and not provider.supports_stream:
            raise ValueError(f"{provider.__name__} does not support streaming")
        result = provider._create_completion(model=model, messages=messages, stream=stream,
                                             auth=auth, **kwargs)
        return result if stream else "".join(result)
'''
PROVIDERS_INIT = "from . import Aichat\n"

PROBE = '''
import json, os, sys
sys.path.insert(0, sys.argv[1])
import g4f
from g4f.Providers import Aichat
messages = [{"role": "user", "content": "Hello from 2023"}]
report = {
    "file": Aichat.__file__,
    "name": Aichat.__name__,
    "params": Aichat.params,
    "url": Aichat.url,
    "model": Aichat.model,
    "supports_stream": Aichat.supports_stream,
    "needs_auth": Aichat.needs_auth,
    "working": Aichat.working,
    "errors": {name: [base.__name__ for base in value.__bases__]
               for name, value in vars(Aichat).items()
               if isinstance(value, type) and issubclass(value, Exception)
               and value.__module__ == Aichat.__name__ and not name.startswith("_")},
    "generator": type(Aichat._create_completion("gpt-3.5-turbo", messages, False)).__name__,
    "reply": g4f.ChatCompletion.create(model="gpt-3.5-turbo", messages=messages,
                                       provider=Aichat),
    "reply_with_base_url": "".join(Aichat._create_completion(
        "gpt-3.5-turbo", messages, False, base_url=os.environ["AICHAT_BASE_URL"])),
}
try:
    g4f.ChatCompletion.create(model="gpt-3.5-turbo", messages=messages, provider=Aichat)
except Aichat.AichatError as error:
    report["error"] = [type(error).__module__, type(error).__name__, error.status_code]
report["aichat_imported"] = "aichat" in sys.modules
print(json.dumps(report))
'''


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    yield from serving()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    providers = tmp_path / "g4f" / "Providers"
    providers.mkdir(parents=True)
    (tmp_path / "g4f" / "__init__.py").write_text(G4F_INIT, encoding="utf-8")
    (providers / "__init__.py").write_text(PROVIDERS_INIT, encoding="utf-8")
    (providers / "Aichat.py").write_bytes(SOURCE.read_bytes())  # unchanged, byte for byte
    return tmp_path


def probe(tree: Path, base_url: str) -> dict[str, Any]:
    env = {name: value for name, value in os.environ.items()
           if name.lower() not in {"http_proxy", "https_proxy", "all_proxy", "no_proxy",
                                   "pythonpath"}}
    env["AICHAT_BASE_URL"] = base_url
    result = subprocess.run([sys.executable, "-c", PROBE, str(tree)], capture_output=True,
                            cwd=tree, env=env, timeout=60, check=False)
    assert result.returncode == 0, result.stderr.decode()
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_the_copy_works_as_a_2023_provider(tree: Path, server: LoopbackServer) -> None:
    server.script(Reply.json({"response": True, "message": "Hi from the site"}),
                  Reply.json({"message": "early answer"}),
                  Reply.text("Internal Server Error", 500))
    report = probe(tree, server.base_url)
    assert Path(report["file"]) == tree / "g4f" / "Providers" / "Aichat.py"
    assert report["name"] == "g4f.Providers.Aichat"
    assert report["aichat_imported"] is False  # the copy stands alone
    assert report["params"] == \
        "g4f.Providers.Aichat supports: (model: str, messages: list, stream: bool)"
    assert (report["url"], report["model"]) == ("https://chat-gpt.org/chat", ["gpt-3.5-turbo"])
    assert (report["supports_stream"], report["needs_auth"], report["working"]) == (
        False, False, True)
    assert report["generator"] == "generator"
    assert report["reply"] == "Hi from the site"
    assert report["reply_with_base_url"] == "early answer"
    assert report["error"] == ["g4f.Providers.Aichat", "AichatHTTPError", 500]
    assert report["errors"] == {
        "AichatError": ["Exception"],
        "AichatInputError": ["AichatError", "ValueError"],
        "AichatConnectionError": ["AichatError"],
        "AichatTimeoutError": ["AichatConnectionError"],
        "AichatHTTPError": ["AichatError"],
        "AichatRateLimitError": ["AichatHTTPError"],
        "AichatBlockedError": ["AichatHTTPError"],
        "AichatResponseError": ["AichatError"],
        "AichatUpstreamError": ["AichatError"],
    }
    # What reached the site is the contract request, wherever the module lives.
    assert len(server.requests) == 3
    for request in server.requests:
        assert {name: value for name, value in request.headers if name in HEADERS} == HEADERS
        assert request.body == json.dumps(spec_body("user: Hello from 2023\nassistant:")).encode()


def imported_modules(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "a relative import would break the drop-in copy"
            names.add((node.module or "").split(".")[0])
    return names


def test_the_module_imports_only_the_standard_library_and_requests() -> None:
    modules = imported_modules(SOURCE.read_text(encoding="utf-8"))
    outside = {name for name in modules if name not in sys.stdlib_module_names}
    assert outside == {"requests", "urllib3"}  # urllib3 is requests' own transport
    assert "__future__" in modules


def test_the_import_check_above_can_fail() -> None:
    modules = imported_modules(textwrap.dedent("""
        import json
        from aichat.client import complete
        import httpx
    """))
    assert {name for name in modules if name not in sys.stdlib_module_names} == {
        "aichat", "httpx"}
    with pytest.raises(AssertionError):
        imported_modules("from . import client")
