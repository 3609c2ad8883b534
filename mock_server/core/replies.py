"""What the mock answers to a valid ``POST /api/text``: echo or fixed text, or a scripted reply.

A scripted reply is a JSON object with the fields of ``records.ScriptedReply``, all optional.
A valid request takes the first queued reply (in queue order) whose ``match`` holds for it
(``matching``; no match: every request); its ``times`` goes down by one and at 0 it leaves the
queue, unless ``times`` is ``null``: a standing reply. ``"response": null`` leaves the
``response`` key out of the answer, as early answers of the real site did. A reply without a
``message`` answers what the reply mode would have answered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import contract, faults
from .errors import MatchError, ReplyError, SettingsError
from .matching import compile_match, describe_kind
from .records import ScriptedReply, Settings, field_names
from .wire import JSON_HEADERS, Answer, json_answer, json_bytes, json_string

REPLY_MODES = ("echo", "fixed")
DEFAULT_REPLY_TEXT = "Hello from the aichat mock server."
ECHO_PREFIX = "You said: "
REPLY_FIELDS = field_names(ScriptedReply)
# The bounds of delay_ms, times and retry_after are the admin contract's
# (contract.admin_limits()).
# The most one reply may take, as JSON: the site's answers are short, and the queues hold
# what they are sent (store.DEFAULT_QUEUE_BYTES in all).
MAX_REPLY_BYTES = 1 << 20
# Statuses that cannot carry the body a reply has.
BODYLESS_STATUSES = frozenset({204, 205, 304})


SETTINGS_FIELDS = field_names(Settings)


def parse_settings(payload: Any) -> dict[str, Any] | None:
    """The settings ``PUT /__mock__/settings`` gives a namespace: an object with
    ``reply_mode`` and ``reply_text``, each optional (left out: the server's); ``None`` when
    it gives neither."""
    if not isinstance(payload, Mapping):
        raise SettingsError(f"settings must be an object with {' and '.join(SETTINGS_FIELDS)}, "
                            f"not {describe_kind(payload)}")
    unknown = [str(key) for key in payload if key not in SETTINGS_FIELDS]
    if unknown:
        raise SettingsError(f"settings have unknown field(s) {', '.join(map(repr, unknown))}; "
                            f"the fields are {', '.join(SETTINGS_FIELDS)}")
    mode = payload.get("reply_mode")
    if "reply_mode" in payload and mode not in REPLY_MODES:
        raise SettingsError(f"settings.reply_mode must be one of {', '.join(REPLY_MODES)}; "
                            f"got {mode!r}")
    text = payload.get("reply_text")
    if "reply_text" in payload and not isinstance(text, str):
        raise SettingsError(f"settings.reply_text must be a string, not {describe_kind(text)}")
    return {name: payload[name] for name in SETTINGS_FIELDS if name in payload} or None


# What json_bytes writes of {"response": true, "message": ...} before the message.
_DEFAULT_START = json_bytes({"response": True, "message": ""})[:-3]


def default_answer(message: str) -> Answer:
    """``{"response": true, "message": message}``, the bytes ``json_bytes`` writes: put
    together around the message's JSON string (every echo answer is one), not encoded whole."""
    text = json_string(message)
    if text is None:
        return json_answer(200, {"response": True, "message": message})
    return Answer(200, JSON_HEADERS, _DEFAULT_START + text + b"}")


def parse_replies(payload: Any) -> list[ScriptedReply]:
    """Check one reply object or a list of them; the normalised replies, all fields present."""
    if isinstance(payload, Mapping):
        return [parse_reply(payload)]
    if isinstance(payload, list):
        return [parse_reply(item, index) for index, item in enumerate(payload)]
    raise ReplyError(f"expected a reply object or a list of them, "
                     f"not {describe_kind(payload)}")


def parse_reply(item: Any, index: int | None = None) -> ScriptedReply:
    where = "reply" if index is None else f"replies[{index}]"
    if not isinstance(item, Mapping):
        raise ReplyError(f"{where} must be an object, not {describe_kind(item)}")
    unknown = [str(key) for key in item if key not in REPLY_FIELDS]
    if unknown:
        raise ReplyError(f"{where} has unknown field(s) {', '.join(map(repr, unknown))}; "
                         f"the fields are {', '.join(REPLY_FIELDS)}")

    message = item.get("message")
    if message is not None and not isinstance(message, str):
        raise ReplyError(f"{where}.message must be a string or null, "
                         f"not {describe_kind(message)}")

    fault = item.get("fault")
    if fault is not None and (not isinstance(fault, str) or fault not in faults.FAULTS):
        raise ReplyError(f"{where}.fault must be null or one of {', '.join(faults.FAULTS)}; "
                         f"got {fault!r}")

    # Whole numbers may come as 2.0 (JSON has one number type): they are kept as integers.
    status = _whole(item.get("status"))
    if status is not None:
        if not _is_int(status) or not 200 <= status <= 599 or status in BODYLESS_STATUSES:
            raise ReplyError(f"{where}.status must be an integer from 200 to 599 (not 204, 205 "
                             f"or 304); got {status!r}")
        if fault == "disconnect":
            raise ReplyError(f"{where}: a disconnect sends no status; leave status out")
    else:
        status = None if fault == "disconnect" else (
            faults.FAULTS[fault].status if fault else 200)

    response = item.get("response", True)
    if response is not None and not isinstance(response, bool):
        raise ReplyError(f"{where}.response must be true, false or null, "
                         f"not {describe_kind(response)}")

    limits = contract.admin_limits()
    delay_ms = item.get("delay_ms")
    if delay_ms is None:  # left out or null
        delay_ms = 0
    if not _is_number(delay_ms) or not 0 <= delay_ms <= limits.max_delay_ms:
        raise ReplyError(f"{where}.delay_ms must be a number of milliseconds from 0 to "
                         f"{limits.max_delay_ms}; got {delay_ms!r}")

    retry_after = _whole(item.get("retry_after"))
    if retry_after is not None and not (
            (_is_int(retry_after) and 0 <= retry_after <= limits.max_retry_after)
            or (isinstance(retry_after, str) and _header_safe(retry_after))):
        raise ReplyError(f"{where}.retry_after must be null, a whole number of seconds (0 to "
                         f"{limits.max_retry_after}) or an HTTP date string; got "
                         f"{retry_after!r}")

    times = _whole(item.get("times", 1))
    if times is not None and (not _is_int(times) or not 1 <= times <= limits.max_times):
        raise ReplyError(f"{where}.times must be a whole number from 1 to {limits.max_times}, "
                         f"or null for a standing reply that is never used up; got {times!r}")

    try:
        match = compile_match(item.get("match"), f"{where}.match").spec
    except MatchError as error:
        raise ReplyError(str(error)) from None

    reply: ScriptedReply = {
        "message": message, "status": status, "response": response, "delay_ms": delay_ms,
        "fault": fault, "retry_after": retry_after, "times": times, "match": match}
    size = len(json_bytes(reply))
    if size > MAX_REPLY_BYTES:
        raise ReplyError(f"{where} is {size} bytes as JSON, over the {MAX_REPLY_BYTES} one "
                         f"reply may take")
    return reply


def scripted_answer(reply: Mapping[str, Any], default_message: str) -> Answer:
    """The answer a normalised scripted reply describes."""
    fault = reply["fault"]
    message = reply["message"]
    if fault is not None:
        answer = faults.render(fault, status=reply["status"], message=message)
    else:
        data: dict[str, Any] = {} if reply["response"] is None else {"response": reply["response"]}
        data["message"] = default_message if message is None else message
        answer = json_answer(reply["status"], data)
    headers = answer.headers
    if reply["retry_after"] is not None and not answer.disconnect:
        headers = (*headers, ("Retry-After", str(reply["retry_after"])))
    return Answer(answer.status, headers, answer.body, delay=reply["delay_ms"] / 1000,
                  disconnect=answer.disconnect, fault=fault)


def _whole(value: Any) -> Any:
    """A float with no fraction as the integer it is; anything else as it is."""
    if type(value) is float and value.is_integer() and abs(value) < 2**63:
        return int(value)
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def _header_safe(value: str) -> bool:
    return 0 < len(value) <= 200 and all(" " <= char <= "~" for char in value)
