"""How long a message waited in its queue before a worker started it.

The wait runs from when a message could first run: when it was sent (SQS's
SentTimestamp, which the consumer records; else the time Dramatiq created the
message), or, for a message a worker enqueued itself (a retry), when its delay
ended - ``DueTimes`` records that on every enqueue. A retry's backoff is not
waiting; the time a message spends queued behind busy workers is.
"""

from __future__ import annotations

import time

import dramatiq
from dramatiq.middleware import Middleware

from adapters.worker.options import DUE_AT, SENT_AT


class DueTimes(Middleware):
    """Records on each message a worker enqueues when it may run (``due_at``, epoch ms)."""

    def before_enqueue(self, broker: dramatiq.Broker, message: dramatiq.Message, delay: int | None) -> None:
        message.options[DUE_AT] = int(time.time() * 1000) + max(int(delay or 0), 0)


def queue_wait(message: dramatiq.Message, now_ms: float | None = None) -> float | None:
    """Seconds from when ``message`` could first run to ``now_ms`` (default: now); None when unknown."""
    options = message.options if isinstance(message.options, dict) else {}
    sent = options.get(SENT_AT) if _moment(options.get(SENT_AT)) else message.message_timestamp
    moments = [value for value in (sent, options.get(DUE_AT)) if _moment(value)]
    if not moments:
        return None
    now_ms = time.time() * 1000 if now_ms is None else now_ms
    return max(0.0, (now_ms - max(moments)) / 1000)


def _moment(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value
