"""What an engine declares: its payload schema, result shape, entry point and limits."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from adapters.messages import explain
from domain.errors import InvalidMessage


class Report(Protocol):
    """report(fraction in 0..1, message): progress from inside an engine. An engine that decodes its
    source as it goes also says how many seconds of it it has decoded (``source_seconds``): its time
    limit then follows what it really decodes, not what the file's header claims."""

    def __call__(self, fraction: float, message: str, *, source_seconds: float | None = None) -> None: ...


#: run(source file or None, validated payload as a dict, report) -> result dict. Engines that
#: declare ``output_files`` also get ``outputs=`` (the folder to write them in), and engines the
#: worker configures get ``options=`` (a dict of their settings), both as keywords.
EngineFunction = Callable[..., dict[str, Any]]
#: measure(source file, validated payload) -> how long the source plays, in seconds.
MeasureFunction = Callable[[Path, dict[str, Any]], float]
#: reuse(validated payload, fetch) -> the result an earlier attempt's saved files hold, or None (they are not
#: all there); fetch(name) downloads one of the engine's output files as an earlier attempt of the job
#: saved it and returns its path, or None when there is none.
ReuseFunction = Callable[[dict[str, Any], Callable[[str], Path | None]], dict[str, Any] | None]


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
      output_files: names of the files the engine may write into its outputs
        folder; the worker uploads those it finds to the job's output prefix
        (``ai/{tenant}/{job_id}/``). The folder lies in the job's private
        temporary folder, removed after the job whatever happens, so an engine
        may keep scratch files there too (undeclared names are never uploaded).
      measure: ``module:function`` (a MeasureFunction) run in a child of its
        own before the engine, for engines whose run time grows with the
        source's length; None: the time limit is ``timeout_seconds``.
      timeout_for: the run's time limit from the measured seconds (only with ``measure``); it
        grows with the seconds the engine reports having decoded (``Report``'s ``source_seconds``),
        up to ``timeout_seconds``.
      reuse: ``module:function`` (a ReuseFunction) run in the worker before the engine: when an
        earlier attempt of the job saved the engine's files (the job was retried after its engine
        ran), the result is rebuilt from them and the engine does not run again. None: it always runs.
      configure: returns the spec as the deployment's options (``Settings.engine_options``)
        make it, for an engine whose limits or prerequisites follow its settings (the
        transcribe engine's model); None: the options change nothing here.
    """

    job_type: str
    payload: type[BaseModel]
    result: type[BaseModel]
    entry: str
    timeout_seconds: float = 600
    memory_mb: int = 1024
    prerequisites: Callable[[], list[str]] = field(default=lambda: [])
    output_files: tuple[str, ...] = ()
    measure: str | None = None
    timeout_for: Callable[[float], float] | None = None
    reuse: str | None = None
    configure: Callable[[dict[str, Any]], EngineSpec] | None = None

    def configured(self, options: dict[str, Any] | None) -> EngineSpec:
        """This spec under the deployment's ``options`` (itself when it has no ``configure``)."""
        return self.configure(dict(options or {})) if self.configure is not None else self

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


def load_function(entry: str) -> Callable[..., Any]:
    module, _, name = entry.partition(":")
    return getattr(importlib.import_module(module), name)
