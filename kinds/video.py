"""The video kind: an uploaded source turned into an HLS ladder (CONTRACT sections 1-4)."""

from __future__ import annotations

from pathlib import Path

from adapters.db.tables import VIDEO_TABLE, whole_number
from adapters.messages import VideoJobBody
from domain.handlers.video import ProcessVideoJobHandler, VideoLimits
from domain.kinds import VIDEO as RULES
from kinds.declaration import EnqueueField, KindDeclaration, Services, Setting


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
        workdir=Path(settings.work_dir) if settings.work_dir else None,
    )


VIDEO = KindDeclaration(
    kind=RULES,
    actor="process_video",
    title="Videos",
    body=VideoJobBody,
    id_field="video_id",
    request=VideoJobBody.to_job,
    handler=handler,
    table=VIDEO_TABLE,
    queue=Setting("VIDEO_QUEUE", "video-jobs"),
    dead_letter_queue=Setting("VIDEO_DLQ", None),
    table_name=Setting("VIDEO_TABLE", "video_video"),
    enqueue=(
        EnqueueField("video_id", whole_number, "the video's id (its row in VIDEO_TABLE)"),
        EnqueueField("file_key", str, "the uploaded source's key in the bucket"),
    ),
)
