"""SandboxedEngine: the domain's Engine port, running an engine in a child process.

A crash, a hang or a runaway allocation inside an engine ends that child
process only; the worker turns it into an error for that one job.
"""

from __future__ import annotations

import json
import math
import signal
import stat
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from adapters.ai.spec import EngineSpec
from adapters.child_process import run_child
from adapters.messages import explain
from domain import errors
from domain.ai.model import AIJobRequest, EngineOutput
from domain.errors import LimitExceeded, PermanentError, ProcessingTimeout, TransientError
from domain.progress import Progress

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
        timeout = spec.timeout_seconds
        if source is not None and spec.measure is not None:
            timeout = self._time_limit(spec, source, request.payload)
        outputs = None
        if spec.output_files:
            outputs = workdir / "outputs"
            outputs.mkdir()
        child = {"entry": spec.entry, "source": str(source) if source else None, "payload": request.payload,
                 "memory_mb": spec.memory_mb, "outputs": str(outputs) if outputs else None, "options": self.options}
        result = self._validated_result(spec, self._child(spec, child, timeout, progress, ""))
        files = () if outputs is None else tuple(
            outputs / name for name in spec.output_files if _regular_file(outputs / name)
        )
        return EngineOutput(result, files)

    def _validated_result(self, spec: EngineSpec, result: Any) -> dict[str, Any]:
        try:
            return spec.result.model_validate(result).model_dump(mode="json")
        except ValidationError as error:
            subject = f"the {spec.job_type} engine returned a malformed result"
            raise PermanentError(explain(error, subject=subject, within="result")) from None

    def _time_limit(self, spec: EngineSpec, source: Path, payload: dict[str, Any]) -> float:
        request = {"entry": spec.measure, "source": str(source), "payload": payload,
                   "memory_mb": spec.memory_mb, "measure": True}
        seconds = self._child(spec, request, MEASURE_TIMEOUT_SECONDS, None, "measuring its source")
        if not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds < 0:
            raise EngineCrashed(f"the {spec.job_type} engine measured its source as {seconds!r} s")
        return spec.timeout_for(float(seconds)) if spec.timeout_for else spec.timeout_seconds

    def _child(self, spec: EngineSpec, request: dict[str, Any], timeout: float, progress: Progress | None,
               doing: str) -> Any:
        """One child process for ``request``; its result, or the error it reported."""
        outcome: dict[str, Any] = {}

        def on_line(line: str) -> None:
            if not line.strip():
                return
            message = json.loads(line)
            if "progress" in message:
                if progress is not None:
                    progress.step("running", float(message["progress"]), str(message.get("message", "")))
            else:
                outcome.update(message)

        while_doing = f" {doing}" if doing else ""
        returncode, stderr = run_child(
            [self.python, "-m", "adapters.ai.child"],
            timeout_seconds=timeout,
            timed_out=ProcessingTimeout(f"the {spec.job_type} engine ran longer than {timeout:g} s{while_doing}"),
            on_line=on_line,
            stdin=json.dumps(request).encode(),
            cwd=ROOT,
        )
        if "result" in outcome:
            return outcome["result"]
        raise self._failure(spec, outcome.get("error"), returncode)

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
