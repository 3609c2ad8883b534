"""No network but loopback: an audit hook that refuses, and reports, every connection, datagram
and name lookup that is not for this machine, so that a code path reaching out fails the
test instead of slowing it down or leaking.

In the tests' own process ``GUARD`` is switched on and off by a fixture (audit hooks cannot be
removed: it stays inert while off). ``python -m support.network_guard MODULE ARGS...`` runs
``python -m MODULE ARGS...`` with the guard on from its first line, announcing itself with
``ON`` and each refusal with ``REFUSED`` on standard error, and in the file that the
``NETWORK_GUARD_LOG`` environment variable names, if any (a long output cannot push them out).
"""

from __future__ import annotations

import ipaddress
import os
import runpy
import sys
from typing import Any

LOG_VARIABLE = "NETWORK_GUARD_LOG"
ON = "network guard: on, only loopback is allowed"
REFUSED = "network guard: refused "
LOOPBACK_NAMES = {"localhost", "localhost.", "ip6-localhost"}
# The audit events of a name lookup (their first argument names the host) and of a socket
# reaching an address (their second argument is the address).
LOOKUPS = {"socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex",
           "socket.gethostbyaddr"}
SENDS = {"socket.connect", "socket.sendto", "socket.sendmsg"}


def is_loopback(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.partition("%")[0]).is_loopback
    except ValueError:
        return False


class NetworkGuard:
    def __init__(self) -> None:
        self.active = False
        self.attempts: list[str] = []
        self.log: str | None = None

    def report(self, line: str) -> None:
        print(line, file=sys.stderr, flush=True)
        if self.log:
            with open(self.log, "a", encoding="utf-8") as file:
                file.write(line + "\n")

    def audit(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.active:
            return
        if event in LOOKUPS and args and args[0] is not None:
            host = args[0]
        elif event in SENDS and len(args) > 1 and isinstance(args[1], tuple) and args[1]:
            host = args[1][0]  # an (address, port, ...) tuple; AF_UNIX paths stay local
        else:
            return
        if is_loopback(host):
            return
        attempt = f"{event} to {host!r}"
        self.attempts.append(attempt)
        self.report(REFUSED + attempt)
        raise OSError(f"network access refused (not loopback): {attempt}")


GUARD = NetworkGuard()
sys.addaudithook(GUARD.audit)


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit("usage: python -m support.network_guard MODULE [ARGS...]")
    module = sys.argv[1]
    sys.argv = [module, *sys.argv[2:]]
    GUARD.log = os.environ.get(LOG_VARIABLE)
    GUARD.active = True
    GUARD.report(ON)
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
