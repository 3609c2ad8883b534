"""The ``aichat-mock`` command (also ``python -m mock_server``): serve the mock of chat-gpt.org."""

from __future__ import annotations

import argparse
import functools
import ipaddress
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

from ..core.contract import site_hosts
from ..core.edge import MAX_ADMIN_BODY
from ..core.errors import MockError, ReplyError, StoreRefusedError
from ..core.journal import DEFAULT_BODY_CAP
from ..core.matching import describe_kind
from ..core.replies import DEFAULT_REPLY_TEXT, REPLY_MODES, parse_replies
from ..core.store import DEFAULT_JOURNAL_CAP
from ..core.wire import parse_json
from ..testing.child_process import LISTENING
from ..web.app import create_app
from . import MOCK_EXTRA
from .own_server.limits import Limits
from .servers import (
    CAN_DISCONNECT,
    DEFAULT_SERVER,
    DEFAULT_THREADS,
    DEFAULT_WORKERS,
    GRACEFUL_SECONDS,
    MULTI_PROCESS,
    SERVERS,
    available,
    serve_asyncio,
)

EPILOG = """\
examples:
  aichat-mock                       # http://127.0.0.1:8080, echo replies
  aichat-mock --port 0              # a free port; the URL is printed
  aichat-mock --reply-mode fixed --reply-text "Hi!" --journal requests.jsonl
  aichat-mock --replies stubs.json  # scripted replies queued at start
  aichat --base-url http://127.0.0.1:8080 "Hello"   # ask it with the provider

The first line on standard output is "aichat-mock listening on <URL>".
The chat page is <URL>/chat; the inspector and the admin API, <URL>/__mock__/.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aichat-mock",
        description="Serve a stand-in for chat-gpt.org (POST /api/text, GET /chat) that\n"
                    "records every request and answers echo, fixed or scripted replies.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1; a non-loopback "
                             "address needs --allow-remote)")
    parser.add_argument("--port", type=_port, default=8080,
                        help="port to listen on (default 8080; 0 picks a free one)")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow listening on a non-loopback address: the mock has no "
                             "authentication, anyone who reaches it can read its journal")
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="also serve requests whose Host is NAME (repeatable); by default "
                             "only loopback hosts, localhost and the --host address are "
                             "served, others get 421")
    parser.add_argument("--reply-mode", choices=REPLY_MODES, default="echo",
                        help="echo: 'You said: <last user turn>' (default); fixed: --reply-text")
    parser.add_argument("--reply-text", default=DEFAULT_REPLY_TEXT, metavar="TEXT",
                        help=f"the answer in fixed mode (default {DEFAULT_REPLY_TEXT!r})")
    parser.add_argument("--replies", metavar="FILE.json",
                        help="queue the scripted replies of FILE.json (a JSON list, as POST "
                             "/__mock__/replies takes them) in the default namespace at start")
    parser.add_argument("--journal", metavar="FILE",
                        help="also append every journal entry to FILE as a JSON line")
    parser.add_argument("--keep-secrets", action="store_true",
                        help="keep the values of authorization, proxy-authorization and "
                             "cookie headers in the journal (by default: '[redacted: N "
                             "chars]')")
    parser.add_argument("--no-journal", dest="journal_enabled", action="store_false",
                        help="record nothing (for benchmarks of the serving alone); replies, "
                             "faults and validation work as usual")
    parser.add_argument("--journal-cap", type=_positive, default=DEFAULT_JOURNAL_CAP,
                        metavar="N", help=f"entries kept in memory (default "
                                          f"{DEFAULT_JOURNAL_CAP}; the file is not capped)")
    parser.add_argument("--body-cap", type=_natural, default=DEFAULT_BODY_CAP, metavar="CHARS",
                        help=f"characters of each body an entry keeps (default "
                             f"{DEFAULT_BODY_CAP})")
    parser.add_argument("--server", choices=sorted(SERVERS), default=DEFAULT_SERVER,
                        metavar="NAME",
                        help=f"{', '.join(sorted(SERVERS))}: the server "
                             f"(default {DEFAULT_SERVER}, the mock's own HTTP/1.1 "
                             f"server); the WSGI servers of g4f-aichat[servers]: gevent is "
                             f"gunicorn with gevent workers, gunicorn its thread-pool "
                             f"(gthread) workers; granian cannot play the disconnect fault; "
                             f"werkzeug is Flask's development server")
    parser.add_argument("--threads", type=_positive, default=DEFAULT_THREADS, metavar="N",
                        help=f"worker threads, the requests served at once by each worker "
                             f"(default {DEFAULT_THREADS}; asyncio and gevent serve every "
                             f"connection at once and ignore it)")
    parser.add_argument("--workers", type=_positive, default=DEFAULT_WORKERS, metavar="N",
                        action=_GivenWorkers,
                        help=f"worker processes (default {DEFAULT_WORKERS}; on "
                             f"{', '.join(sorted(MULTI_PROCESS))} several share the state "
                             f"through an SQLite store; waitress and werkzeug run one)")
    # How long a client may take on the mock's own server, in seconds (tests shorten them).
    limits = Limits()
    for name, default in (("head", limits.head_timeout), ("body", limits.body_timeout),
                          ("keepalive", limits.keepalive_timeout)):
        parser.add_argument(f"--{name}-timeout", type=_seconds, default=default,
                            help=argparse.SUPPRESS)
    parser.add_argument("--intercept", action="store_true",
                        help="also be a forward proxy on the same port for the site's host "
                             "names (chat-gpt.org, www.chat-gpt.org and each --intercept-host): "
                             "CONNECT answered with TLS by the mock's own CA, absolute-form "
                             "requests served; any other host gets 403, nothing is dialled")
    parser.add_argument("--intercept-host", action="append", default=[], metavar="NAME",
                        help="also intercept NAME (repeatable; with --intercept)")
    parser.add_argument("--ca-dir", metavar="DIR",
                        help="where the CA of --intercept is kept (made on first use): "
                             "default $XDG_STATE_HOME/aichat-mock, else "
                             "~/.local/state/aichat-mock")
    parser.add_argument("--store", type=_store, metavar="memory|sqlite[:PATH]",
                        help="where the journal and the reply queue live: memory (the default "
                             "with one worker), sqlite (a temporary file, the default with "
                             "several workers) or sqlite:PATH (a file kept after the mock "
                             "stops; what it had survives a restart, even after a kill)")
    return parser


def _number(text: str, low: int, high: int | None = None) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < low or (high is not None and value > high):
        bounds = f"from {low} to {high}" if high is not None else f"{low} or more"
        raise argparse.ArgumentTypeError(f"must be {bounds}; got {value}")
    return value


class _GivenWorkers(argparse.Action):
    """``--workers``, noting that it was given: a single-process server takes the default
    as one worker, but refuses more when they are asked for."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        setattr(namespace, self.dest, values)
        namespace.workers_given = True


def _store(text: str) -> str:
    if text in ("memory", "sqlite") or (text.startswith("sqlite:") and len(text) > 7):
        return text
    raise argparse.ArgumentTypeError(f"expected memory, sqlite or sqlite:PATH; got {text!r}")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 86_400:
        raise argparse.ArgumentTypeError(f"must be over 0 and at most 86400; got {text}")
    return value


def _port(text: str) -> int:
    return _number(text, 0, 65535)


def _positive(text: str) -> int:
    return _number(text, 1)


def _natural(text: str) -> int:
    return _number(text, 0)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one)."""
    family, _, _, _, address = socket.getaddrinfo(
        host.strip("[]"), port, type=socket.SOCK_STREAM)[0]
    sock = socket.create_server(address[:2], family=family, backlog=1024)
    # Accepted connections inherit this (on Linux): a server that writes the head and the body
    # of an answer separately (gunicorn does) would otherwise wait for the client's delayed
    # ACK, some 40 ms, on every answer after the first on a kept-alive connection.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class ReplyFileError(MockError):
    """A --replies file that cannot be used; the message says which entry and field."""


def load_replies(path: str) -> list[Any]:
    """The scripted replies of a ``--replies`` file, checked; ``ReplyFileError`` says why
    not, naming the entry (``replies[2]``) and the field."""
    try:
        with open(path, "rb") as file:
            # Read up to the cap and one byte more: /dev/zero, or a huge file, is refused
            # without being read whole.
            data = file.read(MAX_ADMIN_BODY + 1)
        if len(data) > MAX_ADMIN_BODY:
            raise ReplyFileError(f"it is over {MAX_ADMIN_BODY} bytes, the most a list of "
                                 f"scripted replies may be (as POST /__mock__/replies takes "
                                 f"them)")
        text = data.decode("utf-8")
    except OSError as error:
        raise ReplyFileError(f"cannot read it: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ReplyFileError("it is not UTF-8 text; write a JSON list of scripted "
                             "replies") from None
    try:
        replies = parse_json(text)
    except (ValueError, RecursionError) as error:
        raise ReplyFileError(f"it is not JSON ({error})") from None
    if not isinstance(replies, list):
        raise ReplyFileError(f"it must hold a JSON list of scripted replies, not "
                             f"{describe_kind(replies)}")
    try:
        parse_replies(replies)
    except ReplyError as error:
        raise ReplyFileError(str(error)) from None
    return replies


def client_environment(url: str, ca_file: object) -> str:
    """The environment that has common clients (requests, httpx, curl, OpenSSL's) go through
    the mock and trust its CA, as ``export`` would take it; loopback stays direct."""
    return (f"HTTPS_PROXY={url} HTTP_PROXY={url} NO_PROXY=localhost,127.0.0.1,::1 "
            f"REQUESTS_CA_BUNDLE={ca_file} SSL_CERT_FILE={ca_file} CURL_CA_BUNDLE={ca_file}")


def fail(message: str) -> int:
    """One line on standard error, and the exit status of a usage error."""
    print(f"aichat-mock: error: {message}".replace("\n", "\\n"), file=sys.stderr, flush=True)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    if given[:1] == ["grade"]:  # aichat-mock grade TARGET: docs/grading.md
        from ..grade.cli import main as grade
        return grade(given[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if hasattr(signal, "SIGXFSZ"):
        # A file-size limit reached is a failed write the journal reports, not a kill.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    replies: list[Any] | None = None
    if args.replies is not None:
        try:
            replies = load_replies(args.replies)
        except ReplyFileError as error:
            return fail(f"--replies {args.replies}: {error}")
    if not is_loopback(args.host) and not args.allow_remote:
        parser.error(f"refusing to listen on {args.host}, which is not a loopback address: "
                     f"the mock has no authentication; pass --allow-remote to do it anyway")
    if not available(args.server):
        extra = MOCK_EXTRA if args.server == DEFAULT_SERVER else "g4f-aichat[servers]"
        parser.error(f"the {args.server} server is not installed; "
                     f"pip install '{extra}' or choose another --server")
    if args.server not in MULTI_PROCESS and not getattr(args, "workers_given", False):
        args.workers = 1
    if args.workers > 1 and args.server not in MULTI_PROCESS:
        parser.error(f"the {args.server} server runs one process; --workers "
                     f"{args.workers} needs {' or '.join(sorted(MULTI_PROCESS))}")
    if (args.intercept_host or args.ca_dir) and not args.intercept:
        parser.error("--intercept-host and --ca-dir go with --intercept")
    if args.intercept and args.server != DEFAULT_SERVER:
        parser.error(f"--intercept needs the mock's own server (--server {DEFAULT_SERVER}, the "
                     f"default): {args.server} cannot answer CONNECT")
    if args.store == "memory" and args.workers > 1:
        parser.error(f"--store memory keeps the state in one process; --workers "
                     f"{args.workers} needs --store sqlite (the default with several workers)")
    temporary: str | None = None
    owner = os.getpid()
    store = args.store or ("sqlite" if args.workers > 1 else "memory")
    if store == "sqlite":
        # Workers share the state through a file of their own, removed when the mock stops.
        temporary = tempfile.mkdtemp(prefix="aichat-mock-")
        store = "sqlite:" + os.path.join(temporary, "store.sqlite3")
    try:
        return _serve(parser, args, store, replies)
    finally:
        # gunicorn's workers leave through here too (with SystemExit): only the process that
        # made the file removes it.
        if temporary is not None and os.getpid() == owner:
            shutil.rmtree(temporary, ignore_errors=True)


def _serve(parser: argparse.ArgumentParser, args: argparse.Namespace, store: str,
           replies: list[Any] | None) -> int:
    config: dict[str, Any] = {
        "MOCK_REPLY_MODE": args.reply_mode,
        "MOCK_REPLY_TEXT": args.reply_text,
        "MOCK_JOURNAL_FILE": args.journal,
        "MOCK_JOURNAL_CAP": args.journal_cap,
        "MOCK_JOURNAL_BODY_CAP": args.body_cap,
        "MOCK_JOURNAL_ENABLED": args.journal_enabled,
        "MOCK_KEEP_SECRETS": args.keep_secrets,
        "MOCK_STORE": store,
        "MOCK_REPLIES": replies,
        "MOCK_ALLOWED_HOSTS": [args.host, *args.allow_host],
    }
    authority = None
    if args.intercept:
        from .certificates import Authority, AuthorityError, default_folder
        try:
            authority = Authority(args.ca_dir or default_folder())
        except AuthorityError as error:
            return fail(str(error))
        config["MOCK_INTERCEPT_HOSTS"] = [*site_hosts(), *args.intercept_host]
        config["MOCK_CA_FILE"] = str(authority.cert_file)
    try:
        app = create_app(config)
    except ReplyError as error:  # checked already: the queue of a kept store is full, say
        return fail(f"--replies {args.replies}: {error}")
    except StoreRefusedError as error:
        return fail(str(error))
    except ValueError as error:
        parser.error(str(error))
    try:
        sock = bind(args.host, args.port)
    except OSError as error:
        print(f"aichat-mock: cannot listen on {args.host}:{args.port}: "
              f"{error.strerror or error}", file=sys.stderr)
        return 1
    url = url_of(sock)

    def announce() -> None:
        print(f"{LISTENING} {url}", flush=True)
        plural = "s" if args.workers > 1 else ""
        # gevent and asyncio serve every connection at once: --threads does not apply.
        threads = "" if args.server in ("gevent", "asyncio") else f" of {args.threads} threads"
        state = "journal off" if not args.journal_enabled else f"store {store}"
        print(f"aichat-mock: {args.server} server, {args.workers} worker{plural}{threads}; "
              f"{state}; Ctrl-C to stop", file=sys.stderr, flush=True)
        print(f"aichat-mock: chat page {url}/chat, inspector {url}/__mock__/",
              file=sys.stderr, flush=True)
        if authority is not None:
            names = ", ".join(config["MOCK_INTERCEPT_HOSTS"])
            print(f"aichat-mock: intercepting {names}: CA certificate {authority.cert_file} "
                  f"(also at {url}/__mock__/ca.pem)", file=sys.stderr, flush=True)
            print(f"aichat-mock: for clients: {client_environment(url, authority.cert_file)}",
                  file=sys.stderr, flush=True)
        if args.server not in CAN_DISCONNECT:
            print(f"aichat-mock: note: {args.server} cannot play the disconnect fault "
                  f"(it answers 501 instead)", file=sys.stderr, flush=True)

    runner = SERVERS[args.server]
    if args.server == "asyncio":
        runner = functools.partial(serve_asyncio, limits=Limits(
            head_timeout=args.head_timeout, body_timeout=args.body_timeout,
            keepalive_timeout=args.keepalive_timeout, graceful_timeout=GRACEFUL_SECONDS),
            authority=authority)
    runner(app, sock, args.threads, args.workers, config, announce)
    return 0
