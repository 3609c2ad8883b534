"""``make demo-api``: an OpenAI client, g4f's API server, the Aichat provider and the site, all
on this machine. Starts the mock on a free port and g4f's API server with the provider in it
(``python -m aichat.g4f_api``) on 1337, asks one question with the official ``openai`` SDK and
the same with ``curl``, prints the answers and the requests the mock recorded, stops both.

It needs the ``g4f`` extra and the ``openai`` package (both in the ``dev`` extra) and ``curl``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

from aichat.g4f_api import DEFAULT_PORT, INTERRUPTED, LISTENING, NAME

from ..testing.child_process import ChildServer, MockProcess
from .demo import bypassing_proxies

QUESTION = "Hello, how are you?"
MODEL = "gpt-3.5-turbo"


def ask_with_openai(api_url: str) -> str:
    from openai import OpenAI

    print(f'>>> client = OpenAI(base_url="{api_url}", api_key="none")')
    print(f">>> client.chat.completions.create(model={MODEL!r}, messages=[{{'role': 'user', "
          f"'content': {QUESTION!r}}}], extra_body={{'provider': {NAME!r}}})")
    with OpenAI(base_url=api_url, api_key="none", max_retries=0, timeout=60) as client:
        answer = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": QUESTION}],
            extra_body={"provider": NAME})
    return str(answer.choices[0].message.content)


def ask_with_curl(api_url: str, env: dict[str, str]) -> str:
    body = json.dumps({"provider": NAME, "model": MODEL,
                       "messages": [{"role": "user", "content": QUESTION}]})
    command = ["curl", "-sS", "--max-time", "60", f"{api_url}/chat/completions",
               "-H", "Content-Type: application/json", "-d", body]
    print(f"$ {shlex.join(command)}")
    done = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False,
                          env=env)
    if done.returncode != 0:
        raise RuntimeError(f"curl failed ({done.returncode}): {done.stderr.strip()}")
    print(done.stdout.strip())
    answer: dict[str, Any] = json.loads(done.stdout)
    return str(answer["choices"][0]["message"]["content"])


def show_recorded(mock: MockProcess) -> None:
    journal = mock.mock.journal("/api/text")
    print(f"\nthe requests the mock recorded ({journal['total']}):")
    for entry in journal["requests"]:
        print(f"{entry['method']} {entry['path']} -> {entry['status']}")
        print(f"  body: {json.dumps(entry['json'], ensure_ascii=False)}")
        print(f"  contract breaches: {entry['violations'] or 'none'}; "
              f"header differences: {entry['header_diff'] or 'none'}")
    print("the headers of the last one:")
    for name, value in journal["requests"][-1]["headers"].items():
        print(f"  {name}: {value}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mock_server.serve.demo_api",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"the API server's port (default {DEFAULT_PORT}; 0 for a free one)")
    args = parser.parse_args(argv)
    if shutil.which("curl") is None:
        print("demo-api: curl is not installed (apt-get install curl)", file=sys.stderr)
        return 1
    try:
        import openai  # noqa: F401  # the demo's client, checked before anything starts
    except ImportError:
        print("demo-api: the openai package is not installed: pip install openai",
              file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="demo-api-") as folder, MockProcess() as mock:
        print(f"mock server: {mock.url}")
        # g4f keeps cookies, usage logs and caches in its folders: the demo leaves none behind.
        env = {**bypassing_proxies(mock.url), "G4F_CONFIG_DIR": os.path.join(folder, "config"),
               "G4F_CACHE_DIR": os.path.join(folder, "cache")}
        command = [sys.executable, "-m", "aichat.g4f_api", "--port", str(args.port),
                   "--base-url", mock.url]
        print(f"$ python -m aichat.g4f_api {shlex.join(command[3:])}")
        with ChildServer(command, listening=LISTENING, name="g4f's API server",
                         env=env) as api:
            print(f"g4f's API server: {api.url}\n")
            os.environ.update(bypassing_proxies(api.url))
            try:
                by_sdk = ask_with_openai(api.url)
                print(f"answer: {by_sdk}\n")
                by_curl = ask_with_curl(api.url, dict(os.environ))
                print(f"answer: {by_curl}")
            except Exception as error:  # the demo's one line; the server's log says more
                print(f"demo-api: the question failed: {type(error).__name__}: {error}; "
                      f"the server's log: {api.tail(5)}", file=sys.stderr)
                return 1
            show_recorded(mock)
            # As Ctrl-C stops it: uvicorn lets the requests in flight end, then it exits.
            stopped = api.stop(signal.SIGINT) == INTERRUPTED
        print(f"\ng4f's API server stopped ({'cleanly' if stopped else api.tail(5)})")
    print(f"mock server stopped (exit status {mock.returncode})")
    return 0 if stopped and mock.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
