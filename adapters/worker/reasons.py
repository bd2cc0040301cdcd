"""Why a message is being dead-lettered: one sentence, and its category for metrics."""

from __future__ import annotations

from dataclasses import dataclass

import dramatiq

from adapters.worker.options import REJECT_CATEGORY, REJECT_REASON
from domain.errors import InvalidMessage, JobError, PermanentError

MAX_DETAIL_CHARS = 300

INVALID_MESSAGE = "invalid_message"
TOO_MANY_RECEIVES = "too_many_receives"
RETRIES_EXHAUSTED = "retries_exhausted"
PERMANENT_ERROR = "permanent_error"
OTHER = "other"
DEAD_LETTER_CATEGORIES = (INVALID_MESSAGE, TOO_MANY_RECEIVES, RETRIES_EXHAUSTED, PERMANENT_ERROR, OTHER)


@dataclass(frozen=True)
class DeadLetterReason:
    """Why a message is dead-lettered.

    Parameters:
      text: one sentence a person understands (the dead letter's ``reason`` attribute, the row's reason).
      category: one of DEAD_LETTER_CATEGORIES: a bounded metrics label.
    """

    text: str
    category: str


def dead_letter_reason(message: dramatiq.MessageProxy) -> DeadLetterReason:
    """The reason a failed message is dead-lettered.

    Parameters:
      message: the failed message; a reject reason set before it ran, or its
        stuffed exception, explains it.
    """
    if message.options.get(REJECT_REASON):
        return DeadLetterReason(str(message.options[REJECT_REASON]),
                                str(message.options.get(REJECT_CATEGORY) or INVALID_MESSAGE))
    error = getattr(message, "_exception", None)
    if isinstance(error, InvalidMessage):
        return DeadLetterReason(error.reason, INVALID_MESSAGE)
    if isinstance(error, PermanentError):
        return DeadLetterReason(error.reason, PERMANENT_ERROR)
    attempts = int(message.options.get("retries", 0))
    if isinstance(error, JobError):
        return DeadLetterReason(f"gave up after {attempts} attempts: {error.reason}", RETRIES_EXHAUSTED)
    if error is not None:
        detail = str(error).splitlines()[0][:MAX_DETAIL_CHARS] if str(error) else ""
        text = f"gave up after {attempts} attempts: {type(error).__name__}" + (f": {detail}" if detail else "")
        return DeadLetterReason(text, RETRIES_EXHAUSTED)
    return DeadLetterReason("the message failed", OTHER)
