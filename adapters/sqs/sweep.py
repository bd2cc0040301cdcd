"""A sweep through a dead-letter queue: acting on the letters that were there when an action began.

SQS can neither list messages nor fetch one by id. A sweep receives batches,
acts on the letters it is after, and holds the others (invisible until the
sweep ends, so that later receives reach letters not seen yet); at the end it
hands every held letter back at once.

It always ends, whatever keeps arriving:
- a letter sent after the action began (a poison message dead-lettered again
  while "redrive all" runs - the normal state of a queue with poison in it) is
  never acted on: SQS's ``SentTimestamp`` says when each letter arrived;
- with no ids given, it stops after as many letters as the queue held when it began;
- after two receives in a row that bring no letter from before the start, it
  stops, unless the queue says some letters were not seen: visible ones (short
  polls sample SQS's servers) or ones leased by someone else (an operator
  browsing the queue). Then it keeps looking for at most ``wait_for_leases``
  seconds, so a browse cannot make an action report letters as missing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from adapters.sqs.codec import sent_timestamp_ms
from domain.operations import Tally

DEPTH = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed")
IDLE_RECEIVES_BEFORE_DONE = 2  # short polls sample some of SQS's servers; one empty answer proves little


@dataclass(frozen=True)
class Snapshot:
    """The dead-letter queue when an action began.

    Parameters:
      depth: letters in it (visible, in flight and delayed).
      cutoff_ms: epoch milliseconds; a letter whose SentTimestamp is later
        arrived after the action began.
    """

    depth: int
    cutoff_ms: int


def take_snapshot(sqs, url: str) -> Snapshot:
    """The depth of the queue at ``url`` and the moment it was read.

    The moment is the later of this machine's clock and SQS's own, read from
    the response's Date header. That header has whole seconds: SQS's clock
    was somewhere in [Date, Date + 999 ms] when it answered, so rounding up
    to the end of the second is the only cutoff that never takes a letter
    that was there for a newcomer (which the action would skip, yet report
    itself complete). What it costs: a letter dead-lettered in the rest of
    that second (at most 1 s after the snapshot) may count as there when the
    action began. That is harmless once one action per queue runs at a time
    (ops/all_actions.py holds a lease per queue for it): two concurrent
    actions fed each other their own redrives through this window (70 of 40
    redriven), but one action alone only ever meets a fresh dead letter or
    one of its own redrives sent back within that second. Either is a dead
    letter like the others and is acted on once; the depth still bounds how
    many are acted on, so the action ends; and a letter of the snapshot left
    aside for it is still in the dead-letter queue for the next action.
    Nothing is lost and no letter is acted on twice.
    """
    response = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(DEPTH))
    depth = sum(int(response["Attributes"].get(name, 0)) for name in DEPTH)
    cutoff = int(time.time() * 1000)
    date = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    if date:
        try:
            cutoff = max(cutoff, int(parsedate_to_datetime(date).timestamp() * 1000) + 999)
        except (TypeError, ValueError):
            pass
    return Snapshot(depth, cutoff)


class Sweep:
    """One pass of an action over a dead-letter queue.

    Parameters:
      sqs: a boto3 SQS client.
      url: the dead-letter queue's URL.
      lease: seconds a received letter stays invisible while the sweep holds it.
      wait_for_leases: how long to keep looking for letters someone else holds
        (the browse lease, plus a margin).
      clock, sleep: time functions (tests pass their own).
    """

    def __init__(self, sqs, url: str, *, lease: int, wait_for_leases: float,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.sqs = sqs
        self.url = url
        self.lease = lease
        self.wait_for_leases = wait_for_leases
        self.clock = clock
        self.sleep = sleep
        self.exhausted = False  # after run: it saw every letter from before the start

    def run(self, snapshot: Snapshot, wanted: Collection[str] | None, act: Callable[[dict], None],
            tally: Tally) -> set[str]:
        """Apply ``act`` to each chosen letter, then delete it; return the ids handled.

        Parameters:
          snapshot: the queue when the action began.
          wanted: the ids to act on, or None for every letter of the snapshot.
          act: what to do with a letter before it is deleted (send it back, or
            nothing); if it raises, the letter is handed back and the error rises.
          tally: counts each letter handled.
        """
        handled: set[str] = set()
        passed: set[str] = set()  # letters from before the start that were not asked for
        held: list[str] = []
        deadline = self.clock() + self.wait_for_leases
        idle = 0
        try:
            while not self._finished(snapshot, wanted, handled):
                found_old = False
                for message in self._receive():
                    message_id, receipt = message["MessageId"], message["ReceiptHandle"]
                    old = sent_ms(message) <= snapshot.cutoff_ms
                    if old and message_id not in handled and (wanted is None or message_id in wanted) \
                            and not self._finished(snapshot, wanted, handled):
                        self._settle(message, act, held)
                        handled.add(message_id)
                        tally.count()
                        found_old = True
                        continue
                    held.append(receipt)
                    if old and message_id not in passed and message_id not in handled:
                        passed.add(message_id)
                        found_old = True
                idle = 0 if found_old else idle + 1
                if idle < IDLE_RECEIVES_BEFORE_DONE:
                    continue
                unseen = self._unseen_letters(len(held))
                if unseen and self.clock() < deadline:
                    self.sleep(0.2)
                    continue
                self.exhausted = not unseen
                break
        finally:
            hand_back(self.sqs, self.url, held)
        return handled

    def _settle(self, message: dict, act: Callable[[dict], None], held: list[str]) -> None:
        try:
            act(message)
            self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        except BaseException:
            held.append(message["ReceiptHandle"])
            raise

    @staticmethod
    def _finished(snapshot: Snapshot, wanted: Collection[str] | None, handled: set[str]) -> bool:
        if wanted is None:
            return len(handled) >= snapshot.depth
        return all(message_id in handled for message_id in wanted)

    def _receive(self) -> list[dict]:
        return self.sqs.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=self.lease,
            WaitTimeSeconds=0,
            AttributeNames=["SentTimestamp", "ApproximateReceiveCount"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])

    def _unseen_letters(self, held_by_us: int) -> bool:
        """Whether letters are visible, or more are invisible than this sweep holds (someone is browsing)."""
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=list(DEPTH[:2]))["Attributes"]
        visible = int(attributes.get(DEPTH[0], 0))
        return visible > 0 or int(attributes.get(DEPTH[1], 0)) > held_by_us


def hand_back(sqs, url: str, receipts: list[str]) -> None:
    """Make received letters visible again at once."""
    for start in range(0, len(receipts), 10):
        entries = [
            {"Id": str(i), "ReceiptHandle": receipt, "VisibilityTimeout": 0}
            for i, receipt in enumerate(receipts[start : start + 10])
        ]
        sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)


def sent_ms(message: dict) -> int:
    """SQS's SentTimestamp of a received message (epoch ms; 0 when absent or malformed)."""
    return sent_timestamp_ms(message.get("Attributes", {})) or 0
