"""RoutedSQSConsumer: dramatiq-sqs's consumer, taught the API's queues.

What it adds to ``dramatiq_sqs.broker.SQSConsumer``:
- every body becomes a Dramatiq message (plain JSON, envelopes, and rejects
  flagged with a reason), so none is left looping on the queue;
- the receive count of each delivery travels in the message's options;
- nack sends the ORIGINAL body to the configured dead-letter queue with the
  reason, time and receive count as message attributes;
- the messages it has handed out and not yet settled can have their
  visibility extended (the worker's heartbeat) or be returned at once
  (shutdown).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

import dramatiq
from dramatiq.common import compute_backoff
from dramatiq_sqs.broker import MAX_PREFETCH, SQSConsumer, _SQSMessage
from dramatiq_sqs.utils import batched

from adapters.sqs.codec import BodyCodec, sent_timestamp_ms
from adapters.sqs.dead_letter import DeadLetterQueue
from adapters.worker.options import GIVE_UP_PENDING, ORIGINAL_BODY, RECEIVE_COUNT, RETURN_TO_QUEUE
from adapters.worker.reasons import dead_letter_reason


class RoutedSQSConsumer(SQSConsumer):
    """Consumes one routed queue (one of the API's, or the worker's own parts queue).

    Parameters:
      queue: the boto3 Queue resource to receive from.
      prefetch: how many messages may be received ahead of processing.
      timeout: long-poll wait in milliseconds.
      codec: decodes this queue's bodies.
      dead_letters: where nacked messages go.
      visibility_timeout: seconds a received message stays invisible; kept
        short, and extended by ``extend_visibility`` while it is in flight.
      outage_retry_seconds: when a failed message's row could not be failed
        (``give_up_pending``: the database is down), the message is kept and
        comes back after this long instead of being dead-lettered.
    """

    def __init__(
        self,
        queue,
        prefetch: int,
        timeout: int,
        *,
        codec: BodyCodec,
        dead_letters: DeadLetterQueue,
        visibility_timeout: int,
        outage_retry_seconds: int = 60,
    ) -> None:
        super().__init__(
            queue, min(prefetch, MAX_PREFETCH), timeout, dead_letter_queue=None, visibility_timeout=visibility_timeout
        )
        self.codec = codec
        self.dead_letters = dead_letters
        self.outage_retry_seconds = outage_retry_seconds
        self._in_flight: dict[str, _SQSMessage] = {}
        self._guard = threading.Lock()
        self._receiving = threading.Event()
        self._receiving.set()

    def __next__(self) -> dramatiq.Message | None:
        polled = not self.messages and self.message_refc < self.prefetch and self._receiving.is_set()
        if polled:
            self._receive()
        try:
            message = self.messages.popleft()
        except IndexError:
            # Nothing to hand out (empty queue, or prefetch full): back off as
            # dramatiq-sqs does rather than spin on SQS.
            self.misses, backoff_ms = compute_backoff(self.misses, max_backoff=1000)
            time.sleep(backoff_ms / 1000)
            return None
        self.misses = 0
        return message

    def _receive(self) -> None:
        received = self.queue.receive_messages(
            MaxNumberOfMessages=self.prefetch,
            WaitTimeSeconds=self.wait_time_seconds,
            VisibilityTimeout=self.visibility_timeout,
            MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
        )
        for sqs_message in received:
            attributes = sqs_message.attributes or {}
            receive_count = int(attributes.get("ApproximateReceiveCount", 1))
            decoded = self.codec.decode(sqs_message.body, sqs_message.message_id, receive_count,
                                        sent_timestamp_ms(attributes))
            proxy = _SQSMessage(sqs_message, decoded)
            with self._guard:
                self._in_flight[sqs_message.receipt_handle] = proxy
            self.messages.append(proxy)
            self.message_refc += 1

    def stop_receiving(self) -> None:
        """Hand out what was already received, but receive nothing more (shutdown)."""
        self._receiving.clear()

    def _settled(self, message: _SQSMessage) -> None:
        with self._guard:
            self._in_flight.pop(message._sqs_message.receipt_handle, None)

    def ack(self, message: _SQSMessage) -> None:
        if message.options.get(RETURN_TO_QUEUE):
            self.requeue([message])
            return
        self._settled(message)
        super().ack(message)

    def nack(self, message: _SQSMessage) -> None:
        sqs_message = message._sqs_message
        if message.options.get(GIVE_UP_PENDING):
            self._settled(message)
            sqs_message.change_visibility(VisibilityTimeout=self.outage_retry_seconds)
            self.message_refc -= 1
            return
        self.dead_letters.send(
            message.options.get(ORIGINAL_BODY) or sqs_message.body,
            reason=dead_letter_reason(message),
            receive_count=int(message.options.get(RECEIVE_COUNT, 1)),
            message_id=message.message_id,
        )
        self._settled(message)
        sqs_message.delete()
        self.message_refc -= 1

    def requeue(self, messages: Iterable[_SQSMessage]) -> None:
        messages = list(messages)
        for message in messages:
            self._settled(message)
        super().requeue(messages)

    def extend_visibility(self) -> int:
        """Push back the visibility timeout of every unsettled message; return how many."""
        with self._guard:
            in_flight = list(self._in_flight.values())
        for batch in batched(in_flight, 10):
            self.queue.change_message_visibility_batch(Entries=_entries(batch, self.visibility_timeout))
        return len(in_flight)

    def in_flight_count(self) -> int:
        with self._guard:
            return len(self._in_flight)


def _entries(batch: Iterable[_SQSMessage], seconds: int) -> list[dict[str, Any]]:
    return [
        {"Id": str(i), "ReceiptHandle": m._sqs_message.receipt_handle, "VisibilityTimeout": seconds}
        for i, m in enumerate(batch)
    ]
