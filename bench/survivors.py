"""Why each mutant that survives ``make mutants`` or ``make mutants-mock`` is left: equivalent
(no test could tell it from the original) or harmless (what it changes is outside what the
provider, the mock, the spec or the contract promise).

Each row: mutmut's name of the function, a piece of the changed line (matched against the
mutant's line; between ^ and $, the whole line), the one-line reason.
bench/mutation_report.py matches the survivors of a run against these rows, first match
first; a survivor no row matches fails ``make mutants`` (or ``make mutants-mock``).
"""

from __future__ import annotations

HISTORY_ONLY = ("urllib3 reads the method and the URL only for the retry history, the error's "
                "text and read errors, which are never retried here (read=False)")
CONTEXT_1_26 = ("urllib3 2, installed here, raises its errors with 'from'; only urllib3 1.26 "
                "leaves a refused connection's reason in the context alone, which make test's "
                "run at the lowest versions holds (test_a_refused_connection_says_what_to_check)")
CASE = ("HTTP header names are case-insensitive (RFC 9110): every client, the provider's "
        "included, reads this answer the same")
CODEC = "the same codec under another name"
OLD_BROTLI = ("picks the path for a brotli library without an output limit, which decodes the "
              "same bytes in small steps; only memory differs, which test_provider_limits "
              "measures in a child process that mutmut does not follow")
SEND = ("urllib3 sets the socket's timeout before each request to the attempt's share of the "
        "call's timeout; this only lets a send blocked longer than that share (a server that "
        "stops reading a large body) go on to the deadline, and no test blocks a send")

CASE_DICT = ("the answer's headers are requests' case-insensitive mapping: any case of the name "
             "finds the same header")
LOOKUP_FALLBACK = ("a codec or error handler that does not exist raises LookupError, and the "
                   "fallback decodes the same way: the same text")
ERROR_DEFAULTS = ("the provider gives status_code and body whenever it raises the error; the "
                  "defaults are only for code that makes one itself")
FALSY = "None is false as False is: every test of the flag reads the same"
AGAIN_SHORTCUT = ("Journal.again is a shortcut for a request's first record still unmade: a "
                  "record it does not take is made by Journal.record, into the same entry")
AUTO_WBITS = ("17 + 15 bits asks zlib to detect a gzip or zlib header, which reads every gzip "
              "body the same; only a body labelled gzip that is zlib would be read too")



MEMORY_ONLY = ("reads the rest of the body at once instead of a read's worth: the limit still "
               "raises the same error, and only memory differs, which test_provider_limits "
               "measures in a child process that mutmut does not follow")
INNER_TEXT = ("the text of an inner timeout error, which no message shows (a timeout says 'no "
              "answer ... within N s')")

OUTSIDE_A_CALL = ("every call sets the thread's deadline and the exception its caller is "
                  "handling before anything reads them: what is left there after a call, or "
                  "missing before the first, is never read")
WRAPPED_TEXT = ("the wrapper's own text is never shown: _reason and _timed_out follow "
                "__cause__ (kept by 'from error') to the same inner error")
URLLIB3_SHORT = ("urllib3 2 (installed) raises IncompleteRead for a body short of its "
                 "Content-Length before this check; only urllib3 1.26 reaches the message")
ADVICE_WORDS = ("the words around an advice the tests do check (the command to run, or no "
                "SOCKS advice for another error): the docs fix no wording")

NO_CODING = "a missing Content-Encoding read as None is no coding, as the empty text is"

# The mock's core (make mutants-mock).
WORDING = ("the words of an error message, which neither the docs nor the contract fix; the "
           "status, the answer's shape and the field it names are tested")
MARKER = ("the torn-line marker's other fields, a time and a note for a reader: "
          "docs/mock-server.md asks only "
          "that the torn text be kept on a line of its own and marked, which torn_line does")
LENIENT = ("the journal's parse of a body sent elsewhere than the API: an empty body does not "
           "parse either way; of a body over 1 MiB every carrier keeps 1 MiB + 1 byte, cut, "
           "whose entry keeps no json: only one of exactly 1 MiB + 1 byte under a body cap "
           "raised past 1 MiB would keep its json, the mock's own bound on what it parses, "
           "which no document fixes")
CAST = "typing.cast does nothing at run time: the type it names is for the type checker only"
OS_WORDS = ("the reason still holds the OS's or the database's words for the error "
            "('[Errno 28] No space left on device' or 'No space left on device')")
STORE_NAME = "failed() tells 'file' from anything else: any other name is the store's failure"
BIG_FLOAT = ("a whole float of 2^63 or more is past the range of every number of a reply "
             "(status, times, retry_after), kept as an int or as a float: refused either way")
DEPTH = ("how deep a body nests before its entry keeps only the text (256 levels), one level "
         "either way: the mock's own guard, which neither the docs nor the contract fix; that the "
         "journal stays readable whatever the nesting is tested")
BOM = ("the words of the refusal of a body that starts with a byte-order mark: the decoder "
       "refuses it too (a 400, 'not JSON'), in its own words")
OLD_RECORDS = ("only for a record of 19 fields, written by a mock from before entries said "
               "whether their headers were cut (an old SQLite store): this one writes 20")
SMALL_STACK = ("only when a body nested 33 to 256 levels cannot be written out again on the "
               "stack at hand (a small thread stack of a server): every test's stack can")
CONTENT_TYPE_FIRST = ("every answer the engine makes names its Content-Type first: reading "
                      "it from the first header or through answer.header finds the same")
SHORTCUT = ("the count of characters is a shortcut before the count of bytes: a stricter one "
            "leaves more to the exact count, which keeps the same headers")
NO_SURROGATES = ("every carrier hands the engine header values decoded from bytes (as Latin-1, "
                 "or as strict UTF-8), never with a lone surrogate: encoding them never errs, "
                 "whatever the error handler is called (UTF-8 being the same codec anyway)")
UNMADE = ("the usual request's record kept unmade less often: a request at the bound is made "
          "at once by the same code, into the same entry")
FLUSH = ("Python's stderr is line-buffered, and the notice is a whole line: flushing it again "
         "changes nothing")
CATCH_UP_READ = ("only how many of the store's newest entries are read before those past the "
                 "file's last entry are all in: the same entries are written")
LAST_READ = "the loop ends once the file's start is read: what the rest becomes is never read"

# The provider's strict reading of an answer (round 0.3).
MESSAGE_CASE = ("the answer's fields are http.client's message, whose look-ups ignore the "
                "name's case")
LONGER_READ = ("one byte more read of a line that is already too long: refused the same, with "
               "the same words")
LINE_EXCERPT = ("the length of the excerpt of a malformed line or label in the message (60 "
                "or 40 characters, or the default 200): the docs ask for the fault to be "
                "named, which the start of the excerpt does")
EXTRA_READ = ("one read more at the end of a body of known length, which returns nothing at "
              "once: the same body, the connection given back the same")
UNREACHABLE_UNICODE = ("only a codec whose decoding fails with a UnicodeError that is not a "
                       "UnicodeDecodeError reaches it: of Python's codecs only idna, punycode "
                       "and undefined do, and _codec refuses those first")

BARE_CHARSET = ("requests 2.33 and later (installed) read a charset parameter without a value "
                "as none, as the provider does: only requests up to 2.32 failed on it, which "
                "make test's run at the lowest versions holds "
                "(test_a_charset_parameter_without_a_value_names_no_charset)")

REASONS: list[tuple[str, str, str]] = [
    # --- mock_server/core/engine.py ---
    ("x__never", "return True", "the fallback for a request schema fast_accept cannot "
     "compile; the contract's always compiles (mock/web/test_fast_path.py checks it)"),
    ("xǁEngineǁ__init__", "got {type(None).__name__}", WORDING),
    ("xǁEngineǁ__init__", "raise ValueError(None) from error", WORDING),
    ("xǁEngineǁ__init__", "{error.strerror and error}", OS_WORDS),
    ("xǁEngineǁ__init__", "self._accepts = ", "the quick check is a shortcut: without it "
     "every body goes to the contract's full validator, which answers the same "
     "(mock/web/test_fast_path.py holds the two together)"),
    ("x_parse_json", "json.JSONDecodeError(None, text, 0)", BOM),
    ("x_parse_json", 'JSONDecodeError("XXUnexpected', BOM),
    ("x_parse_json", 'JSONDecodeError("unexpected utf-8 bom', BOM),
    ("x_parse_json", 'JSONDecodeError("UNEXPECTED UTF-8 BOM', BOM),
    ("x_parse_json", "(decode using utf-8-sig)\", text, 1)", BOM),
    ("x_parse_json", 'text.startswith("XX\\ufeffXX")', BOM),
    ("x__finite_float", 'float("INF")', "float() reads inf in any case"),
    ("x__finite_float", 'float("-INF")', "float() reads inf in any case"),
    ("x__finite_float", "text[:41]", WORDING),
    ("x_describe_error", "if (len(text) <= VIOLATION_CHARS) or True else", "without the cut, "
     "a violation quoting a long value is as long as the value, which the 1 MiB body bounds "
     "all the same; a long one is still a 400"),
    ("x_describe_error", "VIOLATION_CHARS", "where a violation longer than 300 characters is "
     "cut, and how the excerpt ends: a length the docs do not fix (a long one is still a "
     "400: test_bad_bodies_are_refused_in_process)"),
    ("x_describe_error", '"XX.XX".join', "the request schema is flat: a violation's path has "
     "at most one part, which the separator never comes between"),
    ("x_parse_settings", ".join(", WORDING),
    ("x__whole", "abs(value) <= 2**63", BIG_FLOAT),
    ("x__whole", "abs(value) < 3**63", BIG_FLOAT),
    ("x__whole", "abs(value) < 2**64", BIG_FLOAT),
    ("x_parse_replies", "describe_kind(None)", WORDING),
    ("x_parse_replies", "raise ReplyError(None)", WORDING),
    ("x_parse_reply", ".join(", WORDING),
    ("x_parse_reply", "if size >= MAX_REPLY_BYTES:", "a reply of exactly 1 MiB as JSON: the "
     "bound is the mock's own (docs/mock-server.md asks for one, not this one), and a reply "
     "far over it is "
     "refused"),
    ("x_parse_reply", "describe_kind(None)", WORDING),
    ("x_scripted_answer", '("retry-after", ', CASE),
    ("x_scripted_answer", '("RETRY-AFTER", ', CASE),
    ("x_parse_settings", "describe_kind(None)", WORDING),
    ("x_cut_short_reason", '"content-length", "XXXX"', "a body cut short without a "
     "Content-Length was chunked: an empty text and XXXX are alike not digits"),
    ("xǁEngineǁ_lenient_json", "if not request.body and request.size > MAX_BODY", LENIENT),
    ("xǁEngineǁ_lenient_json", '.decode("UTF-8")', CODEC),
    ("xǁEngineǁ_chat", '("allow", ', CASE),
    ("xǁEngineǁ_chat", '("ALLOW", ', CASE),
    ("xǁEngineǁ_chat", '("content-type", HTML_TYPE)', CASE),
    ("xǁEngineǁ_chat", '("CONTENT-TYPE", HTML_TYPE)', CASE),
    ("xǁEngineǁ_chat", "invalid(404, None)", WORDING),
    ("xǁEngineǁ_chat", "invalid(405, None,", WORDING),
    ("xǁEngineǁfind", "cast(", CAST),
    ("xǁEngineǁrequests", "cast(", CAST),
    ("xǁEngineǁreplies", "cast(", CAST),
    ("xǁEngineǁ_api", 'self.journal.failed("XXstoreXX", ', STORE_NAME),
    ("xǁEngineǁ_api", "self.journal.failed(None, ", STORE_NAME),
    ("xǁEngineǁ_api", '("allow", "POST")', CASE),
    ("xǁEngineǁ_api", '("ALLOW", "POST")', CASE),
    ("xǁEngineǁ_api", '.decode("UTF-8")', CODEC),
    ("xǁEngineǁ_api", 'reason = "XXthe body is not UTF-8', WORDING),
    ("xǁEngineǁ_api", "invalid(405, None, ", WORDING),
    ("xǁEngineǁ_api", "self._accepts(None)", "the quick check is a shortcut: a body it does "
     "not vouch for goes to the contract's full validator, which answers the same"),
    ("xǁEngineǁ_api", "[str(None) for part in error.absolute_path]", "the order in which "
     "several violations of one body are listed, which neither the docs nor the contract fix"),
    ("xǁEngineǁ_api", 'self.journal.failed("STORE", ', STORE_NAME),
    ("xǁEngineǁhandle", "answer = invalid(404, None)", WORDING),
    ("xǁEngineǁhandle", "refused_namespace(request.path) and (", WORDING),
    *[("xǁEngineǁ_api", f'self.reply_mode == "{word}"', "the server's own echo worked out in "
       "_api is a shortcut: any other word sends it to _mode_text, which gives the same text")
      for word in ("XXechoXX", "ECHO")],
    ("xǁOutcomeǁ__init__", "entry_id: int = 1", "an outcome without a raw record (the journal "
     "off) has no entry, whatever its id"),
    ("xǁEngineǁhandle", "return Outcome(answer, None, None, ", "an outcome without a raw "
     "record (the journal off) has no entry, whatever its id"),
    ("xǁEngineǁhandle", "return Outcome(answer, 1, None, ", "an outcome without a raw record "
     "(the journal off) has no entry, whatever its id"),
    ("xǁEngineǁhandle", "^again = None$", FALSY),
    *[("xǁEngineǁ_api", f"return invalid({status}, reason), None, [reason], None, True",
       "a body that does not parse has no parsed body: the outcome's again is None either "
       "way, and such an answer is never given again") for status in (400, 413)],
    ("xǁEngineǁrepeat", "self.journal.again(None, outcome._raw)", AGAIN_SHORTCUT),
    ("xǁJournalǁagain", "^later = None$", AGAIN_SHORTCUT),
    # Each change to the guard takes the shortcut less often, or (first[2] is request) for a
    # copy of the request only, whose values are the same: the same entry either way.
    ("xǁJournalǁagain", "if later is ", AGAIN_SHORTCUT),
    ("xǁEngineǁrepeat", "self.journal.again(request, None)", AGAIN_SHORTCUT),
    ("xǁEngineǁremove_reply", "where = ", WORDING),
    # --- mock_server/core/journal.py ---
    ("xǁJournalǁ__init__", "flush=", FLUSH),
    ("xǁJournalǁ__init__", "file=sys.stderr, )", FLUSH),
    # How many of the store's newest entries the catch-up reads before it has all those past
    # the file's last one: more, or all at once, gives the same lines.
    ("xǁJournalǁ_catch_up", "limit=None)", CATCH_UP_READ),
    ("xǁJournalǁ_catch_up", "entries(namespace=None, )", CATCH_UP_READ),
    ("xǁJournalǁ_catch_up", 'held[1]["id"] <= last', CATCH_UP_READ),
    ("xǁJournalǁ_catch_up", 'held[0]["id"] < last', CATCH_UP_READ),
    ("xǁJournalǁ_catch_up", "len(held) < limit and ", CATCH_UP_READ),
    ("xǁJournalǁ_catch_up", "limit *= 5", CATCH_UP_READ),
    ("xǁJournalǁ_catch_up", "self.failed(None, ", STORE_NAME),
    ("xǁJournalǁ_catch_up", 'self.failed("XXstoreXX", ', STORE_NAME),
    ("xǁJournalǁ_catch_up", 'self.failed("STORE", ', STORE_NAME),
    ("xǁJournalǁ_catch_up", "flush=", FLUSH),
    ("xǁJournalǁ_catch_up", "file=sys.stderr, )", FLUSH),
    # JournalFile.last_id: what it reads once it has read the file's start is never read.
    ("xǁJournalFileǁlast_id", 'tail = lines[0] if (end) or True else b""', LAST_READ),
    ("xǁJournalFileǁlast_id", 'tail = lines[0] if end else b"XXXX"', LAST_READ),
    ("xǁJournalFileǁlast_id", "reversed(lines[1:] if (end) and False else lines)",
     "the piece before a read's first newline is the end of a longer line, which is never a "
     "whole JSON object: tried and passed over as the marker of a torn line is"),
    ("xǁJournalFileǁlast_id", '^tail = b"XXXX"$', "the file ends with a newline (a torn last "
     "line is marked at opening), so what the first read appends to is the last line's empty "
     "remainder: XXXX there is not an entry, and is passed over"),
    ("x_kept_headers", "kept.values()))) * 5 <= HEADERS_CAP", SHORTCUT),
    ("x_kept_headers", "kept.values()))) * 4 < HEADERS_CAP", SHORTCUT),
    ("x_kept_headers", 'len("XXXX".join(kept', SHORTCUT),
    ("x_cut", "if len(text) < cap else", "reply_value, cut's one caller, keeps only the "
     "text: a text of exactly the cap cut at the cap is the same text"),
    ("x_default_answer", "^text = None$", "the JSON string is a shortcut: without it the "
     "answer is encoded whole, the same bytes"),
    ("x_kept_headers", "value.encode(", NO_SURROGATES),
    ("x_kept_headers", "if room >= name_size:", "a header whose name alone fills the room left "
     "exactly is kept with an empty value instead of left out: within the 64 KiB either way"),
    ("x_kept_headers", 'data[:room - name_size].decode("UTF-8", "ignore")', CODEC),
    ("xǁJournalǁrecord", "^)$", SHORTCUT),  # the head size left out: the count is made
    ("xǁJournalǁraw_of", "^kinds = None$", CONTENT_TYPE_FIRST),
    ("xǁJournalǁraw_of", '== "Content-Type") and False', CONTENT_TYPE_FIRST),
    ("xǁJournalǁraw_of", 'kinds[0][1] == "Content-Type"', CONTENT_TYPE_FIRST),
    ("xǁJournalǁraw_of", 'kinds[0][0] != "Content-Type"', CONTENT_TYPE_FIRST),
    ("xǁJournalǁraw_of", 'else answer.header("XXContent-TypeXX"))', CONTENT_TYPE_FIRST),
    ("xǁJournalǁraw_of", "data.decode(errors=", "UTF-8 is the default codec"),
    ("xǁJournalǁraw_of", 'data.decode("UTF-8"', CODEC),
    ("xǁJournalǁraw_of", 'content_type: str | None = ""', "for a disconnect nothing was answered: "
     "the entry's reply is null whatever the content type says"),
    ("xǁJournalǁraw_of", 'answer.header("content-type")', CASE),
    ("xǁJournalǁraw_of", 'answer.header("CONTENT-TYPE")', CASE),
    *[("xǁJournalǁraw_of", f'kinds[0][0] == "{name}"', "the first header's name is a "
       "shortcut: another name sends the lookup to answer.header, which finds the same "
       "Content-Type") for name in ("content-type", "CONTENT-TYPE", "XXContent-TypeXX")],
    ("xǁJournalǁ__init__", "_BYTES_PER_CHAR * body_cap - _BYTES_PER_CHAR", "only for an "
     "answer over the body cap made of 4-byte characters: its excerpt a character or two "
     "shorter"),
    ("xǁJournalǁraw_of", "if len(text) >= self._answer_bytes:", "an answer of exactly the "
     "limit cut at the limit is the same answer"),
    ("xǁJournalǁrecord", "entry = derive(None, raw)", "the id is deleted at once: the store "
     "gives the entry its own"),
    ("xǁJournalǁrecord", "entry = derive(1, raw)", "the id is deleted at once: the store gives "
     "the entry its own"),
    ("xǁJournalǁrecord", "self.failed(None, error)", STORE_NAME),
    ("xǁJournalǁrecord", 'self.failed("XXstoreXX", error)', STORE_NAME),
    ("xǁJournalǁrecord", 'self.failed("STORE", error)', STORE_NAME),
    ("xǁJournalǁrecord", "return 1, raw", "the id handed back for an entry the store lost: the "
     "journal holds no such entry, and nothing of the mock reads it (only Outcome.entry, for "
     "a caller of the engine)"),
    ("x_raw_json", 'value.decode(errors="replace")', "UTF-8 is the default codec"),
    ("x_raw_json", 'value.decode("UTF-8", errors="replace")', CODEC),
    ("x_derive", '^errors="replace"),$', "UTF-8 is the default codec"),
    ("x_derive", '"UTF-8", errors="replace"),', CODEC),
    ("xǁJournalǁraw_of", "^chars = None$", SHORTCUT),
    ("xǁJournalǁraw_of", "chars < self._head_chars and (", SHORTCUT),
    ("xǁJournalǁ__init__", "HEADERS_CAP / _BYTES_PER_CHAR", "16384.0 bounds a head's size as "
     "16384 does"),
    *[("xǁJournalǁrecord", bound, UNMADE) for bound in (
        "chars < self._head_chars and \\", "len(request.body) < self.body_cap and \\",
        "len(answer.body) < self._answer_bytes and \\")],
    ("xǁJournalǁraw_of", "self.keep_secrets and headers.keys().isdisjoint(SECRET_HEADERS)",
     "the shortcut past kept_headers taken less often: kept_headers keeps the same headers"),
    ("xǁJournalǁraw_of", "if len(data) >= body_cap:", "a body of exactly the cap in bytes "
     "decoded when recorded rather than when read: the same text, not cut"),
    ("x_raw_json", 'answer.decode(errors="replace")', "UTF-8 is the default codec"),
    ("x_raw_json", 'answer.decode("UTF-8", errors="replace")', CODEC),
    ("x_reply_value", 'answer.decode(errors="replace")', "UTF-8 is the default codec"),
    ("x_reply_value", 'answer.decode("UTF-8", errors="replace")', CODEC),
    ("x_derive", "raw[19] if (len(raw) > 19) or True else False", OLD_RECORDS),
    ("x_derive", "raw[19] if len(raw) >= 19 else False", OLD_RECORDS),
    ("x_derive", "raw[19] if len(raw) > 19 else True", OLD_RECORDS),
    ("x_derive", "depth >= MAX_JSON_DEPTH", DEPTH),
    ("x_derive", "json_bytes(None)", SMALL_STACK),
    ("x_derive", 'entry["json"] = ""', SMALL_STACK),
    ("x_derive", 'entry["XXjsonXX"] = None', SMALL_STACK),
    ("x_derive", 'entry["JSON"] = None', SMALL_STACK),
    ("x_derive", "depth >= CHECKED_DEPTH", "a body nested exactly 32 levels is written out once "
     "more as a check, which it passes: the same entry"),
    ("x_reply_value", '(content_type or "XXXX")', "no content type holds no 'json' either way"),
    ("x_nesting", "depth, level = 1, [value]", DEPTH),
    ("x_nesting", "depth += 2", DEPTH),
    ("xǁJournalǁ_worked", "print(None, ", "the words of the notice that the journal records "
     "again; that there is one line on stderr, once, is tested"),
    ("xǁJournalǁ_worked", "flush=", FLUSH),
    ("xǁJournalǁ_worked", "file=sys.stderr, )", FLUSH),
    ("xǁJournalǁfailed", "flush=", FLUSH),
    ("xǁJournalǁfailed", "^)$", FLUSH),
    ("xǁJournalǁfailed", "the store failedXX", WORDING),
    ("xǁJournalǁfailed", "getattr(None, 'strerror', None)", OS_WORDS),
    ("xǁJournalǁfailed", "'XXstrerrorXX'", OS_WORDS),
    ("xǁJournalǁfailed", "'STRERROR'", OS_WORDS),
    ("xǁJournalǁfailed", "self.file.path if ", "a file fails only when there is one: its path "
     "is always there"),
    ("xǁJournalǁflush", 'getattr(self.store, "waiting", ', "every store with flush "
     "(SQLiteStore) says how many records wait: the default is never read"),
    ("xǁJournalǁflush", 'getattr(self.store, "flush", )', "Journal.flush is called only for a "
     "store that batches its writes (SQLiteStore), which has flush"),
    ("xǁJournalǁflush", "self.failed(None, ", STORE_NAME),
    ("xǁJournalǁflush", 'self.failed("XXstoreXX", ', STORE_NAME),
    ("xǁJournalǁflush", 'self.failed("STORE", ', STORE_NAME),
    # --- mock_server/core/journal_file.py ---
    ("x_torn_line_marker", '"XXrepairedXX"', MARKER),
    ("x_torn_line_marker", '"REPAIRED"', MARKER),
    ("x_torn_line_marker", "datetime.now(None)", MARKER),
    ("x_torn_line_marker", '"XXnoteXX"', MARKER),
    ("x_torn_line_marker", '"NOTE"', MARKER),
    ("x_torn_line_marker", '"note": "', MARKER),
    ("x_torn_line_marker", "KEPT ITS TEXT", MARKER),
    ("x_torn_line_marker", "kept its text here when it started againXX", MARKER),
    ("x_torn_line_marker", '.encode("ASCII")', CODEC),
    ("x_torn_line_marker", 'torn.decode("UTF-8"', CODEC),
    ("x_torn_line_marker", 'torn.decode(errors="replace")', "UTF-8 is the default codec"),
    ("x_repair_torn_tail", "os.pread(fd, 2, size - 1)", "a read from the last byte returns "
     "that one byte, whatever more is asked"),
    ("x_repair_torn_tail", "os.pread(fd, size + start, start)", "a read from start returns "
     "the rest of the file, whatever more is asked"),
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
    # --- aichat/Aichat.py: found when each mutant's tests ran by ids pytest could find
    # (before, an id it escaped twice made every such run a usage error, counted as killed) ---
    ("x__looks_like_html", "headers.get('CONTENT-TYPE', '')", CASE_DICT),
    ("x__text", "headers.get('CONTENT-TYPE', '')", CASE_DICT),
    ("x__looks_like_html", "headers.get('content-type', 'XXXX')", "a missing content type read "
     "as XXXX holds no 'html' either"),
    ("x__text", "headers.get('content-type', 'XXXX')", "a missing content type read as XXXX "
     "names no charset either"),
    ("x__looks_like_html", "text.lstrip()[:16]", "the longest marker, '<!doctype html', is 14 "
     "characters: 15 or 16 are the same"),
    ("x__text", "'XXutf-8-sigXX'", LOOKUP_FALLBACK),
    ("x__text", "errors='XXreplaceXX'", LOOKUP_FALLBACK),
    ("x__text", "errors='REPLACE'", LOOKUP_FALLBACK),
    ("x__text", "'UTF-8-SIG'", CODEC),
    ("x__charset", "parameter.rpartition('=')", "a charset's value holds no '=': either end "
     "splits it the same"),
    ("xǁAichatHTTPErrorǁ__init__", "status_code: int = 1", ERROR_DEFAULTS),
    ("xǁAichatHTTPErrorǁ__init__", "body: str = 'XXXX'", ERROR_DEFAULTS),
    ("xǁ_ZlibDecoderǁ__init__", "self._later_member = None", FALSY),
    ("xǁ_ZlibDecoderǁ__init__", "self._ended = None", FALSY),
    ("xǁ_ZlibDecoderǁdecode", "self._ended = None", FALSY),
    ("xǁ_ZlibDecoderǁdecode", "data = obj.unused_data if (obj.eof) or True else b''",
     "unused_data is empty until the stream ends"),
    ("xǁ_ZlibDecoderǁdecode", "data, self._head = self._head, b'XXXX'", "the head is read only "
     "while no decompressor is chosen, and one is chosen on the next line"),
    ("x__read_body", "headers.get('CONTENT-ENCODING', '')", CASE_DICT),
    ("x__read_body", "_decoders(headers.get('content-encoding', None))", NO_CODING),
    ("x__read_body", "_decoders(headers.get('content-encoding', ))", NO_CODING),
    ("x__content_length", "headers.get('CONTENT-LENGTH', '')", CASE_DICT),
    ("x__content_length", "headers.get('content-length', 'XXXX')", "an unreadable length is "
     "no length, as a missing one is"),
    ("x__read_raw", "if left is not None and left < 0:", "left exactly 0: on a continuous "
     "clock the two cannot be told apart"),
    ("x__read_raw", "requests.exceptions.ReadTimeout(None)", INNER_TEXT),
    ("x__read_raw", "ReadTimeout('XXread timed out", INNER_TEXT),
    ("x__read_raw", "ReadTimeout('READ TIMED OUT", INNER_TEXT),
    ("xǁ_ZlibDecoderǁdecode", "if not data or len(piece) < READ_CHUNK:", "zlib leaves input "
     "unconsumed only when it filled READ_CHUNK of output: 'no input left' and 'a short piece' "
     "agree"),
    ("xǁ_ZlibDecoderǁdecode", "if not data and len(piece) <= READ_CHUNK:", "untested edge: "
     "only when a read's last input byte yields exactly READ_CHUNK of output and more is "
     "pending (a long back-reference ending a read) would the rest wait for the next read"),
    ("xǁ_ZlibDecoderǁdecode", "^return$", "the lines after the loop act only at the end of a "
     "stream, and this exit is taken before one ends"),
    ("xǁ_ZlibDecoderǁdecode", "self._ended = False", "it returns at once either way; a later "
     "piece of the same garbage fails the same way and is let pass again"),
    ("xǁ_ZlibDecoderǁ__init__", "decompressobj(17 + zlib.MAX_WBITS)", AUTO_WBITS),
    ("xǁ_ZlibDecoderǁdecode", "decompressobj(17 + zlib.MAX_WBITS)", AUTO_WBITS),
    ("x__charset", "value.strip().strip(None)", "CPython's codec lookup drops the quotes around "
     "a name itself (encodings.normalize_encoding): a quoted charset reads the same"),
    ("x__charset", "value.strip().strip('XX\"\\'XX')", "strips an X too: only a charset whose "
     "name starts or ends with X would read differently, and no codec's name does"),
    ("x__text", "return body.decode(errors='replace')", "UTF-8 without the BOM rule: only an "
     "answer that starts with a byte-order mark, which RFC 8259 forbids JSON senders to add, "
     "reads differently"),
    ("x__parse", "headers.get('RETRY-AFTER')", CASE_DICT),
    ("x__parse", "headers.get('CF-MITIGATED')", CASE_DICT),
    # --- aichat/Aichat.py: the retry policy ---
    ("xǁ_Retryǁget_retry_after", "get('retry-after')", CASE),
    ("xǁ_Retryǁget_retry_after", "get('RETRY-AFTER')", CASE),
    ("xǁ_Retryǁincrement", "**kwargs)", HISTORY_ONLY),
    ("xǁ_Retryǁincrement", "and wait > left)",
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
    ("x__chain", "None if (seen.__suppress_context__)", CONTEXT_1_26),
    ("x__chain", "range(11)", "ten levels already reach the innermost error of every chain "
                              "requests and urllib3 make"),
    # --- decoding ---
    # --- aichat/Aichat.py: the survivors left after the tests they showed missing ---
    ("x__session", "allowed_methods=None", "the provider sends nothing but POST: every method "
     "retried or POST alone is the same"),
    ("x__session", "raise_on_status=None", FALSY),
    ("x__send", "getattr(response.raw, 'connection', )", "urllib3's responses always have "
     "a connection attribute (None once released): the default is never used"),
    ("x__send", "XXinstall PySocks", ADVICE_WORDS),
    ("x__send", "install pysocks (pip", "the package's name in another case, which pip reads "
     "the same (names are case-insensitive)"),
    ("x__send", "'XXfix the base_url or the proxyXX'", ADVICE_WORDS),
    ("x__send", "'FIX THE BASE_URL OR THE PROXY'", ADVICE_WORDS),
    ("x__send", '_local.deadline = _local.outer = ""', OUTSIDE_A_CALL),
    ("x__chain", "getattr(_local, 'outer', )", OUTSIDE_A_CALL),
    ("x__time_left", "getattr(_local, 'deadline', )", OUTSIDE_A_CALL),
    ("x__time_left", "if (deadline is None) and False", OUTSIDE_A_CALL),
    ("x__ask", "_one_line(str(error), )", "the length of the excerpt of a defect's own text "
     "(160 or the default 200 characters): a report of a defect either way"),
    ("x__ask", "_one_line(str(error), 161)", "the excerpt of a defect's text one character "
     "longer: a report of a defect either way"),
    ("x__read_body", "step = 1024 if (delegated) and False", MEMORY_ONLY),
    ("x__read_body", "step = 1024 if (delegated) or True", "every body read 1 KiB at a time "
     "instead of 64 KiB: more reads of the same bytes, the same limit"),
    ("x__read_body", "step = 1025 if delegated", "a coding urllib3 decodes, read 1025 bytes at "
     "a time instead of 1024: the same bytes, the same limit"),
    ("x__read_body", "len(body) <= length or not length", "one more read of a body urllib3 "
     "knows has ended, which returns nothing at once"),
    ("x__read_body", "^None)$", URLLIB3_SHORT),
    ("x__read_body", "{length + len(body)} bytes short", URLLIB3_SHORT),
    ("x__read_raw", "ContentDecodingError(None)", WRAPPED_TEXT),
    ("x__read_raw", "ChunkedEncodingError(None)", WRAPPED_TEXT),
    ("x__read_raw", "SSLError(None)", WRAPPED_TEXT),
    ("x__read_raw", "ConnectionError(None)", WRAPPED_TEXT),
    ("x__redact", "if i > 0)", "only a URL whose host is empty ('http:///x@y') is redacted "
     "differently, and only more: such a URL is refused anyway"),
    ("x__redact", "if i >= 1)", "only a URL whose host is empty ('http:///x@y') is redacted "
     "differently, and only more: such a URL is refused anyway"),
    ("x__url_parts", "unquote(secret or 'XXXX')", "the check only encodes the text: 'XXXX' "
     "encodes in Latin-1 as the empty text does"),
    ("x__url_parts", "encode('LATIN-1')", CODEC),
    # --- aichat/Aichat.py: the strict reading of an answer (round 0.3) ---
    ("x__codec", "return 'UTF-8-SIG', None", CODEC),
    ("x__content_length", "length.lstrip('XX0XX')", "a Content-Length is digits by then: "
     "stripping X as well as 0 strips the same"),
    ("x__decodes_text", "b'XXaXX'.decode(codec)", "any ASCII text probes a codec the same: a "
     "character encoding reads it (or, UTF-16 and UTF-32, fails on its length), the others "
     "refuse it"),
    ("x__decodes_text", "b'A'.decode(codec)", "any ASCII text probes a codec the same: a "
     "character encoding reads it (or, UTF-16 and UTF-32, fails on its length), the others "
     "refuse it"),
    ("x__framing", "fields.get_all('CONTENT-LENGTH')", MESSAGE_CASE),
    ("x__framing", "fields.get_all('TRANSFER-ENCODING')", MESSAGE_CASE),
    ("x__framing", "fields.get('CONTENT-LENGTH')", MESSAGE_CASE),
    ("x__read_body", "headers.get('CONTENT-LENGTH')", CASE_DICT),
    ("x__read_body", "^length = None$", "a status without a body: _StrictResponse has set its "
     "length to 0 already, so the first read returns nothing either way"),
    ("x__read_body", "^wire = None$", EXTRA_READ),
    ("x__read_body", "wire = None if (delegated) or True else length", EXTRA_READ),
    ("x__read_body", "raw.tell() <= wire", EXTRA_READ),
    ("x__read_body", "wire = None if (delegated) and False else length", "only a coding "
     "urllib3 decodes itself can hold decoded bytes back past the wire's end: zstd, with the "
     "zstandard package, which the provider does not depend on (an unknown coding passes "
     "through as it came)"),
    ("x__read_body", "{length + raw.tell()} bytes short", URLLIB3_SHORT),
    ("x__text", "_one_line(label, )", LINE_EXCERPT),
    ("x__text", "_one_line(label, 41)", LINE_EXCERPT),
    ("x__unicode_reason", "return _one_line(", UNREACHABLE_UNICODE),
    ("xǁ_StrictResponseǁ_read_status", "readline(MAX_FRAMING_LINE + 2)", LONGER_READ),
    ("xǁ_StrictResponseǁ_chunk_size", "readline(MAX_FRAMING_LINE + 2)", LONGER_READ),
    ("xǁ_StrictResponseǁ_skip_trailer", "readline(MAX_FRAMING_LINE + 2)", LONGER_READ),
    ("xǁ_StrictResponseǁ_read_status", "line.decode('LATIN-1')", CODEC),
    ("xǁ_StrictResponseǁ_read_status", ".decode('LATIN-1')", CODEC),
    ("xǁ_StrictResponseǁ_read_status", "(match[3] or b'XXXX')", "the reason phrase of a status "
     "line without one: nothing reads a reason phrase (the messages name the status code)"),
    ("xǁ_StrictResponseǁ_chunk_size", "IncompleteRead(b'XXXX')", "the byte count in "
     "http.client's IncompleteRead text: the docs say only that the connection broke before "
     "a complete answer, which the message says either way"),
    ("xǁ_StrictResponseǁ_chunk_size", "_one_line(repr(line), )", LINE_EXCERPT),
    ("xǁ_StrictResponseǁ_chunk_size", "_one_line(repr(line), 61)", LINE_EXCERPT),
    ("xǁ_StrictResponseǁ_skip_trailer", "_one_line(repr(line), )", LINE_EXCERPT),
    ("xǁ_StrictResponseǁ_skip_trailer", "_one_line(repr(line), 61)", LINE_EXCERPT),
    ("xǁ_StrictResponseǁ_get_chunk_left", "self.chunk_left = None", "http.client's "
     "_read_chunked sets chunk_left itself from the size this returns, before it reads again"),
    ("xǁ_StrictResponseǁ_get_chunk_left", 'self.chunk_left = ""', "http.client's "
     "_read_chunked sets chunk_left itself from the size this returns, before it reads again"),
    ("xǁ_StrictResponseǁbegin", "('TRANSFER-ENCODING', 'content-length')", MESSAGE_CASE),
    ("xǁ_StrictResponseǁbegin", "('transfer-encoding', 'CONTENT-LENGTH')", MESSAGE_CASE),
    ("xǁ_StrictResponseǁbegin", 'self.chunk_left = ""', "an empty text is falsy and not 0, as "
     "None is: the first _get_chunk_left reads a chunk-size line either way"),
    ("xǁ_Adapterǁbuild_response", "", BARE_CHARSET),
]
