"""Why a message is being dead-lettered, in one sentence."""

from __future__ import annotations

import dramatiq

from adapters.worker.options import REJECT_REASON
from domain.errors import JobError, PermanentError

MAX_DETAIL_CHARS = 300


def dead_letter_reason(message: dramatiq.MessageProxy) -> str:
    """The reason a failed message is dead-lettered.

    Parameters:
      message: the failed message; its stuffed exception (if any) explains it.
    """
    if message.options.get(REJECT_REASON):
        return str(message.options[REJECT_REASON])
    error = getattr(message, "_exception", None)
    if isinstance(error, PermanentError):
        return error.reason
    attempts = int(message.options.get("retries", 0))
    if isinstance(error, JobError):
        return f"gave up after {attempts} attempts: {error.reason}"
    if error is not None:
        detail = str(error).splitlines()[0][:MAX_DETAIL_CHARS] if str(error) else ""
        return f"gave up after {attempts} attempts: {type(error).__name__}" + (f": {detail}" if detail else "")
    return "the message failed"
