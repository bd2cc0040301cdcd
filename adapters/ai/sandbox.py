"""SandboxedEngine: the domain's Engine port, running an engine in a child process.

A crash, a hang or a runaway allocation inside an engine ends that child
process only; the worker turns it into an error for that one job.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from adapters.ai.spec import EngineSpec
from adapters.child_process import run_child
from adapters.messages import explain
from domain import errors
from domain.entities import AIJobRequest
from domain.errors import LimitExceeded, PermanentError, ProcessingTimeout, TransientError
from domain.progress import Progress

ROOT = Path(__file__).resolve().parent.parent.parent


class EngineCrashed(TransientError):
    """The engine's process died (a signal, or an unexpected exception)."""


class EngineUnavailable(TransientError):
    """This worker lacks what the engine needs (a program, its data): another worker may have it."""


class SandboxedEngine:
    """The Engine port for one registered engine, run per job in ``python -m adapters.ai.child``.

    Parameters:
      spec: the engine's registry entry (schemas, entry point, limits).
      python: the interpreter for the child (this one by default).
    """

    def __init__(self, spec: EngineSpec, *, python: str = sys.executable) -> None:
        self.spec = spec
        self.python = python

    def prepare(self, payload: dict[str, Any]) -> dict[str, Any]:
        prepared = self.spec.validate_payload(payload)
        unavailable = self.spec.unavailable()
        if unavailable:
            raise EngineUnavailable(unavailable)
        return prepared

    def input_key(self, payload: dict[str, Any]) -> str | None:
        return payload.get("file_key") if self.spec.takes_file else None

    def run(self, request: AIJobRequest, source: Path | None, progress: Progress) -> dict[str, Any]:
        result = self._run_child(source, request.payload, progress)
        try:
            return self.spec.result.model_validate(result).model_dump(mode="json")
        except ValidationError as error:
            subject = f"the {self.spec.job_type} engine returned a malformed result"
            raise PermanentError(explain(error, subject=subject, within="result")) from None

    def _run_child(self, source: Path | None, payload: dict[str, Any], progress: Progress) -> Any:
        spec = self.spec
        request = {"entry": spec.entry, "source": str(source) if source else None, "payload": payload,
                   "memory_mb": spec.memory_mb}
        outcome: dict[str, Any] = {}

        def on_line(line: str) -> None:
            if not line.strip():
                return
            message = json.loads(line)
            if "progress" in message:
                progress.step("running", float(message["progress"]), str(message.get("message", "")))
            else:
                outcome.update(message)

        returncode, stderr = run_child(
            [self.python, "-m", "adapters.ai.child"],
            timeout_seconds=spec.timeout_seconds,
            timed_out=ProcessingTimeout(f"the {spec.job_type} engine ran longer than {spec.timeout_seconds:g} s"),
            on_line=on_line,
            stdin=json.dumps(request).encode(),
            cwd=ROOT,
        )
        if "result" in outcome:
            return outcome["result"]
        raise self._failure(outcome.get("error"), returncode)

    def _failure(self, error: dict[str, str] | None, returncode: int) -> Exception:
        name = self.spec.job_type
        if error is None:
            if returncode < 0:
                return EngineCrashed(f"the {name} engine crashed ({_signal_name(-returncode)})")
            return EngineCrashed(f"the {name} engine exited without a result (status {returncode})")
        kind, reason = error.get("kind"), error.get("reason", "")
        if kind == "memory":
            return LimitExceeded(f"the {name} engine ran out of its {self.spec.memory_mb} MB memory limit")
        if kind in ("permanent", "transient"):
            # The engine's own class (InvalidMessage, UnsupportedMedia, ...) when it is one of the domain's.
            known = getattr(errors, str(error.get("class")), None)
            base = PermanentError if kind == "permanent" else TransientError
            cls = known if isinstance(known, type) and issubclass(known, base) else base
            return cls(reason)
        return EngineCrashed(f"the {name} engine failed: {reason}")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
