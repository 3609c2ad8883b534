"""WireMock, the reference mock server of the JVM world: its standalone jar comes with the npm
package ``wiremock``, installed into ``bench/.node`` (git ignored) by ``make bench`` as Prism is,
and runs on the machine's Java (Debian's ``default-jre-headless``, which ``make bench`` installs
when ``java`` is missing).

It serves one stub, ``POST /api/text`` answering what the mock answers the seed request, with
its request journal on (WireMock's default), so that both sides record every request.
``python -m bench.wiremock --install`` installs it; ``available()`` says whether it can run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

from bench import common

PACKAGE = "wiremock"
# The major version the figures were taken with.
SPEC = f"{PACKAGE}@3"
PACKAGE_DIR = common.NODE_DIR / "node_modules" / PACKAGE
# WireMock is warmed up this long before it is measured: the JVM compiles its hot code first.
WARMUP_S = 30.0
STUB = {
    "request": {"method": "POST", "url": "/api/text"},
    "response": {"status": 200, "headers": {"Content-Type": "application/json"},
                 "body": '{"response": true, "message": "You said: Hello"}'},
}


def jar() -> Path | None:
    found = sorted((PACKAGE_DIR / "build").glob("wiremock-standalone-*.jar"))
    return found[-1] if found else None


def installed_version() -> str | None:
    return common.npm_package_version(PACKAGE_DIR)


def java_version() -> str | None:
    java = shutil.which("java")
    if java is None:
        return None
    done = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    first = (done.stderr or done.stdout).strip().splitlines()
    return first[0] if first else None


def available() -> tuple[bool, str]:
    """(whether WireMock can run, its version or the reason it cannot)."""
    if shutil.which("java") is None:
        return False, "java is not installed (apt-get install default-jre-headless)"
    version = installed_version()
    if version is None or jar() is None:
        reason = ("npm is not installed" if shutil.which("npm") is None
                  else f"{PACKAGE} is not installed in bench/.node (make bench installs it)")
        return False, reason
    return True, version


def install() -> tuple[bool, str]:
    """Install WireMock's npm package unless it is there; (success, version or reason)."""
    ok, detail = available()
    if ok or shutil.which("java") is None:
        return ok, detail
    failed = common.npm_install(SPEC)
    return (False, failed) if failed else available()


def root_dir(folder: Path) -> Path:
    """WireMock's root folder with the one stub."""
    (folder / "mappings").mkdir(parents=True, exist_ok=True)
    (folder / "__files").mkdir(exist_ok=True)
    (folder / "mappings" / "api_text.json").write_text(json.dumps(STUB), encoding="utf-8")
    return folder


def command(port: int, root: Path) -> list[str]:
    found = jar()
    assert found is not None
    # Default settings (journal on, default heap), as a user would start it.
    return [shutil.which("java") or "java", "-jar", str(found), "--port", str(port),
            "--bind-address", "127.0.0.1", "--root-dir", str(root), "--disable-banner"]


def _call(url: str, method: str, body: bytes | None = None) -> dict[str, object]:
    request = urllib.request.Request(url, data=body, method=method,
                                     headers={"Content-Type": "application/json"})
    # Loopback only: no proxy of the environment.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=60) as response:
        text = response.read()
    return json.loads(text) if text else {}


def clear_journal(url: str) -> None:
    _call(url + "/__admin/requests", "DELETE")


def journal_total(url: str) -> int:
    found = _call(url + "/__admin/requests/count", "POST",
                  json.dumps({"method": "POST", "url": "/api/text"}).encode())
    count = found.get("count")
    return count if isinstance(count, int) else -1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--install", action="store_true", help="npm install it when missing")
    args = parser.parse_args(argv)
    ok, detail = install() if args.install else available()
    print(f"WireMock: {detail} on {java_version()}" if ok
          else f"WireMock: not available ({detail})")
    return 0  # a missing WireMock is reported in the table, never a failure of the bench


if __name__ == "__main__":
    sys.exit(main())
