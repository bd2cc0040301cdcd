"""The ports every kind's handler needs, as Protocols; adapters/ implements them.

A kind's own ports live in its home (``domain/video/ports.py``, ``domain/ai/ports.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

from domain.jobs import JobState


class JobRepository(Protocol):
    """The rows of one kind of job. Every transition is one conditional update.

    ``mark_processing`` returns the time it wrote into the row (the attempt's
    fence) or None when the row's status did not allow it. ``complete`` and
    ``fail`` take that fence, so a stale attempt whose lock expired cannot
    overwrite the result of a newer one; ``fail`` without a fence is the
    give-up after the last retry.
    """

    def status_of(self, job_id: Any) -> Enum | None: ...

    def state_of(self, job_id: Any) -> JobState | None:
        """Status, tenant and creation time of a row (None: no such row)."""
        ...

    def mark_processing(self, job_id: Any) -> datetime | None: ...

    def attempt_is_current(self, job_id: Any, fence: datetime) -> bool:
        """True while the row is being processed under this attempt's fence."""
        ...

    def complete(self, job_id: Any, result: Any, *, fence: datetime) -> bool: ...

    def fail(self, job_id: Any, reason: str, *, fence: datetime | None = None) -> bool: ...


class JobLock(Protocol):
    """A per-job mutual exclusion lock that only its owner can release."""

    def acquire(self, key: str) -> bool: ...

    def release(self, key: str) -> None: ...


class ProgressSink(Protocol):
    """Where live progress goes (CONTRACT section 3)."""

    def write(self, key: str, step: str, percent: int, message: str) -> None: ...

    def raise_to(self, key: str, step: str, percent: int, message: str) -> bool:
        """Write the report only if it does not move the percent back (several writers at once:
        a video's parts); True if it was written."""
        ...


class ObjectStorage(Protocol):
    """The bucket of CONTRACT section 4."""

    def size_of(self, key: str) -> int:
        """Size in bytes; raises SourceNotFound when there is no such object."""
        ...

    def download(self, key: str, dest: Path) -> None: ...

    def upload(self, path: Path, key: str) -> None:
        """Upload one file with the Content-Type its extension calls for."""
        ...

    def read_text(self, key: str) -> str:
        """A small text object (a playlist); raises SourceNotFound when there is none."""
        ...

    def write_text(self, key: str, text: str) -> None:
        """Write a small text object in one put, with the Content-Type its name calls for."""
        ...

    def read_head(self, key: str, size: int) -> bytes:
        """The first ``size`` bytes of an object; raises SourceNotFound when there is none."""
        ...

    def exists(self, key: str) -> bool: ...

    def list_keys(self, prefix: str) -> list[str]:
        """Every key under ``prefix``, in key order."""
        ...

    def delete_keys(self, keys: Sequence[str]) -> None:
        """Delete objects; a key that is not there is no error."""
        ...

    def presigned_url(self, key: str, expires_seconds: int) -> str:
        """A URL that reads ``key`` without credentials for ``expires_seconds`` (ranges allowed)."""
        ...
