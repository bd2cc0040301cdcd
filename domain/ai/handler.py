"""ProcessAIJobHandler: one AI message, from lock to final row."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from domain.ai.model import AI, AIJobRequest, EngineOutput
from domain.ai.ports import Engine
from domain.errors import SourceNotFound, UnknownJobType
from domain.flow import JobHandler
from domain.keys import check_object_key, check_prefix
from domain.ports import JobLock, JobRepository, ObjectStorage, ProgressSink
from domain.progress import Progress


class FollowUp(Protocol):
    """What the handler does around one job_type's engine (the transcribe engine's captions for a video)."""

    def prepare(self, request: AIJobRequest) -> Any:
        """Before the engine: a plan for ``finish``; may raise Waiting (tried again later, no retry spent)."""
        ...

    def finish(self, request: AIJobRequest, plan: Any, output: EngineOutput) -> dict[str, Any]:
        """After the engine, its files uploaded under the attempt's fence: the result to complete the job with."""
        ...


class ProcessAIJobHandler(JobHandler[AIJobRequest, dict[str, Any]]):
    """Runs the engine a job_type names on the job's payload and input file.

    The work, under the job's lock (see JobHandler): the engine prepares the
    payload (a payload that breaks its schema is a permanent failure naming
    the field), the input file it names is checked against the allowed
    prefixes and downloaded (``downloading``), the engine runs (``running``),
    the files it hands back are uploaded to the job's output prefix
    (``saving``, only while this attempt still owns the job: a stalled
    attempt whose lock expired writes nothing), and ``complete`` writes its
    result. Under the lock and the fence, duplicate deliveries upload once.
    When an earlier attempt of the job already saved the engine's files and
    the engine can take them back (``Engine.earlier_output``), it does not
    run again: nothing is downloaded, run or uploaded, and the follow-up
    finishes with that output.

    Parameters:
      jobs: the repository of AI job rows.
      lock: the per-job lock; taken before any repository call.
      progress: where live progress is written.
      engines: job_type -> the engine that runs it.
      storage: where input files are downloaded from and output files uploaded to.
      allowed_prefixes: where input files may be read from (empty: anywhere in the bucket).
      workdir: parent of the per-job temporary directory (None: the system's).
      follow_ups: job_type -> what is done around that engine (see FollowUp).
    """

    def __init__(
        self,
        *,
        jobs: JobRepository,
        lock: JobLock,
        progress: ProgressSink,
        engines: Mapping[str, Engine],
        storage: ObjectStorage,
        allowed_prefixes: Sequence[str] = (),
        workdir: Path | None = None,
        follow_ups: Mapping[str, FollowUp] | None = None,
    ) -> None:
        super().__init__(kind=AI, jobs=jobs, lock=lock, progress=progress)
        self.engines = engines
        self.storage = storage
        self.allowed_prefixes = allowed_prefixes
        self.workdir = workdir
        self.follow_ups = dict(follow_ups or {})

    def work(self, request: AIJobRequest, fence: datetime, progress: Progress) -> dict[str, Any]:
        engine = self.engines.get(request.job_type)
        if engine is None:
            raise UnknownJobType(f"no engine is registered for job_type {request.job_type!r}")
        payload = engine.prepare(request.payload)
        prepared = AIJobRequest(request.job_id, request.job_type, payload, request.tenant_id)
        follow_up = self.follow_ups.get(request.job_type)
        # Before the engine's costly run: a follow-up may have to wait (Waiting) for what it needs.
        plan = follow_up.prepare(prepared) if follow_up else None
        key = engine.input_key(payload)
        if key is not None:
            check_prefix(check_object_key(key), self.allowed_prefixes)
        prefix = self.kind.output_prefix(request.tenant_id, request.job_id)
        with tempfile.TemporaryDirectory(prefix=f"ai-{request.job_id[:8]}-", dir=self.workdir) as tmp:
            # A retry after the engine's files were saved (the follow-up found the video locked or being
            # encoded again, the final write failed) takes them back: the engine's work is never redone.
            output = engine.earlier_output(prepared, lambda name, dest: self._fetch(f"{prefix}/{name}", dest),
                                           Path(tmp))
            if output is None:
                output = self._run(engine, prepared, key, Path(tmp), progress)
                self._save(output, prefix, request.job_id, fence, progress)
            else:
                progress.step("saving", 1.0, "the files an earlier attempt of this job saved are used")
            return follow_up.finish(prepared, plan, output) if follow_up else output.result

    def _run(self, engine: Engine, request: AIJobRequest, key: str | None, tmp: Path, progress: Progress) -> EngineOutput:
        """Download the engine's input (if it takes one) and run it."""
        source = None
        if key is not None:
            progress.step("downloading")
            self.storage.size_of(key)  # SourceNotFound before any download
            source = tmp / "input"
            self.storage.download(key, source)
        progress.step("running")
        return engine.run(request, source, tmp, progress)

    def _save(self, output: EngineOutput, prefix: str, job_id: str, fence: datetime, progress: Progress) -> None:
        """Upload the engine's files to the job's output prefix, while this attempt still owns the job."""
        if not output.files:
            return
        self.ensure_current(job_id, fence)
        progress.step("saving")
        for done, path in enumerate(output.files, start=1):
            self.storage.upload(path, f"{prefix}/{path.name}")
            progress.step("saving", done / (len(output.files) + 1))

    def _fetch(self, key: str, dest: Path) -> bool:
        """Download ``key`` to ``dest``; False when there is no such object."""
        try:
            self.storage.download(key, dest)
        except SourceNotFound:
            return False
        return True
