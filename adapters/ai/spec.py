"""What an engine declares: its payload schema, result shape, entry point and limits."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from adapters.messages import explain
from domain.errors import InvalidMessage

#: report(fraction in 0..1, message): progress from inside an engine.
Report = Callable[[float, str], None]
#: run(source file or None, validated payload as a dict, report) -> result dict.
EngineFunction = Callable[[Path | None, dict[str, Any], Report], dict[str, Any]]


@dataclass(frozen=True)
class EngineSpec:
    """One engine, as the registry knows it.

    Parameters:
      job_type: the ``job_type`` of the AI messages it runs.
      payload: pydantic model of the message's ``payload``; a ``file_key``
        field names the input object the worker downloads for it.
      result: pydantic model of what the engine returns (stored in ``result``).
      entry: ``module:function`` of the engine's run function; imported in
        the child process, never in the worker.
      timeout_seconds: wall-clock limit of one run (past it: killed, retried).
      memory_mb: address-space limit of the child process.
      prerequisites: returns what this machine lacks to run the engine (each
        a short phrase saying how to install it); empty when it can run. Called
        in the worker at start and before each job, so it must be quick.
    """

    job_type: str
    payload: type[BaseModel]
    result: type[BaseModel]
    entry: str
    timeout_seconds: float = 600
    memory_mb: int = 1024
    prerequisites: Callable[[], list[str]] = field(default=lambda: [])

    def unavailable(self) -> str | None:
        """Why this worker cannot run the engine, or None when it can."""
        missing = self.prerequisites()
        return f"the {self.job_type} engine cannot run on this worker: {'; '.join(missing)}" if missing else None

    @property
    def takes_file(self) -> bool:
        return "file_key" in self.payload.model_fields

    def validate_payload(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The payload as the engine will get it; InvalidMessage naming the field when it does not fit."""
        try:
            return self.payload.model_validate(payload).model_dump(mode="json")
        except ValidationError as error:
            subject = f"invalid payload for job_type {self.job_type!r}"
            raise InvalidMessage(explain(error, subject=subject, within="payload")) from None


def load_function(entry: str) -> EngineFunction:
    module, _, name = entry.partition(":")
    return getattr(importlib.import_module(module), name)
