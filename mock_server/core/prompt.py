"""The flattened prompt the provider sends as ``message``: ``role: content\\n`` per message, then
``assistant:``; and the text of its last user turn, which echo mode answers with and which a
``match`` can name."""

from __future__ import annotations

import re

# Roles a turn of the flattened prompt may start with, to find where the last user turn ends.
ROLES = ("system", "user", "assistant", "function", "tool", "developer")
_NEXT_TURN = re.compile("\n(?:" + "|".join(ROLES) + "): ")
PROMPT_END = "assistant:"
_FIRST = "user: "


def last_user_turn(prompt: str) -> str:
    """The text of the last ``user`` turn of a flattened prompt, or ``""`` when there is none.

    The prompt is ``role: content\\n`` per message and then ``assistant:``. Content may hold
    newlines, so a turn is taken to end where a line starts with a known role and ``": "``.
    """
    text = prompt[:-len(PROMPT_END)] if prompt.endswith(PROMPT_END) else prompt
    if text.startswith(_FIRST) and text.find("\n") == len(text) - 1:
        # One user turn of one line (a conversation of one question): all of it.
        return text[len(_FIRST):-1]
    marker = "user: "
    start = text.rfind("\n" + marker)
    if start >= 0:
        start += 1 + len(marker)
    elif text.startswith(marker):
        start = len(marker)
    else:
        return ""
    following = _NEXT_TURN.search(text, start)
    end = following.start() if following else len(text)
    turn = text[start:end]
    # The newline that closed the turn belongs to the format, not to the content.
    return turn[:-1] if turn.endswith("\n") and end == len(text) else turn
