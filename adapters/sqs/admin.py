"""SqsQueueAdmin: queue depths and dead-letter tools on the job queues and their dead-letter queues.

SQS has no "peek": browsing receives messages, which hides them for a while.
So a browse takes a short lease, reads at most a bounded page, and hands every
message straight back (visibility 0); actions sweep the queue (see sweep.py)
and wait out such leases before they call a letter missing. Redrive sends the
ORIGINAL body to the job queue before deleting the dead letter, so a crash in
between leaves a duplicate (which the worker tolerates), never a loss.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timezone

from botocore.exceptions import ClientError

from adapters.sqs.sweep import DEPTH, Sweep, hand_back, sent_ms, take_snapshot
from domain.numbers import whole_number_or_none
from domain.operations import DeadLetter, DeadLetterNotFound, QueueStats, Tally, UnknownQueue

BROWSE_LEASE_SECONDS = 10  # how long a browsed letter could be hidden if the browser died mid-page
ACTION_LEASE_SECONDS = 60  # letters an action passes over stay hidden from it while it runs
MAX_BROWSE = 1000  # the most letters one browse receives


class QueueMissing(LookupError):
    """A configured queue does not exist in SQS."""


class SqsQueueAdmin:
    """QueueAdmin on SQS.

    Parameters:
      sqs: a boto3 SQS client.
      dead_letter_queues: job queue name -> its dead-letter queue's name
        (settings VIDEO_QUEUE/VIDEO_DLQ and AI_QUEUE/AI_DLQ).
      wait_for_leases: how long an action keeps looking for letters leased by
        a browse before it reports them missing (default: one browse lease and
        a margin).
      may_be_missing: queues whose absence is a state to show, not an error: the
        worker's own parts queue, which an operator creates (``python -m ops
        queues create-parts``) and without which long videos take one pass. Any
        other missing queue raises QueueMissing (a wrong name in the settings).
    """

    def __init__(self, sqs, dead_letter_queues: dict[str, str], *,
                 wait_for_leases: float = BROWSE_LEASE_SECONDS + 2, may_be_missing: Collection[str] = ()) -> None:
        self.sqs = sqs
        self.dead_letter_queues = dict(dead_letter_queues)
        self.may_be_missing = frozenset(may_be_missing)
        self.wait_for_leases = wait_for_leases
        self._urls: dict[str, str] = {}

    def queues(self) -> list[str]:
        return list(self.dead_letter_queues)

    def stats(self) -> list[QueueStats]:
        result = []
        for queue, dlq in self.dead_letter_queues.items():
            try:
                own = self._attributes(queue)
                dead = self._attributes(dlq)
            except QueueMissing:
                if queue not in self.may_be_missing:
                    raise
                result.append(QueueStats(queue, dlq, 0, 0, 0, 0, missing=True))
                continue
            result.append(
                QueueStats(
                    name=queue,
                    dead_letter_queue=dlq,
                    visible=own[DEPTH[0]],
                    in_flight=own[DEPTH[1]],
                    delayed=own[DEPTH[2]],
                    # Dead letters being browsed right now are invisible, not gone.
                    dead_letters=sum(dead.values()),
                )
            )
        return result

    def dead_letters(self, queue: str, limit: int = 100) -> list[DeadLetter]:
        self._check(queue)
        limit = min(max(limit, 1), MAX_BROWSE)
        url = self._dlq_url(queue)
        found: dict[str, DeadLetter] = {}
        receipts: list[str] = []
        empty = 0
        try:
            while len(found) < limit and empty < 2:
                batch = self.sqs.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=BROWSE_LEASE_SECONDS, WaitTimeSeconds=0,
                    AttributeNames=["SentTimestamp"], MessageAttributeNames=["All"],
                ).get("Messages", [])
                empty = 0 if batch else empty + 1
                for message in batch:
                    receipts.append(message["ReceiptHandle"])
                    if message["MessageId"] not in found and len(found) < limit:
                        found[message["MessageId"]] = self._dead_letter(queue, message)
        finally:
            hand_back(self.sqs, url, receipts)
        return sorted(found.values(), key=lambda letter: letter.dead_lettered_at)

    def redrive(self, queue: str, ids: Sequence[str] | None = None, tally: Tally | None = None) -> int:
        self._check(queue)
        target = self._url(queue)

        def send_back(message: dict) -> None:
            self.sqs.send_message(QueueUrl=target, MessageBody=message["Body"])

        return self._act(queue, ids, send_back, tally or Tally("redrive", queue))

    def delete(self, queue: str, ids: Sequence[str] | None = None, tally: Tally | None = None) -> int:
        return self._act(queue, ids, lambda message: None, tally or Tally("delete", queue))

    def _act(self, queue: str, ids: Sequence[str] | None, act: Callable[[dict], None], tally: Tally) -> int:
        """Apply ``act`` to the chosen dead letters, then delete them from the DLQ."""
        self._check(queue)
        url = self._dlq_url(queue)
        snapshot = take_snapshot(self.sqs, url)
        wanted = None if ids is None else list(dict.fromkeys(ids))
        tally.started(snapshot.depth if wanted is None else len(wanted))
        sweep = Sweep(self.sqs, url, lease=ACTION_LEASE_SECONDS, wait_for_leases=self.wait_for_leases)
        handled = sweep.run(snapshot, wanted, act, tally)
        if wanted is None and sweep.exhausted and len(handled) < snapshot.depth:
            tally.started(len(handled))  # every letter was seen: SQS's approximate depth over-counted
        if wanted is not None and len(handled) < len(wanted):
            missing = [message_id for message_id in wanted if message_id not in handled]
            tally.not_found(missing)
            raise DeadLetterNotFound(
                f"no dead letter {', '.join(missing)} in {self.dead_letter_queues[queue]}"
                + (f" ({len(handled)} other(s) handled)" if handled else "")
            )
        return len(handled)

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
            receive_count=whole_number_or_none(count, low=0, high=10**9),
            dead_lettered_at=attributes.get("dead_lettered_at") or _sent_at(message),
            original_id=attributes.get("message_id", ""),
        )

    def _attributes(self, queue: str) -> dict[str, int]:
        found = self.sqs.get_queue_attributes(QueueUrl=self._url(queue), AttributeNames=list(DEPTH))["Attributes"]
        return {name: int(found.get(name, 0)) for name in DEPTH}

    def _dlq_url(self, queue: str) -> str:
        return self._url(self.dead_letter_queues[queue])

    def _url(self, queue: str) -> str:
        if queue not in self._urls:
            try:
                self._urls[queue] = self.sqs.get_queue_url(QueueName=queue)["QueueUrl"]
            except ClientError as error:
                if _missing(error):
                    raise QueueMissing(f"SQS queue {queue!r} does not exist") from None
                raise
        return self._urls[queue]

    def _check(self, queue: str) -> None:
        if queue not in self.dead_letter_queues:
            raise UnknownQueue(f"{queue!r} is not a queue of this worker ({', '.join(self.dead_letter_queues)})")


def queue_exists(sqs, name: str) -> bool:
    """Whether an SQS queue of that name exists (GetQueueUrl: no queue is ever created here).

    Parameters:
      sqs: a boto3 SQS client.
      name: the queue's name.
    """
    try:
        sqs.get_queue_url(QueueName=name)
    except ClientError as error:
        if _missing(error):
            return False
        raise
    return True


def _missing(error: ClientError) -> bool:
    return "NonExistentQueue" in str(error) or "QueueDoesNotExist" in str(error)


def _sent_at(message: dict) -> str:
    return datetime.fromtimestamp(sent_ms(message) / 1000, timezone.utc).isoformat()
