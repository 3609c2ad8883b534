"""``make demo``: start the mock on a free port, ask it a question through the provider's
``aichat`` command, print the answer and the request the mock recorded, stop the mock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from urllib.parse import urlsplit

from ..testing.child_process import MockProcess

QUESTION = "Hello, how are you?"


def bypassing_proxies(url: str) -> dict[str, str]:
    """This environment with ``url``'s host added to ``NO_PROXY``: a proxy the user has set
    would not reach the mock on loopback."""
    env = dict(os.environ)
    for name in ("NO_PROXY", "no_proxy"):
        env[name] = ",".join(filter(None, [urlsplit(url).hostname, env.get(name)]))
    return env


def main() -> int:
    with MockProcess() as process:
        print(f"mock server: {process.url}")
        print(f"$ aichat --base-url {process.url} {QUESTION!r}")
        ask = subprocess.run(
            [sys.executable, "-m", "aichat", "--base-url", process.url, QUESTION],
            capture_output=True, text=True, timeout=60, check=False,
            env=bypassing_proxies(process.url))
        if ask.returncode != 0:
            print(f"aichat failed ({ask.returncode}): {ask.stderr.strip()}", file=sys.stderr)
            return 1
        print(f"answer: {ask.stdout.strip()}")
        journal = process.mock.journal("/api/text")
        entry = journal["requests"][-1]
        print(f"\nthe request the mock recorded ({journal['total']} in all):")
        print(f"{entry['method']} {entry['path']}")
        for name, value in entry["headers"].items():
            print(f"  {name}: {value}")
        print("body:")
        print(json.dumps(entry["json"], indent=2, ensure_ascii=False))
        print(f"contract breaches: {entry['violations'] or 'none'}; "
              f"header differences: {entry['header_diff'] or 'none'}")
    print(f"mock server stopped (exit status {process.returncode})")
    return 0 if process.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
