"""The video kind's wiring: its queue's body, its table and its declaration (CONTRACT sections 1-4).

The kind's rules and handler live in ``domain/video/``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, DateTime, Double, String, Text

from adapters.db.tables import TENANT, JobTableSpec, SearchField, job_columns
from adapters.messages import BigintId, JobBody, SafeKey
from domain.numbers import whole_number
from domain.video.handler import ProcessVideoJobHandler, VideoLimits
from domain.video.model import VIDEO as RULES
from domain.video.model import VideoJob, VideoOutput
from kinds.declaration import EnqueueField, KindDeclaration, Services, Setting
from kinds.video_parts import video_parts


class VideoJobBody(JobBody):
    """``{"video_id": 42, "file_key": "uploads/7/42/source.mp4", "tenant_id": 7, "created_at": ...}``"""

    video_id: BigintId
    file_key: SafeKey

    def to_job(self) -> VideoJob:
        return VideoJob(video_id=self.video_id, file_key=self.file_key, tenant_id=self.tenant_id)


def _columns() -> list[Column]:
    return [
        Column("file_key", String(1024), nullable=False),
        Column("hls_path", String(1024), nullable=True),
        Column("thumbnail_key", String(1024), nullable=True),
        Column("duration_seconds", Double, nullable=True),
        Column("error_reason", Text, nullable=True),
        Column("processing_started_at", DateTime(timezone=True), nullable=True),
    ]


def _output(output: VideoOutput) -> dict[str, Any]:
    return {"hls_path": output.hls_path, "thumbnail_key": output.thumbnail_key,
            "duration_seconds": output.duration_seconds}


#: ``video_video`` (setting VIDEO_TABLE)
TABLE = JobTableSpec(job_columns(int, _columns, status_after="file_key"), started="processing_started_at", error="error_reason",
                     result=_output, search=(TENANT, SearchField("file_key", "file-key-prefix", prefix=True)))


def handler(services: Services) -> ProcessVideoJobHandler:
    settings = services.settings
    return ProcessVideoJobHandler(
        jobs=services.repository(RULES.name),
        lock=services.lock,
        progress=services.progress,
        storage=services.storage,
        media=services.media,
        limits=VideoLimits(
            max_source_bytes=settings.max_source_bytes,
            max_duration_seconds=settings.max_duration_seconds,
            max_height=settings.max_source_height,
            ladder=settings.ladder,
            allowed_prefixes=settings.source_prefixes,
            chapter_min_seconds=settings.chapter_min_seconds,
        ),
        workdir=services.workdir,
        parts=video_parts(services),
    )


VIDEO = KindDeclaration(
    kind=RULES,
    actor="process_video",
    title="Videos",
    body=VideoJobBody,
    id_field="video_id",
    request=VideoJobBody.to_job,
    handler=handler,
    table=TABLE,
    queue=Setting("VIDEO_QUEUE", "video-jobs"),
    dead_letter_queue=Setting("VIDEO_DLQ", None),
    table_name=Setting("VIDEO_TABLE", "video_video"),
    enqueue=(
        EnqueueField("video_id", whole_number, "the video's id (its row in VIDEO_TABLE)"),
        EnqueueField("file_key", str, "the uploaded source's key in the bucket"),
    ),
)
