"""An operator's Whisper model kept under an S3 prefix, copied to a local folder when the worker starts.

Heroku's slug (500 MB compressed) cannot carry a medium model beside the worker,
and a dyno has no volume; every platform's worker can read the job bucket. So the
model folder (files and manifest) may live under a prefix of S3_BUCKET: at start,
and again before a job while it is not there yet, the worker downloads the manifest
and every file it names into TRANSCRIBE_MODEL's folder, each checked against the
manifest before it takes its place. A file already there with the pinned sha256
is kept (a disk that outlives restarts downloads nothing).
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from adapters.ai.sandbox import EngineUnavailable, SandboxedEngine
from adapters.ai.whisper_manifest import (
    MANIFEST_NAME,
    Manifest,
    ModelRefused,
    parse_manifest,
    replace_text,
    sha256_of,
    verified,
)
from domain.ai.model import AIJobRequest, EngineOutput
from domain.errors import JobError, SourceNotFound
from domain.ports import ObjectStorage
from domain.progress import Progress

log = logging.getLogger(__name__)


class ModelDownload:
    """Keeps ``folder`` a checked copy of the model under ``prefix`` of the bucket.

    Parameters:
      storage: the job bucket (S3_BUCKET).
      prefix: the key prefix holding model-manifest.json and the files it names (ends with /).
      folder: the local folder (TRANSCRIBE_MODEL), created when missing.
      retry_seconds: after a failed download, how long before a job's preparation tries again.
    """

    def __init__(self, storage: ObjectStorage, prefix: str, folder: Path, *, retry_seconds: float = 60.0) -> None:
        self.storage = storage
        self.prefix = prefix
        self.folder = folder
        self.retry_seconds = retry_seconds
        self._lock = threading.Lock()
        self._done = False
        self._failed_at: float | None = None
        self._reason: str | None = None

    @property
    def where(self) -> str:
        return f"the S3 prefix {self.prefix}"

    def ensure(self) -> str | None:
        """Download the model unless this process already has it; None when the folder is ready,
        else why not (a failure is tried again after ``retry_seconds``, never more often)."""
        with self._lock:
            if self._done:
                return None
            if self._failed_at is not None and time.monotonic() - self._failed_at < self.retry_seconds:
                return self._reason
            try:
                manifest = self.download()
                verified(self.folder)
            except JobError as error:
                self._failed_at, self._reason = time.monotonic(), f"no Whisper model from {self.where}: {error.reason}"
                log.error("%s", self._reason)
                return self._reason
            except OSError as error:
                self._failed_at = time.monotonic()
                self._reason = f"no Whisper model from {self.where}: {self.folder}: {error.strerror or error}"
                log.error("%s", self._reason)
                return self._reason
            except Exception as error:  # a defect of ours must not stop the worker's other engines
                self._failed_at = time.monotonic()
                self._reason = f"no Whisper model from {self.where}: {type(error).__name__}: {error}"
                log.exception("%s", self._reason)
                return self._reason
            self._done, self._reason = True, None
            log.info("Whisper model %s (%d files) from %s is in %s", manifest.name, len(manifest.files),
                     self.where, self.folder)
            return None

    def download(self) -> Manifest:
        """The manifest, then each file it names that the folder lacks, then files it no longer names
        removed and the manifest written last; one process at a time per folder (a file lock)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / ".download.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            present = sorted(name for name in os.listdir(self.folder) if not name.startswith("."))
            ours = self.folder / ".model-download"  # marks a folder these downloads fill
            if present and not ours.exists() and MANIFEST_NAME not in present:
                # Files no download put there (TRANSCRIBE_MODEL=/tmp, say): never replace or remove them.
                raise ModelRefused(f"{self.folder} holds other files ({present[0]}, ...) and no {MANIFEST_NAME}: "
                                   "give the model a folder of its own")
            ours.touch()
            try:
                text = self.storage.read_text(self.prefix + MANIFEST_NAME)
            except SourceNotFound:
                raise ModelRefused(f"the bucket has no {self.prefix}{MANIFEST_NAME} (upload the model folder "
                                   "with its manifest there)") from None
            manifest = parse_manifest(text, where=f"{self.prefix}{MANIFEST_NAME}")
            for name, pinned in sorted(manifest.files.items()):
                target = self.folder / name
                if target.is_file() and target.stat().st_size == pinned.size and sha256_of(target) == pinned.sha256:
                    continue
                partial = self.folder / f".{name}.partial"
                try:
                    self.storage.download(self.prefix + name, partial)
                    digest = sha256_of(partial)
                    if digest != pinned.sha256:
                        raise ModelRefused(f"{self.prefix}{name} has sha256 {digest[:12]}..., "
                                           f"its manifest pins {pinned.sha256[:12]}...")
                    os.replace(partial, target)
                finally:
                    partial.unlink(missing_ok=True)
            for name in os.listdir(self.folder):
                if not name.startswith(".") and name not in manifest.files and name != MANIFEST_NAME:
                    (self.folder / name).unlink()
            replace_text(self.folder / MANIFEST_NAME, text)
        return manifest


class DownloadedModelEngine:
    """The Engine port of an engine whose model comes from ``download``: unavailable (and so
    retried, another worker may have it) while the download has not succeeded.

    Parameters:
      engine: the engine itself (a SandboxedEngine).
      download: what puts its model in place.
      job_type: the engine's job_type, for the reason.
    """

    def __init__(self, engine: SandboxedEngine, download: ModelDownload, job_type: str) -> None:
        self.engine = engine
        self.download = download
        self.job_type = job_type

    def unavailable(self) -> str | None:
        reason = self.download.ensure()
        if reason is not None:
            return f"the {self.job_type} engine cannot run on this worker: {reason}"
        return self.engine.unavailable()

    def prepare(self, payload: dict[str, Any]) -> dict[str, Any]:
        reason = self.download.ensure()
        if reason is not None:
            raise EngineUnavailable(f"the {self.job_type} engine cannot run on this worker: {reason}")
        return self.engine.prepare(payload)

    def input_key(self, payload: dict[str, Any]) -> str | None:
        return self.engine.input_key(payload)

    def run(self, request: AIJobRequest, source: Path | None, workdir: Path, progress: Progress) -> EngineOutput:
        return self.engine.run(request, source, workdir, progress)

    def earlier_output(self, request: AIJobRequest, fetch: Callable[[str, Path], bool],
                       workdir: Path) -> EngineOutput | None:
        """What an earlier attempt of the job saved (no model is needed to take it back)."""
        return self.engine.earlier_output(request, fetch, workdir)
