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
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from adapters.ai.spec import EngineSpec
from adapters.child_process import run_child
from adapters.messages import explain
from domain import errors
from domain.entities import AIJobRequest
from domain.media import check_prefix
from domain.errors import InvalidMessage, LimitExceeded, PermanentError, ProcessingTimeout, TransientError
from domain.handlers.flow import AttemptSuperseded
from domain.ports import ObjectStorage
from domain.progress import Progress

ROOT = Path(__file__).resolve().parent.parent.parent
# Measuring a source reads its header only; a minute is generous.
MEASURE_TIMEOUT_SECONDS = 60.0


def output_prefix(request: AIJobRequest) -> str:
    """Where an AI job's files go (CONTRACT section 4): ``ai/{tenant or "shared"}/{job_id}``."""
    tenant = request.tenant_id if request.tenant_id is not None else "shared"
    return f"ai/{tenant}/{request.job_id}"


class EngineCrashed(TransientError):
    """The engine's process died (a signal, or an unexpected exception)."""


class SandboxedEngine:
    """Runs one registered engine per job in ``python -m adapters.ai.child``.

    Parameters:
      spec: the engine's registry entry (schemas, entry point, limits).
      storage: where the job's input file is downloaded from and its output
        files are uploaded to.
      workdir: parent of the per-job temporary directory (None: the system's).
      python: the interpreter for the child (this one by default).
      allowed_prefixes: where input files may be read from (empty: anywhere).
      options: the engine's settings, handed to its run function as ``options``.
    """

    def __init__(self, spec: EngineSpec, storage: ObjectStorage, *, workdir: Path | None = None,
                 python: str = sys.executable, allowed_prefixes: tuple[str, ...] = (),
                 options: dict[str, Any] | None = None) -> None:
        self.spec = spec
        self.storage = storage
        self.workdir = workdir
        self.python = python
        self.allowed_prefixes = allowed_prefixes
        self.options = dict(options or {})

    def run(
        self, request: AIJobRequest, progress: Progress, is_current: Callable[[], bool] = lambda: True
    ) -> dict[str, Any]:
        """Run the job's engine; upload its files, if any, while ``is_current()`` says
        this attempt still owns the job (else AttemptSuperseded: nothing is written)."""
        spec = self.spec
        payload = self._validated(request.payload)
        with tempfile.TemporaryDirectory(prefix=f"ai-{request.job_id[:8]}-", dir=self.workdir) as tmp:
            source = outputs = None
            timeout = spec.timeout_seconds
            if spec.takes_file:
                check_prefix(payload["file_key"], self.allowed_prefixes)
                progress.step("downloading")
                source = Path(tmp) / "input"
                self.storage.size_of(payload["file_key"])  # SourceNotFound before any download
                self.storage.download(payload["file_key"], source)
                if spec.measure is not None:
                    timeout = self._time_limit(source, payload)
            if spec.output_files:
                outputs = Path(tmp) / "outputs"
                outputs.mkdir()
            progress.step("running")
            result = self._validated_result(self._run_child(source, payload, progress, timeout, outputs))
            if outputs is not None:
                self._upload(outputs, output_prefix(request), is_current, progress)
        return result

    def _validated_result(self, result: Any) -> dict[str, Any]:
        try:
            return self.spec.result.model_validate(result).model_dump(mode="json")
        except ValidationError as error:
            subject = f"the {self.spec.job_type} engine returned a malformed result"
            raise PermanentError(explain(error, subject=subject, within="result")) from None

    def _time_limit(self, source: Path, payload: dict[str, Any]) -> float:
        spec = self.spec
        request = {"entry": spec.measure, "source": str(source), "payload": payload,
                   "memory_mb": spec.memory_mb, "measure": True}
        seconds = self._child(request, MEASURE_TIMEOUT_SECONDS, None, "measuring its source")
        if not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds < 0:
            raise EngineCrashed(f"the {spec.job_type} engine measured its source as {seconds!r} s")
        return spec.timeout_for(float(seconds)) if spec.timeout_for else spec.timeout_seconds

    def _upload(self, outputs: Path, prefix: str, is_current: Callable[[], bool], progress: Progress) -> None:
        files = [outputs / name for name in self.spec.output_files if _regular_file(outputs / name)]
        # A stalled attempt whose lock expired must not overwrite the files of the one that took over.
        if not is_current():
            raise AttemptSuperseded(f"AI job {prefix.rsplit('/', 1)[-1]}")
        progress.step("saving")
        for done, path in enumerate(files, start=1):
            self.storage.upload(path, f"{prefix}/{path.name}")
            progress.step("saving", done / (len(files) + 1))

    def _validated(self, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.spec.payload.model_validate(payload).model_dump(mode="json")
        except ValidationError as error:
            subject = f"invalid payload for job_type {self.spec.job_type!r}"
            raise InvalidMessage(explain(error, subject=subject, within="payload")) from None

    def _run_child(
        self, source: Path | None, payload: dict[str, Any], progress: Progress, timeout: float, outputs: Path | None
    ) -> Any:
        request = {"entry": self.spec.entry, "source": str(source) if source else None, "payload": payload,
                   "memory_mb": self.spec.memory_mb, "outputs": str(outputs) if outputs else None,
                   "options": self.options}
        return self._child(request, timeout, progress, "")

    def _child(self, request: dict[str, Any], timeout: float, progress: Progress | None, doing: str) -> Any:
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
            timed_out=ProcessingTimeout(f"the {self.spec.job_type} engine ran longer than {timeout:g} s{while_doing}"),
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
