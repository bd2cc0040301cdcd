"""What operators look at and act on: queue depths and dead letters.

Plain records and the port the ops tools use; adapters/sqs and adapters/redis
implement it for the two brokers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Protocol


@dataclass(frozen=True)
class QueueStats:
    """Approximate depths of one job queue and its dead-letter queue."""

    name: str
    dead_letter_queue: str
    visible: int
    in_flight: int
    delayed: int
    dead_letters: int

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


class DeadLetterNotFound(LookupError):
    """No dead letter with that id is in the queue (redriven or deleted meanwhile)."""


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

    def redrive(self, queue: str, ids: Sequence[str] | None = None) -> int:
        """Send dead letters back to ``queue`` with their bodies unchanged
        (all of them when ``ids`` is None); return how many."""
        ...

    def delete(self, queue: str, ids: Sequence[str] | None = None) -> int:
        """Delete dead letters of ``queue`` (all when ``ids`` is None); return how many."""
        ...
