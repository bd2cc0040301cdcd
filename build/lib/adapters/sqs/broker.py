"""LegacySQSBroker: dramatiq-sqs's broker on the API's own queues."""

from __future__ import annotations

import logging
import threading

import dramatiq
from dramatiq_sqs import SQSBroker
from dramatiq_sqs.broker import MAX_DELAY_SECONDS

from adapters.sqs.codec import BodyCodec, LegacyRoute
from adapters.sqs.consumer import LegacySQSConsumer
from adapters.sqs.dead_letter import DeadLetterQueue
from adapters.worker.options import RECEIVE_COUNT, RETURN_TO_QUEUE

log = logging.getLogger(__name__)


class LegacySQSBroker(SQSBroker):
    """An SQS broker whose queue names are the API's, unprefixed.

    What it changes in ``dramatiq_sqs.SQSBroker``:
    - queues are used under their exact names (no namespace) and each has the
      dead-letter queue named in settings, not ``<queue>_dlq``;
    - consumers are ``LegacySQSConsumer``: plain-JSON bodies, rejects and
      dead letters with reasons (see that module);
    - a delay longer than SQS allows is capped instead of raising, which
      would make Dramatiq's Retries lose the message;
    - ``extend_visibility`` pushes back the visibility of every in-flight
      message of every consumer (called by the worker's heartbeat).

    Parameters:
      routes: queue name -> the actor and schema of its plain-JSON bodies.
      dead_letter_queues: queue name -> its dead-letter queue's name.
      visibility_timeout: seconds a received message stays invisible before
        the heartbeat must extend it.
      outage_retry_seconds: how long a message whose row could not be failed
        (an outage) stays away before it runs again.
      middleware: the broker's middleware.
      **options: passed to boto3 (region_name, endpoint_url, ...).
    """

    def __init__(
        self,
        *,
        routes: dict[str, LegacyRoute],
        dead_letter_queues: dict[str, str],
        visibility_timeout: int,
        outage_retry_seconds: int = 60,
        middleware: list[dramatiq.Middleware] | None = None,
        **options,
    ) -> None:
        super().__init__(namespace=None, middleware=middleware, visibility_timeout=visibility_timeout, **options)
        self.routes = routes
        self.outage_retry_seconds = outage_retry_seconds
        self.dead_letter_names = dead_letter_queues
        self.dead_letters: dict[str, DeadLetterQueue] = {}
        self.consumers: list[LegacySQSConsumer] = []
        self._consumers_guard = threading.Lock()

    def _ensure_queue(self, queue_name: str) -> None:
        super()._ensure_queue(queue_name)
        if queue_name not in self.dead_letters:
            dlq = self._get_or_create_sqs_queue(
                self.dead_letter_names[queue_name], message_retention_period=self.dead_letter_retention
            )
            self.dead_letters[queue_name] = DeadLetterQueue(dlq, queue_name)

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 1000) -> LegacySQSConsumer:
        self._ensure_queue(queue_name)
        codec = BodyCodec(queue_name, self.routes[queue_name], frozenset(self.actors))
        consumer = LegacySQSConsumer(
            self.queues[queue_name],
            prefetch,
            timeout,
            codec=codec,
            dead_letters=self.dead_letters[queue_name],
            visibility_timeout=self.visibility_timeout,
            outage_retry_seconds=self.outage_retry_seconds,
        )
        with self._consumers_guard:
            self.consumers.append(consumer)
        return consumer

    def enqueue(self, message: dramatiq.Message, *, delay: int | None = None) -> dramatiq.Message:
        if delay and delay > MAX_DELAY_SECONDS * 1000:
            log.info("delay of %d ms capped at SQS's %d s", delay, MAX_DELAY_SECONDS)
            delay = MAX_DELAY_SECONDS * 1000
        for transient in (RECEIVE_COUNT, RETURN_TO_QUEUE):
            message.options.pop(transient, None)  # facts of one delivery, not of the next
        return super().enqueue(message, delay=delay)

    def extend_visibility(self) -> int:
        """Extend the visibility of every in-flight message; return how many."""
        with self._consumers_guard:
            consumers = list(self.consumers)
        return sum(consumer.extend_visibility() for consumer in consumers)

    def stop_receiving(self) -> None:
        """Stop every consumer from receiving more messages (see StopReceiving)."""
        with self._consumers_guard:
            for consumer in self.consumers:
                consumer.stop_receiving()

    def in_flight_count(self) -> int:
        with self._consumers_guard:
            return sum(consumer.in_flight_count() for consumer in self.consumers)
