"""How store-0.2.0.sqlite3 and store-0.2.0.json were made: this script run by version 0.2.0 of
the mock (a checkout of that release first on PYTHONPATH). It records requests in two
namespaces, queues replies and settings, and writes down what 0.2.0 listed of it all.

    PYTHONPATH=/path/to/0.2.0 python make_store_0_2_0.py store-0.2.0.sqlite3 store-0.2.0.json
"""

from __future__ import annotations

import json
import sqlite3
import sys

from mock_server import Engine, IncomingRequest, SQLiteStore

HEADERS = {"host": "127.0.0.1:8080", "content-type": "application/json",
           "authorization": "Bearer secret"}
PROMPTS = [("", "Hello"), ("", "What is the weather?"), ("alice", "Hi"), ("", "x" * 10),
           ("alice", "Bye"), ("", "again")] * 3


def body(text: str) -> bytes:
    return json.dumps({"message": f"user: {text}\nassistant:", "temperature": 1,
                       "presence_penalty": 0, "top_p": 1, "frequency_penalty": 0}).encode()


def main(path: str, listed: str) -> None:
    engine = Engine(store=SQLiteStore(path, cap=10), owns_store=True)
    engine.queue_replies([{"message": "scripted", "times": 2},
                          {"message": "standing", "times": None,
                           "match": {"last_turn_contains": "weather"}}])
    engine.queue_replies({"fault": "rate_limit", "retry_after": 7}, namespace="alice")
    engine.put_settings({"reply_mode": "fixed", "reply_text": "Bonjour"}, namespace="alice")
    for number, (namespace, text) in enumerate(PROMPTS):
        engine.handle(IncomingRequest("POST", "/api/text", "", HEADERS, body(f"{text} {number}"),
                                      "127.0.0.1", namespace=namespace))
    engine.handle(IncomingRequest("GET", "/chat", "a=1", {"host": "localhost"}, b"",
                                  "127.0.0.1"))
    engine.handle(IncomingRequest("POST", "/api/text", "", HEADERS, b"not json", "::1"))
    names = ("", "alice")
    seen = {"requests": {name: engine.requests(namespace=name, limit=None) for name in names},
            "replies": {name: engine.replies(namespace=name) for name in names},
            "settings": {name: engine.settings(namespace=name) for name in names},
            "namespaces": engine.namespaces()}
    engine.close()
    # One file, as a release would have left it once stopped: the WAL folded in.
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("PRAGMA journal_mode=DELETE")
    db.close()
    with open(listed, "w", encoding="utf-8") as file:
        json.dump(seen, file, indent=1, ensure_ascii=False)
        file.write("\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
