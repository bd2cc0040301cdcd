"""Handler filters: the running job's fields on every record, secrets masked."""

from __future__ import annotations

import logging

from dramatiq.middleware import Shutdown

from adapters.logs.redact import Redactor
from adapters.worker.context import current_job
from domain.errors import LockBusy, Waiting

#: The fields a record may carry about its job, in the order text lines show them.
JOB_FIELDS = ("job_type", "job_id", "attempt", "step", "outcome", "duration")


class JobContextFilter(logging.Filter):
    """Adds job_type, job_id, attempt and step of the job the thread is running.

    Fields a call passed in ``extra`` are kept.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        job = current_job()
        if job is not None:
            fields = {"job_type": job.job_type, "job_id": job.job_id, "attempt": job.attempt, "step": job.step}
            for name, value in fields.items():
                if value not in (None, "") and not hasattr(record, name):
                    setattr(record, name, value)
        return True


class RedactFilter(logging.Filter):
    """Masks secrets in the message (after its arguments are merged in), the
    exception text and the stack text of every record.

    Parameters:
      redact: the function masking a text.
    """

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact
        self._exceptions = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, dict):  # JSON loggers may log a mapping of fields
            record.msg = {k: self.redact(v) if isinstance(v, str) else v for k, v in record.msg.items()}
        else:
            try:
                message = record.getMessage()
            except Exception:
                return True  # a broken call: let the handler report it as logging does
            record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._exceptions.formatException(record.exc_info)
        if record.exc_text:
            # Formatters print exc_text when exc_info is gone (the JSON one too),
            # so the traceback is only ever printed masked.
            record.exc_text, record.exc_info = self.redact(record.exc_text), None
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class ExpectedInterruptionsFilter(logging.Filter):
    """Turns Dramatiq's "unhandled exception" ERROR (with traceback) into one
    plain line for runs that ended as designed, not by a fault:

    - ``Shutdown``: a graceful stop interrupted the job; its message goes
      back to the queue (WARNING);
    - ``LockBusy``: a duplicate delivery found the job running elsewhere and
      is tried again later (INFO); ``Waiting`` likewise (a job waiting for its video).

    Any other exception keeps Dramatiq's ERROR and traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not (record.exc_info and record.name.startswith("dramatiq.worker")):
            return True
        error = record.exc_info[1]
        if isinstance(error, Shutdown):
            level, text = logging.WARNING, "job interrupted by the worker's shutdown; its message goes back to the queue"
        elif isinstance(error, (LockBusy, Waiting)):
            level, text = logging.INFO, f"{error.reason}; the message is tried again later"
        else:
            return True
        record.levelno, record.levelname = level, logging.getLevelName(level)
        record.msg, record.args, record.exc_info, record.exc_text = text, None, None, None
        return True
