"""Container: the worker process's adapters and handlers, built on first use.

What differs between the kinds of job comes from their declarations
(``kinds/``), by iteration; the actors' per-kind facts (how logs and metrics
name their jobs, how a dead-lettered message fails its row) are handed to
Dramatiq as actor options (``actor_options``).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from adapters.ai.sandbox import SandboxedEngine
from adapters.ai.whisper_fetch import DownloadedModelEngine, ModelDownload
from adapters.media import FfmpegMediaProcessor, RemoteAccess, find_ffmpeg
from adapters.messages import job_id_of, salvage_id
from adapters.metrics.progress import ObservedProgress
from adapters.metrics.prometheus import METRICS
from adapters.redis import RedisLock, RedisProgress
from adapters.redis.parts import RedisPartsBoard
from adapters.sqs.admin import queue_exists
from adapters.storage.sources import SourceAccess
from adapters.worker.give_up import GIVE_UP, GiveUpCallback
from adapters.worker.labels import JOB_LABELS, JobLabels
from adapters.worker.parts_queue import DramatiqPartsQueue
from adapters.worker.presence import machine_name
from bootstrap.infrastructure import Infrastructure
from domain.ai.ports import Engine
from domain.flow import JobHandler
from domain.video.fan_in import CheckPartsHandler
from domain.video.parts import PartsPolicy
from domain.video.pieces import EncodePieceHandler
from kinds import KindDeclaration, video_parts
from settings import Settings

log = logging.getLogger(__name__)


class Container(Infrastructure):
    """The worker's adapters and handlers (Infrastructure's clients, and what jobs run with).

    Parameters:
      settings: validated settings.
      engines: AI engines by job_type (default: the registry's, each sandboxed).
      job_kinds: the kinds of job by name (default: the contract's and those of JOB_KIND_MODULES).
      **clients: Infrastructure's clients to use instead of building them (tests).
    """

    def __init__(self, settings: Settings, engines: Mapping[str, Engine] | None = None,
                 job_kinds: Mapping[str, KindDeclaration] | None = None, **clients: Any) -> None:
        super().__init__(settings, job_kinds=job_kinds, **clients)
        self._engines = engines

    @cached_property
    def lock(self) -> RedisLock:
        return RedisLock(self.redis, ttl_ms=self.settings.lock_ttl_seconds * 1000)

    @cached_property
    def progress(self) -> ObservedProgress:
        return ObservedProgress(RedisProgress(self.redis, ttl_seconds=self.settings.progress_ttl_seconds), METRICS)

    @cached_property
    def media(self) -> FfmpegMediaProcessor:
        s = self.settings
        return FfmpegMediaProcessor(
            find_ffmpeg(s.ffmpeg_binary),
            timeout_seconds=s.ffmpeg_timeout_seconds,
            segment_seconds=s.hls_segment_seconds,
            preset=s.x264_preset,
            crf=s.video_crf,
            loudness_target_lufs=s.loudness_target_lufs,
            # Parts read the source by presigned URL: https, or plain http only to a local S3 endpoint.
            remote=RemoteAccess(allow_plain_http=(s.s3_endpoint_url or "").startswith("http://")),
        )

    @property
    def workdir(self) -> Path | None:
        """Parent of the jobs' temporary folders (WORK_DIR; None: the system's)."""
        return Path(self.settings.work_dir) if self.settings.work_dir else None

    @cached_property
    def engines(self) -> dict[str, Engine]:
        if self._engines is not None:
            return dict(self._engines)
        options = self.settings.engine_options
        engines: dict[str, Engine] = {job_type: SandboxedEngine(spec, options=options.get(job_type))
                                      for job_type, spec in self.engine_specs.items()}
        if self.transcribe_model_download is not None and "transcribe" in engines:
            engines["transcribe"] = DownloadedModelEngine(engines["transcribe"], self.transcribe_model_download,
                                                          "transcribe")
        return engines

    @cached_property
    def transcribe_model_download(self) -> ModelDownload | None:
        """What fills TRANSCRIBE_MODEL's folder from TRANSCRIBE_MODEL_S3_PREFIX (None: no prefix set)."""
        s = self.settings
        if not s.transcribe_model_s3_prefix:
            return None
        return ModelDownload(self.storage, s.transcribe_model_s3_prefix, Path(s.transcribe_model))

    def report_unavailable_engines(self) -> None:
        """One ERROR line per engine this worker cannot run (downloading the transcribe engine's model
        first when it comes from S3); its jobs stay retried (another worker may run them)."""
        for engine in self.engines.values():
            unavailable = getattr(engine, "unavailable", lambda: None)()
            if unavailable:
                log.error("%s; its jobs are retried until a worker that can run it takes them", unavailable)

    def longest_engine_seconds(self) -> float:
        """The longest time limit any engine may get here (its limits under this deployment's options)."""
        options = self.settings.engine_options
        return max((spec.configured(options.get(job_type)).timeout_seconds
                    for job_type, spec in self.engine_specs.items()), default=0.0)

    # --- long videos in parts (CONTRACT 4b) -------------------------------------
    @property
    def parts_queue_names(self) -> tuple[str, str]:
        return video_parts.queue_names(self.settings)

    @cached_property
    def parts_queue_ready(self) -> bool:
        """Whether this process consumes (and sends to) the parts queue: parts are on
        (VIDEO_PARTS_MIN_SECONDS set) and, on SQS, both queues exist. The worker may not create
        queues, and a missing one must not stop it (an upgrade): long videos then take one pass."""
        if self.settings.video_parts_min_seconds is None:
            return False
        if self.settings.broker != "sqs":
            return True
        try:
            missing = [name for name in self.parts_queue_names if not queue_exists(self.sqs, name)]
        except (BotoCoreError, ClientError) as error:
            log.error("could not look the parts queue up (%s): long videos are encoded in one pass until the "
                      "worker restarts", type(error).__name__)
            return False
        if missing:
            log.error("the parts queue %s does not exist: long videos are encoded in one pass until it is "
                      "created and the worker restarted (docs/DEPLOYMENT.md, \"Long videos in parts\")",
                      " and ".join(missing))
        return not missing

    @cached_property
    def parts_policy(self) -> PartsPolicy:
        return video_parts.policy(self.settings, self.parts_queue_ready)

    @cached_property
    def parts_queue(self) -> DramatiqPartsQueue:
        return DramatiqPartsQueue(self.parts_queue_names[0], piece_actor=video_parts.ENCODE_PIECE,
                                  check_actor=video_parts.CHECK_PARTS)

    @cached_property
    def parts_board(self) -> RedisPartsBoard:
        return RedisPartsBoard(self.redis, ttl_seconds=self.settings.progress_ttl_seconds)

    @cached_property
    def sources(self) -> SourceAccess:
        root = (self.workdir or Path(tempfile.gettempdir())) / "media-worker-sources"
        return SourceAccess(self.storage, root)

    @cached_property
    def worker_name(self) -> str:
        """How the parts board names this process: its machine and pid."""
        return f"{machine_name()}:{os.getpid()}"

    @cached_property
    def piece_handler(self) -> EncodePieceHandler:
        return video_parts.piece_handler(self)

    @cached_property
    def check_handler(self) -> CheckPartsHandler:
        return video_parts.check_handler(self)

    # --- the kinds' handlers ---------------------------------------------------
    @cached_property
    def handlers(self) -> dict[str, JobHandler]:
        """Each kind's handler, by kind name, built by its declaration."""
        return {name: declaration.handler(self) for name, declaration in self.kinds.items()}

    def handler(self, kind: str) -> JobHandler:
        return self.handlers[kind]

    def actor_options(self, declaration: KindDeclaration) -> dict[str, Any]:
        """The Dramatiq actor options of a kind's actor: how logs and metrics name its jobs
        (JobTracking, JobMetrics) and what fails its row when a message is dead-lettered (GiveUp)."""
        labels = JobLabels(declaration.kind, declaration.id_field, declaration.type_field,
                           lambda: declaration.types(self))
        return {JOB_LABELS: labels, GIVE_UP: self._give_up(declaration)}

    def _give_up(self, declaration: KindDeclaration) -> GiveUpCallback:
        field, id_type = declaration.id_field, declaration.kind.id_type

        def give_up(kwargs: dict[str, Any], body: str, reason: str) -> None:
            job_id = salvage_id_from(kwargs, body, field, id_type)
            if job_id is not None:
                self.handler(declaration.name).give_up(job_id, reason)

        return give_up


def salvage_id_from(kwargs: dict[str, Any], body: str, field: str, kind: type) -> Any:
    """The job id of a message about to be dead-lettered: its kwargs' when it can be one, else its original body's."""
    job_id = job_id_of(kwargs.get(field), kind)
    return job_id if job_id is not None else salvage_id(body, field, kind)
