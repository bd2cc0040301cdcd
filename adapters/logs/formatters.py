"""The two line formats: one JSON object per line, or a readable line."""

from __future__ import annotations

import logging

from pythonjsonlogger.json import JsonFormatter

from adapters.logs.filters import JOB_FIELDS

TEXT_FORMAT = "%(asctime)s %(levelname)-7s [%(process)d %(threadName)s] %(name)s: %(message)s"


def json_formatter() -> logging.Formatter:
    """time, level, logger, pid, thread, message, then any job fields and extras."""
    return JsonFormatter(
        "%(levelname)s %(name)s %(process)d %(threadName)s %(message)s",
        rename_fields={"levelname": "level", "name": "logger", "process": "pid", "threadName": "thread"},
        timestamp="time",
        json_ensure_ascii=False,
    )


class TextFormatter(logging.Formatter):
    """TEXT_FORMAT, followed by the record's job fields as ``name=value``."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        fields = [f"{name}={getattr(record, name)}" for name in JOB_FIELDS if hasattr(record, name)]
        return f"{line}  {' '.join(fields)}" if fields else line
