"""The smallest Flask app that answers ``POST /api/text`` like the site: the peer the mock is
measured against. No validation, no journal: what remains is Flask plus the WSGI server.

``gunicorn bench.echo_app:app`` serves it on gunicorn; ``python -m bench.echo_app`` serves it
on the fastest WSGI server the mock can run on (gunicorn with 2 gevent workers, set up as
``aichat-mock --server gevent --workers 2`` sets it up): the mock's own server carries only the
mock.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from flask import Flask, jsonify, request

app = Flask(__name__)
SERVER, WORKERS = "gevent", 2


@app.post("/api/text")
def text() -> Any:
    data = request.get_json(silent=True) or {}
    return jsonify({"response": True, "message": f"You said: {data.get('message', '')}"})


def main(argv: list[str] | None = None) -> int:
    from mock_server.serve import cli, servers

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    sock = cli.bind("127.0.0.1", args.port)
    url = cli.url_of(sock)

    def announce() -> None:
        print(f"echo listening on {url}", flush=True)

    defaults = cli.build_parser().parse_args([])
    servers.SERVERS[SERVER](app, sock, defaults.threads, WORKERS, {}, announce)
    return 0


if __name__ == "__main__":
    sys.exit(main())
