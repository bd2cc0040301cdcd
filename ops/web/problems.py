"""Outages of SQS, S3, Redis or the database, turned into a sentence for a page section.

A page calls each system through ``attempt``; what fails becomes a Problem
that the template shows where the data would have been, and the rest of the
page still renders. Messages name the system and the error, never a
traceback, URL credentials or request parameters.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import redis
from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy.exc import SQLAlchemyError

from adapters.sqs.admin import QueueMissing
from ops.service import OpsError

log = logging.getLogger(__name__)

UNREACHABLE: tuple[type[Exception], ...] = (
    BotoCoreError, ClientError, QueueMissing, redis.RedisError, SQLAlchemyError, OpsError,
)
MAX_CHARS = 300
T = TypeVar("T")


@dataclass(frozen=True)
class Problem:
    """Why a section of a page could not be filled.

    Parameters:
      system: "SQS", "S3", "Redis", "The database" or "The broker".
      text: one sentence: what failed.
    """

    system: str
    text: str

    @property
    def title(self) -> str:
        return f"{self.system} is unreachable"


def describe(error: Exception, system: str) -> Problem:
    """The Problem for ``error`` raised while talking to ``system`` (used when the type does not say)."""
    if isinstance(error, QueueMissing):
        return Problem("SQS", f"{_first_line(error)}: check VIDEO_QUEUE/AI_QUEUE and their dead-letter queues.")
    if isinstance(error, ClientError):
        detail = error.response.get("Error", {})
        code, message = detail.get("Code", "error"), detail.get("Message", "")
        return Problem(system, f"{system} answered {code}: {_first_line(message)}".rstrip(": "))
    if isinstance(error, BotoCoreError):
        return Problem(system, f"{system} could not be reached: {_first_line(error)}")
    if isinstance(error, redis.RedisError):
        return Problem("Redis", f"Redis could not be reached: {_first_line(error)}")
    if isinstance(error, SQLAlchemyError):
        # str() of a statement error carries the SQL and its parameters; the driver's own first line does not.
        origin = getattr(error, "orig", None) or error
        return Problem("The database", f"The database could not be reached: {_first_line(origin)}")
    if isinstance(error, OpsError):
        return Problem("The broker", _first_line(error))
    return Problem(system, f"{system} failed: {type(error).__name__}")


def attempt(system: str, call: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T | None, Problem | None]:
    """Run ``call(*args, **kwargs)``; return (its value, None), or (None, the Problem) on an outage.

    Parameters:
      system: which system ``call`` talks to, for boto errors ("SQS" or "S3").
      call: the function to run; its other arguments follow.
    """
    try:
        return call(*args, **kwargs), None
    except UNREACHABLE as error:
        problem = describe(error, system)
        log.warning("%s", problem.text)
        return None, problem


def _first_line(value: object) -> str:
    lines = str(value).strip().strip("'\"").splitlines()
    text = lines[0] if lines else type(value).__name__
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"
