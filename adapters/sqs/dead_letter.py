"""Sending a message to a dead-letter queue: original body, reason attached."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from adapters.metrics.prometheus import METRICS
from adapters.worker.reasons import DeadLetterReason

log = logging.getLogger(__name__)

MAX_REASON_CHARS = 1000


def dead_letter_attributes(*, reason: str, receive_count: int, source_queue: str, message_id: str) -> dict:
    """The SQS message attributes of CONTRACT section 6: reason, time, receive count."""

    def text(value: str) -> dict:
        return {"DataType": "String", "StringValue": value}

    return {
        "reason": text(reason[:MAX_REASON_CHARS] or "unknown"),
        "dead_lettered_at": text(datetime.now(timezone.utc).isoformat()),
        "receive_count": {"DataType": "Number", "StringValue": str(int(receive_count))},
        "source_queue": text(source_queue),
        "message_id": text(message_id),
    }


class DeadLetterQueue:
    """One queue's dead-letter queue.

    Parameters:
      queue: the boto3 SQS Queue resource of the dead-letter queue.
      source_queue: the name of the queue whose messages land here.
    """

    def __init__(self, queue, source_queue: str) -> None:
        self.queue = queue
        self.source_queue = source_queue

    def send(self, body: str, *, reason: DeadLetterReason, receive_count: int, message_id: str) -> None:
        """Send ``body`` unchanged (it can be redriven as it is) with the reason attached."""
        self.queue.send_message(
            MessageBody=body,
            MessageAttributes=dead_letter_attributes(
                reason=reason.text, receive_count=receive_count, source_queue=self.source_queue, message_id=message_id
            ),
        )
        METRICS.dead_letter(self.source_queue, reason.category)
        log.warning("dead-lettered message %s from %s: %s", message_id, self.source_queue, reason.text)
