"""The AI kind (CONTRACT sections 1-4): its statuses and transitions, its
progress steps, its ``JobKind`` and the values its handler works with."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from domain.jobs import JobKind


class AIJobStatus(str, Enum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    DONE = "DONE"
    FAILED = "FAILED"


# PROCESSING -> PROCESSING is a redelivery after a crash; FAILED -> PROCESSING a deliberate retry.
MARK_PROCESSING_FROM = frozenset({AIJobStatus.PENDING, AIJobStatus.PROCESSING, AIJobStatus.FAILED})
COMPLETE_FROM = frozenset({AIJobStatus.PROCESSING})
FAIL_FROM = frozenset({AIJobStatus.PENDING, AIJobStatus.PROCESSING})
FINAL = frozenset({AIJobStatus.DONE})

STEPS: dict[str, tuple[int, int]] = {
    "queued": (0, 0),
    "downloading": (1, 10),
    "running": (10, 90),
    "saving": (90, 99),
    "done": (100, 100),
}

AI = JobKind(
    name="ai",
    noun="AI job",
    id_type=str,
    statuses=AIJobStatus,
    start_from=MARK_PROCESSING_FROM,
    complete_from=COMPLETE_FROM,
    fail_from=FAIL_FROM,
    final=FINAL,
    processing=AIJobStatus.PROCESSING,
    completed=AIJobStatus.DONE,
    failed=AIJobStatus.FAILED,
    steps=STEPS,
    last_step="saving",
    output_root="ai",
)


@dataclass(frozen=True)
class AIJobRequest:
    """One request to run an AI engine (an AI-queue message)."""

    job_id: str
    job_type: str
    payload: dict[str, Any]
    tenant_id: int | None = None


@dataclass(frozen=True)
class EngineOutput:
    """What an AI engine hands back: its JSON result, and files for the job's output prefix."""

    result: dict[str, Any]
    files: tuple[Path, ...] = ()
