"""RoutedSQSBroker: dramatiq-sqs's broker, also on the API's own queues."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

import dramatiq
from dramatiq_sqs import SQSBroker
from dramatiq_sqs.broker import (
    MAX_DELAY_SECONDS,
    MAX_MESSAGE_RETENTION_SECONDS,
    MAX_MESSAGE_SIZE_BYTES,
    MAX_VISIBILITY_TIMEOUT_SECONDS,
)

from adapters.sqs.codec import BodyCodec, Route
from adapters.sqs.consumer import RoutedSQSConsumer
from adapters.sqs.dead_letter import DeadLetterQueue
from adapters.worker.options import RECEIVE_COUNT, RETURN_TO_QUEUE, SENT_AT

log = logging.getLogger(__name__)


class RoutedSQSBroker(SQSBroker):
    """``dramatiq_sqs.SQSBroker``, taking the same parameters, that also speaks the API's queues.

    A queue with a route (one of ``routes``) is one of the API's: used under
    its exact name (no namespace), its bodies plain JSON or Dramatiq envelopes,
    consumed by ``RoutedSQSConsumer`` (rejects and dead letters with reasons,
    the original body kept, visibility extended by the heartbeat and returned
    at shutdown), its failures sent to the route's dead-letter queue (not in
    the base class's ``dead_letter_queues``, which only ``dead_letter=True``
    fills). A queue without a route is exactly SQSBroker's: namespaced,
    Dramatiq envelopes, ``<queue>_dlq`` when ``dead_letter`` is set.

    One difference on every queue: a delay longer than SQS allows is capped
    instead of raising MessageDelayTooLong, which would make Dramatiq's
    Retries lose the message.

    Parameters (SQSBroker's, then this project's, all keywords):
      namespace, middleware, retention, dead_letter, dead_letter_retention,
        visibility_timeout, max_message_size, tags: as in SQSBroker.
      routes: queue name -> the actor, body schema and dead-letter queue of one of the API's queues.
      outage_retry_seconds: how long a routed message whose row could not be
        failed (an outage) stays away before it runs again.
      **options: passed to boto3 (region_name, endpoint_url, ...).
    """

    def __init__(
        self,
        *,
        namespace: str | None = None,
        middleware: list[dramatiq.Middleware] | None = None,
        retention: int = MAX_MESSAGE_RETENTION_SECONDS,
        dead_letter: bool = False,
        dead_letter_retention: int = MAX_MESSAGE_RETENTION_SECONDS,
        visibility_timeout: int | None = MAX_VISIBILITY_TIMEOUT_SECONDS,
        max_message_size: int = MAX_MESSAGE_SIZE_BYTES,
        tags: dict[str, str] | None = None,
        routes: Mapping[str, Route] | None = None,
        outage_retry_seconds: int = 60,
        **options,
    ) -> None:
        super().__init__(
            namespace=namespace, middleware=middleware, retention=retention, dead_letter=dead_letter,
            dead_letter_retention=dead_letter_retention, visibility_timeout=visibility_timeout,
            max_message_size=max_message_size, tags=tags, **options,
        )
        self.routes = dict(routes or {})
        self.outage_retry_seconds = outage_retry_seconds
        self.routed_dead_letters: dict[str, DeadLetterQueue] = {}
        self.consumers: list[RoutedSQSConsumer] = []
        self._consumers_guard = threading.Lock()

    def _ensure_queue(self, queue_name: str) -> None:
        route = self.routes.get(queue_name)
        if route is None:
            super()._ensure_queue(queue_name)
            return
        if queue_name not in self.queue_names:
            raise dramatiq.QueueNotFound(queue_name)
        if queue_name not in self.queues:
            self.queues[queue_name] = self._get_or_create_sqs_queue(
                queue_name, message_retention_period=self.retention, tags=self.tags
            )
        if queue_name not in self.routed_dead_letters:
            dlq = self._get_or_create_sqs_queue(
                route.dead_letter_queue, message_retention_period=self.dead_letter_retention, tags=self.tags
            )
            self.routed_dead_letters[queue_name] = DeadLetterQueue(dlq, queue_name)

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 1000) -> dramatiq.Consumer:
        route = self.routes.get(queue_name)
        if route is None:
            return super().consume(queue_name, prefetch, timeout)
        self._ensure_queue(queue_name)
        consumer = RoutedSQSConsumer(
            self.queues[queue_name],
            prefetch,
            timeout,
            codec=BodyCodec(queue_name, route, self.actors),
            dead_letters=self.routed_dead_letters[queue_name],
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
        for transient in (RECEIVE_COUNT, RETURN_TO_QUEUE, SENT_AT):
            message.options.pop(transient, None)  # facts of one delivery, not of the next
        return super().enqueue(message, delay=delay)

    def extend_visibility(self) -> int:
        """Extend the visibility of every in-flight routed message; return how many."""
        with self._consumers_guard:
            consumers = list(self.consumers)
        return sum(consumer.extend_visibility() for consumer in consumers)

    def stop_receiving(self) -> None:
        """Stop every routed queue's consumer from receiving more messages (see StopReceiving)."""
        with self._consumers_guard:
            for consumer in self.consumers:
                consumer.stop_receiving()

    def in_flight_count(self) -> int:
        with self._consumers_guard:
            return sum(consumer.in_flight_count() for consumer in self.consumers)
