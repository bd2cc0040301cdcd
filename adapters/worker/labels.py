"""Bounded names for metrics and logs: the job a message carries and how its run ended.

Labels come from a small fixed set (or from configuration), never from free
text in a message body, so a hostile or broken body cannot create new series.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field

import dramatiq
from dramatiq.middleware import Shutdown

from domain.errors import LockBusy, Waiting
from domain.flow import Outcome
from domain.jobs import JobKind

REPORTED = tuple(outcome.value for outcome in Outcome)  # what an actor reports of its handler
COMPLETED, SKIPPED, SUPERSEDED, DEFERRED = REPORTED
FAILED = "failed"  # the message is dead-lettered: permanent error or retries exhausted
RETRIED = "retried"  # a transient error; the message comes back after a backoff
INTERRUPTED = "interrupted"  # the worker shut down under the job
BUSY = "busy"  # another worker holds the job's lock; tried again without spending a retry
WAITING = "waiting"  # the job waits for something not there yet (its video); tried again, no retry spent
REJECTED = "rejected"  # never ran: invalid body or delivered too many times
OUTCOMES = (*REPORTED, FAILED, RETRIED, INTERRUPTED, BUSY, WAITING, REJECTED)

#: The actor option holding its JobLabels (declared by JobTracking, read by JobMetrics too).
JOB_LABELS = "job_labels"


@dataclass(frozen=True)
class JobLabels:
    """How the jobs of one actor are named.

    Parameters:
      kind: the kind of job: its name is the job type label, its key rule the job's key.
      id_field: the body field holding the job's id ("video_id", "job_id").
      type_field: a body field naming a finer job type ("job_type"); used as
        the label only when ``types()`` contains it, else the kind's name is.
      types: the finer types allowed as labels (the registered AI engines);
        called only for messages of this kind.
      job_type: the label instead of the kind's name (the worker's own messages
        about a kind's job: ``video_piece``).
    """

    kind: JobKind
    id_field: str
    type_field: str | None = None
    types: Callable[[], Collection[str]] = field(default=lambda: ())
    job_type: str | None = None


@dataclass(frozen=True)
class JobInfo:
    """What logs and metrics say about one message's job.

    Parameters:
      job_type: a bounded label ("video", "ocr", "ai").
      job_id: the job's id as text, "" when the body has none.
      key: the job's lock and progress key ("video:42"), None without an id.
    """

    job_type: str
    job_id: str
    key: str | None


def identify(message: dramatiq.Message, named: JobLabels | None) -> JobInfo:
    """The job ``message`` carries, as its actor's labels name it; without labels (an actor
    of no kind, an unknown actor), the actor's name is the job type."""
    kwargs = message.kwargs if isinstance(message.kwargs, dict) else {}
    if named is None:
        return JobInfo(message.actor_name, "", None)
    job_type = named.job_type or named.kind.name
    if named.type_field:
        finer = kwargs.get(named.type_field)
        if isinstance(finer, str) and finer in named.types():
            job_type = finer
    raw_id = kwargs.get(named.id_field)
    job_id = str(raw_id)[:100] if isinstance(raw_id, (int, str)) and not isinstance(raw_id, bool) else ""
    return JobInfo(job_type, job_id, named.kind.key(job_id) if job_id else None)


def job_outcome(message: dramatiq.MessageProxy, reported: str | None, exception: BaseException | None) -> str:
    """How one run of a message ended.

    Parameters:
      message: the message; after the retry middleware ran, ``failed`` says
        whether it is about to be dead-lettered.
      reported: the Outcome value the actor reported (None if it did not).
      exception: what the actor raised, if anything.
    """
    if exception is None:
        return reported if reported in REPORTED else COMPLETED
    if message.failed:
        return FAILED
    if isinstance(exception, Shutdown):
        return INTERRUPTED
    if isinstance(exception, LockBusy):
        return BUSY
    if isinstance(exception, Waiting):
        return WAITING
    return RETRIED
