"""g4f's API server with the provider in it (``python -m aichat.g4f_api``) as a child process
on a free loopback port, under the network guard (``network_guard.py``): any connection or
name lookup it tries that is not for loopback is refused, and written to a log the test reads.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from aichat.g4f_api import LISTENING
from mock_server.testing.child_process import ChildServer
from support.network_guard import LOG_VARIABLE, ON
from support.paths import ROOT

# What a reader's environment may hold that would send loopback traffic elsewhere.
AMBIENT = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy",
           "all_proxy", "no_proxy", "AICHAT_BASE_URL", "G4F_PROXY", "G4F_PROVIDER")
GUARD_LOG = "network-guard.log"


def guarded_environment(folder: Path, *paths: Path) -> dict[str, str]:
    """This environment for a child under the network guard: ``support`` (and ``paths``)
    importable, the guard's log in ``folder/network-guard.log``, g4f's folders in ``folder``,
    no proxy or base URL from outside."""
    env = {name: value for name, value in os.environ.items() if name not in AMBIENT}
    env.update({
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "tests"), *map(str, paths),
                                                    env.get("PYTHONPATH")])),
        LOG_VARIABLE: str(folder / GUARD_LOG),
        # g4f keeps cookies, usage logs and caches there, by default in the user's home.
        "G4F_CONFIG_DIR": str(folder / "g4f-config"),
        "G4F_CACHE_DIR": str(folder / "g4f-cache"),
    })
    return env


class GuardedApiServer(ChildServer):
    """``python -m aichat.g4f_api --port 0 --base-url BASE_URL`` under the network guard, its
    g4f configuration and cache in ``folder``; ``url`` is the API's base URL (``.../v1``)."""

    def __init__(self, base_url: str, folder: Path) -> None:
        self.guard_log = folder / GUARD_LOG
        super().__init__([sys.executable, "-m", "support.network_guard", "aichat.g4f_api",
                          "--port", "0", "--base-url", base_url],
                         listening=LISTENING, name="the g4f API server",
                         env=guarded_environment(folder))

    def guard_report(self) -> list[str]:
        """What the guard wrote: its ``ON`` line first, then one line per refusal."""
        return self.guard_log.read_text("utf-8").splitlines()

    def assert_nothing_left_the_machine(self) -> None:
        report = self.guard_report()
        assert report[:1] == [ON], f"the network guard was not on in the server: {report}"
        assert report[1:] == [], f"the server tried to leave the machine: {report[1:]}"
