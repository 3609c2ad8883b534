"""The values the tests expect, written out from the project's reference docs (docs/provider.md:
what the provider sends, its keywords and their defaults; docs/mock-server.md: the mock's
limits) and never read from the code under test.

A test may import the code it tests, not its answers: ``Aichat.HEADERS`` or
``Aichat.PARAMETERS`` as the expected value would pass whatever the code says. The contract data
(``contract/openapi.json``, ``contract/cases``) is the other source of expected values; the
tests of ``contract/test_openapi.py`` hold it to the values below.
"""

from __future__ import annotations

MiB = 1024 * 1024

# contract/openapi.json: where the request goes.
SITE = "https://chat-gpt.org"
API_PATH = "/api/text"
# docs/provider.md: the module's attributes.
URL = "https://chat-gpt.org/chat"
MODEL = ["gpt-3.5-turbo"]
PARAMS = "g4f.Providers.Aichat supports: (model: str, messages: list, stream: bool)"
BASE_URL_ENV = "AICHAT_BASE_URL"

# contract/openapi.json: every request header, in the original module's order, with its exact value.
HEADERS = {
    "authority": "chat-gpt.org",
    "accept": "*/*",
    "cache-control": "no-cache",
    "content-type": "application/json",
    "origin": "https://chat-gpt.org",
    "pragma": "no-cache",
    "referer": "https://chat-gpt.org/chat",
    "sec-ch-ua-mobile": "?0",
    "sec-ch-ua-platform": '"macOS"',
    "sec-fetch-dest": "empty",
    "sec-fetch-mode": "cors",
    "sec-fetch-site": "same-origin",
    "user-agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
                  "(KHTML, like Gecko) Chrome/113.0.0.0 Safari/537.36",
}
# contract/openapi.json: added by HTTP itself, never by the provider.
HTTP_OWN_HEADERS = {"host", "content-length", "accept-encoding", "connection"}

# contract/openapi.json: the body's parameters in wire order with their defaults (JSON integers),
# and docs/provider.md: the range each must fall in (both ends included).
DEFAULTS = {"temperature": 1, "presence_penalty": 0, "top_p": 1, "frequency_penalty": 0}
RANGES = {"temperature": (0, 2), "presence_penalty": (-2, 2), "top_p": (0, 1),
          "frequency_penalty": (-2, 2)}


def body(message: str, **overrides: object) -> dict[str, object]:
    """The request body contract/openapi.json describes: the prompt, then the parameters in wire
    order."""
    return {"message": message, **{name: overrides.get(name, default)
                                   for name, default in DEFAULTS.items()}}


# docs/provider.md and the keyword table of docs/provider.md.
DEFAULT_TIMEOUT = 60
DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_RESPONSE_BYTES = 4 * MiB
DEFAULT_PROXY = None  # "none"
RETRY_STATUSES = (429, 502, 503, 504)
# docs/provider.md: "exponential backoff that honours Retry-After up to 30 s; a longer
# Retry-After ... is raised to the caller at once".
RETRY_WAIT_CAP = 30

# docs/mock-server.md: the mock refuses a body over 1 MiB with 413; its journal keeps 10,000
# entries.
MOCK_MAX_BODY = 1 * MiB
MOCK_JOURNAL_CAP = 10_000

# docs/mock-server.md, "Journal entries": an entry's fields, in the order the admin API lists
# them.
ENTRY_FIELDS = ["id", "time", "namespace", "method", "path", "query", "headers",
                "headers_truncated", "json", "body", "body_size", "body_truncated",
                "remote_addr", "host", "scheme", "via", "status", "reply", "violations",
                "header_diff", "fault", "delay_ms", "scripted", "reply_id"]
# docs/mock-server.md, Matching: message_regex is RE2 syntax, and a pattern compiling to more than
# 100 RE2 instructions is refused.
MOCK_PATTERN_INSTRUCTIONS = 100
# docs/mock-server.md: admin bodies over 8 MiB are refused (413); --replies FILE is read up to it.
MOCK_ADMIN_BODY = 8 * MiB
# docs/mock-server.md, Journal entries: an entry keeps up to the body cap of its body (--body-cap,
# 65,536 characters by default) and up to the head cap (64 KiB) of its headers.
MOCK_BODY_CAP = 65_536
MOCK_HEAD_CAP = 64 * 1024
# docs/mock-server.md, Limits: the request lines, targets and header lines the server keeps
# of past requests, and the longest it keeps.
MOCK_SEEN_KEPT = 4096
MOCK_SEEN_BYTES = 256
# ... and the longest whole head (request line and headers) it keeps (1,024 of them).
MOCK_HEAD_BYTES_KEPT = 2048
# ... and the longest body whose answer a connection keeps to give again to the same bytes.
MOCK_AGAIN_BODY = 1024
