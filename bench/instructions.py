"""Machine instructions the mock's server executes per seed request, counted by valgrind's
callgrind: a figure the machine's load cannot move, to compare two versions of the code.

The mock (default server, plus the options given) is started under callgrind twice, once for
``--first`` and once for ``--then`` kept-alive seed requests (each in one write, the provider's
13 headers; with ``--distinct``, each request's question one character longer than the last,
so that no request's head or body was seen before); the difference of the two runs' totals
over the difference of their counts is
what one request costs once the process has started and warmed up. ``PYTHONHASHSEED`` is
fixed, so that the same code gives the same figure run after run (within a few tenths of a
percent). With ``--journal-cap 100`` the journal is full from the first run on, as it is
after a second of ``make bench``'s load (the default cap is 10,000). Needs ``valgrind``
(Debian's package); not part of ``make bench``.

    python -m bench.instructions [--first 200] [--then 1200] [--distinct] [--tree CHECKOUT]
                                 [-- OPTIONS]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from bench import common

# callgrind's totals line in the file it writes when the program exits.
_TOTALS = re.compile(rb"^(?:summary|totals): (\d+)", re.MULTILINE)
START_TIMEOUT = 600.0


def bodies(count: int, distinct: bool) -> list[bytes]:
    """The bodies of ``count`` requests: the seed request's, or (``distinct``) the seed
    request's with a question one character longer each time."""
    if not distinct:
        return [common.seed_body_bytes()] * count
    seed = common.seed_body()
    return [json.dumps({**seed, "message": f"user: Hello{'!' * number}\nassistant:"}).encode()
            for number in range(count)]


def instructions(count: int, mock_args: list[str], out: Path, tree: Path = common.REPO,
                 distinct: bool = False) -> int:
    """All the instructions of a mock that answered ``count`` seed requests (``bodies``),
    then stopped; ``tree``: the checkout whose ``mock_server`` runs."""
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
               sys.executable, "-m", "mock_server", "--port", "0", *mock_args]
    with common.Server("mock under callgrind", command, cwd=tree,
                       env={"PYTHONHASHSEED": "0", "PYTHONPATH": str(tree)},
                       start_timeout=START_TIMEOUT) as server:
        parts = urlsplit(server.url)
        head = "".join(f"{name}: {value}\r\n" for name, value in {
            "Host": parts.netloc, **common.contract_headers()}.items())
        # Each request in one write, as wrk sends it: http.client writes the head and the body
        # apart, and how the server then reads them (at once or not) would hang on the load.
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80),
                                      timeout=120) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            answers = sock.makefile("rb")
            for body in bodies(count, distinct):
                sock.sendall(f"POST {common.API_PATH} HTTP/1.1\r\n{head}Content-Length: "
                             f"{len(body)}\r\n\r\n".encode("latin-1") + body)
                status = answers.readline()
                length = 0
                while (line := answers.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                answers.read(length)
                if not status.startswith(b"HTTP/1.1 200 "):
                    raise RuntimeError(f"the seed request was answered {status!r}")
    found = _TOTALS.search(out.read_bytes())
    if found is None:
        raise RuntimeError(f"callgrind wrote no totals to {out}")
    return int(found.group(1))


def per_request(first: int, then: int, mock_args: list[str], keep: Path | None = None,
                tree: Path = common.REPO, distinct: bool = False) -> float:
    """Instructions per request between ``first`` and ``then`` requests; ``keep``: where to
    leave the longer run's callgrind file (for ``callgrind_annotate``)."""
    with tempfile.TemporaryDirectory(prefix="aichat-callgrind-") as folder:
        short = instructions(first, mock_args, Path(folder) / "short.out", tree, distinct)
        long_out = keep or Path(folder) / "long.out"
        long = instructions(then, mock_args, long_out, tree, distinct)
    return (long - short) / (then - first)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first", type=int, default=200, help="requests of the first run")
    parser.add_argument("--then", type=int, default=1200, help="requests of the second run")
    parser.add_argument("--keep", type=Path, metavar="FILE",
                        help="leave the second run's callgrind file here")
    parser.add_argument("--distinct", action="store_true",
                        help="a new question of a new length in every request")
    parser.add_argument("--tree", type=Path, default=common.REPO,
                        help="the checkout of the project to measure (another version)")
    parser.add_argument("mock_args", nargs="*", help="options of the mock (after --)")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    if not 0 <= args.first < args.then:
        parser.error("--then must be more than --first")
    figure = per_request(args.first, args.then, args.mock_args, args.keep, args.tree,
                         args.distinct)
    print(f"{figure:,.0f} instructions per request "
          f"({' '.join(args.mock_args) or 'default options'}"
          f"{'; each request new' if args.distinct else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
