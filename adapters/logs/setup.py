"""configure_logging: the format, level and filters of the process's log handlers."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

from adapters.logs.filters import ExpectedInterruptionsFilter, JobContextFilter, RedactFilter
from adapters.logs.formatters import TextFormatter, json_formatter
from adapters.logs.redact import Redactor

OUR_FILTERS = (ExpectedInterruptionsFilter, JobContextFilter, RedactFilter)


def configure_logging(log_format: str = "auto", level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    """Give every handler of the root logger our format and filters.

    Under ``dramatiq`` each worker process has already got a root handler
    writing to the pipe the parent prints; it is kept (only its formatter and
    filters change), so lines still go where Dramatiq sends them. Elsewhere
    (the ops tools) a stderr handler is added when there is none. Calling it
    again replaces what an earlier call set.

    Parameters:
      log_format: "json" (one object per line), "text", or "auto" (text when
        stderr is a terminal, else json).
      level: the root logger's level name.
      secrets: values to mask wherever they appear (see ``secret_values``).
    """
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    use_json = log_format == "json" or (log_format == "auto" and not _stderr_is_terminal())
    redact = Redactor(secrets)
    for handler in root.handlers:
        handler.setFormatter(json_formatter() if use_json else TextFormatter())
        for old in [f for f in handler.filters if isinstance(f, OUR_FILTERS)]:
            handler.removeFilter(old)
        handler.addFilter(ExpectedInterruptionsFilter())
        handler.addFilter(JobContextFilter())
        handler.addFilter(RedactFilter(redact))
    root.setLevel(level.upper())
    logging.captureWarnings(True)  # warnings become records, so they are JSON lines too


def _stderr_is_terminal() -> bool:
    # Dramatiq replaces sys.stderr with a pipe in its worker processes; the
    # original stream says where the lines finally go.
    stream = sys.__stderr__ or sys.stderr
    try:
        return bool(stream and stream.isatty())
    except (AttributeError, ValueError):
        return False
