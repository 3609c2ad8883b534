"""The checks of a report card, written once from the contract (``contract/cases``, the header
table of ``contract/openapi.json``) and the mock's fault catalogue, for any client of the site.

Each check is a call (messages, keyword arguments, the client's ``timeout``), the answers the
mock is told to give, and a judge that turns what was seen (the journal, what reached the
caller, the time) into the problems found; none found is a pass. docs/grading.md says what
each check expects and why.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..core import contract
from ..core.faults import FAULTS
from .outcome import Outcome, shown

# The timeout the grader gives a client whose check does not set one, in seconds.
TIMEOUT = 3.0
# A call may end this long after its timeout and still count as keeping it (docs/provider.md:
# "plus a small slack").
SLACK = 1.0
# How long after its timeout the grader waits for a call before it ends the client's process.
GRACE = 2.0
# Added by HTTP itself, not by the client (docs/provider.md): the only headers beyond the table.
HTTP_OWN_HEADERS = frozenset({"host", "content-length", "accept-encoding", "connection"})
# Statuses a client may retry (docs/provider.md, max_retries): the site asks to come back.
# Any other answer is final: sending the request again is a fault.
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
RETRY_AFTER = 1
AFTER_THE_WAIT = "Answered after the wait."
REFUSAL = "The site refuses to answer this request."
HELLO = [{"role": "user", "content": "Hello"}]
SHOWN_DIFF = 24


@dataclass
class Seen:
    """What one check saw: the outcome, the journal's ``POST /api/text`` entries, and for the
    trickling site the requests it had."""

    outcome: Outcome
    entries: list[dict[str, Any]] = field(default_factory=list)
    site_requests: int = 0


Judge = Callable[["Check", Seen], tuple[list[str], str]]


@dataclass(frozen=True)
class Check:
    key: str
    group: str
    title: str
    messages: Any
    kwargs: dict[str, Any]
    replies: list[dict[str, Any]]
    timeout: float
    judge: Judge
    # "mock", or "trickle": the grader's own site that sends its answer a byte at a time.
    site: str = "mock"
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def bound(self) -> float:
        return self.timeout + GRACE

    def judged(self, seen: Seen) -> tuple[list[str], str]:
        if seen.outcome.missing is not None:
            return [seen.outcome.missing], seen.outcome.missing
        problems, summary = self.judge(self, seen)
        elapsed = seen.outcome.elapsed or 0.0
        if elapsed > self.timeout + SLACK:
            problems.append(f"took {elapsed:.1f} s, past its timeout of {self.timeout:g} s")
        return list(dict.fromkeys(problems)), summary


# --- what the wire shows ---------------------------------------------------------------------

def difference(got: str, want: str) -> str:
    """Where two texts part, both shown from a little before."""
    same = 0
    while same < min(len(got), len(want)) and got[same] == want[same]:
        same += 1
    start = max(0, same - 6)
    lead = "..." if start else ""
    return (f"{lead}{got[start:same + SHOWN_DIFF]!r}, the contract's "
            f"{lead}{want[start:same + SHOWN_DIFF]!r}")


def body_problems(entry: dict[str, Any], body: dict[str, Any]) -> list[str]:
    """How the body sent differs from the contract's: ``json.dumps(body)``, byte for byte."""
    want = json.dumps(body)
    got = entry.get("body") or ""
    if got == want:
        return []
    sent = entry.get("json")
    if not isinstance(sent, dict):
        return [f"a body that is not a JSON object: {shown(got)}"]
    problems = []
    if list(sent) != list(body):
        problems.append(f"body keys {list(sent)}, the contract's {list(body)}")
    for key, value in body.items():
        if key not in sent:
            continue
        if key == "message" and sent[key] != value:
            problems.append(f"prompt {difference(str(sent[key]), value)}")
        elif sent[key] != value or type(sent[key]) is not type(value):
            problems.append(f"{key} {json.dumps(sent[key])}, the contract's {json.dumps(value)}")
    if not problems:
        problems.append(f"body bytes {difference(got, want)}")
    return problems


def header_problems(entry: dict[str, Any], table: dict[str, str]) -> list[str]:
    """How the headers sent differ from the contract's table: missing, other values, extra."""
    headers: dict[str, str] = entry.get("headers") or {}
    missing = [name for name in table if name not in headers]
    problems = [f"header {name} {difference(headers[name], value)}"
                for name, value in table.items() if name in headers and headers[name] != value]
    if missing:
        problems.insert(0, f"headers missing: {', '.join(missing)}")
    extra = [name for name in headers if name not in table and name not in HTTP_OWN_HEADERS]
    if extra:
        problems.append(f"extra headers: {', '.join(extra)}")
    return problems


def wire_problems(entries: list[dict[str, Any]], body: dict[str, Any] | None) -> list[str]:
    problems: list[str] = []
    for entry in entries:
        if body is not None:
            problems += body_problems(entry, body)
        problems += header_problems(entry, contract.header_table())
    return problems


def outcome_problems(outcome: Outcome, expect: dict[str, Any]) -> list[str]:
    """How what reached the caller differs from a golden case's ``expect``."""
    if "result" in expect:
        if outcome.raised:
            return [f"{outcome.summary()}, where the contract answers {shown(expect['result'])}"]
        if outcome.answer != expect["result"]:
            return [f"returned {shown(outcome.answer or '')}, the contract's "
                    f"{shown(expect['result'])}"]
        return []
    wanted = expect["error"]
    if not outcome.raised:
        return [f"returned {shown(outcome.answer or '')} as the answer, where the contract "
                f"raises {wanted}"]
    problems = []
    fault = outcome.error_fault()
    if fault is not None:
        problems.append(f"{fault} (the contract: {wanted})")
    for name, value in (expect.get("attributes") or {}).items():
        got = outcome.attribute(name)
        if got is None:
            problems.append(f"no {name} on the error (the contract: {value!r})")
        elif got != value:
            problems.append(f"{name} {got!r} on the error, the contract's {value!r}")
    return problems


def _requests(count: int) -> str:
    return f"{count} request{'' if count == 1 else 's'}"


def _took(seen: Seen) -> str:
    return f"in {seen.outcome.elapsed or 0:.2f} s"


# --- the judges ------------------------------------------------------------------------------

def judge_case(check: Check, seen: Seen) -> tuple[list[str], str]:
    case = check.data["case"]
    request = case["request"]
    problems = []
    sent, wanted = len(seen.entries), case["requests_sent"]
    if sent != wanted:
        problems.append(f"{_requests(sent)} sent, the contract's {wanted}")
    problems += wire_problems(seen.entries, None if request is None else request["body"])
    problems += outcome_problems(seen.outcome, case["expect"])
    wire = "as the contract's" if request is not None else "refused before sending"
    return problems, f"{_requests(sent)} {wire}; {seen.outcome.summary()} {_took(seen)}"


def judge_fault(check: Check, seen: Seen) -> tuple[list[str], str]:
    name = check.data["fault"]
    status = FAULTS[name].status
    problems = []
    outcome = seen.outcome
    if not outcome.raised:
        problems.append(f"returned {shown(outcome.answer or '')} as the answer")
    else:
        fault = outcome.error_fault()
        if fault is not None:
            problems.append(fault)
    sent = len(seen.entries)
    if sent == 0:
        problems.append("no request reached the mock")
    elif sent > 1 and status and status not in RETRYABLE_STATUSES:
        problems.append(f"sent {sent} requests: a {status} answer is final, not retried")
    return problems, f"{outcome.summary()} after {_requests(sent)} {_took(seen)}"


def _arrival(entry: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(entry["time"])


def judge_retry_after(check: Check, seen: Seen) -> tuple[list[str], str]:
    problems = []
    if len(seen.entries) < 2:
        problems.append(f"not retried after the 429 (Retry-After: {RETRY_AFTER}): "
                        f"{seen.outcome.summary()}")
        return problems, seen.outcome.summary()
    gap = (_arrival(seen.entries[1]) - _arrival(seen.entries[0])).total_seconds()
    if gap < RETRY_AFTER:
        problems.append(f"retried {gap:.2f} s after the 429, before its Retry-After of "
                        f"{RETRY_AFTER} s")
    problems += outcome_problems(seen.outcome, {"result": AFTER_THE_WAIT})
    return problems, (f"retried {gap:.2f} s after the 429 (Retry-After: {RETRY_AFTER}); "
                      f"{seen.outcome.summary()} {_took(seen)}")


def judge_trickle(check: Check, seen: Seen) -> tuple[list[str], str]:
    problems = []
    if not seen.outcome.raised:
        problems.append(f"waited for the whole trickle and {seen.outcome.summary()}")
    return problems, (f"{seen.outcome.summary()} {_took(seen)}, its timeout "
                      f"{check.timeout:g} s")


def judge_refusal(check: Check, seen: Seen) -> tuple[list[str], str]:
    problems = []
    answer = seen.outcome.answer
    if not seen.outcome.raised:
        problems.append("returned the site's refusal as the answer" if answer and REFUSAL in answer
                        else f"returned {shown(answer or '')} on a refusal")
    return problems, f"{seen.outcome.summary()} {_took(seen)}"


# --- the card's checks -----------------------------------------------------------------------

def case_checks() -> list[Check]:
    checks = []
    for case in contract.cases():
        kwargs = dict(case["kwargs"])
        timeout = float(kwargs.setdefault("timeout", TIMEOUT))
        checks.append(Check(
            key=f"case {case['name']}", group="wire", title=case["description"],
            messages=case["messages"], kwargs=kwargs, replies=list(case["replies"]),
            timeout=timeout, judge=judge_case, data={"case": case}))
    return checks


def fault_checks() -> list[Check]:
    # A standing reply: every request of the call, retries included, meets the fault.
    return [Check(key=f"fault {name}", group="fault", title=fault.summary, messages=HELLO,
                  kwargs={"timeout": TIMEOUT}, replies=[{"fault": name, "times": None}],
                  timeout=TIMEOUT, judge=judge_fault, data={"fault": name})
            for name, fault in FAULTS.items()]


def behaviour_checks() -> list[Check]:
    timeout = 5.0
    return [
        Check(key="retry-after", group="behaviour",
              title=f"a 429 with Retry-After: {RETRY_AFTER}, then an answer: waited, retried",
              messages=HELLO, kwargs={"timeout": timeout},
              replies=[{"fault": "rate_limit", "retry_after": RETRY_AFTER},
                       {"message": AFTER_THE_WAIT}],
              timeout=timeout, judge=judge_retry_after),
        Check(key="trickle", group="behaviour",
              title="an answer sent a byte at a time: cut at the caller's timeout",
              messages=HELLO, kwargs={"timeout": 2.0}, replies=[], timeout=2.0,
              judge=judge_trickle, site="trickle"),
        Check(key="refusal", group="behaviour",
              title='{"response": false} from the site: not returned as the answer',
              messages=HELLO, kwargs={"timeout": TIMEOUT},
              replies=[{"fault": "upstream_error", "message": REFUSAL}], timeout=TIMEOUT,
              judge=judge_refusal),
    ]


def all_checks() -> list[Check]:
    return [*case_checks(), *fault_checks(), *behaviour_checks()]
