"""The mock's errors: one shallow hierarchy under ``MockError``, each also the built-in error
its callers already catch (a bad reply is a ``ValueError``, an unknown id a ``LookupError``).

Every message says what was wrong and what to do, in one line: the admin API answers it as
``{"error": ...}``, the command prints it, the kit raises it in the test that caused it.
"""

from __future__ import annotations


class MockError(Exception):
    """Base of every error the mock raises on purpose."""


class MatchError(MockError, ValueError):
    """A match that cannot be used; the message names the field and says why."""


class ReplyError(MockError, ValueError):
    """A scripted reply that cannot be queued; the message says which field and why."""


class UnknownReplyError(MockError, LookupError):
    """No queued reply has this id (in this namespace); it was used up, removed or never
    queued."""


class SettingsError(MockError, ValueError):
    """Settings that cannot be given to a namespace; the message says which and why."""


class QueueFullError(MockError):
    """More scripted replies than the queue holds."""


class StoreRefusedError(MockError, ValueError):
    """A store's file that the mock cannot or will not open (not writable there, another
    program's, damaged, or made by a newer mock): not a mistake in how the mock was called, so
    no usage line goes with it."""
