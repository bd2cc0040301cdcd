"""What makes a kind of job, as the domain sees it.

A kind's id, its statuses and the transitions between them (CONTRACT section
2), its progress steps (section 3), and the keys and storage prefix derived
from its id (sections 3 and 4): each written once here, read everywhere else
through the kind. The kinds of the contract are VIDEO and AI; a new kind is
one more ``JobKind`` (and, outside the domain, one declaration in ``kinds/``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from domain.progress import AI_STEPS, VIDEO_STEPS
from domain.statuses import (
    AI_COMPLETE_FROM,
    AI_FAIL_FROM,
    AI_FINAL,
    AI_MARK_PROCESSING_FROM,
    VIDEO_COMPLETE_FROM,
    VIDEO_FAIL_FROM,
    VIDEO_FINAL,
    VIDEO_MARK_PROCESSING_FROM,
    AIJobStatus,
    VideoStatus,
)

BIGINT_MAX = 2**63 - 1
MAX_TEXT_ID = 64  # the id column of the text-keyed tables (varchar(64))


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
        """The job id an operator typed, or None when no job can have it.

        Integer ids are ASCII digits within the 64-bit column ("²".isdigit()
        is true, int("²") fails); text ids fit their column.
        """
        if self.id_type is int:
            if not re.fullmatch(r"[0-9]{1,19}", text) or not 0 < int(text) <= BIGINT_MAX:
                return None
            return int(text)
        return text if 0 < len(text) <= MAX_TEXT_ID else None

    def status_names(self) -> list[str]:
        return [status.value for status in self.statuses]


VIDEO = JobKind(
    name="video",
    noun="video",
    id_type=int,
    statuses=VideoStatus,
    start_from=VIDEO_MARK_PROCESSING_FROM,
    complete_from=VIDEO_COMPLETE_FROM,
    fail_from=VIDEO_FAIL_FROM,
    final=VIDEO_FINAL,
    processing=VideoStatus.PROCESSING,
    completed=VideoStatus.READY,
    failed=VideoStatus.FAILED,
    steps=VIDEO_STEPS,
    last_step="finalizing",
    output_root="videos",
)

AI = JobKind(
    name="ai",
    noun="AI job",
    id_type=str,
    statuses=AIJobStatus,
    start_from=AI_MARK_PROCESSING_FROM,
    complete_from=AI_COMPLETE_FROM,
    fail_from=AI_FAIL_FROM,
    final=AI_FINAL,
    processing=AIJobStatus.PROCESSING,
    completed=AIJobStatus.DONE,
    failed=AIJobStatus.FAILED,
    steps=AI_STEPS,
    last_step="saving",
    output_root="ai",
)
