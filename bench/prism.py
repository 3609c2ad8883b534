"""Stoplight Prism, the reference mock server: installed from npm into ``bench/.node`` (git
ignored) by ``make bench``, then run offline on ``contract/openapi.json``.

``python -m bench.prism --install`` installs it; ``available()`` says whether it can run, and
why not when it cannot.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys

from bench import common

PACKAGE = "@stoplight/prism-cli"
# The major version the figures were taken with; a newer major may behave differently.
SPEC = f"{PACKAGE}@5"


def node_version() -> str | None:
    node = shutil.which("node")
    if node is None:
        return None
    done = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip() or None


def installed_version() -> str | None:
    return common.npm_package_version(common.NODE_DIR / "node_modules" / "@stoplight" / "prism-cli")


def available() -> tuple[bool, str]:
    """(whether Prism can run, its version or the reason it cannot)."""
    if shutil.which("node") is None:
        return False, "node is not installed"
    version = installed_version()
    if version is None or not common.PRISM_BIN.exists():
        reason = ("npm is not installed" if shutil.which("npm") is None
                  else f"{PACKAGE} is not installed in bench/.node (make bench installs it)")
        return False, reason
    return True, version


def install() -> tuple[bool, str]:
    """Install Prism with npm unless it is there already; (success, version or reason)."""
    ok, detail = available()
    if ok:
        return ok, detail
    failed = common.npm_install(SPEC)
    return (False, failed) if failed else available()


def command(port: int) -> list[str]:
    node = shutil.which("node") or "node"
    # Default settings, as a user would start it; its per-request log goes to our drain.
    return [node, str(common.PRISM_BIN), "mock", str(common.OPENAPI), "-p", str(port),
            "-h", "127.0.0.1"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--install", action="store_true", help="npm install it when missing")
    args = parser.parse_args(argv)
    ok, detail = install() if args.install else available()
    print(f"Prism: {detail}" if ok else f"Prism: not available ({detail})")
    return 0  # a missing Prism is reported in the table, never a failure of the bench


if __name__ == "__main__":
    sys.exit(main())
