"""SandboxedEngine: the domain's Engine port, running an engine in a child process.

A crash, a hang or a runaway allocation inside an engine ends that child
process only; the worker turns it into an error for that one job.
"""

from __future__ import annotations

import json
import logging
import math
import signal
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from adapters.ai.spec import EngineSpec, load_function
from adapters.child_process import Deadline, run_child
from adapters.messages import explain
from domain import errors
from domain.ai.model import AIJobRequest, EngineOutput
from domain.errors import LimitExceeded, PermanentError, ProcessingTimeout, TransientError
from domain.progress import Progress

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent.parent
# Measuring a source reads its header only; a minute is generous.
MEASURE_TIMEOUT_SECONDS = 60.0


class EngineCrashed(TransientError):
    """The engine's process died (a signal, or an unexpected exception)."""


class EngineUnavailable(TransientError):
    """This worker lacks what the engine needs (a program, its data): another worker may have it."""


class SandboxedEngine:
    """The Engine port for one registered engine, run per job in ``python -m adapters.ai.child``.

    Parameters:
      spec: the engine's registry entry (schemas, entry point, limits, output files).
      python: the interpreter for the child (this one by default).
      options: the engine's settings, handed to its run function as ``options``; an engine
        whose spec has ``configure`` takes its limits and prerequisites from them too.
    """

    def __init__(self, spec: EngineSpec, *, python: str = sys.executable, options: dict[str, Any] | None = None) -> None:
        self.spec = spec
        self.python = python
        self.options = dict(options or {})

    @property
    def configured_spec(self) -> EngineSpec:
        """The spec under this deployment's options, read afresh for each job (the transcribe
        engine's limits follow the model its folder holds now)."""
        return self.spec.configured(self.options)

    def unavailable(self) -> str | None:
        """Why this worker cannot run the engine, or None when it can."""
        return self.configured_spec.unavailable()

    def prepare(self, payload: dict[str, Any]) -> dict[str, Any]:
        spec = self.configured_spec
        prepared = spec.validate_payload(payload)
        unavailable = spec.unavailable()
        if unavailable:
            raise EngineUnavailable(unavailable)
        return prepared

    def input_key(self, payload: dict[str, Any]) -> str | None:
        return payload.get("file_key") if self.spec.takes_file else None

    def run(self, request: AIJobRequest, source: Path | None, workdir: Path, progress: Progress) -> EngineOutput:
        """Measure the source when the engine's time limit depends on it, run the engine, and hand back
        the result and the declared files it wrote (plain files only: never a link it made)."""
        spec = self.configured_spec
        measured = None
        if source is not None and spec.measure is not None:
            measured = self._measure(spec, source, request.payload)
        outputs = None
        if spec.output_files:
            outputs = workdir / "outputs"
            outputs.mkdir()
        child = {"entry": spec.entry, "source": str(source) if source else None, "payload": request.payload,
                 "memory_mb": spec.memory_mb, "outputs": str(outputs) if outputs else None, "options": self.options}
        result = self._validated_result(spec, self._child(child, _TimeLimit(spec, measured), progress))
        files = () if outputs is None else tuple(
            outputs / name for name in spec.output_files if _regular_file(outputs / name)
        )
        return EngineOutput(result, files)

    def earlier_output(self, request: AIJobRequest, fetch: Callable[[str, Path], bool],
                       workdir: Path) -> EngineOutput | None:
        """The result the engine's ``reuse`` function rebuilds from the files an earlier attempt saved,
        with those files; None when the engine has no such function or the files are not all there."""
        spec = self.spec
        if spec.reuse is None:
            return None
        folder = workdir / "earlier"
        folder.mkdir()

        def fetched(name: str) -> Path | None:
            if name not in spec.output_files:
                raise ValueError(f"{name!r} is not an output file of the {spec.job_type} engine")
            return folder / name if fetch(name, folder / name) else None

        result = load_function(spec.reuse)(request.payload, fetched)
        if result is None:
            return None
        try:
            validated = self._validated_result(spec, result)
        except PermanentError as error:
            log.warning("%s; the engine runs again", error.reason)
            return None
        return EngineOutput(validated, tuple(folder / name for name in spec.output_files
                                             if _regular_file(folder / name)))

    def _validated_result(self, spec: EngineSpec, result: Any) -> dict[str, Any]:
        try:
            return spec.result.model_validate(result).model_dump(mode="json")
        except ValidationError as error:
            subject = f"the {spec.job_type} engine returned a malformed result"
            raise PermanentError(explain(error, subject=subject, within="result")) from None

    def _measure(self, spec: EngineSpec, source: Path, payload: dict[str, Any]) -> float:
        """How long the source plays, as the engine's measure function tells (in a child of its own)."""
        request = {"entry": spec.measure, "source": str(source), "payload": payload,
                   "memory_mb": spec.memory_mb, "measure": True}
        limit = _TimeLimit(spec, None, fixed=MEASURE_TIMEOUT_SECONDS, doing="measuring its source")
        seconds = self._child(request, limit, None)
        if not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds < 0:
            raise EngineCrashed(f"the {spec.job_type} engine measured its source as {seconds!r} s")
        return float(seconds)

    def _child(self, request: dict[str, Any], limit: _TimeLimit, progress: Progress | None) -> Any:
        """One child process for ``request``; its result, or the error it reported."""
        outcome: dict[str, Any] = {}

        def on_line(line: str) -> None:
            if not line.strip():
                return
            message = json.loads(line)
            if "progress" in message:
                limit.decoded(message.get("source_seconds"), str(message.get("message", "")))
                if progress is not None:
                    progress.step("running", float(message["progress"]), str(message.get("message", "")))
            else:
                outcome.update(message)

        returncode, stderr = run_child(
            [self.python, "-m", "adapters.ai.child"],
            timeout_seconds=limit.deadline,
            timed_out=limit.exceeded,
            on_line=on_line,
            stdin=json.dumps(request).encode(),
            cwd=ROOT,
        )
        if "result" in outcome:
            return outcome["result"]
        raise self._failure(limit.spec, outcome.get("error"), returncode)

    def _failure(self, spec: EngineSpec, error: dict[str, str] | None, returncode: int) -> Exception:
        name = spec.job_type
        if error is None:
            if returncode < 0:
                return EngineCrashed(f"the {name} engine crashed ({_signal_name(-returncode)})")
            return EngineCrashed(f"the {name} engine exited without a result (status {returncode})")
        kind, reason = error.get("kind"), error.get("reason", "")
        if kind == "memory":
            return LimitExceeded(f"the {name} engine ran out of its {spec.memory_mb} MB memory limit")
        if kind in ("permanent", "transient"):
            # The engine's own class (InvalidMessage, UnsupportedMedia, ...) when it is one of the domain's.
            known = getattr(errors, str(error.get("class")), None)
            base = PermanentError if kind == "permanent" else TransientError
            cls = known if isinstance(known, type) and issubclass(known, base) else base
            return cls(reason)
        return EngineCrashed(f"the {name} engine failed: {reason}")


class _TimeLimit:
    """One child's time limit: the engine's fixed limit, or the one for its source's measured length,
    growing while the engine reports decoding more of it than measured (a header may claim less).

    Parameters:
      spec: the engine's registry entry (``timeout_seconds``, ``timeout_for``).
      measured: the source's length as measured before the run (None: not measured).
      fixed: a limit of its own instead (measuring the source).
      doing: what the child does, for the reason given when the limit is hit.
    """

    def __init__(self, spec: EngineSpec, measured: float | None, *, fixed: float | None = None,
                 doing: str = "") -> None:
        self.spec, self.measured, self.doing = spec, measured, doing
        self.source_seconds = measured
        self.last_message = ""
        self.grows = fixed is None and measured is not None and spec.timeout_for is not None
        self.deadline = Deadline(fixed if fixed is not None else self._for(measured))

    def _for(self, seconds: float | None) -> float:
        if seconds is None or self.spec.timeout_for is None:
            return self.spec.timeout_seconds
        return min(self.spec.timeout_for(seconds), self.spec.timeout_seconds)

    def decoded(self, seconds: Any, message: str) -> None:
        """The engine's progress line: ``seconds`` of its source decoded so far (None: not said)."""
        self.last_message = message or self.last_message
        if not self.grows or not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
            return
        if seconds > (self.source_seconds or 0.0):
            self.source_seconds = float(seconds)
            self.deadline.extend_to(self._for(self.source_seconds))

    def exceeded(self) -> ProcessingTimeout:
        """The error for a child that ran past its limit, saying what the limit was for and how far it got."""
        seconds = self.deadline.seconds
        limit = f"{seconds:.0f}" if seconds >= 10 else f"{seconds:g}"  # whole seconds, but never "0 s"
        reason = f"the {self.spec.job_type} engine ran longer than {limit} s"
        if self.doing:
            reason += f" {self.doing}"
        if self.grows:
            source = f"{self.source_seconds:.0f} s"
            if self.source_seconds > self.measured + 1:
                source += f" (decoded so far; measured at {self.measured:.0f} s before it ran)"
            reason += f", its time limit for a source of {source}"
            if self.last_message:
                reason += f"; its last progress: {self.last_message}"
        return ProcessingTimeout(reason)


def _regular_file(path: Path) -> bool:
    """True for a plain file; a link the engine made (to anything outside) is never uploaded."""
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
