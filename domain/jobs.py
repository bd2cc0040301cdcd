"""What every kind of job has: ``JobKind`` (its id, statuses and transitions,
progress steps, keys and output folder) and ``JobState`` (what a row says).

Each kind declares its own ``JobKind`` in its home (``domain/video/model.py``,
``domain/ai/model.py``); everything else reads a kind's rules through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from domain.numbers import BIGINT_MAX, whole_number

MAX_TEXT_ID = 64  # the id column of the text-keyed tables (varchar(64))


def unstorable(text: str) -> str | None:
    """Why no text column can hold ``text``, or None when one can.

    PostgreSQL refuses a NUL character in any text (psycopg2 raises before it
    sends the query), and a lone surrogate - what Python makes of bytes that are
    not UTF-8 in a command's arguments - cannot be encoded for the database at all.
    """
    if "\x00" in text:
        return "holds a NUL character (\\x00)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8"
    return None


@dataclass(frozen=True)
class JobKind:
    """One kind of job.

    Parameters:
      name: the kind's name: the prefix of its lock and progress keys
        (``video:42``), its metrics label, the operators' name for its queue.
      noun: how reasons name one job ("video", "AI job").
      id_type: ``int`` (a positive 64-bit id) or ``str`` (at most 64 characters).
      statuses: the enum of the row's status column.
      start_from: the statuses ``mark_processing`` may start from.
      complete_from: the statuses ``complete`` may move from.
      fail_from: the statuses ``fail`` may move from.
      final: the statuses after which a job is never run again.
      processing, completed, failed: the statuses those three transitions write.
      steps: the ordered progress steps and the percent band of each.
      last_step: the step reported while the result is written, before "done".
      output_root: the first folder of the job's outputs (``videos`` ->
        ``videos/{tenant or "shared"}/{id}/``).
    """

    name: str
    noun: str
    id_type: type
    statuses: type[Enum]
    start_from: frozenset
    complete_from: frozenset
    fail_from: frozenset
    final: frozenset
    processing: Enum
    completed: Enum
    failed: Enum
    steps: Mapping[str, tuple[int, int]]
    last_step: str
    output_root: str

    def key(self, job_id: object) -> str:
        """The job's lock and progress key (CONTRACT section 3): ``video:42``."""
        return f"{self.name}:{job_id}"

    def label(self, job_id: object) -> str:
        """How reasons and logs name the job: ``video 42``."""
        return f"{self.noun} {job_id}"

    def output_prefix(self, tenant_id: int | None, job_id: object) -> str:
        """Where the job's files go (CONTRACT section 4): ``videos/7/42``, ``ai/shared/<id>``."""
        return f"{self.output_root}/{'shared' if tenant_id is None else tenant_id}/{job_id}"

    def parse_id(self, text: str) -> int | str | None:
        """The job id an operator typed, or None when no job can have it (integer ids are
        positive and fit the 64-bit column; text ids fit their column and are text a
        database can hold: see ``unstorable``)."""
        if self.id_type is int:
            try:
                return whole_number(text, low=1, high=BIGINT_MAX)
            except ValueError:
                return None
        return text if 0 < len(text) <= MAX_TEXT_ID and unstorable(text) is None else None

    def status_names(self) -> list[str]:
        return [status.value for status in self.statuses]


@dataclass(frozen=True)
class JobState:
    """What a job's row says about it: its status, tenant, creation time and the fence of its
    latest attempt (what ``mark_processing`` last wrote; None before the first)."""

    status: Enum
    tenant_id: int | None
    created_at: datetime | None
    started: datetime | None = None
