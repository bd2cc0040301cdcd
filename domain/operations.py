"""What operators look at and act on: queue depths and dead letters.

Plain records and the port the ops tools use; adapters/sqs and adapters/redis
implement it for the two brokers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class QueueStats:
    """Approximate depths of one job queue and its dead-letter queue (``missing``: one of the two
    does not exist, e.g. the parts queue before an operator created it; the depths are then 0)."""

    name: str
    dead_letter_queue: str
    visible: int
    in_flight: int
    delayed: int
    dead_letters: int
    missing: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered message, as it sits in its dead-letter queue.

    ``id`` names it in the dead-letter queue (what redrive and delete take);
    ``original_id`` is the id it had in the job queue; ``body`` is the
    original body, byte for byte.
    """

    id: str
    queue: str
    body: str
    reason: str
    receive_count: int | None
    dead_lettered_at: str
    original_id: str

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Tally:
    """What one action on dead letters has done so far, kept up to date while
    it runs: whatever stops the action (a missing letter, an outage, a kill),
    the audit line says exactly what changed.

    Parameters:
      action: "redrive" or "delete".
      queue: the job queue whose dead letters are acted on.
      total: how many letters the action set out to handle (the ids given, or
        the dead-letter queue's depth when it began); None until known.
      on_change: called after every change (progress display); must be quick.
    """

    action: str
    queue: str
    total: int | None = None
    done: int = 0
    missing: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # letters that cannot be acted on as asked
    on_change: Callable[[Tally], None] | None = field(default=None, repr=False, compare=False)

    def started(self, total: int) -> None:
        self.total = total
        self._changed()

    def count(self) -> None:
        self.done += 1
        self._changed()

    def not_found(self, ids: Sequence[str]) -> None:
        self.missing = sorted(set(self.missing) | set(ids))
        self._changed()

    def refuse(self, letter_id: str) -> None:
        self.refused.append(letter_id)
        self._changed()

    def as_dict(self) -> dict:
        return {"action": self.action, "queue": self.queue, "total": self.total, "done": self.done,
                "missing": list(self.missing), "refused": list(self.refused)}

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self)


class DeadLetterNotFound(LookupError):
    """No dead letter with that id is in the queue (redriven or deleted meanwhile)."""


class DeadLetterRefused(ValueError):
    """A dead letter cannot be acted on as asked (e.g. it is not a message the broker can run)."""


class UnknownQueue(LookupError):
    """The name given is not one of this worker's job queues."""


class QueueAdmin(Protocol):
    """The broker's queues, as operators see them."""

    def queues(self) -> Sequence[str]:
        """The job queues this worker consumes."""
        ...

    def stats(self) -> list[QueueStats]: ...

    def dead_letters(self, queue: str, limit: int = 100) -> list[DeadLetter]:
        """Up to ``limit`` dead letters of ``queue``, oldest first, left in place."""
        ...

    def redrive(self, queue: str, ids: Sequence[str] | None = None, tally: Tally | None = None) -> int:
        """Send dead letters back to ``queue`` with their bodies unchanged; return how many.

        ``ids`` None means every letter that was in the dead-letter queue when
        the action began (letters dead-lettered again meanwhile are left for the
        next action, so it always ends). Ids not found raise DeadLetterNotFound
        after the others were handled; ``tally`` (if given) follows every step.
        """
        ...

    def delete(self, queue: str, ids: Sequence[str] | None = None, tally: Tally | None = None) -> int:
        """Delete dead letters of ``queue``, with redrive's rules; return how many."""
        ...
