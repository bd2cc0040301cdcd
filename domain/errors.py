"""The error taxonomy: permanent errors are never retried, transient ones are.

Every error carries ``reason``: one sentence a person understands, safe to
store in the database and to attach to a dead-lettered message (no stack
traces, no secrets, no signed URLs).
"""

from __future__ import annotations


class JobError(Exception):
    """Base of every error the handlers raise on purpose."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PermanentError(JobError):
    """The job can never succeed as sent: fail the row, dead-letter, no retry."""


class InvalidMessage(PermanentError):
    """The message body is not valid JSON or violates the contract's schema."""


class UnsafeKey(PermanentError):
    """An object key would escape the bucket layout (``..``, absolute, too long)."""


class SourceNotFound(PermanentError):
    """The source object named by ``file_key`` does not exist."""


class UnsupportedMedia(PermanentError):
    """The source is not a decodable, self-contained media file."""


class LimitExceeded(PermanentError):
    """The source is over a configured size or duration limit."""


class JobNotFound(PermanentError):
    """The database has no row for the job the message names."""


class UnknownJobType(PermanentError):
    """The message names a job_type no engine is registered for."""


class TransientError(JobError):
    """Something outside the job failed (network, S3 5xx, database, Redis): retry."""


class LockBusy(TransientError):
    """Another worker holds the job's lock right now: retry later."""


class Waiting(TransientError):
    """The job needs something that is not there yet (a video still being encoded): it is tried
    again after ``retry_after_seconds`` without spending a retry."""

    def __init__(self, reason: str, retry_after_seconds: float = 60) -> None:
        super().__init__(reason)
        self.retry_after_seconds = retry_after_seconds


class ProcessingTimeout(TransientError):
    """A processing step ran past its time limit."""
