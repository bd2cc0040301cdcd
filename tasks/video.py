"""The video actor: one message of the video queue (CONTRACT section 1)."""

from __future__ import annotations

import dramatiq

from adapters.messages import VideoJobBody, validate_body
from adapters.worker.context import report_outcome
from bootstrap import VIDEO_ACTOR
from domain.errors import PermanentError
from tasks import broker, container, settings


@dramatiq.actor(
    actor_name=VIDEO_ACTOR,
    queue_name=settings.video_queue,
    broker=broker,
    throws=(PermanentError,),
    max_retries=settings.max_retries,
)
def process_video(**body) -> None:
    job = validate_body(VideoJobBody, body).to_job()
    report_outcome(container.video_handler.handle(job).value)
