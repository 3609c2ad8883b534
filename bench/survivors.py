"""Why each mutant that survives ``make mutants`` is left: equivalent (no test could tell it
from the original) or harmless (what it changes is outside what the provider promises).

Each row: mutmut's name of the function, a piece of the changed line (matched against the
mutant's line), the one-line reason. bench/mutation_report.py matches the survivors of a run
against these rows, first match first; a survivor no row matches fails ``make mutants``.
"""

from __future__ import annotations

CASE = ("HTTP header names are case-insensitive (RFC 9110): every client, the provider's "
        "included, reads this answer the same")
CODEC = "the same codec under another name"
ARGS_OF_A_DISCARDED_ERROR = (
    "urllib3 catches this MaxRetryError and hands back the last answer (raise_on_status=False), "
    "or requests keeps only its reason: its pool and URL are never read")
HISTORY_ONLY = ("urllib3 reads this argument only for the retry history and for read errors, "
                "which are never retried here (read=False)")
OLD_BROTLI = ("picks the path for a brotli library without an output limit, which decodes the "
              "same bytes in small steps; only memory differs, which test_provider_limits "
              "measures in a child process that mutmut does not follow")
CHAIN = ("the chain is also followed through args and __cause__, which reach the same inner "
         "errors for every error requests and urllib3 raise here")
SEND = ("urllib3 sets the socket's timeout before each request to the attempt's share of the "
        "call's timeout; this only lets a send blocked longer than that share (a server that "
        "stops reading a large body) go on to the deadline, and no test blocks a send")
FINISH = ("finish() decodes at most one held byte, and one byte of deflate never makes output: "
          "the result is the same empty list")

REASONS: list[tuple[str, str, str]] = [
    # --- mock_server/core/faults.py ---
    ("x__challenge", '("content-type", HTML_TYPE)', CASE),
    ("x__challenge", '("CONTENT-TYPE", HTML_TYPE)', CASE),
    ("x__challenge", '("server", "cloudflare")', CASE),
    ("x__challenge", '("SERVER", "cloudflare")', CASE),
    ("x__challenge", '("CF-MITIGATED", "challenge")', CASE),
    ("x__challenge", '("cache-control", "no-store")', CASE),
    ("x__challenge", '("CACHE-CONTROL", "no-store")', CASE),
    ("x__challenge", '.encode("UTF-8")', CODEC),
    ("x__html", '("content-type", HTML_TYPE)', CASE),
    ("x__html", '("CONTENT-TYPE", HTML_TYPE)', CASE),
    ("x__malformed", '("content-type", JSON_TYPE)', CASE),
    ("x__malformed", '("CONTENT-TYPE", JSON_TYPE)', CASE),
    ("x__upstream", '("content-type", JSON_TYPE)', CASE),
    ("x__upstream", '("CONTENT-TYPE", JSON_TYPE)', CASE),
    ("x__text", '("content-type", TEXT_TYPE)', CASE),
    ("x__text", '("CONTENT-TYPE", TEXT_TYPE)', CASE),
    ("x__text", '.encode("UTF-8")', CODEC),
    # --- aichat/Aichat.py: the retry policy ---
    ("xǁ_Retryǁget_retry_after", "get('retry-after')", CASE),
    ("xǁ_Retryǁget_retry_after", "get('RETRY-AFTER')", CASE),
    ("xǁ_Retryǁincrement", "raise MaxRetryError(", ARGS_OF_A_DISCARDED_ERROR),
    ("xǁ_Retryǁincrement", "retry = super().increment(", HISTORY_ONLY),
    ("xǁ_Retryǁincrement", "else wait) > left:",
     "a wait exactly equal to the time left: on a continuous clock the two cannot be told "
     "apart"),
    # --- the transport ---
    ("xǁ_Adapterǁinit_poolmanager", "init_poolmanager(*args, )",
     "requests passes one keyword here, block, whose default is the same"),
    ("xǁ_Adapterǁproxy_manager_for", "proxy_manager_for(proxy, )",
     "requests passes no keyword arguments to proxy_manager_for"),
    ("x__deadline_pool", "made = ",
     "setdefault still hands back the class made first: the lookup only saves making a class "
     "that would be thrown away"),
    ("x__forget_sessions", "_local = None",
     "runs only in a forked child, which mutmut's test tracking does not follow; "
     "test_a_forked_child_does_not_share_the_parents_socket checks it"),
    ("xǁ_BrotliDecoderǁ__init__", "self._bounded = ", OLD_BROTLI),
    ("xǁ_DeadlineConnectionǁconnect", "if left < 0:", "left exactly 0: on a continuous "
     "clock the two cannot be told apart"),
    ("xǁ_DeadlineConnectionǁconnect", "raise TimeoutError(", "the text of an inner "
     "TimeoutError, which no message shows (a timeout says 'no answer ... within N s')"),
    ("xǁ_DeadlineConnectionǁconnect", "self.timeout >= left", "a connect timeout exactly "
     "equal to the time left: the same wait either way"),
    ("xǁ_DeadlineConnectionǁsend", "left = None", SEND),
    ("xǁ_DeadlineConnectionǁsend", "if left is None and self.sock", SEND),
    ("xǁ_DeadlineConnectionǁsend", "self.sock.settimeout(None)", SEND),
    ("xǁ_DeadlineConnectionǁsend", "if left < 0:", "left exactly 0: on a continuous clock the "
     "two cannot be told apart"),
    ("xǁ_DeadlineConnectionǁsend", "raise TimeoutError(", "the text of an inner TimeoutError, "
     "which no message shows"),
    ("xǁ_DeadlineReaderǁreadinto", "if left < 0:", "left exactly 0: on a continuous clock the "
     "two cannot be told apart"),
    ("xǁ_DeadlineReaderǁreadinto", "raise TimeoutError(", "the text of an inner TimeoutError, "
     "which no message shows"),
    ("xǁ_DeadlineReaderǁclose", "if self.closed:", "the socket's raw reader also closes itself "
     "when it is dropped, which CPython does as soon as the answer is done with"),
    ("xǁ_DeadlineResponseǁ__init__", "super().__init__(sock, **kwargs)", "http.client passes "
     "the response no positional arguments but the socket"),
    ("xǁ_DeadlineResponseǁ__init__", "super().__init__(sock, *args, )", "http.client passes "
     "only method= (and debuglevel= when debugging): without it the method is None, which "
     "reads a POST's answer the same (only HEAD differs)"),
    ("xǁ_DeadlineResponseǁ__init__", "getattr(_local, 'deadline', )", "every call sets the "
     "thread's deadline before its request, so the attribute is always there when an answer "
     "is read"),
    # --- errors and their messages ---
    ("x__connection_message", "requests.exceptions.ProxyError) and any(",
     "requests turns every urllib3 ProxyError into its own ProxyError, so either test alone "
     "decides"),
    ("x__connection_message", "for inner in _chain(None)",
     "requests turns every urllib3 ProxyError into its own ProxyError, so the first test "
     "already decides"),
    ("x__chain", "range(11)", "ten levels already reach the innermost error of every chain "
                              "requests and urllib3 make"),
    ("x__chain", "getattr(", CHAIN),
    # --- decoding ---
    ("xǁ_ZlibDecoderǁfinish", "", FINISH),
]
