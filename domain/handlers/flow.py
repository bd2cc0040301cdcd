"""The flow every job handler shares: lock -> mark_processing (skip if final)
-> work -> complete -> release, with failure and give-up rules."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Generic, TypeVar

from domain.errors import JobNotFound, LockBusy, PermanentError, TransientError
from domain.ports import JobLock
from domain.progress import Progress

log = logging.getLogger(__name__)
Result = TypeVar("Result")


class Outcome(str, Enum):
    COMPLETED = "completed"
    SKIPPED = "skipped"  # the row was already final: ack, never reprocess
    SUPERSEDED = "superseded"  # a newer attempt owns the row: our result is dropped


@dataclass(frozen=True)
class JobRow(Generic[Result]):
    """One job's row, as the shared flow needs it.

    Parameters:
      label: how reasons name the job ("video 42").
      lock_key: the job's lock and progress key ("video:42").
      final: the statuses after which the job is never run again.
      status_of: reads the row's status (None: no such row).
      mark_processing: the conditional update starting an attempt; its fence or None.
      complete: writes the result under the attempt's fence; True if it took effect.
      fail: writes a reason, under a fence when given; True if it took effect.
    """

    label: str
    lock_key: str
    final: Collection[Enum]
    status_of: Callable[[], Enum | None]
    mark_processing: Callable[[], datetime | None]
    complete: Callable[[Result, datetime], bool]
    fail: Callable[[str, datetime | None], bool]


class AttemptSuperseded(Exception):
    """Raised by a job's work when a newer attempt has taken the row over (its
    lock expired while it was stalled): stop without writing anything more."""


def run_job(
    row: JobRow[Result], lock: JobLock, progress: Progress, work: Callable[[datetime], Result], last_step: str
) -> Outcome:
    """Run one attempt of a job; ``work`` gets the attempt's fence.

    A permanent error fails the row with its reason and is re-raised (dead
    letter, no retry); any other error leaves the row to the retry and is
    re-raised. The lock is taken before any repository call and always released.
    """
    if not lock.acquire(row.lock_key):
        raise LockBusy(f"{row.label} is being processed by another worker")
    try:
        fence = row.mark_processing()
        if fence is None:
            return _not_startable(row)
        try:
            result = work(fence)
        except AttemptSuperseded:
            log.warning("%s was taken over by a newer attempt; stopped before writing", row.label)
            return Outcome.SUPERSEDED
        except PermanentError as error:
            row.fail(error.reason, fence)
            progress.failed(error.reason)
            raise
        except TransientError as error:
            progress.note(error.reason)  # people watching see why it stalls; the retry decides the rest
            raise
        progress.step(last_step)
        if not row.complete(result, fence):
            log.warning("%s was taken over by a newer attempt; result dropped", row.label)
            return Outcome.SUPERSEDED
        progress.step("done")
        return Outcome.COMPLETED
    finally:
        lock.release(row.lock_key)


def give_up_job(row: JobRow[Any], lock: JobLock, progress: Progress, reason: str) -> bool:
    """Fail the row after the last retry (or a rejected message); True if it changed.

    Under the lock: a worker running the job right now (a duplicate
    delivery) decides its outcome and is not failed under its feet.
    """
    if not lock.acquire(row.lock_key):
        log.warning("%s is running elsewhere; its row is left to that attempt", row.label)
        return False
    try:
        changed = row.fail(reason, None)
    finally:
        lock.release(row.lock_key)
    if changed:
        progress.failed(reason)
    return changed


def _not_startable(row: JobRow[Any]) -> Outcome:
    status = row.status_of()
    if status is None:
        raise JobNotFound(f"{row.label} does not exist")
    if status in row.final:
        log.info("%s is already %s; message acknowledged", row.label, status.value)
        return Outcome.SKIPPED
    # Only a final status refuses mark_processing; anything else is a row
    # changed under us between the two statements: let the retry decide.
    raise LockBusy(f"{row.label} changed status to {status.value} while starting")
