"""CappedRetries: Dramatiq's Retries, safe for SQS and for shutdowns."""

from __future__ import annotations

import logging
import random

import dramatiq
from dramatiq.middleware import Retries, Shutdown

from adapters.worker.options import RETURN_TO_QUEUE
from domain.errors import LockBusy, Waiting

log = logging.getLogger(__name__)


class CappedRetries(Retries):
    """Retries with exponential backoff, capped at ``max_backoff``.

    SQS cannot delay a message longer than 15 minutes; a longer backoff makes
    dramatiq-sqs raise and the retry is lost, so the cap defaults to that.

    With ``return_on_shutdown``, a job interrupted by the worker's shutdown is
    not counted as a failed attempt: its message is flagged so the consumer
    makes it visible again at once, and another worker picks it up.

    A message whose job is locked by another worker (``LockBusy``: a duplicate
    delivery while the job runs) is not a failure either: it comes back after
    ``busy_delay`` without spending its retries, and once the other worker has
    finished it finds the row final and is acknowledged. Counting it would
    dead-letter - and fail the row of - a job that is about to succeed. A job
    ``Waiting`` for something (captions for a video still encoding) comes
    back after the time it names, without spending its retries either.

    Parameters:
      max_retries: attempts after the first before giving up.
      min_backoff: first backoff, in milliseconds.
      max_backoff: longest backoff, in milliseconds (at most 900,000 on SQS).
      return_on_shutdown: return interrupted messages to the queue (the
        consumer must honour ``return_to_queue``; RoutedSQSConsumer does).
      busy_delay: milliseconds before a message whose job is locked elsewhere
        is tried again.
    """

    def __init__(
        self,
        *,
        max_retries: int,
        min_backoff: int,
        max_backoff: int,
        return_on_shutdown: bool = False,
        busy_delay: int = 10_000,
    ) -> None:
        super().__init__(max_retries=max_retries, min_backoff=min_backoff, max_backoff=max_backoff)
        self.return_on_shutdown = return_on_shutdown
        self.busy_delay = busy_delay

    def after_process_message(self, broker: dramatiq.Broker, message, *, result=None, exception=None) -> None:
        if self.return_on_shutdown and isinstance(exception, Shutdown):
            log.info("returning message %s to its queue: the worker is shutting down", message.message_id)
            message.options[RETURN_TO_QUEUE] = True
            return
        if isinstance(exception, (LockBusy, Waiting)):
            base = self.busy_delay if isinstance(exception, LockBusy) else exception.retry_after_seconds * 1000
            delay = int(base * random.uniform(1.0, 1.5))  # spread the duplicates out
            log.info("%s; trying message %s again in %d ms", exception.reason, message.message_id, delay)
            broker.enqueue(message, delay=delay)
            return
        super().after_process_message(broker, message, result=result, exception=exception)
