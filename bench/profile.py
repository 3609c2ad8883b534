"""Where the mock's own server spends its time under load: py-spy samples the mock (default
options) while wrk posts the seed request on 16 connections, and the functions are ranked by
the share of samples in which they run themselves (self) and in which they are on the stack
(inclusive). A sample in the kernel (a ``send``, the event loop's wait for the next read) counts
for the Python function that made the call. ``make bench`` publishes the top entries.

    python -m bench.profile [--seconds 10] [--rate 500] [--top 15]
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import Any

from bench import common

# py-spy's frame: "function (file:line)"; only the function and the file are kept.
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*?)(?::\d+)?\)$")
TOP = 15
# Where the event loop hands the server a connection's bytes.
_ENTRY = "Conn.data_received "


def py_spy() -> str | None:
    """py-spy's command, from this environment or the PATH."""
    here = Path(sysconfig.get_path("scripts")) / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


def frame_name(frame: str) -> str:
    """A frame as ``function (file)``, the file relative to the package or the library."""
    found = _FRAME.match(frame)
    if found is None:
        return frame
    path = found["file"]
    for marker in ("/mock_server/", "/site-packages/", "/lib/python"):
        if marker in path:
            path = marker.strip("/") + "/" + path.split(marker, 1)[1]
            break
    return f"{found['function']} ({path.removeprefix('lib/python/').removeprefix('/')})"


def rank(raw: str, top: int = TOP) -> dict[str, Any]:
    """The top functions of py-spy's raw output (``stack;stack;... count`` lines)."""
    own: collections.Counter[str] = collections.Counter()
    on_stack: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = [frame_name(frame) for frame in stack.split(";")]
        own[frames[-1]] += samples
        # On the stack: from the event loop's call into the server down (the frames above
        # it, the command's and the loop's, are on every stack and say nothing).
        below = next((at for at, name in enumerate(frames) if name.startswith(_ENTRY)), -1)
        for name in set(frames[below:] if below >= 0 else frames[-1:]):
            on_stack[name] += samples
    share = (lambda count: count / total) if total else (lambda count: 0.0)
    return {"samples": total,
            "self": [(name, share(count)) for name, count in own.most_common(top)],
            "inclusive": [(name, share(count)) for name, count in on_stack.most_common(top)]}


def run(seconds: float = 10.0, rate: int = 500, top: int = TOP,
        use_wrk: bool = True) -> dict[str, Any]:
    """Profile the mock under 16-connection load; ``{"unavailable": why}`` without py-spy."""
    spy = py_spy()
    if spy is None:
        return {"unavailable": "py-spy is not installed (pip install py-spy)"}
    with common.mock_server() as server, common.workdir("aichat-profile-") as workdir:
        common.run_load(server.url, 16, 2.0, workdir, use_wrk)  # warmed up first
        out = workdir / "profile.txt"
        sampler = subprocess.Popen(
            [spy, "record", "--pid", str(server.process.pid), "--rate", str(rate),
             "--duration", str(max(1, round(seconds))), "--format", "raw", "--output",
             str(out), "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)  # py-spy attaches
        load = common.run_load(server.url, 16, seconds, workdir, use_wrk)
        _, errors = sampler.communicate(timeout=seconds + 60)
        if sampler.returncode != 0 or not out.exists():
            return {"unavailable": f"py-spy failed: {errors.strip()[-200:]}"}
        result = rank(out.read_text(encoding="utf-8", errors="replace"), top)
    result.update(seconds=seconds, rate=rate, rps=load.as_dict()["rps"])
    return result


def rows(result: dict[str, Any]) -> list[list[str]]:
    """The table: rank, the function by self share, by inclusive share."""
    pairs = zip(result["self"], result["inclusive"], strict=False)
    return [[str(number + 1), own[0], f"{own[1]:.1%}", stack[0], f"{stack[1]:.1%}"]
            for number, (own, stack) in enumerate(pairs)]


HEADER = ["#", "function (self)", "share", "function (on the stack)", "share"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=500, help="samples a second")
    parser.add_argument("--top", type=int, default=TOP)
    args = parser.parse_args(argv)
    result = run(args.seconds, args.rate, args.top, common.wrk_path() is not None)
    if "unavailable" in result:
        print(result["unavailable"], file=sys.stderr)
        return 2
    common.print_table(f"the mock under wrk, 16 connections ({result['samples']:,} samples, "
                       f"{result['rps']:,.0f} req/s)", HEADER, rows(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
