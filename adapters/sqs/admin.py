"""SqsQueueAdmin: queue depths and dead-letter tools on the legacy SQS queues.

SQS has no "peek": browsing receives messages, which hides them for a while.
So a browse receives with a short lease and hands every message straight back
(visibility 0); acting on chosen messages receives until it has found them.
Redrive sends the ORIGINAL body to the job queue before deleting the dead
letter, so a crash in between leaves a duplicate (which the worker tolerates),
never a loss.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone

from botocore.exceptions import ClientError

from domain.operations import DeadLetter, DeadLetterNotFound, QueueStats, UnknownQueue

log = logging.getLogger(__name__)

BROWSE_LEASE_SECONDS = 30
EMPTY_RECEIVES_BEFORE_DONE = 2  # short polls sample some of SQS's servers; one empty answer proves little


class QueueMissing(LookupError):
    """A configured queue does not exist in SQS."""


class SqsQueueAdmin:
    """QueueAdmin on SQS.

    Parameters:
      sqs: a boto3 SQS client.
      dead_letter_queues: job queue name -> its dead-letter queue's name
        (settings VIDEO_QUEUE/VIDEO_DLQ and AI_QUEUE/AI_DLQ).
    """

    def __init__(self, sqs, dead_letter_queues: dict[str, str]) -> None:
        self.sqs = sqs
        self.dead_letter_queues = dict(dead_letter_queues)
        self._urls: dict[str, str] = {}

    def queues(self) -> list[str]:
        return list(self.dead_letter_queues)

    def stats(self) -> list[QueueStats]:
        result = []
        for queue, dlq in self.dead_letter_queues.items():
            own = self._attributes(queue)
            dead = self._attributes(dlq)
            result.append(
                QueueStats(
                    name=queue,
                    dead_letter_queue=dlq,
                    visible=own["ApproximateNumberOfMessages"],
                    in_flight=own["ApproximateNumberOfMessagesNotVisible"],
                    delayed=own["ApproximateNumberOfMessagesDelayed"],
                    # Dead letters being browsed right now are invisible, not gone.
                    dead_letters=sum(dead.values()),
                )
            )
        return result

    def dead_letters(self, queue: str, limit: int = 100) -> list[DeadLetter]:
        self._check(queue)
        found: dict[str, DeadLetter] = {}
        receipts: list[str] = []
        try:
            for batch in self._receive_batches(queue, lease=BROWSE_LEASE_SECONDS):
                for message in batch:
                    receipts.append(message["ReceiptHandle"])
                    if message["MessageId"] not in found and len(found) < limit:
                        found[message["MessageId"]] = self._dead_letter(queue, message)
                if len(found) >= limit:
                    break
        finally:
            self._hand_back(queue, receipts)
        return sorted(found.values(), key=lambda letter: letter.dead_lettered_at)

    def redrive(self, queue: str, ids: Sequence[str] | None = None) -> int:
        self._check(queue)
        target = self._url(queue)

        def send_back(message: dict) -> None:
            self.sqs.send_message(QueueUrl=target, MessageBody=message["Body"])

        count = self._settle(queue, ids, send_back)
        log.warning("redrove %d dead letter(s) of %s", count, queue)
        return count

    def delete(self, queue: str, ids: Sequence[str] | None = None) -> int:
        count = self._settle(queue, ids, lambda message: None)
        log.warning("deleted %d dead letter(s) of %s", count, queue)
        return count

    def _settle(self, queue: str, ids: Sequence[str] | None, act) -> int:
        """Apply ``act`` to the chosen dead letters, then delete them from the DLQ."""
        self._check(queue)
        wanted = None if ids is None else set(ids)
        dlq_url = self._url(self.dead_letter_queues[queue])
        done: set[str] = set()
        skipped: list[str] = []
        try:
            for batch in self._receive_batches(queue, lease=60):
                for message in batch:
                    message_id = message["MessageId"]
                    if message_id in done or (wanted is not None and message_id not in wanted):
                        skipped.append(message["ReceiptHandle"])
                        continue
                    act(message)
                    self.sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
                    done.add(message_id)
                if wanted is not None and done >= wanted:
                    break
        finally:
            self._hand_back(queue, skipped)
        if wanted is not None and wanted - done:
            raise DeadLetterNotFound(
                f"no dead letter {', '.join(sorted(wanted - done))} in {self.dead_letter_queues[queue]}"
                + (f" ({len(done)} other(s) handled)" if done else "")
            )
        return len(done)

    def _receive_batches(self, queue: str, *, lease: int) -> Iterator[list[dict]]:
        """Receive until the queue looks empty; every message of a batch the
        caller gets must be deleted or handed back."""
        url = self._url(self.dead_letter_queues[queue])
        empty = 0
        while empty < EMPTY_RECEIVES_BEFORE_DONE:
            messages = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=lease,
                WaitTimeSeconds=0,
                AttributeNames=["SentTimestamp", "ApproximateReceiveCount"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            empty = 0 if messages else empty + 1
            if messages:
                yield messages

    def _hand_back(self, queue: str, receipts: list[str]) -> None:
        """Make browsed messages visible again at once."""
        url = self._url(self.dead_letter_queues[queue])
        for start in range(0, len(receipts), 10):
            entries = [
                {"Id": str(i), "ReceiptHandle": receipt, "VisibilityTimeout": 0}
                for i, receipt in enumerate(receipts[start : start + 10])
            ]
            self.sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)

    def _dead_letter(self, queue: str, message: dict) -> DeadLetter:
        attributes = {
            name: value.get("StringValue", "") for name, value in message.get("MessageAttributes", {}).items()
        }
        count = attributes.get("receive_count", "")
        return DeadLetter(
            id=message["MessageId"],
            queue=queue,
            body=message["Body"],
            reason=attributes.get("reason", "(no reason recorded)"),
            receive_count=int(count) if count.isdigit() else None,
            dead_lettered_at=attributes.get("dead_lettered_at") or _sent_at(message),
            original_id=attributes.get("message_id", ""),
        )

    def _attributes(self, queue: str) -> dict[str, int]:
        names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ]
        found = self.sqs.get_queue_attributes(QueueUrl=self._url(queue), AttributeNames=names)["Attributes"]
        return {name: int(found.get(name, 0)) for name in names}

    def _url(self, queue: str) -> str:
        if queue not in self._urls:
            try:
                self._urls[queue] = self.sqs.get_queue_url(QueueName=queue)["QueueUrl"]
            except ClientError as error:
                if "NonExistentQueue" in str(error) or "QueueDoesNotExist" in str(error):
                    raise QueueMissing(f"SQS queue {queue!r} does not exist") from None
                raise
        return self._urls[queue]

    def _check(self, queue: str) -> None:
        if queue not in self.dead_letter_queues:
            raise UnknownQueue(f"{queue!r} is not a queue of this worker ({', '.join(self.dead_letter_queues)})")


def _sent_at(message: dict) -> str:
    millis = int(message.get("Attributes", {}).get("SentTimestamp", 0))
    return datetime.fromtimestamp(millis / 1000, timezone.utc).isoformat()
