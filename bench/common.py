"""What the benchmark and soak scripts share: the seed request, servers in child processes,
their memory, the load generators (wrk, or a bounded Python one), and the machine's facts."""

from __future__ import annotations

import contextlib
import functools
import http.client
import json
import os
import platform
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from aichat import Aichat
from mock_server.testing.remote import RemoteMock

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
WRK_SCRIPT = BENCH / "wrk_post.lua"
NODE_DIR = BENCH / ".node"
PRISM_BIN = NODE_DIR / "node_modules" / ".bin" / "prism"
OPENAPI = REPO / "contract" / "openapi.json"
DOC = REPO / "docs" / "benchmarks.md"
API_PATH = Aichat.API_PATH
SEED_MESSAGES: list[dict[str, Any]] = [{"role": "user", "content": "Hello"}]
LISTENING_LINE = re.compile(r"listening on (http://\S+)")
START_TIMEOUT = 60.0


def npm_package_version(package_dir: Path) -> str | None:
    """The version of an npm package installed in ``package_dir``, or ``None``."""
    try:
        found: str = json.loads((package_dir / "package.json").read_text("utf-8"))["version"]
    except (OSError, ValueError, KeyError):
        return None
    return found


def npm_install(spec: str) -> str | None:
    """``npm install spec`` into ``NODE_DIR``; ``None`` when it worked, else why not."""
    npm = shutil.which("npm")
    if npm is None:
        return "npm is not installed"
    NODE_DIR.mkdir(parents=True, exist_ok=True)
    # A package.json of its own keeps npm from looking for one further up the tree.
    manifest = NODE_DIR / "package.json"
    if not manifest.exists():
        manifest.write_text('{"name": "aichat-bench-node", "private": true}\n', encoding="utf-8")
    try:
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix",
             str(NODE_DIR), spec], capture_output=True, text=True, check=False, timeout=300)
    except subprocess.TimeoutExpired:
        return "npm install took over 300 s"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return f"npm install failed: {last[:160]}"
    return None


def seed_body() -> dict[str, Any]:
    """The body the provider sends for the seed's one-message conversation, defaults and all."""
    body: dict[str, Any] = {"message": Aichat.flatten(SEED_MESSAGES)}
    body.update({name: default for name, (default, _, _) in Aichat.PARAMETERS.items()})
    return body


def seed_body_bytes() -> bytes:
    # requests' json= encoding, so that every client puts the same bytes on the wire.
    return json.dumps(seed_body()).encode("utf-8")


def contract_headers() -> dict[str, str]:
    """The provider's 13 headers, from the provider itself."""
    return dict(Aichat.HEADERS)


def write_request_file(directory: Path) -> Path:
    """The request file ``wrk_post.lua`` reads: the body on one line, then the headers."""
    path = directory / "request.txt"
    lines = [seed_body_bytes().decode("utf-8")]
    lines += [f"{name}: {value}" for name, value in contract_headers().items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(host: str, port: int, timeout: float = START_TIMEOUT,
                  process: subprocess.Popen[Any] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode}")
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {host}:{port} after {timeout:g} s")


# --- servers in child processes ---------------------------------------------------------------

class Server:
    """A server in a child process (its own process group), its URL read from its output or
    given; the output is drained all along and its last lines kept for error messages."""

    def __init__(self, name: str, command: Sequence[str], *, url: str | None = None,
                 pass_fds: Sequence[int] = (), env: Mapping[str, str] | None = None,
                 cwd: Path = REPO, start_timeout: float = START_TIMEOUT) -> None:
        self.name = name
        self.output: deque[str] = deque(maxlen=100)
        self._urls: queue.Queue[str | None] = queue.Queue()
        self.process = subprocess.Popen(
            list(command), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace",
            pass_fds=tuple(pass_fds), cwd=cwd, start_new_session=True,
            env={**os.environ, **(env or {})})
        assert self.process.stdout is not None
        self._drain = threading.Thread(target=self._read, args=(self.process.stdout,),
                                       daemon=True)
        self._drain.start()
        try:
            self.url = url if url is not None else self._wait_for_url(start_timeout)
            parts = urlsplit(self.url)
            wait_for_port(parts.hostname or "127.0.0.1", parts.port or 80, start_timeout,
                          self.process)
        except BaseException:
            self.stop()
            raise

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.output.append(line.rstrip("\n"))
            match = LISTENING_LINE.search(line)
            if match:
                self._urls.put(match.group(1))
        self._urls.put(None)

    def _wait_for_url(self, timeout: float) -> str:
        try:
            found = self._urls.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"{self.name} printed no URL within {timeout:g} s: "
                               f"{self.tail()}") from None
        if found is None:
            raise RuntimeError(f"{self.name} exited before listening: {self.tail()}")
        return found

    def tail(self, lines: int = 15) -> str:
        return " | ".join(list(self.output)[-lines:]) or "(no output)"

    def pids(self) -> list[int]:
        """The server's process and all its descendants (workers)."""
        return process_tree(self.process.pid)

    def rss_bytes(self) -> int:
        return sum(rss_of(pid) for pid in self.pids())

    def kill(self) -> None:
        """SIGKILL to every process of the server at once, as a crash would end it."""
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self._drain.join(timeout=5)

    def stop(self, timeout: float = 15.0) -> int:
        if self.process.poll() is None:
            # SIGINT: gunicorn's quick stop; kept-alive client connections would hold SIGTERM.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._drain.join(timeout=5)
        return self.process.returncode

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def mock_server(args: Sequence[str] = (), name: str = "mock") -> Server:
    """``python -m mock_server --port 0`` with its default server, plus ``args``."""
    return Server(name, [sys.executable, "-m", "mock_server", "--port", "0", *args])


def mock_options() -> set[str]:
    """The long options ``aichat-mock`` takes in this checkout (some arrive over time)."""
    from mock_server.serve.cli import build_parser

    return {option for action in build_parser()._actions for option in action.option_strings
            if option.startswith("--")}


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name in parentheses may hold spaces; the parent pid follows it.
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def rss_of(pid: int) -> int:
    """Resident set size of one process in bytes (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


# --- the mock's admin API ---------------------------------------------------------------------

@functools.cache
def remote(url: str) -> RemoteMock:
    """The client of the admin API of the mock at ``url``, one per URL for the whole run (its
    connection is kept apart from the load's)."""
    return RemoteMock(url, timeout=60)


def journal_total(url: str, path: str | None = None) -> int:
    return remote(url).journal(path, limit=0)["total"]


def settled_total(url: str, expected: int | None = None, timeout: float = 10.0) -> int:
    """The journal's total once requests still in flight have landed: it stops changing (or
    reaches ``expected``)."""
    return settle(lambda: journal_total(url), expected, timeout)


def settle(count: Callable[[], int], expected: int | None = None,
           timeout: float = 10.0) -> int:
    """What ``count()`` says once it stops changing (and reaches ``expected``, if given)."""
    deadline = time.monotonic() + timeout
    last = count()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = count()
        if now == last and (expected is None or now >= expected):
            return now
        last = now
    return last


# --- load generators --------------------------------------------------------------------------

@dataclass
class LoadResult:
    """One load run: what was sent, what came back, how fast."""

    tool: str
    connections: int
    seconds: float
    sent: int
    completed: int
    errors: int
    non_2xx: int
    rps: float
    p50_ms: float
    p99_ms: float
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def wrk_path() -> str | None:
    return shutil.which("wrk")


def wrk_version() -> str:
    path = wrk_path()
    if path is None:
        return "not installed"
    done = subprocess.run([path, "-v"], capture_output=True, text=True, check=False)
    match = re.search(r"wrk (\S+)", done.stdout + done.stderr)
    return match.group(1) if match else "unknown"


def run_wrk(url: str, connections: int, seconds: float, workdir: Path,
            timeout_s: float = 10.0, distinct: bool = False) -> LoadResult:
    """wrk posting the seed request for ``seconds`` over ``connections`` connections;
    ``distinct``: a new question in every request (``wrk_post.lua``)."""
    path = wrk_path()
    assert path is not None
    threads = 1 if connections == 1 else 2
    request_file = write_request_file(workdir)
    command = [path, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
               f"--timeout={timeout_s:g}s", "-s", str(WRK_SCRIPT), url + API_PATH, "--",
               str(request_file), *(["distinct"] if distinct else [])]
    done = subprocess.run(command, capture_output=True, text=True, check=False,
                          timeout=seconds + 60)
    line = next((item for item in done.stdout.splitlines() if item.startswith("BENCH_JSON ")),
                None)
    if line is None:
        raise RuntimeError(f"wrk printed no result (status {done.returncode}): "
                           f"{done.stdout[-500:]} {done.stderr[-500:]}")
    data = json.loads(line[len("BENCH_JSON "):])
    duration = data["duration_us"] / 1e6
    errors = (data["connect_errors"] + data["read_errors"] + data["write_errors"]
              + data["timeouts"])
    return LoadResult(
        tool="wrk", connections=connections, seconds=duration, sent=data["sent"],
        completed=data["completed"], errors=errors, non_2xx=data["non_2xx_3xx"],
        rps=data["completed"] / duration if duration else 0.0,
        p50_ms=data["p50_us"] / 1000, p99_ms=data["p99_us"] / 1000,
        extra={"p90_ms": data["p90_us"] / 1000, "max_ms": data["max_us"] / 1000})


def run_python_load(url: str, connections: int, seconds: float,
                    max_requests: int | None = None,
                    connect: Callable[[], http.client.HTTPConnection] | None = None
                    ) -> LoadResult:
    """The fallback load generator: ``connections`` threads, each posting the seed request on
    one kept-alive ``http.client`` connection until the time or request budget is spent.
    It shares the GIL with itself, so it measures less than wrk would. ``connect`` makes each
    thread's connection (a TLS tunnel through a proxy, say); by default, to ``url``."""
    parts = urlsplit(url)
    body, headers = seed_body_bytes(), contract_headers()
    deadline = time.monotonic() + seconds
    budget = [max_requests if max_requests is not None else 1 << 62]
    lock = threading.Lock()
    latencies: list[float] = []
    counts = {"sent": 0, "completed": 0, "errors": 0, "non_2xx": 0}

    def take() -> bool:
        with lock:
            if budget[0] <= 0:
                return False
            budget[0] -= 1
            return True

    def worker() -> None:
        mine: list[float] = []
        connection: http.client.HTTPConnection | None = None
        try:
            while time.monotonic() < deadline and take():
                if connection is None:
                    connection = connect() if connect else http.client.HTTPConnection(
                        parts.hostname or "127.0.0.1", parts.port, timeout=30)
                start = time.perf_counter()
                try:
                    with lock:
                        counts["sent"] += 1
                    connection.request("POST", API_PATH, body=body, headers=headers)
                    response = connection.getresponse()
                    response.read()
                except (OSError, http.client.HTTPException):
                    connection.close()
                    connection = None
                    with lock:
                        counts["errors"] += 1
                    continue
                mine.append(time.perf_counter() - start)
                with lock:
                    counts["completed"] += 1
                    if not 200 <= response.status < 300:
                        counts["non_2xx"] += 1
        finally:
            if connection is not None:
                connection.close()
            with lock:
                latencies.extend(mine)

    started = time.perf_counter()
    workers = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(seconds + 120)
    elapsed = time.perf_counter() - started
    latencies.sort()
    return LoadResult(
        tool="python", connections=connections, seconds=elapsed, sent=counts["sent"],
        completed=counts["completed"], errors=counts["errors"], non_2xx=counts["non_2xx"],
        rps=counts["completed"] / elapsed if elapsed else 0.0,
        p50_ms=percentile(latencies, 50) * 1000, p99_ms=percentile(latencies, 99) * 1000)


def run_load(url: str, connections: int, seconds: float, workdir: Path,
             use_wrk: bool, distinct: bool = False) -> LoadResult:
    """A load of seed requests (``distinct``: a new question in each, with wrk only)."""
    if use_wrk:
        return run_wrk(url, connections, seconds, workdir, distinct=distinct)
    return run_python_load(url, connections, seconds)


def percentile(ordered: Sequence[float], share: float) -> float:
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(share / 100 * len(ordered)) - 1))
    return ordered[index]


# --- results and the machine ------------------------------------------------------------------

@contextlib.contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=prefix) as path:
        yield Path(path)


def write_json(path: str | None, data: Any) -> None:
    if path:
        Path(path).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, Any]:
    """The facts that make figures comparable: CPU, cores, memory, OS, versions, load."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
    system = f"{platform.system()} {platform.release()}"
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                system = f"{line.split('=', 1)[1].strip(chr(34))}, kernel {platform.release()}"
    packages = ["flask", "werkzeug", "httptools", "uvloop", "gunicorn", "gevent", "granian",
                "waitress", "requests", "urllib3", "hypothesis"]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory / 2**30, 1),
        "os": system,
        "python": platform.python_version(),
        "packages": {name: package_version(name) for name in packages},
        "wrk": wrk_version(),
        "load_average": [round(value, 2) for value in os.getloadavg()],
    }


def mib(size: float) -> str:
    return f"{size / 2**20:.1f} MiB"


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]],
                stream: IO[str] = sys.stdout) -> None:
    print(f"\n{title}", file=stream)
    print(markdown_table(header, rows), file=stream, flush=True)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
