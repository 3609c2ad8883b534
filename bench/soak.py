"""Reliability runs of the mock and the provider (``make soak``), loopback only, each bounded
in requests and time:

1. mixed load: 16 clients x 10,000 requests, good, bad and answered by scripted faults queued
   all along, each marked in its query string; the JSON-lines journal must hold every request
   exactly once with the status the client saw, and no 5xx may appear outside scripted faults;
2. fuzz: 10,000 hypothesis-made bodies, none answered with a 5xx, all journaled;
3. crash: the mock killed with SIGKILL under load and started again on the same JSON-lines
   file and SQLite store: every request it answered before the kill is still readable;
4. provider: ``Aichat._create_completion`` with retries on through every fault, each call
   under a wall-clock guard: the right error or reply, never a hang past its timeout;
5. attacks (docs/mock-server.md, Limits): 10,000 connections held at once (idle, with
   unfinished headers, with an unfinished body) while a normal request goes out every quarter
   second; each is cut by the
   mock at its timeout; then a 200 MiB chunked admin body, 300 requests with 512 KB of
   headers and foreign Host headers. Measured: the connections held, the normal request's
   latency meanwhile, the mock's RSS growth, and the journal (no entry lost);
6. storage (docs/mock-server.md, Storage faults): the mock started as a user starts it, with
   ``--journal FILE`` and with ``--store sqlite:PATH``, under a full disk (its file-size
   limit set from outside with ``prlimit`` at its files' sizes, then lifted: the space coming
   back), with secrets in the
   requests' headers; then a torn last line in a journal file and another program's SQLite
   file at start. Checked: every request answered (no 5xx), the health degraded and back, no
   line glued to another, every entry kept or counted lost, no secret on disk or in the
   journal, the files the owner's alone, the foreign file refused and untouched;
7. conformance (docs/mock-server.md, HTTP conformance): the suite that holds the mock's own
   server to a reference parser (tests/mock/serve/test_conformance.py), with 2,000 streams of
   each kind instead of make test's 60: the counts of what was compared.

Prints one summary table and exits 1 when a check failed.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import http.client
import itertools
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aichat import Aichat
from bench import common

ECHO = "You said: "
FIVE_XX_FAULTS = {"server_error", "bad_gateway", "unavailable"}


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    seconds: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)


def connect(url: str, timeout: float = 30.0) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    return http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port,
                                      timeout=timeout)


def good_body(marker: str) -> bytes:
    body = common.seed_body()
    body["message"] = Aichat.flatten([{"role": "user", "content": f"soak {marker}"}])
    return json.dumps(body).encode("utf-8")


def marker_of(entry: dict[str, Any]) -> str | None:
    values = parse_qs(entry.get("query") or "").get("soak")
    return values[0] if values else None


# --- 1. mixed load ---------------------------------------------------------------------------

# (kind, weight, method, path, body maker, expected status; None: 200 or a scripted answer)
Kind = tuple[str, float, str, str, Callable[[str], bytes], int | None]
OVERSIZE = b'{"message": "' + b"a" * ((1 << 20) + 1024) + b'"}'
KINDS: list[Kind] = [
    ("good", 0.7595, "POST", "/api/text", good_body, None),
    ("chat_page", 0.03, "GET", "/chat", lambda marker: b"", 200),
    ("not_json", 0.04, "POST", "/api/text", lambda marker: b"{not json", 400),
    ("array", 0.03, "POST", "/api/text", lambda marker: b"[1, 2]", 400),
    ("no_message", 0.03, "POST", "/api/text", lambda marker: b'{"temperature": 1}', 400),
    ("bad_param", 0.04, "POST", "/api/text",
     lambda marker: b'{"message": "user: x\\nassistant:", "temperature": "hot"}', 400),
    ("not_utf8", 0.02, "POST", "/api/text", lambda marker: b'{"message": "\xff\xfe"}', 400),
    ("get_api", 0.02, "GET", "/api/text", lambda marker: b"", 405),
    ("put_chat", 0.01, "PUT", "/chat", lambda marker: b"{}", 405),
    ("not_found", 0.02, "POST", "/nowhere", lambda marker: b"{}", 404),
    ("oversize", 0.0005, "POST", "/api/text", lambda marker: OVERSIZE, 413),
]
# Scripted replies fed to the queue while the load runs; a valid request takes the next one.
SCRIPTED: list[dict[str, Any]] = [
    {"fault": "server_error"}, {"fault": "bad_gateway"}, {"fault": "unavailable",
                                                          "retry_after": 1},
    {"fault": "rate_limit", "retry_after": 1}, {"fault": "cloudflare"},
    {"fault": "upstream_error"}, {"fault": "malformed_json"}, {"fault": "html"},
    {"fault": "empty_body"}, {"fault": "disconnect"},
    {"message": "scripted after a delay", "delay_ms": 20},
    {"message": "scripted 201", "status": 201},
]


@dataclass
class Sent:
    kind: str
    status: int | None  # None: the connection broke without an answer
    echo: bool  # a 200 answer with this request's own echo


def mixed_client(url: str, client: int, count: int, seed: int, out: dict[str, Sent],
                 progress: list[int], lock: threading.Lock) -> None:
    rng = random.Random(seed * 1000 + client)
    headers = common.contract_headers()
    weights = [kind[1] for kind in KINDS]
    connection = connect(url)
    try:
        for number in range(count):
            name, _, method, path, make, _ = rng.choices(KINDS, weights)[0]
            marker = f"c{client:02d}-{number:06d}"
            body = make(marker)
            status: int | None = None
            echo = False
            try:
                connection.request(method, f"{path}?soak={marker}", body=body or None,
                                   headers=headers if body else {})
                response = connection.getresponse()
                data = response.read()
                status = response.status
                if status == 200 and name == "good":
                    try:
                        echo = json.loads(data).get("message") == f"{ECHO}soak {marker}"
                    except (ValueError, AttributeError):
                        echo = False
                if response.will_close:
                    connection.close()
            except (OSError, http.client.HTTPException):
                connection.close()  # the disconnect fault, or a refused oversize body
            out[marker] = Sent(name, status, echo)
            with lock:
                progress[0] += 1
    finally:
        connection.close()


def feeder(url: str, stop: threading.Event, rng: random.Random, fed: list[int]) -> None:
    """Queues a few scripted replies now and four times a second until told to stop."""
    while True:
        batch = [dict(rng.choice(SCRIPTED)) for _ in range(5)]
        common.remote(url).queue(*batch)
        fed[0] += len(batch)
        if stop.wait(0.25):
            return


def mixed_load(clients: int, per_client: int, seed: int, tmp: Path) -> Check:
    started = time.monotonic()
    journal_file = tmp / "mixed.jsonl"
    out: dict[str, Sent] = {}
    progress, fed = [0], [0]
    lock = threading.Lock()
    total_requests = clients * per_client
    with common.mock_server(["--journal", str(journal_file),
                             "--journal-cap", str(total_requests + 1000)]) as mock:
        stop = threading.Event()
        feed = threading.Thread(target=feeder, args=(mock.url, stop, random.Random(seed), fed),
                                daemon=True)
        feed.start()
        workers = [threading.Thread(target=mixed_client,
                                    args=(mock.url, client, per_client, seed, out, progress,
                                          lock), daemon=True) for client in range(clients)]
        for thread in workers:
            thread.start()
        # Stop feeding faults before the end, so that every queued reply gets used.
        while progress[0] < 0.85 * total_requests and any(t.is_alive() for t in workers):
            time.sleep(0.2)
        stop.set()
        feed.join(30)
        for thread in workers:
            thread.join(900)
        hung = sum(thread.is_alive() for thread in workers)
        left = len(common.remote(mock.url).queued)
        total = common.settled_total(mock.url, len(out))
        tail = common.remote(mock.url).journal(limit=1000)["requests"]
        code = mock.stop()
    entries, torn = read_jsonl(journal_file)
    consumed = fed[0] - left
    problems: list[str] = []
    if hung:
        problems.append(f"{hung} clients still running")
    seen = Counter(marker_of(entry) for entry in entries)
    lost = [marker for marker in out if seen[marker] == 0]
    duplicated = [marker for marker, times in seen.items() if times > 1]
    unknown = [marker for marker in seen if marker not in out]
    ids = [entry["id"] for entry in entries]
    if lost or duplicated or unknown:
        problems.append(f"{len(lost)} lost, {len(duplicated)} duplicated, {len(unknown)} "
                        f"unknown entries (e.g. {(lost + duplicated + unknown)[:3]})")
    if sorted(ids) != list(range(1, len(ids) + 1)):
        problems.append("entry ids are not 1..N")
    # Worker processes append to the file each on its own, so lines may come out of id order
    # (the ids themselves must still be exact): counted, not failed.
    out_of_order = sum(1 for before, after in itertools.pairwise(ids) if after < before)
    if torn:
        problems.append(f"{torn} unreadable lines in the JSON-lines file")
    if total != len(out) or len(entries) != len(out):
        problems.append(f"journal total {total}, file {len(entries)}, sent {len(out)}")
    by_id = {entry["id"]: marker_of(entry) for entry in entries}
    if any(by_id.get(entry["id"]) != marker_of(entry) for entry in tail) or (
            tail and [entry["id"] for entry in tail] != sorted(ids)[-len(tail):]):
        problems.append("the journal's last 1,000 entries differ from the file's")
    scripted = 0
    five_xx_outside = 0
    status_mismatch = 0
    wrong_status = 0
    for entry in entries:
        sent = out.get(marker_of(entry) or "")
        if sent is None:
            continue
        expected = next(kind[5] for kind in KINDS if kind[0] == sent.kind)
        status = entry["status"]
        if entry.get("scripted"):
            scripted += 1
        elif status is not None and status >= 500:
            five_xx_outside += 1
        if status != sent.status and not (sent.status is None and sent.kind == "oversize"):
            status_mismatch += 1
        if expected is None:  # a valid request: its echo, unless a scripted reply answered
            expected_ok = bool(entry.get("scripted")) or (status == 200 and sent.echo)
        else:
            expected_ok = status == expected
        wrong_status += not expected_ok
    client_scripted = sum(1 for sent in out.values() if sent.kind == "good" and not sent.echo)
    if five_xx_outside:
        problems.append(f"{five_xx_outside} 5xx answers outside scripted faults")
    if status_mismatch:
        problems.append(f"{status_mismatch} entries whose status differs from the client's")
    if wrong_status:
        problems.append(f"{wrong_status} answers other than the expected one")
    if not scripted == consumed == client_scripted:
        problems.append(f"scripted replies: {consumed} taken from the queue, {scripted} "
                        f"journaled as scripted, {client_scripted} seen by clients")
    if code != 0:
        problems.append(f"the mock exited with status {code}")
    kinds = Counter(sent.kind for sent in out.values())
    statuses = Counter(sent.status for sent in out.values())
    elapsed = time.monotonic() - started
    detail = (f"{len(out):,} requests from {clients} clients in {elapsed:.0f} s "
              f"({len(out) / elapsed:,.0f}/s): {kinds['good']:,} good, "
              f"{len(out) - kinds['good'] - kinds['chat_page']:,} bad, {consumed:,} answered by "
              f"scripted faults; journal: {len(entries):,} entries, 0 lost, 0 duplicated "
              f"({out_of_order:,} file lines after a higher id)"
              if not problems else "; ".join(problems))
    return Check("mixed load, exact journal", not problems, detail, elapsed, {
        "sent": len(out), "journaled": len(entries), "total": total, "lost": len(lost),
        "duplicated": len(duplicated), "scripted": scripted, "fed": fed[0],
        "file_lines_out_of_id_order": out_of_order,
        "five_xx_outside_scripted": five_xx_outside,
        "statuses": {str(key): value for key, value in statuses.items()},
        "kinds": dict(kinds)})


def read_jsonl(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The file's entries, and how many lines could not be read."""
    entries: list[dict[str, Any]] = []
    torn = 0
    if not path.exists():
        return entries, torn
    with path.open("rb") as stream:
        for line in stream:
            try:
                entries.append(json.loads(line))
            except ValueError:
                torn += 1
    return entries, torn


# --- 2. hypothesis-made bodies ---------------------------------------------------------------

@contextlib.contextmanager
def _server(args: list[str], shared: common.Server | None) -> Iterator[common.Server]:
    """A mock of its own with ``args``, or the ``shared`` one with its state emptied."""
    if shared is not None:
        common.remote(shared.url).clear()
        yield shared
        return
    with common.mock_server(args) as mock:
        yield mock


def fuzz(examples: int, shared: common.Server | None = None) -> Check:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    started = time.monotonic()
    scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
               | st.text(max_size=50))
    values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                          max_leaves=12)
    numbers = st.none() | st.integers(-10, 10) | st.floats(allow_nan=False) | values
    shaped = st.fixed_dictionaries(
        {"message": st.text(max_size=200) | values},
        optional={name: numbers for name in Aichat.PARAMETERS} | {
            st_key: values for st_key in ("model", "stream", "extra")})
    bodies = st.one_of(
        shaped.map(lambda data: json.dumps(data).encode("utf-8")),
        values.map(lambda data: json.dumps(data, ensure_ascii=False).encode("utf-8", "replace")),
        st.binary(max_size=300),
        st.text(max_size=300).map(lambda text: text.encode("utf-8", "surrogatepass")),
    )
    content_types = st.sampled_from(["application/json", "text/plain", "", "application/json;"
                                     " charset=latin-1", "multipart/form-data"])
    counts: Counter[str] = Counter()
    failures: list[str] = []
    with _server(["--journal-cap", str(examples + 100)], shared) as mock:
        holder = {"connection": connect(mock.url)}

        @settings(max_examples=examples, database=None, deadline=None, derandomize=True,
                  phases=[Phase.generate], suppress_health_check=list(HealthCheck))
        @given(body=bodies, content_type=content_types)
        def send(body: bytes, content_type: str) -> None:
            headers = {**common.contract_headers(), "content-type": content_type}
            connection = holder["connection"]
            counts["sent"] += 1
            try:
                connection.request("POST", "/api/text", body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as error:
                counts["broken"] += 1
                failures.append(f"connection broke on {body[:60]!r}: {error}")
                connection.close()
                holder["connection"] = connect(mock.url)
                return
            counts[str(response.status)] += 1
            if response.status >= 500:
                failures.append(f"{response.status} for {body[:60]!r}")
            try:
                answer = json.loads(data)
                assert isinstance(answer, dict) and isinstance(answer.get("message"), str)
            except (ValueError, AssertionError):
                failures.append(f"not a JSON answer for {body[:60]!r}: {data[:60]!r}")

        send()
        holder["connection"].close()
        total = common.settled_total(mock.url, counts["sent"])
    five_xx = sum(value for key, value in counts.items() if key.isdigit() and int(key) >= 500)
    ok = not failures and total == counts["sent"] and counts["sent"] >= examples
    by_status = ", ".join(f"{key}: {value:,}" for key, value in sorted(counts.items())
                          if key.isdigit())
    detail = (f"{counts['sent']:,} bodies ({by_status}); {five_xx} 5xx; journal {total:,}"
              + (f"; failures: {failures[:3]}" if failures else ""))
    return Check("hypothesis-made bodies", ok, detail, time.monotonic() - started,
                 {"sent": counts["sent"], "journaled": total, "five_xx": five_xx,
                  "failures": failures[:20], "statuses": dict(counts)})


# --- 3. SIGKILL under load, then a restart ---------------------------------------------------

def crash(load_seconds: float, tmp: Path) -> Check:
    started = time.monotonic()
    journal_file = tmp / "crash.jsonl"
    store = tmp / "crash.sqlite3"
    has_store = "--store" in common.mock_options()
    args = ["--journal", str(journal_file)]
    if has_store:
        args += ["--store", f"sqlite:{store}"]
    acked: set[str] = set()
    attempted = [0]
    lock = threading.Lock()
    killed = threading.Event()

    def client(number: int, url: str) -> None:
        connection = connect(url, timeout=10)
        sequence = 0
        while not killed.is_set() or sequence == 0:
            marker = f"k{number}-{sequence:06d}"
            sequence += 1
            try:
                with lock:
                    attempted[0] += 1
                connection.request("POST", f"/api/text?soak={marker}", body=good_body(marker),
                                   headers=common.contract_headers())
                response = connection.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException):
                break  # the server is gone
            if response.status == 200 and json.loads(data)["message"] == f"{ECHO}soak {marker}":
                with lock:
                    acked.add(marker)
        connection.close()

    # Two worker processes: the records of each turn of a worker's loop are committed before
    # that turn's answers are sent.
    args += ["--workers", "2"]
    mock = common.mock_server(args, name="mock before the kill")
    clients = [threading.Thread(target=client, args=(number, mock.url), daemon=True)
               for number in range(4)]
    for thread in clients:
        thread.start()
    time.sleep(load_seconds)
    mock.kill()  # with requests in flight: the clients only stop on the errors it causes
    killed.set()
    for thread in clients:
        thread.join(30)
    with lock:
        answered = set(acked)
    problems: list[str] = []
    entries, torn = read_jsonl(journal_file)
    in_file = Counter(marker_of(entry) for entry in entries)
    missing_file = sorted(marker for marker in answered if in_file[marker] == 0)
    if missing_file:
        problems.append(f"{len(missing_file)} answered requests missing from the file "
                        f"(e.g. {missing_file[:3]})")
    if any(times > 1 for times in in_file.values()):
        problems.append("duplicated entries in the file")
    if torn > 1:
        problems.append(f"{torn} unreadable lines in the file")
    in_store: Counter[str | None] = Counter()
    after = "-"
    with common.mock_server(args, name="mock after the restart") as again:
        if has_store:
            held = common.remote(again.url).journal("/api/text")["requests"]
            in_store = Counter(marker_of(entry) for entry in held)
            missing_store = sorted(marker for marker in answered if in_store[marker] == 0)
            if missing_store:
                problems.append(f"{len(missing_store)} answered requests missing from the "
                                f"SQLite store (e.g. {missing_store[:3]})")
        connection = connect(again.url)
        for number in range(10):
            marker = f"r-{number}"
            connection.request("POST", f"/api/text?soak={marker}", body=good_body(marker),
                               headers=common.contract_headers())
            connection.getresponse().read()
        connection.close()
        after_total = common.settled_total(again.url)
        after = f"{after_total:,}"
    entries_after, _ = read_jsonl(journal_file)
    if sum(1 for entry in entries_after if (marker_of(entry) or "").startswith("r-")) != 10:
        problems.append("requests after the restart are not all in the file")
    if not answered:
        problems.append("no request was answered before the kill")
    sources = "the JSON-lines file" + (" and the SQLite store" if has_store
                                         else " (no --store in this checkout)")
    detail = (f"{attempted[0]:,} requests sent, {len(answered):,} answered before SIGKILL; all "
              f"of them readable after the restart from {sources} (file: {len(entries):,} "
              f"entries, {torn} torn line(s); store: {sum(in_store.values()):,}); "
              f"journal total after the restart and 10 more requests: {after}"
              if not problems else "; ".join(problems))
    return Check("SIGKILL mid-load, restart", not problems, detail, time.monotonic() - started,
                 {"answered": len(answered), "attempted": attempted[0],
                  "file_entries": len(entries), "store_entries": sum(in_store.values()),
                  "torn_lines": torn, "store": has_store})


# --- 5. attacks on the connections ---------------------------------------------------------

ATTACK_CONNECTIONS = 10_000
# The normal request's latency while the connections are held must stay under this.
ATTACK_LATENCY_S = 1.0


def _raise_open_files() -> int:
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _normal(url: str) -> tuple[float, int]:
    """One seed request on a new connection: (seconds, status)."""
    began = time.monotonic()
    connection = connect(url, timeout=10)
    try:
        connection.request("POST", "/api/text?soak=normal", body=common.seed_body_bytes(),
                           headers=common.contract_headers())
        response = connection.getresponse()
        response.read()
        return time.monotonic() - began, response.status
    except (OSError, http.client.HTTPException):
        return time.monotonic() - began, 0
    finally:
        connection.close()


def _held(url: str, count: int) -> tuple[list[Any], list[str]]:
    """``count`` connections: a third idle, a third with unfinished headers, a third with an
    unfinished body. Fewer when the open files run out."""
    import socket

    parts = urlsplit(url)
    head = b"POST /api/text HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
    body_start = head + b"Content-Length: 100\r\n\r\n" + b'{"message": "us'
    conns: list[socket.socket] = []
    kinds: list[str] = []
    for number in range(count):
        try:
            sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
        except OSError:
            break
        kind = ("idle", "head", "body")[number % 3]
        with contextlib.suppress(OSError):
            if kind == "head":
                sock.sendall(head)
            elif kind == "body":
                sock.sendall(body_start)
        conns.append(sock)
        kinds.append(kind)
    return conns, kinds


def _closed_by_server(sock: Any, deadline: float) -> bool:
    sock.settimeout(max(0.01, deadline - time.monotonic()))
    try:
        while sock.recv(65_536):
            pass
        return True
    except ConnectionResetError:
        return True
    except OSError:
        return False


def attacks(quick: bool) -> Check:
    started = time.monotonic()
    limit = _raise_open_files()
    wanted = 300 if quick else ATTACK_CONNECTIONS
    # The client's ends of the connections are this process's; the mock has its own limit.
    count = min(wanted, max(0, limit - 200))
    args = ["--head-timeout", "1", "--body-timeout", "2"] if quick else []
    head_timeout, body_timeout = (1.0, 2.0) if quick else (10.0, 30.0)
    problems: list[str] = []
    data: dict[str, Any] = {}
    with common.mock_server(args, name="mock under attack") as mock:
        url = mock.url
        common.remote(url).health()
        rss_start = mock.rss_bytes()
        opened_at = time.monotonic()
        conns, kinds = _held(url, count)
        data["held"] = len(conns)
        data["open_seconds"] = round(time.monotonic() - opened_at, 1)
        if len(conns) < count:
            problems.append(f"only {len(conns):,} of {count:,} connections could be opened")
        latencies: list[float] = []
        statuses: Counter[int] = Counter()
        peak = mock.rss_bytes()
        # A normal request every quarter second until the slow heads are past their timeout.
        until = opened_at + head_timeout + 2.0
        while time.monotonic() < until:
            seconds, status = _normal(url)
            latencies.append(seconds)
            statuses[status] += 1
            peak = max(peak, mock.rss_bytes())
            time.sleep(0.25)
        data["normal_requests"] = len(latencies)
        data["normal_worst_s"] = round(max(latencies), 3)
        data["normal_median_s"] = round(sorted(latencies)[len(latencies) // 2], 4)
        if set(statuses) != {200}:
            problems.append(f"normal requests answered {dict(statuses)}")
        if max(latencies) > ATTACK_LATENCY_S:
            problems.append(f"a normal request took {max(latencies):.2f} s")
        # Every held connection is cut by the mock at its timeout (plus slack).
        deadline = opened_at + body_timeout + 5.0
        cut = Counter(kind for sock, kind in zip(conns, kinds, strict=True)
                      if _closed_by_server(sock, deadline))
        cut_at = time.monotonic() - opened_at
        for sock in conns:
            sock.close()
        data["cut"] = dict(cut)
        data["all_cut_after_s"] = round(cut_at, 1)
        if sum(cut.values()) != len(conns):
            problems.append(f"{len(conns) - sum(cut.values()):,} connections were not cut by "
                            f"{body_timeout + 5:g} s")
        rss_held = max(peak, mock.rss_bytes())
        # Memory: a 200 MiB chunked admin body, and 300 requests with 512 KB of headers.
        bomb = _admin_bomb(url, 12 if quick else 200)  # the cap is 8 MiB
        headers_big = _header_bombs(url, 10 if quick else 300)
        rss_after = mock.rss_bytes()
        data.update({"rss_start_mib": round(rss_start / 2**20, 1),
                     "rss_held_mib": round(rss_held / 2**20, 1),
                     "rss_after_mib": round(rss_after / 2**20, 1),
                     "admin_bomb": bomb, "header_bombs": headers_big})
        if bomb["status"] != 413:
            problems.append(f"the admin body bomb got {bomb['status']}")
        if set(headers_big["statuses"]) != {431}:
            problems.append(f"the header bombs got {headers_big['statuses']}")
        if rss_after - rss_start > 100 * 2**20:
            problems.append(f"RSS grew by {(rss_after - rss_start) / 2**20:.0f} MiB")
        # Foreign hosts: 421, journaled.
        foreign = _foreign_host(url)
        if foreign != 421:
            problems.append(f"a foreign Host got {foreign}")
        # The journal: the normal requests, the cut bodies, the 421; nothing lost.
        total = common.settled_total(url)
        expected = len(latencies) + cut.get("body", 0) + 1
        data["journal"] = {"total": total, "expected": expected}
        if total != expected:
            problems.append(f"journal total {total:,}, expected {expected:,}")
    detail = (f"{data['held']:,} connections held (a third idle, a third with unfinished "
              f"headers, a third with an unfinished body; opened in {data['open_seconds']} s); "
              f"{data['normal_requests']} normal requests meanwhile, worst "
              f"{data['normal_worst_s'] * 1000:.0f} ms (median "
              f"{data['normal_median_s'] * 1000:.1f} ms); all cut by the mock after "
              f"{data['all_cut_after_s']} s; RSS {data['rss_start_mib']} MiB at start, "
              f"{data['rss_held_mib']} MiB while held, {data['rss_after_mib']} MiB after a "
              f"{bomb['mib']} MiB chunked admin body (413 after {bomb['sent_mib']} MiB) and "
              f"{headers_big['count']} requests with 512 KB of headers (431); foreign Host: "
              f"{foreign}; journal {data['journal']['total']:,} of "
              f"{data['journal']['expected']:,} entries, 0 lost"
              if not problems else "; ".join(problems))
    return Check("connection attacks", not problems, detail,
                 time.monotonic() - started, data)


def _admin_bomb(url: str, mib: int) -> dict[str, Any]:
    """A chunked body of ``mib`` MiB to the admin API; sending stops at its answer."""
    import select
    import socket

    parts = urlsplit(url)
    sent = 0
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(b"POST /__mock__/replies HTTP/1.1\r\nHost: localhost\r\n"
                     b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n%s\r\n" % (1 << 20, b" " * (1 << 20))
        with contextlib.suppress(OSError):
            while sent < mib and not select.select([sock], [], [], 0)[0]:
                sock.sendall(chunk)
                sent += 1
        answer = b""
        with contextlib.suppress(OSError):
            while part := sock.recv(65_536):
                answer += part
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0
    return {"mib": mib, "sent_mib": sent, "status": status}


def _header_bombs(url: str, count: int) -> dict[str, Any]:
    """``count`` requests with 512 KB of headers each (64 headers of 8 KB)."""
    import socket

    parts = urlsplit(url)
    headers = b"".join(b"X-Bomb-%d: %s\r\n" % (number, b"h" * 8192) for number in range(64))
    statuses: Counter[int] = Counter()
    for _ in range(count):
        with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
            with contextlib.suppress(OSError):
                sock.sendall(b"POST /api/text HTTP/1.1\r\nHost: localhost\r\n" + headers +
                             b"Content-Length: 2\r\n\r\n{}")
            answer = b""
            with contextlib.suppress(OSError):
                while part := sock.recv(65_536):
                    answer += part
        statuses[int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0] += 1
    return {"count": count, "statuses": dict(statuses)}


def _foreign_host(url: str) -> int:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port,
                                            timeout=10)
    try:
        connection.putrequest("POST", "/api/text?soak=foreign", skip_host=True)
        connection.putheader("Host", "evil.example")
        body = common.seed_body_bytes()
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


# --- 6. storage faults and secrets --------------------------------------------------

SECRETS = {"authorization": "Bearer soak-secret-authorization-0123456789",
           "cookie": "session=soak-secret-cookie-0123456789"}


def _send(url: str, count: int, tag: str) -> Counter[int]:
    """``count`` seed requests on one kept-alive connection, each with the secrets."""
    statuses: Counter[int] = Counter()
    connection = connect(url, timeout=10)
    try:
        for number in range(count):
            connection.request("POST", f"/api/text?soak={tag}-{number}",
                               body=common.seed_body_bytes(),
                               headers={**common.contract_headers(), **SECRETS})
            response = connection.getresponse()
            response.read()
            statuses[response.status] += 1
    finally:
        connection.close()
    return statuses


def _health(url: str) -> dict[str, Any]:
    connection = connect(url, timeout=10)
    try:
        connection.request("GET", "/__mock__/health")
        return dict(json.loads(connection.getresponse().read()))
    finally:
        connection.close()


def _full_disk_run(tmp: Path, label: str, args: list[str], files: list[Path],
                   counts: tuple[int, int, int]) -> tuple[list[str], dict[str, Any]]:
    """Requests before, during and after a full disk on the mock's files."""
    import resource

    problems: list[str] = []
    before, during, after = counts
    with common.mock_server(args, name=f"mock on a full disk ({label})") as mock:
        statuses = _send(mock.url, before, "before")
        sizes = [path.stat().st_size for path in files if path.exists()]
        hard = resource.prlimit(mock.process.pid, resource.RLIMIT_FSIZE)[1]
        resource.prlimit(mock.process.pid, resource.RLIMIT_FSIZE, (max(sizes) + 40, hard))
        statuses += _send(mock.url, during, "full")
        failing = _health(mock.url)
        resource.prlimit(mock.process.pid, resource.RLIMIT_FSIZE, (hard, hard))
        statuses += _send(mock.url, after, "back")
        back = _health(mock.url)
        total = common.settled_total(mock.url)
        journal = json.dumps(common.remote(mock.url).requests)
        warnings = [line for line in mock.output if "journal" in line and
                    line.startswith("aichat-mock:") and "listening" not in line]
        code = mock.stop()
    sent = before + during + after
    if set(statuses) != {200}:
        problems.append(f"{label}: answered {dict(statuses)}")
    if not (failing.get("journal") == "degraded" and failing.get("failing") is True):
        problems.append(f"{label}: health on the full disk {failing}")
    if back.get("failing") is not False:
        problems.append(f"{label}: health after the space came back {back}")
    lost = int(back.get("entries_lost", 0))
    if total + lost != sent:
        problems.append(f"{label}: {total} entries kept + {lost} counted lost != {sent} sent")
    lines = files[0].read_bytes().split(b"\n") if files[0].suffix == ".jsonl" else []
    if lines:
        if lines[-1] != b"":
            problems.append(f"{label}: the journal file ends in a torn line")
        for line in lines[:-1]:
            try:
                json.loads(line)
            except ValueError:
                problems.append(f"{label}: a journal line that is not one JSON value")
                break
    on_disk = b"".join(path.read_bytes() for path in files if path.exists())
    if any(secret.encode() in on_disk or secret in journal for secret in SECRETS.values()):
        problems.append(f"{label}: a secret was kept")
    modes = {path.name: oct(path.stat().st_mode & 0o777) for path in files if path.exists()}
    if set(modes.values()) != {"0o600"}:
        problems.append(f"{label}: file modes {modes}")
    if len(warnings) != 2:
        problems.append(f"{label}: {len(warnings)} journal warnings (one when it fails, one when "
                        f"it records again): {warnings}")
    if code != 0:
        problems.append(f"{label}: exit {code}")
    data = {"sent": sent, "kept": total, "lost": lost,
            "file_lines_lost": back.get("file_lines_lost", 0), "statuses": dict(statuses)}
    return problems, data


def _torn_line(tmp: Path) -> tuple[list[str], dict[str, Any]]:
    """A journal file whose last line was torn before start: the mock repairs it."""
    path = tmp / "torn.jsonl"
    path.write_bytes(b'{"id": 1, "path": "/api/text"}\n{"id": 2, "pa')
    with common.mock_server(["--journal", str(path)], name="mock on a torn file") as mock:
        _send(mock.url, 3, "torn")
        common.settled_total(mock.url, 3)
    lines = path.read_bytes().split(b"\n")
    problems = []
    try:
        parsed = [json.loads(line) for line in lines[:-1]]
    except ValueError:
        return ["the torn line was glued to the next entry"], {}
    if lines[-1] != b"" or len(parsed) != 5 or "torn_line" not in parsed[1]:
        problems.append(f"the repaired file: {lines!r}")
    return problems, {"lines": len(parsed)}


def _foreign_store(tmp: Path) -> tuple[list[str], dict[str, Any]]:
    """Another program's SQLite file, with a replies table: refused at start, left untouched."""
    import hashlib
    import sqlite3
    import subprocess

    path = tmp / "other-program.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as other:
        other.execute("CREATE TABLE replies (id INTEGER PRIMARY KEY, text TEXT)")
        other.executemany("INSERT INTO replies (text) VALUES (?)", [("a",), ("b",)])
        other.commit()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    completed = subprocess.run(
        [sys.executable, "-m", "mock_server", "--port", "0", "--store", f"sqlite:{path}"],
        capture_output=True, text=True, timeout=60, check=False, cwd=common.REPO)
    problems = []
    # A usage error: the usage, then one line saying what is wrong.
    last = completed.stderr.strip().splitlines()[-1:]
    if completed.returncode != 2 or not last or "not a store of the aichat mock" not in last[0]:
        problems.append(f"another program's database: exit {completed.returncode}, "
                        f"{completed.stderr.strip()!r}")
    if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
        problems.append("another program's database was changed")
    return problems, {"exit": completed.returncode}


def storage(quick: bool, tmp: Path) -> Check:
    started = time.monotonic()
    counts = (20, 50, 20) if quick else (200, 2_000, 200)
    folder = tmp / "storage"
    folder.mkdir(exist_ok=True)
    journal = folder / "journal.jsonl"
    store = folder / "store.sqlite3"
    problems, file_data = _full_disk_run(folder, "journal file", ["--journal", str(journal)],
                                         [journal], counts)
    more, store_data = _full_disk_run(
        folder, "SQLite store", ["--store", f"sqlite:{store}"],
        [store, Path(f"{store}-wal")], counts)
    problems += more
    more, torn = _torn_line(folder)
    problems += more
    more, foreign = _foreign_store(folder)
    problems += more
    data = {"journal_file": file_data, "sqlite_store": store_data, "torn": torn,
            "foreign": foreign}
    detail = (f"a full disk under --journal FILE: {file_data['sent']:,} requests all answered "
              f"200, {file_data['file_lines_lost']:,} file lines lost whole and counted, none "
              f"torn or glued; under --store sqlite:PATH: {store_data['sent']:,} answered 200, "
              f"{store_data['kept']:,} entries kept + {store_data['lost']:,} counted lost; "
              f"health degraded, then recording again; no secret on disk or in the journal, "
              f"files 0600; a torn last line repaired at start; another program's SQLite file "
              f"refused (exit {foreign['exit']}) and untouched"
              if not problems else "; ".join(problems))
    return Check("storage faults and secrets", not problems, detail,
                 time.monotonic() - started, data)


# --- 4. the provider through every fault -----------------------------------------------------

TIMEOUT = 2.0
RETRIES = 2


@dataclass(frozen=True)
class Case:
    name: str
    replies: list[dict[str, Any]]
    expected: type[BaseException] | None  # None: the reply text
    attempts: int
    timeout: float = TIMEOUT
    reply: str = f"{ECHO}Hello"


CASES = [
    Case("no fault", [], None, 1),
    Case("early answer, no response key", [{"message": "hi", "response": None}], None, 1,
         reply="hi"),
    Case("cloudflare", [{"fault": "cloudflare"}], Aichat.AichatBlockedError, 1),
    Case("html", [{"fault": "html"}], Aichat.AichatBlockedError, 1),
    Case("rate_limit once, Retry-After 0", [{"fault": "rate_limit", "retry_after": 0}], None, 2),
    Case("rate_limit 3x, Retry-After 0", [{"fault": "rate_limit", "retry_after": 0,
                                           "times": 3}], Aichat.AichatRateLimitError, 3),
    Case("rate_limit, Retry-After 120", [{"fault": "rate_limit", "retry_after": 120}],
         Aichat.AichatRateLimitError, 1),
    Case("server_error", [{"fault": "server_error"}], Aichat.AichatHTTPError, 1),
    Case("bad_gateway once", [{"fault": "bad_gateway"}], None, 2),
    Case("bad_gateway 3x", [{"fault": "bad_gateway", "times": 3}], Aichat.AichatHTTPError, 3),
    Case("unavailable twice, Retry-After 0", [{"fault": "unavailable", "retry_after": 0,
                                               "times": 2}], None, 3),
    Case("504 once", [{"fault": "server_error", "status": 504}], None, 2),
    Case("upstream_error", [{"fault": "upstream_error"}], Aichat.AichatUpstreamError, 1),
    Case("malformed_json", [{"fault": "malformed_json"}], Aichat.AichatResponseError, 1),
    Case("empty_body", [{"fault": "empty_body"}], Aichat.AichatResponseError, 1),
    Case("disconnect", [{"fault": "disconnect"}], Aichat.AichatConnectionError, 1),
    Case("delay 5 s, timeout 1 s", [{"delay_ms": 5000}], Aichat.AichatTimeoutError, 1,
         timeout=1.0),
]
# What a call may take beyond its attempts' timeouts: urllib3's backoff (0 s, then 1 s) and
# the thread's start.
SLACK = 2.5


def call_guarded(base: str, timeout: float, guard: float) -> tuple[str, Any, float]:
    """("reply", text) or ("error", exception) or ("hang", None), and the seconds it took."""
    outcome: list[tuple[str, Any]] = []

    def target() -> None:
        try:
            reply = next(Aichat._create_completion(
                "gpt-3.5-turbo", common.SEED_MESSAGES, False, base_url=base,
                max_retries=RETRIES, timeout=timeout))
            outcome.append(("reply", reply))
        except Exception as error:
            outcome.append(("error", error))

    started = time.monotonic()
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(guard)
    elapsed = time.monotonic() - started
    return (*outcome[0], elapsed) if outcome else ("hang", None, elapsed)


# The cases a smoke run keeps: one of each outcome, none that waits out a timeout or backoff.
QUICK_CASES = ("no fault", "cloudflare", "rate_limit once, Retry-After 0", "disconnect")


def provider_faults(repeats: int, quick: bool = False,
                    shared: common.Server | None = None) -> Check:
    started = time.monotonic()
    rows: list[dict[str, Any]] = []
    cases = [case for case in CASES if case.name in QUICK_CASES] if quick else CASES
    with _server([], shared) as mock:
        for case in cases:
            for _ in range(repeats):
                common.remote(mock.url).clear()
                if case.replies:
                    common.remote(mock.url).queue(*case.replies)
                guard = case.timeout * (RETRIES + 1) + SLACK
                kind, value, elapsed = call_guarded(mock.url, case.timeout, guard)
                attempts = common.settled_total(mock.url, case.attempts, timeout=3)
                rows.append(judge(case, kind, value, elapsed, attempts))
        # Nothing listens any more: refused connections, retried with backoff.
        down = mock.url
    refused = Case("connection refused", [], Aichat.AichatConnectionError, 0)
    for _ in range(0 if quick else repeats):  # its retries back off for a second
        kind, value, elapsed = call_guarded(down, TIMEOUT, TIMEOUT * (RETRIES + 1) + SLACK)
        rows.append(judge(refused, kind, value, elapsed, 0))
    failed = [row for row in rows if not row["ok"]]
    slowest = max(rows, key=lambda row: row["seconds"])
    count = len(cases) + (0 if quick else 1)
    detail = (f"{count} cases x {repeats}: every call ended with the expected reply or "
              f"error class and attempt count; slowest {slowest['seconds']:.2f} s "
              f"({slowest['case']})" if not failed else
              "; ".join(f"{row['case']}: {row['got']}" for row in failed[:4]))
    return Check("provider through every fault", not failed, detail,
                 time.monotonic() - started, {"cases": rows})


def judge(case: Case, kind: str, value: Any, elapsed: float, attempts: int) -> dict[str, Any]:
    if kind == "hang":
        got, ok = "no result within the guard (a hang)", False
    elif kind == "reply":
        got, ok = f"reply {value!r}", case.expected is None and value == case.reply
    else:
        got = type(value).__name__
        ok = case.expected is not None and type(value) is case.expected
    if case.attempts and attempts != case.attempts:
        got += f" after {attempts} attempts, expected {case.attempts}"
        ok = False
    within = elapsed <= case.timeout * max(case.attempts, 1) + SLACK
    if not within:
        got += f" in {elapsed:.2f} s, past its timeout"
        ok = False
    expected = case.expected.__name__ if case.expected else f"reply {case.reply!r}"
    return {"case": case.name, "expected": expected, "got": got, "ok": ok,
            "attempts": attempts, "seconds": round(elapsed, 3)}


# --- the run ---------------------------------------------------------------------------------

RUNS = ("mixed", "fuzz", "crash", "provider", "attacks", "storage", "conformance")


def _quick(seed: int, tmp: Path, only: tuple[str, ...]) -> list[Check]:
    """The smoke run: small runs side by side (none checks a timing), and the fuzz and the
    provider one after the other on one mock, to spare a start."""
    def fuzz_and_provider() -> list[Check]:
        checks: list[Check] = []
        with common.mock_server([]) as mock:
            if "fuzz" in only:
                checks.append(fuzz(100, mock))
            if "provider" in only:
                checks.append(provider_faults(1, True, mock))
        return checks

    plan: list[Callable[[], list[Check]]] = []
    if "mixed" in only:
        plan.append(lambda: [mixed_load(4, 60, seed, tmp)])
    if "crash" in only:
        plan.append(lambda: [crash(0.5, tmp)])
    if "fuzz" in only or "provider" in only:
        plan.append(fuzz_and_provider)
    if "attacks" in only:
        plan.append(lambda: [attacks(True)])
    if "storage" in only:
        plan.append(lambda: [storage(True, tmp)])
    if "conformance" in only:
        plan.append(lambda: [conformance(20, tmp)])
    with concurrent.futures.ThreadPoolExecutor(len(plan)) as pool:
        done = [check for checks in pool.map(lambda work: work(), plan) for check in checks]
    return sorted(done, key=lambda check: CHECK_NAMES.index(check.name))


CHECK_NAMES = ("mixed load, exact journal", "hypothesis-made bodies",
               "SIGKILL mid-load, restart", "provider through every fault",
               "connection attacks", "storage faults and secrets",
               "HTTP conformance against h11")


def conformance(examples: int, tmp: Path) -> Check:
    """The conformance suite with ``examples`` hypothesis streams of each kind; what it
    compared, from its report."""
    started = time.monotonic()
    report = tmp / "conformance.json"
    env = {**os.environ, "AICHAT_CONFORMANCE_EXAMPLES": str(examples),
           "AICHAT_CONFORMANCE_REPORT": str(report)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         str(common.REPO / "tests" / "mock" / "serve" / "test_conformance.py")],
        cwd=common.REPO, env=env, capture_output=True, text=True, timeout=3600, check=False)
    counts = json.loads(report.read_text("utf-8")) if report.exists() else {}
    summary = (done.stdout.strip().splitlines() or ["no output"])[-1]
    detail = (f"{counts.get('streams', 0):,} streams (the corpus, and {examples:,} made by "
              f"hypothesis of each kind, whole and broken, in one piece or in pieces): "
              f"{counts.get('requests', 0):,} requests read by h11, {counts.get('answers', 0):,} "
              f"answers and {counts.get('entries', 0):,} entries from the mock; no difference "
              f"but those listed" if done.returncode == 0 else f"failed: {summary}")
    return Check("HTTP conformance against h11", done.returncode == 0, detail,
                 time.monotonic() - started, {**counts, "pytest": summary})


def run(quick: bool, seed: int, only: tuple[str, ...] = RUNS) -> dict[str, Any]:
    started = time.monotonic()
    checks: list[Check] = []
    with common.workdir("aichat-soak-") as tmp:
        if quick:
            checks = _quick(seed, tmp, only)
        else:
            plan: dict[str, Callable[[], Check]] = {
                "mixed": lambda: mixed_load(16, 10_000, seed, tmp),
                "fuzz": lambda: fuzz(10_000),
                "crash": lambda: crash(3.0, tmp),
                "provider": lambda: provider_faults(3),
                "attacks": lambda: attacks(False),
                "storage": lambda: storage(False, tmp),
                "conformance": lambda: conformance(2_000, tmp),
            }
            checks = [plan[name]() for name in only]
    return {
        "quick": quick,
        "seed": seed,
        "seconds": round(time.monotonic() - started, 1),
        "ok": all(check.ok for check in checks),
        "checks": [{"name": check.name, "ok": check.ok, "detail": check.detail,
                    "seconds": round(check.seconds, 1), "data": check.data}
                   for check in checks],
    }


def rows(result: dict[str, Any]) -> list[list[str]]:
    return [[check["name"], "pass" if check["ok"] else "FAIL", f"{check['seconds']:.0f} s",
             check["detail"]] for check in result["checks"]]


HEADER = ["run", "result", "time", "what was checked"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few hundred requests: smoke")
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--doc", action="store_true",
                        help="write the summary into docs/benchmarks.md")
    parser.add_argument("--only", metavar="RUN[,RUN]", default=",".join(RUNS),
                        help=f"some of the runs: {', '.join(RUNS)} (default all)")
    args = parser.parse_args(argv)
    only = tuple(name.strip() for name in args.only.split(",") if name.strip())
    if not only or any(name not in RUNS for name in only):
        parser.error(f"--only takes some of {', '.join(RUNS)}; got {args.only!r}")
    load = [round(value, 2) for value in os.getloadavg()]
    result = run(args.quick, args.seed, only)
    result["machine"] = {**common.machine(), "load_average_at_start": load}
    common.print_table(f"soak ({'quick' if args.quick else 'full'}, {result['seconds']:.0f} s)",
                       HEADER, rows(result))
    print("all checks passed" if result["ok"] else "SOME CHECKS FAILED")
    common.write_json(args.json, result)
    if args.doc:
        from bench import report
        report.write_section("soak", report.soak_section(result))
        print(f"written to {common.DOC.relative_to(common.REPO)}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
